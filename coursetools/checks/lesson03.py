"""Checks for lesson 3 (the functional API). Each takes plain evidence and returns a success detail.

The given models of the exercises are built here, from fixed numbers, so that the
notebook and the check (in the learner's kernel or in a clean grading process)
see exactly the same reference. Behaviour is judged by running the evidence on
inputs the check makes itself; structure by the model's inputs, outputs and layers.
"""

from __future__ import annotations


import numpy as np

from coursetools.data import given_encoder, given_sequential
from coursetools.evidence import describe, expect_model
from coursetools.feedback import Mistake
from coursetools.probing import activation_of, first_line, output_of
from coursetools.registry import exercise

# --- Helpers -------------------------------------------------------------------------------


def _probe(width: int, seed: int = 3) -> np.ndarray:
    """A fixed batch of inputs the check feeds to models (values like scaled pixels)."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(24, width)).astype("float32")


def _run(model, x: np.ndarray, what: str) -> np.ndarray:
    """The model's one output on ``x``; a Mistake if it fails or has several outputs."""
    try:
        return output_of(model, x, what)
    except Mistake:
        raise
    except Exception as error:  # the learner's model may fail in many ways
        raise Mistake(
            f"{what} fails on a batch of {x.shape[1]} features.",
            expected=f"a model that accepts inputs of shape (batch, {x.shape[1]})",
            found=first_line(error, limit=170),
        ) from None


def _require_functional(model, what: str) -> None:
    import keras

    if isinstance(model, keras.Sequential):
        raise Mistake(
            f"{what} is a Sequential model; this exercise asks for the functional API.",
            expected="a model made with keras.Model(inputs, outputs)",
            found=describe(model),
            hint="start from inputs = keras.Input(shape=...), call each layer on the previous tensor, "
            "then keras.Model(inputs, outputs)",
        )
    if type(model).__name__ != "Functional":
        raise Mistake(
            f"{what} is not built with the functional API.",
            expected="a model made with keras.Model(inputs, outputs)",
            found=f"{describe(model)} (a subclassed model has no graph of inputs and outputs)",
            hint="build it from a keras.Input and layer calls, then keras.Model(inputs, outputs)",
        )


def _shape(tensor) -> tuple:
    return tuple(tensor.shape)


def _require_one_input(model, width: int, what: str) -> None:
    shapes = [_shape(t) for t in model.inputs]
    if len(shapes) != 1:
        raise Mistake(
            f"{what} has {len(shapes)} inputs.",
            expected=f"one input of shape (None, {width})",
            found=f"inputs of shapes {shapes}",
            hint="pass exactly one keras.Input as inputs=...; an extra Input that nothing uses is a leftover",
        )
    if shapes[0] != (None, width):
        raise Mistake(
            f"{what} has the wrong input shape.",
            expected=f"(None, {width}): batches of samples with {width} features",
            found=f"{shapes[0]}",
            hint=f"use keras.Input(shape=({width},))",
        )


def _require_one_output(model, width: int, what: str) -> None:
    shapes = [_shape(t) for t in model.outputs]
    if len(shapes) != 1:
        raise Mistake(
            f"{what} has {len(shapes)} outputs.",
            expected=f"one output of shape (None, {width})",
            found=f"outputs of shapes {shapes}",
            hint="pass a single tensor as outputs=...",
        )
    if shapes[0] != (None, width):
        raise Mistake(
            f"{what} has the wrong output shape.",
            expected=f"(None, {width})",
            found=f"{shapes[0]}",
        )


def _nested_models(model) -> list:
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def _dense_layers(model) -> list:
    return [layer for layer in model.layers if type(layer).__name__ == "Dense"]


def _same_output(model, x: np.ndarray, expected: np.ndarray) -> bool:
    try:
        found = _run(model, x, "the model")
    except Mistake:
        return False
    return found.shape == expected.shape and np.allclose(found, expected, atol=1e-5)


def _same_weights(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        np.shape(x) == np.shape(y) and np.allclose(x, y, atol=1e-6) for x, y in zip(a, b)
    )


# --- 3.1 -------------------------------------------------------------------------------------


@exercise("3.1", "Rebuild a Sequential model with the functional API")
def rebuild_functionally(rebuilt: object) -> str:
    model = expect_model(rebuilt, "`rebuilt`")
    _require_functional(model, "`rebuilt`")
    if _nested_models(model):
        raise Mistake(
            "`rebuilt` wraps a whole model as one layer instead of rebuilding it.",
            expected="the Dense layers of `given`, one call each, in a functional graph",
            found=f"a model inside your model: {describe(_nested_models(model)[0])}",
            hint="call the layers one at a time: x = layer(x), starting from a keras.Input",
        )
    _require_one_input(model, 64, "`rebuilt`")
    _require_one_output(model, 10, "`rebuilt`")
    reference = given_sequential()
    units = [layer.units for layer in _dense_layers(model)]
    if units != [32, 16, 10]:
        raise Mistake(
            "`rebuilt` does not have the same layers as `given`.",
            expected="Dense layers of 32, 16 and 10 units, in that order",
            found=f"Dense layers of {units} units",
            hint="given.summary() lists the layers to rebuild",
        )
    if not _same_weights(model.get_weights(), reference.get_weights()):
        raise Mistake(
            "`rebuilt` has the right layers but not the weights of `given`.",
            expected="the same kernels and biases as `given`, so both compute the same function",
            found="different weights (new layers start with new random weights)",
            hint="copy them in this direction: rebuilt.set_weights(given.get_weights()) "
            "(if you overwrote `given`, run its cell again first)",
        )
    x = _probe(64)
    if not np.allclose(_run(model, x, "`rebuilt`"), _run(reference, x, "`given`"), atol=1e-5):
        found = ", ".join(f"{layer.name}: {activation_of(layer)}" for layer in _dense_layers(model))
        raise Mistake(
            "`rebuilt` has the weights of `given` but computes something else.",
            expected="activations relu, relu, softmax, as in `given`",
            found=f"activations {found}",
            hint='pass activation="relu" / "softmax" to the Dense layers as in given.summary()',
        )
    return "a functional model with the layers, weights and predictions of `given`"


# --- 3.2 -------------------------------------------------------------------------------------


@exercise("3.2", "Extract an intermediate representation")
def extract_features(feature_model: object) -> str:
    model = expect_model(feature_model, "`feature_model`")
    reference = given_sequential()
    x = _probe(64)
    found = _run(model, x, "`feature_model`")
    stages = {
        32: "the output of `hidden_1`, one layer too early",
        10: "the output of `scores`, the whole classifier",
        64: "the input itself",
    }
    if found.shape != (len(x), 16):
        width = found.shape[-1] if found.ndim == 2 else None
        raise Mistake(
            "`feature_model` returns the wrong representation.",
            expected="16 features per sample: the output of the layer `hidden_2`",
            found=f"{width} features per sample, {stages[width]}" if width in stages
            else f"outputs of shape {found.shape[1:]} per sample",
            hint='take given.get_layer("hidden_2").output as outputs',
        )
    import keras

    hidden = keras.Model(reference.inputs, reference.get_layer("hidden_2").output)
    expected = _run(hidden, x, "`given`")
    if not np.allclose(found, expected, atol=1e-5):
        raise Mistake(
            "`feature_model` computes 16 features, but not those of `given`.",
            expected="the values the layer `hidden_2` of `given` computes",
            found="different numbers: new layers have new, untrained weights",
            hint='reuse the given model\'s graph: keras.Model(given.inputs, given.get_layer("hidden_2").output)',
        )
    return "16 features per sample, the output of `hidden_2`"


# --- 3.3 -------------------------------------------------------------------------------------


@exercise("3.3", "Nest a frozen model inside a new one")
def nest_encoder(classifier: object) -> str:
    model = expect_model(classifier, "`classifier`")
    x = _probe(64)
    encoder_features = _run(given_encoder(), x, "the encoder")
    nested = _nested_models(model)
    if not nested:
        if _same_output(model, x, encoder_features):
            raise Mistake(
                "`classifier` is the encoder itself, with no new head.",
                expected="a new model: inputs -> encoder -> Dense(10, softmax)",
                found=describe(model),
                hint="build a new keras.Model whose outputs come from a new Dense layer on encoder(inputs)",
            )
        dense = _dense_layers(model)
        reused = any(layer.name.startswith("encode_") for layer in dense)
        raise Mistake(
            "`classifier` has no model inside it.",
            expected="the `encoder` model as one layer of `classifier`",
            found="the encoder's layers called one by one" if reused else f"only layers: {[layer.name for layer in model.layers]}",
            hint="call the model like a layer: features = encoder(inputs)",
        )
    matching = [inner for inner in nested if _same_output(inner, x, encoder_features)]
    if not matching:
        raise Mistake(
            "the model inside `classifier` is not the given encoder.",
            expected="`encoder` itself, with its trained weights",
            found=f"{describe(nested[0])}, which computes different features",
            hint="use the `encoder` from the cell above; do not build a new one",
        )
    inner = matching[0]
    if inner.trainable_weights:
        raise Mistake(
            "the encoder inside `classifier` is still trainable.",
            expected="a frozen encoder: 0 trainable weights, so fit() keeps what it learned",
            found=f"{len(inner.trainable_weights)} trainable weight tensors in the encoder",
            hint="set encoder.trainable = False (before compiling)",
        )
    if not model.trainable_weights:
        raise Mistake(
            "nothing in `classifier` can be trained.",
            expected="a frozen encoder and a trainable new head",
            found="0 trainable weights: the whole classifier is frozen",
            hint="freeze only the encoder: encoder.trainable = False",
        )
    probabilities = _run(model, x, "`classifier`")
    if probabilities.shape != (len(x), 10):
        raise Mistake(
            "`classifier` has the wrong number of outputs per sample.",
            expected="10 numbers per sample, one per digit",
            found=f"outputs of shape {probabilities.shape}",
            hint='end with layers.Dense(10, activation="softmax")',
        )
    if not (np.all(probabilities >= 0) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)):
        raise Mistake(
            "`classifier` does not output probabilities.",
            expected="10 probabilities per sample that sum to 1",
            found="values that do not sum to 1",
            hint='give the new head activation="softmax"',
        )
    return "a trainable head on top of the frozen encoder, nested as one layer"


# --- 3.4 -------------------------------------------------------------------------------------


@exercise("3.4", "Repair a disconnected graph")
def repair_graph(sensor_model: object) -> str:
    model = expect_model(sensor_model, "`sensor_model`")
    _require_functional(model, "`sensor_model`")
    _require_one_input(model, 20, "`sensor_model`")
    _require_one_output(model, 3, "`sensor_model`")
    dense = _dense_layers(model)
    units = [layer.units for layer in dense]
    if units == [3]:
        raise Mistake(
            "the hidden layer is not part of `sensor_model`.",
            expected="readings -> Dense(8, relu) -> Dense(3)",
            found="readings -> Dense(3): the output layer is called on the input directly",
            hint="call the hidden layer on `inputs`, then the output layer on the hidden layer's result",
        )
    if units != [8, 3]:
        raise Mistake(
            "`sensor_model` does not have the layers of the original code.",
            expected="Dense layers of 8 then 3 units",
            found=f"Dense layers of {units} units",
        )
    activations = [activation_of(layer) for layer in dense]
    if activations != ["relu", "linear"]:
        raise Mistake(
            "`sensor_model` changed the activations of the original code.",
            expected="relu on the hidden layer, none (linear) on the output",
            found=f"activations {activations}",
            hint="fix only how the layers are connected; keep the layers as they were",
        )
    return "readings -> hidden -> scores, connected to its one input"
