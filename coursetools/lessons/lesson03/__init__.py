"""Lesson 3: The functional API.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson03 import ...``).
"""

from coursetools.lessons import Lesson
from coursetools.lessons.lesson03.given import given_encoder, given_sequential

LESSON = Lesson(
    number=3,
    slug="functional",
    title="The functional API",
    covers="graphs, feature extraction, nesting, freezing (set `trainable`, then compile)",
    minutes=30,
    exercise_minutes=30,
)

__all__ = ["LESSON", "given_encoder", "given_sequential"]
