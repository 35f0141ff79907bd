"""A learner's own progress: every exercise of their ``exercises/``, passed / failed / not started.

It is the grader run on one learner -- the same rebuild from the pristine notebooks,
the same fresh kernel, the same clean verdict process -- so "passed" here means
"passed" when the instructor grades (hidden checks aside: they are not released).
Notebooks still exactly as released are not run at all: nothing in them can pass.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from coursetools.grading.grader import grade_learners
from coursetools.grading.learners import read_learner
from coursetools.grading.options import GradeOptions
from coursetools.grading.outcome import PASSED, ExerciseResult, clip, format_points
from coursetools.grading.release import pristine_notebooks
from coursetools.grading.snapshot import take_snapshot

PASSED_LABEL, FAILED_LABEL, NOT_STARTED_LABEL = "passed", "failed", "not started"


def label(result: ExerciseResult, notebook_present: bool) -> str:
    if result.status == PASSED:
        return PASSED_LABEL
    if result.not_started or not notebook_present:
        return NOT_STARTED_LABEL
    return FAILED_LABEL


def collect_progress(root: Path, exercises: Path | None = None, options: GradeOptions | None = None) -> list[tuple[ExerciseResult, str]]:
    """Each exercise's result and its progress label, in course order."""
    with pristine_notebooks(root) as pristine:  # never exercises/ itself: that is what the learner edits
        snapshot = take_snapshot(root, pristine)
    folder = exercises or root / "exercises"
    files = read_learner(folder, list(snapshot.pristine), display="you")
    options = replace(options or GradeOptions(), hidden=False)
    outcome = grade_learners([files], snapshot, options)
    learner = outcome.learners[0]
    rows = []
    for name, notebook in learner.notebooks.items():
        present = name in files.notebooks
        rows += [(r, label(r, present)) for r in notebook.results]
    return rows


def render_table(rows: list[tuple[ExerciseResult, str]]) -> str:
    """A plain-text table that fits a terminal: one line per exercise, then the totals."""
    headers = ("notebook", "exercise", "status", "what to do next")
    body = []
    for result, status in rows:
        first = result.message.splitlines()[0] if result.message else ""
        advice = "" if status == PASSED_LABEL else clip(first.removeprefix("❌ ").strip(), 70)
        body.append((result.notebook, f"{result.exercise} {clip(result.title, 34)}", status, advice))
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in body]
    counts = {s: sum(1 for _, st in rows if st == s) for s in (PASSED_LABEL, FAILED_LABEL, NOT_STARTED_LABEL)}
    points = sum(r.points for r, _ in rows)
    possible = sum(r.max_points for r, _ in rows)
    lines += ["", f"{counts[PASSED_LABEL]} passed, {counts[FAILED_LABEL]} failed, "
              f"{counts[NOT_STARTED_LABEL]} not started: {format_points(points)} / {format_points(possible)} points"]
    return "\n".join(lines)
