"""One folder per lesson: what every lesson must have, and what it may not share.

A lesson is ``coursetools/lessons/lessonNN/`` (``LESSON``, ``checks.py``, optional
``given.py``, ``tools.py``, ``hidden.py``) plus its three notebooks and its check tests
``tests/lessons/test_lessonNN.py``. These tests fail when a lesson is half added: a
notebook without a lesson, an exercise without a check or without tests of correct
answers and mistakes, a table row missing, a helper name that means two things.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from coursetools import schema
from coursetools.lessons import all_lessons
from coursetools.registry import all_exercises, exercise
from coursetools.tables import update_tables

ROOT = Path(__file__).resolve().parent.parent
LESSONS = all_lessons()
LESSONS_DIR = ROOT / "coursetools" / "lessons"


def exercise_ids(lesson) -> list[str]:
    return [e.exercise_id for e in schema.exercises_in(nbformat.read(ROOT / lesson.solution_notebook, as_version=4))]


def test_lessons_are_numbered_one_after_another():
    assert [lesson.number for lesson in LESSONS] == list(range(1, len(LESSONS) + 1))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.stem)
def test_a_lesson_has_its_notebooks_checks_and_tests(lesson):
    for notebook in (lesson.lesson_notebook, lesson.solution_notebook, lesson.exercise_notebook):
        assert (ROOT / notebook).is_file(), notebook
    assert (LESSONS_DIR / f"lesson{lesson.number:02d}" / "checks.py").is_file()
    assert (ROOT / "tests" / "lessons" / f"test_lesson{lesson.number:02d}.py").is_file()
    assert 0 < lesson.minutes <= 45 and 0 < lesson.exercise_minutes <= 45, "a lesson fits in 45 minutes"


def test_every_notebook_belongs_to_a_lesson():
    named = {path for lesson in LESSONS for path in (lesson.lesson_notebook, lesson.solution_notebook,
                                                     lesson.exercise_notebook)}
    found = {p.relative_to(ROOT).as_posix() for folder in ("notebooks", "solutions", "exercises")
             for p in (ROOT / folder).glob("*.ipynb")}
    assert found - named == set(), "a notebook without a lesson: add its folder (python -m coursetools new-lesson)"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.stem)
def test_every_exercise_has_a_check_and_tests_of_right_and_wrong_answers(lesson):
    tests = (ROOT / "tests" / "lessons" / f"test_lesson{lesson.number:02d}.py").read_text(encoding="utf-8")
    registered = all_exercises()
    for exercise_id in exercise_ids(lesson):
        assert exercise_id in registered, f"{exercise_id} has no check"
        for helper in ("assert_passes", "assert_fails"):
            assert re.search(rf'{helper}\(\s*"{re.escape(exercise_id)}"', tests), (
                f"{exercise_id}: no {helper}(\"{exercise_id}\", ...) in tests/lessons/test_lesson{lesson.number:02d}.py "
                "(every exercise needs correct variants that pass and typical mistakes that fail)")


def test_every_registered_check_has_an_exercise():
    in_notebooks = {e for lesson in LESSONS for e in exercise_ids(lesson)}
    assert set(all_exercises()) - in_notebooks == set()


def test_the_lesson_tables_are_what_the_lessons_say():
    assert update_tables(ROOT, write=False) == [], "run `python -m coursetools tables`"


@pytest.mark.parametrize("page", ["README.md", "START_HERE.md"])
def test_every_lesson_has_a_row_with_its_exercise_count(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    for lesson in LESSONS:
        row = next(line for line in text.splitlines() if f"]({lesson.lesson_notebook})" in line)
        assert f"[{len(exercise_ids(lesson))} exercises]({lesson.exercise_notebook})" in row


def test_a_lesson_declares_only_its_own_exercises():
    def check(layer):
        return "ok"

    check.__module__ = "coursetools.lessons.lesson03.checks"
    with pytest.raises(ValueError, match="not one of lesson 3"):
        exercise("4.9", "A stray exercise")(check)
    assert "4.9" not in all_exercises()


def _private_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    names |= {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def test_private_helpers_of_two_lessons_never_share_a_name():
    """The same private name in two lessons meant two things once (``_run``, ``_pixels_probe``)."""
    owners: Counter[str] = Counter()
    for folder in sorted(LESSONS_DIR.glob("lesson*")):
        owners.update({name for path in folder.glob("*.py") for name in _private_names(path)})
    assert [name for name, count in owners.items() if count > 1] == [], (
        "give each a name that says what it does; a helper two lessons need goes to coursetools/probing.py")
