"""Lesson 6's given data and models: pairs of digits, and the models its exercises start from."""

from __future__ import annotations

import numpy as np

from coursetools.data import fixed_weights, load_digits_split


def digit_pairs(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` pairs of digits drawn from ``(x, y)``: ``(left, right, same)``, about half of them "same".

    ``same`` is 1.0 where both images show the same digit and 0.0 where they do not.
    The pairs depend only on ``seed``, so a lesson, an exercise and a check that ask for
    the same pairs get the same images.
    """
    rng = np.random.default_rng(seed)
    left = rng.integers(0, len(x), size=n)
    same = rng.random(n) < 0.5
    by_class = {c: np.flatnonzero(y == c) for c in np.unique(y)}
    others = {c: np.flatnonzero(y != c) for c in by_class}
    right = np.array([rng.choice(by_class[y[i]] if s else others[y[i]]) for i, s in zip(left, same)])
    return x[left], x[right], same.astype("float32")


def given_twin_scorer():
    """Exercise 6.1: two 64-pixel inputs, one ``shared`` Dense(16) called on both, then a small head.

    Only the structure matters (the exercise counts its parameters), so the weights are
    Keras's own initial ones.
    """
    import keras
    from keras import layers

    left = keras.Input(shape=(64,), name="left")
    right = keras.Input(shape=(64,), name="right")
    shared = layers.Dense(16, activation="relu", name="shared")
    both = layers.Concatenate(name="both")([shared(left), shared(right)])
    compare = layers.Dense(8, activation="relu", name="compare")(both)
    score = layers.Dense(1, activation="sigmoid", name="score")(compare)
    return keras.Model([left, right], score, name="twin_scorer")


MEMBER_INPUTS = [(64,), (8, 8), (8, 8, 1)]  # each member reads the digits in its own shape


def given_members() -> list:
    """Exercise 6.4: three digit classifiers (a digit -> 10 probabilities), each one Dense layer.

    Each member is a ridge-regression classifier fitted, in closed form, on its own 150
    training digits, so they disagree a little and their average is more accurate than
    any of them. They read the digits in three shapes (:data:`MEMBER_INPUTS`): 64 pixels,
    an 8x8 image, an 8x8 image with one channel. Computed from the digits and fixed numbers:
    the same on every call.
    """
    import keras
    from keras import layers

    (x_train, y_train), _ = load_digits_split()
    order = np.random.default_rng(6).permutation(len(x_train))
    members = []
    for k, shape in enumerate(MEMBER_INPUTS):
        chosen = order[k::3][:150]
        x = np.hstack([x_train[chosen], np.ones((len(chosen), 1), "float32")]).astype("float64")
        targets = 4.0 * np.eye(10)[y_train[chosen]]
        solved = np.linalg.solve(x.T @ x + np.eye(65), x.T @ targets)
        flatten = [layers.Flatten(name=f"flatten_{k + 1}")] if len(shape) > 1 else []
        model = keras.Sequential(
            [keras.Input(shape=shape), *flatten, layers.Dense(10, activation="softmax", name=f"scores_{k + 1}")],
            name=f"member_{k + 1}",
        )
        model.set_weights([solved[:64].astype("float32"), solved[64].astype("float32")])
        members.append(model)
    return members


def given_reader():
    """Exercise 6.5: a digit classifier whose first part is a nested model.

    ``reader``: pixels -> ``encoder`` (a model: ``hidden`` Dense(32, relu), ``code`` Dense(16, relu))
    -> ``scores`` Dense(10, softmax). Fixed weights.
    """
    import keras
    from keras import layers

    pixels = keras.Input(shape=(64,), name="pixels")
    hidden = layers.Dense(32, activation="relu", name="hidden")(pixels)
    code = layers.Dense(16, activation="relu", name="code")(hidden)
    encoder = keras.Model(pixels, code, name="encoder")
    image = keras.Input(shape=(64,), name="image")
    scores = layers.Dense(10, activation="softmax", name="scores")(encoder(image))
    reader = keras.Model(image, scores, name="reader")
    reader.set_weights(fixed_weights(606, [64, 32, 16, 10]))
    return reader


PRETRAINED_WIDTHS = [64, 48, 32, 16]


def given_pretrained():
    """Exercise 6.3: an encoder to fine-tune, 64 -> 48 -> 32 -> 16 (``block_1`` .. ``block_3``, ReLU), fixed weights."""
    import keras
    from keras import layers

    pixels = keras.Input(shape=(64,), name="pixels")
    x = pixels
    for index, units in enumerate(PRETRAINED_WIDTHS[1:], start=1):
        x = layers.Dense(units, activation="relu", name=f"block_{index}")(x)
    encoder = keras.Model(pixels, x, name="pretrained")
    encoder.set_weights(fixed_weights(605, PRETRAINED_WIDTHS))
    return encoder
