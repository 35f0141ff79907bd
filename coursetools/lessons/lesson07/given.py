"""Lesson 7's given data and models: the second input of 7.2, the model of 7.2, and the weights file's model of 7.3."""

from __future__ import annotations

import numpy as np

from coursetools.data import fixed_weights


def digit_stats(pixels: np.ndarray) -> np.ndarray:
    """Exercise 7.2's second input: four numbers per flattened 8x8 digit.

    Mean ink, spread of the ink (standard deviation), ink in the top half and ink in
    the left half (both as means), from pixels scaled to [0, 1].
    """
    images = np.asarray(pixels, dtype="float32").reshape(-1, 8, 8)
    return np.stack(
        [images.mean(axis=(1, 2)), images.std(axis=(1, 2)), images[:, :4, :].mean(axis=(1, 2)),
         images[:, :, :4].mean(axis=(1, 2))],
        axis=1,
    ).astype("float32")


def given_two_input_skip():
    """Exercise 7.2: a functional model with two inputs and a skip, with fixed weights.

    pixels (64) -> encode Dense(24, relu) = h; join = [h, stats (4)];
    refine Dense(24, relu) on join = g; skip = h + g; digit Dense(10, softmax).
    """
    import keras
    from keras import layers

    pixels = keras.Input(shape=(64,), name="pixels")
    stats = keras.Input(shape=(4,), name="stats")
    h = layers.Dense(24, activation="relu", name="encode")(pixels)
    joined = layers.Concatenate(name="join")([h, stats])
    g = layers.Dense(24, activation="relu", name="refine")(joined)
    skip = layers.Add(name="skip")([h, g])
    outputs = layers.Dense(10, activation="softmax", name="digit")(skip)
    model = keras.Model(inputs=[pixels, stats], outputs=outputs, name="given")
    for seed, (name, fan_in, units) in enumerate([("encode", 64, 24), ("refine", 28, 24), ("digit", 24, 10)], 701):
        model.get_layer(name).set_weights(fixed_weights(seed, [fan_in, units]))
    return model


def given_weights_source():
    """Exercise 7.3: the model whose weights the exercise notebook writes to a ``.weights.h5`` file.

    pixels (64) -> first Dense(20, relu) -> second Dense(20, relu); skip = first + second;
    Dropout(0.25); digit Dense(10, softmax). A chain of the same Dense layers has the same
    weight shapes, so its weights load without complaint: only the wiring tells them apart.
    """
    import keras
    from keras import layers

    pixels = keras.Input(shape=(64,), name="pixels")
    first = layers.Dense(20, activation="relu", name="first")(pixels)
    second = layers.Dense(20, activation="relu", name="second")(first)
    skip = layers.Add(name="skip")([first, second])
    dropped = layers.Dropout(0.25, name="dropout")(skip)
    outputs = layers.Dense(10, activation="softmax", name="digit")(dropped)
    model = keras.Model(inputs=pixels, outputs=outputs, name="original")
    for seed, (name, fan_in, units) in enumerate([("first", 64, 20), ("second", 20, 20), ("digit", 20, 10)], 711):
        model.get_layer(name).set_weights(fixed_weights(seed, [fan_in, units]))
    return model
