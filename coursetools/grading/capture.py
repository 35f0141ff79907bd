"""Kernel side of grading: save the evidence a check needs, instead of checking it.

The grader replaces each check cell by a *capture* cell that hands the check's
evidence (``hidden``, ``y_by_hand``, ...) to the function made here. It writes each
value with :func:`coursetools.evidence.make_exporter` (Keras objects as ``.keras``,
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


def make_capturer() -> Callable[[str, str, dict[str, Callable[[], Any]]], None]:
    """Return ``capture(folder, exercise_id, {name: getter})``, bound to today's functions."""
    import builtins
    import json
    import os

    from coursetools.evidence import make_exporter

    export = make_exporter()  # the one evidence writer, its functions bound now
    dumps = json.dumps
    makedirs, join = os.makedirs, os.path.join
    type_, str_, open_ = builtins.type, builtins.str, builtins.open
    base_exception, name_error = builtins.BaseException, builtins.NameError
    dict_, getattr_ = builtins.dict, builtins.getattr

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
                entries[name] = {"kind": "capture_error", "stage": "get", "error": type_(error).__name__[:100],
                                 "message": str_(error)[:300]}
                continue
            try:
                entries[name] = export(value, folder, name)
            except base_exception as error:  # e.g. the kernel's TMPDIR is gone: the value could not be written
                entries[name] = {"kind": "capture_error", "stage": "save", "error": type_(error).__name__[:100],
                                 "message": str_(error)[:300]}
        with open_(join(folder, MANIFEST), "w", encoding="utf-8") as handle:
            handle.write(dumps({"exercise": exercise_id, "evidence": entries}))

    return capture
