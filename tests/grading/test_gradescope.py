"""The Gradescope autograder package: built by ``gradescope-zip``, unpacked into the documented
``/autograder`` layout in a temporary folder (``AUTOGRADER_ROOT``), set up with its ``setup.sh``
and run with its ``run_autograder`` against a solved, a wrong and a misnamed submission of the
lesson 1 exercise notebook; results.json is read back as Gradescope would.

``setup.sh`` runs for real, except for what needs the network: the Debian packages
(``AUTOGRADER_NO_APT=1``; this machine has them) and the pinned requirements. The package's
``course/.venv`` is this course's environment copied as hard links and made that folder's
(see ``borrowed_venv``): a symlink to this course's .venv would run this folder's code, and
``course.py`` refuses it. ``course.py setup`` then finds it up to date.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from coursetools.grading.sandbox import detect
from fixtures.grading.classroom import LAYERS, LAYERS_EXERCISES, PYTHON, ROOT, cell_index, load, set_answer

HIDDEN_CHECK = "computes_relu_in_float32"  # lesson 1's hidden check of 1.1 (coursetools/lessons/lesson01/hidden.py)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "coursetools", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def solution(exercise: str) -> str:
    nb = load("solutions")
    return "".join(nb["cells"][cell_index(nb, "answer", exercise)]["source"])


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    result = cli("gradescope-zip", str(out), "--notebooks", LAYERS)
    assert result.returncode == 0, result.stderr
    assert "1 notebook(s) (01_layers.ipynb), 5 point(s)" in result.stdout
    return out


def test_the_zip_holds_the_scripts_and_the_grader_but_no_solutions(package, tmp_path):
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        config = json.loads(archive.read("course/gradescope.json"))
    assert {"setup.sh", "run_autograder"} <= set(names)  # at the root, as Gradescope wants them
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert {"course/course.py", "course/requirements.txt", "course/pyproject.toml", f"course/exercises/{LAYERS}",
            "course/coursetools/grading/grader.py", "course/coursetools/lessons/lesson01/hidden.py"} <= set(names)
    assert not [n for n in names if n.startswith(("course/solutions/", "course/tests/", "course/notebooks/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert config == {"notebooks": [LAYERS], "exercises": {LAYERS: [[ex, 1] for ex in LAYERS_EXERCISES]},
                      "max_score": 5, "visibility": "visible"}
    again = tmp_path / "again.zip"
    assert cli("gradescope-zip", str(again), "--notebooks", "01_layers").returncode == 0
    assert again.read_bytes() == package.read_bytes()  # the same course gives the same zip
    refused = cli("gradescope-zip", str(tmp_path / "x.zip"), "--notebooks", "99_nothing.ipynb")
    assert refused.returncode == 2 and "not an exercise notebook" in refused.stderr


def borrowed_venv(course: Path) -> None:
    """``course/.venv``: this course's environment copied as hard links (seconds, no space), made ``course``'s.

    Its scripts (which start this folder's Python) and this folder's editable install are
    dropped, and a ``.pth`` file puts ``course`` on the path instead: the package's own
    coursetools is what grades. A copy rather than a symlink, because the kernel sandbox
    mounts the venv's real path.
    """
    folder = course / ".venv"
    if subprocess.run(["cp", "-al", str(ROOT / ".venv"), str(folder)], capture_output=True).returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(["cp", "-a", str(ROOT / ".venv"), str(folder)], check=True)  # another file system
    site = next(folder.glob("lib/python*/site-packages"))
    for path in [*site.glob("coursetools-*.dist-info"), *site.glob("__editable__*coursetools*")]:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    for script in (folder / "bin").iterdir():
        if not script.name.startswith("python"):
            script.unlink()
    (site / "course.pth").write_text(f"{course}\n", encoding="utf-8")
    stamp = folder / ".course-installed"  # course.py rewrites it in place: never through a link to ours
    text = stamp.read_text(encoding="utf-8") if stamp.exists() else ""
    stamp.unlink(missing_ok=True)
    stamp.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def autograder(package, tmp_path_factory) -> Path:
    """The /autograder layout Gradescope builds: source/ (the zip), setup.sh run, run_autograder copied up."""
    root = tmp_path_factory.mktemp("gs") / "autograder"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():
            os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777)
    borrowed_venv(root / "source" / "course")
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_NO_APT="1")
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=root / "source", env=env,
                           capture_output=True, text=True, timeout=900)
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    assert "environment up to date" in setup.stdout and "[setup.sh] ready" in setup.stdout
    imported = subprocess.run([str(root / "source" / "course" / ".venv" / "bin" / "python"), "-c",
                               "import coursetools; print(coursetools.__file__)"], cwd=root, capture_output=True, text=True)
    assert imported.stdout.startswith(str(root / "source" / "course")), imported  # the package's grader is graded
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    return root


def submit(root: Path, files: dict[str, dict | bytes]) -> tuple[dict, subprocess.CompletedProcess]:
    """Put ``files`` in /autograder/submission, run run_autograder as Gradescope does, read results.json."""
    for folder in ("submission", "results"):
        shutil.rmtree(root / folder, ignore_errors=True)
    for name, content in files.items():
        path = root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    assert os.stat(root / "run_autograder").st_mode & stat.S_IXUSR
    run = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True, text=True, timeout=900,
                         env=dict(os.environ, AUTOGRADER_ROOT=str(root)))
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8")), run


def by_exercise(results: dict) -> dict[str, dict]:
    return {test["number"]: test for test in results["tests"]}


@pytest.mark.kernels
def test_a_solved_notebook_scores_full_marks(autograder):
    results, run = submit(autograder, {LAYERS: load("solutions")})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert results["score"] == 5 and results["max_score"] == 5 and results["stdout_visibility"] == "hidden"
    tests = by_exercise(results)
    assert list(tests) == list(LAYERS_EXERCISES)
    for ex, test in tests.items():
        assert test["score"] == test["max_score"] == 1 and test["status"] == "passed" and test["visibility"] == "visible"
        assert test["output"].startswith(f"✅ {ex} passed:") and test["name"].startswith(f"{ex} ")
    assert tests["1.1"]["name"] != "1.1" and "(01_layers.ipynb)" not in tests["1.1"]["name"]  # titled
    if detect(True)[0] is not None:  # where this machine can sandbox kernels, so does the package
        assert "NO SANDBOX" not in run.stdout + run.stderr and "sandbox: every kernel ran in bubblewrap" in run.stdout


@pytest.mark.kernels
def test_a_wrong_notebook_gets_each_card_and_no_hidden_check_name(autograder):
    nb = load("exercises")  # 1.2 stays "not done"
    set_answer(nb, "1.1", 'hidden = layers.Dense(16, activation="relu", dtype="float16")')  # hidden check fails
    set_answer(nb, "1.3", "wide = None")
    set_answer(nb, "1.4", solution("1.4"))
    set_answer(nb, "1.5", solution("1.5"))
    results, run = submit(autograder, {f"keras-course/exercises/{LAYERS}": nb, "notes.txt": b"my notes"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    tests = by_exercise(results)
    assert results["score"] == 2 and results["max_score"] == 5
    assert [tests[ex]["score"] for ex in LAYERS_EXERCISES] == [0, 0, 0, 1, 1]
    assert "passes the check in the notebook, but not all of the grader's additional checks" in tests["1.1"]["output"]
    assert "hint:" in tests["1.1"]["output"] and tests["1.1"]["status"] == "failed"
    assert tests["1.2"]["output"].startswith("❌ 1.2: not done yet.") and "not done" in tests["1.2"]["tags"]
    assert tests["1.3"]["output"].splitlines()[0] == "❌ 1.3: `wide` is not a Dense layer."
    assert tests["1.3"]["output"].splitlines()[1].startswith("   expected: ")  # the card, line by line
    assert "found in keras-course/exercises/ of the submission" in results["output"]
    everything = json.dumps(results, ensure_ascii=False) + run.stdout + run.stderr
    assert HIDDEN_CHECK not in everything and "failed a hidden check" in run.stdout  # the log, without the name


def test_a_misnamed_notebook_is_missing_with_its_message(autograder):
    results, run = submit(autograder, {"01_layers (1).ipynb": load("solutions")})  # no kernel runs
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert results["score"] == 0 and results["max_score"] == 5 and len(results["tests"]) == 5
    for test in results["tests"]:
        assert test["score"] == 0 and test["status"] == "failed" and "missing" in test["tags"]
        assert test["output"].startswith("missing: 01_layers.ipynb is not in your folder")
        assert "Found instead: 01_layers (1).ipynb" in test["output"]


def test_an_empty_submission_and_a_broken_grader_still_write_results(autograder, tmp_path):
    results, run = submit(autograder, {})
    assert run.returncode == 0 and results["score"] == 0 and len(results["tests"]) == 5
    broken = tmp_path / "autograder"
    shutil.copytree(autograder, broken, symlinks=True)
    (broken / "source" / "course" / "exercises" / LAYERS).write_text("not a notebook")  # the course is broken
    results, run = submit(broken, {LAYERS: load("solutions")})
    assert run.returncode == 1 and results["score"] == 0 and results["tests"] == []
    assert "could not run (a problem on the grader's side" in results["output"]
