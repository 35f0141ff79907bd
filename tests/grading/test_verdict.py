"""The verdict process judges evidence files, refuses forged or unsafe ones, and never runs learner code.

Evidence folders are made by hand here (as a kernel would leave them) and sent to
one real verdict process through :class:`~coursetools.grading.judge.Judge`.
"""

from __future__ import annotations

import json
import os
import signal
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from coursetools.lessons.lesson01 import dense_by_hand_example
from coursetools.grading import manifest
from coursetools.grading import bootstrap
from coursetools.grading.judge import BOOTSTRAP, Judge, JudgeUnavailable
from coursetools.grading.protocol import JobItem
from coursetools.grading.snapshot import library_files
from fixtures.grading.classroom import ROOT


def evidence(folder: Path, exercise: str, name: str, value=None, entry=None) -> JobItem:
    """Write one evidence value like the capture cell does; return the job item."""
    folder.mkdir(parents=True)
    if entry is None:
        if isinstance(value, keras.layers.Layer):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # unbuilt layers are fine evidence
                keras.saving.save_model(value, folder / f"{name}.keras")
            entry = {"kind": "keras", "file": f"{name}.keras"}
        elif isinstance(value, np.ndarray):
            np.save(folder / f"{name}.npy", value)
            entry = {"kind": "array", "file": f"{name}.npy"}
        else:
            entry = {"kind": "json", "value": value}
    hashes = {}
    if "file" in entry and (folder / str(entry["file"])).is_file():
        hashes[entry["file"]] = manifest.sha256(folder / entry["file"])
    return JobItem(folder.name, exercise, str(folder), {name: entry}, hashes, {name: "answer"})


def relu_by_hand():
    x, kernel, bias = dense_by_hand_example()
    return np.maximum(x @ kernel + bias, 0.0)


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    base = tmp_path_factory.mktemp("verdict")
    ev = base / "evidence"
    items = [
        evidence(ev / "good-layer", "1.1", "layer", keras.layers.Dense(16, activation="relu")),
        evidence(ev / "wrong-layer", "1.1", "layer", keras.layers.Dense(8, activation="relu")),
        evidence(ev / "good-array", "1.2", "y_by_hand", relu_by_hand()),
        evidence(ev / "json-for-layer", "1.1", "layer", [1, 2, 3]),
        evidence(ev / "not-done", "1.1", "layer", entry={"kind": "not_done", "exercise": "1.1"}),
        evidence(ev / "traversal", "1.1", "layer", entry={"kind": "keras", "file": "../good-layer/layer.keras"}),
        evidence(ev / "absolute", "1.1", "layer", entry={"kind": "keras", "file": str(ev / "good-layer/layer.keras")}),
        evidence(ev / "forged-kind", "1.1", "layer", entry={"kind": "passed", "status": "passed"}),
        evidence(ev / "lambda", "1.1", "layer", keras.layers.Lambda(lambda t: t * 2)),
        evidence(ev / "float16", "1.1", "layer", keras.layers.Dense(16, activation="relu", dtype="float16")),
        evidence(ev / "tiny-negative", "1.2", "y_by_hand", relu_by_hand() - 5e-6),  # within the visible tolerance
    ]
    # A link to a correct file, and a file swapped after its hash was recorded.
    (ev / "link").mkdir()
    os.symlink(ev / "good-layer" / "layer.keras", ev / "link" / "layer.keras")
    items.append(JobItem("link", "1.1", str(ev / "link"), {"layer": {"kind": "keras", "file": "layer.keras"}},
                         {"layer.keras": manifest.sha256(ev / "good-layer" / "layer.keras")}))
    swapped = evidence(ev / "swapped", "1.1", "layer", keras.layers.Dense(8, activation="relu"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        keras.saving.save_model(keras.layers.Dense(16, activation="relu"), ev / "swapped" / "layer.keras")
    items.append(swapped)
    # Planted modules next to the evidence must not be imported by the verdict process.
    (ev / "good-layer" / "keras.py").write_text("raise SystemExit('hijacked')\n")
    (ev / "good-layer" / "coursetools").mkdir()
    (ev / "good-layer" / "coursetools" / "__init__.py").write_text("raise SystemExit('hijacked')\n")

    library = library_files(ROOT / "coursetools")
    (base / "work-hidden").mkdir()
    with Judge(library, base / "work-hidden", hidden=True) as judge:
        with_hidden = judge.judge(items)
        info = judge.info
    (base / "work-visible").mkdir()
    with Judge(library, base / "work-visible", hidden=False) as judge:
        visible = judge.judge([i for i in items if i.key in ("float16", "tiny-negative")])
    return with_hidden, visible, info, library, base


@pytest.mark.parametrize(
    "key, status, phrase",
    [
        ("good-layer", "passed", "✅ 1.1 passed"),
        ("wrong-layer", "failed", "wrong number of units"),
        ("good-array", "passed", "✅ 1.2 passed"),
        ("json-for-layer", "failed", "not a Dense layer"),
        ("not-done", "failed", "not done yet"),
        ("traversal", "error", "refused"),
        ("absolute", "error", "refused"),
        ("forged-kind", "error", "refused"),
        ("lambda", "failed", "safe mode"),  # evidence.load_evidence describes what safe mode refused
        ("link", "error", "not a regular file"),
        ("swapped", "error", "changed after it was collected"),
        ("float16", "failed", "hint:"),
        ("tiny-negative", "failed", "ReLU never gives a negative number"),
    ],
)
def test_verdict(verdicts, key, status, phrase):
    result = verdicts[0][key]
    assert result.status == status, result
    assert phrase in result.message, result.message


def test_placeholders_are_reported_as_not_started(verdicts):
    assert verdicts[0]["not-done"].not_started is True
    assert not verdicts[0]["wrong-layer"].not_started


def test_hidden_checks_only_run_when_grading(verdicts):
    assert verdicts[1]["float16"].status == "passed"
    assert verdicts[1]["tiny-negative"].status == "passed"


def test_one_shot_mode_answers_json(tmp_path):
    """``python -I -c BOOTSTRAP LIB JOB.json``: the form an instructor can run by hand."""
    import subprocess
    import sys

    from coursetools.grading.snapshot import write_library

    lib = write_library(library_files(ROOT / "coursetools"), tmp_path / "lib")
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"id": 7, "hidden": False, "items": [
        {"key": "k", "exercise": "1.2", "folder": str(tmp_path), "labels": {},
         "evidence": {"y_by_hand": {"kind": "json", "value": relu_by_hand().tolist()}}, "hashes": {}}]}))
    (tmp_path / "cwd").mkdir()
    out = subprocess.run([sys.executable, "-I", "-c", BOOTSTRAP, str(lib), str(job)], cwd=tmp_path / "cwd",
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    answer = json.loads(out.stdout)
    assert answer["id"] == 7 and answer["results"]["k"]["status"] == "passed"


# --- the verdict's code: the grader's snapshot, in memory, checked by digest -----------------


def test_the_ready_process_runs_the_snapshot_and_imported_everything_first(verdicts):
    *_, info, library, base = verdicts
    assert info.digest == bootstrap.digest(library)
    for module in ("coursetools.grading.manifest", "coursetools.evidence", "coursetools.registry",
                   "coursetools.lessons.lesson01.checks", "coursetools.lessons.lesson01.hidden",
                   "coursetools.grading.protocol", "coursetools.grading.outcome"):
        assert module in info.modules
    assert info.hidden >= 1 and "1.1" in info.exercises
    # No copy of the check code on disk, anywhere in the verdict process's folders.
    for work in ("work-hidden", "work-visible"):
        assert not list((base / work).rglob("*.py")), "the verdict's code was written to disk"


def run_bootstrap(tmp_path, code_digest, files, *args, timeout=60):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-I", "-c", BOOTSTRAP, "-", code_digest, *args], input=bootstrap.encode(files),
                          capture_output=True, timeout=timeout, cwd=tmp_path)


def test_check_code_that_is_not_the_snapshot_is_refused(tmp_path):
    library = library_files(ROOT / "coursetools")
    changed = dict(library)
    changed["coursetools/registry.py"] += b"\nrun_check = lambda exercise_id, **evidence: 'forged'\n"
    out = run_bootstrap(tmp_path, bootstrap.digest(library), changed, "--serve")
    assert out.returncode == 3 and b"digest" in out.stderr, out.stderr[-2000:]
    assert out.stdout == b""


def test_the_grader_refuses_to_restart_from_a_changed_snapshot(tmp_path):
    judge = Judge(library_files(ROOT / "coursetools"), tmp_path)
    judge.library["coursetools/lessons/lesson01/checks.py"] += b"\n# changed\n"
    with pytest.raises(JudgeUnavailable, match="changed during the run"):
        judge.start()


def test_coursetools_is_served_only_from_the_snapshot(tmp_path):
    """Modules come from memory; one missing from the snapshot is not looked for on disk."""
    import subprocess
    import sys

    library = library_files(ROOT / "coursetools")
    del library["coursetools/data.py"]
    probe = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})  # the course folder itself, with every module on disk\n"
        "from coursetools.grading import bootstrap\n"
        "files = bootstrap.decode(sys.stdin.buffer.readline())\n"
        "bootstrap.install(files)\n"
        "import coursetools.registry, coursetools.lessons\n"
        "assert coursetools.registry.__file__.startswith(bootstrap.ORIGIN), coursetools.registry.__file__\n"
        "import pkgutil\n"
        "print(sorted(m.name for m in pkgutil.iter_modules(coursetools.lessons.__path__)))\n"
        "try:\n"
        "    import coursetools.data\n"
        "except ModuleNotFoundError as error:\n"
        "    print('refused', error.name)\n"
    )
    out = subprocess.run([sys.executable, "-I", "-c", probe], input=bootstrap.encode(library), capture_output=True,
                         timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    listed, refused = out.stdout.decode().splitlines()
    assert "lesson01" in listed
    assert refused == "refused coursetools.data"


class KilledWhileJudging(Judge):
    """A verdict process that something kills right after it receives its next job."""

    kill_next = False

    def _send(self, text: str) -> None:
        super()._send(text)
        if self.kill_next and '"items"' in text:
            self.kill_next = False
            os.kill(self._process.pid, signal.SIGKILL)


def test_deaths_are_told_apart_from_limits_and_lost_verdicts_marked_for_retry(tmp_path):
    item = evidence(tmp_path / "evidence" / "good", "1.1", "layer", keras.layers.Dense(16, activation="relu"))
    (tmp_path / "work").mkdir()
    judge = KilledWhileJudging(library_files(ROOT / "coursetools"), tmp_path / "work", job_timeout=0.01)
    try:
        judge.start()
        judge.wait_ready()
        slow = judge.judge([item], "slow")["good"]  # a job over its time limit: the evidence's fault
        assert slow.status == "error" and "took longer" in slow.message and not slow.retry
        assert judge.deaths == []
        judge.job_timeout = 300
        judge.kill_next = True
        lost = judge.judge([item], "victim/01_layers.ipynb")["good"]
        assert lost.status == "error" and lost.retry is True
        assert len(judge.deaths) == 1 and "was killed by SIGKILL while judging victim/01_layers.ipynb" in judge.deaths[0]
        assert judge.judge([item], "next")["good"].status == "passed"  # a fresh process, same snapshot
        os.kill(judge._process.pid, signal.SIGKILL)  # dies with no job: noticed when the run ends
        time.sleep(0.5)
    finally:
        judge.close()
    assert len(judge.deaths) == 2 and "while it had no job" in judge.deaths[1]
