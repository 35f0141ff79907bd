"""Run a rebuilt notebook in a fresh kernel, in a scratch folder, under limits.

Each run gets its own folder (kernel working directory, HOME, TMPDIR, a private copy
of the released ``coursetools`` written from memory) and a fresh kernel, so nothing
one learner's code writes can reach another learner's run or the course files the
grader uses. Check cells become *capture* cells that only save evidence
(:mod:`.capture`) into a folder outside the scratch folder, whose name the kernel
learns when that cell runs; right after it, the grader moves the folder to its own
place and records the hash of every file.

Limits: a time limit per cell (nbclient), and a watchdog for the whole notebook's
time and the kernel tree's memory (:mod:`.watchdog`). Outputs are counted, never
kept, so a learner who prints gigabytes cannot exhaust the grader's memory.

With a :class:`~.sandbox.Sandbox` the kernel runs inside bubblewrap, where it sees
only the run's folders, the Python environment and the system's libraries, has no
network and no other process in sight. Its ZeroMQ channels then use the IPC
transport: Unix socket files in a short folder of their own that both sides see
under the same path (the sandbox has no network namespace in common with the
grader, so TCP on localhost would not reach it).
"""

from __future__ import annotations

import builtins
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from coursetools.evidence import CAPTURE_ERROR, MISSING_NAME, SAVE, ManifestError
from coursetools.grading import manifest, watchdog
from coursetools.grading.outcome import clip
from coursetools.grading.sandbox import Sandbox
from coursetools.grading.snapshot import CheckCall, write_library
from coursetools.grading.submission import ADDED, ANSWER, CHECK, SETUP, Plan, PlannedCell
from coursetools.quiet_env import QUIET_TF_ENV

RUN_MARKER = "COURSETOOLS_RUN"  # in the kernel's environment, to find processes it leaves behind
MAX_SOCKET_PATH = 100  # a Unix socket's path must fit in 108 bytes (sun_path)
_OS_ERRORS = {name for name, value in vars(builtins).items()  # OSError, FileNotFoundError, ...
              if isinstance(value, type) and issubclass(value, OSError)}


@dataclass(frozen=True)
class Limits:
    """What one notebook may use; every limit is reported to the learner when hit."""

    cell_timeout: float = 120.0
    notebook_timeout: float = 900.0
    memory_mb: int = 2048
    max_output_kb: int = 1024  # per cell
    startup_timeout: float = 120.0


@dataclass
class Captured:
    """Evidence of one exercise, moved out of the kernel's reach, with its file hashes."""

    exercise: str
    folder: Path
    entries: dict[str, dict[str, Any]]
    hashes: dict[str, str]


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
    log: str = ""  # tail of the kernel's own stdout/stderr, for the instructor


class _CountingClient(NotebookClient):
    """An nbclient that keeps no outputs (only their size) and records each execute reply."""

    def __init__(self, nb: Any, max_output_bytes: int, **kwargs: Any) -> None:
        super().__init__(nb, **kwargs)
        self.max_output_bytes = max_output_bytes
        self.output_bytes: dict[int, int] = {}
        self.replies: dict[int, dict[str, Any]] = {}
        self.on_cell_executed = self._record_reply

    def _record_reply(self, cell: Any, cell_index: int, execute_reply: dict[str, Any] | None) -> None:
        if execute_reply is not None:
            content = execute_reply.get("content", {})
            self.replies[cell_index] = {k: content.get(k) for k in ("status", "ename", "evalue")}

    def output(self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int) -> None:
        content = msg.get("content", {})
        size = len(str(content.get("text", "")))
        size += sum(len(str(v)) for v in (content.get("data") or {}).values())
        size += len(str(content.get("evalue", ""))) + sum(len(str(t)) for t in content.get("traceback") or [])
        self.output_bytes[cell_index] = self.output_bytes.get(cell_index, 0) + size
        return None

    def clear_output(self, outs: list[Any], msg: dict[str, Any], cell_index: int) -> None:
        return None

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        return None


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel started inside a sandbox, listening on Unix sockets in ``ipc`` (see module docstring)."""

    def sandbox_in(self, sandbox: Sandbox, ipc: Path, *, cwd: Path, writable: list[Path], readonly: list[Path]) -> None:
        self.transport = "ipc"
        self.ip = str(ipc / "k")
        self.connection_file = str(ipc / "kernel.json")
        self._sandbox, self._wrap = sandbox, dict(cwd=cwd, writable=[*writable, ipc], readonly=readonly)

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        self._sandbox.give(Path(self.connection_file))  # the kernel reads its own key, nothing else

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return self._sandbox.command(super().format_kernel_cmd(extra_arguments), **self._wrap)


def _ipc_folder(workdir: Path, run_id: str) -> Path:
    """A folder for the kernel's sockets, with a path short enough for them."""
    folder = workdir / "ipc" / run_id[:12]
    if len(str(folder / "k-99")) > MAX_SOCKET_PATH:
        folder = Path(tempfile.mkdtemp(prefix="ct-ipc-", dir="/tmp"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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


def kernel_env(base: Path, library: Path) -> dict[str, str]:
    """A small, explicit environment: nothing of the grader's own settings leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(base / "home"),
        "TMPDIR": str(base / "tmp"),
        "PYTHONPATH": str(library),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "LANG": "C.UTF-8",
        "KERAS_BACKEND": "tensorflow",
        **QUIET_TF_ENV,
    }
    for key in ("SYSTEMROOT", "LD_LIBRARY_PATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _tail(path: Path, limit: int = 2000) -> str:
    """The end of the kernel's own log, without the warning every local kernel prints."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - limit))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(line for line in text.splitlines() if "running over TCP without encryption" not in line)


def _collect(run: NotebookRun, call: CheckCall, source: Path, target: Path) -> None:
    """Move a capture folder out of the kernel's reach and validate what it holds."""
    ex = call.exercise
    if source.is_symlink() or not source.is_dir():
        return
    try:  # the kernel can reach these folders (without a sandbox): it may have removed or planted some
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.parent.is_symlink() or os.path.lexists(target):
            raise FileExistsError(target)
        os.replace(source, target)
    except OSError:
        run.problems[ex] = (
            f"the grader could not collect the evidence of exercise {ex}: code in your notebook changed "
            "the grader's folders. Do not delete or create files outside your notebook's own folder."
        )
        return
    names = tuple(name for name, _ in call.evidence)
    try:
        entries, hashes = manifest.read(target, ex, names)
    except ManifestError as error:
        run.problems[ex] = f"the evidence for exercise {ex} could not be read ({clip(error, 150)})."
        return
    for name, entry in entries.items():
        if entry["kind"] == MISSING_NAME:
            missing = clip(entry["name"], 60)
            run.problems[ex] = (
                f"`{missing}` is not defined when exercise {ex} is checked: keep the variable name "
                f"`{missing}` that the exercise asks for, and make sure your answer cell assigns it."
            )
            return
        if entry["kind"] == CAPTURE_ERROR and entry.get("stage") == SAVE:
            message, advice = entry["message"], ""
            if entry["error"] in _OS_ERRORS:  # the kernel could not write: say so, without the grader's paths
                message = re.sub(r":\s*'[^']*'", "", message)
                advice = (" Did code in your notebook delete or change its working folder, HOME or TMPDIR? "
                          "Leave them in place, run the notebook again and hand it in.")
            run.problems[ex] = (
                f"`{dict(call.evidence)[name]}` could not be saved for the grader ({clip(entry['error'], 60)}: "
                f"{clip(message, 150)}).{advice}"
            )
            return
        if entry["kind"] == CAPTURE_ERROR:
            run.problems[ex] = (
                f"getting the value the check of {ex} needs raised {clip(entry['error'], 60)}: "
                f"{clip(entry['message'], 150)}."
            )
            return
    run.captured[ex] = Captured(ex, target, entries, hashes)


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
    run_id = uuid.uuid4().hex
    base = workdir / "runs" / run_id
    cwd = base / "course" / "exercises"
    for folder in (cwd, base / "home", base / "tmp"):
        folder.mkdir(parents=True)
    library_dir = write_library(library, base / "lib")
    if data_dir is not None and data_dir.is_dir():
        shutil.copytree(data_dir, base / "course" / "data")
    evidence_root = workdir / "evidence" / uuid.uuid4().hex
    evidence_root.mkdir(parents=True)
    collected = workdir / "collected" / run_id
    collected.mkdir(parents=True)

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

    client = _CountingClient(
        nb,
        max_output_bytes=limits.max_output_kb * 1024,
        timeout=int(max(1, limits.cell_timeout)),
        startup_timeout=int(limits.startup_timeout),
        kernel_name="python3",
        allow_errors=True,
        record_timing=False,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(cwd)}},
    )
    env = kernel_env(base, library_dir)
    env[RUN_MARKER] = run_id
    log_path = base / "kernel.log"
    learner_code_ran = False
    ipc = None
    with open(log_path, "wb") as log:
        try:
            if sandbox is None:
                client.km = client.create_kernel_manager()
            else:
                ipc = _ipc_folder(workdir, run_id)
                writable = [base / "course", base / "home", base / "tmp", evidence_root]
                readonly = [library_dir] + ([base / "course" / "data"] if (base / "course" / "data").is_dir() else [])
                sandbox.give(*writable, cwd, ipc)
                client.km = SandboxedKernelManager(kernel_name=client.kernel_name)
                client.km.sandbox_in(sandbox, ipc, cwd=cwd, writable=writable, readonly=readonly)
            client.start_new_kernel(env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(cwd))
            client.start_new_kernel_client()
        except Exception as error:  # no learner code has run: this is the grader's problem
            run.infrastructure = f"could not start a Python kernel: {type(error).__name__}: {clip(error, 300)}"
            _cleanup(client, None, run_id)
            run.log = _tail(log_path)
            run.seconds = time.monotonic() - started
            _remove(base, evidence_root, ipc)
            return run
        provisioner = client.km.provisioner
        pid, pgid = provisioner.pid, getattr(provisioner, "pgid", None)
        guard = watchdog.Watchdog(
            pid, memory_bytes=limits.memory_mb * 2**20, seconds=limits.notebook_timeout, pgid=pgid
        )
        try:
            with guard:
                for index, cell in enumerate(nb.cells):
                    meta = planned[index]
                    try:
                        client.execute_cell(cell, index)
                    except CellTimeoutError:
                        run.stopped = (
                            f"{describe_cell(meta)} ran for more than {limits.cell_timeout:g} s and was "
                            "stopped. Is there an endless loop, or a computation much bigger than the "
                            "exercise needs?"
                        ) if meta else "the grader's start-up cell timed out"
                        _stop_at(run, meta)
                        break
                    except DeadKernelError:
                        _stop_at(run, meta)
                        run.stopped = _death_message(guard, meta, limits)
                        break
                    except Exception as error:  # lost contact with the kernel in another way
                        _stop_at(run, meta)
                        run.stopped = f"the grader lost contact with the kernel during {describe_cell(meta) if meta else 'start-up'} ({type(error).__name__})"
                        break
                    reply = client.replies.get(index, {})
                    failed = reply.get("status") == "error"
                    if meta is None:
                        if failed:
                            run.infrastructure = f"the grader's start-up cell failed: {reply.get('ename')}: {clip(reply.get('evalue'), 300)}"
                            break
                        continue
                    if meta.role in (ANSWER, ADDED):
                        learner_code_ran = True
                    if meta.role == CHECK:
                        _collect(run, calls[meta.exercise], folders[index],
                                 collected / f"{meta.exercise}-{secrets.token_hex(8)}")
                        if meta.exercise not in run.captured and meta.exercise not in run.problems:
                            what = f" ({clip(reply.get('ename'), 60)})" if failed else ""
                            run.problems[meta.exercise] = (
                                f"the grader could not collect the evidence of exercise {meta.exercise}: "
                                f"code in your notebook interfered with the check step{what}. Do not "
                                "change how cells run (IPython events, sys.settrace, patched built-ins)."
                            )
                    elif failed and meta.role == ANSWER:
                        run.raised.setdefault(meta.exercise, raised_message(
                            reply.get("ename"), reply.get("evalue"), describe_cell(meta)))
                    elif failed and meta.role == ADDED:
                        run.notes.append(raised_message(reply.get("ename"), reply.get("evalue"), describe_cell(meta)))
                    elif failed and meta.role == SETUP and not meta.expect_error:
                        if not learner_code_ran:
                            run.infrastructure = (
                                f"a cell of the pristine exercise notebook failed before any learner code ran: "
                                f"{reply.get('ename')}: {clip(reply.get('evalue'), 300)}"
                            )
                            break
                        run.notes.append(
                            f"a cell of the exercise notebook raised {clip(reply.get('ename'), 60)}: "
                            f"{clip(reply.get('evalue'), 150)} (probably because of a change made by one of your cells)"
                        )
                    if client.output_bytes.get(index, 0) > client.max_output_bytes and meta.role in (ANSWER, ADDED):
                        message = (
                            f"{describe_cell(meta)} printed more than {limits.max_output_kb} KB of output "
                            f"({client.output_bytes[index] / 1e6:.1f} MB). Remove the large prints "
                            "(print a shape or a few values instead) and run it again."
                        )
                        if meta.role == ANSWER or meta.exercise:
                            run.overflow.setdefault(meta.exercise, message)
                        else:
                            run.notes.append(message)
        finally:
            run.peak_rss = guard.peak_rss
            _cleanup(client, (pid, pgid), run_id)
    run.log = _tail(log_path)
    run.seconds = time.monotonic() - started
    _remove(base, evidence_root, ipc)
    return run


def _remove(*folders: Path | None) -> None:
    for folder in folders:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


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
    return (
        f"the Python process running your notebook stopped during {where}: it crashed or was "
        "ended (os._exit(), a kill signal, or a fault in compiled code). Remove that code and run "
        "the notebook top to bottom before handing it in."
    )


def _cleanup(client: NotebookClient, process: tuple[int, int | None] | None, run_id: str) -> None:
    """Stop the kernel, its process tree and anything it started that escaped the tree."""
    if process is not None:
        watchdog.kill_tree(*process)
    try:
        if client.km is not None:
            client._cleanup_kernel()  # closes channels, removes the connection file
    except Exception:  # the kernel is already gone; only files and sockets remain
        pass
    watchdog.kill_marked(RUN_MARKER, run_id)
