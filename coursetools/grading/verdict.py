"""The clean process that decides pass or fail from exported evidence.

It never imports or runs learner code: it is started with ``python -I`` (no
``PYTHONPATH``, no user site, no current directory on ``sys.path``), from an empty
working directory, and its ``coursetools`` is served from the grader's in-memory
snapshot, checked against the snapshot's sha256 digest (:mod:`.bootstrap`): no file
on disk is ever imported as ``coursetools``. Everything a verdict uses is imported
before the process says it is ready, which the grader waits for before the first
kernel starts; the ready line names the digest and every module loaded, so the
grader can refuse a process whose code is not the snapshot's. Evidence is
loaded the only safe ways: ``.keras`` files with ``safe_mode=True`` (no lambdas, no
unknown classes), ``.npy`` with ``allow_pickle=False``, JSON.

Each manifest entry is validated again here (:mod:`.manifest`); each file is copied
into this process's own temporary folder and its sha256 compared with the hash the
grader recorded when it collected it, so a file changed afterwards is refused.

Two modes, both printing JSON on the original stdout (library chatter goes to stderr):

* ``verdict JOB.json``: judge one job and exit;
* ``verdict --serve``: read one job per line on stdin, answer one line each.

A job is ``{"id": ..., "hidden": bool, "items": [{"key", "exercise", "folder",
"evidence": {name: entry}, "hashes": {file: sha256}, "labels": {name: variable}}]}``;
the answer is ``{"id": ..., "results": {key: {"status", "message", "not_started"}}}``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, TextIO

PASSED, FAILED, ERROR = "passed", "failed", "error"


def _prepare(snapshot: Any = None) -> dict[str, Any]:
    """Import everything a verdict needs now, so nothing is imported lazily later.

    Returns what the ready line reports. With ``snapshot`` (the bootstrap's importer),
    every ``coursetools`` module loaded must come from it.
    """
    import keras  # noqa: F401  (TensorFlow loads here, once)

    import coursetools.evidence  # noqa: F401
    import coursetools.feedback  # noqa: F401
    import coursetools.grading.manifest  # noqa: F401
    import coursetools.placeholders  # noqa: F401
    from coursetools.registry import all_exercises, hidden_checks

    exercises = all_exercises()
    hidden = hidden_checks()
    modules = sorted(name for name in sys.modules if name.partition(".")[0] == "coursetools")
    if snapshot is not None:
        strays = [name for name in modules if not snapshot.owns(sys.modules[name])]
        if strays:
            raise SystemExit(f"verdict: modules not from the grader's snapshot: {strays}")
    return {"exercises": sorted(exercises), "hidden": sum(len(v) for v in hidden.values()), "modules": modules}


def _load_message(label: str, error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    if "safe_mode" in text or "Lambda" in text or "lambda" in text:
        return (f"`{label}` contains Python code (a lambda or a custom function), which the grader "
                "does not run, for safety. Use built-in Keras layers and activations instead.")
    if "Could not locate" in text or "custom" in text.lower() and "object" in text.lower():
        return (f"`{label}` uses a custom class that the grader does not know. Use built-in Keras "
                "layers for this exercise.")
    return f"`{label}` was saved but could not be loaded by the grader ({text[:200]})."


def judge_item(item: dict[str, Any], scratch: Path, hidden: bool, log: TextIO) -> dict[str, Any]:
    """The verdict for one exercise's evidence; never raises."""
    from coursetools.evidence import entry_files, load_evidence
    from coursetools.feedback import CheckFailed, hidden_check_failed
    from coursetools.grading import manifest
    from coursetools.placeholders import is_not_done
    from coursetools.registry import get_exercise, hidden_checks_for, run_check

    exercise_id = str(item.get("exercise"))
    try:
        exercise = get_exercise(exercise_id)
    except KeyError:
        return {"status": ERROR, "message": f"the grader has no check for exercise {exercise_id}."}
    labels = item.get("labels") or {}
    try:
        entries = manifest.validate(
            {"exercise": exercise_id, "evidence": item.get("evidence")}, exercise_id, exercise.evidence
        )
    except manifest.ManifestError as error:
        return {"status": ERROR, "message": f"the evidence of exercise {exercise_id} was refused ({error})."}
    source = Path(str(item.get("folder")))
    private = Path(tempfile.mkdtemp(dir=scratch))
    hashes = item.get("hashes") or {}
    for file in (file for entry in entries.values() for file in entry_files(entry)):
        try:
            manifest.regular_file(source / file, manifest.MAX_EVIDENCE_BYTES)
            shutil.copyfile(source / file, private / file, follow_symlinks=False)
            if manifest.sha256(private / file) != hashes.get(file):
                raise manifest.ManifestError(f"{file} changed after it was collected")
        except (OSError, manifest.ManifestError) as error:
            return {"status": ERROR, "message": f"the evidence of exercise {exercise_id} was refused ({error})."}

    def load_all() -> dict[str, Any]:
        return {name: load_evidence(entry, private) for name, entry in entries.items()}

    try:
        values = load_all()
    except Exception as error:
        name = next((n for n, e in entries.items() if entry_files(e)), "your answer")
        print(f"[verdict] {exercise_id}: loading failed: {traceback.format_exc()}", file=log)
        return {"status": ERROR, "message": _load_message(labels.get(name, name), error)}
    not_started = any(is_not_done(value) for value in values.values())
    try:
        line = run_check(exercise_id, **values)
    except CheckFailed as failure:
        return {"status": FAILED, "message": failure.message(), "not_started": not_started}
    except Exception:
        print(f"[verdict] {exercise_id}: the check crashed: {traceback.format_exc()}", file=log)
        return {"status": ERROR, "message": (
            f"the check of exercise {exercise_id} could not judge your answer (it is an unusual "
            "kind of value); your instructor can see the details in the grading log.")}
    if hidden:
        for check in hidden_checks_for(exercise_id):
            try:
                fresh = load_all()
                check.check(**{name: fresh[name] for name in check.evidence})
            except Exception:
                print(f"[verdict] {exercise_id}: hidden check {check.name} failed: "
                      f"{traceback.format_exc(limit=3)}", file=log)
                return {"status": FAILED, "message": hidden_check_failed(exercise_id, check.hint), "hidden": check.name}
    return {"status": PASSED, "message": line}


def judge_job(job: dict[str, Any], log: TextIO) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="verdict-") as scratch:
        for item in job.get("items", []):
            key = str(item.get("key"))
            try:
                results[key] = judge_item(item, Path(scratch), bool(job.get("hidden", True)), log)
            except BaseException as error:  # a judge must answer for every item
                print(f"[verdict] {key}: {traceback.format_exc()}", file=log)
                results[key] = {"status": ERROR, "message": f"the grader could not judge this exercise ({type(error).__name__})."}
    try:
        import keras

        keras.backend.clear_session()  # forget this learner's objects before the next job
    except Exception:
        pass
    return {"id": job.get("id"), "results": results}


def main(argv: list[str] | None = None, *, snapshot: Any = None, digest: str | None = None) -> int:
    """Judge jobs; ``snapshot`` and ``digest`` come from :mod:`.bootstrap` (None when imported otherwise)."""
    args = list(sys.argv[1:] if argv is None else argv)
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # whatever a library prints must not be mistaken for an answer
    sys.stdout = sys.stderr
    log = sys.stderr
    prepared = _prepare(snapshot)
    if args and args[0] == "--serve":
        protocol.write(json.dumps({"ready": True, "digest": digest, **prepared}) + "\n")
        for line in sys.stdin:
            try:
                job = json.loads(line)
            except json.JSONDecodeError:
                protocol.write(json.dumps({"id": None, "error": "not JSON"}) + "\n")
                continue
            protocol.write(json.dumps(judge_job(job, log)) + "\n")
        return 0
    if len(args) != 1:
        print("usage: verdict (--serve | JOB.json)", file=sys.stderr)
        return 2
    job = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    protocol.write(json.dumps(judge_job(job, log)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
