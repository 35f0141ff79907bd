"""The evidence format: how the values a check judges travel from a kernel to a clean process.

Keras objects travel as ``.keras`` files loaded in safe mode, arrays as ``.npy``,
the rest as JSON, described by one manifest entry per value. The check cell judges
what comes back from this round trip (:func:`as_graded`), and so does the grader's
verdict process, so both always agree.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from coursetools.expect import Unexportable, describe, nature
from coursetools.placeholders import NotDone


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
