"""Checks for lesson 3 (the functional API). Each takes plain evidence and returns a success detail.

The given models of the exercises are built here, from fixed numbers, so that the
notebook and the check (in the learner's kernel or in a clean grading process)
see exactly the same reference. Behaviour is judged by running the evidence on
inputs the check makes itself; structure by the model's inputs, outputs and layers.
"""

from __future__ import annotations

import functools

import numpy as np

from coursetools.data import load_digits_split
from coursetools.lessons.lesson03.given import given_encoder, given_sequential
from coursetools.expect import describe, expect_int, expect_model
from coursetools.feedback import Mistake
from coursetools.probing import activation_of, output_or_mistake, require_bias, same_values
from coursetools.registry import exercise

# --- Helpers -------------------------------------------------------------------------------


def _probe(width: int, seed: int = 3) -> np.ndarray:
    """A fixed batch of inputs the check feeds to models (values like scaled pixels)."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(24, width)).astype("float32")


@functools.lru_cache(maxsize=1)
def _test_digits() -> tuple[np.ndarray, np.ndarray]:
    """The held-out digits (flat) and their labels: the data every lesson keeps aside."""
    _, (x_test, y_test) = load_digits_split()
    return x_test, y_test


def _noise_and_digits() -> np.ndarray:
    """Uniform noise AND real digits: real digits are sparse, with exact zeros and ones, and reach
    units that noise around 0.5 never activates (a wrong branch there would pass on noise alone)."""
    return np.concatenate([_probe(64), _test_digits()[0]])


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


def _shape_of(tensor) -> tuple:
    return tuple(tensor.shape)


def _require_one_input(model, width: int, what: str) -> None:
    shapes = [_shape_of(t) for t in model.inputs]
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
    shapes = [_shape_of(t) for t in model.outputs]
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


def _top_dense_layers(model) -> list:
    """The Dense layers at the model's top level (a nested model counts as one layer, not its insides)."""
    return [layer for layer in model.layers if type(layer).__name__ == "Dense"]


def _same_output(model, x: np.ndarray, expected: np.ndarray) -> bool:
    try:
        found = output_or_mistake(model, x, "the model")
    except Mistake:
        return False
    return same_values(found, expected)


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
    units = [layer.units for layer in _top_dense_layers(model)]
    if units != [32, 16, 10]:
        raise Mistake(
            "`rebuilt` does not have the same layers as `given`.",
            expected="Dense layers of 32, 16 and 10 units, in that order",
            found=f"Dense layers of {units} units",
            hint="the cell above the exercise lists the layers of `given`, with their units and activations",
        )
    if not _same_weights(model.get_weights(), reference.get_weights()):
        raise Mistake(
            "`rebuilt` has the right layers but not the weights of `given`.",
            expected="the same kernels and biases as `given`, so both compute the same function",
            found="different weights (new layers start with new random weights)",
            hint="copy them in this direction: rebuilt.set_weights(given.get_weights()) "
            "(if you overwrote `given`, run its cell again first)",
        )
    x = _noise_and_digits()
    if not np.allclose(output_or_mistake(model, x, "`rebuilt`"), output_or_mistake(reference, x, "`given`"), atol=1e-5):
        found = ", ".join(f"{layer.name}: {activation_of(layer)}" for layer in _top_dense_layers(model))
        raise Mistake(
            "`rebuilt` has the weights of `given` but computes something else.",
            expected="activations relu, relu, softmax, as in `given`",
            found=f"activations {found}",
            hint='pass activation="relu" / "softmax" to the Dense layers, as the cell that lists the layers of `given` shows',
        )
    return "a functional model with the layers, weights and predictions of `given`"


# --- 3.2 -------------------------------------------------------------------------------------


@exercise("3.2", "Extract an intermediate representation")
def extract_features(feature_model: object) -> str:
    model = expect_model(feature_model, "`feature_model`")
    reference = given_sequential()
    x = _noise_and_digits()
    found = output_or_mistake(model, x, "`feature_model`")
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

    hidden = keras.Model(reference.inputs[0], reference.get_layer("hidden_2").output)
    expected = output_or_mistake(hidden, x, "`given`")
    if not np.allclose(found, expected, atol=1e-5):
        if _holds_weights(model, reference.get_weights()[:4:2]):
            shown = ", ".join(f"{layer.name}: {activation_of(layer)}" for layer in _top_dense_layers(model))
            raise Mistake(
                "`feature_model` has the weights of `given` but computes something else.",
                expected="relu after `hidden_1` and after `hidden_2`, as in `given`",
                found=f"activations {shown}" if shown else "a different computation on the same weights",
                hint="reuse the given model's graph, so its activations come along: "
                'keras.Model(given.inputs[0], given.get_layer("hidden_2").output)',
            )
        raise Mistake(
            "`feature_model` computes 16 features, but not those of `given`.",
            expected="the values the layer `hidden_2` of `given` computes, on random inputs and on real digits",
            found="different numbers: new layers have new, untrained weights",
            hint="reuse the given model's graph: keras.Model(given.inputs[0], given.get_layer(\"hidden_2\").output)",
        )
    return "16 features per sample, the output of `hidden_2`"


def _holds_weights(model, kernels: list) -> bool:
    """Whether every one of ``kernels`` is among the model's weights (copied or shared)."""
    weights = model.get_weights()
    return all(any(np.shape(w) == np.shape(k) and np.allclose(w, k, atol=1e-6) for w in weights) for k in kernels)


# --- 3.3 -------------------------------------------------------------------------------------

HEAD_ACCURACY = 0.5  # chance is 0.10; a head trained as the statement says gets about 0.7


def _encoder_like(inner, reference) -> bool:
    """A nested model shaped like the given encoder: 64 pixels in, 16 features out, the same weight shapes."""
    try:
        shapes_in, shapes_out = [_shape_of(t) for t in inner.inputs], [_shape_of(t) for t in inner.outputs]
    except (AttributeError, ValueError):
        return False
    return (
        shapes_in == [(None, 64)] and shapes_out == [(None, 16)]
        and [w.shape for w in inner.get_weights()] == [w.shape for w in reference.get_weights()]
    )


def _correlation(found: list, reference: list) -> float:
    a = np.concatenate([np.ravel(w) for w in found]).astype("float64")
    b = np.concatenate([np.ravel(w) for w in reference]).astype("float64")
    return float(np.corrcoef(a, b)[0, 1])


def _nested_encoder(model, reference, x: np.ndarray, encoder_features: np.ndarray):
    """The model nested in ``model`` that stands for the given encoder; a Mistake when there is none."""
    nested = _nested_models(model)
    if not nested:
        if _same_output(model, x, encoder_features):
            raise Mistake(
                "`classifier` is the encoder itself, with no new head.",
                expected="a new model: inputs -> encoder -> Dense(10, softmax)",
                found=describe(model),
                hint="build a new keras.Model whose outputs come from a new Dense layer on encoder(inputs)",
            )
        dense = _top_dense_layers(model)
        reused = any(layer.name.startswith("encode_") for layer in dense)
        raise Mistake(
            "`classifier` has no model inside it.",
            expected="the `encoder` model as one layer of `classifier`",
            found="the encoder's layers called one by one" if reused else f"only layers: {[layer.name for layer in model.layers]}",
            hint="call the model like a layer: features = encoder(inputs)",
        )
    shaped = [inner for inner in nested if _encoder_like(inner, reference)]
    if not shaped:
        raise Mistake(
            "the model inside `classifier` is not the given encoder.",
            expected="`encoder` itself: 64 pixels in, 16 features out, its two Dense layers",
            found=describe(nested[0]),
            hint="use the `encoder` from the cell above; do not build a new one",
        )
    return shaped[0]


def _require_new_head(model, x: np.ndarray, probabilities: np.ndarray, encoder_features: np.ndarray) -> None:
    """A trainable Dense(10, softmax) head on the encoder's features."""
    if same_values(probabilities, encoder_features):
        raise Mistake(
            "`classifier` has no new head: its output is the encoder's 16 features.",
            expected="a new model: inputs -> frozen encoder -> Dense(10, softmax)",
            found="outputs of shape (None, 16), computed by the encoder alone",
            hint='add the head: outputs = layers.Dense(10, activation="softmax")(encoder(inputs))',
        )
    if not model.trainable_weights:
        raise Mistake(
            "the new head is frozen too: nothing in `classifier` can be trained.",
            expected="a frozen encoder and a trainable new head",
            found="0 trainable weights in the whole classifier",
            hint="freeze only the encoder (encoder.trainable = False), not the classifier",
        )
    if probabilities.shape != (len(x), 10):
        raise Mistake(
            "`classifier` has the wrong number of outputs per sample.",
            expected="10 numbers per sample, one per digit",
            found=f"outputs of shape {probabilities.shape[1:]} per sample",
            hint='end with layers.Dense(10, activation="softmax")',
        )
    if not (np.all(probabilities >= 0) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)):
        raise Mistake(
            "`classifier` does not output probabilities.",
            expected="10 probabilities per sample that sum to 1",
            found="values that do not sum to 1",
            hint='give the new head activation="softmax"',
        )


@exercise("3.3", "Nest a frozen model, then train the new one")
def nest_encoder(classifier: object) -> str:
    model = expect_model(classifier, "`classifier`")
    reference = given_encoder()  # rebuilt here from fixed numbers, never taken from the answer
    x = _noise_and_digits()
    encoder_features = output_or_mistake(reference, x, "the encoder")
    inner = _nested_encoder(model, reference, x, encoder_features)
    _require_unchanged_encoder(inner, reference)
    if inner.trainable_weights:
        raise Mistake(
            "the encoder inside `classifier` is still trainable.",
            expected="a frozen encoder: 0 trainable weights, so fit() keeps what it learned",
            found=f"{len(inner.trainable_weights)} trainable weight tensors in the encoder",
            hint="set encoder.trainable = False, then compile, then fit",
        )
    probabilities = output_or_mistake(model, x, "`classifier`")
    _require_new_head(model, x, probabilities, encoder_features)
    _require_trained_head(model, inner)
    return "the encoder is nested, frozen and unchanged by fit; the new head learned"


def _require_unchanged_encoder(inner, reference) -> None:
    """The encoder's weights must be exactly the given ones (to float32 rounding) after training."""
    found, given = inner.get_weights(), reference.get_weights()
    if _same_weights(found, given):
        return
    if _correlation(found, given) < 0.5:
        raise Mistake(
            "the model inside `classifier` is not the given encoder.",
            expected="`encoder` from the cell above, with its weights",
            found=f"{describe(inner)}: the same shape, but its own weights",
            hint="use the `encoder` that given_encoder() returned; a new model starts from new random weights",
        )
    if inner.trainable_weights:
        raise Mistake(
            "the encoder is not frozen, so fit changed its weights.",
            expected="the encoder's weights exactly as given, after training the new head",
            found="encoder weights moved by training",
            hint="run the cell that makes `encoder` again (its weights come back), then set "
            "encoder.trainable = False, then compile, then fit",
        )
    raise Mistake(
        "the encoder is frozen now, but its weights changed during training.",
        expected="the encoder's weights exactly as given, after training the new head",
        found="encoder weights moved by training, although the encoder now says trainable == False",
        hint="Keras reads trainable when fit first builds its training step after compile; a change made later "
        "waits for the next compile. Run the cell that makes `encoder` again, set trainable = False, then compile, "
        "then fit",
    )


def _require_trained_head(model, inner) -> None:
    head = [layer for layer in _top_dense_layers(model) if layer is not inner]
    for layer in head:
        require_bias(layer, "a layer of the new head")
    if head and all(not np.any(np.asarray(layer.bias)) for layer in head):
        raise Mistake(
            "the new head was never trained.",
            expected="a head trained with fit on the training digits",
            found="every bias of the head is still exactly 0, as Keras creates it: fit never ran on this model",
            hint="compile classifier, then fit it on x_train, y_train",
        )
    x_test, y_test = _test_digits()
    accuracy = float(np.mean(np.argmax(output_or_mistake(model, x_test, "`classifier`"), axis=1) == y_test))
    if accuracy < HEAD_ACCURACY:
        raise Mistake(
            "the new head trained but learned little.",
            expected=f"accuracy >= {HEAD_ACCURACY:.2f} on the {len(y_test)} held-out digits",
            found=f"accuracy {accuracy:.2f}",
            hint="train longer, with the learning rate the statement gives",
        )


# --- 3.4 -------------------------------------------------------------------------------------


@exercise("3.4", "Repair a disconnected graph")
def repair_graph(sensor_model: object) -> str:
    model = expect_model(sensor_model, "`sensor_model`")
    _require_functional(model, "`sensor_model`")
    _require_one_input(model, 20, "`sensor_model`")
    _require_one_output(model, 3, "`sensor_model`")
    dense = _top_dense_layers(model)
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
    for layer in dense:
        require_bias(layer, f"the Dense({layer.units}) layer")
    receives = int(dense[1].kernel.shape[0])
    if receives != 8:
        raise Mistake(
            f"the scores layer receives {receives} values per sample, not the hidden layer's 8.",
            expected="readings -> Dense(8, relu) -> Dense(3): the scores computed from the hidden layer alone",
            found=f"a Dense(3) layer fed {receives} values" + (" (the readings themselves)" if receives == 20 else ""),
            hint="call the scores layer on the hidden layer's output, with nothing in between",
        )
    _require_sensor_graph(model)
    return "readings -> hidden -> scores, connected to its one input"


SENSOR_WEIGHTS_SEED = 34


def _require_sensor_graph(model) -> None:
    """Follow the graph that runs: with fixed weights in both Dense layers, the model must compute
    scores = relu(x @ W1 + b1) @ W2 + b2 on readings; a hidden layer that is present but bypassed fails."""
    import keras

    rng = np.random.default_rng(SENSOR_WEIGHTS_SEED)
    w1, b1 = rng.normal(size=(20, 8)), rng.normal(size=8)
    w2, b2 = rng.normal(size=(8, 3)), rng.normal(size=3)
    probe = keras.models.clone_model(model)  # never change the evidence
    for layer, weights in zip(_top_dense_layers(probe), ([w1, b1], [w2, b2])):
        layer.set_weights([w.astype("float32") for w in weights])
    x = np.concatenate([_probe(20) * 2 - 1, np.random.default_rng(4).normal(size=(24, 20))]).astype("float32")
    found = output_or_mistake(probe, x, "`sensor_model`")
    hidden = x.astype("float64") @ w1 + b1
    if np.allclose(found, np.maximum(hidden, 0) @ w2 + b2, atol=1e-3):
        return
    changed = [
        (hidden @ w2 + b2, "relu on the hidden layer is missing"),
        (np.maximum(np.maximum(hidden, 0) @ w2 + b2, 0), "the scores got a relu"),
    ]
    for values, what in changed:
        if np.allclose(found, values, atol=1e-3):
            raise Mistake(
                "`sensor_model` changed the activations of the original code.",
                expected="relu on the hidden layer, none (linear) on the output",
                found=what,
                hint="fix only how the layers are connected; keep the layers as they were",
            )
    activations = [activation_of(layer) for layer in _top_dense_layers(model)]
    if activations != ["relu", "linear"]:
        raise Mistake(
            "`sensor_model` changed the activations of the original code.",
            expected="relu on the hidden layer, none (linear) on the output",
            found=f"activations {activations}",
            hint="fix only how the layers are connected; keep the layers as they were",
        )
    raise Mistake(
        "the scores of `sensor_model` do not come from the hidden layer.",
        expected="scores = Dense(3)(hidden), hidden = Dense(8, relu)(readings), and nothing else on the way",
        found="a graph in which the scores do not follow from the hidden layer's values "
        "(with known weights put in, the model computes something else)",
        hint="call the scores layer directly on the hidden layer's output",
    )


# --- 3.5 -------------------------------------------------------------------------------------

PREDICT_KEYS = {
    "rows": (None, 8, 4),
    "flat": (None, 32),
    "scores": (None, 10),
}
SHAPE_MISTAKES = {
    ("rows", (None, 4)): ("Dense works on the last axis only: each of the 8 rows of 8 pixels gets its own 4 "
                          "outputs, so the 8 rows stay", "rows.shape is (batch, rows, units)"),
    ("flat", (None, 64)): ("Flatten comes after the Dense layer: it flattens the 8 × 4 values of `rows`, not the "
                           "8 × 8 pixels", "multiply the axes of `rows` after the batch axis"),
}


@exercise("3.5", "Predict, then run")
def predict_thenoutput_or_mistake(predicted: object) -> str:
    keys = [*PREDICT_KEYS, "n_layers"]
    if not isinstance(predicted, dict):
        raise Mistake("`predicted` is not a dict.", expected=f"a dict with the keys {keys}", found=describe(predicted),
                      hint='fill in the dict of the answer cell: {"rows": (None, ...), ...}')
    for key in keys:
        if key not in predicted:
            raise Mistake(f"the key {key!r} is missing from `predicted`.", expected=f"the keys {keys}",
                          found=f"keys {list(predicted)}", hint="predict every value the statement asks for")
    for key, right in PREDICT_KEYS.items():
        _require_shape(key, predicted[key], right)
    n_layers = expect_int(predicted["n_layers"], '`predicted["n_layers"]`')
    if n_layers == 3:
        raise Mistake(
            "`n_layers` leaves out one layer.",
            expected="every entry of model.layers",
            found="3: the Dense, Flatten and Dense layers",
            hint="a functional model's layers list starts with the InputLayer that keras.Input made",
        )
    if n_layers != 4:
        raise Mistake("`n_layers` is not the length of model.layers.", expected="the number of entries of model.layers",
                      found=str(n_layers), hint="count the layer calls, and the InputLayer made by keras.Input")
    return "shapes and layers predicted before running"


def _require_shape(key: str, value: object, right: tuple) -> None:
    what = f"`{key}`"
    if not isinstance(value, (tuple, list)):
        raise Mistake(f"the shape of {what} is not written as a tuple.", expected="a tuple such as (None, 7)",
                      found=describe(value), hint="write the shape as Keras prints it, e.g. (None, 7)")
    items = [None if v is None else v for v in value]
    if items == list(right):
        return
    if (key, tuple(items)) in SHAPE_MISTAKES:
        problem, hint = SHAPE_MISTAKES[(key, tuple(items))]
        raise Mistake(f"the shape of {what} is not {tuple(items)}: {problem}.", expected="the shape Keras gives",
                      found=str(tuple(items)), hint=hint)
    if items == list(right[1:]):
        raise Mistake(f"the shape of {what} leaves out the batch axis.", expected="Keras's shape, batch axis first",
                      found=str(tuple(items)), hint="Keras writes the batch axis of a symbolic tensor as None")
    if len(items) == len(right) and items[1:] == list(right[1:]):
        raise Mistake(f"the shape of {what} gives the batch axis a size.", expected=f"{right}: batch axis first",
                      found=str(tuple(items)),
                      hint="the batch axis of a symbolic tensor is None: keras.Input fixes the shape of one sample, "
                      "not how many samples a batch will hold")
    raise Mistake(f"the shape of {what} is not the one Keras gives.", expected="the shape of that symbolic tensor",
                  found=str(tuple(items)), hint="go through the code one line at a time: what does each layer do "
                  "to the shape it receives?")
