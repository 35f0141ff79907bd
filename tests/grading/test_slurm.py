"""The Slurm recipe of deploy/grading/slurm/ on a real Slurm, submitted as the README tells instructors.

A single-node cluster of Debian's packages (munged, slurmctld, slurmd; see
fixtures/grading/slurmcluster.py) starts in a folder of its own for this module, and
``deploy/grading/slurm/submit.sh`` queues its job array of shards and the dependent merge
job there. Two classes:

* four learners graded with the course environment (``GRADER_ENV``, as where no Apptainer
  exists): the merged report must equal a one-machine ``grade`` of the class, byte for
  byte apart from timings (as in tests/grading/test_merge_shards.py);
* three learners in three shards through the Apptainer path (``GRADER_SIF``; Apptainer is
  not installed here, so a stand-in ``apptainer`` runs the image's command with the course,
  fixtures/grading/engines.py): shard 2 is cancelled before it starts, shard 3 fails (the
  stand-in exits 1 there). The merge job still runs (``--dependency=afterany``), fails, and
  names shards 2/3 and 3/3 as missing.

Where Slurm cannot run (not Linux, not root, the packages missing) the module is skipped
with the reason and a warning, unless ``COURSETOOLS_REQUIRE_SLURM=1`` (set by .ci/run,
which installs the packages): there that is a failure. The daemons are stopped by PID when
the module ends, and any process of the cluster still alive then fails it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import pytest

from fixtures.grading.classroom import LAYERS, PYTHON, ROOT, load, read_grades, set_answer, write_learner
from fixtures.grading.engines import engine_calls, install_engine
from fixtures.grading.slurmcluster import SlurmCluster, Unavailable

SHARDS = 2
SUBMIT = "deploy/grading/slurm/submit.sh"  # run from the course folder, as the README shows
JOB_TIMEOUT = 600  # seconds; the jobs take about a minute on an idle 2-core machine


def no_slurm(reason: str) -> None:
    line = f"NO SLURM: {reason}; the Slurm recipe (deploy/grading/slurm/) is not tested"
    if os.environ.get("COURSETOOLS_REQUIRE_SLURM") == "1":
        pytest.fail(f"COURSETOOLS_REQUIRE_SLURM=1 but {line}")
    warnings.warn(line)
    pytest.skip(line)


@pytest.fixture(scope="module")
def cluster():
    folder = Path(tempfile.mkdtemp(prefix="coursetools-slurm-"))
    slurm = SlurmCluster(folder)
    try:
        slurm.start()
    except Unavailable as error:
        slurm.stop()
        shutil.rmtree(folder, ignore_errors=True)
        no_slurm(str(error))
    try:
        yield slurm
    finally:
        left = slurm.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert not left, f"processes of the test cluster outlived its daemons (killed now): {left}"


def submit(slurm: SlurmCluster, shards: int = SHARDS, **variables: str) -> tuple[str, str]:
    """``VAR=... deploy/grading/slurm/submit.sh`` from the course folder; the array's and the merge's job ids."""
    result = subprocess.run([SUBMIT], cwd=ROOT, env=slurm.env(SHARDS=str(shards), **variables),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.fullmatch(rf"grading: array job (\d+) \({shards} shards\), merge job (\d+); report in (.+)\n",
                         result.stdout)
    assert found and found[3] == f"{variables['WORK']}/report", result.stdout
    return found[1], found[2]


def logs(work: Path) -> str:
    return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')}"
                     for path in sorted((work / "logs").glob("*")))


def states(jobs: list[dict[str, str]]) -> dict[str, tuple[str, str]]:
    """{array task id (or job id): (state, exit code)}."""
    return {job.get("ArrayTaskId", job["JobId"]): (job["JobState"], job["ExitCode"]) for job in jobs}


def masked_log(path: Path) -> str:
    return re.sub(r"\d+(\.\d+)? (s|MB|processes)\b", "# \\2", path.read_text(encoding="utf-8"))  # measurements


def masked_feedback(path: Path) -> str:
    return re.sub(r"\(graded [^)]*\)", "(graded #)", path.read_text(encoding="utf-8"))


# --- a class graded in shards with the course environment --------------------------------------

def make_class(submissions: Path) -> None:
    """Shard 1 (ada, cy) runs two kernels side by side; shard 2 (bob, dee) needs none."""
    write_learner(submissions, "ada", {LAYERS: load("solutions")})
    write_learner(submissions, "bob", {LAYERS: load("exercises")})  # untouched: not run
    write_learner(submissions, "cy", {LAYERS: set_answer(load("solutions"), "1.1", "hidden = layers.Dense(8)")})
    write_learner(submissions, "dee", {LAYERS: b""})


@pytest.fixture(scope="module")
def graded(cluster, tmp_path_factory):
    base = tmp_path_factory.mktemp("slurm-class")
    submissions, work = base / "submissions", base / "work"
    make_class(submissions)
    started = time.monotonic()
    array, merge = submit(cluster, GRADER_ENV=str(ROOT), SUBMISSIONS=str(submissions), WORK=str(work))
    # The one-machine run of the same class, with the recipe's options, while the cluster works.
    whole = subprocess.Popen([PYTHON, "-m", "coursetools", "grade", str(submissions), "--out", str(base / "whole"),
                              "--workers", "2", "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        merged = cluster.wait(merge, JOB_TIMEOUT)
    except BaseException:
        whole.kill()
        raise
    finally:
        output = whole.communicate(timeout=JOB_TIMEOUT)[0]
    shards = cluster.jobs(array)
    print(f"cluster started in {cluster.started_in:.1f} s; shards and merge took {time.monotonic() - started:.0f} s")
    return base, work, states(shards), states(merged)[merge], (whole.returncode, output)


def test_the_array_and_the_merge_job_ran_on_slurm(graded):
    base, work, shards, merge, (code, output) = graded
    assert shards == {str(k): ("COMPLETED", "0:0") for k in range(1, SHARDS + 1)}, logs(work)
    assert merge == ("COMPLETED", "0:0"), logs(work)
    assert code == 0, output
    for k in range(1, SHARDS + 1):
        info = json.loads((work / "parts" / f"part-{k}" / "partial.json").read_text())
        # K and N came from the array Slurm gave the task (--shard auto).
        assert info["shard"] == {"index": k, "count": SHARDS, "source": f"Slurm array task {k} of 1-{SHARDS}"}
    learners = {k: [bytes.fromhex(e["folder"]).decode() for e in json.loads(
        (work / "parts" / f"part-{k}" / "partial.json").read_text())["learners"]] for k in (1, 2)}
    assert learners == {1: ["ada", "cy"], 2: ["bob", "dee"]}


def test_the_merged_report_equals_one_machine_s(graded):
    base, work, *_ = graded
    whole, merged = base / "whole", work / "report"
    assert (merged / "grades.csv").read_bytes() == (whole / "grades.csv").read_bytes()
    names = sorted(p.name for p in (whole / "feedback").iterdir())
    assert names == sorted(p.name for p in (merged / "feedback").iterdir()) and len(names) == 4
    for name in names:
        assert masked_feedback(merged / "feedback" / name) == masked_feedback(whole / "feedback" / name), name
    assert masked_log(merged / "grading.log") == masked_log(whole / "grading.log")
    # ... and it is a real grading: kernels ran, verdicts differ.
    status = {(row["learner"], row["exercise"]): row["status"] for row in read_grades(merged)}
    assert status[("ada", "1.1")] == "passed" and status[("cy", "1.1")] == "failed"
    assert status[("bob", "1.1")] == "failed" and status[("cy", "1.2")] == "passed"
    log = (merged / "grading.log").read_text(encoding="utf-8")
    assert "ada/01_layers.ipynb: ran in" in log and "cy/01_layers.ipynb: ran in" in log


# --- shards that fail: the merge job names them -------------------------------------------------

def test_failed_shards_make_the_merge_job_name_them(cluster, tmp_path):
    """Three shards: 2 is cancelled before it starts, 3 fails (its image cannot start); 1 is graded."""
    submissions, work = tmp_path / "submissions", tmp_path / "work"
    for name in ("ann", "ben", "col"):
        write_learner(submissions, name, {LAYERS: b""})  # no kernel needed: this case is about the jobs
    install_engine(tmp_path / "bin", "apptainer")
    image = tmp_path / "course-grader.sif"
    image.write_bytes(b"")  # the stand-in does not read it
    cluster.set_partition("DOWN")  # the jobs wait in the queue, so shard 2 can be cancelled before it starts
    try:
        array, merge = submit(cluster, shards=3, GRADER_SIF=str(image), SUBMISSIONS=str(submissions), WORK=str(work),
                              PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", FAKE_LOG=str(tmp_path / "engine.log"),
                              FAKE_FAIL_TASKS="3")
        cluster.run("scancel", f"{array}_2")
    finally:
        cluster.set_partition("UP")
    merged = states(cluster.wait(merge, JOB_TIMEOUT))[merge]
    shards = states(cluster.jobs(array))  # a task cancelled while pending leaves no record
    assert shards == {"1": ("COMPLETED", "0:0"), "3": ("FAILED", "1:0")}, logs(work)
    assert not (work / "logs" / f"grade-{array}_2.out").exists()
    assert "the image cannot start on this node" in (work / "logs" / f"grade-{array}_3.out").read_text()
    # afterany: the merge ran all the same, failed (exit 2: the parts do not make the class) and says why.
    assert merged == ("FAILED", "2:0"), logs(work)
    assert "merge: shard(s) 2/3, 3/3 missing" in (work / "logs" / f"merge-{merge}.out").read_text(), logs(work)
    assert not (work / "report" / "grades.csv").exists()
    assert sorted(p.name for p in (work / "parts").iterdir()) == ["part-1"]
    info = json.loads((work / "parts" / "part-1" / "partial.json").read_text())
    assert info["shard"]["source"] == "Slurm array task 1 of 1-3"  # passed into the image by APPTAINERENV_*
    # The image ran as the recipe says: contained, clean environment, submissions read-only, shard from the array.
    calls = engine_calls(tmp_path / "engine.log")
    assert len(calls) == 3 and all(call[:2] == ["apptainer", "exec"] for call in calls), calls
    *grades, merge_call = calls
    for call in calls:
        assert {"--containall", "--cleanenv", "--net"} <= set(call) and call[call.index("--network") + 1] == "none"
        assert call[call.index(str(image)) + 1:][:3] == ["python", "-m", "coursetools"]
    assert sorted(call[call.index("--out") + 1] for call in grades) == ["/parts/part-1", "/parts/part-3"]
    for call in grades:
        assert f"{submissions}:/submissions:ro" in call and call[call.index("--shard") + 1] == "auto"
    assert merge_call[-4:] == ["merge", "/parts", "--out", "/report"]
