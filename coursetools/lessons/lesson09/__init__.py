"""Lesson 9: Sequences and attention.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson09 import ...``).
"""

from coursetools.lessons import Lesson

LESSON = Lesson(
    number=9,
    slug="sequences_attention",
    title="Sequences and attention",
    covers="what the lesson covers, in one line (README's table)",
    minutes=30,
    exercise_minutes=30,
)

__all__ = ["LESSON"]
