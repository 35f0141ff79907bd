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


# --- Lesson 4 ---


def digit_images(test_fraction: float = 0.25):
    """The digits of :func:`load_digits_split` as one-channel images, shape ``(n, 8, 8, 1)``.

    Same split, same order: ``(x_train, y_train), (x_test, y_test)``, ready for ``Conv2D``.
    """
    (x_train, y_train), (x_test, y_test) = load_digits_split(test_fraction, flat=False)
    return (x_train[..., None], y_train), (x_test[..., None], y_test)


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
