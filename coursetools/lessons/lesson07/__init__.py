"""Lesson 7: Subclassing, saving, and choosing an API.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson07 import ...``).
"""

from coursetools.lessons import Lesson
from coursetools.lessons.lesson07.given import digit_stats, given_two_input_skip, given_weights_source
from coursetools.lessons.lesson07.tools import (
    layer_report,
    model_report,
    old_style_data,
    port_report,
    write_weights_file,
)

LESSON = Lesson(
    number=7,
    slug="subclassing_saving",
    title="Subclassing, saving, and choosing an API",
    covers="`Layer` and `Model` subclasses, `.keras` and `.weights.h5`, safe mode, porting old `tf.keras` code, which API when",
    minutes=30,
    exercise_minutes=30,
)

__all__ = ["LESSON", "digit_stats", "given_two_input_skip", "given_weights_source", "layer_report", "model_report", "old_style_data", "port_report", "write_weights_file"]
