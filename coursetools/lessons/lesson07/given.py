"""Lesson 7's given data and models: the second input and the model of 7.2, the `call` methods of 7.3."""

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


# --- Exercise 7.3: will it run under fit? -----------------------------------------------------
#
# Six `call` methods of a digit classifier, in the order the exercise lists them. Each model
# holds `self.refine = layers.Dense(64, activation="relu")`, `self.classify =
# layers.Dense(10, activation="softmax")` and `self.repeats = 3` (see FitQuizModel in the
# tests, which trains every one of them with fit to prove the answer key below).

FIT_SNIPPETS = {
    "a": """\
def call(self, x, training=False):
    if training:
        x = x + keras.random.normal(ops.shape(x), stddev=0.05)
    return self.classify(x)""",
    "b": """\
def call(self, x):
    if ops.max(x) > 1.0:  # pixels from 0 to 16, not from 0 to 1?
        x = x / 16.0
    return self.classify(x)""",
    "c": """\
def call(self, x):
    for _ in range(self.repeats):
        x = self.refine(x)
    return self.classify(x)""",
    "d": """\
def call(self, x):
    if x.shape[0] > 1:  # a batch of several digits: centre it
        x = x - ops.mean(x, axis=0)
    return self.classify(x)""",
    "e": """\
def call(self, x):
    x = ops.cond(ops.max(x) > 1.0, lambda: x / 16.0, lambda: x)
    return self.classify(x)""",
    "f": """\
def call(self, x):
    while ops.max(x) > 1.0:
        x = x / 2.0
    return self.classify(x)""",
}
