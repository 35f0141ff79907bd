"""Read a handed-in notebook and rebuild it from the pristine release.

Only the learner's *answers* are trusted to be theirs. Every other cell -- set-up
code, data, the check cells -- is taken from the pristine exercise notebook, matched
by role (``answer`` / ``check`` tags with ``metadata.exercise``), by cell id, or by
identical source. So a learner who edits or deletes a check cell, or a set-up cell,
changes nothing. Cells the learner *added* are kept at their place (after the cell
they followed), because an answer may need a helper cell.

Everything about the file that can go wrong (empty, not JSON, another nbformat,
deleted or duplicated answer cells) becomes a message written for the learner.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from coursetools import schema
from coursetools.grading.outcome import ERROR, MISSING, clip
from coursetools.grading.snapshot import Pristine

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
SETUP, ANSWER, ADDED, CHECK = "setup", "answer", "added", "check"


class SubmissionError(Exception):
    """The handed-in file cannot be graded at all; ``str()`` is the learner's message."""


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def parse_notebook(data: bytes) -> dict[str, Any]:
    """The notebook as a dict with nbformat 4 structure, or :class:`SubmissionError`."""
    resave = "Open it in JupyterLab, check that your work is there, save it (Ctrl+S) and hand it in again."
    if not data.strip():
        raise SubmissionError(f"the file is empty: it was never saved, or the upload failed. {resave}")
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(
            f"the file is {len(data) / 1e6:.0f} MB, more than the {MAX_NOTEBOOK_BYTES // 2**20} MB a "
            "notebook may have; clear its outputs (Edit > Clear Outputs of All Cells), save and hand it in again."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionError(f"the file is not a Jupyter notebook (it is not text). {resave}") from None
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as error:
        raise SubmissionError(
            f"the file is not a valid notebook: its content is cut off or damaged (JSON error at line "
            f"{error.lineno}, column {error.colno}). This happens when a notebook is edited in a text "
            f"editor or copied before it was fully saved. {resave}"
        ) from None
    except RecursionError:  # e.g. [[[[...]]]] a hundred thousand levels deep
        raise SubmissionError(
            f"the file is not a Jupyter notebook: its content is nested too deeply to be read (lists or "
            f"objects inside each other thousands of levels deep), which no notebook editor writes. {resave}"
        ) from None
    except ValueError:  # valid JSON that Python refuses, e.g. an integer of more than 4300 digits
        raise SubmissionError(
            f"the file is not a Jupyter notebook: it holds a value no notebook editor writes (such as a "
            f"number thousands of digits long). {resave}"
        ) from None
    if not isinstance(nb, dict) or "nbformat" not in nb:
        raise SubmissionError(f"the file is not a Jupyter notebook (it has no notebook format). {resave}")
    version = nb.get("nbformat")
    fresh = "Start from a fresh copy of the exercise notebook, copy your answers in, save and hand it in again."
    if not isinstance(version, (int, float)) or isinstance(version, bool):
        raise SubmissionError(
            f"the notebook's format number is damaged: its \"nbformat\" field holds {_kind_of(version)} "
            f"instead of the number 4 that JupyterLab writes (the file was edited by hand or by another "
            f"tool). {fresh}"
        )
    if version != 4:
        raise SubmissionError(
            f"the notebook is saved in notebook format {version:g}, an {'older' if version < 4 else 'unknown newer'} "
            f"format; this course uses format 4 (JupyterLab and Notebook 7 save it). {fresh}"
        )
    cells = nb.get("cells")
    if not isinstance(cells, list) or not all(_readable_cell(c) for c in cells):
        raise SubmissionError(f"the notebook is damaged: its list of cells cannot be read. {resave}")
    return nb


def _readable_cell(cell: object) -> bool:
    """The few fields the rebuild reads have the types nbformat 4 gives them."""
    if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
        return False
    source = cell.get("source", "")
    if not (isinstance(source, str) or isinstance(source, list) and all(isinstance(s, str) for s in source)):
        return False
    metadata = cell.get("metadata", {})
    if not isinstance(metadata, dict):
        return False
    if not isinstance(metadata.get(schema.EXERCISE_KEY, ""), (str, int, float)):
        return False  # an exercise id is a short text such as "1.2"
    tags = metadata.get("tags", [])
    return isinstance(tags, list) and all(isinstance(t, str) for t in tags)


def _kind_of(value: object) -> str:
    """A JSON value described without printing it (it may be huge or deeply nested)."""
    if isinstance(value, str):
        return f"the text {clip(json.dumps(value), 20)}"
    if isinstance(value, bool) or value is None:
        return f"the value {json.dumps(value)}"
    return "a list" if isinstance(value, list) else "an object"


@dataclass
class PlannedCell:
    """One cell of the notebook the grader will run, and whose it is."""

    source: str
    role: str  # SETUP (pristine), ANSWER (learner's), ADDED (learner's own cell), CHECK (pristine)
    exercise: str | None = None  # answer/check: its exercise; added: the answer region it sits in
    learner_index: int | None = None  # position in the learner's notebook (answer and added cells)
    expect_error: bool = False  # a pristine cell tagged raises-exception (it demonstrates an error)


@dataclass
class Plan:
    """The rebuilt notebook plus what the rebuild already knows about each exercise."""

    notebook: str
    cells: list[PlannedCell]
    problems: dict[str, tuple[str, str]] = field(default_factory=dict)  # exercise -> (status, message)
    notes: list[str] = field(default_factory=list)
    untouched: bool = False  # every answer as released and no added code: nothing can pass


def rebuild(pristine: Pristine, learner: dict[str, Any]) -> Plan:
    """Pristine non-answer cells + the learner's answer cells + cells the learner added."""
    nb = pristine.nb
    answer_slots = {}  # pristine index -> (exercise, k)
    check_slots = {}  # pristine index -> exercise
    for ex in pristine.exercises:
        for k, index in enumerate(ex.answers):
            answer_slots[index] = (ex.exercise_id, k)
        check_slots[ex.check] = ex.exercise_id
    known = {ex.exercise_id: ex for ex in pristine.exercises}
    by_id = {c.get("id"): i for i, c in enumerate(nb.cells) if c.get("id")}
    by_source: dict[str, list[int]] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and i not in answer_slots and i not in check_slots:
            by_source.setdefault(_source(cell), []).append(i)

    answers: dict[str, list[tuple[int, str]]] = {ex: [] for ex in known}
    markdown_answers: set[str] = set()
    added: list[tuple[Any, int, str]] = []  # (anchor, learner index, source)
    anchor: Any = -1  # a pristine index, or ("answer", exercise, k)
    notes: list[str] = []
    for li, cell in enumerate(learner["cells"]):
        kind = cell.get("cell_type")
        text = _source(cell)
        ex = schema.exercise_id(cell)
        tags = schema.tags(cell) if isinstance(cell.get("metadata"), dict) else set()
        same_id = by_id.get(cell.get("id")) if isinstance(cell.get("id"), str) else None
        if kind == "code" and schema.ANSWER_TAG in tags and ex in known:
            answers[ex].append((li, text))
            anchor = ("answer", ex, len(answers[ex]) - 1)
        elif kind != "code" and schema.ANSWER_TAG in tags and ex in known:
            markdown_answers.add(ex)
        elif schema.CHECK_TAG in tags and ex in known:
            anchor = known[ex].check  # the pristine check cell is used, whatever this one says
        elif kind == "code" and same_id is not None and same_id in answer_slots:
            ex_id, _ = answer_slots[same_id]  # the answer cell, with its tags removed
            answers[ex_id].append((li, text))
            anchor = ("answer", ex_id, len(answers[ex_id]) - 1)
        elif same_id is not None and same_id not in answer_slots:
            anchor = same_id  # a pristine cell, perhaps edited: the pristine version runs
        elif kind == "code" and by_source.get(text):
            anchor = by_source[text].pop(0)
        elif kind == "code" and text.strip():
            if ex is not None and schema.ANSWER_TAG in tags:
                notes.append(f"cell {li + 1} is tagged as the answer of exercise {clip(ex, 20)}, "
                             "which is not in this notebook; it was run as a cell of your own")
            added.append((anchor, li, text))

    problems: dict[str, tuple[str, str]] = {}
    for ex_id, ex in known.items():
        found, expected = len(answers[ex_id]), len(ex.answers)
        if found == 0 and ex_id in markdown_answers:
            problems[ex_id] = (ERROR, (
                f"the answer cell of exercise {ex_id} was turned into a text (Markdown) cell, so it "
                "cannot run. Select it, change its type back to Code (press Y), run it and save."))
        elif found < expected:
            what = "The answer cell" if expected == 1 else f"{expected - found} of the {expected} answer cells"
            problems[ex_id] = (MISSING, (
                f"{what} of exercise {ex_id} is not in your notebook: it was deleted, or its "
                f"`answer` tag was removed. Copy the cell back from a fresh copy of {pristine.name}, "
                "put your answer in it and hand the notebook in again."))
        elif found > expected:
            problems[ex_id] = (ERROR, (
                f"exercise {ex_id} has {found} answer cells where the notebook has {expected}: the "
                "answer cell was copied. Delete the extra copy (keep the one with your answer), run "
                "the notebook again and hand it in, so that the grader knows which answer is yours."))

    def slot_of(mark: Any) -> int:
        if isinstance(mark, tuple):
            _, ex_id, k = mark
            slots = known[ex_id].answers
            return slots[k] if len(answers[ex_id]) == len(slots) else slots[0]
        return mark

    region: dict[int, str] = {}
    for ex in pristine.exercises:
        for index in range(ex.answers[0], ex.check):
            region[index] = ex.exercise_id
    after: dict[int, list[PlannedCell]] = {}
    for mark, li, text in added:
        slot = slot_of(mark)
        after.setdefault(slot, []).append(PlannedCell(text, ADDED, region.get(slot), li))

    cells: list[PlannedCell] = list(after.get(-1, []))
    for index, cell in enumerate(nb.cells):
        if index in answer_slots:
            ex_id, k = answer_slots[index]
            mine = answers[ex_id]
            if problems.get(ex_id, ("",))[0] == MISSING or not mine:
                # Keep the released placeholder so later cells still find the names they use.
                cells.append(PlannedCell(_source(cell), SETUP, ex_id))
            elif len(mine) == len(known[ex_id].answers):
                cells.append(PlannedCell(mine[k][1], ANSWER, ex_id, mine[k][0]))
            elif k == 0:
                cells += [PlannedCell(text, ANSWER, ex_id, li) for li, text in mine]
        elif index in check_slots:
            cells.append(PlannedCell(_source(cell), CHECK, check_slots[index]))
        elif cell.cell_type == "code":
            cells.append(PlannedCell(_source(cell), SETUP, expect_error=schema.raises(cell)))
        cells += after.get(index, [])

    untouched = not added and all(
        [text for _, text in answers[ex.exercise_id]] == [_source(nb.cells[i]) for i in ex.answers]
        for ex in pristine.exercises
    )
    return Plan(pristine.name, cells, problems, notes, untouched)
