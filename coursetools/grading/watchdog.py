"""Time, memory, process and disk limits for a process tree (a learner's kernel, the verdict process).

``RLIMIT_AS`` cannot be used: TensorFlow reserves far more virtual memory than it
touches and fails to import under any useful address-space limit. So a thread
watches the resident memory (RSS) of the process and all its descendants and kills
the whole tree when it passes the limit, or when the time is up. The reason is kept
so that the learner's feedback can say *why* the notebook stopped.

For a learner's kernel it also counts the tree's processes (in its ``pids`` cgroup
where there is one, :mod:`.cgroups`, whose refusals of a fork count as passing the
limit) and measures what the kernel wrote to its folders (:class:`DiskMeter`). The
run asks :meth:`Watchdog.check` after every cell as well, so a cell that passed a
limit between two looks is still the one named.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from coursetools.grading.cgroups import PidsGroup

MEMORY = "memory"
TIME = "time"
PROCESSES = "processes"
DISK = "disk"
UNSURE_SECONDS = 2.0  # a tree whose memory could not be told for this long is taken at its upper bound
ENTRY_BYTES = 4096  # what one file or folder counts for at least (an inode, a block): a million empty files is not free


def process_tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants that are still alive (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_memory(processes: list[psutil.Process], limit: int, budget: float = 0.2) -> tuple[int, bool]:
    """The tree's resident memory, and whether it is exact enough to act on; pages forked children share count once.

    Summing RSS counts every page a forked child still shares with its parent once per
    child: 20 idle forks of a 600 MB kernel would "use" 12 GB. The sum is cheap and never
    too small, so it decides whenever it is within ``limit``. Past it, the biggest process
    keeps its RSS and the others count with their unique set size (USS, the pages only
    they hold), read from ``/proc/<pid>/smaps_rollup``: slow for big processes that are
    forking, so for at most ``budget`` seconds; a sum still past ``limit`` when time ran out
    is an upper bound only (False).
    """
    sizes = []
    for process in processes:
        try:
            sizes.append((process.memory_info().rss, process))
        except psutil.Error:
            pass
    total = sum(rss for rss, _ in sizes)
    if total <= limit or len(sizes) < 2:
        return total, True
    sizes.sort(key=lambda size: -size[0])
    deadline = time.monotonic() + budget
    for rss, process in sizes[1:]:
        if total <= limit:
            break
        if time.monotonic() > deadline:
            return total, False
        try:
            total -= rss - process.memory_full_info().uss
        except psutil.Error:
            pass
    return total, True


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


class DiskMeter:
    """What a kernel wrote to its folders, in bytes, each file or folder counting at least 4 KiB.

    ``tmpfs`` is the sandbox's scratch (a tmpfs only the kernel's mount namespace has),
    read through ``/proc/<pid>/root`` of a process inside it; ``walked`` are files and
    folders on the grader's disk the kernel can write (walked without following links).
    What was there when :meth:`start` ran (the grader's own files) is not counted.
    """

    def __init__(self, limit_bytes: int, walked: list[Path], tmpfs: Path | None = None) -> None:
        self.limit_bytes = limit_bytes
        self.walked = walked
        self.tmpfs = tmpfs
        self.baseline = 0
        self.peak = 0
        self._walk: tuple[int, float] | None = None  # the last walk's total, and until when it stands

    def start(self, processes: list[psutil.Process]) -> None:
        self.baseline = self._total(processes)

    def used(self, processes: list[psutil.Process], fresh: bool = False) -> int:
        """Bytes written since :meth:`start`; ``fresh``: walk now, even right after a long walk."""
        if fresh:
            self._walk = None
        used = max(0, self._total(processes) - self.baseline)
        self.peak = max(self.peak, used)
        return used

    def _total(self, processes: list[psutil.Process]) -> int:
        return self._walked() + self._tmpfs(processes)

    def _walked(self) -> int:
        """The walked folders' size; a walk that took long is reused for three times as long (a quarter of a
        core at most, when the kernel makes a great many files)."""
        now = time.monotonic()
        if self._walk is not None and now < self._walk[1]:
            return self._walk[0]
        total = sum(walked_bytes(path, self.limit_bytes + self.baseline) for path in self.walked)
        self._walk = (total, time.monotonic() + 3 * (time.monotonic() - now))
        return total

    def _tmpfs(self, processes: list[psutil.Process]) -> int:
        if self.tmpfs is None:
            return 0
        for process in processes[1:]:  # the first is bubblewrap's outer process, outside the sandbox's mounts
            try:
                usage = os.statvfs(f"/proc/{process.pid}/root{self.tmpfs}")
            except OSError:
                continue
            return (usage.f_blocks - usage.f_bfree) * usage.f_frsize + (usage.f_files - usage.f_ffree) * ENTRY_BYTES
        return 0


def walked_bytes(path: Path, enough: int) -> int:
    """Bytes under ``path`` (blocks in use, at least 4 KiB per entry); stops counting past ``enough``."""
    try:
        info = os.lstat(path)
    except OSError:
        return 0
    total, stack = max(info.st_blocks * 512, ENTRY_BYTES), [str(path)] if stat.S_ISDIR(info.st_mode) else []
    while stack and total <= enough:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        total += max(entry.stat(follow_symlinks=False).st_blocks * 512, ENTRY_BYTES)
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                    except OSError:
                        continue
        except OSError:
            continue
    return total


class Watchdog:
    """Kill the tree rooted at ``pid`` when it uses more than ``memory_bytes``, outlives ``seconds``, runs
    more than ``max_processes`` processes (or its cgroup ``group`` refused one), or writes more than
    ``disk``'s limit."""

    def __init__(
        self,
        pid: int,
        *,
        memory_bytes: int,
        seconds: float | None = None,
        pgid: int | None = None,
        interval: float = 0.1,
        max_processes: int | None = None,
        group: PidsGroup | None = None,
        disk: DiskMeter | None = None,
    ) -> None:
        self.pid = pid
        self.pgid = pgid
        self.memory_bytes = memory_bytes
        self.seconds = seconds
        self.interval = interval
        self.max_processes = max_processes
        self.group = group
        self.disk = disk
        self.reason: str | None = None
        self.peak_rss = 0
        self.peak_processes = 0
        self._unsure_since: float | None = None  # since when the memory of many processes could not be told
        self._not_learners = 0  # processes of the tree at the start that are not the kernel (bubblewrap's)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"watchdog-{pid}", daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> "Watchdog":
        self._started = time.monotonic()
        processes = process_tree(self.pid)
        deadline = time.monotonic() + 5
        while self.group is not None and not self.group.processes():  # a process started just now: wait
            if time.monotonic() > deadline or not process_tree(self.pid):  # until its shell has moved in
                self.group = None  # it could not be moved into the group: count the tree instead
            time.sleep(0.005)
        processes = process_tree(self.pid)
        self._not_learners = max(0, (len(self.group.processes()) if self.group is not None else len(processes)) - 1)
        if self.disk is not None:
            self.disk.start(processes)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            if self._look() != "":  # killed, or gone
                return

    def check(self) -> str | None:
        """Look now (the run does, after every cell): why the tree was killed, if it was, now or before."""
        self._look(fresh=True)
        return self.reason

    def _look(self, fresh: bool = False) -> str | None:
        """The reason the tree was killed (now or before); "" while it runs within its limits; None once it is gone."""
        with self._lock:
            if self.reason:
                return self.reason
            reason = self._too_many(None) if self.group is not None else None  # cheap, first: a fork loop
            processes = [] if reason else process_tree(self.pid)
            if not reason and not processes:
                return None
            reason = reason or self._over(processes, fresh)
            if reason:
                self.reason = reason
                if self.group is not None:
                    self.group.kill_all()
                kill_tree(self.pid, self.pgid)
            return reason or ""

    def _too_many(self, processes: list[psutil.Process] | None) -> str | None:
        """PROCESSES when the tree (its cgroup, when it has one) runs more processes than allowed."""
        if self.max_processes is None:
            return None
        count = (len(self.group.processes()) if self.group is not None else len(processes or [])) - self._not_learners
        self.peak_processes = max(self.peak_processes, count)
        if count > self.max_processes or (self.group is not None and self.group.refused()):
            return PROCESSES
        return None

    def _over(self, processes: list[psutil.Process], fresh: bool = False) -> str | None:
        if self.group is None and self._too_many(processes):
            return PROCESSES
        if self.disk is not None and self.disk.used(processes, fresh) > self.disk.limit_bytes:
            return DISK
        rss, exact = tree_memory(processes, self.memory_bytes)
        if exact:
            self.peak_rss = max(self.peak_rss, rss)
            self._unsure_since = None
        elif self._unsure_since is None:
            self._unsure_since = time.monotonic()
        if rss > self.memory_bytes and (exact or time.monotonic() - self._unsure_since > UNSURE_SECONDS):
            return MEMORY
        if self.seconds is not None and time.monotonic() - self._started > self.seconds:
            return TIME
        return None
