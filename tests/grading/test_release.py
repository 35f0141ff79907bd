"""The release holds what learners need and nothing they must not see; ``progress`` works in it."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys

import pytest

from coursetools.build import solution_name
from coursetools.grading.release import PRISTINE_DIR, RELEASE_INFO, ReleaseError, make_release
from fixtures.grading.classroom import LAYERS, LAYERS_EXERCISES, ROOT, make_course, set_answer


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    base = tmp_path_factory.mktemp("release")
    course = make_course(base / "course")
    out = base / "release"
    make_release(course, out)
    return course, out


def files_under(folder):
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_no_solutions_no_hidden_checks_no_instructor_tests(released):
    course, out = released
    files = files_under(out)
    assert not any(f.startswith("solutions/") for f in files)
    assert not any(f.endswith("/hidden.py") for f in files)
    assert not [f for f in files if f.startswith("tests/") and f.endswith(".py")]
    for path in out.rglob("*.ipynb"):
        assert "### BEGIN SOLUTION" not in path.read_text(encoding="utf-8"), path
    hidden_files = sorted((course / "coursetools" / "lessons").glob("*/hidden.py"))
    hidden_source = "\n".join(p.read_text() for p in hidden_files)
    assert "computes_relu_in_float32" in hidden_source and hidden_files
    for path in out.rglob("*"):
        if path.is_file():
            assert "computes_relu_in_float32" not in path.read_text(encoding="utf-8", errors="ignore"), path


def test_lessons_exercises_and_feedback_code_are_there(released):
    course, out = released
    for folder in ("notebooks", "exercises"):
        for path in (course / folder).glob("*.ipynb"):
            assert (out / folder / path.name).read_bytes() == path.read_bytes()
            if folder == "exercises":
                assert (out / PRISTINE_DIR / path.name).read_bytes() == path.read_bytes()
    sanitize = re.search(r"--nbval-sanitize-with[ =](\S+)", (course / "pyproject.toml").read_text())
    if sanitize:
        assert (out / sanitize.group(1)).is_file()  # `course.py check` needs it
    for needed in ("course.py", "START_HERE.md", ".jupyter/lab-settings/overrides.json", "requirements.txt",
                   "pyproject.toml", "coursetools/registry.py",
                   "coursetools/lessons/lesson01/checks.py", "coursetools/lessons/lesson01/given.py",
                   "coursetools/grading/verdict.py", "coursetools/data.py"):
        assert (out / needed).is_file(), needed
    info = json.loads((out / RELEASE_INFO).read_text())
    for relative, digest in info["files"].items():
        assert hashlib.sha256((out / relative).read_bytes()).hexdigest() == digest
    assert [e["exercise"] for e in info["exercises"][LAYERS]] == list(LAYERS_EXERCISES)


def test_instant_feedback_runs_from_the_release(released):
    _, out = released
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import coursetools, numpy as np\n"
        "assert coursetools.__file__.startswith(sys.argv[1]), coursetools.__file__\n"
        "from coursetools import check\n"
        "from coursetools.lessons.lesson01 import dense_by_hand_example\n"
        "x, k, b = dense_by_hand_example()\n"
        "check('1.2', y_by_hand=np.maximum(x @ k + b, 0))\n"
    )
    result = subprocess.run([sys.executable, "-I", "-c", code, str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "✅ 1.2 passed" in result.stdout


def test_release_refuses_to_hand_out_answers(tmp_path):
    course = make_course(tmp_path / "course")
    (course / "exercises" / LAYERS).write_bytes((course / "solutions" / solution_name(LAYERS)).read_bytes())
    with pytest.raises(ReleaseError, match="out of date"):
        make_release(course, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_release_refuses_a_non_empty_folder(tmp_path, released):
    course, _ = released
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ReleaseError, match="not empty"):
        make_release(course, tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_course_py_has_a_progress_command():
    spec = importlib.util.spec_from_file_location("course_bootstrap", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "progress" in module.COMMANDS


def test_progress_in_a_release(released):
    """A learner solves 1.1, gets 1.2 wrong, leaves the rest: the table says so."""
    _, out = released
    path = out / "exercises" / LAYERS
    nb = json.loads(path.read_text(encoding="utf-8"))
    set_answer(nb, "1.1", 'hidden = layers.Dense(16, activation="relu")')
    set_answer(nb, "1.2", "y_by_hand = x @ kernel + bias")
    path.write_text(json.dumps(nb), encoding="utf-8")
    before = path.read_bytes()
    result = subprocess.run([sys.executable, "-m", "coursetools", "progress", "--no-progress"], cwd=out,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("0")}
    assert "passed" in lines["1.1"]
    assert " failed " in lines["1.2"] and "activation was not applied" in lines["1.2"]
    assert all("not started" in lines[e] for e in LAYERS_EXERCISES[2:])
    others = [e for e in lines if not e.startswith("1.")]
    assert others and all("not started" in lines[e] for e in others)
    assert "1 passed, 1 failed" in result.stdout
    assert path.read_bytes() == before
