"""Kernel side of grading: save the evidence a check needs, instead of checking it.

The grader replaces each check cell by a *capture* cell that hands the check's
evidence (``hidden``, ``y_by_hand``, ...) to the function made here. It writes each
value in the evidence format (:mod:`coursetools.evidence`: Keras objects as
``.keras``, arrays as ``.npy``, plain values as JSON), or the entry that says why
there is no value, plus the folder's manifest, into a folder whose name the kernel
learns only when that capture cell runs.

:func:`make_capturer` runs in a cell the grader injects *before any learner code*,
and binds every function it will use at that moment (the evidence format's writers
bind theirs the same way). Learner code that later patches
``keras.saving.save_model``, ``numpy.save``, ``builtins.open``, ``print`` or this
module's attributes therefore does not change what is saved. Nothing here decides
pass or fail: a clean process judges the files (:mod:`coursetools.grading.verdict`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def make_capturer() -> Callable[[str, str, dict[str, Callable[[], Any]]], None]:
    """Return ``capture(folder, exercise_id, {name: getter})``, bound to today's functions."""
    import builtins
    import os

    from coursetools.evidence import GET, SAVE, make_exporter, make_manifest_writer, make_problem_entry

    export, problem, write_manifest = make_exporter(), make_problem_entry(), make_manifest_writer()
    makedirs, dict_, base_exception = os.makedirs, builtins.dict, builtins.BaseException
    getting, saving = GET, SAVE

    def capture(folder: str, exercise_id: str, getters: dict[str, Callable[[], Any]]) -> None:
        makedirs(folder, exist_ok=False)
        entries: dict[str, Any] = {}
        for name, get in dict_(getters).items():
            try:
                value = get()
            except base_exception as error:  # the answer's variable is missing, or computing the evidence raised
                entries[name] = problem(name, getting, error)
                continue
            try:
                entries[name] = export(value, folder, name)
            except base_exception as error:  # e.g. the kernel's TMPDIR is gone: the value could not be written
                entries[name] = problem(name, saving, error)
        write_manifest(folder, exercise_id, entries)

    return capture
