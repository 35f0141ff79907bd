"""The capture writes what it bound before learner code ran, whatever that code patches afterwards.

The grader's preamble cell calls :func:`~coursetools.grading.capture.make_capturer`
before any learner cell; every function the capture (and the evidence format's
writers) will use must be looked up then. Two checks: the functions they return
contain no global look-up at all (their bytecode), and patching everything they
could have looked up later changes nothing they write.
"""

from __future__ import annotations

import dis
import json
import types

import keras
import numpy as np

import coursetools.evidence as evidence
from coursetools.grading import capture, manifest
from coursetools.placeholders import not_done

OWN_MODULES = {"coursetools.evidence", "coursetools.grading.capture"}


def code_objects(function: types.FunctionType, seen: set[int] | None = None):
    """The code of ``function``, of everything nested in it, and of the functions of ours it closes over."""
    seen = set() if seen is None else seen
    if id(function) in seen or getattr(function, "__module__", None) not in OWN_MODULES:
        return
    seen.add(id(function))
    stack = [function.__code__]
    while stack:
        code = stack.pop()
        yield function.__qualname__, code
        stack += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    for cell in function.__closure__ or ():
        try:
            inner = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(inner, types.FunctionType):
            yield from code_objects(inner, seen)


def global_lookups(function: types.FunctionType) -> list[str]:
    return [f"{name}: {instruction.argval}" for name, code in code_objects(function)
            for instruction in dis.get_instructions(code) if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME")]


def test_the_writers_look_up_nothing_global_when_they_run():
    for make in (capture.make_capturer, evidence.make_exporter, evidence.make_problem_entry,
                 evidence.make_manifest_writer):
        written = make()
        assert list(code_objects(written)), make  # the walk sees the function's own code
        assert global_lookups(written) == [], (make.__name__, global_lookups(written))


def test_patching_after_the_capturer_is_made_changes_nothing(tmp_path, monkeypatch):
    capture_now = capture.make_capturer()  # the preamble: before any learner code
    layer = keras.layers.Dense(16, activation="relu")
    getters = {"layer": lambda: layer, "array": lambda: np.arange(3.0), "plain": lambda: {"k": [1, 2]},
               "pending": lambda: not_done("1.1"), "renamed": lambda: undefined_name}  # noqa: F821
    wrong, real_save = keras.layers.Dense(8), keras.saving.save_model

    # What learner code could patch afterwards: Keras, NumPy, json and the format's own module (Keras's
    # internals use json and os themselves, so those are patched only where the capture would use them).
    real_dumps = json.dumps
    monkeypatch.setattr(keras.saving, "save_model", lambda model, path, *a, **k: real_save(wrong, path))
    monkeypatch.setattr(np, "save", lambda path, array, **k: open(path, "wb").write(b"forged"))
    monkeypatch.setattr(json, "dumps", lambda value, *a, **k: (
        '{"exercise": "1.1", "status": "passed"}' if isinstance(value, dict) and ("evidence" in value or "k" in value)
        else real_dumps(value, *a, **k)))
    for name, value in vars(evidence).copy().items():
        if not name.startswith("__"):
            monkeypatch.setattr(evidence, name, "patched by the learner")
    capture_now(str(tmp_path / "evidence"), "1.1", getters)
    monkeypatch.undo()

    entries, _ = manifest.read(tmp_path / "evidence", "1.1", tuple(getters))
    assert entries["layer"] == {"kind": "keras", "file": "layer.keras"}
    assert keras.saving.load_model(tmp_path / "evidence" / "layer.keras").units == 16
    assert np.load(tmp_path / "evidence" / "array.npy").tolist() == [0.0, 1.0, 2.0]
    assert entries["plain"] == {"kind": "json", "value": {"k": [1, 2]}}
    assert entries["pending"] == {"kind": "not_done", "exercise": "1.1"}
    assert entries["renamed"] == {"kind": "missing_name", "name": "undefined_name"}
