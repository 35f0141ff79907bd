"""The exercise builder: solutions/ is the single source of exercises/."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from coursetools import schema
from coursetools.build import (BuildError, assigned_names, build_all, build_exercise_notebook, exercise_name, solution_name,
                               strip_solutions)

ROOT = Path(__file__).resolve().parent.parent


def test_exercises_are_up_to_date():
    stale = build_all(ROOT / "solutions", ROOT / "exercises", write=False)
    assert stale == [], f"run `python -m coursetools build-exercises`; stale: {stale}"


def test_every_solution_has_an_exercise_and_a_lesson():
    solutions = sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))
    assert solutions, "no solution notebooks"
    assert [exercise_name(name) for name in solutions] == sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    lessons = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert {name.replace("_solutions_", "_lesson_", 1) for name in solutions} <= lessons


def test_the_three_notebooks_of_a_lesson_have_different_names():
    """A JupyterLab tab shows only the file's name: the lesson, its exercises and their solutions must differ."""
    names = [p.name for folder in ("notebooks", "solutions", "exercises") for p in (ROOT / folder).glob("*.ipynb")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert exercise_name("04_solutions_skip_connections.ipynb") == "04_skip_connections.ipynb"
    assert solution_name("04_skip_connections.ipynb") == "04_solutions_skip_connections.ipynb"


@pytest.mark.parametrize("path", sorted((ROOT / "exercises").glob("*.ipynb")), ids=lambda p: p.name)
def test_learner_notebooks_hold_no_solution(path):
    text = path.read_text(encoding="utf-8")
    assert schema.BEGIN_SOLUTION not in text and schema.END_SOLUTION not in text
    nb = nbformat.read(path, as_version=4)
    for spot in schema.exercises_in(nb):
        for index in spot.answers:
            cell = nb.cells[index]
            assert cell.outputs == [] and cell.execution_count is None
            assert f'not_done("{spot.exercise_id}")' in cell.source
        check_cell = nb.cells[spot.check]
        assert check_cell.outputs == [] and check_cell.execution_count is None, "a verdict before the learner ran it"


@pytest.mark.parametrize(
    "code, names",
    [
        ("model = 1", ["model"]),
        ("a, b = 1, 2\nb = 3", ["a", "b"]),
        ("m = make()\nm.build((None, 3))\nm.trainable = False", ["m"]),
        ("def build_model():\n    return 1", ["build_model"]),
        ("x: int = 3\ny += 1", ["x", "y"]),
        ("[p, (q, r)] = 1, (2, 3)", ["p", "q", "r"]),
    ],
)
def test_assigned_names(code, names):
    assert assigned_names(code) == names


def test_strip_keeps_given_code_around_the_region():
    source = "given = 1\n### BEGIN SOLUTION\nanswer = given + 1\n### END SOLUTION\nprint('after')"
    out = strip_solutions(source, "9.9")
    assert "given = 1" in out and "print('after')" in out
    assert 'answer = not_done("9.9")' in out and "given + 1" not in out


@pytest.mark.parametrize(
    "source, problem",
    [
        ("### BEGIN SOLUTION\nx = 1", "without END"),
        ("x = 1\n### END SOLUTION", "without BEGIN"),
        ("### BEGIN SOLUTION\nprint(1)\n### END SOLUTION", "assigns no name"),
        ("if True:\n    ### BEGIN SOLUTION\n    x = 1\n    ### END SOLUTION", "indented"),
    ],
)
def test_strip_rejects_malformed_regions(source, problem):
    with pytest.raises(BuildError, match=problem):
        strip_solutions(source, "9.9")


def _solution_nb(answer_source: str, *, import_placeholder: bool = True, extra=()):
    setup = "from coursetools import check, not_done" if import_placeholder else "from coursetools import check"
    answer = new_code_cell(answer_source, metadata={"tags": ["answer"], "exercise": "9.1"})
    answer.outputs = [nbformat.v4.new_output("stream", name="stdout", text="secret\n")]
    answer.execution_count = 2
    check_cell = new_code_cell('check("9.1", x=x)', metadata={"tags": ["check", "nbval-check-output"], "exercise": "9.1"})
    check_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="✅ 9.1 passed: fine\n")]
    return new_notebook(cells=[new_markdown_cell("# T"), new_code_cell(setup), answer, check_cell, *extra])


def test_build_clears_answer_and_check_outputs():
    """A learner sees no verdict before running a check, and no output of the solution."""
    nb = build_exercise_notebook(_solution_nb("### BEGIN SOLUTION\nx = 42\n### END SOLUTION"))
    answer, check_cell = nb.cells[2], nb.cells[3]
    assert answer.outputs == [] and answer.execution_count is None and "42" not in answer.source
    assert check_cell.outputs == [] and check_cell.execution_count is None


@pytest.mark.parametrize(
    "nb, problem",
    [
        (_solution_nb("x = 42"), "no solution region"),
        (_solution_nb("### BEGIN SOLUTION\nx = 42\n### END SOLUTION", import_placeholder=False), "never imports not_done"),
        (
            _solution_nb(
                "### BEGIN SOLUTION\nx = 42\n### END SOLUTION",
                extra=[new_code_cell("### BEGIN SOLUTION\ny = 1\n### END SOLUTION")],
            ),
            "outside an answer cell",
        ),
    ],
    ids=["no-region", "no-import", "region-outside-answer"],
)
def test_build_rejects_broken_solution_notebooks(nb, problem):
    with pytest.raises(BuildError, match=problem):
        build_exercise_notebook(nb)


def test_stale_and_orphan_exercises_are_reported(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    nbformat.write(_solution_nb("### BEGIN SOLUTION\nx = 42\n### END SOLUTION"), solutions / "09_t.ipynb")
    assert [p.name for p in build_all(solutions, exercises, write=True)] == ["09_t.ipynb"]
    assert build_all(solutions, exercises, write=False) == []
    (exercises / "09_t.ipynb").write_text((exercises / "09_t.ipynb").read_text().replace("not_done", "nope"))
    (exercises / "08_orphan.ipynb").write_text("{}")
    assert sorted(p.name for p in build_all(solutions, exercises, write=False)) == ["08_orphan.ipynb", "09_t.ipynb"]
