"""Lesson 4: Skip connections.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson04 import ...``).
"""

from coursetools.lessons import Lesson
from coursetools.lessons.lesson04.given import (
    DEEP_PLAIN_LAYERS,
    given_deep_plain,
    given_residual_model,
    noisy,
)
from coursetools.lessons.lesson04.tools import layer_gradients, probe_residual_blocks

LESSON = Lesson(
    number=4,
    slug="skip_connections",
    title="Skip connections",
    covers="Conv2D basics, Concatenate and Add skips, residual blocks, BatchNormalization, why depth needs skips, a tiny U-Net",
    minutes=45,
    exercise_minutes=30,
)

__all__ = ["LESSON", "DEEP_PLAIN_LAYERS", "given_deep_plain", "given_residual_model", "noisy", "layer_gradients", "probe_residual_blocks"]
