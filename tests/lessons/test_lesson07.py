"""Lesson 7 checks: correct answers written differently pass; typical mistakes are named.

Exercises 7.1 and 7.2 are judged from a report the course's reporters
(coursetools.lessons.lesson07.tools) make on the learner's class; here they make it in this
process (tests/lessons/conftest.py), then it goes through the grader's round trip like every
other evidence. Running the answer's definitions in a fresh process, as the check cell and the
grader do, is tested in tests/test_class_runner.py and by grading the solutions.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import layers, ops

from check_helpers import assert_fails, assert_passes
from coursetools.lessons.lesson07.checks import FIT_ANSWERS
from coursetools.lessons.lesson07.given import FIT_SNIPPETS, digit_stats, given_two_input_skip
from coursetools.lessons.lesson07.tools import two_way_probe
from coursetools.probing import useful_line
from coursetools.placeholders import not_done

register = keras.saving.register_keras_serializable


# --- the given models ------------------------------------------------------------------------


def test_given_models_are_the_same_every_time():
    a, b = given_two_input_skip(), given_two_input_skip()
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_given_models_have_the_structure_the_notebook_describes():
    given = given_two_input_skip()
    assert [tuple(t.shape) for t in given.inputs] == [(None, 64), (None, 4)]
    assert [w.shape for w in given.get_weights()] == [(64, 24), (24,), (28, 24), (24,), (24, 10), (10,)]


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
    [FeatureScale, AutoConfig, OffsetFirstWithOps, Renamed],
    ids=["solution", "auto-config", "offset-first-ops", "registered-name"],
)
def test_7_1_accepts(candidate):
    assert_passes("7.1", FeatureScale=candidate)


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
    assert_fails("7.1", phrase, FeatureScale=make())


def test_7_1_an_instance_is_told_to_keep_the_class():
    assert_fails("7.1", "not an instance of it", FeatureScale=FeatureScale(initial_scale=2.0))


def test_7_1_placeholder_says_not_done():
    assert_fails("7.1", "not done yet", FeatureScale=not_done("7.1"))


# --- 7.2 a subclassed model equal to the given functional one --------------------------------


class TwoWay(keras.Model):
    """The solution: own layers, the given graph in call."""

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


class WithDefaultArgument(TwoWay):
    """An __init__ argument with a default: the check creates TwoWay() with none."""

    def __init__(self, units=24, **kwargs):
        super().__init__(**kwargs)
        self.encode = layers.Dense(units, activation="relu")


@pytest.mark.parametrize(
    "make",
    [lambda: TwoWay, lambda: HeadFirstSeparateActivations, lambda: SequentialHead, lambda: WithDefaultArgument],
    ids=["solution", "head-first-separate-activations", "sequential-head", "default-argument"],
)
def test_7_2_accepts(make):
    assert_passes("7.2", TwoWay=make())


def test_7_2_the_report_makes_its_own_instance():
    """The class is judged, not an instance the learner prepared: TwoWay() is created by the reporter."""
    from coursetools.lessons.lesson07.tools import make_model_reporter

    created = []

    class Counting(TwoWay):
        def __init__(self, **kwargs):
            created.append(kwargs)
            super().__init__(**kwargs)

    report = make_model_reporter()(Counting)
    assert created == [{}] and report["report"] == "model" and "probe_outputs" in report


class StatsFirst(TwoWay):
    """Joins [stats, h]: given's weights for refine would meet the wrong numbers."""

    def call(self, inputs):
        pixels, stats = inputs
        h = self.encode(pixels)
        return self.digit(h + self.refine(self.join([stats, h])))


class TakesGiven(keras.Model):
    """Wants given's layer objects passed in: the check creates TwoWay() with no arguments."""

    def __init__(self, given, **kwargs):
        super().__init__(**kwargs)
        self.encode, self.refine, self.digit = (given.get_layer(n) for n in ("encode", "refine", "digit"))

    def call(self, inputs):
        h = self.encode(inputs[0])
        return self.digit(h + self.refine(ops.concatenate([h, inputs[1]], axis=-1)))


class BuildsGivensLayers(keras.Model):
    """Takes the layers of a fresh copy of `given`: the same weights, not layers of its own."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        given = given_two_input_skip()
        self.encode, self.refine, self.digit = (given.get_layer(n) for n in ("encode", "refine", "digit"))

    def call(self, inputs):
        h = self.encode(inputs[0])
        return self.digit(h + self.refine(ops.concatenate([h, inputs[1]], axis=-1)))


class HoldsGiven(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = given_two_input_skip()

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


def _variant_class(call):
    return type("Variant", (TwoWay,), {"call": call})


def _no_skip(self, inputs):
    h = self.encode(inputs[0])
    return self.digit(self.refine(self.join([h, inputs[1]])))


def _with_layers(**replacements):
    """TwoWay with some of its layers made differently (each a typical mistake)."""

    class Variant(TwoWay):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            for name, make in replacements.items():
                setattr(self, name, make())

    return Variant


class DictInputs(TwoWay):
    def call(self, inputs):
        h = self.encode(inputs["pixels"])
        return self.digit(h + self.refine(self.join([h, inputs["stats"]])))


class AFeatureLayer(layers.Layer):
    def call(self, inputs):
        return inputs


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: keras.Model, "Keras' own Model"),
        (lambda: keras.Sequential, "Keras' own Sequential"),
        (lambda: AFeatureLayer, "not a model"),
        (lambda: HoldsGiven, "hands its work to a whole model"),
        (lambda: FunctionalInside, "hands its work to a whole model"),
        (lambda: BuildsGivensLayers, "starts with given's own weights"),
        (lambda: TakesGiven, "creates your class with no arguments"),
        (lambda: CallsAGlobal, "no weights of its own"),
        (lambda: _variant_class(_no_skip), "skip connection is missing"),
        (lambda: _with_layers(refine=lambda: layers.Dense(24)), "refine layer has no ReLU"),
        (lambda: _with_layers(digit=lambda: layers.Dense(10)), "no softmax"),
        (lambda: _with_layers(encode=lambda: layers.Dense(32, activation="relu"),
                              refine=lambda: layers.Dense(32, activation="relu")), "do not have the sizes"),
        (lambda: StatsFirst, "joins [stats, encoded pixels]"),
        (lambda: DictInputs, "calling the model as model([pixels, stats])"),
        (lambda: TwoWay(), "not an instance of it"),
        (lambda: None, "None"),
        (lambda: layers.Dense(3), "Dense layer"),
    ],
    ids=[
        "keras-model", "sequential", "a-layer-class", "holds-given", "functional-inside", "builds-givens-layers",
        "takes-given", "calls-a-global", "no-skip", "linear-refine", "no-softmax", "wider", "stats-first",
        "dict-inputs", "an-instance", "none", "layer",
    ],
)
def test_7_2_rejects(make, phrase):
    assert_fails("7.2", phrase, TwoWay=make())


def test_7_2_placeholder_says_not_done():
    assert_fails("7.2", "not done yet", TwoWay=not_done("7.2"))


# --- 7.3 will it run under fit? ----------------------------------------------------------------


class FitQuizModel(keras.Model):
    """The model every `call` of exercise 7.3 belongs to (the layers and setting the exercise names)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.refine = layers.Dense(64, activation="relu")
        self.classify = layers.Dense(10, activation="softmax")
        self.repeats = 3


def _quiz_model(key):
    namespace = {"keras": keras, "ops": ops}
    exec(FIT_SNIPPETS[key], namespace)  # the `call` exactly as the exercise shows it
    return type(f"Quiz_{key}", (FitQuizModel,), {"call": namespace["call"]})()


@pytest.fixture(scope="module")
def training_digits():
    from coursetools.data import load_digits_split

    (x_train, y_train), _ = load_digits_split()
    return x_train, y_train


@pytest.mark.parametrize("key", sorted(FIT_SNIPPETS))
def test_7_3_answer_key_is_what_fit_does(key, training_digits):
    """Every answer of the key is proved the way the exercise states the question.

    Each model is trained with model.fit(x_train, y_train, batch_size=32) on the 1,347
    training digits (the last batch holds 3), and an eager call always runs its `call`.
    """
    x, y = training_digits
    model = _quiz_model(key)
    assert model(x[:4]).shape == (4, 10)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    if FIT_ANSWERS[key][0] == "runs":
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    else:
        with pytest.raises(Exception) as raised:
            model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        expected = {"b": "OperatorNotAllowedInGraphError", "d": "TypeError", "f": "OperatorNotAllowedInGraphError"}[key]
        assert type(raised.value).__name__ == expected
        assert expected in FIT_ANSWERS[key][1]


def test_7_3_snippets_are_the_ones_the_exercise_shows():
    from pathlib import Path

    import nbformat

    solution = Path(__file__).resolve().parents[2] / "solutions" / "07_solutions_custom_layers_models.ipynb"
    text = "\n".join(c.source for c in nbformat.read(solution, as_version=4).cells if c.cell_type == "markdown")
    for key, snippet in FIT_SNIPPETS.items():
        assert snippet in text, f"snippet {key} differs from the exercise's"


RIGHT_FIT = {key: verdict for key, (verdict, _) in FIT_ANSWERS.items()}


@pytest.mark.parametrize(
    "answers",
    [
        RIGHT_FIT,
        {k: v.upper() for k, v in RIGHT_FIT.items()},
        {k: {"runs": "It runs.", "raises": " it raises "}[v] for k, v in RIGHT_FIT.items()},
        {k: {"runs": "works", "raises": "error"}[v] for k, v in RIGHT_FIT.items()},
    ],
    ids=["exact", "capitals", "phrases", "synonyms"],
)
def test_7_3_accepts(answers):
    assert_passes("7.3", answers=answers)


def _flipped(*keys):
    return {k: ({"runs": "raises", "raises": "runs"}[v] if k in keys else v) for k, v in RIGHT_FIT.items()}


@pytest.mark.parametrize(
    "answers, phrase",
    [
        (_flipped("a"), "training` is a plain Python True or False"),
        (_flipped("b"), "x is symbolic, with a shape but no values"),
        (_flipped("b"), "ops.cond"),
        (_flipped("c"), "self.repeats is a Python int"),
        (_flipped("d"), "x.shape[0] is None"),
        (_flipped("e"), "puts both branches into the traced graph"),
        (_flipped("f"), "ops.while_loop"),
        (_flipped("b", "d", "f"), "3 of 6 predictions"),
        ({k: "runs" for k in RIGHT_FIT}, "3 of 6 predictions"),
        ({k: v for k, v in RIGHT_FIT.items() if k != "c"}, "missing ['c']"),
        ({**RIGHT_FIT, "g": "runs"}, "unknown keys ['g']"),
        ({**RIGHT_FIT, "a": "maybe"}, "neither"),
        ({**RIGHT_FIT, "a": "runs, then raises"}, "neither"),
        ({**RIGHT_FIT, "a": "no error"}, "neither"),
        ({**RIGHT_FIT, "a": True}, "neither"),
        (list(RIGHT_FIT.values()), "not a dict"),
        (None, "None"),
    ],
    ids=["training-flag", "value-if", "value-if-fix", "config-loop", "batch-axis", "cond", "while", "three-wrong",
         "all-runs", "missing", "extra", "unknown-word", "both-words", "no-error", "bool", "list", "none"],
)
def test_7_3_rejects(answers, phrase):
    assert_fails("7.3", phrase, answers=answers)


def test_7_3_placeholder_says_not_done():
    assert_fails("7.3", "not done yet", answers=not_done("7.3"))
