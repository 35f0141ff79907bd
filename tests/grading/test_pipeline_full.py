"""Grading the solutions gives full marks and grading the unsolved exercises gives zero, for every notebook.

This runs the real pipeline (fresh kernels, capture, verdict process with hidden
checks) over every exercise notebook of a private copy of the course.
"""

from __future__ import annotations

import shutil

import pytest

from coursetools.build import exercise_name
from coursetools.grading.grader import grade_class
from coursetools.grading.options import GradeOptions
from coursetools.grading.report import write_report
from coursetools.grading.snapshot import take_snapshot
from fixtures.grading.classroom import checksums, make_course, read_grades


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("full")
    course = make_course(base / "course")
    snapshot = take_snapshot(course)
    submissions = base / "submissions"
    (submissions / "solved").mkdir(parents=True)
    for solved in (course / "solutions").glob("*.ipynb"):  # handed in under the exercise notebooks' names
        shutil.copy2(solved, submissions / "solved" / exercise_name(solved.name))
    shutil.copytree(course / "exercises", submissions / "unsolved")
    before = checksums(submissions)
    # skip_untouched=False: the unsolved notebooks really run, placeholders and all.
    outcome = grade_class(submissions, snapshot, GradeOptions(workers=2, progress_bar=False, skip_untouched=False))
    write_report(outcome, base / "report")
    shortcut = grade_class(submissions, snapshot, GradeOptions(workers=2, progress_bar=False))
    return snapshot, outcome, shortcut, read_grades(base / "report"), before, checksums(submissions), base


def test_every_exercise_is_graded(graded):
    snapshot, outcome, *_ = graded
    expected = [(p.name, e.exercise_id) for p in snapshot.pristine.values() for e in p.exercises]
    assert len(expected) >= 4
    for learner in outcome.learners:
        assert [(r.notebook, r.exercise) for r in learner.results] == expected
    assert outcome.grader_faults == 0


def test_solutions_get_full_marks(graded):
    _, outcome, *_ = graded
    solved = next(lo for lo in outcome.learners if lo.files.folder == "solved")
    failures = [(r.exercise, r.status, r.message) for r in solved.results if r.status != "passed"]
    assert not failures
    assert sum(r.points for r in solved.results) == sum(r.max_points for r in solved.results)


def test_unsolved_exercises_get_zero(graded):
    _, outcome, *_ = graded
    unsolved = next(lo for lo in outcome.learners if lo.files.folder == "unsolved")
    assert all(r.status == "failed" and r.not_started and "not done yet" in r.message for r in unsolved.results)
    assert sum(r.points for r in unsolved.results) == 0


def test_skipping_unchanged_notebooks_gives_the_same_rows(graded):
    _, outcome, shortcut, *_ = graded
    def rows(o):
        return [(lo.files.folder, r.exercise, r.status, r.message, r.not_started) for lo in o.learners for r in lo.results]
    assert rows(shortcut) == rows(outcome)
    assert shortcut.kernels == len(graded[0].pristine)  # only the solved notebooks ran


def test_report_columns_and_totals(graded):
    *_, rows, before, after, base = graded
    assert list(rows[0]) == ["learner", "notebook", "exercise", "status", "points", "max_points", "message"]
    assert {row["status"] for row in rows} == {"passed", "failed"}
    assert all("\n" not in row["message"] for row in rows)
    solved = (base / "report" / "feedback" / "solved.md").read_text(encoding="utf-8")
    total = sum(float(row["max_points"]) for row in rows if row["learner"] == "solved")
    assert f"**Total: {total:g} / {total:g} points**" in solved
    assert before == after
