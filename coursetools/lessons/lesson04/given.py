"""Lesson 4's given data and models: noisy digits for the U-Net, the residual model of 4.4, the deep plain network of 4.5."""

from __future__ import annotations

import numpy as np


def noisy(images: np.ndarray, seed: int = 4, scale: float = 0.35) -> np.ndarray:
    """``images`` with Gaussian noise added (fixed seed), clipped back to [0, 1]: lesson 4's denoising input."""
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.normal(0.0, scale, size=images.shape), 0.0, 1.0).astype("float32")


def given_residual_model():
    """Exercise 4.4: a small residual network on 8x8x1 images, to read before running it.

    The exercise notebook shows this code as text (a test keeps the two equal); the
    check builds the model here and counts for itself.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(8, 8, 1))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    y = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(8, 3, padding="same")(y)
    x = layers.Activation("relu")(layers.Add()([x, y]))

    y = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    y = layers.Conv2D(16, 3, padding="same")(y)
    shortcut = layers.Conv2D(16, 1, strides=2)(x)
    outputs = layers.Activation("relu")(layers.Add()([shortcut, y]))
    return keras.Model(inputs, outputs, name="given_resnet")


DEEP_PLAIN_LAYERS = 25  # hidden Dense(32, relu) layers of exercise 4.5's plain network


def given_deep_plain():
    """Exercise 4.5: 64 pixels -> 25 x Dense(32, relu) -> Dense(10, softmax), Keras's default initialisation."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(64,), name="pixels")
    x = inputs
    for index in range(1, DEEP_PLAIN_LAYERS + 1):
        x = layers.Dense(32, activation="relu", name=f"dense_{index}")(x)
    outputs = layers.Dense(10, activation="softmax", name="digit")(x)
    return keras.Model(inputs, outputs, name="deep_plain")
