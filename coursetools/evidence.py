"""Evidence: the plain values a check judges, how to describe them, how to ship them.

Checks call the ``expect_*`` helpers first, so a wrong kind of answer (``None``,
a function, the ``Dense`` class instead of a layer, a symbolic tensor instead of a
model) gets a message that names what was found. The same values can be written
to disk and read back in a clean process (Keras objects as ``.keras`` files loaded
in safe mode, arrays as ``.npy``, the rest as JSON) for tamper-proof grading.
"""

from __future__ import annotations

import inspect
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from coursetools.feedback import Mistake
from coursetools.placeholders import NotDone


class Unexportable:
    """Stands in, after a round trip to disk, for a value that cannot be saved.

    It remembers how the original was described, so the check's message is the
    same in the grading process as in the learner's kernel.
    """

    def __init__(self, description: str) -> None:
        self.description = description

    def __repr__(self) -> str:
        return f"<unexportable: {self.description}>"


def _is_symbolic(value: object) -> bool:
    return type(value).__name__ == "KerasTensor"


def _is_eager_tensor(value: object) -> bool:
    return hasattr(value, "numpy") and hasattr(value, "shape") and hasattr(value, "dtype")


def describe(value: object) -> str:
    """A short phrase for what a value is, as a learner would recognise it."""
    if isinstance(value, Unexportable):
        return value.description
    if isinstance(value, NotDone):
        return "the not-done placeholder"
    if value is None:
        return "None (did the cell assign the result of a call that returns nothing?)"
    if _is_symbolic(value):
        return f"a symbolic KerasTensor of shape {tuple(value.shape)} (no values, just a placeholder)"
    if inspect.isclass(value):
        return f"the class {value.__name__} itself, not an instance of it"
    if inspect.isfunction(value) or inspect.ismethod(value) or inspect.isbuiltin(value):
        return f"a function ({getattr(value, '__name__', '?')}), not the value it returns"
    if isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, np.ndarray):
        return f"a NumPy array of shape {value.shape}"
    try:
        import keras
    except ImportError:  # pragma: no cover - keras is a dependency
        keras = None
    if keras is not None:
        if isinstance(value, keras.Model):
            return f"a {type(value).__name__} model named {value.name!r}"
        if isinstance(value, keras.layers.Layer):
            return f"a {type(value).__name__} layer named {value.name!r}"
    if _is_eager_tensor(value):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    return f"a {type(value).__name__} object"


def expect_layer(value: object, kind: str, what: str = "your answer") -> Any:
    """Require a single Keras layer whose class is named ``kind`` (e.g. ``"Dense"``)."""
    import keras

    if isinstance(value, keras.Model) or not isinstance(value, keras.layers.Layer):
        hint = f"create one with keras.layers.{kind}(...)"
        if inspect.isclass(value):
            hint = f"call the class to make a layer: keras.layers.{kind}(...)"
        elif isinstance(value, keras.Model):
            hint = "this exercise asks for one layer, not a model that contains layers"
        raise Mistake(
            f"{what} is not a {kind} layer.",
            expected=f"a keras.layers.{kind} instance",
            found=describe(value),
            hint=hint,
        )
    if type(value).__name__ != kind:
        raise Mistake(
            f"{what} is the wrong kind of layer.",
            expected=f"a {kind} layer",
            found=describe(value),
            hint=f"use keras.layers.{kind}(...)",
        )
    return value


def expect_model(value: object, what: str = "your model") -> Any:
    """Require a Keras model (Sequential, functional, or nested)."""
    import keras

    if isinstance(value, keras.Model):
        return value
    hint = "build a model with keras.Sequential([...]) or keras.Model(inputs, outputs)"
    if _is_symbolic(value):
        hint = "that is the output tensor; wrap it: keras.Model(inputs=..., outputs=...)"
    elif isinstance(value, keras.layers.Layer):
        hint = "a single layer is not a model; build a model around it"
    raise Mistake(f"{what} is not a Keras model.", expected="a keras.Model", found=describe(value), hint=hint)


def expect_array(value: object, what: str = "your answer") -> np.ndarray:
    """Require real numbers: a NumPy array, a list of numbers or an eager tensor."""
    bad = (
        value is None
        or isinstance(value, (str, bytes, dict, Unexportable, NotDone))
        or inspect.isclass(value)
        or callable(value) and not _is_eager_tensor(value)
        or _is_symbolic(value)
    )
    if not bad:
        try:
            array = np.asarray(value, dtype="float64")
        except (TypeError, ValueError):
            bad = True
        else:
            return array
    raise Mistake(
        f"{what} is not an array of numbers.",
        expected="a NumPy array (or something np.asarray turns into numbers)",
        found=describe(value),
        hint="compute the numbers with NumPy operations such as @, + and np.maximum",
    )


def expect_int(value: object, what: str = "your answer") -> int:
    """Require a whole number (a Python or NumPy integer, not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise Mistake(f"{what} is not a whole number.", expected="an int", found=describe(value))
    return int(value)


# --- Shipping evidence to a clean process -----------------------------------------


MAX_JSON_CHARS = 200_000  # a plain value larger than this is not an answer worth shipping


def make_exporter() -> Callable[[object, str | Path, str], dict[str, Any]]:
    """Return ``export(value, folder, name) -> manifest entry``, every function it uses bound now.

    Binding matters for grading: the grader calls this in a cell it runs before any
    learner code, so a learner who later patches ``keras.saving.save_model``,
    ``numpy.save``, ``json.dumps`` or this module cannot change what gets written.
    The entries are what :func:`load_evidence` reads back.
    """
    import builtins
    import os

    import keras

    save_model, layer_class = keras.saving.save_model, keras.layers.Layer
    ndarray, asarray, np_save = np.ndarray, np.asarray, np.save
    dumps, loads, join = json.dumps, json.loads, os.path.join
    isinstance_, hasattr_, type_, str_, len_ = builtins.isinstance, builtins.hasattr, builtins.type, builtins.str, builtins.len
    base_exception = builtins.BaseException
    catch_warnings, simplefilter = warnings.catch_warnings, warnings.simplefilter
    describe_ = describe

    def described(value: Any) -> str:
        try:
            return str_(describe_(value))[:300]
        except base_exception:
            return "a value that could not be described"

    def is_eager_tensor(value: Any) -> bool:
        return (
            hasattr_(value, "numpy") and hasattr_(value, "shape") and hasattr_(value, "dtype")
            and type_(value).__name__ != "KerasTensor"
        )

    def export(value: Any, folder: str | Path, name: str) -> dict[str, Any]:
        if isinstance_(value, NotDone):
            return {"kind": "not_done", "exercise": str_(value.exercise_id)[:20]}
        if isinstance_(value, layer_class):
            try:
                with catch_warnings():
                    simplefilter("ignore")  # an unbuilt layer is legitimate evidence: its check says so
                    save_model(value, join(folder, name + ".keras"))
            except base_exception as error:  # a Lambda layer, an unserialisable custom class
                return {"kind": "unexportable", "description": f"{described(value)} that cannot be saved ({type_(error).__name__})"}
            return {"kind": "keras", "file": name + ".keras"}
        if isinstance_(value, ndarray) or is_eager_tensor(value):
            try:
                np_save(join(folder, name + ".npy"), asarray(value), allow_pickle=False)
            except base_exception:
                return {"kind": "unexportable", "description": described(value)}
            return {"kind": "array", "file": name + ".npy"}
        try:
            encoded = dumps(value, allow_nan=True)
        except base_exception:
            return {"kind": "unexportable", "description": described(value)}
        if len_(encoded) > MAX_JSON_CHARS:
            return {"kind": "unexportable", "description": described(value) + " too large to grade"}
        return {"kind": "json", "value": loads(encoded)}

    return export


def export_evidence(value: object, folder: Path, name: str) -> dict[str, Any]:
    """Write ``value`` under ``folder`` and return the manifest entry that loads it."""
    folder.mkdir(parents=True, exist_ok=True)
    return make_exporter()(value, folder, name)


def load_evidence(entry: dict[str, Any], folder: Path) -> object:
    """Inverse of :func:`export_evidence`; Keras files load in safe mode."""
    kind = entry["kind"]
    if kind == "not_done":
        return NotDone(entry["exercise"])
    if kind == "keras":
        import keras

        try:
            return keras.saving.load_model(folder / entry["file"], safe_mode=True, compile=False)
        except Exception as error:  # custom classes, lambdas: what safe mode refuses to rebuild
            first_line = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
            return Unexportable(
                "a saved model that Keras cannot load in safe mode "
                f"({type(error).__name__}: {first_line}); use built-in layers and the functional or "
                "Sequential API, without Lambda layers or custom classes"
            )
    if kind == "array":
        return np.load(folder / entry["file"], allow_pickle=False)
    if kind == "json":
        return entry["value"]
    if kind == "unexportable":
        return Unexportable(entry["description"])
    raise ValueError(f"unknown evidence kind {kind!r}")
