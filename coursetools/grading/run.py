"""Run a rebuilt notebook in a fresh kernel, in a scratch folder, under limits.

Each run gets its own folder (kernel working directory, HOME, TMPDIR, a private copy
of the released ``coursetools`` written from memory) and a fresh kernel
(:mod:`.kernel`, sandboxed where the machine offers it), so nothing one learner's code
writes can reach another learner's run or the course files the grader uses. Check
cells become *capture* cells that only save evidence (:mod:`.capture`) into a folder
outside the scratch folder, whose name the kernel learns when that cell runs; right
after it, the grader collects the folder (:mod:`.collect`).

:func:`run_plan` reads as its steps: make the scratch folders, assemble the notebook
the kernel runs, start the kernel, execute the cells one by one and interpret each
reply, then stop everything and remove the folders.

Limits (:mod:`.options`): a time limit per cell (nbclient), and a watchdog for the whole
notebook's time, the kernel tree's memory, its number of processes (in a ``pids`` cgroup
of its own where the grader may make one, :mod:`.cgroups`) and what it wrote to its
folders (in the sandbox a tmpfs of ``--disk-mb``) (:mod:`.watchdog`), asked again after
every cell. Outputs are counted, never kept, so a learner who prints gigabytes cannot
exhaust the grader's memory.
"""

from __future__ import annotations

import secrets
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from coursetools.grading import cgroups, watchdog
from coursetools.grading.collect import Captured, collect
from coursetools.grading.kernel import (
    RUN_MARKER, CountingClient, ipc_folder, kernel_env, log_tail, new_client, start_kernel, stop_kernel,
)
from coursetools.grading.options import Limits
from coursetools.grading.outcome import clip
from coursetools.grading.sandbox import Sandbox
from coursetools.grading.snapshot import CheckCall, write_library
from coursetools.grading.submission import ADDED, ANSWER, CHECK, SETUP, Plan, PlannedCell


@dataclass
class NotebookRun:
    """What running one rebuilt notebook produced, in terms the grader can report."""

    captured: dict[str, Captured] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # exercise -> why it has no evidence
    raised: dict[str, str] = field(default_factory=dict)  # exercise -> its answer cell raised
    overflow: dict[str, str] = field(default_factory=dict)  # exercise -> its answer printed too much
    stopped: str | None = None  # why the run ended early (learner message)
    stopped_in: str | None = None  # the exercise whose answer region stopped it, if any
    notes: list[str] = field(default_factory=list)
    infrastructure: str | None = None  # the grader itself failed (not the learner)
    seconds: float = 0.0
    peak_rss: int = 0
    disk_peak: int = 0  # the most the kernel had written to its folders at once
    peak_processes: int = 0  # the most processes the kernel ran at once, as the watchdog counted them
    log: str = ""  # tail of the kernel's own stdout/stderr, for the instructor


@dataclass
class Scratch:
    """The folders of one run: the kernel's own (under ``base``), its evidence, what the grader collected."""

    workdir: Path
    run_id: str
    base: Path  # runs/<run id>: course/exercises (the working folder), home, tmp, lib, kernel.log
    library: Path  # the private copy of the released coursetools (read-only in the sandbox)
    evidence: Path  # where capture cells write, outside the working folder
    collected: Path  # where the grader moves each capture folder, once its cell has run
    ipc: Path | None = None  # the kernel's socket folder, when it is sandboxed

    @property
    def cwd(self) -> Path:
        return self.base / "course" / "exercises"

    @property
    def data(self) -> Path:
        return self.base / "course" / "data"

    @property
    def log(self) -> Path:
        return self.base / "kernel.log"


@dataclass
class Assembled:
    """The notebook the kernel runs: the grader's preamble, then the plan's cells (check cells as captures)."""

    nb: Any
    planned: list[PlannedCell | None]  # per cell of ``nb``: the plan's cell, or None for the preamble
    capture_folders: dict[int, Path]  # capture cell index -> the folder it writes


def run_plan(
    plan: Plan,
    calls: dict[str, CheckCall],
    library: dict[str, bytes],
    workdir: Path,
    limits: Limits,
    data_dir: Path | None = None,
    sandbox: Sandbox | None = None,
) -> NotebookRun:
    """Execute ``plan`` and collect the evidence of every exercise whose check step ran (in ``sandbox`` if given)."""
    started = time.monotonic()
    run = NotebookRun()
    scratch = make_scratch(workdir, library, data_dir)
    notebook = assemble(plan, calls, scratch.evidence)
    client = new_client(notebook.nb, limits, scratch.cwd)
    group = cgroups.create(limits.max_processes + cgroups.thread_allowance())
    try:
        with open(scratch.log, "wb") as log:
            try:
                process = _start(client, scratch, sandbox, log, limits, group)
            except Exception as error:  # no learner code has run: this is the grader's problem
                run.infrastructure = f"could not start a Python kernel: {type(error).__name__}: {clip(error, 300)}"
                stop_kernel(client, None, scratch.run_id)
            else:
                _run_cells(_Execution(client, notebook, calls, scratch, limits, run), process, group,
                           disk_meter(scratch, limits, sandbox))
    finally:
        if group is not None:
            group.remove()
    run.log = log_tail(scratch.log)
    run.seconds = time.monotonic() - started
    _remove(scratch.base, scratch.evidence, scratch.ipc)
    return run


def make_scratch(workdir: Path, library: dict[str, bytes], data_dir: Path | None) -> Scratch:
    """Fresh folders for one run, the released library written from memory, the course's data copied."""
    run_id = uuid.uuid4().hex
    base = workdir / "runs" / run_id
    for folder in (base / "course" / "exercises", base / "home", base / "tmp"):
        folder.mkdir(parents=True)
    library_dir = write_library(library, base / "lib")
    if data_dir is not None and data_dir.is_dir():
        shutil.copytree(data_dir, base / "course" / "data")
    evidence = workdir / "evidence" / uuid.uuid4().hex
    evidence.mkdir(parents=True)
    collected = workdir / "collected" / run_id
    collected.mkdir(parents=True)
    return Scratch(workdir, run_id, base, library_dir, evidence, collected)


def assemble(plan: Plan, calls: dict[str, CheckCall], evidence_root: Path) -> Assembled:
    """The preamble that binds the capture function, then the plan's cells; each check cell a capture
    cell writing to a folder of its own under ``evidence_root``."""
    capturer = f"_capture_{secrets.token_hex(8)}"
    planned: list[PlannedCell | None] = [None]  # None: the grader's preamble
    sources = [preamble_source(capturer)]
    folders: dict[int, Path] = {}
    for cell in plan.cells:
        index = len(sources)
        if cell.role == CHECK:
            folders[index] = evidence_root / secrets.token_hex(16)
            sources.append(capture_source(calls[cell.exercise], capturer, folders[index]))
        else:
            sources.append(cell.source)
        planned.append(cell)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return Assembled(nb, planned, folders)


def capture_source(call: CheckCall, capturer: str, folder: Path) -> str:
    """The cell that replaces a check cell: hand each evidence expression to the capturer."""
    getters = ", ".join(f"{name!r}: lambda: ({expr})" for name, expr in call.evidence)
    line = f"{capturer}({str(folder)!r}, {call.exercise!r}, {{{getters}}})"
    return "\n".join(part for part in (call.before, line, call.after) if part)


def preamble_source(capturer: str) -> str:
    """Runs before any learner code: binds the capture functions (see :mod:`.capture`)."""
    return (
        "import coursetools.grading.capture as _coursetools_capture\n"
        f"{capturer} = _coursetools_capture.make_capturer()\n"
        "del _coursetools_capture"
    )


SCRATCH_HEADROOM = 4 * 2**20  # the sandbox's tmpfs holds the limit plus this: passing the limit is seen, not refused


def _start(client: CountingClient, scratch: Scratch, sandbox: Sandbox | None, log: IO[bytes], limits: Limits,
           group: cgroups.PidsGroup | None) -> tuple[int, int | None]:
    """Start the run's kernel in its working folder (in ``group``, when there is one); sandboxed, it may
    write only the run's own folders, and those of ``base`` are a tmpfs of ``--disk-mb`` (plus headroom)."""
    env = kernel_env(scratch.base, scratch.library)
    env[RUN_MARKER] = scratch.run_id
    if sandbox is None:
        return start_kernel(client, env, scratch.cwd, log, group=group)
    scratch.ipc = ipc_folder(scratch.workdir, scratch.run_id)
    writable = [scratch.base / "course", scratch.cwd, scratch.base / "home", scratch.base / "tmp", scratch.evidence]
    readonly = [scratch.library] + ([scratch.data] if scratch.data.is_dir() else [])
    return start_kernel(client, env, scratch.cwd, log, sandbox, scratch.ipc, writable=writable, readonly=readonly,
                        scratch=(scratch.base, limits.disk_mb * 2**20 + SCRATCH_HEADROOM), group=group)


def disk_meter(scratch: Scratch, limits: Limits, sandbox: Sandbox | None) -> watchdog.DiskMeter:
    """What the kernel writes: in the sandbox its tmpfs, plus the folders it shares with the grader
    (evidence, sockets) and its own log; without, every folder of the run."""
    shared = [scratch.evidence, scratch.log] + ([scratch.ipc] if scratch.ipc else [])
    if sandbox is None:
        return watchdog.DiskMeter(limits.disk_mb * 2**20, [scratch.base, scratch.evidence])
    return watchdog.DiskMeter(limits.disk_mb * 2**20, shared, tmpfs=scratch.base)


def _run_cells(execution: "_Execution", process: tuple[int, int | None], group: cgroups.PidsGroup | None,
               disk: watchdog.DiskMeter) -> None:
    """Every cell in order, under the watchdog; then the kernel and everything it started are stopped."""
    pid, pgid = process
    limits = execution.limits
    guard = watchdog.Watchdog(pid, memory_bytes=limits.memory_mb * 2**20, seconds=limits.notebook_timeout, pgid=pgid,
                              max_processes=limits.max_processes, group=group, disk=disk)
    try:
        with guard:
            execution.run_all(guard)
    finally:
        execution.run.peak_rss, execution.run.disk_peak = guard.peak_rss, disk.peak
        execution.run.peak_processes = guard.peak_processes
        stop_kernel(execution.client, process, execution.scratch.run_id)
        if group is not None:
            group.kill_all()


class _Execution:
    """Runs the assembled notebook's cells in order and records what each reply means for the learner."""

    def __init__(self, client: CountingClient, notebook: Assembled, calls: dict[str, CheckCall], scratch: Scratch,
                 limits: Limits, run: NotebookRun) -> None:
        self.client, self.notebook, self.calls, self.scratch = client, notebook, calls, scratch
        self.limits, self.run = limits, run
        self.learner_code_ran = False  # a pristine cell failing before this is the grader's problem

    def run_all(self, guard: watchdog.Watchdog) -> None:
        for index, cell in enumerate(self.notebook.nb.cells):
            meta = self.notebook.planned[index]
            stopped = self._execute(cell, index, meta, guard)
            if stopped is None and guard.check():  # the cell passed a limit just before it ended
                stopped = _death_message(guard, meta, self.limits)
            if stopped is not None:
                _stop_at(self.run, meta)
                self.run.stopped = stopped
                return
            if not self._interpret(index, meta):
                return

    def _execute(self, cell: Any, index: int, meta: PlannedCell | None, guard: watchdog.Watchdog) -> str | None:
        """None when the cell ran (whatever it raised); else why the notebook stopped there."""
        try:
            self.client.execute_cell(cell, index)
        except CellTimeoutError:
            if meta is None:
                return "the grader's start-up cell timed out"
            return (f"{describe_cell(meta)} ran for more than {self.limits.cell_timeout:g} s and was "
                    "stopped. Is there an endless loop, or a computation much bigger than the exercise needs?")
        except DeadKernelError:
            return _death_message(guard, meta, self.limits)
        except Exception as error:  # lost contact with the kernel in another way
            where = describe_cell(meta) if meta else "start-up"
            return f"the grader lost contact with the kernel during {where} ({type(error).__name__})"
        return None

    def _interpret(self, index: int, meta: PlannedCell | None) -> bool:
        """Record what the cell's reply means; False when the run cannot go on (the grader's side failed)."""
        reply = self.client.replies.get(index, {})
        failed = reply.get("status") == "error"
        run = self.run
        if meta is None:
            if failed:
                run.infrastructure = f"the grader's start-up cell failed: {reply.get('ename')}: {clip(reply.get('evalue'), 300)}"
            return not failed
        if meta.role in (ANSWER, ADDED):
            self.learner_code_ran = True
        if meta.role == CHECK:
            self._collect(index, meta, reply, failed)
        elif failed and meta.role == ANSWER:
            run.raised.setdefault(meta.exercise, raised_message(reply.get("ename"), reply.get("evalue"), describe_cell(meta)))
        elif failed and meta.role == ADDED:
            run.notes.append(raised_message(reply.get("ename"), reply.get("evalue"), describe_cell(meta)))
        elif failed and meta.role == SETUP and not meta.expect_error:
            if not self.learner_code_ran:
                run.infrastructure = (
                    f"a cell of the pristine exercise notebook failed before any learner code ran: "
                    f"{reply.get('ename')}: {clip(reply.get('evalue'), 300)}"
                )
                return False
            run.notes.append(
                f"a cell of the exercise notebook raised {clip(reply.get('ename'), 60)}: "
                f"{clip(reply.get('evalue'), 150)} (probably because of a change made by one of your cells)"
            )
        self._check_output_size(index, meta)
        return True

    def _collect(self, index: int, meta: PlannedCell, reply: dict[str, Any], failed: bool) -> None:
        """The capture cell's evidence, or why there is none (see :mod:`.collect`)."""
        exercise = meta.exercise
        target = self.scratch.collected / f"{exercise}-{secrets.token_hex(8)}"
        found = collect(self.calls[exercise], self.notebook.capture_folders[index], target)
        if isinstance(found, Captured):
            self.run.captured[exercise] = found
        elif found is not None:
            self.run.problems[exercise] = found
        if exercise not in self.run.captured and exercise not in self.run.problems:
            what = f" ({clip(reply.get('ename'), 60)})" if failed else ""
            self.run.problems[exercise] = (
                f"the grader could not collect the evidence of exercise {exercise}: "
                f"code in your notebook interfered with the check step{what}. Do not "
                "change how cells run (IPython events, sys.settrace, patched built-ins)."
            )

    def _check_output_size(self, index: int, meta: PlannedCell) -> None:
        """A learner's cell that printed more than the limit: the exercise's error, or a note."""
        printed = self.client.output_bytes.get(index, 0)
        if printed <= self.client.max_output_bytes or meta.role not in (ANSWER, ADDED):
            return
        message = (
            f"{describe_cell(meta)} printed more than {self.limits.max_output_kb} KB of output "
            f"({printed / 1e6:.1f} MB). Remove the large prints "
            "(print a shape or a few values instead) and run it again."
        )
        if meta.role == ANSWER or meta.exercise:
            self.run.overflow.setdefault(meta.exercise, message)
        else:
            self.run.notes.append(message)


def describe_cell(cell: PlannedCell) -> str:
    if cell.role == ANSWER:
        return f"your answer cell for exercise {cell.exercise}"
    if cell.role == ADDED:
        return f"a cell you added (cell {cell.learner_index + 1} of your notebook)"
    if cell.role == CHECK:
        return f"the check step of exercise {cell.exercise}"
    return "a cell of the exercise notebook (not one of yours)"


def raised_message(ename: str, evalue: str, where: str) -> str:
    ename, evalue = clip(ename, 80), clip(evalue, 200)
    if ename == "SystemExit":
        return f"{where} called sys.exit() (SystemExit): a notebook must not exit. Remove that call."
    if ename == "KeyboardInterrupt":
        return f"{where} was interrupted (KeyboardInterrupt). Remove whatever raises it and run it again."
    return f"{where} raised {ename}: {evalue}. Fix the error, run the cell again, then its check cell."


def _stop_at(run: NotebookRun, meta: PlannedCell | None) -> None:
    if meta is not None and meta.role in (ANSWER, ADDED) and meta.exercise:
        run.stopped_in = meta.exercise


def _death_message(guard: watchdog.Watchdog, meta: PlannedCell | None, limits: Limits) -> str:
    where = describe_cell(meta) if meta else "start-up"
    if guard.reason == watchdog.MEMORY:
        return (
            f"{where} used more than {limits.memory_mb} MB of memory, so the notebook was stopped. "
            "Look for a huge array or a list that keeps growing."
        )
    if guard.reason == watchdog.TIME:
        return (
            f"the notebook ran for more than {limits.notebook_timeout:g} s in total and was stopped "
            f"during {where}. Is there an endless loop?"
        )
    if guard.reason == watchdog.PROCESSES:
        return (
            f"{where} started more than {limits.max_processes} processes at once (or a great many threads), so "
            "the notebook was stopped. Remove the code that starts them (os.fork, subprocess, multiprocessing, "
            "threads in a loop) and run the notebook again."
        )
    if guard.reason == watchdog.DISK:
        return (
            f"{where} wrote more than {limits.disk_mb} MB of files (in the working folder, HOME or TMPDIR; every "
            "file counts at least 4 KB), so the notebook was stopped. Remove the code that writes large or many "
            "files (save a small model, or nothing) and run the notebook again."
        )
    return (
        f"the Python process running your notebook stopped during {where}: it crashed or was "
        "ended (os._exit(), a kill signal, or a fault in compiled code). Remove that code and run "
        "the notebook top to bottom before handing it in."
    )


def _remove(*folders: Path | None) -> None:
    for folder in folders:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
