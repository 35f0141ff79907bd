"""``progress`` sees a learner's saved work wherever the learner is: the course folder too.

Seen before this was fixed: in the course folder (a clone of the repository, as on
Binder), with no ``.course/pristine``, ``progress`` took ``exercises/`` itself as the
untouched reference, compared the learner's saved work with itself and reported
"0 passed, 0 failed, 36 not started" after two passing and one failing answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from coursetools.grading.release import PRISTINE_DIR, pristine_notebooks
from coursetools.grading.snapshot import CourseError
from coursetools.lessons import all_lessons
from fixtures.grading.classroom import make_course, set_answer

FIRST = all_lessons()[0]  # lesson 1: its exercise notebook, whatever it is called


def progress_rows(folder: Path) -> tuple[dict[str, str], str]:
    """Run ``python -m coursetools progress`` in ``folder`` as the README says; {exercise: line}, output."""
    result = subprocess.run([sys.executable, "-m", "coursetools", "progress", "--no-progress"], cwd=folder,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = {}
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) > 1 and words[0].endswith(".ipynb"):
            lines[words[1]] = line
    return lines, result.stdout


@pytest.mark.kernels
def test_progress_in_the_course_folder_sees_the_saved_work(tmp_path):
    """A learner in a clone of the course saves 1.1 right, 1.2 wrong and 1.3 right, then asks."""
    course = make_course(tmp_path / "course")  # the repository's files: solutions/, exercises/, no .course/
    assert not (course / PRISTINE_DIR).exists()
    path = course / FIRST.exercise_notebook
    nb = json.loads(path.read_text(encoding="utf-8"))
    set_answer(nb, "1.1", 'hidden = layers.Dense(16, activation="relu")')
    set_answer(nb, "1.2", "y_by_hand = x @ kernel + bias")  # forgot the ReLU
    set_answer(nb, "1.3", "wide = layers.Dense(6)\nwide.build((None, 10))")
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")  # as JupyterLab saves
    saved = path.read_bytes()

    lines, output = progress_rows(course)

    assert " passed" in lines["1.1"] and " passed" in lines["1.3"], output
    assert " failed " in lines["1.2"] and "activation was not applied" in lines["1.2"], output
    others = [e for e in lines if e not in ("1.1", "1.2", "1.3")]
    assert len(others) > 20 and all("not started" in lines[e] for e in others), output
    assert f"2 passed, 1 failed, {len(others)} not started" in output
    assert path.read_bytes() == saved, "progress must not write the learner's notebook"
    assert not (course / PRISTINE_DIR).exists(), "progress must not leave a reference where a release would have one"


def test_the_reference_in_the_course_folder_is_built_from_solutions_not_exercises(tmp_path):
    """Whatever the learner does to exercises/, the reference is the notebooks as the course holds them."""
    course = make_course(tmp_path / "course")
    name = Path(FIRST.exercise_notebook).name
    as_built = (course / FIRST.exercise_notebook).read_bytes()
    (course / FIRST.exercise_notebook).write_text("my own notes, not a notebook", encoding="utf-8")
    with pristine_notebooks(course) as reference:
        assert reference != course / "exercises"
        assert (reference / name).read_bytes() == as_built
        assert sorted(p.name for p in reference.glob("*.ipynb")) == sorted(
            Path(lesson.exercise_notebook).name for lesson in all_lessons())
    assert not reference.exists(), "the rebuilt reference is temporary"


def test_a_release_keeps_its_own_reference(tmp_path):
    release = tmp_path / "release"
    (release / PRISTINE_DIR).mkdir(parents=True)
    with pristine_notebooks(release) as reference:
        assert reference == release / PRISTINE_DIR


def test_without_a_reference_progress_says_so_instead_of_comparing_work_with_itself(tmp_path):
    (tmp_path / "exercises").mkdir()
    with pytest.raises(CourseError, match="no untouched copy of the exercises"):
        with pristine_notebooks(tmp_path):
            pass
