"""Lesson 4 checks: correct answers written differently pass; typical mistakes are named.

Every assertion goes through the grader's round trip (models saved as .keras and
loaded in safe mode), like the learner's check cell and ``grade``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

import keras
from keras import layers

from check_helpers import assert_fails, assert_passes
from coursetools.lessons.lesson04.given import DEEP_PLAIN_LAYERS, given_deep_plain, given_residual_model
from coursetools.lessons.lesson04.tools import BLOCK_CASES, layer_gradients, probe_residual_blocks
from coursetools.placeholders import not_done

ROOT = Path(__file__).resolve().parents[2]


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(10, activation="softmax")

    def call(self, x):
        return self.dense(x)


def subclassed(width=64):
    model = Subclassed()
    model(np.zeros((1, width), "float32"))
    return model


def relu_layer():
    return layers.Activation("relu")


# --- 4.1 residual_block(x, filters) -----------------------------------------------------------


def block(*, project="when-needed", add="layer", final_relu=True, second_relu=False, first_relu=True,
          padding="same", projection_kind="conv", shortcut_relu=False, order="shortcut-first",
          use_bias=True, batch_norm=False, skip=True, convs=2, filters_override=None):
    """A residual_block function with one deliberate variation (or none)."""

    def residual_block(x, filters):
        filters = filters_override or filters
        needs = x.shape[-1] != filters
        shortcut = x
        if project == "always" or project == "when-needed" and needs:
            if projection_kind == "conv":
                shortcut = layers.Conv2D(filters, 1, use_bias=use_bias)(x)
            else:
                shortcut = layers.Dense(filters)(x)
            if shortcut_relu:
                shortcut = relu_layer()(shortcut)
        y = layers.Conv2D(filters, 3, padding=padding, activation="relu" if first_relu else None, use_bias=use_bias)(x)
        if batch_norm:
            y = layers.BatchNormalization()(y)
        if convs >= 2:
            y = layers.Conv2D(filters, 3, padding=padding, activation="relu" if second_relu else None,
                              use_bias=use_bias)(y)
        if not skip:
            return relu_layer()(y)
        pair = [shortcut, y] if order == "shortcut-first" else [y, shortcut]
        if add == "layer":
            out = layers.Add()(pair)
        elif add == "function":
            out = layers.add(pair)
        else:
            out = pair[0] + pair[1]
        if not final_relu:
            return out
        return keras.ops.relu(out) if add == "operator" else layers.ReLU()(out) if order != "shortcut-first" else relu_layer()(out)

    return residual_block


def separate_activation_block(x, filters):
    shortcut = x if x.shape[-1] == filters else layers.Conv2D(filters, (1, 1), padding="same")(x)
    y = layers.Conv2D(filters, (3, 3), padding="same")(x)
    y = layers.Activation("relu")(y)
    y = layers.Conv2D(filters, (3, 3), padding="same")(y)
    return layers.Activation("relu")(layers.Add()([y, shortcut]))


@pytest.mark.parametrize(
    "fn",
    [
        block(),
        block(add="function", order="branch-first"),
        block(add="operator"),
        block(projection_kind="dense"),
        block(use_bias=False),
        separate_activation_block,
    ],
    ids=["add-layer", "add-function-branch-first", "plus-operator", "dense-projection", "no-bias", "separate-activations"],
)
def test_4_1_accepts(fn):
    assert_passes("4.1", blocks=probe_residual_blocks(fn))


def returns_model(x, filters):
    return keras.Model(x, layers.Conv2D(filters, 3, padding="same")(x))


def own_input(x, filters):
    inner = keras.Input(shape=x.shape[1:])
    return block()(inner, filters)


def three_by_three_projection(x, filters):
    shortcut = x if x.shape[-1] == filters else layers.Conv2D(filters, 3, padding="same")(x)
    y = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(filters, 3, padding="same")(y)
    return layers.Activation("relu")(layers.Add()([shortcut, y]))


def returns_nothing(x, filters):
    layers.Conv2D(filters, 3, padding="same")(x)


@pytest.mark.parametrize(
    "fn, phrase",
    [
        (block(project="never"), "Add silently repeats a single channel"),
        (block(project="always"), "projects the shortcut although the widths already match"),
        (block(padding="valid"), 'padding="same"'),
        (block(final_relu=False), "not passed through ReLU"),
        (block(final_relu=False, second_relu=True), "ReLU is applied to the branch before the Add"),
        (block(second_relu=True), "second convolution has a ReLU"),
        (block(first_relu=False), "first convolution has no ReLU"),
        (block(shortcut_relu=True), "shortcut goes through a ReLU"),
        (block(skip=False), "no skip connection"),
        (block(convs=1), "1 3×3 convolution"),
        (block(batch_norm=True), "layers the block does not call for"),
        (three_by_three_projection, "projects the shortcut with a 3×3 convolution"),
        (block(filters_override=8), "returns 8 channels"),
        (returns_model, "not the output tensor"),
        (own_input, "do not create a keras.Input inside it"),
        (returns_nothing, "returned None"),
    ],
    ids=["never-project", "always-project", "no-padding", "no-final-relu", "relu-before-add", "relu-on-second",
         "no-inner-relu", "relu-on-shortcut", "no-skip", "one-conv", "batch-norm", "3x3-projection", "hard-coded-filters",
         "returns-model", "own-input", "returns-none"],
)
def test_4_1_rejects(fn, phrase):
    assert_fails("4.1", phrase, blocks=probe_residual_blocks(fn))


def test_4_1_names_the_width_that_fails():
    """An always-identity block raises on 16 -> 8; the message says which case and why."""

    def identity_unless_one(x, filters):
        y = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        shortcut = layers.Conv2D(filters, 1)(x) if x.shape[-1] == 1 else x
        return layers.Activation("relu")(layers.Add()([shortcut, y]))

    failure = assert_fails("4.1", "16 channels", blocks=probe_residual_blocks(identity_unless_one))
    assert "Inputs have incompatible shapes" in failure.message()
    assert "layers.Conv2D(filters, 1)(x)" in failure.message()


def test_4_1_a_block_that_projects_only_for_the_widths_the_text_names_fails():
    """Issue 15: a block that projects only for 1 or 16 input channels passed (it raises for 4 -> 8)."""

    def guessed(x, filters):
        y = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        shortcut = layers.Conv2D(filters, 1)(x) if x.shape[-1] in (1, 16) else x
        return layers.Activation("relu")(layers.Add()([shortcut, y]))

    failure = assert_fails("4.1", "`residual_block` fails for an input with", blocks=probe_residual_blocks(guessed))
    assert "Inputs have incompatible shapes" in failure.message()


def test_4_1_probes_widths_and_sizes_the_text_never_names():
    import nbformat

    nb = nbformat.read(ROOT / "solutions" / "04_solutions_skip_connections.ipynb", as_version=4)
    statement = next(c.source for c in nb.cells if c.cell_type == "markdown" and "Exercise 4.1" in c.source)
    unnamed = [(shape, filters) for _, shape, filters in BLOCK_CASES
               if f"{shape[-1]} channel" not in statement and f"filters={filters}" not in statement]
    assert len(unnamed) >= 5
    assert any(height != width or height % 2 for _, (height, width, _), _ in BLOCK_CASES)
    assert {shape[-1] < filters for _, shape, filters in BLOCK_CASES} == {True, False}


def test_4_1_pass_line_lists_what_was_tried():
    line = assert_passes("4.1", blocks=probe_residual_blocks(block()))
    for name, _, _ in BLOCK_CASES:
        assert name.replace("->", "→") in line


@pytest.mark.parametrize(
    "value, phrase",
    [(None, "not a function"), (layers.Conv2D, "not a function"), (layers.Add(), "not a function"), (3, "not a function")],
    ids=["none", "class", "layer", "number"],
)
def test_4_1_wrong_kinds(value, phrase):
    assert_fails("4.1", phrase, blocks=probe_residual_blocks(value))


def test_4_1_placeholder_says_not_done():
    assert_fails("4.1", "not done yet", blocks=probe_residual_blocks(not_done("4.1")))


def test_4_1_probe_builds_one_model_per_case():
    probes = probe_residual_blocks(block())
    assert list(probes) == [name for name, _, _ in BLOCK_CASES]
    for name, shape, filters in BLOCK_CASES:
        assert tuple(probes[name].outputs[0].shape) == (None, *shape[:2], filters)


# --- 4.2 repair a block that downsamples twice -------------------------------------------------


def strided_block(*, shortcut="strided-1x1", branch_strides=(2, 2), skip=True, channels=4, add_order=0, add="layer"):
    """The given block (8x8x4 -> 2x2x16, two strided convolutions) with one kind of shortcut."""
    inputs = keras.layers.Input(shape=(8, 8, channels))
    y = layers.Conv2D(16, 3, strides=branch_strides[0], padding="same", activation="relu")(inputs)
    y = layers.Conv2D(16, 3, strides=branch_strides[1], padding="same")(y)
    if not skip:
        return keras.Model(inputs, layers.Activation("relu")(y))
    step = branch_strides[0] * branch_strides[1]
    if shortcut == "strided-1x1":
        s = layers.Conv2D(16, 1, strides=step)(inputs)
    elif shortcut == "strided-1x1-same":
        s = layers.Conv2D(16, (1, 1), strides=(step, step), padding="same")(inputs)
    elif shortcut == "nested":
        s = keras.Sequential([layers.Conv2D(16, 1, strides=step, name="projection")], name="shortcut")(inputs)
    elif shortcut == "two-strided-1x1":
        s = layers.Conv2D(16, 1, strides=2)(layers.Conv2D(16, 1, strides=2)(inputs))
    elif shortcut == "pool":
        s = layers.Conv2D(16, 1)(layers.AveragePooling2D(step)(inputs))
    elif shortcut == "3x3":
        s = layers.Conv2D(16, 3, strides=step, padding="same")(inputs)
    elif shortcut == "relu":
        s = layers.Conv2D(16, 1, strides=step, activation="relu")(inputs)
    pair = [s, y][::-1] if add_order else [s, y]
    joined = pair[0] + pair[1] if add == "operator" else layers.add(pair)
    return keras.Model(inputs, layers.ReLU()(joined))


@pytest.mark.parametrize(
    "make",
    [lambda: strided_block(), lambda: strided_block(shortcut="strided-1x1-same", add_order=1),
     lambda: strided_block(shortcut="nested", add="operator")],
    ids=["strided-1x1", "same-padding-branch-first", "nested-shortcut-operator"],
)
def test_4_2_accepts(make):
    assert_passes("4.2", fixed_block=make())


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: strided_block(branch_strides=(2, 1)), "no longer shrinks the image to 2×2"),
        (lambda: strided_block(branch_strides=(1, 1)), "no longer shrinks the image to 2×2"),
        (lambda: strided_block(shortcut="pool"), "pools on the shortcut"),
        (lambda: strided_block(shortcut="3x3"), "with a 3×3 convolution"),
        (lambda: strided_block(shortcut="two-strided-1x1"), "2 projection layers"),
        (lambda: strided_block(shortcut="relu"), "shortcut goes through a ReLU"),
        (lambda: strided_block(skip=False), "no skip connection"),
        (lambda: strided_block(channels=8), "wrong input shape"),
        (lambda: subclassed(), "not built with the functional API or Sequential"),
        (lambda: None, "None"),
        (lambda: keras.Input(shape=(8, 8, 4)), "symbolic KerasTensor"),
    ],
    ids=["one-stride-left", "no-stride", "pooling", "3x3-projection", "two-projections", "relu-shortcut", "no-skip",
         "input-shape", "subclassed", "none", "symbolic"],
)
def test_4_2_rejects(make, phrase):
    assert_fails("4.2", phrase, fixed_block=make())


def test_4_2_placeholder_says_not_done():
    assert_fails("4.2", "not done yet", fixed_block=not_done("4.2"))


def _given_broken_code():
    """The code the exercise shows, up to the Add that fails."""
    nb = nbformat.read(ROOT / "solutions" / "04_solutions_skip_connections.ipynb", as_version=4)
    statement = next(c.source for c in nb.cells if c.cell_type == "markdown" and "Exercise 4.2" in c.source)
    code, error = re.findall(r"```(?:python)?\n(.*?)```", statement, re.S)[:2]
    return statement, code, error


def test_4_2_the_given_code_really_raises_the_error_the_exercise_shows():
    """The exercise shows this code and its error: both must stay true."""
    statement, code, error = _given_broken_code()
    with pytest.raises(ValueError) as raised:
        exec(code, {"keras": keras, "layers": layers})
    assert error.strip().split(": ", 1)[1] in str(raised.value)
    assert "Received shapes (2, 2, 16) and (8, 8, 4)" in error


def test_4_2_is_not_the_lesson_s_strided_projection():
    """Issue 15: 4.2 copied lesson 4 cell 33 (a stride-2 projection); here the shortcut must stride by 4."""
    statement, code, _ = _given_broken_code()
    assert code.count("strides=2") == 2  # the branch halves twice
    assert "strides=4" not in statement  # the learner works the shortcut's stride out from the shapes


# --- 4.3 wide and deep on images ----------------------------------------------------------------


def wide_deep(*, order="wide-first", how="layer", wide="flatten", deep="average", padding="same",
              acts=("relu", "softmax"), separate_softmax=False, concat=True, two_inputs=False, filters=8,
              extra_dense=False):
    image = keras.Input(shape=(8, 8, 1))
    maps = layers.Conv2D(filters, 3, padding=padding, activation=acts[0])(image)
    if deep == "average":
        deep_features = layers.GlobalAveragePooling2D()(maps)
    elif deep == "max":
        deep_features = layers.GlobalMaxPooling2D()(maps)
    else:
        deep_features = layers.Flatten()(maps)
    if wide == "flatten":
        wide_features = layers.Flatten()(image)
    elif wide == "reshape":
        wide_features = layers.Reshape((64,))(image)
    else:
        wide_features = layers.Flatten()(layers.Rescaling(2.0)(image))
    if two_inputs:
        other = keras.Input(shape=(8, 8, 1))
        wide_features = layers.Flatten()(other)
    pair = [wide_features, deep_features] if order == "wide-first" else [deep_features, wide_features]
    if not concat:
        joined = deep_features
    elif how == "layer":
        joined = layers.Concatenate()(pair)
    elif how == "function":
        joined = layers.concatenate(pair, axis=1)
    else:
        joined = keras.ops.concatenate(pair, axis=-1)
    if extra_dense:
        joined = layers.Dense(72, activation="relu")(joined)
    if separate_softmax:
        outputs = layers.Activation("softmax")(layers.Dense(10)(joined))
    else:
        outputs = layers.Dense(10, activation=acts[1])(joined)
    return keras.Model([image, other] if two_inputs else image, outputs)


def wide_deep_nested(kind, *, order="wide-first", extra=None):
    """The deep path as a model of its own, called on the image (issue 15: only top-level layers were read)."""
    image = keras.Input(shape=(8, 8, 1))
    steps = [layers.Conv2D(8, 3, padding="same", activation="relu"), layers.GlobalAveragePooling2D()]
    steps += [extra] if extra is not None else []
    if kind == "sequential":
        deep_path = keras.Sequential([keras.Input(shape=(8, 8, 1)), *steps], name="deep_path")
    elif kind == "sequential-no-input":
        deep_path = keras.Sequential(steps)
    else:
        maps = keras.Input(shape=(8, 8, 1))
        x = maps
        for step in steps:
            x = step(x)
        deep_path = keras.Model(maps, x, name="deep_path")
    pair = [layers.Flatten()(image), deep_path(image)]
    joined = layers.Concatenate()(pair if order == "wide-first" else pair[::-1])
    return keras.Model(image, layers.Dense(10, activation="softmax")(joined))


def wide_deep_extra_dense(where):
    image = keras.Input(shape=(8, 8, 1))
    deep = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3, padding="same", activation="relu")(image))
    wide = layers.Flatten()(image)
    if where == "deep":
        deep = layers.Dense(8, activation="relu")(deep)
    elif where == "wide":
        wide = layers.Dense(64, activation="relu")(wide)
    joined = layers.Concatenate()([wide, deep])
    if where == "head":
        joined = layers.Dense(32, activation="relu")(joined)
    return keras.Model(image, layers.Dense(10, activation="softmax")(joined))


@pytest.mark.parametrize(
    "make",
    [
        lambda: wide_deep(),
        lambda: wide_deep(order="deep-first", how="function"),
        lambda: wide_deep(how="ops", wide="reshape"),
        lambda: wide_deep(separate_softmax=True),
        lambda: wide_deep_nested("sequential"),
        lambda: wide_deep_nested("functional"),
        lambda: wide_deep_nested("sequential-no-input", order="deep-first"),
    ],
    ids=["concatenate-layer", "deep-first-function", "ops-concatenate-reshape", "separate-softmax",
         "nested-sequential", "nested-functional", "nested-sequential-unbuilt"],
)
def test_4_3_accepts(make):
    assert_passes("4.3", wide_deep=make())


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: wide_deep(concat=False), "no Concatenate"),
        (lambda: wide_deep(deep="flatten"), "flattened (8 × 8 × 8 = 512) instead of pooled"),
        (lambda: wide_deep(deep="max"), "pools the feature maps with their maximum"),
        (lambda: wide_deep(filters=16), "kernel (3, 3, 1, 8)"),
        (lambda: wide_deep(acts=("relu", None)), "['relu', 'linear']"),
        (lambda: wide_deep(acts=("sigmoid", "softmax")), "['sigmoid', 'softmax']"),
        (lambda: wide_deep(wide="rescaled"), "computes something else"),
        (lambda: wide_deep(extra_dense=True), "has 2 Dense layers"),
        (lambda: wide_deep(padding="valid"), 'padding="same"'),
        (lambda: wide_deep(separate_softmax=True, padding="valid", order="deep-first"), 'padding="same"'),
        (lambda: wide_deep_nested("sequential", extra=layers.Dense(8)), "has 2 Dense layers"),
        (lambda: wide_deep(two_inputs=True), "2 inputs"),
        (lambda: given_deep_plain(), "wrong input shape"),
        (lambda: subclassed(), "not built with the functional API or Sequential"),
        (lambda: layers.Concatenate(), "a single layer is not a model"),
        (lambda: keras.Model, "the class Model itself"),
    ],
    ids=["no-concat", "flattened-deep", "max-pool", "wrong-filters", "no-softmax", "wrong-activation",
         "wide-changed", "extra-dense", "valid-padding", "valid-padding-deep-first", "nested-extra-dense", "two-inputs", "flat-model", "subclassed", "layer", "class"],
)
def test_4_3_rejects(make, phrase):
    assert_fails("4.3", phrase, wide_deep=make())


@pytest.mark.parametrize("where", ["head", "deep", "wide"])
def test_4_3_an_extra_dense_layer_is_named_as_such(where):
    """Issue 15: an extra Dense was told "joins the wrong tensors"."""
    failure = assert_fails("4.3", "has 2 Dense layers", wide_deep=wide_deep_extra_dense(where))
    assert "joins the wrong tensors" not in failure.message()


def test_4_3_placeholder_says_not_done():
    assert_fails("4.3", "not done yet", wide_deep=not_done("4.3"))


# --- 4.4 predict, then run ---------------------------------------------------------------------


def test_given_residual_model_is_what_the_exercise_prints():
    """The exercise shows the model's code in markdown; running that code gives the same model."""
    nb = nbformat.read(ROOT / "solutions" / "04_solutions_skip_connections.ipynb", as_version=4)
    blocks = [re.search(r"```python\n(.*?)```", c.source, re.S) for c in nb.cells if "given_resnet" in c.source
              and c.cell_type == "markdown"]
    code = [b.group(1) for b in blocks if b]
    assert len(code) == 1
    namespace = {"keras": keras, "layers": layers}
    exec(code[0], namespace)
    shown, given = namespace["model"], given_residual_model()
    assert [type(l).__name__ for l in shown.layers] == [type(l).__name__ for l in given.layers]
    assert [w.shape for w in shown.weights] == [w.shape for w in given.weights]
    assert tuple(shown.outputs[0].shape) == tuple(given.outputs[0].shape)


def test_given_residual_model_numbers():
    model = given_residual_model()
    assert tuple(model.outputs[0].shape) == (None, 4, 4, 16)
    assert model.count_params() == 4904


@pytest.mark.parametrize(
    "shape, params",
    [((None, 4, 4, 16), 4904), ([None, 4, 4, 16], np.int64(4904)), ((None, np.int64(4), 4, 16), 4904)],
    ids=["tuple-int", "list-numpy-int", "numpy-int-in-shape"],
)
def test_4_4_accepts(shape, params):
    assert_passes("4.4", output_shape=shape, total_params=params)


@pytest.mark.parametrize(
    "shape, params, phrase",
    [
        ((None, 8, 8, 16), 4904, "halves height and width"),
        ((None, 2, 2, 16), 4904, "does not halve again"),
        ((None, 4, 4, 8), 4904, "last block's filters"),
        ((None, 16), 4904, "three axes per sample"),
        ("(None, 4, 4, 16)", 4904, "is not a shape"),
        ((None, 4, 4, 16), 4888, "moving mean and variance"),
        ((None, 4, 4, 16), 4872, "BatchNormalization layer is missing"),
        ((None, 4, 4, 16), 4760, "projection on the shortcut is missing"),
        ((None, 4, 4, 16), 4840, "biases are missing"),
        ((None, 4, 4, 16), 616, "once per filter"),
        ((None, 4, 4, 16), 5000, "not the model's parameter count"),
        ((None, 4, 4, 16), 4904.5, "not a whole number"),
        ((None, 4, 4, 16), 4904.0, "is the float 4904.0, not an int"),
        ((None, 4, 4, 16), np.float64(4904.0), "is the float 4904.0, not an int"),
        ((4, 4, 16), 4904, "leaves out the batch axis"),
        ((1, 4, 4, 16), 4904, "the batch axis of a symbolic shape is None"),
        ((None, 4, 4, 16), 4912, "use_bias=False"),
        ((None, 4, 4, 16), 3752, "16 input channels"),
        ((None, 4, 4, 16), 4904 + 8 * 8 * 16, "3×3"),
        ((None, 4, 4, 16), 4904 - 2320, "is missing from the count"),
        ((None, 4, 4, 16), True, "not a whole number"),
        ((None, 4, 4, 16), None, "not a whole number"),
    ],
    ids=["no-stride", "halved-twice", "channels", "flattened", "string", "trainable-only", "no-bn", "no-projection",
         "no-biases", "flat-kernels", "other", "fraction", "whole-float", "numpy-whole-float", "sample-shape",
         "batch-of-one", "bias-on-first-conv", "second-strided-conv-with-8-channels", "projection-as-3x3",
         "last-conv-missing", "bool", "none"],
)
def test_4_4_rejects(shape, params, phrase):
    assert_fails("4.4", phrase, output_shape=shape, total_params=params)


def test_4_4_placeholder_says_not_done():
    assert_fails("4.4", "not done yet", output_shape=not_done("4.4"), total_params=not_done("4.4"))


# --- 4.5 make a deep network train -------------------------------------------------------------


def deep(*, block=4, last_linear=True, post_relu=True, hidden=DEEP_PLAIN_LAYERS, skip="add", softmax=True,
         nested=False):
    inputs = keras.Input(shape=(64,))
    x = layers.Dense(32, activation="relu")(inputs)
    rest = hidden - 1
    if skip == "none":
        for _ in range(rest):
            x = layers.Dense(32, activation="relu")(x)
    elif skip == "long":
        kept = x
        for _ in range(rest):
            x = layers.Dense(32, activation="relu")(x)
        x = layers.Add()([kept, x])
    else:
        for _ in range(rest // block):
            if nested:
                block_in = keras.Input(shape=(32,))
                y = block_in
            else:
                y = x
            for k in range(block):
                y = layers.Dense(32, activation=None if (last_linear and k == block - 1) else "relu")(y)
            if nested:
                y = keras.Model(block_in, layers.ReLU()(layers.Add()([block_in, y])))(x)
                x = y
                continue
            x = x + y if skip == "operator" else layers.Add()([x, y])
            if post_relu:
                x = layers.Activation("relu")(x)
    outputs = layers.Dense(10, activation="softmax" if softmax else None)(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize(
    "make",
    [
        lambda: deep(),
        lambda: deep(block=2),
        lambda: deep(block=3, last_linear=False),
        lambda: deep(block=6, skip="operator"),
        lambda: deep(block=4, last_linear=False, post_relu=False),
        lambda: deep(block=4, nested=True),
    ],
    ids=["blocks-of-4", "blocks-of-2", "blocks-of-3-all-relu", "blocks-of-6-operator", "no-relu-after-add", "nested"],
)
def test_4_5_accepts(make):
    assert_passes("4.5", deep_residual=make())


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: deep(skip="none"), "no skip connection"),
        (given_deep_plain, "no skip connection"),
        (lambda: deep(skip="long"), "still gets almost no gradient"),
        (lambda: deep(block=1, last_linear=False, post_relu=False), "gradients explode"),
        (lambda: deep(hidden=13, block=4), "does not keep the depth"),
        (lambda: deep(softmax=False), "does not output probabilities"),
        (lambda: subclassed(), "not built with the functional API or Sequential"),
        (lambda: None, "None"),
        (lambda: deep().outputs[0], "symbolic KerasTensor"),
        (lambda: layers.Dense(32), "a single layer is not a model"),
    ],
    ids=["plain", "given", "long-skip", "one-layer-blocks", "shallower", "no-softmax", "subclassed", "none",
         "symbolic", "layer"],
)
def test_4_5_rejects(make, phrase):
    assert_fails("4.5", phrase, deep_residual=make())


def blocks_of(sizes, *, nested=False, extra_plain=0):
    """The first hidden layer, then residual blocks of the given sizes, ``extra_plain`` layers, the head."""
    inputs = keras.Input(shape=(64,))
    x = layers.Dense(32, activation="relu")(inputs)
    for size in sizes:
        block_in = keras.Input(shape=(32,)) if nested else x
        y = block_in
        for k in range(size):
            y = layers.Dense(32, activation=None if k == size - 1 else "relu")(y)
        out = layers.Activation("relu")(layers.Add()([block_in, y]))
        x = keras.Model(block_in, out)(x) if nested else out
    for _ in range(extra_plain):
        x = layers.Dense(32, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


@pytest.mark.parametrize(
    "sizes, nested",
    [([6, 6, 6, 6], False), ([2] * 12, False), ([3, 5, 4, 6, 2, 4], False), ([6, 6, 6, 6], True)],
    ids=["four-of-6", "twelve-of-2", "mixed", "nested-of-6"],
)
def test_4_5_accepts_blocks_of_2_to_6(sizes, nested):
    assert_passes("4.5", deep_residual=blocks_of(sizes, nested=nested))


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: blocks_of([8, 8, 8]), "blocks of 2 to 6"),
        (lambda: blocks_of([8, 8, 8], nested=True), "blocks of 2 to 6"),
        (lambda: blocks_of([12, 12]), "blocks of 2 to 6"),
        (lambda: blocks_of([6, 6, 6, 4], extra_plain=2), "2 of the 24 hidden layers after the first are in no residual block"),
    ],
    ids=["three-of-8", "nested-three-of-8", "two-of-12", "two-left-outside"],
)
def test_4_5_rejects_blocks_the_text_does_not_allow(make, phrase):
    """Issue 15: three blocks of 8 layers passed (the text asks for blocks of 2 to 6)."""
    assert_fails("4.5", phrase, deep_residual=make())


def test_4_5_placeholder_says_not_done():
    assert_fails("4.5", "not done yet", deep_residual=not_done("4.5"))


def test_layer_gradients_separates_plain_from_residual_with_margin():
    """The thresholds of 4.5 sit far from both kinds of network, for several initialisations."""
    from coursetools.lessons.lesson04.checks import MIN_GRADIENT

    for seed in range(3):
        plain = layer_gradients(given_deep_plain(), seed=seed)
        residual = layer_gradients(deep(), seed=seed)
        assert plain[:-1].max() < MIN_GRADIENT / 2
        assert residual[:-1].min() > MIN_GRADIENT * 50


def test_layer_gradients_leaves_the_model_alone():
    model = deep()
    before = [w.copy() for w in model.get_weights()]
    layer_gradients(model)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
