"""Offline data for lessons and checks: generated here or shipped with scikit-learn.

Nothing is downloaded at run time. Generated arrays come from fixed seeds, so the
lesson, the exercise and the check all see the same numbers.
"""

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


def load_digits_split(test_fraction: float = 0.25, *, flat: bool = True):
    """scikit-learn's 8x8 handwritten digits, scaled to [0, 1], split once and for all.

    Returns ``(x_train, y_train), (x_test, y_test)``. The digits ship inside
    scikit-learn (1,797 images), so nothing is downloaded. The split is stratified
    with a fixed seed: every lesson, exercise and check sees the same held-out set.
    With ``flat=False`` images keep their (8, 8) shape, for pictures.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")
    x = images.reshape(len(images), -1) if flat else images
    y = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=0, stratify=y
    )
    return (x_train, y_train), (x_test, y_test)


def _fixed_weights(seed: int, widths: list[int]) -> list[np.ndarray]:
    """Kernels and biases for a stack of Dense layers, the same on every machine."""
    rng = np.random.default_rng(seed)
    weights: list[np.ndarray] = []
    for fan_in, units in zip(widths[:-1], widths[1:]):
        weights.append(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, units)).astype("float32"))
        weights.append(rng.normal(0.0, 0.1, size=(units,)).astype("float32"))
    return weights


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
    model.set_weights(_fixed_weights(303, [64, 32, 16, 10]))
    return model


def given_encoder():
    """Exercise 3.3: a functional encoder, 64 pixels -> 16 features, with fixed ("trained") weights."""
    import keras
    from keras import layers

    pixels = keras.Input(shape=(64,), name="pixels")
    h = layers.Dense(32, activation="relu", name="encode_1")(pixels)
    features = layers.Dense(16, activation="relu", name="encode_2")(h)
    encoder = keras.Model(pixels, features, name="encoder")
    encoder.set_weights(_fixed_weights(304, [64, 32, 16]))
    return encoder


# --- Lesson 7 ---


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


def given_two_way():
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
        model.get_layer(name).set_weights(_fixed_weights(seed, [fan_in, units]))
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
        model.get_layer(name).set_weights(_fixed_weights(seed, [fan_in, units]))
    return model
