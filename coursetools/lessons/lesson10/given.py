"""Lesson 10's given data and models.

* :func:`zigzag`: the lesson's curve made of three straight pieces (a mixture of three experts);
* :func:`two_regimes`: exercise 10.2's data, two straight pieces meeting at x = 0;
* :func:`router_data`: exercise 10.3's batches, each clearly on one side of zero;
* :func:`skip_batches` and :func:`given_loop_model`: exercise 10.5's batches and its model,
  with fixed starting weights.

Everything is generated from fixed seeds: the lesson, the exercises and the checks see
the same numbers on every machine.
"""

from __future__ import annotations

import numpy as np

from coursetools.data import load_digits_split

ROUTER_FEATURES = 4  # exercise 10.3: samples have 4 features
ROUTER_BATCH = 32  # and come in 8 batches of 32
ROUTER_BATCHES = 8
LOOP_BATCH = 64  # exercise 10.5: 16 batches of 64 digits
LOOP_BATCHES = 16
LOOP_HIDDEN = 16  # exercise 10.5's model: 64 -> 16 (relu) -> 10 (softmax)


def zigzag(n: int = 2048, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: x uniform in [-3, 3], y a zig-zag of three straight pieces (slopes +1, -1, +1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, size=(n, 1)).astype("float32")
    y = np.where(x < -1.0, x + 2.0, np.where(x < 1.0, -x, x - 2.0)).astype("float32")
    return x, y


def two_regimes_target(x: np.ndarray) -> np.ndarray:
    """Exercise 10.2's rule: y = -x - 1 left of zero, y = 2x - 1 right of it."""
    x = np.asarray(x, dtype="float32")
    return np.where(x < 0.0, -x - 1.0, 2.0 * x - 1.0).astype("float32")


def two_regimes(n: int = 2048, seed: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` for exercise 10.2: x uniform in [-3, 3], shape (n, 1); y from :func:`two_regimes_target`."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, size=(n, 1)).astype("float32")
    return x, two_regimes_target(x)


def router_data(seed: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` for exercise 10.3: 8 batches of 32 samples of 4 features, in order.

    Even batches (0, 2, ...) are shifted up by 1, odd ones down by 1, so every batch's
    mean is clearly above or below 0. The target is linear on the positive batches
    (x0 - x1 + 0.5) and not on the negative ones (|x2| + |x3|): the small branch can fit
    the first, the hidden layer of the big branch is needed for the second.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(ROUTER_BATCHES * ROUTER_BATCH, ROUTER_FEATURES))
    sign = np.repeat(np.where(np.arange(ROUTER_BATCHES) % 2 == 0, 1.0, -1.0), ROUTER_BATCH)[:, None]
    x = (x + sign).astype("float32")
    y = np.where(sign > 0, x[:, :1] - x[:, 1:2] + 0.5, np.abs(x[:, 2:3]) + np.abs(x[:, 3:4]))
    return x, y.astype("float32")


def skip_batches() -> list[tuple[np.ndarray, np.ndarray]]:
    """Exercise 10.5's data: the first 1,024 training digits as 16 batches of 64 ``(pixels, labels)``, in order."""
    (x_train, y_train), _ = load_digits_split()
    return [(x_train[i:i + LOOP_BATCH], y_train[i:i + LOOP_BATCH])
            for i in range(0, LOOP_BATCH * LOOP_BATCHES, LOOP_BATCH)]


def loop_start_weights() -> list[np.ndarray]:
    """Exercise 10.5's starting weights (Glorot-uniform kernels, zero biases, from a fixed seed)."""
    rng = np.random.default_rng(105)
    weights = []
    for fan_in, units in ((64, LOOP_HIDDEN), (LOOP_HIDDEN, 10)):
        limit = np.sqrt(6.0 / (fan_in + units))
        weights += [rng.uniform(-limit, limit, size=(fan_in, units)).astype("float32"), np.zeros(units, "float32")]
    return weights


def given_loop_model():
    """Exercise 10.5: 64 pixels -> Dense(16, relu) -> Dense(10, softmax), with :func:`loop_start_weights`."""
    import keras
    from keras import layers

    pixels = keras.Input(shape=(64,), name="pixels")
    hidden = layers.Dense(LOOP_HIDDEN, activation="relu", name="hidden")(pixels)
    digit = layers.Dense(10, activation="softmax", name="digit")(hidden)
    model = keras.Model(pixels, digit, name="loop_model")
    model.set_weights(loop_start_weights())
    return model
