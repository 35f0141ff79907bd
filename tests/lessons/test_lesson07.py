"""Lesson 7 checks: correct answers written differently pass; typical mistakes are named.

Exercises 7.1 and 7.2 are judged from a report the course's code makes in the learner's
kernel (coursetools.lessons.lesson07.tools); the tests make that report exactly as the check cell
does, then send it through the grader's round trip like every other evidence.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import keras
from keras import layers, ops

from check_helpers import assert_fails, assert_passes
from coursetools.lessons.lesson07.given import digit_stats, given_two_input_skip, given_weights_source
from coursetools.lessons.lesson07.tools import (
    layer_report,
    model_report,
    old_style_data,
    port_report,
    two_way_probe,
    write_weights_file,
)
from coursetools.probing import useful_line
from coursetools.placeholders import not_done

register = keras.saving.register_keras_serializable


# --- the given models ------------------------------------------------------------------------


def test_given_models_are_the_same_every_time():
    for make in (given_two_input_skip, given_weights_source):
        a, b = make(), make()
        assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_given_models_have_the_structure_the_notebook_describes():
    given = given_two_input_skip()
    assert [tuple(t.shape) for t in given.inputs] == [(None, 64), (None, 4)]
    assert [w.shape for w in given.get_weights()] == [(64, 24), (24,), (28, 24), (24,), (24, 10), (10,)]
    original = given_weights_source()
    assert [type(layer).__name__ for layer in original.layers] == ["InputLayer", "Dense", "Dense", "Add", "Dropout", "Dense"]


def test_digit_stats_are_four_numbers_in_range():
    pixels, stats = two_way_probe()
    assert pixels.shape == (24, 64) and stats.shape == (24, 4)
    assert np.allclose(stats[:16], digit_stats(pixels[:16]))
    assert stats.min() >= 0 and stats.max() <= 1


def test_useful_line_finds_the_sentence_that_names_the_problem():
    wrapped = TypeError("<class 'Functional'> could not be deserialized properly.\n\nconfig={...}\n\n"
                        "Exception encountered: Could not locate class 'Scale'. Make sure custom classes are "
                        "decorated. Full object config: {'module': None}")
    line = useful_line(wrapped)
    assert line.startswith("TypeError: Could not locate class 'Scale'. Make sure") and "Full object" not in line
    assert useful_line(ValueError("first\nsecond")) == "ValueError: first"


# --- 7.1 a custom layer -------------------------------------------------------------------------


@register(package="test_l7")
class FeatureScale(layers.Layer):
    """The solution: weights in build, explicit get_config."""

    def __init__(self, initial_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_scale = initial_scale

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), name="scale",
                                     initializer=keras.initializers.Constant(self.initial_scale))
        self.offset = self.add_weight(shape=(input_shape[-1],), name="offset", initializer="zeros")

    def call(self, inputs):
        return inputs * self.scale + self.offset

    def get_config(self):
        return {**super().get_config(), "initial_scale": self.initial_scale}


@register(package="test_l7")
class AutoConfig(layers.Layer):
    """No get_config: Keras 3 records plain constructor arguments itself."""

    def __init__(self, initial_scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_scale = initial_scale

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer=keras.initializers.Constant(self.initial_scale))
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer="zeros")

    def call(self, inputs):
        return inputs * self.scale + self.offset


@register(package="test_l7")
class OffsetFirstWithOps(layers.Layer):
    """Weights created in the other order, maths with keras.ops, scale set by assign."""

    def __init__(self, initial_scale=1.0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.initial_scale = float(initial_scale)

    def build(self, input_shape):
        width = input_shape[-1]
        self.shift = self.add_weight(shape=(width,), initializer="zeros")
        self.gain = self.add_weight(shape=(width,), initializer="ones")
        self.gain.assign(ops.full((width,), self.initial_scale))

    def call(self, x):
        return ops.add(ops.multiply(x, self.gain), self.shift)

    def get_config(self):
        config = super().get_config()
        config.update(initial_scale=self.initial_scale)
        return config


@register(package="test_l7", name="CustomName")
class Renamed(AutoConfig):
    """Registered under a name of its own choosing."""


@pytest.mark.parametrize(
    "candidate",
    [FeatureScale, AutoConfig, OffsetFirstWithOps, Renamed, FeatureScale(initial_scale=2.0)],
    ids=["solution", "auto-config", "offset-first-ops", "registered-name", "an-instance"],
)
def test_7_1_accepts(candidate):
    assert_passes("7.1", report=layer_report(candidate))


def _variant(base=AutoConfig, register_it=True, **methods):
    """A registered subclass of ``base`` with some methods replaced (a typical mistake each)."""
    _variant.count += 1
    cls = type(f"Variant{_variant.count}", (base,), dict(methods))
    return register(package="test_l7_variants")(cls) if register_it else cls


_variant.count = 0


def _build_with(scale_shape=None, offset_shape=None, trainable=True, scale_init=None):
    def build(self, input_shape):
        width = input_shape[-1]
        init = scale_init or keras.initializers.Constant(self.initial_scale)
        self.scale = self.add_weight(shape=(width,) if scale_shape is None else scale_shape, initializer=init,
                                     trainable=trainable)
        self.offset = self.add_weight(shape=(width,) if offset_shape is None else offset_shape, initializer="zeros")
    return build


def _no_super_init(self, initial_scale=1.0, **kwargs):
    self.initial_scale = initial_scale


def _weights_in_init(self, initial_scale=1.0, **kwargs):
    layers.Layer.__init__(self, **kwargs)
    self.initial_scale = initial_scale
    self.scale = self.add_weight(shape=(64,), initializer=keras.initializers.Constant(initial_scale))
    self.offset = self.add_weight(shape=(64,), initializer="zeros")


def _no_kwargs(self, initial_scale=1.0):
    layers.Layer.__init__(self)
    self.initial_scale = initial_scale


def _required_scale(self, initial_scale, **kwargs):
    layers.Layer.__init__(self, **kwargs)
    self.initial_scale = initial_scale


def _default_half(self, initial_scale=0.5, **kwargs):
    layers.Layer.__init__(self, **kwargs)
    self.initial_scale = initial_scale


def _constants_only(self, inputs):
    return inputs * self.initial_scale


class NotALayer:
    pass


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: _variant(__init__=_no_super_init), "forgot to call `super().__init__()`"),
        (lambda: _variant(__init__=_weights_in_init, build=lambda self, shape: None),
         "not in __init__"),
        (lambda: _variant(build=_build_with(scale_shape=(), offset_shape=())), "one scale and one offset per feature"),
        (lambda: _variant(build=_build_with(scale_shape=(1,), offset_shape=(1,))), "one scale and one offset per feature"),
        (lambda: _variant(build=lambda self, shape: None, call=_constants_only), "has no weights"),
        (lambda: _variant(build=_build_with(trainable=False)), "not trainable"),
        (lambda: _variant(build=_build_with(scale_init="ones")), "scale started at 1, not 0.5"),
        (lambda: _variant(build=_build_with(scale_init="glorot_uniform")), "does not start as inputs * 0.5"),
        (lambda: _variant(call=lambda self, x: x * self.scale), "the offset is not added"),
        (lambda: _variant(call=lambda self, x: x * self.initial_scale + self.offset), "does not compute inputs * scale + offset"),
        (lambda: _variant(call=lambda self, x: ops.sum(x * self.scale, axis=-1, keepdims=True)), "changes the shape"),
        (lambda: _variant(__init__=_required_scale), "give initial_scale a default"),
        (lambda: _variant(__init__=_default_half), "does not start as the identity"),
        (lambda: _variant(__init__=_no_kwargs), "accept **kwargs"),
        (lambda: _variant(get_config=lambda self: layers.Layer.get_config(self)), "forgets initial_scale"),
        (lambda: _variant(register_it=False), "register_keras_serializable"),
        (lambda: layers.BatchNormalization, "built-in Keras class"),
        (lambda: keras.Model, "not a layer"),
        (lambda: NotALayer, "not a layer"),
        (lambda: None, "None"),
        (lambda: (lambda x: x), "a function"),
        (lambda: "FeatureScale", "str"),
    ],
    ids=[
        "no-super-init", "weights-in-init", "scalar-weights", "one-number-weights", "no-weights", "not-trainable",
        "ignores-initial-scale", "random-scale", "no-offset", "constant-scale", "changes-shape", "required-arg",
        "wrong-default", "no-kwargs", "config-drops-scale", "not-registered", "builtin", "model-class",
        "plain-class", "none", "function", "string",
    ],
)
def test_7_1_rejects(make, phrase):
    assert_fails("7.1", phrase, report=layer_report(make()))


def test_7_1_placeholder_says_not_done():
    assert_fails("7.1", "not done yet", report=layer_report(not_done("7.1")))


# --- 7.2 a subclassed model equal to the given functional one --------------------------------


class TwoWay(keras.Model):
    """The solution: own layers, given's weights copied in."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encode = layers.Dense(24, activation="relu")
        self.join = layers.Concatenate()
        self.refine = layers.Dense(24, activation="relu")
        self.skip = layers.Add()
        self.digit = layers.Dense(10, activation="softmax")

    def call(self, inputs):
        pixels, stats = inputs
        h = self.encode(pixels)
        g = self.refine(self.join([h, stats]))
        return self.digit(self.skip([h, g]))


# Mistaken variants leave a layer of TwoWay unused (no skip, a layer replaced), and Keras warns on
# their first call that the model "has unbuilt state": true, and what the variant is about.
pytestmark = pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer:UserWarning")

def built(model):
    pixels, stats = two_way_probe()
    model([pixels[:2], stats[:2]])
    return model


def copied(model, given=None):
    given = given or given_two_input_skip()
    for name in ("encode", "refine", "digit"):
        getattr(model, name).set_weights(given.get_layer(name).get_weights())
    return model


class HeadFirstSeparateActivations(keras.Model):
    """Layers created in another order, activations as layers, ops for the merges, training argument."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.digit = layers.Dense(10)
        self.refine = layers.Dense(24)
        self.encode = layers.Dense(24)
        self.relu = layers.ReLU()
        self.softmax = layers.Softmax()

    def call(self, inputs, training=False):
        h = self.relu(self.encode(inputs[0]))
        g = self.relu(self.refine(ops.concatenate([h, inputs[1]], axis=-1)))
        return self.softmax(self.digit(h + g))


class SequentialHead(keras.Model):
    """A Sequential sub-block for the last step only: still its own layers."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encode = layers.Dense(24, activation="relu")
        self.refine = layers.Dense(24, activation="relu")
        self.head = keras.Sequential([layers.Dense(10, activation="softmax")])

    def call(self, inputs):
        h = self.encode(inputs[0])
        return self.head(h + self.refine(layers.concatenate([h, inputs[1]])))


class StatsFirst(TwoWay):
    """Joins [stats, h]: equal to given only if refine's kernel rows are reordered to match."""

    def call(self, inputs):
        pixels, stats = inputs
        h = self.encode(pixels)
        return self.digit(h + self.refine(self.join([stats, h])))


def _stats_first_reordered():
    model = copied(built(StatsFirst()))
    kernel, bias = given_two_input_skip().get_layer("refine").get_weights()
    model.refine.set_weights([np.concatenate([kernel[24:], kernel[:24]]), bias])
    return model


class SharesGivensLayers(keras.Model):
    """Reuses the given model's layer objects: the same function, layers shared not copied."""

    def __init__(self, given, **kwargs):
        super().__init__(**kwargs)
        self.encode, self.refine, self.digit = (given.get_layer(n) for n in ("encode", "refine", "digit"))

    def call(self, inputs):
        h = self.encode(inputs[0])
        return self.digit(h + self.refine(ops.concatenate([h, inputs[1]], axis=-1)))


def _head_first():
    model = built(HeadFirstSeparateActivations())
    return copied(model)


@pytest.mark.parametrize(
    "make",
    [
        lambda: copied(built(TwoWay())),
        lambda: _set_all(built(TwoWay())),
        _head_first,
        lambda: _sequential_head(),
        _stats_first_reordered,
        lambda: built(SharesGivensLayers(given_two_input_skip())),
    ],
    ids=["solution", "set-weights-all-at-once", "head-first-separate-activations", "sequential-head",
         "stats-first-reordered", "shares-given-layers"],
)
def test_7_2_accepts(make):
    assert_passes("7.2", report=model_report(make()))


def _set_all(model):
    model.set_weights(given_two_input_skip().get_weights())
    return model


def _sequential_head():
    given = given_two_input_skip()
    model = built(SequentialHead())
    model.encode.set_weights(given.get_layer("encode").get_weights())
    model.refine.set_weights(given.get_layer("refine").get_weights())
    model.head.layers[0].set_weights(given.get_layer("digit").get_weights())
    return model


def test_7_2_report_leaves_the_weights_as_they_were():
    model = copied(built(TwoWay()))
    before = model.get_weights()
    model_report(model)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


class HoldsGiven(keras.Model):
    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, inputs):
        return self.inner(inputs)


class FunctionalInside(keras.Model):
    """Builds a functional copy in __init__ and calls it: delegation in disguise."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        pixels, stats = keras.Input((64,)), keras.Input((4,))
        h = layers.Dense(24, activation="relu")(pixels)
        g = layers.Dense(24, activation="relu")(layers.Concatenate()([h, stats]))
        self.graph = keras.Model([pixels, stats], layers.Dense(10, activation="softmax")(h + g))

    def call(self, inputs):
        return self.graph(inputs)


_GLOBAL_GIVEN = given_two_input_skip()


class CallsAGlobal(keras.Model):
    def call(self, inputs):
        return _GLOBAL_GIVEN(inputs)


def _variant_model(call, **overrides):
    cls = type("Variant", (TwoWay,), {"call": call})
    model = built(cls())
    copied(model)
    for name, layer in overrides.items():
        setattr(model, name, layer)
    return model


def _no_skip(self, inputs):
    h = self.encode(inputs[0])
    return self.digit(self.refine(self.join([h, inputs[1]])))


def _stats_first(self, inputs):
    h = self.encode(inputs[0])
    return self.digit(h + self.refine(self.join([inputs[1], h])))


def _with_layers(copy=True, **replacements):
    """TwoWay with some of its layers made differently (each a typical mistake)."""

    class Variant(TwoWay):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            for name, make in replacements.items():
                setattr(self, name, make())

    model = built(Variant())
    return copied(model) if copy else model


class DictInputs(TwoWay):
    def call(self, inputs):
        h = self.encode(inputs["pixels"])
        return self.digit(h + self.refine(self.join([h, inputs["stats"]])))


def _dict_inputs():
    model = DictInputs()
    pixels, stats = two_way_probe()
    model({"pixels": pixels[:2], "stats": stats[:2]})
    return model


@pytest.mark.parametrize(
    "make, phrase",
    [
        (given_two_input_skip, "Functional model"),
        (lambda: keras.Sequential([keras.Input((64,)), layers.Dense(10)]), "Sequential model"),
        (lambda: built(HoldsGiven(given_two_input_skip())), "hands its work to a whole model"),
        (lambda: built(FunctionalInside()), "hands its work to a whole model"),
        (lambda: built(CallsAGlobal()), "no weights of its own"),
        (lambda: TwoWay(), "never been built"),
        (lambda: _variant_model(_no_skip), "skip connection is missing"),
        (lambda: _with_layers(refine=lambda: layers.Dense(24)), "refine layer has no ReLU"),
        (lambda: _with_layers(digit=lambda: layers.Dense(10)), "no softmax"),
        (lambda: _with_layers(copy=False, encode=lambda: layers.Dense(32, activation="relu"),
                              refine=lambda: layers.Dense(32, activation="relu")), "do not have the sizes"),
        (lambda: built(TwoWay()), "not with given's weights"),
        (lambda: _set_all(built(StatsFirst())), "other order"),
        (_dict_inputs, "calling the model as model([pixels, stats])"),
        (lambda: TwoWay, "the class TwoWay itself"),
        (lambda: None, "None"),
        (lambda: layers.Dense(3), "Dense layer"),
    ],
    ids=[
        "functional", "sequential", "holds-given", "functional-inside", "calls-a-global", "unbuilt", "no-skip",
        "linear-refine", "no-softmax", "wider", "weights-not-copied", "stats-first", "dict-inputs", "class",
        "none", "layer",
    ],
)
def test_7_2_rejects(make, phrase):
    assert_fails("7.2", phrase, report=model_report(make()))


def test_7_2_placeholder_says_not_done():
    assert_fails("7.2", "not done yet", report=model_report(not_done("7.2")))


# --- 7.3 load a weights file into the right architecture -----------------------------------


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    return write_weights_file(str(tmp_path_factory.mktemp("l7") / "original.weights.h5"))


def _skip_model(*, dropout=True, merge="Add", act="relu"):
    pixels = keras.layers.Input(shape=(64,))
    first = layers.Dense(20, activation=act)(pixels)
    second = layers.Dense(20, activation="relu")(first)
    skip = layers.Add()([first, second]) if merge == "Add" else layers.add([second, first])
    if dropout:
        skip = layers.Dropout(0.5)(skip)
    return keras.Model(pixels, layers.Dense(10, activation="softmax")(skip))


def loaded(model, path):
    model.load_weights(path)
    return model


@pytest.mark.parametrize(
    "make",
    [lambda: _skip_model(), lambda: _skip_model(dropout=False), lambda: _skip_model(merge="add")],
    ids=["solution", "no-dropout", "add-function-swapped"],
)
def test_7_3_accepts(make, weights_file):
    assert_passes("7.3", restored=loaded(make(), weights_file))


def _chain():
    return keras.Sequential([keras.Input((64,)), layers.Dense(20, activation="relu"), layers.Dense(20, activation="relu"),
                             layers.Dense(10, activation="softmax")])


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first, self.second = layers.Dense(20, activation="relu"), layers.Dense(20, activation="relu")
        self.digit = layers.Dense(10, activation="softmax")

    def call(self, x):
        first = self.first(x)
        return self.digit(first + self.second(first))


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda path: loaded(_chain(), path), "nothing adds `first` to `second`"),
        (lambda path: loaded(_skip_model(act="tanh"), path), "activations"),
        (lambda path: _skip_model(), "does not hold the weights stored in the file"),
        (lambda path: keras.Sequential([keras.Input((32,)), layers.Dense(10)]), "wrong inputs"),
        (lambda path: loaded(built_subclassed(), path), "not built with the functional API or Sequential"),
        (lambda path: None, "None"),
        (lambda path: path, "str"),
    ],
    ids=["chain", "tanh", "not-loaded", "wrong-input", "subclassed", "none", "path"],
)
def test_7_3_rejects(make, phrase, weights_file):
    assert_fails("7.3", phrase, restored=make(weights_file))


def built_subclassed():
    model = Subclassed()
    model(np.zeros((1, 64), "float32"))
    return model


def test_7_3_placeholder_says_not_done():
    assert_fails("7.3", "not done yet", restored=not_done("7.3"))


# --- 7.4 port old tf.keras code ------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    rows, labels = old_style_data()
    return np.array(rows, dtype="float32"), np.array(labels)


def _ported(center="ops", axis=-1, optimizer=None, loss="sparse_categorical_crossentropy", train=True, data=None,
            hidden=32):
    pixels = keras.Input(shape=(64,))
    h = layers.Dense(hidden, activation="relu")(pixels)
    if center == "ops":
        h = h - ops.mean(h, axis=axis, keepdims=True)
    elif center == "subtract":
        h = layers.Subtract()([h, ops.mean(h, axis=1, keepdims=True)])
    elif center == "lambda":
        h = layers.Lambda(lambda t: t - ops.mean(t, axis=-1, keepdims=True))(h)
    model = keras.Model(pixels, layers.Dense(10, activation="softmax")(h))
    if optimizer != "none":
        model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate=0.005), loss=loss, metrics=["accuracy"])
        if train:
            model.fit(*data, epochs=1, batch_size=32, verbose=0)
    return model


_PREDICT = object()


def _evidence(model, data, *, save=True, digits=_PREDICT):
    """The check cell's evidence, made in the working folder as the notebook does."""
    path = "digits_model.keras"
    if save:
        model.save(path)
    if digits is _PREDICT:
        digits = model.predict(data[0][:5], verbose=0).argmax(axis=1)
    return {"ported": model, "predicted_digits": digits, "training": port_report(model, path)}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "options",
    [{}, {"axis": 1}, {"center": "subtract"}, {"loss": keras.losses.SparseCategoricalCrossentropy()},
     {"optimizer": "adam_string_lr"}],
    ids=["solution", "axis-1", "subtract-layer", "loss-object", "adam-with-learning-rate"],
)
def test_7_4_accepts(options, data, workdir):
    if options.get("optimizer") == "adam_string_lr":
        options = {"optimizer": keras.optimizers.Adam(0.005)}
    model = _ported(data=data, **options)
    evidence = _evidence(model, data)
    assert_passes("7.4", **evidence)
    evidence["predicted_digits"] = [int(d) for d in evidence["predicted_digits"]]
    assert_passes("7.4", **evidence)


def test_7_4_accepts_numpy_integer_digits(data, workdir):
    model = _ported(data=data)
    evidence = _evidence(model, data)
    evidence["predicted_digits"] = list(evidence["predicted_digits"].astype("int64"))
    assert_passes("7.4", **evidence)


@pytest.mark.parametrize(
    "options, phrase",
    [
        ({"center": "lambda"}, "Lambda layer"),
        ({"center": None}, "leaves out the centering step"),
        ({"axis": 0}, "centers over the batch"),
        ({"hidden": 64}, "does not have the layers of the old code"),
        ({"optimizer": "none"}, "not compiled"),
        ({"optimizer": "sgd"}, "Adam with learning rate 0.005"),
        ({"optimizer": "adam"}, "learning rate 0.001"),
        ({"loss": "categorical_crossentropy", "train": False}, "another loss"),
        ({"train": False}, "has not been trained"),
    ],
    ids=["lambda", "no-centering", "batch-axis", "wider", "not-compiled", "sgd", "default-lr", "loss", "untrained"],
)
def test_7_4_rejects_the_model(options, phrase, data, workdir):
    model = _ported(data=data, **options)
    assert_fails("7.4", phrase, **_evidence(model, data))


def test_7_4_rejects_a_missing_or_stale_file(data, workdir):
    model = _ported(data=data)
    assert_fails("7.4", "there is no file 'digits_model.keras'", **_evidence(model, data, save=False))
    model.save("digits_model.keras")
    model.fit(*data, epochs=1, batch_size=32, verbose=0)  # trained again after saving
    assert_fails("7.4", "holds a different model", **_evidence(model, data, save=False))


def test_7_4_rejects_a_file_that_is_not_a_keras_model(data, workdir):
    model = _ported(data=data)
    (workdir / "digits_model.keras").write_text("not a zip file")
    assert_fails("7.4", "raised an error", **_evidence(model, data, save=False))


@pytest.mark.parametrize(
    "digits, phrase",
    [
        (lambda m, x: m.predict(x, verbose=0), "probabilities, not digits"),
        (lambda m, x: (m.predict(x, verbose=0).argmax(axis=1) + 1) % 10, "not the digits `ported` predicts"),
        (lambda m, x: m.predict(x[:3], verbose=0).argmax(axis=1), "shape (3,)"),
        (lambda m, x: None, "None"),
    ],
    ids=["probabilities", "other-digits", "three-digits", "none"],
)
def test_7_4_rejects_predicted_digits(digits, phrase, data, workdir):
    model = _ported(data=data)
    evidence = _evidence(model, data, digits=digits(model, data[0][:5]))
    assert_fails("7.4", phrase, **evidence)


def test_7_4_digits_that_are_not_numbers_get_this_exercise_s_hint(data, workdir):
    model = _ported(data=data)
    failure = assert_fails("7.4", ".argmax(axis=1)", **_evidence(model, data, digits=None))
    assert "np.maximum" not in failure.message()


def test_7_4_placeholders_say_not_done(tmp_path):
    placeholder = not_done("7.4")
    assert_fails("7.4", "not done yet", ported=placeholder, predicted_digits=placeholder,
                 training=port_report(placeholder, str(tmp_path / "digits_model.keras")))


# --- 7.5 choose an API -------------------------------------------------------------------------

RIGHT = {"a": "sequential", "b": "functional", "c": "functional", "d": "functional", "e": "subclass",
         "f": "functional", "g": "subclass", "h": "functional"}


@pytest.mark.parametrize(
    "choices",
    [
        RIGHT,
        {k: v.capitalize() for k, v in RIGHT.items()},
        {k: {"sequential": "keras.Sequential", "functional": "the functional API",
             "subclass": "subclassing keras.Model"}[v] for k, v in RIGHT.items()},
    ],
    ids=["exact", "capitalised", "phrases"],
)
def test_7_5_accepts(choices):
    assert_passes("7.5", choices=choices)


@pytest.mark.parametrize(
    "choices, phrase",
    [
        ({**RIGHT, "a": "functional"}, "a (functional): a straight stack"),
        ({**RIGHT, "e": "functional", "h": "subclass"}, "2 of 8 choices"),
        ({**RIGHT, "h": "subclass"}, "keras.ops on the tensors"),
        ({k: v for k, v in RIGHT.items() if k != "g"}, "missing ['g']"),
        ({**RIGHT, "i": "functional"}, "unknown keys ['i']"),
        ({**RIGHT, "b": "graph"}, "not one of the three APIs"),
        ({**RIGHT, "b": "functional or subclass"}, "not one of the three APIs"),
        ({**RIGHT, "c": 2}, "not one of the three APIs"),
        (list(RIGHT.values()), "not a dict"),
        (None, "None"),
    ],
    ids=["a-functional", "two-wrong", "ops-subclass", "missing", "extra", "unknown-word", "two-words", "number",
         "list", "none"],
)
def test_7_5_rejects(choices, phrase):
    assert_fails("7.5", phrase, choices=choices)


def test_7_5_placeholder_says_not_done():
    assert_fails("7.5", "not done yet", choices=not_done("7.5"))
