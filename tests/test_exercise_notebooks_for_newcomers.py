"""What a newcomer sees on opening an exercise notebook: a notebook never run, and where its solution is.

Seen in a real browser before these were fixed: set-up cells kept the execution counts
and outputs of the solved notebook they were built from (``[10]`` above a freshly run
``[11]``), so a notebook looked already run; and ``solutions/`` sat beside
``exercises/`` in the file browser with nothing saying what it is.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from coursetools.build import build_exercise_notebook
from coursetools.lessons import all_lessons

ROOT = Path(__file__).resolve().parent.parent
LESSONS = all_lessons()


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.exercise_notebook)
def test_an_exercise_notebook_has_never_been_run(lesson):
    nb = nbformat.read(ROOT / lesson.exercise_notebook, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.execution_count is None, f"cell {index} shows [{cell.execution_count}]"
            assert cell.outputs == [], f"cell {index} shows an output before the learner ran it"


def test_the_builder_clears_set_up_cells_too():
    setup = new_code_cell("from coursetools import check, not_done\nprint('data ready')", execution_count=3,
                          outputs=[new_output("stream", name="stdout", text="data ready\n")])
    answer = new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", execution_count=4,
                           metadata={"tags": ["answer"], "exercise": "9.1"})
    check = new_code_cell('check("9.1", x=x)', metadata={"tags": ["check", "nbval-check-output"], "exercise": "9.1"})
    solved = new_notebook(cells=[new_markdown_cell("# Exercises"), setup, answer, check])
    built = build_exercise_notebook(solved)
    assert [c.execution_count for c in built.cells if c.cell_type == "code"] == [None, None, None]
    assert all(c.outputs == [] for c in built.cells if c.cell_type == "code")
    assert built.cells[1].source == setup.source, "set-up code is kept, only its outputs go"
    assert solved.cells[1].outputs, "the solved notebook itself is not modified"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.exercise_notebook)
def test_an_exercise_notebook_says_where_its_worked_solution_is_and_to_try_first(lesson):
    exercise = ROOT / lesson.exercise_notebook
    intro = next(c for c in nbformat.read(exercise, as_version=4).cells if c.cell_type == "markdown").source
    links = re.findall(r"\]\(([^)]+\.ipynb)\)", intro)
    solution = (ROOT / lesson.solution_notebook).resolve()
    assert [(exercise.parent / link).resolve() for link in links if "solutions/" in link] == [solution]
    assert solution.is_file()
    assert "Try each exercise yourself first" in intro


def test_the_solution_notebooks_do_not_point_at_themselves():
    for lesson in LESSONS:
        text = (ROOT / lesson.solution_notebook).read_text(encoding="utf-8")
        assert "Worked solutions." not in text, lesson.solution_notebook


def test_the_start_page_says_what_solutions_is_and_to_try_first():
    text = (ROOT / "START_HERE.md").read_text(encoding="utf-8")
    section = text[text.index("## Worked solutions"):]
    assert "`solutions/`" in section and "try" in section.lower()
