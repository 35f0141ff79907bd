"""``gradebook.csv``: one row per learner, for a learning platform's gradebook import.

Columns, exactly: ``learner,lms_id,total,max,<notebook>...`` where each ``<notebook>``
column is an exercise notebook's name without ``.ipynb`` (``01_layers``) holding the
learner's points in it. ``learner`` is the name ``grades.csv`` gives the learner's folder,
``lms_id`` the learner's id in the platform, from a roster the instructor provides
(``--roster FILE``: a CSV with the columns ``name,lms_id``, other columns ignored), empty
without one. Moodle's "Import grades: CSV file" maps ``lms_id`` to the user field the
roster holds (email address, ID number or username) and each other column to a grade item
(or a new one); Canvas needs its own columns first (README, "Grades for an LMS").

Every learner of the class gets a row, in ``grades.csv``'s order: a learner the roster
does not name gets an empty ``lms_id`` and a warning, never disappears; roster names that
are not in the class are reported. With a roster, the learners it does not name come
first: Moodle's importer does not skip a row with a blank identifier (it keeps the previous
row's user for it, ``grade/import/csv/classes/load_data.php``), but stops the whole import
when the *first* row names nobody, so an incomplete roster fails loudly instead of giving
one learner's points to another. The file is made from ``grades.csv`` and the roster only,
so ``grade`` and ``merge`` of the same class write it byte for byte the same.
"""

from __future__ import annotations

import csv
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from coursetools.grading.grade_rows import Row, learners, notebooks, plain_name, points_text, read_grades

GRADEBOOK = "gradebook.csv"
FIXED_COLUMNS = ["learner", "lms_id", "total", "max"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class RosterError(ValueError):
    """The roster file cannot be used; ``str()`` says why."""


@dataclass
class Roster:
    """learner name -> LMS id, as the roster file gives them."""

    ids: dict[str, str] = field(default_factory=dict)
    source: str = ""


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", name.strip())


def read_roster(path: Path) -> Roster:
    """A roster file: CSV with a header naming ``name`` and ``lms_id`` (any order, other columns ignored)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [column.strip().lower() for column in next(reader, [])]
            if "name" not in header or "lms_id" not in header:
                raise RosterError(f"{path}: the first line must name the columns name and lms_id "
                                  f"(found: {','.join(header) or 'nothing'})")
            at_name, at_id = header.index("name"), header.index("lms_id")
            roster = Roster(source=str(path))
            for number, values in enumerate(reader, start=2):
                if not any(value.strip() for value in values):
                    continue  # a blank line
                if len(values) <= max(at_name, at_id):
                    raise RosterError(f"{path}, line {number}: {len(values)} field(s), the header has {len(header)}")
                name, lms_id = _key(values[at_name]), values[at_id].strip()
                if not name or not lms_id:
                    raise RosterError(f"{path}, line {number}: an empty name or lms_id")
                if name in roster.ids:
                    raise RosterError(f"{path}, line {number}: {name!r} is listed twice")
                roster.ids[name] = lms_id
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RosterError(f"{path} cannot be read ({error})") from None
    return roster


def _safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def lms_id(learner: str, roster: Roster) -> str | None:
    """The roster's id for a learner named as ``grades.csv`` does (with or without its formula guard)."""
    for name in (learner, plain_name(learner)):
        found = roster.ids.get(_key(name))
        if found is not None:
            return found
    return None


def gradebook_rows(rows: list[Row], roster: Roster | None) -> tuple[list[list[str]], list[str], list[str]]:
    """(the CSV's lines, learners without a roster entry, roster names not in the class)."""
    names = learners(rows)
    books = notebooks(rows)
    got: dict[str, dict[str, float]] = {name: {nb: 0.0 for nb in books} for name in names}
    possible: dict[str, float] = {name: 0.0 for name in names}
    for r in rows:
        got[r.learner][r.notebook] += r.points
        possible[r.learner] += r.max_points
    header = FIXED_COLUMNS + [nb[:-len(".ipynb")] if nb.endswith(".ipynb") else nb for nb in books]
    unlisted, listed = [], []
    matched: set[str] = set()
    for name in names:
        found = lms_id(name, roster) if roster else None
        if found is not None:
            matched.update(_key(n) for n in (name, plain_name(name)))
        total = sum(got[name].values())
        line = [name, _safe(found or ""), points_text(total), points_text(possible[name])]
        line += [points_text(got[name][nb]) for nb in books]
        (unlisted if roster is not None and found is None else listed).append(line)
    strangers = [name for name in (roster.ids if roster else {}) if name not in matched]
    return [header] + unlisted + listed, [line[0] for line in unlisted], strangers


def write_gradebook(out_dir: Path, roster: Roster | None = None, warn: TextIO | None = None) -> Path:
    """Write ``out_dir/gradebook.csv`` from ``out_dir/grades.csv`` (and the roster); warn about mismatches."""
    rows = read_grades(out_dir / "grades.csv")
    lines, unlisted, strangers = gradebook_rows(rows, roster)
    path = out_dir / GRADEBOOK
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(lines)
    if roster is not None:
        stream = warn or sys.stderr
        for name in unlisted:
            print(f"gradebook: warning: learner {name!r} is not in the roster {roster.source}: "
                  "listed first, with an empty lms_id (an LMS import must not take that row as it is)", file=stream)
        for name in strangers:
            print(f"gradebook: warning: the roster names {name!r}, who is not in this class "
                  "(no learner folder of that name)", file=stream)
        print(f"gradebook: {len(lines) - 1 - len(unlisted)} of {len(lines) - 1} learner(s) matched the roster"
              + (f"; {len(unlisted)} without an lms_id" if unlisted else "")
              + (f"; {len(strangers)} roster name(s) not in the class" if strangers else ""), file=stream)
    return path
