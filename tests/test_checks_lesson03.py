"""Lesson 3 checks: correct answers written differently pass; typical mistakes are named."""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import layers

from check_helpers import assert_fails, assert_passes, round_trip
from coursetools.data import given_encoder, given_sequential
from coursetools.placeholders import not_done


class Subclassed(keras.Model):
    """A correct-looking model written by subclassing: not the functional API."""

    def __init__(self, widths=(32, 16, 10), **kwargs):
        super().__init__(**kwargs)
        self.stack = [layers.Dense(w, activation="relu") for w in widths[:-1]]
        self.head = layers.Dense(widths[-1], activation="softmax")

    def call(self, x):
        for layer in self.stack:
            x = layer(x)
        return self.head(x)


def subclassed(width=64):
    model = Subclassed()
    model(np.zeros((1, width), "float32"))
    return model


def mlp(units, activations, width=64, *, input_fn=keras.Input, names=None):
    """A functional Dense stack; returns the model."""
    inputs = input_fn(shape=(width,))
    x = inputs
    for i, (n, act) in enumerate(zip(units, activations)):
        x = layers.Dense(n, activation=act, name=None if names is None else names[i])(x)
    return keras.Model(inputs, x)


def copied(model, source):
    model.set_weights(source.get_weights())
    return model


# --- the given models ---------------------------------------------------------------------


def test_given_models_are_the_same_every_time():
    for make in (given_sequential, given_encoder):
        a, b = make(), make()
        assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_given_models_have_the_structure_the_notebook_describes():
    given = given_sequential()
    assert isinstance(given, keras.Sequential)
    assert [(l.name, l.units) for l in given.layers] == [("hidden_1", 32), ("hidden_2", 16), ("scores", 10)]
    encoder = given_encoder()
    assert type(encoder).__name__ == "Functional" and tuple(encoder.outputs[0].shape) == (None, 16)
    assert encoder.trainable


# --- 3.1 rebuild a Sequential model functionally -------------------------------------------

SOLUTION_UNITS = [32, 16, 10]
SOLUTION_ACTS = ["relu", "relu", "softmax"]


def _reuse_given_layers():
    given = given_sequential()
    inputs = keras.Input(shape=(64,))
    x = inputs
    for layer in given.layers:
        x = layer(x)
    return keras.Model(inputs=inputs, outputs=x)


def _separate_softmax():
    given = given_sequential()
    inputs = keras.layers.Input(shape=(64,))
    x = layers.Dense(32, activation="relu")(inputs)
    x = layers.Dense(16, activation="relu")(x)
    x = layers.Dense(10)(x)
    outputs = layers.Activation("softmax")(x)
    return copied(keras.Model(inputs, outputs), given)


def _list_inputs_and_outputs():
    given = given_sequential()
    inputs = keras.Input(shape=(64,))
    h = layers.Dense(16, activation="relu")(layers.Dense(32, activation="relu")(inputs))
    outputs = layers.Dense(10, activation="softmax")(h)
    return copied(keras.Model(inputs=[inputs], outputs=[outputs]), given)


def _from_given_graph():
    given = given_sequential()
    return keras.Model(given.inputs, given.outputs)


@pytest.mark.parametrize(
    "make",
    [
        lambda: copied(mlp(SOLUTION_UNITS, SOLUTION_ACTS), given_sequential()),
        lambda: copied(mlp(SOLUTION_UNITS, SOLUTION_ACTS, input_fn=keras.layers.Input, names=["a", "b", "c"]), given_sequential()),
        _reuse_given_layers,
        _separate_softmax,
        _list_inputs_and_outputs,
        _from_given_graph,
    ],
    ids=["set-weights", "layers-Input-and-names", "reuse-given-layers", "separate-softmax", "list-io", "given-graph"],
)
def test_3_1_accepts(make):
    assert_passes("3.1", rebuilt=make())


def _wraps_given():
    given = given_sequential()
    inputs = keras.Input(shape=(64,))
    return keras.Model(inputs, given(inputs))


def _two_inputs():
    given = given_sequential()
    a, b = keras.Input(shape=(64,)), keras.Input(shape=(64,))
    x = b
    for layer in given.layers:
        x = layer(x)
    return keras.Model([a, b], x)


def _two_outputs():
    given = given_sequential()
    inputs = keras.Input(shape=(64,))
    h = given.layers[1](given.layers[0](inputs))
    return keras.Model(inputs, [h, given.layers[2](h)])


def _sequential_copy():
    given = given_sequential()
    seq = keras.Sequential([keras.Input(shape=(64,))] + [layers.Dense(u, activation=a) for u, a in zip(SOLUTION_UNITS, SOLUTION_ACTS)])
    return copied(seq, given)


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: mlp(SOLUTION_UNITS, SOLUTION_ACTS), "not the weights of `given`"),
        (lambda: copied(mlp(SOLUTION_UNITS, ["relu", "relu", None]), given_sequential()), "activations"),
        (lambda: copied(mlp(SOLUTION_UNITS, ["sigmoid", "relu", "softmax"]), given_sequential()), "computes something else"),
        (lambda: mlp([16, 32, 10], SOLUTION_ACTS), "Dense layers of [16, 32, 10] units"),
        (lambda: mlp([32, 10], ["relu", "softmax"]), "same layers"),
        (lambda: mlp(SOLUTION_UNITS, SOLUTION_ACTS, width=32), "wrong input shape"),
        (_wraps_given, "wraps a whole model"),
        (_two_inputs, "2 inputs"),
        (_two_outputs, "2 outputs"),
        (given_sequential, "Sequential model"),
        (_sequential_copy, "asks for the functional API"),
        (subclassed, "not built with the functional API"),
        (lambda: None, "None"),
        (lambda: _from_given_graph, "a function"),
        (lambda: _from_given_graph().outputs[0], "symbolic KerasTensor"),
        (lambda: layers.Dense(10), "a single layer is not a model"),
        (lambda: keras.Model, "the class Model itself"),
    ],
    ids=[
        "weights-not-copied", "no-softmax", "wrong-activation", "wrong-order", "missing-layer", "input-width",
        "wraps-given", "two-inputs", "two-outputs", "given-itself", "sequential-copy", "subclassed",
        "none", "function", "keras-tensor", "layer", "class",
    ],
)
def test_3_1_rejects(make, phrase):
    assert_fails("3.1", phrase, rebuilt=make())


def test_3_1_placeholder_says_not_done():
    assert_fails("3.1", "not done yet", rebuilt=not_done("3.1"))


# --- 3.2 extract an intermediate representation --------------------------------------------


def _reused_first_two_layers():
    given = given_sequential()
    inputs = keras.Input(shape=(64,))
    return keras.Model(inputs, given.layers[1](given.layers[0](inputs)))


def _fresh_with_copied_weights():
    given = given_sequential()
    model = mlp([32, 16], ["relu", "relu"])
    model.set_weights(given.get_weights()[:4])
    return model


@pytest.mark.parametrize(
    "make",
    [
        lambda: (lambda g: keras.Model(g.inputs, g.get_layer("hidden_2").output))(given_sequential()),
        lambda: (lambda g: keras.Model(inputs=g.inputs[0], outputs=g.layers[1].output))(given_sequential()),
        lambda: keras.Sequential(given_sequential().layers[:2]),
        _reused_first_two_layers,
        _fresh_with_copied_weights,
    ],
    ids=["inputs-get-layer", "inputs0-index", "sequential-of-layers", "reuse-layers", "copied-weights"],
)
def test_3_2_accepts(make):
    assert_passes("3.2", feature_model=make())


def _identity():
    inputs = keras.Input(shape=(64,))
    return keras.Model(inputs, layers.Identity()(inputs))


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: (lambda g: keras.Model(g.inputs, g.get_layer("hidden_1").output))(given_sequential()), "32 features per sample, the output of `hidden_1`"),
        (given_sequential, "`scores`, the whole classifier"),
        (_identity, "the input itself"),
        (lambda: mlp([32, 16], ["relu", "relu"]), "not those of `given`"),
        (lambda: (lambda g: keras.Model(g.inputs, [g.get_layer("hidden_2").output, g.outputs[0]]))(given_sequential()), "2 outputs"),
        (lambda: given_sequential().get_layer("hidden_2").output, "symbolic KerasTensor"),
        (lambda: given_sequential().get_layer("hidden_2"), "a single layer is not a model"),
        (lambda: mlp([16], ["relu"], width=32), "fails on a batch of 64 features"),
        (lambda: None, "None"),
        (lambda: given_sequential, "a function"),
    ],
    ids=["hidden-1", "whole-model", "identity", "new-layers", "two-outputs", "keras-tensor", "layer", "wrong-input", "none", "function"],
)
def test_3_2_rejects(make, phrase):
    assert_fails("3.2", phrase, feature_model=make())


def test_3_2_placeholder_says_not_done():
    assert_fails("3.2", "not done yet", feature_model=not_done("3.2"))


# --- 3.3 nest a frozen model ---------------------------------------------------------------


def _functional_head(encoder, head=("softmax",), *, freeze=True, training=None):
    if freeze:
        encoder.trainable = False
    pixels = keras.Input(shape=(64,))
    x = encoder(pixels) if training is None else encoder(pixels, training=training)
    for i, act in enumerate(head):
        last = i == len(head) - 1
        x = layers.Dense(10 if last else 32, activation=act)(x)
    return keras.Model(pixels, x)


def _frozen_layer_by_layer():
    encoder = given_encoder()
    for layer in encoder.layers:
        layer.trainable = False
    pixels = keras.Input(shape=(64,))
    return keras.Model(pixels, layers.Dense(10, activation="softmax")(encoder(pixels)))


def _sequential_nesting():
    encoder = given_encoder()
    encoder.trainable = False
    return keras.Sequential([keras.Input(shape=(64,)), encoder, layers.Dense(10, activation="softmax")])


def _softmax_layer():
    encoder = given_encoder()
    encoder.trainable = False
    pixels = keras.Input(shape=(64,))
    scores = layers.Dense(10)(encoder(pixels))
    return keras.Model(pixels, layers.Softmax()(scores))


@pytest.mark.parametrize(
    "make",
    [
        lambda: _functional_head(given_encoder()),
        lambda: _functional_head(given_encoder(), training=False),
        lambda: _functional_head(given_encoder(), head=("relu", "softmax")),
        _frozen_layer_by_layer,
        _sequential_nesting,
        _softmax_layer,
    ],
    ids=["functional", "training-false", "deeper-head", "frozen-layer-by-layer", "sequential", "softmax-layer"],
)
def test_3_3_accepts(make):
    assert_passes("3.3", classifier=make())


def _layers_one_by_one():
    encoder = given_encoder()
    for layer in encoder.layers:
        layer.trainable = False
    pixels = keras.Input(shape=(64,))
    x = pixels
    for layer in encoder.layers[1:]:
        x = layer(x)
    return keras.Model(pixels, layers.Dense(10, activation="softmax")(x))


def _new_encoder():
    pixels = keras.Input(shape=(64,))
    h = layers.Dense(16, activation="relu")(layers.Dense(32, activation="relu")(pixels))
    return _functional_head(keras.Model(pixels, h, name="my_encoder"))


def _all_frozen():
    model = _functional_head(given_encoder())
    model.trainable = False
    return model


def _frozen_encoder():
    encoder = given_encoder()
    encoder.trainable = False
    return encoder


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: _functional_head(given_encoder(), freeze=False), "still trainable"),
        (_all_frozen, "nothing in `classifier` can be trained"),
        (lambda: _functional_head(given_encoder(), head=(None,)), "does not output probabilities"),
        (lambda: _functional_head(given_encoder(), head=("sigmoid",)), "does not output probabilities"),
        (_layers_one_by_one, "called one by one"),
        (_new_encoder, "not the given encoder"),
        (_frozen_encoder, "the encoder itself"),
        (lambda: mlp([10], ["softmax"]), "no model inside"),
        (lambda: _functional_head(given_encoder()).outputs[0], "symbolic KerasTensor"),
        (lambda: layers.Dense(10, activation="softmax"), "a single layer is not a model"),
        (lambda: None, "None"),
        (lambda: _functional_head, "a function"),
    ],
    ids=["not-frozen", "all-frozen", "no-softmax", "sigmoid", "layers-not-model", "new-encoder", "encoder-only", "no-encoder", "keras-tensor", "layer", "none", "function"],
)
def test_3_3_rejects(make, phrase):
    assert_fails("3.3", phrase, classifier=make())


def test_3_3_wrong_number_of_classes():
    encoder = given_encoder()
    encoder.trainable = False
    pixels = keras.Input(shape=(64,))
    model = keras.Model(pixels, layers.Dense(1, activation="sigmoid")(encoder(pixels)))
    assert_fails("3.3", "wrong number of outputs per sample", classifier=model)


def test_3_3_placeholder_says_not_done():
    assert_fails("3.3", "not done yet", classifier=not_done("3.3"))


# --- 3.4 repair a disconnected graph ---------------------------------------------------------


def test_3_4_the_broken_code_really_fails_with_the_quoted_message():
    """The exercise quotes this error; it must still be what Keras says."""
    inputs = keras.Input(shape=(20,), name="readings")
    hidden = layers.Dense(8, activation="relu", name="hidden")(keras.Input(shape=(20,)))
    outputs = layers.Dense(3, name="scores")(hidden)
    with pytest.raises(ValueError, match="Output with path `` is not connected to `inputs`"):
        keras.Model(inputs=inputs, outputs=outputs)


def sensor(hidden_units=8, hidden_act="relu", out_act=None, width=20, *, skip_hidden=False, input_fn=keras.Input):
    inputs = input_fn(shape=(width,), name="readings")
    hidden = layers.Dense(hidden_units, activation=hidden_act, name="hidden")(inputs)
    outputs = layers.Dense(3, activation=out_act, name="scores")(inputs if skip_hidden else hidden)
    return keras.Model(inputs=inputs, outputs=outputs)


def _second_input_kept():
    other = keras.Input(shape=(20,))
    hidden = layers.Dense(8, activation="relu")(other)
    return keras.Model(other, layers.Dense(3)(hidden))


def _both_inputs():
    inputs = keras.Input(shape=(20,))
    other = keras.Input(shape=(20,))
    outputs = layers.Dense(3)(layers.Dense(8, activation="relu")(other))
    return keras.Model([inputs, other], outputs)


@pytest.mark.parametrize(
    "make",
    [
        sensor,
        lambda: sensor(input_fn=keras.layers.Input),
        _second_input_kept,
        lambda: (lambda i: keras.Model(i, [layers.Dense(3)(layers.Dense(8, activation="relu")(i))]))(keras.Input(shape=(20,))),
    ],
    ids=["solution", "layers-Input", "kept-the-other-input", "list-output"],
)
def test_3_4_accepts(make):
    assert_passes("3.4", sensor_model=make())


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: sensor(skip_hidden=True), "hidden layer is not part"),
        (_both_inputs, "2 inputs"),
        (lambda: sensor(hidden_act=None), "changed the activations"),
        (lambda: sensor(out_act="relu"), "changed the activations"),
        (lambda: sensor(hidden_units=16), "Dense layers of [16, 3] units"),
        (lambda: sensor(width=8), "wrong input shape"),
        (lambda: keras.Sequential([keras.Input(shape=(20,)), layers.Dense(8, activation="relu"), layers.Dense(3)]), "Sequential model"),
        (lambda: subclassed(20), "not built with the functional API"),
        (lambda: sensor().outputs[0], "symbolic KerasTensor"),
        (lambda: layers.Dense(3), "a single layer is not a model"),
        (lambda: None, "None"),
        (lambda: sensor, "a function"),
    ],
    ids=["hidden-dropped", "both-inputs", "no-relu", "relu-on-scores", "units", "width", "sequential", "subclassed", "keras-tensor", "layer", "none", "function"],
)
def test_3_4_rejects(make, phrase):
    assert_fails("3.4", phrase, sensor_model=make())


def test_3_4_placeholder_says_not_done():
    assert_fails("3.4", "not done yet", sensor_model=not_done("3.4"))


# --- the same verdicts after a trip through the grader's files --------------------------------


@pytest.mark.parametrize(
    "exercise_id, name, make, phrase",
    [
        ("3.1", "rebuilt", lambda: copied(mlp(SOLUTION_UNITS, SOLUTION_ACTS), given_sequential()), None),
        ("3.1", "rebuilt", _from_given_graph, None),
        ("3.1", "rebuilt", lambda: mlp(SOLUTION_UNITS, SOLUTION_ACTS), "not the weights"),
        ("3.1", "rebuilt", given_sequential, "Sequential model"),
        ("3.1", "rebuilt", _wraps_given, "wraps a whole model"),
        ("3.1", "rebuilt", lambda: copied(mlp(SOLUTION_UNITS, ["relu", "relu", None]), given_sequential()), "activations"),
        ("3.2", "feature_model", lambda: (lambda g: keras.Model(g.inputs, g.get_layer("hidden_2").output))(given_sequential()), None),
        ("3.2", "feature_model", lambda: keras.Sequential(given_sequential().layers[:2]), None),
        ("3.2", "feature_model", lambda: mlp([32, 16], ["relu", "relu"]), "not those of `given`"),
        ("3.3", "classifier", lambda: _functional_head(given_encoder()), None),
        ("3.3", "classifier", _sequential_nesting, None),
        ("3.3", "classifier", lambda: _functional_head(given_encoder(), freeze=False), "still trainable"),
        ("3.3", "classifier", _all_frozen, "nothing in `classifier` can be trained"),
        ("3.3", "classifier", _layers_one_by_one, "called one by one"),
        ("3.4", "sensor_model", sensor, None),
        ("3.4", "sensor_model", lambda: sensor(skip_hidden=True), "hidden layer is not part"),
        ("3.4", "sensor_model", _both_inputs, "2 inputs"),
        ("3.4", "sensor_model", lambda: layers.Dense(3), "not a Keras model"),
        ("3.4", "sensor_model", lambda: not_done("3.4"), "not done yet"),
    ],
)
def test_verdicts_survive_export(tmp_path, exercise_id, name, make, phrase):
    value = make()
    for evidence in ({name: value}, round_trip(tmp_path, **{name: value})):
        if phrase is None:
            assert_passes(exercise_id, **evidence)
        else:
            assert_fails(exercise_id, phrase, **evidence)
