"""Start the fresh kernel one notebook runs in, sandboxed or not, and stop it with all it started.

The kernel gets a small, explicit environment (nothing of the grader's own settings
leaks in) and a marker naming its run, so that processes it leaves behind can be
found and killed. The client keeps no outputs, only their size (:class:`CountingClient`),
so a learner who prints gigabytes cannot exhaust the grader's memory.

With a :class:`~.sandbox.Sandbox` the kernel runs inside bubblewrap, where it sees
only the run's folders, the Python environment and the system's libraries, has no
network and no other process in sight. Its ZeroMQ channels then use the IPC
transport: Unix socket files in a short folder of their own that both sides see
under the same path (the sandbox has no network namespace in common with the
grader, so TCP on localhost would not reach it).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from coursetools.grading import watchdog
from coursetools.grading.cgroups import PidsGroup
from coursetools.grading.options import Limits
from coursetools.grading.sandbox import Sandbox
from coursetools.quiet_env import QUIET_TF_ENV

RUN_MARKER = "COURSETOOLS_RUN"  # in the kernel's environment, to find processes it leaves behind
MAX_SOCKET_PATH = 100  # a Unix socket's path must fit in 108 bytes (sun_path)


class CountingClient(NotebookClient):
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


class CappedKernelManager(AsyncKernelManager):
    """A kernel started in its own ``pids`` cgroup when there is one (:mod:`.cgroups`)."""

    group: PidsGroup | None = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        return self.group.wrap(command) if self.group is not None else command


class SandboxedKernelManager(CappedKernelManager):
    """A kernel started inside a sandbox, listening on Unix sockets in ``ipc`` (see module docstring)."""

    def sandbox_in(self, sandbox: Sandbox, ipc: Path, *, cwd: Path, writable: list[Path], readonly: list[Path],
                   scratch: tuple[Path, int] | None) -> None:
        self.transport = "ipc"
        self.ip = str(ipc / "k")
        self.connection_file = str(ipc / "kernel.json")
        self._sandbox = sandbox
        self._wrap = dict(cwd=cwd, writable=[*writable, ipc], readonly=readonly, scratch=scratch)

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        self._sandbox.give(Path(self.connection_file))  # the kernel reads its own key, nothing else

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = self._sandbox.command(AsyncKernelManager.format_kernel_cmd(self, extra_arguments), **self._wrap)
        return self.group.wrap(command) if self.group is not None else command


def new_client(nb: Any, limits: Limits, cwd: Path) -> CountingClient:
    """The client that runs ``nb`` cell by cell under the per-cell time limit, keeping no outputs."""
    return CountingClient(
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


def ipc_folder(workdir: Path, run_id: str) -> Path:
    """A folder for the kernel's sockets, with a path short enough for them."""
    folder = workdir / "ipc" / run_id[:12]
    if len(str(folder / "k-99")) > MAX_SOCKET_PATH:
        folder = Path(tempfile.mkdtemp(prefix="ct-ipc-", dir="/tmp"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def start_kernel(client: CountingClient, env: dict[str, str], cwd: Path, log: IO[bytes],
                 sandbox: Sandbox | None = None, ipc: Path | None = None, *,
                 writable: Sequence[Path] = (), readonly: Sequence[Path] = (),
                 scratch: tuple[Path, int] | None = None, group: PidsGroup | None = None) -> tuple[int, int | None]:
    """Start ``client``'s kernel (in ``sandbox``, on sockets in ``ipc``, when given; in ``group``, when
    given); its pid and process group.

    ``writable`` and ``readonly`` are the folders the sandbox binds (the working folder ``cwd``
    among the writable ones); those under ``scratch`` are in its size-limited tmpfs instead
    (see :meth:`.Sandbox.command`). Raises whatever stops the kernel from starting.
    """
    if sandbox is None:
        client.km = CappedKernelManager(kernel_name=client.kernel_name)
    else:
        assert ipc is not None
        sandbox.give(*writable, cwd, ipc)
        client.km = SandboxedKernelManager(kernel_name=client.kernel_name)
        client.km.sandbox_in(sandbox, ipc, cwd=cwd, writable=list(writable), readonly=list(readonly),
                             scratch=scratch)
    client.km.group = group
    client.start_new_kernel(env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(cwd))
    client.start_new_kernel_client()
    provisioner = client.km.provisioner
    return provisioner.pid, getattr(provisioner, "pgid", None)


def stop_kernel(client: NotebookClient, process: tuple[int, int | None] | None, run_id: str) -> None:
    """Stop the kernel, its process tree and anything it started that escaped the tree."""
    if process is not None:
        watchdog.kill_tree(*process)
    try:
        if client.km is not None:
            client._cleanup_kernel()  # closes channels, removes the connection file
    except Exception:  # the kernel is already gone; only files and sockets remain
        pass
    watchdog.kill_marked(RUN_MARKER, run_id)


def log_tail(path: Path, limit: int = 2000) -> str:
    """The end of the kernel's own log, without the warning every local kernel prints."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - limit))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(line for line in text.splitlines() if "running over TCP without encryption" not in line)
