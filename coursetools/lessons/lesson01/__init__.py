"""Lesson 1: Layers, the building blocks.

``LESSON`` says what the lesson is; the names below are what its notebooks import
(``from coursetools.lessons.lesson01 import ...``).
"""

from coursetools.lessons import Lesson
from coursetools.lessons.lesson01.given import (
    dense_by_hand_example,
    sensor_layer,
    sensor_layer_weights,
    sensor_readings,
)

LESSON = Lesson(
    number=1,
    slug="layers",
    title="Layers, the building blocks",
    covers="Dense maths, lazy weights, the batch axis, activations, symbolic tensors",
    minutes=25,
    exercise_minutes=30,
)

__all__ = ["LESSON", "dense_by_hand_example", "sensor_layer", "sensor_layer_weights", "sensor_readings"]
