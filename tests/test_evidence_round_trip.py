"""The evidence round trip: what a check cell and the grader both judge.

A check cell exports its evidence and loads it back before judging (the grader's
path), so every value an honest learner hands in must survive the trip with the
meaning it had: NumPy scalars, lists, tuples and dicts of arrays or models. What
cannot survive (a symbolic tensor, a class, a function) keeps enough of its nature
for the check to give the same hint it would have given on the original.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras import layers

from check_helpers import assert_fails, assert_passes
from coursetools import evidence
from coursetools.evidence import as_graded, entry_files, export_evidence, load_evidence
from coursetools.expect import Unexportable


def test_numpy_scalars_become_plain_numbers():
    graded = as_graded({"a": np.int64(1210), "b": np.float32(0.5), "c": np.bool_(True), "d": np.prod([2, 5])})
    assert graded == {"a": 1210, "b": 0.5, "c": True, "d": 10}
    assert type(graded["a"]) is int and type(graded["b"]) is float and type(graded["c"]) is bool


def test_a_numpy_integer_answer_passes_in_the_notebook_and_in_grading():
    assert_passes("2.2", n_params=np.int64(1210))
    assert_passes("2.2", n_params=np.sum([1040, 170]))


def test_containers_keep_their_type_and_their_arrays():
    weights = [np.ones((3, 2), "float32"), np.zeros((2,), "float32")]
    graded = as_graded({
        "listed": weights,
        "pair": (np.arange(3), np.float64(2.5)),
        "shape": (None, 10),
        "named": {"pixels": np.ones((4, 64)), "ink": np.arange(4.0)},
        "plain": [1, 2.5, "x", None, {"k": [1, 2]}],
        "long": list(range(1000)),
        "mixed": {"ink": [0.5] * 300, "pixels": np.ones(3)},
    })
    assert isinstance(graded["listed"], list) and all(isinstance(w, np.ndarray) for w in graded["listed"])
    assert [w.shape for w in graded["listed"]] == [(3, 2), (2,)]
    assert isinstance(graded["pair"], tuple) and graded["pair"][1] == 2.5
    assert graded["shape"] == (None, 10)
    assert set(graded["named"]) == {"pixels", "ink"} and graded["named"]["pixels"].shape == (4, 64)
    assert graded["plain"] == [1, 2.5, "x", None, {"k": [1, 2]}]
    assert graded["long"] == list(range(1000)) and graded["mixed"]["ink"] == [0.5] * 300


def test_a_list_of_models_comes_back_as_models(tmp_path):
    def tiny(units):
        inputs = keras.Input(shape=(3,))
        return keras.Model(inputs, layers.Dense(units)(inputs))

    entry = export_evidence([tiny(2), tiny(4)], tmp_path, "members")
    assert sorted(entry_files(entry)) == ["members.0.keras", "members.1.keras"]
    loaded = load_evidence(entry, tmp_path)
    assert [tuple(m.outputs[0].shape) for m in loaded] == [(None, 2), (None, 4)]


@pytest.mark.parametrize(
    "value, phrase",
    [
        ([[[[[np.ones(2)]]]]], "nested too deeply"),
        ([np.ones(1)] * 300, "too long"),
        ({1: np.ones(2)}, "keys are not all short strings"),
        (np.array([object()], dtype=object), "NumPy array"),
    ],
    ids=["too-deep", "too-long", "int-keys", "object-array"],
)
def test_what_cannot_be_graded_says_so(value, phrase):
    graded = as_graded({"v": value})["v"]
    assert isinstance(graded, Unexportable) and phrase in graded.description


def test_a_symbolic_tensor_keeps_its_hint_after_the_round_trip():
    inputs = keras.Input(shape=(64,))
    outputs = layers.Dense(10)(inputs)
    graded = as_graded({"m": outputs})["m"]
    assert isinstance(graded, Unexportable) and graded.nature == "symbolic"
    assert_fails("3.2", "that is the output tensor", feature_model=outputs)


def test_a_layer_class_keeps_its_hint_after_the_round_trip():
    assert_fails("1.1", "call the class to make a layer", layer=layers.Dense)


def test_a_function_is_described_as_a_function():
    graded = as_graded({"f": print})["f"]
    assert graded.nature == "function" and "a function" in graded.description


# --- the grader reads trees only in the shape the exporter writes ---------------------------


def _tree_entry(tmp_path):
    return export_evidence({"pixels": np.ones((2, 3)), "ink": [np.zeros(2), 1.5]}, tmp_path, "data")


def test_manifest_accepts_a_tree_the_exporter_wrote(tmp_path):
    entry = json.loads(json.dumps(_tree_entry(tmp_path)))
    clean = evidence.validate_entry("data", entry)
    assert sorted(entry_files(clean)) == ["data.0.npy", "data.1.0.npy"]
    loaded = load_evidence(clean, tmp_path)
    assert loaded["ink"][1] == 1.5 and loaded["pixels"].shape == (2, 3)


@pytest.mark.parametrize(
    "forge",
    [
        lambda e: e["items"][0].update(file="../elsewhere.npy"),
        lambda e: e["items"][0].update(file="data.1.npy"),
        lambda e: e.update(type="set"),
        lambda e: e.update(keys=["pixels"]),
        lambda e: e.update(keys=["pixels", "pixels"]),
        lambda e: e.update(keys=["pixels", 7]),
        lambda e: e["items"].append({"kind": "capture_error", "error": "X", "message": ""}),
        lambda e: e.update(items="not a list"),
    ],
    ids=["path-escape", "other-item's-file", "unknown-type", "keys-count", "duplicate-keys", "int-key",
         "problem-item", "items-not-list"],
)
def test_manifest_refuses_a_forged_tree(tmp_path, forge):
    entry = json.loads(json.dumps(_tree_entry(tmp_path)))
    forge(entry)
    with pytest.raises(evidence.ManifestError):
        evidence.validate_entry("data", entry)


def test_manifest_refuses_a_tree_deeper_than_the_exporter_writes():
    entry = {"kind": "json", "value": 1}
    for _ in range(10):
        entry = {"kind": "tree", "type": "list", "items": [entry]}
    with pytest.raises(evidence.ManifestError):
        evidence.validate_entry("deep", entry)


# --- expect_int names what it found, truthfully -------------------------------------------------


@pytest.mark.parametrize(
    "value, problem, hint",
    [
        (1210.0, "is the float 1210.0, not an int", "int("),
        (np.float64(1210.0), "is the float 1210.0, not an int", "int("),
        (1209.5, "is not a whole number", None),
        ("1210", "is text, not a whole number", "quotes"),
        (True, "is a bool, not a whole number", None),
        (None, "is not a whole number", None),
    ],
    ids=["whole-float", "numpy-whole-float", "fraction", "string", "bool", "none"],
)
def test_expect_int_says_what_is_wrong(value, problem, hint):
    from coursetools.expect import expect_int
    from coursetools.feedback import Mistake

    with pytest.raises(Mistake) as caught:
        expect_int(as_graded({"v": value})["v"], "`n`")
    assert caught.value.problem == f"`n` {problem}."
    if hint is not None:
        assert hint in caught.value.hint
    if value == 1210.0:
        assert "not a whole number" not in caught.value.problem  # 1210.0 is one; the check wants an int


def test_expect_int_accepts_python_and_numpy_integers():
    from coursetools.expect import expect_int

    for value in (1210, np.int64(1210), np.int32(1210), np.prod([10, 121])):
        assert expect_int(as_graded({"v": value})["v"]) == 1210


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras's own warning while it fails to load this model
def test_a_model_keras_cannot_rebuild_is_not_called_a_lambda_layer():
    """Issue 15: every model that failed to load was told "a Lambda layer"; say what really failed."""
    import keras
    from keras import layers

    from coursetools.expect import expect_model
    from coursetools.feedback import Mistake

    pixels = keras.Input(shape=(8,), name="pixels")
    hidden = layers.Dense(4, name="hidden")(pixels)
    encoder = keras.Model(pixels, layers.Dense(2, name="code")(hidden), name="encoder")
    image = keras.Input(shape=(8,))
    both = keras.Model(image, {"hidden": encoder.get_layer("hidden")(image), "code": encoder(image)})
    loaded = as_graded({"model": both})["model"]
    with pytest.raises(Mistake) as caught:
        expect_model(loaded, "`inspector`")
    card = f"{caught.value.problem} {caught.value.found} {caught.value.hint}"
    assert "cannot be loaded back" in card and "Keras cannot load back (ValueError:" in card
    assert "Lambda layer" not in caught.value.found and "nested model" in caught.value.found


def test_a_lambda_layer_is_named_as_such():
    import keras
    from keras import layers

    from coursetools.expect import Unexportable

    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, layers.Lambda(lambda x: x * 2)(inputs))
    loaded = as_graded({"model": model})["model"]
    assert isinstance(loaded, Unexportable) and loaded.nature == "unloadable"
    assert "Lambda layer" in loaded.description and "`Lambda`" in loaded.description
