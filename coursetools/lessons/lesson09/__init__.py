"""Lesson 9: Sequences and attention.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson09 import ...``).
"""

from coursetools.lessons import Lesson
from coursetools.lessons.lesson09.given import (
    LETTERS,
    given_broken_block,
    given_lookup_model,
    lookup_model,
    picture_sequences,
    recall_task,
    show_sequence,
)
from coursetools.lessons.lesson09.tools import draw_attention

LESSON = Lesson(
    number=9,
    slug="sequences_attention",
    title="Sequences and attention",
    covers="(batch, time, features), GRU/LSTM outputs and states, padding masks, `Attention` and "
    "`MultiHeadAttention` as two-input layers, attention pictures, mask conventions, a tiny Transformer "
    "block against a GRU",
    minutes=45,
    exercise_minutes=45,
)

__all__ = ["LESSON", "LETTERS", "draw_attention", "given_broken_block", "given_lookup_model", "lookup_model",
           "picture_sequences", "recall_task", "show_sequence"]
