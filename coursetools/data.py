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


# --- Lesson 6 ---


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


def given_members() -> list:
    """Exercise 6.3: three digit classifiers (64 pixels -> 10 probabilities), each one Dense layer.

    Each member is a ridge-regression classifier fitted, in closed form, on its own 150
    training digits, so they disagree a little and their average is more accurate than
    any of them. Computed from the digits and fixed numbers: the same on every call.
    """
    import keras
    from keras import layers

    (x_train, y_train), _ = load_digits_split()
    order = np.random.default_rng(6).permutation(len(x_train))
    members = []
    for k in range(3):
        chosen = order[k::3][:150]
        x = np.hstack([x_train[chosen], np.ones((len(chosen), 1), "float32")]).astype("float64")
        targets = 4.0 * np.eye(10)[y_train[chosen]]
        solved = np.linalg.solve(x.T @ x + np.eye(65), x.T @ targets)
        model = keras.Sequential(
            [keras.Input(shape=(64,)), layers.Dense(10, activation="softmax", name=f"scores_{k + 1}")],
            name=f"member_{k + 1}",
        )
        model.set_weights([solved[:64].astype("float32"), solved[64].astype("float32")])
        members.append(model)
    return members


def given_reader():
    """Exercise 6.4: a digit classifier whose first part is a nested model.

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
    reader.set_weights(_fixed_weights(606, [64, 32, 16, 10]))
    return reader


PRETRAINED_WIDTHS = [64, 48, 32, 16]


def given_pretrained():
    """Exercise 6.5: an encoder to fine-tune, 64 -> 48 -> 32 -> 16 (``block_1`` .. ``block_3``, ReLU), fixed weights."""
    import keras
    from keras import layers

    pixels = keras.Input(shape=(64,), name="pixels")
    x = pixels
    for index, units in enumerate(PRETRAINED_WIDTHS[1:], start=1):
        x = layers.Dense(units, activation="relu", name=f"block_{index}")(x)
    encoder = keras.Model(pixels, x, name="pretrained")
    encoder.set_weights(_fixed_weights(605, PRETRAINED_WIDTHS))
    return encoder
