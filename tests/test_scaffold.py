"""``new-lesson`` in a copy of the course: the lesson it makes passes the course's tests at once.

The copy holds the repository's files (as ``git ls-files`` lists them, uncommitted ones
included); ``PYTHONPATH`` points every process, notebook kernels included, at the copy's
``coursetools``. The tests run there are the ones a new lesson touches: its check tests,
nbval on its two notebooks, and the course-wide static tests (layout, tables, schema,
hygiene, build).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coursetools.lessons import all_lessons

pytestmark = pytest.mark.kernels

ROOT = Path(__file__).resolve().parent.parent
STATIC = ["tests/test_lesson_layout.py", "tests/test_schema.py", "tests/test_notebook_hygiene.py", "tests/test_build.py"]
NEXT = max(lesson.number for lesson in all_lessons()) + 1  # the number the next lesson gets
LESSON_NB = f"notebooks/{NEXT:02d}_lesson_a_throwaway_lesson.ipynb"
SOLUTION_NB = f"solutions/{NEXT:02d}_solutions_a_throwaway_lesson.ipynb"
EXERCISE_NB = f"exercises/{NEXT:02d}_a_throwaway_lesson.ipynb"


def copy_course(target: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for relative in filter(None, listed):
        if (ROOT / relative).is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, target / relative)
    return target


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    copy = copy_course(tmp_path_factory.mktemp("course"))
    env = {**os.environ, "PYTHONPATH": str(copy)}
    made = subprocess.run([sys.executable, "-m", "coursetools", "new-lesson", str(NEXT), "A throwaway lesson"], cwd=copy,
                          env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    return copy, env, made.stdout


def test_it_writes_the_lesson_s_files_and_table_rows(course):
    copy, _, printed = course
    for relative in (f"coursetools/lessons/lesson{NEXT:02d}/__init__.py", f"coursetools/lessons/lesson{NEXT:02d}/checks.py",
                     f"tests/lessons/test_lesson{NEXT:02d}.py", LESSON_NB,
                     SOLUTION_NB, EXERCISE_NB):
        assert (copy / relative).is_file(), relative
        assert f"wrote: {relative}" in printed
    for page in ("README.md", "START_HERE.md"):
        assert f"({LESSON_NB})" in (copy / page).read_text(encoding="utf-8")


def test_the_new_lesson_passes_the_course_s_tests(course):
    copy, env, _ = course
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/lessons/test_lesson{NEXT:02d}.py", *STATIC,
         "--nbval", "--nbval-current-env", LESSON_NB, SOLUTION_NB],
        cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_a_lesson_that_exists_is_refused(course):
    copy, env, _ = course
    again = subprocess.run([sys.executable, "-m", "coursetools", "new-lesson", str(NEXT), "Another"], cwd=copy, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and f"lesson {NEXT} exists already" in again.stderr
