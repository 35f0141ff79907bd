"""Lesson 7: Custom layers and models.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson07 import ...``).
"""

from coursetools.lessons import Lesson
from coursetools.lessons.lesson07.given import digit_stats, given_two_input_skip

LESSON = Lesson(
    number=7,
    slug="custom_layers_models",
    title="Custom layers and models",
    covers="`Layer` and `Model` subclasses, `build` / `call` / `training`, Python control flow under `fit` "
    "(`keras.ops.cond`, `run_eagerly`), mixing the styles both ways, one model three ways",
    minutes=40,
    exercise_minutes=35,
)

__all__ = ["LESSON", "digit_stats", "given_two_input_skip"]

