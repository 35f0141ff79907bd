"""Lesson 10: Branches, routing and your own training step.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson10 import ...``).
"""

from coursetools.lessons import Lesson

LESSON = Lesson(
    number=10,
    slug="branches_routing_training",
    title="Branches, routing and your own training step",
    covers="what the lesson covers, in one line (README's table)",
    minutes=30,
    exercise_minutes=30,
)

__all__ = ["LESSON"]
