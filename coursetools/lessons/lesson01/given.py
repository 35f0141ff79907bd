"""Lesson 1's given data: the numbers of exercise 1.2 and the sensor layer of exercises 1.4 and 1.5."""

from __future__ import annotations

import numpy as np


def dense_by_hand_example() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inputs ``x`` (5 samples, 3 features), ``kernel`` (3x4) and ``bias`` (4,) of exercise 1.2.

    Values are rounded to two decimals so learners can read them, and chosen so that
    some outputs of ``x @ kernel + bias`` are negative (ReLU then visibly matters)
    and the bias is far from zero (forgetting it visibly matters).
    """
    rng = np.random.default_rng(12)
    x = np.round(rng.normal(size=(5, 3)), 2).astype("float32")
    kernel = np.round(rng.normal(size=(3, 4)), 2).astype("float32")
    bias = np.array([0.5, -1.0, 0.25, 1.5], dtype="float32")
    return x, kernel, bias


def sensor_layer():
    """Exercises 1.4 and 1.5: a ``Dense(4, activation="relu")`` layer built for 3 features, fixed weights.

    The weights are round numbers, so a learner can redo any output by hand, and
    chosen so that ReLU zeroes some outputs of :func:`sensor_readings`.
    """
    from keras import layers

    layer = layers.Dense(4, activation="relu", name="sensor_layer")
    layer.build((None, 3))
    layer.set_weights(sensor_layer_weights())
    return layer


def sensor_layer_weights() -> list[np.ndarray]:
    """The kernel (3, 4) and bias (4,) of :func:`sensor_layer`, for checks that redo its arithmetic."""
    kernel = np.array([[0.5, -1.0, 0.25, 2.0], [1.5, 0.5, -0.75, 0.0], [-0.5, 1.0, 1.0, -1.25]], dtype="float32")
    bias = np.array([0.1, -0.2, 0.3, 0.0], dtype="float32")
    return [kernel, bias]


def sensor_readings() -> np.ndarray:
    """Exercises 1.4 and 1.5: five samples of 3 sensor readings, shape (5, 3); row 0 is "one reading"."""
    return np.array(
        [[0.8, 1.2, -0.4], [-1.0, 0.3, 0.9], [2.1, -0.6, 0.2], [0.0, 1.5, 1.1], [-0.7, -0.9, 0.4]],
        dtype="float32",
    )
