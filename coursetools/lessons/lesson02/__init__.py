"""Lesson 2: The Sequential model.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson02 import ...``).
"""

from coursetools.lessons import Lesson

LESSON = Lesson(
    number=2,
    slug="sequential",
    title="The Sequential model",
    covers="summary, compile / fit / predict (a line, then digits), choosing a loss, its limits",
    minutes=35,
    exercise_minutes=30,
)

__all__ = ["LESSON"]
