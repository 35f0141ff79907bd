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
from coursetools.grading.outcome import ERROR, MISSING, clip, safe_text
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


RESAVE = "Open it in JupyterLab, check that your work is there, save it (Ctrl+S) and hand it in again."
FRESH_COPY = "Start from a fresh copy of the exercise notebook, copy your answers in, save and hand it in again."


def parse_notebook(data: bytes) -> dict[str, Any]:
    """The notebook as a dict with nbformat 4 structure, or :class:`SubmissionError`."""
    nb = _json_of(data)
    _check_format_version(nb)
    cells = nb.get("cells")
    if not isinstance(cells, list) or not all(_readable_cell(c) for c in cells):
        raise SubmissionError(f"the notebook is damaged: its list of cells cannot be read. {RESAVE}")
    return nb


def _json_of(data: bytes) -> dict[str, Any]:
    """The file's JSON object, or the learner's message for a file that is empty, too big, not text or not JSON."""
    if not data.strip():
        raise SubmissionError(f"the file is empty: it was never saved, or the upload failed. {RESAVE}")
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(
            f"the file is {len(data) / 1e6:.0f} MB, more than the {MAX_NOTEBOOK_BYTES // 2**20} MB a "
            "notebook may have; clear its outputs (Edit > Clear Outputs of All Cells), save and hand it in again."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionError(f"the file is not a Jupyter notebook (it is not text). {RESAVE}") from None
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as error:
        raise SubmissionError(
            f"the file is not a valid notebook: its content is cut off or damaged (JSON error at line "
            f"{error.lineno}, column {error.colno}). This happens when a notebook is edited in a text "
            f"editor or copied before it was fully saved. {RESAVE}"
        ) from None
    except RecursionError:  # e.g. [[[[...]]]] a hundred thousand levels deep
        raise SubmissionError(
            f"the file is not a Jupyter notebook: its content is nested too deeply to be read (lists or "
            f"objects inside each other thousands of levels deep), which no notebook editor writes. {RESAVE}"
        ) from None
    except ValueError:  # valid JSON that Python refuses, e.g. an integer of more than 4300 digits
        raise SubmissionError(
            f"the file is not a Jupyter notebook: it holds a value no notebook editor writes (such as a "
            f"number thousands of digits long). {RESAVE}"
        ) from None
    if not isinstance(nb, dict) or "nbformat" not in nb:
        raise SubmissionError(f"the file is not a Jupyter notebook (it has no notebook format). {RESAVE}")
    return nb


def _check_format_version(nb: dict[str, Any]) -> None:
    """nbformat 4, the number JupyterLab writes; anything else gets a message saying what it is."""
    version = nb.get("nbformat")
    if not isinstance(version, (int, float)) or isinstance(version, bool):
        raise SubmissionError(
            f"the notebook's format number is damaged: its \"nbformat\" field holds {_kind_of(version)} "
            f"instead of the number 4 that JupyterLab writes (the file was edited by hand or by another "
            f"tool). {FRESH_COPY}"
        )
    if version != 4:
        raise SubmissionError(
            f"the notebook is saved in notebook format {version:g}, an {'older' if version < 4 else 'unknown newer'} "
            f"format; this course uses format 4 (JupyterLab and Notebook 7 save it). {FRESH_COPY}"
        )


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
    """Pristine non-answer cells + the learner's answer cells + cells the learner added.

    Steps: index the pristine notebook, sort the learner's cells against it (answers,
    answers turned into Markdown, added cells and where they sit), find the answers that
    are missing or copied, then lay out the cells to run.
    """
    index = _PristineIndex.of(pristine)
    mine = _sort_learner_cells(learner["cells"], index)
    problems = _answer_problems(pristine, mine)
    cells = _lay_out(pristine, index, mine, problems)
    notes = mine.notes + _encodable(cells)
    untouched = not mine.added and all(
        [text for _, text in mine.answers[ex.exercise_id]] == [_source(pristine.nb.cells[i]) for i in ex.answers]
        for ex in pristine.exercises
    )
    return Plan(pristine.name, cells, problems, notes, untouched)


def _encodable(cells: list[PlannedCell]) -> list[str]:
    """The learner's cells made sendable to a kernel, and a note for each that had to change.

    A notebook's JSON may spell half of a character pair (``"\\ud800"``): a *lone surrogate*,
    which no UTF-8 text can hold, so the message carrying the cell to the kernel cannot be
    encoded. Such characters are run as U+FFFD (which is what they become in any UTF-8
    file), and the learner is told which cell held them.
    """
    notes = []
    for cell in cells:
        if cell.role not in (ANSWER, ADDED) or safe_text(cell.source) == cell.source:
            continue
        found = sorted({f"U+{ord(c):04X}" for c in cell.source if 0xD800 <= ord(c) <= 0xDFFF})
        cell.source = safe_text(cell.source)
        where = (f"your answer cell for exercise {cell.exercise}" if cell.role == ANSWER
                 else "a cell you added") + f" (cell {cell.learner_index + 1} of your notebook)"
        notes.append(
            f"{where} holds a character that cannot be encoded as UTF-8 ({', '.join(found[:3])}: half of a "
            "character pair, left by a damaged copy-paste or edit); it ran with \ufffd in its place. Find and "
            "delete that character.")
    return notes


@dataclass
class _PristineIndex:
    """Where each cell of the pristine notebook is, to match the learner's cells against."""

    known: dict[str, schema.ExerciseCells]  # exercise -> its cells
    answer_slots: dict[int, tuple[str, int]]  # pristine index -> (exercise, k-th answer cell of it)
    check_slots: dict[int, str]  # pristine index -> exercise
    by_id: dict[str, int]  # cell id -> pristine index
    by_source: dict[str, list[int]]  # source -> other code cells with it (each matched once)

    @classmethod
    def of(cls, pristine: Pristine) -> "_PristineIndex":
        answer_slots = {index: (ex.exercise_id, k) for ex in pristine.exercises for k, index in enumerate(ex.answers)}
        check_slots = {ex.check: ex.exercise_id for ex in pristine.exercises}
        by_source: dict[str, list[int]] = {}
        for i, cell in enumerate(pristine.nb.cells):
            if cell.cell_type == "code" and i not in answer_slots and i not in check_slots:
                by_source.setdefault(_source(cell), []).append(i)
        return cls({ex.exercise_id: ex for ex in pristine.exercises}, answer_slots, check_slots,
                   {c.get("id"): i for i, c in enumerate(pristine.nb.cells) if c.get("id")}, by_source)


@dataclass
class _LearnerCells:
    """The learner's cells sorted against the pristine notebook."""

    answers: dict[str, list[tuple[int, str]]]  # exercise -> (learner index, source) of each answer cell
    markdown_answers: set[str] = field(default_factory=set)  # exercises whose answer cell became Markdown
    added: list[tuple[Any, int, str]] = field(default_factory=list)  # (anchor, learner index, source)
    notes: list[str] = field(default_factory=list)


def _sort_learner_cells(cells: list[dict[str, Any]], index: _PristineIndex) -> _LearnerCells:
    """Each learner cell is an answer, a pristine cell (perhaps edited: the pristine one runs) or an added
    cell, anchored after the last answer or pristine cell before it (``anchor``)."""
    known = index.known
    mine = _LearnerCells({ex: [] for ex in known})
    anchor: Any = -1  # a pristine index, or ("answer", exercise, k)
    for li, cell in enumerate(cells):
        kind = cell.get("cell_type")
        text = _source(cell)
        ex = schema.exercise_id(cell)
        tags = schema.tags(cell) if isinstance(cell.get("metadata"), dict) else set()
        same_id = index.by_id.get(cell.get("id")) if isinstance(cell.get("id"), str) else None
        if kind == "code" and schema.ANSWER_TAG in tags and ex in known:
            mine.answers[ex].append((li, text))
            anchor = ("answer", ex, len(mine.answers[ex]) - 1)
        elif kind != "code" and schema.ANSWER_TAG in tags and ex in known:
            mine.markdown_answers.add(ex)
        elif schema.CHECK_TAG in tags and ex in known:
            anchor = known[ex].check  # the pristine check cell is used, whatever this one says
        elif kind == "code" and same_id is not None and same_id in index.answer_slots:
            ex_id, _ = index.answer_slots[same_id]  # the answer cell, with its tags removed
            mine.answers[ex_id].append((li, text))
            anchor = ("answer", ex_id, len(mine.answers[ex_id]) - 1)
        elif same_id is not None and same_id not in index.answer_slots:
            anchor = same_id  # a pristine cell, perhaps edited: the pristine version runs
        elif kind == "code" and index.by_source.get(text):
            anchor = index.by_source[text].pop(0)
        elif kind == "code" and text.strip():
            if ex is not None and schema.ANSWER_TAG in tags:
                mine.notes.append(f"cell {li + 1} is tagged as the answer of exercise {clip(ex, 20)}, "
                                  "which is not in this notebook; it was run as a cell of your own")
            mine.added.append((anchor, li, text))
    return mine


def _answer_problems(pristine: Pristine, mine: _LearnerCells) -> dict[str, tuple[str, str]]:
    """Exercises whose answer cells are not as released: turned into Markdown, deleted, or copied."""
    problems: dict[str, tuple[str, str]] = {}
    for ex in pristine.exercises:
        ex_id = ex.exercise_id
        found, expected = len(mine.answers[ex_id]), len(ex.answers)
        if found == 0 and ex_id in mine.markdown_answers:
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
    return problems


def _added_after(pristine: Pristine, index: _PristineIndex, mine: _LearnerCells) -> dict[int, list[PlannedCell]]:
    """The learner's added cells by the pristine cell they follow (-1: before the first), each with the
    exercise whose answer region (answer cells up to its check) it sits in."""
    region: dict[int, str] = {}
    for ex in pristine.exercises:
        for slot in range(ex.answers[0], ex.check):
            region[slot] = ex.exercise_id
    after: dict[int, list[PlannedCell]] = {}
    for mark, li, text in mine.added:
        if isinstance(mark, tuple):  # after the learner's k-th answer cell of an exercise
            _, ex_id, k = mark
            slots = index.known[ex_id].answers
            slot = slots[k] if len(mine.answers[ex_id]) == len(slots) else slots[0]
        else:
            slot = mark
        after.setdefault(slot, []).append(PlannedCell(text, ADDED, region.get(slot), li))
    return after


def _lay_out(pristine: Pristine, index: _PristineIndex, mine: _LearnerCells,
             problems: dict[str, tuple[str, str]]) -> list[PlannedCell]:
    """The cells to run: pristine cells in order, the learner's answers in their slots, added cells after
    the cell they followed."""
    after = _added_after(pristine, index, mine)
    cells: list[PlannedCell] = list(after.get(-1, []))
    for i, cell in enumerate(pristine.nb.cells):
        if i in index.answer_slots:
            ex_id, k = index.answer_slots[i]
            answers = mine.answers[ex_id]
            if problems.get(ex_id, ("",))[0] == MISSING or not answers:
                # Keep the released placeholder so later cells still find the names they use.
                cells.append(PlannedCell(_source(cell), SETUP, ex_id))
            elif len(answers) == len(index.known[ex_id].answers):
                cells.append(PlannedCell(answers[k][1], ANSWER, ex_id, answers[k][0]))
            elif k == 0:
                cells += [PlannedCell(text, ANSWER, ex_id, li) for li, text in answers]
        elif i in index.check_slots:
            cells.append(PlannedCell(_source(cell), CHECK, index.check_slots[i]))
        elif cell.cell_type == "code":
            cells.append(PlannedCell(_source(cell), SETUP, expect_error=schema.raises(cell)))
        cells += after.get(i, [])
    return cells
