"""Lesson 6: Shared layers and models as building blocks.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson06 import ...``).
"""

from coursetools.lessons import Lesson
from coursetools.lessons.lesson06.given import (
    MEMBER_INPUTS,
    PRETRAINED_WIDTHS,
    digit_pairs,
    given_members,
    given_pretrained,
    given_reader,
    given_twin_scorer,
)
from coursetools.lessons.lesson06.tools import learning_rate
from coursetools.probing import unnested

LESSON = Lesson(
    number=6,
    slug="shared_layers",
    title="Shared layers and models as building blocks",
    covers="one layer used twice, a siamese network, shared embeddings, nested models, two-phase fine-tuning, ensembles",
    minutes=40,
    exercise_minutes=30,
)

__all__ = ["LESSON", "MEMBER_INPUTS", "PRETRAINED_WIDTHS", "digit_pairs", "given_members", "given_pretrained", "given_reader", "given_twin_scorer", "learning_rate", "unnested"]
