"""Kernel side of grading: save the evidence a check needs, instead of checking it.

The grader replaces each check cell by a *capture* cell that hands the check's
evidence (``hidden``, ``y_by_hand``, ...) to the function made here. It writes each
value in the format of :mod:`coursetools.evidence` (Keras objects as ``.keras``,
arrays as ``.npy``, plain values as JSON) plus a ``manifest.json`` into a folder
whose name the kernel learns only when that capture cell runs.

:func:`make_capturer` runs in a cell the grader injects *before any learner code*,
and binds every function it will use at that moment. Learner code that later patches
``keras.saving.save_model``, ``numpy.save``, ``builtins.open``, ``print`` or this
module's attributes therefore does not change what is saved. Nothing here decides
pass or fail: a clean process judges the files (:mod:`coursetools.grading.verdict`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MANIFEST = "manifest.json"
MAX_JSON_CHARS = 200_000


def make_capturer() -> Callable[[str, str, dict[str, Callable[[], Any]]], None]:
    """Return ``capture(folder, exercise_id, {name: getter})``, bound to today's functions."""
    import builtins
    import json
    import os
    import warnings

    import keras
    import numpy as np

    from coursetools.evidence import describe
    from coursetools.placeholders import NotDone

    save_model = keras.saving.save_model
    layer_class = keras.layers.Layer
    ndarray = np.ndarray
    asarray = np.asarray
    np_save = np.save
    dumps, loads = json.dumps, json.loads
    makedirs, join = os.makedirs, os.path.join
    isinstance_, hasattr_, type_, str_, len_ = builtins.isinstance, builtins.hasattr, builtins.type, builtins.str, builtins.len
    open_ = builtins.open
    base_exception, name_error = builtins.BaseException, builtins.NameError
    dict_, getattr_ = builtins.dict, builtins.getattr
    catch_warnings, simplefilter = warnings.catch_warnings, warnings.simplefilter

    def describe_safely(value: Any) -> str:
        try:
            return str_(describe(value))[:300]
        except base_exception:
            return "a value that could not be described"

    def is_eager_tensor(value: Any) -> bool:
        return (
            hasattr_(value, "numpy") and hasattr_(value, "shape") and hasattr_(value, "dtype")
            and type_(value).__name__ != "KerasTensor"
        )

    def export(value: Any, folder: str, name: str) -> dict[str, Any]:
        if isinstance_(value, NotDone):
            return {"kind": "not_done", "exercise": str_(value.exercise_id)[:20]}
        if isinstance_(value, layer_class):
            path = join(folder, name + ".keras")
            try:
                with catch_warnings():
                    # An unbuilt layer is legitimate evidence (its check says it is unbuilt).
                    simplefilter("ignore")
                    save_model(value, path)
            except base_exception as error:
                return {"kind": "unexportable",
                        "description": f"{describe_safely(value)} that cannot be saved ({type_(error).__name__})"}
            return {"kind": "keras", "file": name + ".keras"}
        if isinstance_(value, ndarray) or is_eager_tensor(value):
            try:
                np_save(join(folder, name + ".npy"), asarray(value), allow_pickle=False)
            except base_exception:
                return {"kind": "unexportable", "description": describe_safely(value)}
            return {"kind": "array", "file": name + ".npy"}
        try:
            encoded = dumps(value, allow_nan=True)
        except base_exception:
            return {"kind": "unexportable", "description": describe_safely(value)}
        if len_(encoded) > MAX_JSON_CHARS:
            return {"kind": "unexportable", "description": describe_safely(value) + " too large to grade"}
        return {"kind": "json", "value": loads(encoded)}

    def capture(folder: str, exercise_id: str, getters: dict[str, Callable[[], Any]]) -> None:
        makedirs(folder, exist_ok=False)
        entries: dict[str, Any] = {}
        for name, get in dict_(getters).items():
            try:
                value = get()
            except name_error as error:
                missing = getattr_(error, "name", None) or name
                entries[name] = {"kind": "missing_name", "name": str_(missing)[:100]}
                continue
            except base_exception as error:
                entries[name] = {"kind": "capture_error", "error": type_(error).__name__[:100],
                                 "message": str_(error)[:300]}
                continue
            try:
                entries[name] = export(value, folder, name)
            except base_exception as error:
                entries[name] = {"kind": "capture_error", "error": type_(error).__name__[:100],
                                 "message": str_(error)[:300]}
        with open_(join(folder, MANIFEST), "w", encoding="utf-8") as handle:
            handle.write(dumps({"exercise": exercise_id, "evidence": entries}))

    return capture
