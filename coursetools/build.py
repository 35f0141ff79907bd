"""Build ``exercises/`` from ``solutions/``: the solved notebook is the single source.

Each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region becomes one line per
name the solution assigns, ``name = not_done("1.2")``. The answer cell then runs
without error and its check cell reports "not done yet".

Every code cell loses its outputs and execution count: a learner opens a notebook that
has never been run. Stored outputs of set-up cells made it look already run (``[10]``
above a freshly run ``[11]``), and a stored verdict would judge work not yet done (the
self-check, :mod:`coursetools.selfcheck`, supplies the pass line it compares with; the
grader runs the pristine cells afresh and never reads their outputs).

The first Markdown cell gets a paragraph saying where the worked solution is and to try
first: ``solutions/`` sits beside ``exercises/`` in the file browser, and a self-paced
learner should know what it is before stumbling on it.

Names: ``solutions/04_solutions_skip_connections.ipynb`` builds
``exercises/04_skip_connections.ipynb``. The three notebooks of a lesson have different
file names because JupyterLab's tab shows only the name (two tabs reading
``04_skip_connections.ipynb`` could not be told apart); the exercise notebook keeps the
plain name because it is what learners hand in and graders look for.
"""

from __future__ import annotations

import ast
import copy
import re
import textwrap
from pathlib import Path
from typing import Any

import nbformat

from coursetools import schema


class BuildError(ValueError):
    """A solution notebook breaks a rule the builder relies on."""


SOLUTION_NAME = re.compile(r"(\d{2})_solutions_(.+)")


def exercise_name(solution_name: str) -> str:
    """``04_solutions_skip_connections.ipynb`` -> ``04_skip_connections.ipynb`` (other names unchanged)."""
    found = SOLUTION_NAME.fullmatch(solution_name)
    return f"{found.group(1)}_{found.group(2)}" if found else solution_name


def solution_name(exercise_name: str) -> str:
    """``04_skip_connections.ipynb`` -> ``04_solutions_skip_connections.ipynb``: the notebook it is built from."""
    number, _, rest = exercise_name.partition("_")
    return f"{number}_solutions_{rest}" if number.isdigit() and rest else exercise_name


def assigned_names(code: str) -> list[str]:
    """Top-level names a solution region binds, in order of first binding."""
    names: list[str] = []

    def add(target: ast.AST) -> None:
        if isinstance(target, ast.Name) and target.id not in names:
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                add(element)

    for node in ast.parse(code).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                add(target)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            add(node.target)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            add(ast.Name(id=node.name))
    return names


def placeholder(region: str, exercise_id: str) -> list[str]:
    """The learner's lines that replace one solution region."""
    names = assigned_names(region)
    if not names:
        raise BuildError(f"the solution region of exercise {exercise_id} assigns no name to check")
    lines = [f'# Exercise {exercise_id}: replace not_done("{exercise_id}") with your code.']
    lines += [f'{name} = not_done("{exercise_id}")' for name in names]
    return lines


def strip_solutions(source: str, exercise_id: str) -> str:
    """Replace every solution region of one answer cell's source."""
    out: list[str] = []
    region: list[str] | None = None
    for line in source.splitlines():
        marker = line.strip()
        if marker == schema.BEGIN_SOLUTION:
            if region is not None:
                raise BuildError(f"exercise {exercise_id}: nested BEGIN SOLUTION")
            if line != marker:
                raise BuildError(f"exercise {exercise_id}: solution regions must not be indented")
            region = []
        elif marker == schema.END_SOLUTION:
            if region is None:
                raise BuildError(f"exercise {exercise_id}: END SOLUTION without BEGIN")
            out += placeholder("\n".join(region), exercise_id)
            region = None
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise BuildError(f"exercise {exercise_id}: BEGIN SOLUTION without END")
    return "\n".join(out)


def solution_note(link: str) -> str:
    """The paragraph of an exercise notebook that says where its worked solution is."""
    shown = link.removeprefix("../")
    text = (
        f"**Worked solutions.** [`{shown}`]({link}) is this notebook with every exercise solved (in the "
        "course's own folder; a class's copy of the course may leave it out). Try each exercise yourself "
        "first and let the check's hint guide you: writing the code is how it sticks. Open the solution to "
        "compare once your check passes, or when you are stuck."
    )
    return textwrap.fill(text, width=92, break_long_words=False, break_on_hyphens=False)


def add_solution_note(nb: Any, link: str) -> None:
    """Append :func:`solution_note` to the notebook's first Markdown cell (its introduction)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = "".join(cell.source).rstrip("\n") + "\n\n" + solution_note(link)
            return
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(solution_note(link)))


def build_exercise_notebook(solution: Any, solution_link: str | None = None) -> Any:
    """The learner's notebook for one solved notebook (the input is not modified).

    ``solution_link``: the solved notebook's path relative to the exercise notebook, for the
    note saying where it is (none without it).
    """
    schema.exercises_in(solution)  # raises on inconsistent roles
    nb = copy.deepcopy(solution)
    uses_placeholder = False
    for index, cell in enumerate(nb.cells):
        text = "".join(cell.source)
        has_region = schema.BEGIN_SOLUTION in text or schema.END_SOLUTION in text
        if cell.cell_type != "code":
            if has_region:
                raise BuildError(f"cell {index}: solution regions belong in code cells")
            continue
        if has_region and not schema.is_answer(cell):
            raise BuildError(f"cell {index}: a solution region outside an answer cell")
        if schema.is_answer(cell):
            if not has_region:
                raise BuildError(f"answer cell {index} has no solution region")
            cell.source = strip_solutions(text, schema.exercise_id(cell))
            uses_placeholder = True
        cell.outputs = []  # never run: no verdict, no solution's output, no set-up output
        cell.execution_count = None
    if uses_placeholder and not any(
        "not_done" in "".join(c.source) and "import" in "".join(c.source)
        for c in nb.cells
        if c.cell_type == "code" and not schema.is_answer(c)
    ):
        raise BuildError("the notebook never imports not_done, which its placeholders use")
    if solution_link is not None:
        add_solution_note(nb, solution_link)
    return nb


def render(nb: Any) -> str:
    """The exact text a notebook is stored as, so staleness is a string comparison."""
    return nbformat.writes(nb) + "\n"


def build_all(solutions: Path, exercises: Path, *, write: bool) -> list[Path]:
    """Build every exercise notebook; return those that were (or would be) changed."""
    changed: list[Path] = []
    for solution_path in sorted(solutions.glob("*.ipynb")):
        link = f"../{solutions.name}/{solution_path.name}"  # exercises/ and solutions/ are siblings
        built = render(build_exercise_notebook(nbformat.read(solution_path, as_version=4), link))
        target = exercises / exercise_name(solution_path.name)
        if not target.exists() or target.read_text(encoding="utf-8") != built:
            changed.append(target)
            if write:
                exercises.mkdir(parents=True, exist_ok=True)
                target.write_text(built, encoding="utf-8")
    expected = {exercise_name(p.name) for p in solutions.glob("*.ipynb")}
    orphans = [p for p in sorted(exercises.glob("*.ipynb")) if p.name not in expected]
    if write:
        for orphan in orphans:  # its solution was removed or renamed
            orphan.unlink()
    return changed + orphans
