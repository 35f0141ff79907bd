"""Lesson 8: Saving, loading and porting.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson08 import ...``).
"""

from coursetools.lessons import Lesson
from coursetools.lessons.lesson08.given import given_weights_source
from coursetools.lessons.lesson08.tools import (
    calibration_probe,
    old_style_data,
    saved_model,
    write_calibrated_file,
    write_weights_file,
)

LESSON = Lesson(
    number=8,
    slug="saving_porting",
    title="Saving, loading and porting",
    covers="`.keras` files, `get_config`, three ways to load custom classes, safe mode, `.weights.h5` and how "
    "weights are matched, porting old `tf.keras` code",
    minutes=35,
    exercise_minutes=30,
)

__all__ = ["LESSON", "calibration_probe", "given_weights_source", "old_style_data", "saved_model",
           "write_calibrated_file", "write_weights_file"]
