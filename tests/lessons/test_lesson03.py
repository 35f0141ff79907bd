"""Lesson 3 checks: correct answers written differently pass; typical mistakes are named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import keras
from keras import layers

from check_helpers import assert_fails, assert_passes, round_trip
from coursetools.lessons.lesson03 import given_encoder, given_sequential
from coursetools.placeholders import not_done

ROOT = Path(__file__).resolve().parents[2]


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


def _hidden_unit_changed(unit=19):
    """given's weights, with one hidden_1 unit rewired: the uniform probe never activates it; real digits do."""
    given = given_sequential()
    weights = given.get_weights()
    weights[0][:, unit] *= 0.5  # negative on noise stays negative (ReLU hides it); on digits it shows
    weights[1][unit] *= 0.5
    model = mlp([32, 16], ["relu", "relu"])
    model.set_weights(weights[:4])
    return model


def test_3_2_the_changed_unit_is_invisible_to_uniform_noise():
    """The premise of the wrong-branch test: on uniform noise the two models agree, on digits they do not."""
    from coursetools.data import load_digits_split

    probe = np.random.default_rng(3).uniform(0.0, 1.0, size=(24, 64)).astype("float32")
    digits = load_digits_split()[1][0]
    right = (lambda g: keras.Model(g.inputs[0], g.get_layer("hidden_2").output))(given_sequential())
    wrong = _hidden_unit_changed()
    assert np.allclose(right(probe), wrong(probe), atol=1e-5)
    assert not np.allclose(right(digits), wrong(digits), atol=1e-5)


def _copied_without_relu():
    given = given_sequential()
    model = mlp([32, 16], ["relu", None])
    model.set_weights(given.get_weights()[:4])
    return model


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
        (_hidden_unit_changed, "not those of `given`"),
        (_copied_without_relu, "the weights of `given` but"),
        (lambda: (lambda g: keras.Model(g.inputs, [g.get_layer("hidden_2").output, g.outputs[0]]))(given_sequential()), "2 outputs"),
        (lambda: given_sequential().get_layer("hidden_2").output, "symbolic KerasTensor"),
        (lambda: given_sequential().get_layer("hidden_2"), "a single layer is not a model"),
        (lambda: mlp([16], ["relu"], width=32), "fails on a batch of 64 features"),
        (lambda: None, "None"),
        (lambda: given_sequential, "a function"),
    ],
    ids=["hidden-1", "whole-model", "identity", "new-layers", "wrong-branch", "copied-without-relu", "two-outputs", "keras-tensor", "layer", "wrong-input", "none", "function"],
)
def test_3_2_rejects(make, phrase):
    assert_fails("3.2", phrase, feature_model=make())


def test_3_2_copied_weights_without_relu_are_not_called_new_random_weights():
    failure = assert_fails("3.2", "activation", feature_model=_copied_without_relu())
    assert "random" not in failure.message() and "new, untrained" not in failure.message()


def test_3_2_placeholder_says_not_done():
    assert_fails("3.2", "not done yet", feature_model=not_done("3.2"))


# --- 3.3 nest the frozen encoder, compile, train the head: the encoder must not move -----------

from coursetools.data import load_digits_split  # noqa: E402


def _digits():
    (x_train, y_train), (x_test, y_test) = load_digits_split()
    return x_train, y_train, x_test, y_test


def _head_by_least_squares(model, encoder, head):
    """Give ``head`` (a Dense(10) on the encoder's 16 features) trained weights in closed form: instant, deterministic."""
    x_train, y_train, _, _ = _digits()
    features = keras.ops.convert_to_numpy(encoder(x_train))
    design = np.hstack([features, np.ones((len(features), 1), "float32")])
    solution = np.linalg.lstsq(design, np.eye(10)[y_train], rcond=None)[0].astype("float32")
    head.set_weights([solution[:-1], solution[-1]])
    return model


def _functional_head(encoder, head=("softmax",), *, freeze=True, training=None, trained=True, use_bias=True):
    if freeze:
        encoder.trainable = False
    pixels = keras.Input(shape=(64,))
    x = encoder(pixels) if training is None else encoder(pixels, training=training)
    dense = []
    for i, act in enumerate(head):
        last = i == len(head) - 1
        dense.append(layers.Dense(10 if last else 16, activation=act, use_bias=use_bias))
        x = dense[-1](x)
    model = keras.Model(pixels, x)
    if trained and len(dense) == 2:  # a deeper head: pass the 16 features through, then the closed-form layer
        dense[0].set_weights([np.eye(16, dtype="float32"), np.zeros(16, "float32")])
    if trained and use_bias:
        _head_by_least_squares(model, encoder, dense[-1])
    return model


def _trained(model, epochs=20, learning_rate=0.01):
    x_train, y_train, _, _ = _digits()
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def solution_recipe():
    """The statement's recipe, really run: freeze, build, compile, fit."""
    return _trained(_functional_head(given_encoder(), trained=False))


@pytest.fixture(scope="module")
def frozen_too_late():
    """The trap: trained once with the encoder trainable, frozen, trained again without compiling."""
    encoder = given_encoder()
    model = _trained(_functional_head(encoder, freeze=False, trained=False), epochs=2)
    encoder.trainable = False
    x_train, y_train, _, _ = _digits()
    model.fit(x_train, y_train, epochs=2, batch_size=64, verbose=0)
    assert encoder.trainable is False and not encoder.trainable_weights
    return model


@pytest.fixture(scope="module")
def never_frozen():
    return _trained(_functional_head(given_encoder(), freeze=False, trained=False), epochs=2)


def test_3_3_accepts_the_statement_s_recipe(solution_recipe):
    line = assert_passes("3.3", classifier=solution_recipe)
    assert "unchanged" in line


def test_3_3_the_trap_really_changes_a_frozen_encoder(frozen_too_late):
    """Keras 3.15: after a first fit, setting trainable=False is ignored until the next compile."""
    inner = [layer for layer in frozen_too_late.layers if isinstance(layer, keras.Model)][0]
    assert not all(np.array_equal(a, b) for a, b in zip(inner.get_weights(), given_encoder().get_weights()))


def _frozen_layer_by_layer():
    encoder = given_encoder()
    for layer in encoder.layers:
        layer.trainable = False
    head = layers.Dense(10, activation="softmax")
    pixels = keras.Input(shape=(64,))
    return _head_by_least_squares(keras.Model(pixels, head(encoder(pixels))), encoder, head)


def _sequential_nesting():
    encoder = given_encoder()
    encoder.trainable = False
    head = layers.Dense(10, activation="softmax")
    return _head_by_least_squares(keras.Sequential([keras.Input(shape=(64,)), encoder, head]), encoder, head)


def _softmax_layer():
    encoder = given_encoder()
    encoder.trainable = False
    head = layers.Dense(10)
    pixels = keras.layers.Input(shape=(64,))
    model = keras.Model(pixels, layers.Softmax()(head(encoder(pixels))))
    return _head_by_least_squares(model, encoder, head)


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
    keras.utils.set_random_seed(5)
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


def _nested_without_head():
    encoder = given_encoder()
    encoder.trainable = False
    pixels = keras.Input(shape=(64,))
    return keras.Model(pixels, encoder(pixels))


def _learned_little():
    model = _functional_head(given_encoder(), trained=False)
    head = model.layers[-1]
    rng = np.random.default_rng(0)
    head.set_weights([rng.normal(0, 0.01, (16, 10)).astype("float32"), np.full(10, 0.01, "float32")])
    return model


def _wrong_number_of_classes():
    encoder = given_encoder()
    encoder.trainable = False
    pixels = keras.Input(shape=(64,))
    return keras.Model(pixels, layers.Dense(1, activation="sigmoid")(encoder(pixels)))


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: _functional_head(given_encoder(), freeze=False), "still trainable"),
        (lambda: _functional_head(given_encoder(), trained=False), "never trained"),
        (_learned_little, "learned little"),
        (_all_frozen, "the new head is frozen too"),
        (_nested_without_head, "no new head"),
        (lambda: _functional_head(given_encoder(), head=(None,)), "does not output probabilities"),
        (lambda: _functional_head(given_encoder(), head=("sigmoid",)), "does not output probabilities"),
        (lambda: _functional_head(given_encoder(), use_bias=False), "no bias"),
        (_wrong_number_of_classes, "wrong number of outputs per sample"),
        (_layers_one_by_one, "called one by one"),
        (_new_encoder, "not the given encoder"),
        (_frozen_encoder, "the encoder itself"),
        (lambda: mlp([10], ["softmax"]), "no model inside"),
        (lambda: _functional_head(given_encoder()).outputs[0], "symbolic KerasTensor"),
        (lambda: layers.Dense(10, activation="softmax"), "a single layer is not a model"),
        (lambda: None, "None"),
        (lambda: _functional_head, "a function"),
    ],
    ids=["not-frozen", "untrained-head", "learned-little", "all-frozen", "no-head", "no-softmax", "sigmoid",
         "no-bias", "one-output", "layers-not-model", "new-encoder", "encoder-only", "no-encoder", "keras-tensor",
         "layer", "none", "function"],
)
def test_3_3_rejects(make, phrase):
    assert_fails("3.3", phrase, classifier=make())


def test_3_3_rejects_an_encoder_frozen_too_late(frozen_too_late):
    failure = assert_fails("3.3", "frozen now, but its weights changed", classifier=frozen_too_late)
    assert "then compile" in failure.message()


def test_3_3_rejects_an_encoder_never_frozen(never_frozen):
    assert_fails("3.3", "not frozen, so fit changed its weights", classifier=never_frozen)


def test_3_3_no_head_is_not_called_a_frozen_classifier():
    failure = assert_fails("3.3", "no new head", classifier=_nested_without_head())
    assert "whole classifier is frozen" not in failure.message()


def test_3_3_the_reference_is_rebuilt_never_taken_from_the_answer():
    """Handing in a changed encoder with 'matching' numbers cannot help: the check rebuilds given_encoder()."""
    import inspect

    from coursetools.lessons.lesson03 import checks as lesson03

    assert tuple(inspect.signature(lesson03.nest_encoder).parameters) == ("classifier",)
    assert "given_encoder()" in inspect.getsource(lesson03.nest_encoder)


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


def _hidden_concatenated_then_cropped():
    """Keeps Dense(8) 'connected' but crops its values away again: the scores still see only the readings."""
    inputs = keras.Input(shape=(20,), name="readings")
    hidden = layers.Dense(8, activation="relu", name="hidden")(inputs)
    both = layers.Concatenate()([inputs, hidden])
    cropped = layers.Reshape((20,))(layers.Cropping1D((0, 8))(layers.Reshape((28, 1))(both)))
    return keras.Model(inputs, layers.Dense(3, name="scores")(cropped))


def _scores_on_eight_readings():
    """The scores layer gets 8 values, as it should, but they are 8 of the readings: the hidden values are cropped away."""
    inputs = keras.Input(shape=(20,), name="readings")
    hidden = layers.Dense(8, activation="relu", name="hidden")(inputs)
    eight = layers.Reshape((8,))(layers.Cropping1D((0, 12))(layers.Reshape((20, 1))(inputs)))
    both = layers.Concatenate()([eight, hidden])
    kept = layers.Reshape((8,))(layers.Cropping1D((0, 8))(layers.Reshape((16, 1))(both)))
    return keras.Model(inputs, layers.Dense(3, name="scores")(kept))


def _separate_relu():
    inputs = keras.Input(shape=(20,))
    hidden = layers.ReLU()(layers.Dense(8)(inputs))
    return keras.Model(inputs, layers.Dense(3)(hidden))


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
        _separate_relu,
    ],
    ids=["solution", "layers-Input", "kept-the-other-input", "list-output", "separate-relu"],
)
def test_3_4_accepts(make):
    assert_passes("3.4", sensor_model=make())


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: sensor(skip_hidden=True), "hidden layer is not part"),
        (_hidden_concatenated_then_cropped, "receives 20 values per sample"),
        (_scores_on_eight_readings, "do not come from the hidden layer"),
        (lambda: sensor(out_act="softmax"), "changed the activations"),
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
    ids=["hidden-dropped", "concatenated-then-cropped", "eight-readings", "softmax-on-scores", "both-inputs", "no-relu", "relu-on-scores", "units", "width", "sequential", "subclassed", "keras-tensor", "layer", "none", "function"],
)
def test_3_4_rejects(make, phrase):
    assert_fails("3.4", phrase, sensor_model=make())


def test_3_4_placeholder_says_not_done():
    assert_fails("3.4", "not done yet", sensor_model=not_done("3.4"))


# --- 3.5 predict, then run: shapes and layers of a small graph -------------------------------

PREDICTED = {"rows": (None, 8, 4), "flat": (None, 32), "scores": (None, 10), "n_layers": 4}


def predicted(**changes):
    return {**PREDICTED, **changes}


def test_3_5_the_answers_are_what_keras_says():
    images = keras.Input(shape=(8, 8))
    rows = layers.Dense(4, activation="relu")(images)
    flat = layers.Flatten()(rows)
    scores = layers.Dense(10, activation="softmax")(flat)
    model = keras.Model(images, scores)
    ran = {"rows": rows.shape, "flat": flat.shape, "scores": scores.shape, "n_layers": len(model.layers)}
    assert ran == PREDICTED
    assert_passes("3.5", predicted=ran)


@pytest.mark.parametrize(
    "answer",
    [
        PREDICTED,
        predicted(rows=[None, 8, 4], flat=[None, 32], scores=[None, 10]),
        predicted(n_layers=np.int64(4)),
        predicted(rows=(None, np.int64(8), 4)),
    ],
    ids=["tuples", "lists", "numpy-int", "numpy-int-in-shape"],
)
def test_3_5_accepts(answer):
    assert_passes("3.5", predicted=answer)


@pytest.mark.parametrize(
    "answer, phrase",
    [
        (predicted(rows=(None, 4)), "last axis only"),
        (predicted(rows=(8, 4)), "batch axis"),
        (predicted(rows=(None, 8, 8, 4)), "`rows`"),
        (predicted(flat=(None, 64)), "8 × 4"),
        (predicted(flat=(None, 4)), "`flat`"),
        (predicted(scores=(None, 8, 10)), "`scores`"),
        (predicted(n_layers=3), "InputLayer"),
        (predicted(n_layers=5), "`n_layers`"),
        (predicted(n_layers=4.0), "float"),
        (predicted(rows="(None, 8, 4)"), "a tuple"),
        ({k: v for k, v in PREDICTED.items() if k != "flat"}, "'flat' is missing"),
        ([(None, 8, 4), (None, 32), (None, 10), 4], "a dict"),
        (None, "None"),
    ],
    ids=["rows-flattened", "rows-no-batch", "rows-extra-axis", "flat-of-pixels", "flat-other", "scores",
         "no-input-layer", "layers-other", "layers-float", "string-shape", "missing-key", "list", "none"],
)
def test_3_5_rejects(answer, phrase):
    assert_fails("3.5", phrase, predicted=answer)


@pytest.mark.parametrize(
    "answer, phrase",
    [
        (predicted(rows=(1, 8, 4)), "the batch axis of a symbolic tensor is None"),
        (predicted(flat=(32, 32)), "the batch axis of a symbolic tensor is None"),
        (predicted(scores=(64, 10)), "the batch axis of a symbolic tensor is None"),
    ],
    ids=["rows-batch-one", "flat-batch-32", "scores-batch-64"],
)
def test_3_5_a_number_for_the_batch_axis_is_told_it_is_none(answer, phrase):
    """Issue 15: (1, 8, 4) for (None, 8, 4) got only the generic hint."""
    failure = assert_fails("3.5", phrase, predicted=answer)
    assert "one line at a time" not in failure.message()


def test_3_5_statement_names_the_keys_the_check_requires():
    """Issue 15: the text never named the dict keys ("rows", "flat", "scores") the check requires."""
    import nbformat

    from coursetools.lessons.lesson03.checks import PREDICT_KEYS

    nb = nbformat.read(ROOT / "solutions" / "03_solutions_functional.ipynb", as_version=4)
    statement = next(c.source for c in nb.cells if c.cell_type == "markdown" and "Exercise 3.5" in c.source)
    for key in [*PREDICT_KEYS, "n_layers"]:
        assert f'`"{key}"`' in statement, key


def test_3_5_placeholder_says_not_done():
    assert_fails("3.5", "not done yet", predicted=not_done("3.5"))
