"""Lesson 1 checks: correct answers written differently pass; typical mistakes are named."""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import layers

from check_helpers import assert_fails, assert_passes, round_trip
from coursetools.lessons.lesson01 import dense_by_hand_example
from coursetools.placeholders import not_done


def built(layer, width):
    layer.build((None, width))
    return layer


# --- 1.1 a Dense layer with 16 units and ReLU ----------------------------------------

@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.Dense(16, activation="relu"),
        lambda: layers.Dense(units=16, activation=keras.activations.relu, name="my_hidden"),
        lambda: built(layers.Dense(16, activation="relu"), 5),
        lambda: layers.Dense.from_config(layers.Dense(16, activation="relu").get_config()),
    ],
    ids=["string", "function-and-name", "already-built", "from-config"],
)
def test_1_1_accepts(make):
    assert_passes("1.1", layer=make())


@pytest.mark.parametrize(
    "value, phrase",
    [
        (lambda: layers.Dense(8, activation="relu"), "8 units"),
        (lambda: layers.Dense(16), "no activation (linear)"),
        (lambda: layers.Dense(16, activation="sigmoid"), "'sigmoid'"),
        (lambda: layers.Dense(16, activation="relu", use_bias=False), "no bias"),
        (lambda: layers.ReLU(), "wrong kind of layer"),
        (lambda: keras.Sequential([layers.Dense(16, activation="relu")]), "not a model"),
        (lambda: layers.Dense, "call the class"),
        (lambda: None, "None"),
        (lambda: (lambda: layers.Dense(16, activation="relu")), "a function"),
        (lambda: keras.ops.ones((2, 16)), "not a Dense layer"),
    ],
    ids=["units", "no-activation", "sigmoid", "no-bias", "relu-layer", "model", "class", "none", "function", "tensor"],
)
def test_1_1_rejects(value, phrase):
    assert_fails("1.1", phrase, layer=value())


def test_1_1_placeholder_says_not_done():
    assert_fails("1.1", "not done yet", layer=not_done("1.1"))


# --- 1.2 Dense by hand -----------------------------------------------------------------

def reference():
    x, kernel, bias = dense_by_hand_example()
    return x, kernel, bias


def test_1_2_example_exposes_every_mistake():
    """The data must make each diagnosed mistake give different numbers."""
    x, kernel, bias = reference()
    z = x @ kernel + bias
    assert (z < 0).any() and (z > 0).any()
    assert not np.allclose(np.maximum(x @ kernel, 0), np.maximum(z, 0))


@pytest.mark.parametrize(
    "compute",
    [
        lambda x, k, b: np.maximum(x @ k + b, 0),
        lambda x, k, b: np.clip(np.dot(x, k) + b, 0, None),
        lambda x, k, b: (x @ k + b) * ((x @ k + b) > 0),
        lambda x, k, b: [[max(v, 0.0) for v in row] for row in (x @ k + b).tolist()],
        lambda x, k, b: keras.ops.relu(keras.ops.matmul(x, k) + b),
        lambda x, k, b: np.einsum("ij,jk->ik", x, k).__add__(b).clip(min=0),
        lambda x, k, b: np.maximum(x.astype("float64") @ k.astype("float64") + b, 0),
        lambda x, k, b: [np.maximum(row @ k + b, 0) for row in x],
        lambda x, k, b: [[np.float32(max(v, 0)) for v in row] for row in (x @ k + b)],
        lambda x, k, b: tuple(np.maximum(x @ k + b, 0)),
    ],
    ids=["maximum", "clip-dot", "mask", "python-lists", "keras-ops-tensor", "einsum", "float64",
         "list-of-numpy-rows", "lists-of-numpy-scalars", "tuple-of-rows"],
)
def test_1_2_accepts(compute):
    assert_passes("1.2", y_by_hand=compute(*reference()))


@pytest.mark.parametrize(
    "compute, phrase",
    [
        (lambda x, k, b: x @ k + b, "activation was not applied"),
        (lambda x, k, b: np.maximum(x @ k, 0), "bias is missing"),
        (lambda x, k, b: x @ k, "both the bias and the activation"),
        (lambda x, k, b: np.maximum(x @ k, 0) + b, "after the activation"),
        (lambda x, k, b: np.maximum(x @ k + b, 0).T, "transposed"),
        (lambda x, k, b: np.maximum(x @ k + b, 0)[:, :3], "wrong shape"),
        (lambda x, k, b: np.tanh(x @ k + b), "do not match"),
        (lambda x, k, b: np.maximum(x @ k + b, 0) + 5e-5, "off by up to 5e-05"),
        (lambda x, k, b: np.maximum(x @ k + b, 0) - 5e-5, "off by up to 5e-05"),
        (lambda x, k, b: np.maximum(np.sum(x[:, :, None] * k[None], axis=0) + b, 0), "summed over the 5 samples"),
        (lambda x, k, b: np.maximum(np.sum(x[:, :, None] * k[None], axis=2), 0), "summed over the 4 units"),
        (lambda x, k, b: np.maximum(np.einsum("ij,jk->jk", x, k) + b, 0), "summed over the 5 samples"),
        (lambda x, k, b: None, "None"),
        (lambda x, k, b: "relu(x @ kernel + bias)", "not an array"),
        (lambda x, k, b: (lambda: x), "a function"),
        (lambda x, k, b: keras.Input(shape=(4,)), "symbolic"),
    ],
    ids=["no-relu", "no-bias", "neither", "bias-after", "transposed", "shape", "tanh", "shifted-up", "shifted-down",
         "sum-over-samples", "sum-over-units", "einsum-wrong-axis", "none", "string", "function", "symbolic"],
)
def test_1_2_rejects(compute, phrase):
    assert_fails("1.2", phrase, y_by_hand=compute(*reference()))


def test_1_2_wrong_axis_is_not_told_to_multiply_by_the_kernel():
    x, k, b = reference()
    failure = assert_fails("1.2", "summed over the 5 samples", y_by_hand=np.maximum(np.sum(x[:, :, None] * k[None], axis=0) + b, 0))
    assert "multiply the batch by the kernel" not in failure.message()


def test_1_2_tolerance_is_float32_rounding_not_more():
    x, k, b = reference()
    assert_passes("1.2", y_by_hand=np.maximum(x @ k + b, 0) + 2e-6)


def test_1_2_hidden_check_rejects_a_tiny_negative_shift_the_visible_check_allows():
    from coursetools.lessons.lesson01.hidden import relu_output_is_never_negative

    x, k, b = reference()
    shifted = np.maximum(x @ k + b, 0) - 5e-6
    assert_passes("1.2", y_by_hand=shifted)
    with pytest.raises(AssertionError):
        relu_output_is_never_negative(shifted)
    relu_output_is_never_negative(np.maximum(x @ k + b, 0))


# --- 1.3 weights before data -------------------------------------------------------------

@pytest.mark.parametrize(
    "make",
    [
        lambda: built(layers.Dense(6), 10),
        lambda: _called(layers.Dense(6), np.zeros((1, 10), "float32")),
        lambda: _called(layers.Dense(6), keras.Input(shape=(10,))),
        lambda: _build_1d(layers.Dense(6, activation="relu")),
    ],
    ids=["build", "called-on-zeros", "called-on-input", "build-short-shape"],
)
def test_1_3_accepts(make):
    assert_passes("1.3", layer=make())


def _quietly(make):
    """Make a layer with the (deprecated) input_shape/input_dim argument, without its warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make()


def test_1_3_success_line_names_the_bias_it_requires():
    line = assert_passes("1.3", layer=built(layers.Dense(6), 10))
    assert "bias (6,)" in line


def _called(layer, data):
    layer(data)
    return layer


def _build_1d(layer):
    layer.build((10,))
    return layer


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: layers.Dense(6), "weights == []"),
        (lambda: built(layers.Dense(6), 3), "built for 3 input features"),
        (lambda: built(layers.Dense(10), 6), "10 units"),
        (lambda: layers.Dense(6).build((None, 10)), "None"),
        (lambda: _conv(), "wrong kind of layer"),
        (lambda: built(layers.Dense(6, use_bias=False), 10), "no bias"),
        (lambda: _quietly(lambda: layers.Dense(6, input_shape=(10,))), "input_shape= and input_dim= build nothing"),
        (lambda: _quietly(lambda: layers.Dense(6, input_dim=10)), "input_dim= build nothing"),
    ],
    ids=["unbuilt", "wrong-width", "swapped", "result-of-build", "conv", "no-bias", "input_shape", "input_dim"],
)
def test_1_3_rejects(make, phrase):
    assert_fails("1.3", phrase, layer=make())


def _conv():
    layer = layers.Conv1D(6, 3)
    layer.build((None, 20, 10))
    return layer


def test_a_model_safe_mode_cannot_load_is_a_verdict_not_a_crash(tmp_path):
    """A subclassed model saves, but the grader's safe-mode load cannot rebuild its class."""
    from coursetools.evidence import export_evidence, load_evidence
    from coursetools.expect import Unexportable, describe

    class Custom(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(16, activation="relu")

        def call(self, x):
            return self.dense(x)

    model = Custom()
    model(np.ones((1, 3), "float32"))
    loaded = load_evidence(export_evidence(model, tmp_path, "model"), tmp_path)
    assert isinstance(loaded, Unexportable) and loaded.nature == "subclassed"
    assert "your own class 'Custom'" in describe(loaded)
    assert_fails("1.1", "cannot rebuild without running your code", layer=model)


# --- 1.4 the batch axis: one reading as a batch of one, and the layer's output for it ------------

from coursetools.lessons.lesson01 import sensor_layer, sensor_readings  # noqa: E402


def reading():
    return sensor_readings()[0]


def output_for(batch):
    return sensor_layer()(batch)


@pytest.mark.parametrize(
    "make_batch",
    [
        lambda r: r[np.newaxis, :],
        lambda r: r.reshape(1, 3),
        lambda r: r.reshape(1, -1),
        lambda r: np.expand_dims(r, 0),
        lambda r: np.array([r]),
        lambda r: r[None],
        lambda r: [list(r)],
        lambda r: [[float(v) for v in r]],
        lambda r: [r],
        lambda r: keras.ops.expand_dims(r, 0),
    ],
    ids=["newaxis", "reshape", "reshape-minus-one", "expand_dims", "array-of-list", "none-index", "list-of-list",
         "python-floats", "list-of-array", "keras-ops"],
)
def test_1_4_accepts(make_batch):
    batch = make_batch(reading())
    assert_passes("1.4", batch=batch, one_output=output_for(np.asarray(batch, "float32")))


def test_1_4_accepts_the_output_as_numpy_or_computed_in_float64():
    batch = reading()[np.newaxis]
    kernel, bias = sensor_layer().get_weights()
    assert_passes("1.4", batch=batch, one_output=keras.ops.convert_to_numpy(output_for(batch)))
    assert_passes("1.4", batch=batch, one_output=np.maximum(batch.astype("float64") @ kernel + bias, 0))


@pytest.mark.parametrize(
    "batch, one_output, phrase",
    [
        (lambda: reading(), lambda: output_for(reading()[None]), "no batch axis"),
        (lambda: reading()[:, None], lambda: output_for(reading()[None]), "a column"),
        (lambda: reading()[None, None], lambda: output_for(reading()[None]), "one axis too many"),
        (lambda: sensor_readings()[1:2], lambda: output_for(sensor_readings()[1:2]), "other numbers than `reading`"),
        (lambda: sensor_readings(), lambda: output_for(sensor_readings()), "5 samples"),
        (lambda: reading()[None], lambda: output_for(reading()[None])[0], "lost its batch axis"),
        (lambda: reading()[None], lambda: layers.Dense(4, activation="relu")(reading()[None]), "not what `layer` computes"),
        (lambda: reading()[None], lambda: sensor_layer()(keras.Input(shape=(3,))), "symbolic"),
        (lambda: reading()[None], lambda: sensor_layer(), "layer(batch)"),
        (lambda: None, lambda: output_for(reading()[None]), "None"),
        (lambda: "reading[np.newaxis]", lambda: output_for(reading()[None]), "not an array"),
    ],
    ids=["no-batch-axis", "column", "extra-axis", "other-sample", "whole-batch", "squeezed-output", "new-layer",
         "symbolic-output", "layer-not-output", "none", "string"],
)
def test_1_4_rejects(batch, one_output, phrase):
    assert_fails("1.4", phrase, batch=batch(), one_output=one_output())


def _by_hand(batch, *, relu=True, bias=True):
    kernel, offset = sensor_layer().get_weights()
    out = np.asarray(batch, "float32") @ kernel + (offset if bias else 0.0)
    return np.maximum(out, 0.0) if relu else out


@pytest.mark.parametrize(
    "one_output, phrase, not_phrase",
    [
        (lambda b: _by_hand(b, relu=False), "without its ReLU", "random weights"),
        (lambda b: sensor_layer().kernel.numpy().T @ b[0] + sensor_layer().bias.numpy(), "lost its batch axis", None),
        (lambda b: _by_hand(b, bias=False), "without its bias", "random weights"),
        (lambda b: _by_hand(b, relu=False, bias=False), "without its bias and its ReLU", "random weights"),
    ],
    ids=["no-relu", "no-relu-1d", "no-bias", "kernel-only"],
)
def test_1_4_arithmetic_by_hand_names_what_it_left_out(one_output, phrase, not_phrase):
    """Issue 15: `batch @ kernel + bias` (ReLU left out) was told "a new Dense layer starts with its own random weights"."""
    batch = reading()[None]
    failure = assert_fails("1.4", phrase, batch=batch, one_output=one_output(batch))
    if not_phrase:
        assert not_phrase not in failure.message()


def test_1_5_arithmetic_by_hand_names_what_it_left_out():
    failure = assert_fails("1.5", "without its ReLU", values=_by_hand(sensor_readings(), relu=False),
                           symbolic_shape=(None, 4))
    assert "random weights" not in failure.message()


def test_1_4_placeholder_says_not_done():
    assert_fails("1.4", "not done yet", batch=not_done("1.4"), one_output=not_done("1.4"))


def test_1_4_a_batch_that_is_not_numbers_gets_this_exercise_s_hint():
    failure = assert_fails("1.4", "add the batch axis", batch=None, one_output=output_for(reading()[None]))
    assert "np.maximum" not in failure.message()  # 1.2's way to get numbers, not this one's


# --- 1.5 symbolic or real: the numbers for a batch, and the shape of a symbolic output ----------


def symbolic_out():
    return sensor_layer()(keras.Input(shape=(3,)))


@pytest.mark.parametrize(
    "values, shape",
    [
        (lambda: sensor_layer()(sensor_readings()), lambda: symbolic_out().shape),
        (lambda: keras.ops.convert_to_numpy(sensor_layer()(sensor_readings())), lambda: (None, 4)),
        (lambda: sensor_layer().__call__(sensor_readings()).numpy(), lambda: [None, 4]),
        (lambda: list(np.asarray(sensor_layer()(sensor_readings()))), lambda: tuple(symbolic_out().shape)),
        (lambda: keras.Sequential([keras.Input(shape=(3,)), sensor_layer()]).predict(sensor_readings(), verbose=0),
         lambda: (None, np.int64(4))),
    ],
    ids=["eager-tensor-and-shape", "numpy-and-literal", "numpy-method-and-list", "list-of-rows", "predict-and-numpy-int"],
)
def test_1_5_accepts(values, shape):
    assert_passes("1.5", values=values(), symbolic_shape=shape())


@pytest.mark.parametrize(
    "values, shape, phrase",
    [
        (lambda: symbolic_out(), lambda: (None, 4), "has a shape but no numbers"),
        (lambda: sensor_layer()(sensor_readings()[:1]), lambda: (None, 4), "1 sample"),
        (lambda: sensor_readings(), lambda: (None, 4), "the readings themselves"),
        (lambda: layers.Dense(4, activation="relu")(sensor_readings()), lambda: (None, 4), "not what `layer` computes"),
        (lambda: sensor_layer()(sensor_readings()), lambda: (5, 4), "None"),
        (lambda: sensor_layer()(sensor_readings()), lambda: (4,), "batch axis"),
        (lambda: sensor_layer()(sensor_readings()), lambda: (None, 3), "the input's shape"),
        (lambda: sensor_layer()(sensor_readings()), lambda: symbolic_out(), "take its .shape"),
        (lambda: sensor_layer()(sensor_readings()), lambda: "(None, 4)", "a tuple"),
        (lambda: sensor_layer()(sensor_readings()), lambda: sensor_layer()(sensor_readings()).shape, "TensorShape"),
        (lambda: None, lambda: (None, 4), "None"),
    ],
    ids=["symbolic-values", "one-sample", "readings", "new-layer", "real-shape", "no-batch-axis", "input-shape",
         "tensor-not-shape", "string-shape", "tensorshape", "none"],
)
def test_1_5_rejects(values, shape, phrase):
    assert_fails("1.5", phrase, values=values(), symbolic_shape=shape())


def test_1_5_placeholder_says_not_done():
    assert_fails("1.5", "not done yet", values=not_done("1.5"), symbolic_shape=not_done("1.5"))
