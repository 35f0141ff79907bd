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

A report process that cannot finish (time, memory, too many processes or files, a
crash) gives the exercise an ``error`` row that says so; it never passes. It runs
under the notebook's limits, in a ``pids`` cgroup where there is one, and in the
sandbox with HOME and TMPDIR in a tmpfs of ``--disk-mb``, like a kernel.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from coursetools.evidence import MANIFEST, NOT_DONE, ManifestError
from coursetools.grading import cgroups, manifest, watchdog
from coursetools.grading.collect import Captured
from coursetools.grading.kernel import kernel_env, log_tail
from coursetools.grading.options import Limits
from coursetools.grading.outcome import clip
from coursetools.grading.run import SCRATCH_HEADROOM, NotebookRun
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
    out = base.with_name(base.name + "-out")  # outside ``base``: in the sandbox, base is the runner's own tmpfs
    home, tmp = base / "home", base / "tmp"
    for folder in (out, home, tmp):
        folder.mkdir(parents=True)
    lib = write_library(library, base / "lib")
    job = {"source": source, "class": class_name, "reporter": reporter, "folder": str(out), "name": name,
           "exercise": captured.exercise}
    try:
        reason = _run(job, base, lib, out, limits, sandbox)
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
        shutil.rmtree(out, ignore_errors=True)


def _run(job: dict, base: Path, lib: Path, out: Path, limits: Limits, sandbox: Sandbox | None) -> str | None:
    """Run the class runner on ``job`` under the notebook's limits (time, memory, processes, disk: in the
    sandbox its HOME and TMPDIR are a tmpfs of ``--disk-mb``); why it failed, or None."""
    env = kernel_env(base, lib)
    command = [*_python(), "-m", "coursetools.class_runner"]
    writable = [out, base / "home", base / "tmp"]
    errors = base / "runner.log"  # its stderr, on the grader's disk: counted, and read back only at its end
    if sandbox is not None:
        sandbox.give(base, *writable)
        command = sandbox.command(command, cwd=base / "tmp", writable=writable, readonly=[lib],
                                  scratch=(base, limits.disk_mb * 2**20 + SCRATCH_HEADROOM))
        disk = watchdog.DiskMeter(limits.disk_mb * 2**20, [out, errors], tmpfs=base)
    else:
        disk = watchdog.DiskMeter(limits.disk_mb * 2**20, [base, out])
    group = cgroups.create(limits.max_processes + cgroups.thread_allowance())
    try:
        with open(errors, "wb") as stderr:
            process = subprocess.Popen(group.wrap(command) if group else command, stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=str(base / "tmp"),
                                       start_new_session=True)
            guard = watchdog.Watchdog(process.pid, memory_bytes=limits.memory_mb * 2**20, seconds=limits.cell_timeout,
                                      max_processes=limits.max_processes, group=group, disk=disk)
            with guard:
                try:
                    process.communicate(json.dumps(job).encode(), timeout=limits.cell_timeout + 30)
                except subprocess.TimeoutExpired:
                    watchdog.kill_tree(process.pid)
                    process.communicate()
                guard.check()  # a limit passed just before it ended
            watchdog.kill_tree(process.pid)
    finally:
        if group is not None:
            group.remove()
    reason = guard.reason or (watchdog.DISK if sandbox is not None and _scratch_was_full(out) else None)
    return _failure(reason, process.returncode, Path(job["folder"]), errors, limits)


def _scratch_was_full(out: Path) -> bool:
    """The report says a write failed for lack of space: in the sandbox, that is its tmpfs of ``--disk-mb``
    filled up (the sandbox, and the tmpfs with it, is gone by now, so it cannot be measured after the fact)."""
    try:
        text = (out / MANIFEST).read_text(encoding="utf-8", errors="replace")[:100_000]
    except OSError:
        return False
    return "No space left on device" in text or "[Errno 28]" in text


def _failure(reason: str | None, returncode: int | None, folder: Path, errors: Path, limits: Limits) -> str | None:
    """Why the class runner gave no report, in the learner's words; None when it gave one."""
    if reason == watchdog.MEMORY:
        return f"it used more than {limits.memory_mb} MB of memory"
    if reason == watchdog.TIME:
        return f"using it took more than {limits.cell_timeout:g} s"
    if reason == watchdog.PROCESSES:
        return (f"using it started more than {limits.max_processes} processes at once (or a great many threads); "
                "remove the code that starts them")
    if reason == watchdog.DISK:
        return f"using it wrote more than {limits.disk_mb} MB of files; remove the code that writes them"
    if returncode != 0 or not (folder / MANIFEST).is_file():
        tail = log_tail(errors).strip().splitlines()[-1:] or [f"exit status {returncode}"]
        return f"the process using it stopped ({clip(tail[0], 150)})"
    return None


def _python() -> list[str]:
    import sys

    return [sys.executable]
