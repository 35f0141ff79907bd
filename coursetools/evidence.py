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
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from coursetools.feedback import Mistake
from coursetools.placeholders import NotDone


class Unexportable:
    """Stands in, after a round trip to disk, for a value that cannot be saved.

    It remembers how the original was described, and what sort of thing it was
    (``nature``: a symbolic tensor, a class, a function, a layer...), so that a
    check gives the same message and hint in the grading process as it would have
    given on the original object.
    """

    NATURES = ("symbolic", "class", "function", "model", "layer", "subclassed", "other")

    def __init__(self, description: str, nature: str = "other") -> None:
        self.description = description
        self.nature = nature if nature in self.NATURES else "other"

    def __repr__(self) -> str:
        return f"<unexportable: {self.description}>"


def _is_symbolic(value: object) -> bool:
    return type(value).__name__ == "KerasTensor" or (
        isinstance(value, Unexportable) and value.nature == "symbolic"
    )


def _is_class(value: object) -> bool:
    return inspect.isclass(value) or (isinstance(value, Unexportable) and value.nature == "class")


def nature(value: object) -> str:
    """What sort of thing a value that cannot be saved is, for :class:`Unexportable`."""
    if _is_symbolic(value):
        return "symbolic"
    if inspect.isclass(value):
        return "class"
    if inspect.isfunction(value) or inspect.ismethod(value) or inspect.isbuiltin(value):
        return "function"
    try:
        import keras
    except ImportError:  # pragma: no cover - keras is a dependency
        return "other"
    if isinstance(value, keras.Model):
        return "model"
    if isinstance(value, keras.layers.Layer):
        return "layer"
    return "other"


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
        if _is_class(value):
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
    if isinstance(value, Unexportable) and value.nature == "subclassed":
        raise Mistake(
            f"{what} is not built with the functional API or Sequential.",
            expected="a model made of built-in Keras layers: keras.Model(inputs, outputs) or keras.Sequential([...])",
            found=value.description,
            hint="a subclassed model runs code the grader never executes; build this one from "
            "keras.Input and layer calls",
        )
    if _is_symbolic(value):
        hint = "that is the output tensor; wrap it: keras.Model(inputs=..., outputs=...)"
    elif isinstance(value, keras.layers.Layer) or isinstance(value, Unexportable) and value.nature == "layer":
        hint = "a single layer is not a model; build a model around it"
    raise Mistake(f"{what} is not a Keras model.", expected="a keras.Model", found=describe(value), hint=hint)


def expect_array(
    value: object,
    what: str = "your answer",
    hint: str = "assign the array your code computes (predict() and keras.ops.convert_to_numpy give NumPy arrays)",
) -> np.ndarray:
    """Require real numbers: a NumPy array, a list of numbers or an eager tensor.

    ``hint`` says how *this* exercise gets its numbers: a generic hint ("use @ and
    np.maximum") misleads a learner whose task is to add an axis or to load data.
    """
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
        hint=hint,
    )


def expect_int(value: object, what: str = "your answer") -> int:
    """Require a whole number (a Python or NumPy integer, not a bool).

    The message names what was found truthfully: ``1210.0`` *is* a whole number,
    only of the wrong type, so it is called a float; text is called text.
    """
    if isinstance(value, (bool, np.bool_)):
        raise Mistake(f"{what} is a bool, not a whole number.", expected="an int", found=describe(value))
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        raise Mistake(
            f"{what} is the float {float(value)!r}, not an int.",
            expected="an int (a count has no decimal point)",
            found=describe(value),
            hint="wrap the expression in int(...), or use // instead of / where you divide",
        )
    if isinstance(value, str):
        raise Mistake(
            f"{what} is text, not a whole number.",
            expected="an int",
            found=describe(value),
            hint="remove the quotes: write the number (or the arithmetic) itself",
        )
    raise Mistake(f"{what} is not a whole number.", expected="an int", found=describe(value))


# --- Shipping evidence to a clean process -----------------------------------------
#
# A manifest entry describes one value. Leaves: ``keras`` (a ``.keras`` file), ``array``
# (a ``.npy`` file), ``json`` (a plain value), ``not_done``, ``unexportable``. A list,
# tuple or dict that holds anything but plain values is a ``tree`` whose items are
# entries themselves, their files named ``<name>.<i>.npy``, ``<name>.<i>.keras``, ...
# NumPy scalars become plain numbers. The check sees the same value in the learner's
# kernel and in the grader, because both judge what came back from this round trip.

MAX_JSON_CHARS = 200_000  # a plain value larger than this is not an answer worth shipping
MAX_TREE_DEPTH = 4  # a list of lists of arrays is an answer; deeper nesting is not
MAX_TREE_ITEMS = 256  # items in one exported list, tuple or dict
MAX_KEY_CHARS = 100
TREE_TYPES = ("list", "tuple", "dict")


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
    ndarray, generic, asarray, np_save = np.ndarray, np.generic, np.asarray, np.save
    dumps, loads, join = json.dumps, json.loads, os.path.join
    isinstance_, hasattr_, type_, str_, len_ = builtins.isinstance, builtins.hasattr, builtins.type, builtins.str, builtins.len
    list_, tuple_, dict_, enumerate_ = builtins.list, builtins.tuple, builtins.dict, builtins.enumerate
    bool_, int_, float_ = builtins.bool, builtins.int, builtins.float
    base_exception, os_error = builtins.BaseException, builtins.OSError
    catch_warnings, simplefilter = warnings.catch_warnings, warnings.simplefilter
    describe_, nature_ = describe, nature
    plain_scalars = (bool_, int_, float_, str_, type_(None))

    def described(value: Any) -> str:
        try:
            return str_(describe_(value))[:300]
        except base_exception:
            return "a value that could not be described"

    def unexportable(value: Any, why: str = "") -> dict[str, Any]:
        try:
            kind = nature_(value)
        except base_exception:
            kind = "other"
        return {"kind": "unexportable", "description": (described(value) + why)[:300], "nature": kind}

    def is_eager_tensor(value: Any) -> bool:
        return (
            hasattr_(value, "numpy") and hasattr_(value, "shape") and hasattr_(value, "dtype")
            and type_(value).__name__ != "KerasTensor"
        )

    def is_plain(value: Any, depth: int) -> bool:
        """Only JSON scalars, lists and string-keyed dicts (a tuple is not plain: it stays a tuple)."""
        if isinstance_(value, plain_scalars):
            return True
        if depth > MAX_TREE_DEPTH:
            return False
        if type_(value) is list_:
            return all(is_plain(item, depth + 1) for item in value)
        if type_(value) is dict_:
            return all(isinstance_(k, str_) and is_plain(v, depth + 1) for k, v in value.items())
        return False

    def fits(value: Any, depth: int) -> bool:
        """Containers no deeper and no longer than the grader reads (checked before writing anything)."""
        if not isinstance_(value, (list_, tuple_, dict_)) or is_plain(value, depth):
            return True  # plain values travel as one JSON value, limited by its length
        if depth >= MAX_TREE_DEPTH or len_(value) > MAX_TREE_ITEMS:
            return False
        items = value.values() if isinstance_(value, dict_) else value
        return all(fits(item, depth + 1) for item in items)

    def export(value: Any, folder: str | Path, name: str, depth: int = 0) -> dict[str, Any]:
        if depth == 0 and not fits(value, 0):
            return unexportable(value, " nested too deeply or too long to grade")
        if isinstance_(value, NotDone):
            return {"kind": "not_done", "exercise": str_(value.exercise_id)[:20]}
        if isinstance_(value, layer_class):
            try:
                with catch_warnings():
                    simplefilter("ignore")  # an unbuilt layer is legitimate evidence: its check says so
                    save_model(value, join(folder, name + ".keras"))
            except os_error:  # the disk, not the value: nothing to say about the answer
                raise
            except base_exception as error:  # a Lambda layer, an unserialisable custom class
                return unexportable(value, f" that cannot be saved ({type_(error).__name__})")
            return {"kind": "keras", "file": name + ".keras"}
        if isinstance_(value, generic):  # a NumPy scalar: np.sum(...), np.prod(...), an array element
            try:
                value = value.item()
            except base_exception:
                return unexportable(value)
            if not isinstance_(value, plain_scalars):  # complex, datetime, bytes
                return unexportable(value)
        if isinstance_(value, ndarray) or is_eager_tensor(value):
            try:
                np_save(join(folder, name + ".npy"), asarray(value), allow_pickle=False)
            except os_error:
                raise
            except base_exception:
                return unexportable(value)
            return {"kind": "array", "file": name + ".npy"}
        if isinstance_(value, (list_, tuple_, dict_)) and not is_plain(value, depth):
            if isinstance_(value, dict_):
                keys = list_(value)
                if not all(isinstance_(k, str_) and len_(k) <= MAX_KEY_CHARS for k in keys):
                    return unexportable(value, " whose keys are not all short strings")
                items = [value[k] for k in keys]
            else:
                keys, items = None, list_(value)
            entries = [export(item, folder, f"{name}.{i}", depth + 1) for i, item in enumerate_(items)]
            entry = {"kind": "tree", "type": "dict" if keys is not None else ("tuple" if isinstance_(value, tuple_) else "list"),
                     "items": entries}
            if keys is not None:
                entry["keys"] = keys
            return entry
        try:
            encoded = dumps(value, allow_nan=True)
        except base_exception:
            return unexportable(value)
        if len_(encoded) > MAX_JSON_CHARS:
            return unexportable(value, " too large to grade")
        return {"kind": "json", "value": loads(encoded)}

    return export


def export_evidence(value: object, folder: Path, name: str) -> dict[str, Any]:
    """Write ``value`` under ``folder`` and return the manifest entry that loads it."""
    folder.mkdir(parents=True, exist_ok=True)
    return make_exporter()(value, folder, name)


_UNKNOWN_CLASS = re.compile(r"Could not locate class '([^']{1,80})'")


def entry_files(entry: dict[str, Any]) -> list[str]:
    """Every file a (validated) manifest entry refers to, nested entries included."""
    if entry.get("kind") == "tree":
        return [name for item in entry["items"] for name in entry_files(item)]
    return [entry["file"]] if "file" in entry else []


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
            own_class = _UNKNOWN_CLASS.search(first_line)
            if own_class:
                return Unexportable(
                    f"an object of your own class {own_class.group(1)!r} (subclassed), which the grader "
                    "cannot rebuild without running your code",
                    "subclassed",
                )
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
        return Unexportable(entry["description"], entry.get("nature", "other"))
    if kind == "tree":
        items = [load_evidence(item, folder) for item in entry["items"]]
        if entry["type"] == "dict":
            return dict(zip(entry["keys"], items))
        return tuple(items) if entry["type"] == "tuple" else items
    raise ValueError(f"unknown evidence kind {kind!r}")


def as_graded(evidence: dict[str, object]) -> dict[str, object]:
    """The evidence exactly as the grader's clean process will see it: exported, then loaded.

    The check cell judges this, not the live objects, so a learner's notebook and the
    instructor's grading always agree on the verdict.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="evidence-") as folder:
        export = make_exporter()
        return {name: load_evidence(export(value, folder, name), Path(folder)) for name, value in evidence.items()}
