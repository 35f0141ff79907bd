"""Lesson 8's given models: the weights file's model of 8.1, and the custom layer and model of 8.3."""

from __future__ import annotations

import numpy as np

from coursetools.data import fixed_weights

LEARNED_TEMPERATURE = 2.5  # exercise 8.3: the temperature the saved model "learned"
INITIAL_TEMPERATURE = 1.5  # exercise 8.3: the argument it was created with (in the file's config)


def given_weights_source():
    """Exercise 8.1: the model whose weights the exercise notebook writes to a ``.weights.h5`` file.

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


def temperature_softmax_class():
    """Exercise 8.3: the colleague's custom layer, **not registered** (made on demand: it needs Keras).

    ``softmax(logits / temperature)``, one trainable temperature (a scalar weight) that
    starts at ``initial_temperature``. Calibrating a classifier this way is common;
    here it is simply a layer Keras does not ship.
    """
    import keras

    class TemperatureSoftmax(keras.layers.Layer):
        """Probabilities from logits, softened by a learned temperature: softmax(logits / temperature)."""

        def __init__(self, initial_temperature=1.0, **kwargs):
            super().__init__(**kwargs)
            self.initial_temperature = initial_temperature

        def build(self, input_shape):
            self.temperature = self.add_weight(
                shape=(), name="temperature", initializer=keras.initializers.Constant(self.initial_temperature))

        def call(self, logits):
            return keras.ops.softmax(logits / self.temperature)

    return TemperatureSoftmax


def calibrated_weights() -> list[np.ndarray]:
    """Exercise 8.3: the Dense weights of the saved model (hidden 64 -> 32, logits 32 -> 10)."""
    return fixed_weights(801, [64, 32]) + fixed_weights(802, [32, 10])


def given_calibrated_model(layer_class=None):
    """Exercise 8.3: pixels (64) -> hidden Dense(32, relu) -> logits Dense(10) -> TemperatureSoftmax.

    Built with ``TemperatureSoftmax(initial_temperature=1.5)``, whose temperature then
    "learned" 2.5: the config and the weight disagree on purpose.
    """
    import keras
    from keras import layers

    layer_class = layer_class or temperature_softmax_class()
    pixels = keras.Input(shape=(64,), name="pixels")
    hidden = layers.Dense(32, activation="relu", name="hidden")(pixels)
    logits = layers.Dense(10, name="logits")(hidden)
    calibrate = layer_class(initial_temperature=INITIAL_TEMPERATURE, name="calibrate")
    model = keras.Model(pixels, calibrate(logits), name="calibrated")
    weights = calibrated_weights()
    model.get_layer("hidden").set_weights(weights[:2])
    model.get_layer("logits").set_weights(weights[2:])
    calibrate.set_weights([np.asarray(LEARNED_TEMPERATURE, dtype="float32")])
    return model
