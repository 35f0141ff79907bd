"""Lesson 5's given data and models.

Lesson 5 (several inputs and outputs) derives a second input and extra targets from
the digits themselves, so everything stays offline and identical on every machine."""

from __future__ import annotations

import numpy as np

from coursetools.data import fixed_weights, load_digits_split


LOOPED_DIGITS = (0, 6, 8, 9)
"""Digits drawn with a closed loop: the target ``loop`` of exercises 5.3 and 5.4."""


def _as_images(images) -> np.ndarray:
    """Digits as a float32 array of 8x8 images, whether given flat (n, 64) or as (n, 8, 8)."""
    images = np.asarray(images, dtype="float32")
    return images.reshape(len(images), 8, 8)


def digit_geometry(images) -> np.ndarray:
    """Three numbers per digit describing its shape, shape (n, 3), float32.

    Columns: the share of the ink in the top half of the image, then how close the
    image is to its left-right mirror image and to its upside-down image (1 = perfectly
    symmetric). Lesson 5 feeds them to models as a second input, ``geometry``.
    """
    images = _as_images(images)
    total = images.sum(axis=(1, 2))
    top_share = images[:, :4].sum(axis=(1, 2)) / np.maximum(total, 1e-6)
    left_right = 1.0 - np.abs(images - images[:, :, ::-1]).mean(axis=(1, 2))
    top_bottom = 1.0 - np.abs(images - images[:, ::-1, :]).mean(axis=(1, 2))
    return np.stack([top_share, left_right, top_bottom], axis=1).astype("float32")


def digit_width(images) -> np.ndarray:
    """How many of the 8 columns hold ink (a pixel of at least 0.5), shape (n, 1), float32."""
    images = _as_images(images)
    return (images.max(axis=1) >= 0.5).sum(axis=1, keepdims=True).astype("float32")


def width_loop_probe() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Exercises 5.3 and 5.4: 96 test digits (flat) and their targets ``width`` and ``loop``.

    96 is a multiple of Keras's default batch size (32): the per-output losses that
    ``evaluate`` reports are means of batch means, exact only when all batches are full.
    """
    _, (x_test, y_test) = load_digits_split()
    x = x_test[:96]
    loop = np.isin(y_test[:96], LOOPED_DIGITS).astype("float32").reshape(-1, 1)
    return x, {"width": digit_width(x), "loop": loop}


def given_two_way():
    """Exercise 5.2: ``pixels`` (64,) and ``geometry`` (3,) in; ``digit`` (10 probabilities) and ``odd`` out.

    Unlike the lesson's ``two_heads`` it takes the digits flat (the data are loaded as 8x8
    images) and its second output answers a yes/no question: is the digit odd?
    """
    import keras
    from keras import layers

    pixels = keras.Input(shape=(64,), name="pixels")
    geometry = keras.Input(shape=(3,), name="geometry")
    x = layers.Dense(32, activation="relu", name="see")(pixels)
    x = layers.Concatenate(name="merge")([x, geometry])
    x = layers.Dense(32, activation="relu", name="combine")(x)
    digit = layers.Dense(10, activation="softmax", name="digit")(x)
    odd = layers.Dense(1, activation="sigmoid", name="odd")(x)
    model = keras.Model([pixels, geometry], {"digit": digit, "odd": odd}, name="two_way")
    model.set_weights(fixed_weights(502, [64, 32]) + fixed_weights(503, [35, 32, 10]) + fixed_weights(504, [32, 1]))
    return model


def given_width_loop():
    """Exercises 5.3 and 5.4: 64 pixels in; ``width`` (a count) and ``loop`` (a probability) out.

    The outputs are written in the order width, loop; Keras orders a dict of outputs by
    key (loop, width), which is what a *list* of losses is matched against.
    """
    import keras
    from keras import layers

    pixels = keras.Input(shape=(64,), name="pixels")
    hidden = layers.Dense(16, activation="relu", name="hidden")(pixels)
    width = layers.Dense(1, name="width")(hidden)
    loop = layers.Dense(1, activation="sigmoid", name="loop")(hidden)
    model = keras.Model(pixels, {"width": width, "loop": loop}, name="width_loop")
    by_name = dict(zip(["hidden", "width", "loop"], [fixed_weights(505, [64, 16]), fixed_weights(506, [16, 1]),
                                                     fixed_weights(507, [16, 1])]))
    for name, weights in by_name.items():
        model.get_layer(name).set_weights(weights)
    return model


def given_halves():
    """Exercise 5.5: a digit reader with two inputs, ``top`` and ``bottom`` (32 pixels each, in this order).

    Its weights are a ridge-regression classifier fitted in closed form on the training
    digits (no random numbers, no training loop), so it is "trained": about 94% of the
    test digits are read correctly when each half goes to its own input.
    """
    import keras
    from keras import layers

    (x_train, y_train), _ = load_digits_split()
    features = np.hstack([x_train, np.ones((len(x_train), 1), dtype="float32")]).astype("float64")
    targets = np.eye(10)[y_train]
    solution = np.linalg.solve(features.T @ features + np.eye(65), features.T @ targets) * 10.0

    top = keras.Input(shape=(32,), name="top")
    bottom = keras.Input(shape=(32,), name="bottom")
    scores = layers.Add(name="add")([
        layers.Dense(10, name="top_scores")(top),
        layers.Dense(10, use_bias=False, name="bottom_scores")(bottom),
    ])
    digit = layers.Activation("softmax", name="digit")(scores)
    model = keras.Model([top, bottom], digit, name="halves")
    model.get_layer("top_scores").set_weights([solution[:32].astype("float32"), solution[64].astype("float32")])
    model.get_layer("bottom_scores").set_weights([solution[32:64].astype("float32")])
    return model
