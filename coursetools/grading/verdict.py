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

Each manifest entry is validated again here, by the evidence format's rules
(:func:`coursetools.evidence.validate_manifest`); each file is copied
into this process's own temporary folder and its sha256 compared with the hash the
grader recorded when it collected it, so a file changed afterwards is refused.

Two modes, both printing JSON on the original stdout (library chatter goes to stderr):

* ``verdict JOB.json``: judge one job and exit;
* ``verdict --serve``: read one job per line on stdin, answer one line each.

Jobs and answers are the typed messages of :mod:`.protocol`; status names come from
:mod:`.outcome`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from coursetools.grading.outcome import ERROR, FAILED, PASSED
from coursetools.grading.protocol import Answer, Job, JobItem, ProtocolError, Ready, Verdict


def _prepare(snapshot: Any = None) -> Ready:
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
    return Ready(None, tuple(sorted(exercises)), sum(len(v) for v in hidden.values()), tuple(modules))


def _load_message(label: str, error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    if "Lambda" in text or "lambda" in text:
        return (f"`{label}` contains Python code (a lambda or a custom function), which the grader "
                "does not run, for safety. Use built-in Keras layers and activations instead.")
    if "Could not locate" in text or "custom" in text.lower() and "object" in text.lower():
        return (f"`{label}` uses a custom class that the grader does not know. Use built-in Keras "
                "layers for this exercise.")
    return f"`{label}` was saved but could not be loaded by the grader ({text[:200]})."


class _Refused(Exception):
    """A step of judging ends with this verdict (the evidence is refused or cannot be loaded)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict


def judge_item(item: JobItem, scratch: Path, hidden: bool, log: TextIO) -> Verdict:
    """The verdict for one exercise's evidence; never raises.

    Steps: validate the manifest entries again, copy the files into a private folder
    checking their hashes, load them, run the visible check, then the hidden ones.
    """
    try:
        entries = _validated_entries(item)
        private = _private_copy(item, entries, scratch)
        values = _loaded(item, entries, private, log)
    except _Refused as refused:
        return refused.verdict
    return _checked(item.exercise, values, lambda: _load(entries, private), hidden, log)


def _validated_entries(item: JobItem) -> dict[str, dict[str, Any]]:
    from coursetools.evidence import ManifestError, validate_manifest
    from coursetools.registry import get_exercise

    try:
        exercise = get_exercise(item.exercise)
    except KeyError:
        raise _Refused(Verdict(ERROR, f"the grader has no check for exercise {item.exercise}.")) from None
    try:
        return validate_manifest({"exercise": item.exercise, "evidence": item.evidence}, item.exercise,
                                 exercise.evidence)
    except ManifestError as error:
        raise _Refused(_refused(item, error)) from None


def _refused(item: JobItem, error: Exception) -> Verdict:
    return Verdict(ERROR, f"the evidence of exercise {item.exercise} was refused ({error}).")


def _private_copy(item: JobItem, entries: dict[str, dict[str, Any]], scratch: Path) -> Path:
    """The evidence files copied into a folder of this process, each with the hash the grader recorded."""
    from coursetools.evidence import ManifestError
    from coursetools.grading.manifest import copy_verified

    private = Path(tempfile.mkdtemp(dir=scratch))
    try:
        copy_verified(entries, Path(item.folder), private, item.hashes)
    except (OSError, ManifestError) as error:
        raise _Refused(_refused(item, error)) from None
    return private


def _load(entries: dict[str, dict[str, Any]], private: Path) -> dict[str, Any]:
    """The evidence values, loaded the safe ways (see the module docstring)."""
    from coursetools.evidence import load_evidence

    return {name: load_evidence(entry, private) for name, entry in entries.items()}


def _loaded(item: JobItem, entries: dict[str, dict[str, Any]], private: Path, log: TextIO) -> dict[str, Any]:
    """:func:`_load`, or the learner's message when a value cannot be loaded."""
    from coursetools.evidence import entry_files

    try:
        return _load(entries, private)
    except Exception as error:
        name = next((n for n, e in entries.items() if entry_files(e)), "your answer")
        print(f"[verdict] {item.exercise}: loading failed: {traceback.format_exc()}", file=log)
        raise _Refused(Verdict(ERROR, _load_message(item.labels.get(name, name), error))) from None


def _checked(exercise_id: str, values: dict[str, Any], reload: Callable[[], dict[str, Any]], hidden: bool,
             log: TextIO) -> Verdict:
    """The visible check's verdict; when it passes and ``hidden``, each hidden check on a fresh load."""
    from coursetools.feedback import CheckFailed, hidden_check_failed
    from coursetools.placeholders import is_not_done
    from coursetools.registry import hidden_checks_for, run_check

    not_started = any(is_not_done(value) for value in values.values())
    try:
        line = run_check(exercise_id, **values)
    except CheckFailed as failure:
        return Verdict(FAILED, failure.message(), not_started=not_started)
    except Exception:
        print(f"[verdict] {exercise_id}: the check crashed: {traceback.format_exc()}", file=log)
        return Verdict(ERROR, (
            f"the check of exercise {exercise_id} could not judge your answer (it is an unusual "
            "kind of value); your instructor can see the details in the grading log."))
    for check in hidden_checks_for(exercise_id) if hidden else ():
        try:
            fresh = reload()
            check.check(**{name: fresh[name] for name in check.evidence})
        except Exception:
            print(f"[verdict] {exercise_id}: hidden check {check.name} failed: "
                  f"{traceback.format_exc(limit=3)}", file=log)
            return Verdict(FAILED, hidden_check_failed(exercise_id, check.hint), hidden=check.name)
    return Verdict(PASSED, line)


def judge_job(job: Job, log: TextIO) -> Answer:
    results: dict[str, Verdict] = {}
    with tempfile.TemporaryDirectory(prefix="verdict-") as scratch:
        for item in job.items:
            try:
                results[item.key] = judge_item(item, Path(scratch), job.hidden, log)
            except BaseException as error:  # a judge must answer for every item
                print(f"[verdict] {item.key}: {traceback.format_exc()}", file=log)
                results[item.key] = Verdict(ERROR, f"the grader could not judge this exercise ({type(error).__name__}).")
    try:
        import keras

        keras.backend.clear_session()  # forget this learner's objects before the next job
    except Exception:
        pass
    return Answer(job.id, results)


def _answer(line: str, log: TextIO) -> Answer:
    """The answer to one line of input: a job's verdicts, or why the line is not a job."""
    try:
        job = Job.from_line(line)
    except ProtocolError as error:
        return Answer(None, {}, str(error))
    return judge_job(job, log)


def main(argv: list[str] | None = None, *, snapshot: Any = None, digest: str | None = None) -> int:
    """Judge jobs; ``snapshot`` and ``digest`` come from :mod:`.bootstrap` (None when imported otherwise)."""
    args = list(sys.argv[1:] if argv is None else argv)
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # whatever a library prints must not be mistaken for an answer
    sys.stdout = sys.stderr
    log = sys.stderr
    ready = _prepare(snapshot)
    if args and args[0] == "--serve":
        protocol.write(replace(ready, digest=digest).to_line())
        for line in sys.stdin:
            protocol.write(_answer(line, log).to_line())
        return 0
    if len(args) != 1:
        print("usage: verdict (--serve | JOB.json)", file=sys.stderr)
        return 2
    protocol.write(_answer(Path(args[0]).read_text(encoding="utf-8"), log).to_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
