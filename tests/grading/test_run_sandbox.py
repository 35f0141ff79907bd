"""What a learner's kernel can reach, with the sandbox and without it.

A probe cell runs as the answer of exercise 1.1 in a real grading run
(:func:`~coursetools.grading.run.run_plan`) and tries everything the README's
"not defended" list used to name: read ``solutions/`` and the hidden checks
(directly and through ``/proc/<grader pid>/cwd``), read or rewrite another
learner's scratch folder, evidence and hand-in, open a connection to a server on
this machine (its network address and its loopback), see or signal the grader,
write to the Python environment or the course's code, leave a daemon behind. Its
findings come back as the exercise's evidence (a JSON string).

Without the sandbox the same probe must find the leaks (so the probe can fail);
with it, none, while the kernel still writes its own scratch folders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from coursetools.build import solution_name
from coursetools.grading import cgroups
from coursetools.grading import sandbox as sandboxing
from coursetools.grading.options import Limits
from coursetools.grading.run import run_plan
from coursetools.grading.snapshot import take_snapshot
from coursetools.grading.submission import parse_notebook, rebuild
from fixtures.grading.classroom import LAYERS, ROOT, load, set_answer
from fixtures.grading.sandboxing import Server, external_ip, kill_processes_with, sandbox_or_skip

PROBE = """
import json, os, signal, socket, subprocess, sys, pathlib
import coursetools

def _attempt(action):
    try:
        action()
        return "ok"
    except BaseException as error:
        return type(error).__name__

def _read(path):
    return lambda: pathlib.Path(path).read_bytes()

def _append(path):
    def action():
        with open(path, "ab") as handle:
            handle.write(b"")
    return action

def _create(path):
    def action():
        with open(path, "x") as handle:
            handle.write("probe")
        os.remove(path)
    return action

def _connect(host):
    return lambda: socket.create_connection((host, PORT), timeout=3).close()

_work = list(pathlib.Path.cwd().parents)[3]
_found = sorted(str(p) for pattern in ("runs/*/course/exercises/*", "evidence/*/*/*", "collected/*/*/*")
                for p in _work.glob(pattern))
_daemon = ("import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', "
           + repr(DAEMON) + "], env={}, start_new_session=True, stdin=subprocess.DEVNULL, "
           "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); os._exit(0)")
subprocess.run([sys.executable, "-c", _daemon], env={}, timeout=60)
_pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
findings = {
    "read solutions/": _attempt(_read(SOLUTION)),
    "read hidden checks": _attempt(_read(HIDDEN)),
    "read solutions/ through /proc/<grader>/cwd": _attempt(_read(f"/proc/{GRADER}/cwd/solutions/01_solutions_layers.ipynb")),
    "see the grader": _attempt(lambda: os.kill(GRADER, 0)),
    "read another learner's scratch": _attempt(_read(OTHER_SCRATCH)),
    "write another learner's scratch": _attempt(_append(OTHER_SCRATCH)),
    "write another learner's evidence": _attempt(_append(OTHER_EVIDENCE)),
    "write another learner's hand-in": _attempt(_append(HAND_IN)),
    "create a file in the Python environment": _attempt(_create(os.path.join(SITE, NEW_FILE))),
    "write the course's code": _attempt(_append(coursetools.__file__)),
    "connect to this machine's address": _attempt(_connect(EXTERNAL)) if EXTERNAL else "no address",
    "connect to the host's loopback": _attempt(_connect("127.0.0.1")),
    "write the working folder": _attempt(_create("probe.txt")),
    "write HOME": _attempt(_create(os.path.join(os.environ["HOME"], "probe.txt"))),
    "write TMPDIR": _attempt(_create(os.path.join(os.environ["TMPDIR"], "probe.txt"))),
    "other runs' files found": [p for p in _found if "probe" not in p],
    "processes in sight": len(_pids),
    "grader in sight": GRADER in _pids,
    "uid": os.getuid(),
}
hidden = json.dumps(findings)
"""

LEAKS = [
    "read solutions/", "read hidden checks", "read solutions/ through /proc/<grader>/cwd", "see the grader",
    "read another learner's scratch", "write another learner's scratch", "write another learner's evidence",
    "write another learner's hand-in", "create a file in the Python environment", "write the course's code",
    "connect to this machine's address", "connect to the host's loopback",
]
OWN = ["write the working folder", "write HOME", "write TMPDIR"]


def probe(tmp_path: Path, sandbox) -> tuple[dict, int]:
    """Run the probe in one kernel; its findings and how many daemons it left behind."""
    snapshot = take_snapshot(ROOT, only=[LAYERS])
    pristine = snapshot.pristine[LAYERS]
    work = Path(tempfile.mkdtemp(prefix="coursetools-grade-"))  # as the grader names its work folder
    other = work / "runs" / "other-learner" / "course" / "exercises"
    other.mkdir(parents=True)
    (other / "answers.txt").write_text("another learner's scratch")
    evidence = work / "collected" / "other-learner" / "1.1"
    evidence.mkdir(parents=True)
    (evidence / "layer.keras").write_bytes(b"another learner's evidence")
    hand_in = tmp_path / "submissions" / "other-learner" / LAYERS
    hand_in.parent.mkdir(parents=True)
    hand_in.write_text("{}")
    daemon = f"coursetools-probe-daemon-{uuid.uuid4().hex}"
    with Server() as server:
        constants = {
            "SOLUTION": str(ROOT / "solutions" / solution_name(LAYERS)), "HIDDEN": str(ROOT / "coursetools" / "lessons" / "lesson01" / "hidden.py"),
            "GRADER": os.getpid(), "OTHER_SCRATCH": str(other / "answers.txt"), "OTHER_EVIDENCE": str(evidence / "layer.keras"),
            "HAND_IN": str(hand_in), "SITE": sysconfig.get_paths()["purelib"], "NEW_FILE": f"probe-{uuid.uuid4().hex}.txt",
            "EXTERNAL": external_ip(), "PORT": server.port, "DAEMON": daemon,
        }
        code = "".join(f"{name} = {value!r}\n" for name, value in constants.items()) + textwrap.dedent(PROBE)
        nb = set_answer(load("solutions"), "1.1", code)
        plan = rebuild(pristine, parse_notebook(json.dumps(nb).encode()))
        try:
            run = run_plan(plan, pristine.calls, snapshot.kernel_library(), work, Limits(cell_timeout=120), None, sandbox)
            unchanged = hand_in.read_text() == "{}" and (other / "answers.txt").read_text() == "another learner's scratch"
        finally:
            left = kill_processes_with(daemon)
            shutil.rmtree(work, ignore_errors=True)
    assert "1.1" in run.captured, (run.problems, run.raised, run.stopped, run.infrastructure, run.log[-2000:])
    findings = json.loads(run.captured["1.1"].entries["layer"]["value"])
    assert unchanged  # the probe appends nothing, even where it may write
    return findings, left


def test_the_sandboxed_kernel_reaches_nothing_but_its_own_folders(tmp_path):
    sandbox = sandbox_or_skip()
    findings, daemons = probe(tmp_path, sandbox)
    leaks = {name: findings[name] for name in LEAKS if findings[name] == "ok"}
    assert not leaks, findings
    assert findings["other runs' files found"] == [], findings
    assert all(findings[name] == "ok" for name in OWN), findings
    assert not findings["grader in sight"] and findings["processes in sight"] <= 5, findings
    if os.geteuid() == 0:
        assert findings["uid"] == sandbox.uid != 0
    assert daemons == 0, "a daemon outlived the sandboxed kernel"


def test_without_the_sandbox_the_probe_finds_the_leaks(tmp_path, monkeypatch):
    """The probe can fail: unsandboxed (and without a pids cgroup), the kernel reads and reaches what the sandbox
    hides."""
    monkeypatch.setattr(cgroups, "create", lambda max_tasks: None)
    findings, daemons = probe(tmp_path, None)
    for name in ("read solutions/", "read hidden checks", "read another learner's scratch", "see the grader",
                 "connect to the host's loopback"):
        assert findings[name] == "ok", (name, findings)
    assert findings["other runs' files found"], findings
    assert daemons == 1, "the unsandboxed daemon should have shed the run marker and survived"


def test_without_the_sandbox_a_pids_cgroup_still_ends_the_daemon(tmp_path):
    """Where the grader may make cgroups, the kernel's group holds the daemon that shed its run marker: it is
    killed with the kernel even without the sandbox (a kernel running as root could still leave the group)."""
    group = cgroups.create(1)
    if group is None:
        pytest.skip("this grader cannot create a pids cgroup (not root, or no pids controller delegated)")
    group.remove()
    findings, daemons = probe(tmp_path, None)
    assert findings["see the grader"] == "ok"  # unsandboxed indeed
    assert daemons == 0, "the daemon left the kernel's cgroup"


# --- choosing the sandbox, and falling back loudly ------------------------------------------


def test_no_sandbox_is_a_loud_warning(monkeypatch):
    sandbox, line = sandboxing.detect(False)
    assert sandbox is None and line.startswith("WARNING: NO SANDBOX: --no-sandbox was given")
    assert "apt-get install bubblewrap" in line
    monkeypatch.setattr(sandboxing.shutil, "which", lambda name: None)
    sandbox, line = sandboxing.detect(True)
    assert sandbox is None and "bubblewrap (bwrap) is not installed" in line and line.startswith("WARNING")


def test_a_sandbox_that_cannot_start_falls_back_with_its_reason(monkeypatch):
    broken = sandboxing.Sandbox("/bin/false", "0.0", None, None, None, ())
    monkeypatch.setattr(sandboxing, "candidate", lambda: broken)
    sandbox, line = sandboxing.detect(True)
    assert sandbox is None and line.startswith("WARNING: NO SANDBOX: bubblewrap 0.0 cannot create a sandbox here")


def test_the_user_namespace_form_works_too():
    """The form an unprivileged grader uses (no setpriv: a user namespace) also starts Python."""
    sandbox = sandbox_or_skip()
    assert sandboxing.probe(replace(sandbox, setpriv=None, uid=None, gid=None)) is None


SCRATCH_PROBE = """
import errno, os, sys
scratch, shared = sys.argv[1], sys.argv[2]
def write(path, megabytes):
    try:
        with open(path, "wb") as handle:
            for _ in range(megabytes):
                handle.write(b"x" * 2**20)
        return "ok"
    except OSError as error:
        return errno.errorcode.get(error.errno, str(error.errno))
print(write(os.path.join(scratch, "home", "small.bin"), 1), write(os.path.join(scratch, "tmp", "big.bin"), 8),
      write(os.path.join(shared, "evidence.bin"), 1), write("/dev/probe", 0), write(os.path.join(scratch, "x"), 0))
"""


@pytest.mark.parametrize("form", ["setpriv", "user namespace"])
def test_the_scratch_is_a_size_limited_tmpfs_the_grader_never_sees(tmp_path, form):
    """Folders under ``scratch`` are a tmpfs of the given size inside (the grader's copies stay empty); folders
    outside it are bound (the grader reads them back); /dev cannot be written, in either form of the sandbox."""
    sandbox = sandbox_or_skip()
    if form == "user namespace":
        sandbox = replace(sandbox, setpriv=None, uid=None, gid=None)
    scratch, shared = tmp_path / "run", tmp_path / "evidence"
    for folder in (scratch / "home", scratch / "tmp", shared):
        folder.mkdir(parents=True)
    sandbox.give(scratch, scratch / "home", scratch / "tmp", shared)
    command = sandbox.command([sys.executable, "-I", "-c", SCRATCH_PROBE, str(scratch), str(shared)], cwd=scratch / "tmp",
                              writable=[scratch / "home", scratch / "tmp", shared], readonly=[],
                              scratch=(scratch, 4 * 2**20))
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    # 1 MB fits, 8 MB do not (ENOSPC), the shared folder takes its file, /dev and the tmpfs's root refuse
    assert done.stdout.split() == ["ok", "ENOSPC", "ok", "EROFS", "EACCES" if form == "setpriv" else "ok"]
    assert not any((scratch / "home").iterdir()) and not any((scratch / "tmp").iterdir())
    assert (shared / "evidence.bin").stat().st_size == 2**20


def test_the_sandbox_binds_the_python_environment_read_only():
    roots = sandboxing.python_roots()
    assert any(sys.prefix == r or sys.prefix.startswith(r + os.sep) for r in roots + ("/usr",))
    command = sandboxing.Sandbox("bwrap", "0", None, None, None, roots).command(
        ["python"], cwd=Path("/w/c"), writable=[Path("/w/c")], readonly=[Path("/w/lib")])
    pairs = list(zip(command, command[1:]))
    for root in roots:
        assert ("--ro-bind", root) in pairs
    assert ("--bind", "/w/c") in pairs and ("--ro-bind", "/w/lib") in pairs
    assert "--unshare-net" in command and "--unshare-pid" in command and command[-1] == "python"


def test_setup_installs_bubblewrap_or_says_how(monkeypatch, capsys):
    sys.path.insert(0, str(ROOT))
    import course

    monkeypatch.setattr(course.shutil, "which", lambda name: None)
    monkeypatch.setattr(course.os, "geteuid", lambda: 1000)  # not root: nothing is installed
    monkeypatch.setattr(course.sys, "platform", "linux")
    course.ensure_bubblewrap()
    out = capsys.readouterr().out
    assert "bubblewrap (`bwrap`) is missing" in out and "sudo apt-get install bubblewrap" in out
    monkeypatch.setattr(course.sys, "platform", "darwin")  # no bubblewrap outside Linux: nothing to say
    course.ensure_bubblewrap()
    assert capsys.readouterr().out == ""


def test_the_bubblewrap_hint_is_written_once(monkeypatch, capsys):
    """course.py (which runs before .venv exists) and the grader's warning say the same hint, from one file."""
    import ast
    import subprocess

    sys.path.insert(0, str(ROOT))
    import course

    source = (ROOT / "coursetools" / "grading" / "bubblewrap_hint.py").read_text(encoding="utf-8")
    assert not [node for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert course.bubblewrap_hint()["INSTALL_HINT"] == sandboxing.INSTALL_HINT
    assert sandboxing.INSTALL_HINT in sandboxing.detect(False)[1]
    monkeypatch.setattr(course.shutil, "which", lambda name: None)
    monkeypatch.setattr(course.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(course.sys, "platform", "linux")
    course.ensure_bubblewrap()
    assert sandboxing.INSTALL_HINT in capsys.readouterr().out
    # With no site-packages at all (-S), as on a machine that has nothing but Python:
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import course; print(course.bubblewrap_hint()['INSTALL_HINT'])"
    loaded = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert loaded.returncode == 0 and loaded.stdout.strip() == sandboxing.INSTALL_HINT, loaded.stderr
