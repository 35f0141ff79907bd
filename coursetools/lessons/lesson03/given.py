"""Lesson 3's given models: a Sequential classifier (3.1, 3.2) and a trained encoder (3.3)."""

from __future__ import annotations

import numpy as np

from coursetools.data import fixed_weights


def given_sequential():
    """Exercises 3.1 and 3.2: a Sequential digit classifier, 64 -> 32 -> 16 -> 10, fixed weights."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            layers.Dense(32, activation="relu", name="hidden_1"),
            layers.Dense(16, activation="relu", name="hidden_2"),
            layers.Dense(10, activation="softmax", name="scores"),
        ],
        name="given",
    )
    model.set_weights(fixed_weights(303, [64, 32, 16, 10]))
    return model


def given_encoder():
    """Exercise 3.3: a functional encoder, 64 pixels -> 16 features, with fixed ("trained") weights."""
    import keras
    from keras import layers

    pixels = keras.Input(shape=(64,), name="pixels")
    h = layers.Dense(32, activation="relu", name="encode_1")(pixels)
    features = layers.Dense(16, activation="relu", name="encode_2")(h)
    encoder = keras.Model(pixels, features, name="encoder")
    encoder.set_weights(fixed_weights(304, [64, 32, 16]))
    return encoder
