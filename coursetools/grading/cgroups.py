"""A cap on the number of tasks one kernel may run, that the kernel cannot exceed: a ``pids`` cgroup.

``RLIMIT_NPROC`` would count every process of the kernel's user on the machine (all
sandboxed kernels run as ``nobody``: two kernels at once would share one cap), and
bubblewrap sets no rlimits. A cgroup is per kernel: the grader makes one for each
kernel (and each class runner), sets ``pids.max`` and starts the kernel's command in
it (:meth:`PidsGroup.wrap`). Every process and thread the kernel starts is then in it;
a ``fork()`` or a new thread beyond ``pids.max`` fails (``EAGAIN``) and
``pids.events`` counts the refusal, which the watchdog reads to stop the notebook with
a clear message. Processes cannot leave the group: its files belong to the grader
(the sandboxed kernel runs as another user and cannot even see them).

``pids.max`` counts threads too, and TensorFlow starts a few per core, so the cgroup
allows the notebook's process limit plus :func:`thread_allowance`; the limit the
learner reads (``--max-processes``) is the watchdog's count of processes
(:mod:`.watchdog`), which works with or without a cgroup.

Where the grader may not create cgroups (not root, no delegated cgroup v2 subtree, no
``pids`` controller), :func:`create` returns None and the watchdog's count is the only
cap; :func:`describe` says which for grading.log.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

PREFIX = "coursetools-"


def thread_allowance() -> int:
    """Tasks a kernel's own threads may need besides its processes (TensorFlow: about two pools of one per core)."""
    return 256 + 4 * (os.cpu_count() or 1)


def _own_pids_folder() -> Path | None:
    """This process's cgroup folder in the hierarchy that has the ``pids`` controller (v1), or in cgroup v2."""
    try:
        memberships = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    own: dict[str, str] = {}  # "pids" (v1) or "" (v2) -> the cgroup's path
    for line in memberships:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(",") or controllers == "":
            own["pids" if controllers else ""] = path
    for kind in ("pids", ""):
        if kind not in own:
            continue
        for line in mounts:
            if " - " not in line:
                continue
            before, after = line.split(" - ", 1)
            fields, (fstype, _source, options) = before.split(), after.split()[:3]
            root, mountpoint, path = fields[3], fields[4], own[kind]
            wanted = (fstype == "cgroup" and "pids" in options.split(",")) if kind else fstype == "cgroup2"
            if wanted and (root == "/" or path == root or path.startswith(root + "/")):
                folder = Path(mountpoint + (path[len(root):] if root != "/" else path).rstrip("/"))
                if folder.is_dir():
                    return folder
    return None


class PidsGroup:
    """One kernel's cgroup: at most ``max_tasks`` processes and threads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started inside the group: a shell moves itself in, then becomes ``argv`` (exec).

        So the group holds the process from before its first instruction, and everything it
        starts (moving a running tree instead could miss a child being forked meanwhile).
        """
        script = 'echo $$ 2>/dev/null > "$1"; shift; exec "$@"'  # not moved: the watchdog counts the tree instead
        return ["/bin/sh", "-c", script, "sh", str(self.folder / "cgroup.procs"), *argv]

    def processes(self) -> list[int]:
        try:
            return [int(pid) for pid in (self.folder / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def refused(self) -> int:
        """How many times a fork or a new thread was refused because the group was full."""
        try:
            for line in (self.folder / "pids.events").read_text().splitlines():
                name, _, count = line.partition(" ")
                if name == "max":
                    return int(count)
        except (OSError, ValueError):
            pass
        return 0

    def kill_all(self, timeout: float = 3.0) -> None:
        """SIGKILL everything in the group until it is empty (a fork loop cannot outrun it: the group is capped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.processes()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        """Kill what is left and remove the group; never raises (a leftover empty group is harmless)."""
        self.kill_all()
        for _ in range(50):
            try:
                self.folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)  # zombies not yet reaped


def create(max_tasks: int) -> PidsGroup | None:
    """A new group capped at ``max_tasks``, or None where this grader may not make one."""
    parent = _own_pids_folder()
    if parent is None:
        return None
    folder = parent / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
    try:
        folder.mkdir()
    except OSError:
        return None
    try:
        (folder / "pids.max").write_text(str(max_tasks))
    except OSError:  # no pids controller here (cgroup v2 without it in subtree_control)
        try:
            folder.rmdir()
        except OSError:
            pass
        return None
    return PidsGroup(folder)


def sweep() -> None:
    """Remove the empty groups graders that are no longer running left behind (a grader killed mid-run)."""
    parent = _own_pids_folder()
    if parent is None:
        return
    try:
        folders = [folder for folder in parent.iterdir() if folder.name.startswith(PREFIX)]
    except OSError:
        return
    for folder in folders:
        owner = folder.name[len(PREFIX):].split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            try:
                folder.rmdir()  # only an empty group goes
            except OSError:
                pass


def describe() -> str:
    """How processes are capped on this machine, for grading.log (the grader's leftovers swept first)."""
    sweep()
    group = create(1)
    if group is None:
        return ("processes: counted by the watchdog every 0.1 s (this grader cannot create a pids cgroup: it is "
                "not root, or has no cgroup with the pids controller delegated to it)")
    group.remove()
    return f"processes: a pids cgroup per kernel (plus {thread_allowance()} threads) and the watchdog's count"
