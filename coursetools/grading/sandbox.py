"""Run each learner's kernel in a sandbox, where the operating system offers one.

The tool is bubblewrap (``bwrap``, packaged by Debian, Ubuntu, Fedora, Arch; the
sandbox of Flatpak). One ``bwrap`` process per kernel gives it:

* its own **mount namespace**, whose root is an empty read-only folder holding only
  the system's programs and libraries (``/usr`` and its links), a few files of
  ``/etc`` (libraries, fonts, users), the Python environment (read-only), the run's
  private copy of the released course (read-only), and the run's scratch folders
  (working folder, HOME, TMPDIR, the evidence folder) -- the only places it can
  write. The working folder, HOME and TMPDIR are a tmpfs of ``--disk-mb`` that
  only the sandbox has (``scratch`` of :meth:`Sandbox.command`); ``/dev`` is
  read-only (in a user namespace it would be a writable, unlimited tmpfs) but for
  ``/dev/shm``, 64 MB. The course folder (``solutions/``, hidden checks), other learners' hand-ins
  and scratch folders, the grader's work folder: none of them exists in there;
* its own **PID namespace** (it sees only its own processes: no grader to read
  ``/proc/<pid>/cwd`` of, to signal or to trace; when the kernel ends, every
  process it started ends with it, daemons included), IPC, UTS and cgroup
  namespaces;
* its own **network namespace** with nothing but its own loopback: no network at
  all, not even the host's ``localhost``. The grader talks to the kernel over
  ZeroMQ's IPC transport (Unix sockets in a folder both can see, see :mod:`.kernel`):
  a socket file works across network namespaces, TCP to the grader's loopback
  would not;
* an **unprivileged identity**: when the grader runs as root, ``bwrap`` keeps only
  the capabilities to change user and ``setpriv`` runs the kernel as ``nobody``
  with no capabilities at all (``no_new_privs``); an unprivileged grader gets a
  user namespace instead, mapped to its own user, in which no further user
  namespace may be created (``--disable-userns``).

The time, memory, process and output limits stay where they were (:mod:`.watchdog`,
:mod:`.run`): they watch the ``bwrap`` process tree from outside (and its ``pids``
cgroup, :mod:`.cgroups`, where there is one); the watchdog reads the tmpfs's use
through ``/proc/<pid>/root`` of a process inside.

Where bubblewrap is missing or cannot create namespaces (some containers forbid
it), :func:`detect` says why and grading falls back to unsandboxed kernels, with
a warning in grading.log and on the terminal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from coursetools.grading.bubblewrap_hint import INSTALL_HINT, PROGRAM

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf",
             "fonts", "alternatives", "mime.types")
SHM_BYTES = 64 * 2**20  # /dev/shm is memory the RSS watchdog does not see: keep it small


@dataclass(frozen=True)
class Sandbox:
    """How to wrap a kernel's command line: ``bwrap`` with this run's folders."""

    bwrap: str
    version: str
    setpriv: str | None  # root: drop to ``uid``/``gid`` with setpriv inside the sandbox
    uid: int | None
    gid: int | None
    readonly_roots: tuple[str, ...]  # the Python environment

    @property
    def user(self) -> str:
        if self.uid is None:
            return "the grader's user, in a user namespace"
        import pwd  # Unix only, like the sandbox

        try:
            return f"uid {self.uid} ({pwd.getpwuid(self.uid).pw_name})"
        except KeyError:
            return f"uid {self.uid}"

    def describe(self) -> str:
        return (f"sandbox: every kernel ran in bubblewrap {self.version} as {self.user}, in its own mount, PID, "
                "network, IPC and UTS namespaces: no network, no other process in sight, and no files but its "
                "scratch folders, the released course and the Python environment (read-only)")

    def give(self, *paths: Path) -> None:
        """Make the folders the kernel writes to its own (root: chown to the sandbox user)."""
        if self.uid is None:
            return
        for path in paths:
            os.chown(path, self.uid, self.gid if self.gid is not None else -1)

    def command(self, argv: list[str], *, cwd: Path, writable: list[Path], readonly: list[Path],
                scratch: tuple[Path, int] | None = None) -> list[str]:
        """``argv`` wrapped so that it runs inside the sandbox (same paths inside as outside).

        ``scratch`` (a folder, a size in bytes): that folder is, inside, a tmpfs of that size,
        in which the ``writable`` folders under it are made empty (the grader outside never
        sees them) and the ``readonly`` ones under it are bound. Folders outside it are bound
        as they are: those are the ones the grader reads back (evidence, sockets).
        """
        args = [self.bwrap, "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid",
                "--unshare-net", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "grading"]
        if self.setpriv:
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            args += ["--unshare-user", "--disable-userns"]
        root = str(scratch[0]) if scratch else None
        inside = (lambda path: root is not None and (str(path) == root or str(path).startswith(root + os.sep)))
        mounts = [*_system_mounts(), *[("--ro-bind", python) for python in self.readonly_roots]]
        mounts += [("--bind", str(path)) for path in writable if not inside(path)]
        mounts += [("--ro-bind", str(path)) for path in readonly if not inside(path)]
        for parent in _parents([path for _, path in mounts] + ([root] if root else [])):
            args += ["--perms", "0755", "--dir", parent]  # mount points' parents: traversable, empty
        for kind, path in mounts:
            args += [kind, path, path] if kind != "--symlink" else [kind, os.readlink(path), path]
        if scratch is not None:
            args += ["--perms", "0755", "--size", str(scratch[1]), "--tmpfs", root]
            for folder in _with_parents_under(root, [str(path) for path in writable if inside(path)]):
                args += ["--perms", "0777", "--dir", folder]  # the sandbox's user writes there
            for path in readonly:
                if inside(path):
                    args += ["--ro-bind", str(path), str(path)]
        args += ["--dev", "/dev", "--remount-ro", "/dev",  # a user namespace's /dev would be a writable tmpfs
                 "--perms", "1777", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm",
                 "--proc", "/proc", "--remount-ro", "/", "--chdir", str(cwd),
                 # ipykernel exits when its parent's PID is not the one it was given: the sandbox's
                 # PID namespace hides the grader (--die-with-parent ends the kernel with it instead)
                 "--unsetenv", "JPY_PARENT_PID"]
        if self.setpriv:
            args += ["--", self.setpriv, f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                     "--inh-caps=-all", "--bounding-set=-all"]
        return [*args, "--", *argv]


def _system_mounts() -> list[tuple[str, str]]:
    mounts = []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            mounts.append(("--symlink", path))
        elif os.path.isdir(path):
            mounts.append(("--ro-bind", path))
    mounts += [("--ro-bind", f"/etc/{name}") for name in ETC_FILES if os.path.exists(f"/etc/{name}")]
    return mounts


def _with_parents_under(root: str, folders: list[str]) -> list[str]:
    """``folders`` (under ``root``) and their parents below ``root``, outermost first."""
    out: list[str] = []
    for folder in folders:
        for path in [*reversed(Path(folder).parents), Path(folder)]:
            if str(path).startswith(root + os.sep) and str(path) not in out:
                out.append(str(path))
    return out


def _parents(paths: list[str]) -> list[str]:
    """Every ancestor folder of ``paths`` (outermost first), without / and the paths themselves."""
    out: list[str] = []
    for path in paths:
        for parent in reversed(Path(path).parents[:-1]):
            if str(parent) not in out and str(parent) not in paths:
                out.append(str(parent))
    return out


def python_roots() -> tuple[str, ...]:
    """The folders of this Python environment (venv and the interpreter it is built on)."""
    roots: list[str] = []
    candidates = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
                  str(Path(os.path.realpath(sys.executable)).parent.parent)]
    for path in sorted({os.path.realpath(p) for p in candidates}, key=len):
        if path in ("/", "/usr") or any(path.startswith(r + os.sep) for r in roots + ["/usr"]):
            continue  # / is never bound whole; /usr is bound anyway
        roots.append(path)
    return tuple(roots)


def _unprivileged_ids() -> tuple[int, int]:
    import pwd

    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return 65534, 65534


def candidate() -> Sandbox | str:
    """The sandbox this machine could offer, or why there is none."""
    if not sys.platform.startswith("linux"):
        return f"kernels cannot be sandboxed on {sys.platform} (bubblewrap needs Linux)"
    bwrap = shutil.which(PROGRAM)
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=30).stdout.split()[-1]
    except (OSError, subprocess.SubprocessError, IndexError):
        version = "?"
    setpriv = uid = gid = None
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv:
            uid, gid = _unprivileged_ids()
    return Sandbox(bwrap, version, setpriv, uid, gid, python_roots())


def detect(enabled: bool = True) -> tuple[Sandbox | None, str]:
    """The sandbox to use and a line for grading.log; a failed probe means no sandbox, and says why."""
    if not enabled:
        return None, warning("--no-sandbox was given")
    found = candidate()
    if isinstance(found, str):
        return None, warning(found)
    problem = probe(found)
    if problem:
        return None, warning(f"bubblewrap {found.version} cannot create a sandbox here: {problem}")
    return found, found.describe()


def probe(sandbox: Sandbox) -> str | None:
    """Run this Python inside the sandbox once; None when it works, else bubblewrap's complaint."""
    scratch = Path(tempfile.mkdtemp(prefix="coursetools-sandbox-probe-"))
    try:
        sandbox.give(scratch)
        argv = [sys.executable, "-I", "-c", "import os; open('probe', 'w').write(str(os.getuid()))"]
        command = sandbox.command(argv, cwd=scratch, writable=[scratch], readonly=[])
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.SubprocessError) as error:
            return f"{type(error).__name__}: {error}"
        if out.returncode != 0 or not (scratch / "probe").is_file():
            return (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1][:300]
        if sandbox.uid is not None and (scratch / "probe").read_text() != str(sandbox.uid):
            return "the kernel did not run as the sandbox's user"
        return None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def warning(reason: str) -> str:
    return (f"WARNING: NO SANDBOX: {reason}. Learner code ran unsandboxed, as this grader's user: it could read "
            "solutions/, the hidden checks and other learners' files, rewrite other learners' hand-ins, use the "
            f"network, leave processes behind and kill the grader. To sandbox kernels, {INSTALL_HINT} or grade in "
            "a container or VM.")
