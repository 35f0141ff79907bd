"""Cell roles: every exercise notebook follows the schema the grader relies on."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from coursetools import schema
from coursetools.registry import all_exercises

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_roles_are_consistent_and_registered(path):
    nb = nbformat.read(path, as_version=4)
    spots = schema.exercises_in(nb)
    assert len(spots) >= 3, "each lesson has at least three exercises"
    lesson = path.name.split("_")[0].lstrip("0")
    registered = all_exercises()
    for spot in spots:
        assert spot.exercise_id.split(".")[0] == lesson
        assert spot.exercise_id in registered, f"no check registered for {spot.exercise_id}"
        assert spot.points > 0


def test_exercise_ids_are_unique_across_the_course():
    ids = [s.exercise_id for p in SOLUTIONS for s in schema.exercises_in(nbformat.read(p, as_version=4))]
    assert len(ids) == len(set(ids))


def _cell(source, tags, exercise="9.1", **meta):
    return new_code_cell(source, metadata={"tags": tags, "exercise": exercise, **meta})


@pytest.mark.parametrize(
    "cells, problem",
    [
        ([_cell('check("9.1", x=x)', ["check", "nbval-check-output"])], "no answer cell"),
        ([_cell("x = 1", ["answer"])], "no check cell"),
        ([_cell("x = 1", ["answer"]), _cell('check("9.1", x=x)', ["check"])], "lacks the nbval-check-output"),
        ([_cell("x = 1", ["answer"]), _cell('check("9.2", x=x)', ["check", "nbval-check-output"])], "calls check() for ['9.2']"),
        ([new_code_cell("x = 1", metadata={"tags": ["answer"]})], "no metadata.exercise"),
        (
            [_cell('check("9.1", x=x)', ["check", "nbval-check-output"]), _cell("x = 1", ["answer"])],
            "comes after its check",
        ),
    ],
    ids=["no-answer", "no-check", "no-output-tag", "wrong-id", "no-id", "order"],
)
def test_inconsistent_roles_are_named(cells, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        schema.exercises_in(new_notebook(cells=cells))


def test_points_come_from_check_cell_metadata():
    nb = new_notebook(cells=[_cell("x = 1", ["answer"]), _cell('check("9.1", x=x)', ["check", "nbval-check-output"], points=3)])
    assert schema.exercises_in(nb)[0].points == 3
