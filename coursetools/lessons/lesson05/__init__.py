"""Lesson 5: Multiple inputs and outputs.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson05 import ...``).
"""

from coursetools.lessons import Lesson
from coursetools.lessons.lesson05.given import (
    LOOPED_DIGITS,
    digit_geometry,
    digit_width,
    given_halves,
    given_two_way,
    given_width_loop,
    width_loop_probe,
)

LESSON = Lesson(
    number=5,
    slug="multiple_inputs_outputs",
    title="Multiple inputs and outputs",
    covers="named inputs, data and losses as dicts, `loss_weights`, the output-ordering trap",
    minutes=35,
    exercise_minutes=30,
)

__all__ = ["LESSON", "LOOPED_DIGITS", "digit_geometry", "digit_width", "given_halves", "given_two_way", "given_width_loop", "width_loop_probe"]
