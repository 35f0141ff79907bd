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


# --- Lesson 5 ---
#
# Lesson 5 (several inputs and outputs) derives a second input and extra targets from
# the digits themselves, so everything stays offline and identical on every machine.

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
    """Exercise 5.2: image (8, 8) and geometry (3,) in; ``digit`` (10 probabilities) and ``ink`` out."""
    import keras
    from keras import layers

    image = keras.Input(shape=(8, 8), name="image")
    geometry = keras.Input(shape=(3,), name="geometry")
    x = layers.Dense(32, activation="relu", name="see")(layers.Flatten(name="flatten")(image))
    x = layers.Concatenate(name="merge")([x, geometry])
    x = layers.Dense(32, activation="relu", name="combine")(x)
    digit = layers.Dense(10, activation="softmax", name="digit")(x)
    ink = layers.Dense(1, name="ink")(x)
    model = keras.Model([image, geometry], {"digit": digit, "ink": ink}, name="two_way")
    model.set_weights(_fixed_weights(502, [64, 32]) + _fixed_weights(503, [35, 32, 10]) + _fixed_weights(504, [32, 1]))
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
    by_name = dict(zip(["hidden", "width", "loop"], [_fixed_weights(505, [64, 16]), _fixed_weights(506, [16, 1]),
                                                     _fixed_weights(507, [16, 1])]))
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
