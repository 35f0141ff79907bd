"""Lesson 1 checks: correct answers written differently pass; typical mistakes are named."""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import layers

from check_helpers import assert_fails, assert_passes, round_trip
from coursetools.data import dense_by_hand_example
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
    ],
    ids=["maximum", "clip-dot", "mask", "python-lists", "keras-ops-tensor", "einsum"],
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
        (lambda x, k, b: None, "None"),
        (lambda x, k, b: "relu(x @ kernel + bias)", "not an array"),
        (lambda x, k, b: (lambda: x), "a function"),
        (lambda x, k, b: keras.Input(shape=(4,)), "symbolic"),
    ],
    ids=["no-relu", "no-bias", "neither", "bias-after", "transposed", "shape", "tanh", "none", "string", "function", "symbolic"],
)
def test_1_2_rejects(compute, phrase):
    assert_fails("1.2", phrase, y_by_hand=compute(*reference()))


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
    ],
    ids=["unbuilt", "wrong-width", "swapped", "result-of-build", "conv"],
)
def test_1_3_rejects(make, phrase):
    assert_fails("1.3", phrase, layer=make())


# --- 1.4 freeze a layer -----------------------------------------------------------------

def _frozen(layer, width=3, *, via_constructor=False):
    if not via_constructor:
        layer.trainable = False
    layer.build((None, width))
    return layer


@pytest.mark.parametrize(
    "make",
    [
        lambda: _frozen(layers.Dense(4)),
        lambda: _frozen(layers.Dense(4, trainable=False), via_constructor=True),
        lambda: _called_then_frozen(layers.Dense(4, activation="relu")),
    ],
    ids=["attribute-before-build", "constructor-argument", "after-a-call"],
)
def test_1_4_accepts(make):
    assert_passes("1.4", layer=make())


def _called_then_frozen(layer):
    layer(np.ones((2, 3), "float32"))
    layer.trainable = False
    return layer


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: built(layers.Dense(4), 3), "still trainable"),
        (lambda: _unbuilt_frozen(), "weights == []"),
        (lambda: _frozen(layers.Dense(4), 5), "built for 5"),
        (lambda: _frozen(layers.Dense(3), 4), "3 units"),
        (lambda: "frozen.trainable = False", "str"),
    ],
    ids=["not-frozen", "unbuilt", "wrong-width", "wrong-units", "string"],
)
def test_1_4_rejects(make, phrase):
    assert_fails("1.4", phrase, layer=make())


def _unbuilt_frozen():
    layer = layers.Dense(4)
    layer.trainable = False
    return layer


# --- the grading path: the same verdicts after export and safe-mode loading ---------------

def test_lesson1_verdicts_survive_export(tmp_path):
    x, kernel, bias = reference()
    good = {
        "1.1": {"layer": layers.Dense(16, activation="relu")},
        "1.2": {"y_by_hand": keras.ops.relu(x @ kernel + bias)},
        "1.3": {"layer": built(layers.Dense(6), 10)},
        "1.4": {"layer": _frozen(layers.Dense(4))},
    }
    for exercise_id, evidence in good.items():
        assert_passes(exercise_id, **round_trip(tmp_path / exercise_id, **evidence))
    assert_fails("1.4", "still trainable", **round_trip(tmp_path / "bad", layer=built(layers.Dense(4), 3)))
    assert_fails("1.1", "a function", **round_trip(tmp_path / "fn", layer=lambda: 0))


def _conv():
    layer = layers.Conv1D(6, 3)
    layer.build((None, 20, 10))
    return layer


def test_a_model_safe_mode_cannot_load_is_a_verdict_not_a_crash(tmp_path):
    """A subclassed model saves, but the grader's safe-mode load cannot rebuild its class."""
    from coursetools.evidence import Unexportable, describe, export_evidence, load_evidence

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
