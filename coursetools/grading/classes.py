"""Grading step for exercises whose answer is a class: report on it from the hand-in, not from the kernel.

A class cannot leave the learner's kernel, and what the kernel says about it can be
forged there. So after the notebook ran, for every exercise that declares class
evidence (``exercise(..., reports={...})``) and whose check step ran, the grader takes
the class's source from the hand-in's **answer cells** (and cells the learner added in
that exercise's region), and runs :mod:`coursetools.class_runner` on it in a **fresh
process, sandboxed like a kernel**: only the answer's definitions run there, with the
course's reporter and the evidence writer bound before they do. The report it writes
replaces the kernel's capture of that name, and the clean verdict process judges it
like any other evidence.

A report process that cannot finish (time, memory, a crash) gives the exercise an
``error`` row that says so; it never passes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from coursetools.evidence import MANIFEST, NOT_DONE, ManifestError
from coursetools.grading import manifest, watchdog
from coursetools.grading.collect import Captured
from coursetools.grading.kernel import kernel_env
from coursetools.grading.options import Limits
from coursetools.grading.outcome import clip
from coursetools.grading.run import NotebookRun
from coursetools.grading.sandbox import Sandbox
from coursetools.grading.snapshot import Pristine, write_library
from coursetools.grading.submission import ADDED, ANSWER, Plan

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*\Z")


def answer_source(plan: Plan, exercise_id: str) -> str:
    """The learner's cells of one exercise, in order: its answer cells and the cells added in its region."""
    return "\n\n".join(cell.source for cell in plan.cells
                       if cell.exercise == exercise_id and cell.role in (ANSWER, ADDED))


def report_on_classes(plan: Plan, pristine: Pristine, run: NotebookRun, library: dict[str, bytes], workdir: Path,
                      limits: Limits, sandbox: Sandbox | None) -> None:
    """Replace the kernel's capture of each class by a report made from the hand-in (see the module docstring)."""
    for exercise_id, reporters in pristine.reports.items():
        captured = run.captured.get(exercise_id)
        if captured is None:
            continue  # the check step did not run: the row already says why
        labels = dict(pristine.calls[exercise_id].evidence)
        for name, reporter in reporters.items():
            if captured.entries[name]["kind"] == NOT_DONE:
                continue  # the placeholder: "not done yet"
            problem = _report(captured, name, _class_name(name, labels), reporter,
                              answer_source(plan, exercise_id), library, workdir, limits, sandbox)
            if problem:
                del run.captured[exercise_id]
                run.problems[exercise_id] = problem
                break


def _class_name(name: str, labels: dict[str, str]) -> str:
    """The class to report on: the variable the check cell passes (``check("7.1", layer=FeatureScale)``)."""
    expression = labels.get(name, name).strip()
    return expression if _IDENTIFIER.match(expression) else name


def _report(captured: Captured, name: str, class_name: str, reporter: str, source: str, library: dict[str, bytes],
            workdir: Path, limits: Limits, sandbox: Sandbox | None) -> str | None:
    """Make one report in a fresh process and put it into ``captured``; the learner's message if it failed."""
    base = workdir / "classes" / uuid.uuid4().hex
    out, home, tmp = base / "out", base / "home", base / "tmp"
    for folder in (out, home, tmp):
        folder.mkdir(parents=True)
    lib = write_library(library, base / "lib")
    job = {"source": source, "class": class_name, "reporter": reporter, "folder": str(out), "name": name,
           "exercise": captured.exercise}
    try:
        reason = _run(job, base, lib, [out, home, tmp], limits, sandbox)
        if reason:
            return f"the grader could not use your class `{class_name}` for exercise {captured.exercise}: {reason}."
        try:
            entries, hashes = manifest.read(out, captured.exercise, (name,))
        except ManifestError as error:
            return f"the report on your class `{class_name}` could not be read ({clip(error, 150)})."
        for file in hashes:
            shutil.copyfile(out / file, captured.folder / file, follow_symlinks=False)
        captured.entries[name] = entries[name]
        captured.hashes.update(hashes)
        return None
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(job: dict, base: Path, lib: Path, writable: list[Path], limits: Limits, sandbox: Sandbox | None) -> str | None:
    """Run the class runner on ``job`` under the notebook's limits; why it failed, or None."""
    env = kernel_env(base, lib)
    command = [*_python(), "-m", "coursetools.class_runner"]
    if sandbox is not None:
        sandbox.give(base, *writable)
        command = sandbox.command(command, cwd=base / "tmp", writable=writable, readonly=[lib])
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=env, cwd=str(base / "tmp"), start_new_session=True)
    guard = watchdog.Watchdog(process.pid, memory_bytes=limits.memory_mb * 2**20, seconds=limits.cell_timeout)
    with guard:
        try:
            _, err = process.communicate(json.dumps(job).encode(), timeout=limits.cell_timeout + 30)
        except subprocess.TimeoutExpired:
            watchdog.kill_tree(process.pid)
            _, err = process.communicate()
    watchdog.kill_tree(process.pid)
    if guard.reason == watchdog.MEMORY:
        return f"it used more than {limits.memory_mb} MB of memory"
    if guard.reason == watchdog.TIME:
        return f"using it took more than {limits.cell_timeout:g} s"
    if process.returncode != 0 or not (Path(job["folder"]) / MANIFEST).is_file():
        tail = (err or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit status {process.returncode}"]
        return f"the process using it stopped ({clip(tail[0], 150)})"
    return None


def _python() -> list[str]:
    import sys

    return [sys.executable]
