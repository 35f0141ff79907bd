"""Limits a kernel cannot pass: how many processes it runs, how much it writes.

A class of learners each of whom does one thing a kernel must not (start 200
processes, run a fork loop, write 700 MB into HOME, make 200 000 files, flood its
stderr) in exercise 1.5 is graded by the real command, with the sandbox and without:
each ends as that learner's ``error`` row for 1.5 that says which limit and what to
remove, exercises 1.1-1.4 are graded as usual, a learner who stays within the limits
passes, and no process of theirs is left behind. The same limits hold for the class
runner (:mod:`coursetools.grading.classes`), and for the watchdog alone (no cgroup).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from coursetools.grading import cgroups, classes, watchdog
from coursetools.grading.options import Limits
from coursetools.grading.snapshot import take_snapshot, write_library
from fixtures.grading.classroom import (
    LAYERS,
    LAYERS_EXERCISES,
    ROOT,
    assert_clear_rows,
    by_learner,
    cell_index,
    grade_cli,
    load,
    read_grades,
    write_learner,
)
from fixtures.grading.sandboxing import kill_processes_with, sandbox_or_skip

MAX_PROCESSES = 20
DISK_MB = 100
MARK = f"limits-test-{uuid.uuid4().hex[:8]}"  # in the command line of processes a test starts
SLEEP = f"120.{uuid.uuid4().int % 10**9:09d}"  # seconds a learner's `sleep` waits: a mark it accepts
COMM = f"lt{uuid.uuid4().hex[:10]}"  # the name a fork loop gives itself (prctl), which its forks inherit
NAME_ITSELF = f"import ctypes; ctypes.CDLL(None).prctl(15, {COMM.encode()!r}, 0, 0, 0)"


def leftovers() -> int:
    """Kill what a learner of these tests started and the grader left running; how many there were."""
    found = kill_processes_with(MARK) + kill_processes_with(SLEEP)
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == COMM:
            try:
                process.kill()
                found += 1
            except psutil.Error:
                pass
    return found

LEARNERS = {
    "starts-processes": f"""
        import subprocess
        _children = [subprocess.Popen(["sleep", "{SLEEP}"]) for _ in range(200)]
        """,
    "fork-loop": f"""
        {NAME_ITSELF}
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """,
    "fills-home": """
        import os
        with open(os.path.join(os.environ["HOME"], "big.bin"), "wb") as _file:
            for _ in range(700):
                _file.write(b"x" * 2**20)
        """,
    "many-files": """
        import os
        for _i in range(200_000):
            open(os.path.join(os.environ["TMPDIR"], str(_i)), "w").close()
        """,
    "floods-stderr": """
        import os
        for _ in range(400):
            os.write(2, b"x" * 2**20)
        """,
    "within-limits": f"""
        import os, subprocess
        _children = [subprocess.Popen(["sleep", "1"]) for _ in range({MAX_PROCESSES - 5})]
        [child.wait() for child in _children]
        with open(os.path.join(os.environ["HOME"], "model.bin"), "wb") as _file:
            _file.write(b"x" * {DISK_MB // 2} * 2**20)
        """,
}
PROCESSES = f"your answer cell for exercise 1.5 started more than {MAX_PROCESSES} processes at once"
DISK = f"your answer cell for exercise 1.5 wrote more than {DISK_MB} MB of files"
EXPECTED = {
    "starts-processes": {"1.5": ("error", PROCESSES)},
    "fork-loop": {"1.5": ("error", PROCESSES)},
    "fills-home": {"1.5": ("error", DISK)},
    "many-files": {"1.5": ("error", DISK)},
    "floods-stderr": {"1.5": ("error", DISK)},
    "within-limits": {},
}


def before_the_answer(exercise: str, code: str) -> dict:
    """The solutions, with ``code`` run at the top of the answer cell of ``exercise``."""
    nb = load("solutions")
    cell = nb["cells"][cell_index(nb, "answer", exercise)]
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    cell["source"] = textwrap.dedent(code).strip() + "\n" + source
    return nb


def grade_class(base: Path, *options: str):
    for learner, code in LEARNERS.items():
        write_learner(base / "submissions", learner, {LAYERS: before_the_answer("1.5", code)})
    started = time.monotonic()
    result = grade_cli(base / "submissions", base / "report", "--notebooks", LAYERS, "--workers", "2", "--no-progress",
                       "--max-processes", str(MAX_PROCESSES), "--disk-mb", str(DISK_MB), "--cell-timeout", "120",
                       *options)
    seconds = time.monotonic() - started
    return result, base / "report", seconds, leftovers()


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory):
    sandbox_or_skip()
    return grade_class(tmp_path_factory.mktemp("limits-sandboxed"))


@pytest.fixture(scope="module")
def unsandboxed(tmp_path_factory):
    return grade_class(tmp_path_factory.mktemp("limits-unsandboxed"), "--no-sandbox")


@pytest.mark.parametrize("graded", ["sandboxed", "unsandboxed"])
def test_each_limit_is_that_learner_s_error_and_the_rest_is_graded(graded, request):
    result, report, _, left = request.getfixturevalue(graded)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = by_learner(read_grades(report))
    assert sorted(rows) == sorted(LEARNERS)
    for learner, expected in EXPECTED.items():
        assert sorted(rows[learner]) == list(LAYERS_EXERCISES)
        assert_clear_rows(rows[learner], expected)
        if expected:
            assert "Remove the code that" in rows[learner]["1.5"]["message"], rows[learner]["1.5"]
    log = (report / "grading.log").read_text(encoding="utf-8")
    assert "grader faults: 0" in log and "GRADER FAULT" not in log
    assert f"limits per kernel: at most {MAX_PROCESSES} processes" in log and f"{DISK_MB} MB of files" in log
    assert left == 0, "processes a learner started outlived the grading"


def files_written(report: Path, learner: str, notebook: str = LAYERS) -> float:
    """MB the learner's kernel had written at most, as grading.log says (to a tenth of a MB)."""
    log = (report / "grading.log").read_text(encoding="utf-8")
    return float(re.search(rf"^{learner}/{re.escape(notebook)}: ran in .*, files written ([\d.]+) MB$", log, re.M)[1])


def test_in_the_sandbox_no_kernel_wrote_past_its_tmpfs(sandboxed, unsandboxed):
    """The sandbox's scratch is a tmpfs of --disk-mb (plus 4 MB): HOME could not take 700 MB. The number of
    files is the watchdog's to count (a tmpfs limits bytes, not files), as is everything without the sandbox:
    the writer is stopped once it passed the limit (by how much, the log says)."""
    _, report, _, _ = sandboxed
    log = (report / "grading.log").read_text(encoding="utf-8")
    assert "a tmpfs of that size for the working folder, HOME and TMPDIR" in log
    assert DISK_MB < files_written(report, "fills-home") <= DISK_MB + 4 + 1
    assert DISK_MB < files_written(report, "many-files") < 200_000 * 4 / 1024
    assert files_written(report, "within-limits") < DISK_MB
    _, report, _, _ = unsandboxed
    assert "no hard cap without the sandbox" in (report / "grading.log").read_text(encoding="utf-8")
    assert DISK_MB < files_written(report, "fills-home") < 700


# --- the same limits for the class runner ---------------------------------------------------------

RUNNER_SOURCES = {
    "processes": f"""
class Double(layers.Layer):
    import subprocess as _subprocess
    _children = []
    for _ in range(100):
        _children.append(_subprocess.Popen(["sleep", "{SLEEP}"]))

    def call(self, x):
        return 2 * x
""",
    "disk": """
class Double(layers.Layer):
    import os as _os
    with open(_os.path.join(_os.environ["HOME"], "big.bin"), "wb") as _file:
        for _ in range(300):
            _file.write(b"x" * 2**20)

    def call(self, x):
        return 2 * x
""",
}
RUNNER_PHRASES = {"processes": f"using it started more than {MAX_PROCESSES} processes at once",
                  "disk": f"using it wrote more than {DISK_MB} MB of files"}


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "no-sandbox"])
@pytest.mark.parametrize("case", sorted(RUNNER_SOURCES))
def test_the_class_runner_has_the_same_limits(tmp_path, case, sandboxed):
    sandbox = sandbox_or_skip() if sandboxed else None
    work = Path(tempfile.mkdtemp(prefix="coursetools-grade-"))
    try:
        base = work / "classes" / "run"
        out = base.with_name("run-out")
        for folder in (out, base / "home", base / "tmp"):
            folder.mkdir(parents=True)
        lib = write_library(take_snapshot(ROOT, only=[LAYERS]).kernel_library(), base / "lib")
        shutil.copytree(ROOT / "tests" / "fixtures", lib / "fixtures", ignore=shutil.ignore_patterns("grading"))
        job = {"source": RUNNER_SOURCES[case], "class": "Double", "reporter": "fixtures.reporters:make_scale_reporter",
               "folder": str(out), "name": "Double", "exercise": "0.0"}
        limits = Limits(cell_timeout=120, max_processes=MAX_PROCESSES, disk_mb=DISK_MB)
        reason = classes._run(job, base, lib, out, limits, sandbox)
    finally:
        left = leftovers()
        shutil.rmtree(work, ignore_errors=True)
    assert reason is not None and reason.startswith(RUNNER_PHRASES[case]), reason
    assert left == 0


def test_the_class_runner_within_the_limits_reports(tmp_path):
    """The same set-up, with a class that does nothing wrong: a report, so the failures above are the limits'."""
    sandbox = sandbox_or_skip()
    work = Path(tempfile.mkdtemp(prefix="coursetools-grade-"))
    try:
        base = work / "classes" / "run"
        out = base.with_name("run-out")
        for folder in (out, base / "home", base / "tmp"):
            folder.mkdir(parents=True)
        lib = write_library(take_snapshot(ROOT, only=[LAYERS]).kernel_library(), base / "lib")
        shutil.copytree(ROOT / "tests" / "fixtures", lib / "fixtures", ignore=shutil.ignore_patterns("grading"))
        source = "class Double(layers.Layer):\n    def call(self, x):\n        return 2 * x\n"
        job = {"source": source, "class": "Double", "reporter": "fixtures.reporters:make_scale_reporter",
               "folder": str(out), "name": "Double", "exercise": "0.0"}
        reason = classes._run(job, base, lib, out, Limits(cell_timeout=120, max_processes=MAX_PROCESSES,
                                                          disk_mb=DISK_MB), sandbox)
        manifest = json.loads((out / "manifest.json").read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert reason is None and manifest["evidence"]["Double"]["kind"] != "capture_error", manifest


# --- the mechanisms, one at a time -----------------------------------------------------------------

FORK_LOOP = f"""
import os, sys, time
sys.argv.append({MARK!r})
while True:
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
    except OSError:
        time.sleep(0.01)
"""


def test_without_a_cgroup_the_watchdog_stops_a_fork_loop(monkeypatch):
    """Where the grader cannot make a cgroup, the watchdog's count of the tree is the cap."""
    process = subprocess.Popen([sys.executable, "-c", FORK_LOOP, MARK], start_new_session=True)
    guard = watchdog.Watchdog(process.pid, memory_bytes=8 * 2**30, max_processes=MAX_PROCESSES, pgid=process.pid)
    started = time.monotonic()
    with guard:
        process.wait(timeout=60)
    seconds = time.monotonic() - started
    left = leftovers()
    assert guard.reason == watchdog.PROCESSES and left == 0
    assert seconds < 10, f"the fork loop ran {seconds:.1f} s"


def test_a_pids_cgroup_refuses_forks_past_its_cap():
    group = cgroups.create(10)
    if group is None:
        pytest.skip("this grader cannot create a pids cgroup (not root, or no pids controller delegated)")
    try:
        done = subprocess.run(group.wrap([sys.executable, "-c", textwrap.dedent(f"""
            import os, sys, time
            sys.argv.append({MARK!r})
            started, refused = 0, 0
            for _ in range(30):
                try:
                    if os.fork() == 0:
                        time.sleep(5)
                        os._exit(0)
                    started += 1
                except OSError:
                    refused += 1
            print(started, refused)
            """)]), capture_output=True, text=True, timeout=60)
        started, refused = map(int, done.stdout.split())
        assert started < 10 and refused == 30 - started and group.refused() >= refused
    finally:
        group.remove()
        left = leftovers()
    assert not group.folder.exists() and left == 0


def test_the_disk_meter_counts_bytes_and_files(tmp_path):
    meter = watchdog.DiskMeter(10 * 2**20, [tmp_path])
    meter.start([])
    (tmp_path / "big.bin").write_bytes(b"x" * 3 * 2**20)
    assert 3 * 2**20 <= meter.used([], fresh=True) < 4 * 2**20
    for index in range(2000):
        (tmp_path / f"empty-{index}").touch()
    assert meter.used([], fresh=True) > meter.limit_bytes  # 2000 empty files count 4 KiB each: 8 MB more


# --- an ordinary notebook is not stopped ------------------------------------------------------------

TRAINING = "02_sequential.ipynb"  # trains Keras models: TensorFlow's thread pools, in the kernel's cgroup too


@pytest.mark.parametrize("sandboxed", [True, False], ids=["sandbox", "no-sandbox"])
def test_training_a_model_stays_within_the_same_limits(tmp_path, sandboxed):
    """The solutions of a notebook that trains models, graded with the tight limits above: every exercise passes
    (TensorFlow's threads count in the pids cgroup, not against --max-processes; its files are small)."""
    options = ["--no-sandbox"] if not sandboxed else []
    if sandboxed:
        sandbox_or_skip()
    write_learner(tmp_path / "submissions", "trains", {TRAINING: load("solutions", TRAINING)})
    result = grade_cli(tmp_path / "submissions", tmp_path / "report", "--notebooks", TRAINING, "--no-progress",
                       "--max-processes", str(MAX_PROCESSES), "--disk-mb", str(DISK_MB), *options)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = by_learner(read_grades(tmp_path / "report"))["trains"]
    assert rows and all(row["status"] == "passed" for row in rows.values()), rows
    log = (tmp_path / "report" / "grading.log").read_text(encoding="utf-8")
    assert "stopped:" not in log and f"limits per kernel: at most {MAX_PROCESSES} processes" in log
    assert files_written(tmp_path / "report", "trains", TRAINING) < DISK_MB
    assert leftovers() == 0
