"""Time and memory limits for a process tree (a learner's kernel, the verdict process).

``RLIMIT_AS`` cannot be used: TensorFlow reserves far more virtual memory than it
touches and fails to import under any useful address-space limit. So a thread
watches the resident memory (RSS) of the process and all its descendants and kills
the whole tree when it passes the limit, or when the time is up. The reason is kept
so that the learner's feedback can say *why* the notebook stopped.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil

MEMORY = "memory"
TIME = "time"


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants that are still alive (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_rss(processes: list[psutil.Process]) -> int:
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total


def kill_tree(pid: int, pgid: int | None = None) -> None:
    """SIGKILL the process, its descendants and its process group; never raises."""
    processes = process_tree(pid)
    if pgid is not None and pgid != os.getpgid(0):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            pass
    wait_gone(processes, timeout=3)


def wait_gone(processes: list[psutil.Process], timeout: float) -> None:
    """Wait until every process has ended; a zombie has (it holds no memory and runs no code).

    A sandboxed kernel is not the grader's child but its sandbox's: when that ends, the
    kernel's zombie waits for the system's init to reap it, which may take seconds.
    """
    deadline = time.monotonic() + timeout
    alive = list(processes)
    while alive:
        _, alive = psutil.wait_procs(alive, timeout=0)  # reaps the grader's own children
        alive = [process for process in alive if _running(process)]
        if not alive or time.monotonic() > deadline:
            return
        time.sleep(0.01)


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_marked(key: str, value: str) -> int:
    """Kill processes whose environment holds ``key=value`` (e.g. daemons a kernel left behind)."""
    killed = 0
    me = os.getpid()
    for process in psutil.process_iter(["pid"]):
        if process.pid == me:
            continue
        try:
            if process.environ().get(key) == value:
                process.kill()
                killed += 1
        except psutil.Error:
            continue
    return killed


class Watchdog:
    """Kill the tree rooted at ``pid`` when it uses more than ``memory_bytes`` or outlives ``seconds``."""

    def __init__(
        self,
        pid: int,
        *,
        memory_bytes: int,
        seconds: float | None = None,
        pgid: int | None = None,
        interval: float = 0.1,
    ) -> None:
        self.pid = pid
        self.pgid = pgid
        self.memory_bytes = memory_bytes
        self.seconds = seconds
        self.interval = interval
        self.reason: str | None = None
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"watchdog-{pid}", daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> "Watchdog":
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            processes = process_tree(self.pid)
            if not processes:
                return
            rss = tree_rss(processes)
            self.peak_rss = max(self.peak_rss, rss)
            if rss > self.memory_bytes:
                self.reason = MEMORY
            elif self.seconds is not None and time.monotonic() - self._started > self.seconds:
                self.reason = TIME
            if self.reason:
                kill_tree(self.pid, self.pgid)
                return
