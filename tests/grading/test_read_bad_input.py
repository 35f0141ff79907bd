"""Bad input gets a clear row, never a crash and never lost work.

One learner per kind of bad input, all in one class graded by the real command
with small limits. Each learner's rows must carry ``error`` or ``missing`` with a
message a learner understands, the other exercises of that notebook are still
graded where possible, the rest of the class is graded, and no submitted file
changes (checksums before and after).
"""

from __future__ import annotations

import json

import pytest

from fixtures.grading.classroom import (
    LAYERS,
    LAYERS_EXERCISES,
    add_cell_after,
    assert_clear_rows,
    by_learner,
    cell_index,
    checksums,
    duplicate_cell,
    grade_cli,
    load,
    read_grades,
    set_answer,
    write_cases,
)

ODD_NAME = "Zoë O'Brien, \"2nd\" ; $(id) & <b>#1"
FORMULA_NAME = "=HYPERLINK(\"x\")"
CELL_TIMEOUT = 30
MEMORY_MB = 1500
MAX_OUTPUT_KB = 256


def solved_with(exercise: str, answer: str) -> dict:
    return {LAYERS: set_answer(load("solutions"), exercise, answer)}


def without_answer(exercise: str) -> dict:
    nb = load("solutions")
    del nb["cells"][cell_index(nb, "answer", exercise)]
    return {LAYERS: nb}


def with_duplicated_answer(exercise: str) -> dict:
    nb = load("solutions")
    return {LAYERS: duplicate_cell(nb, cell_index(nb, "answer", exercise))}


def unsolved_with_scratch_cell() -> dict:
    nb = load("exercises")
    return {LAYERS: add_cell_after(nb, cell_index(nb, "answer", "1.1"), 'print("trying things")')}


NOTEBOOK_V3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""},
               "worksheets": [{"cells": [{"cell_type": "code", "input": "hidden = 1", "language": "python",
                                          "outputs": [], "metadata": {}}], "metadata": {}}]}

# learner -> (files, {exercise: (status, phrase)}); exercises not listed must pass.
CASES = {
    "invalid-json": ({LAYERS: json.dumps(load("solutions"))[:-400]},
                     {e: ("error", "JSON error at line") for e in LAYERS_EXERCISES}),
    "empty-file": ({LAYERS: b""}, {e: ("error", "the file is empty") for e in LAYERS_EXERCISES}),
    "nbformat-3": ({LAYERS: NOTEBOOK_V3}, {e: ("error", "notebook format 3") for e in LAYERS_EXERCISES}),
    "missing-notebook": ({"notes.txt": "I did not finish"},
                         {e: ("missing", "01_layers.ipynb is not in your folder") for e in LAYERS_EXERCISES}),
    "renamed-file": ({"01_layers-Copy1.ipynb": load("solutions")},
                     {e: ("missing", "Found instead: 01_layers-Copy1.ipynb") for e in LAYERS_EXERCISES}),
    "deleted-answer": (without_answer("1.2"), {"1.2": ("missing", "answer cell of exercise 1.2 is not in your notebook")}),
    "duplicated-answer": (with_duplicated_answer("1.3"), {"1.3": ("error", "has 2 answer cells")}),
    "answer-raises": (solved_with("1.2", "y_by_hand = np.maximum(x @ kernel.T + bias, 0.0)"),
                      {"1.2": ("error", "answer cell for exercise 1.2 raised ValueError")}),
    "infinite-loop": (solved_with("1.3", "import time\nwide = layers.Dense(6)\nwhile True:\n    time.sleep(0.2)"),
                      {"1.3": ("error", f"ran for more than {CELL_TIMEOUT} s"),
                       "1.4": ("error", "stopped before the check of 1.4"),
                       "1.5": ("error", "stopped before the check of 1.5")}),
    "memory-hog": (solved_with("1.2", "blocks = []\nwhile True:\n    blocks.append(np.ones(25_000_000))"),
                   {"1.2": ("error", f"used more than {MEMORY_MB} MB of memory"),
                    "1.3": ("error", "stopped before the check of 1.3"),
                    "1.4": ("error", "stopped before the check of 1.4"),
                    "1.5": ("error", "stopped before the check of 1.5")}),
    "kernel-killed": (solved_with("1.4", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
                      {"1.4": ("error", "the Python process running your notebook stopped"),
                       "1.5": ("error", "stopped before the check of 1.5")}),
    "os-exit": (solved_with("1.1", "import os\nos._exit(3)"),
                {"1.1": ("error", "the Python process running your notebook stopped"),
                 **{e: ("error", "stopped before the check") for e in LAYERS_EXERCISES[1:]}}),
    "renamed-variable": (solved_with("1.1", 'hidden_layer = layers.Dense(16, activation="relu")'),
                         {"1.1": ("error", "`hidden` is not defined when exercise 1.1 is checked")}),
    "sys-exit": (solved_with("1.1", 'hidden = layers.Dense(16, activation="relu")\nimport sys\nsys.exit()'),
                 {"1.1": ("error", "called sys.exit()")}),
    "huge-output": (solved_with("1.2", "for _ in range(40):\n    print('spam ' * 200_000)\n"
                                       "y_by_hand = np.maximum(x @ kernel + bias, 0.0)"),
                    {"1.2": ("error", f"printed more than {MAX_OUTPUT_KB} KB of output")}),
    "unsolved-with-scratch-cell": (unsolved_with_scratch_cell(),
                                   {e: ("failed", "not done yet") for e in LAYERS_EXERCISES}),
    ODD_NAME: ({LAYERS: load("solutions")}, {}),
    FORMULA_NAME: ({LAYERS: b""}, {e: ("error", "the file is empty") for e in LAYERS_EXERCISES}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad-input")
    submissions = base / "submissions"
    write_cases(submissions, CASES)
    (submissions / "stray-file.txt").write_text("not a learner folder")
    before = checksums(submissions)
    result = grade_cli(
        submissions, base / "report", "--notebooks", LAYERS, "--workers", "2",
        "--cell-timeout", str(CELL_TIMEOUT), "--notebook-timeout", "240",
        "--memory-mb", str(MEMORY_MB), "--max-output-kb", str(MAX_OUTPUT_KB),
    )
    return result, read_grades(base / "report"), before, checksums(submissions), base / "report"


def test_the_class_was_graded(graded):
    result, rows, *_ = graded
    assert result.returncode == 0, result.stderr[-3000:]
    assert "grading" in result.stderr  # the progress bar
    assert list(rows[0]) == ["learner", "notebook", "exercise", "status", "points", "max_points", "message"]
    learners = {row["learner"] for row in rows}
    assert len(learners) == len(CASES)  # the stray file is not a learner
    assert len(rows) == len(LAYERS_EXERCISES) * len(CASES)


@pytest.mark.parametrize("learner", sorted(CASES))
def test_bad_input_gets_clear_rows(graded, learner):
    _, rows, *_ = graded
    table = by_learner(rows)
    shown = "'" + learner if learner.startswith("=") else learner
    mine = table[shown]
    assert sorted(mine) == list(LAYERS_EXERCISES)
    assert_clear_rows(mine, CASES[learner][1])


def test_feedback_files_for_every_learner(graded):
    *_, report = graded
    files = sorted(p.name for p in (report / "feedback").iterdir())
    assert len(files) == len(CASES)
    odd = [name for name in files if name.startswith("Zoë")]
    assert odd and "/" not in odd[0] and "$" not in odd[0] and "<" not in odd[0]
    text = (report / "feedback" / odd[0]).read_text(encoding="utf-8")
    points = len(LAYERS_EXERCISES)
    assert ODD_NAME in text and f"{points} / {points} points" in text


def test_limits_are_reported_to_the_instructor(graded):
    *_, report = graded
    log = (report / "grading.log").read_text(encoding="utf-8")
    assert "infinite-loop/01_layers.ipynb: stopped" in log
    assert "skipped 'stray-file.txt'" in log


def test_submissions_never_change(graded):
    _, _, before, after, _ = graded
    assert before == after
