"""An in-memory copy of everything grading trusts, taken before any learner code runs.

Without the sandbox a learner's kernel runs as the same operating-system user as the
grader, so it can write to the course's files on disk. Reading the pristine exercise
notebooks and the check code into memory first means a learner who edits
the checks in ``coursetools/lessons`` or ``exercises/`` on disk changes nothing for the verdict, nor
for other learners: each kernel gets a fresh private copy written from memory
(:func:`write_library`), and the verdict process gets the snapshot itself over a pipe,
never from disk (:mod:`.bootstrap`, which also gives it its digest).
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from coursetools import schema

PACKAGE = "coursetools"
_SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


class CourseError(RuntimeError):
    """The course itself is inconsistent: grading cannot run (not a learner's fault)."""


@dataclass(frozen=True)
class CheckCall:
    """The ``check("1.2", name=expr, ...)`` call of a pristine check cell."""

    exercise: str
    evidence: tuple[tuple[str, str], ...]  # (evidence name, source of the expression)
    before: str  # any code of the cell before the call (usually empty)
    after: str  # any code of the cell after the call (usually empty)


@dataclass(frozen=True)
class Pristine:
    """One exercise notebook as released, with its exercises and their check calls."""

    name: str
    nb: Any
    exercises: tuple[schema.ExerciseCells, ...]
    calls: dict[str, CheckCall]
    titles: dict[str, str]
    sha256: str
    reports: dict[str, dict[str, str]] = field(default_factory=dict)  # exercise -> class evidence -> reporter


@dataclass(frozen=True)
class CourseSnapshot:
    """Pristine notebooks and library source, held in memory for a whole grading run."""

    root: Path
    pristine: dict[str, Pristine]
    library: dict[str, bytes]  # "coursetools/…" path -> content, hidden checks included

    def kernel_library(self) -> dict[str, bytes]:
        """What a learner's kernel may import: the released library, without hidden checks."""
        return {p: b for p, b in self.library.items() if not is_hidden_path(p)}

    def has_hidden_checks(self) -> bool:
        return any(is_hidden_path(p) for p in self.library)


def is_hidden_path(relative: str) -> bool:
    """A lesson's hidden checks, ``coursetools/lessons/<lesson>/hidden.py``: instructor-only, never released."""
    parts = relative.split("/")
    return len(parts) == 4 and parts[:2] == [PACKAGE, "lessons"] and parts[3] == "hidden.py"


def library_files(package_dir: Path) -> dict[str, bytes]:
    """Every source and resource file of the package, keyed ``coursetools/<relative path>``."""
    files: dict[str, bytes] = {}
    for path in sorted(package_dir.rglob("*")):
        relative = path.relative_to(package_dir)
        if not path.is_file() or set(relative.parts) & _SKIP_PARTS or path.suffix in _SKIP_SUFFIXES:
            continue
        files[f"{PACKAGE}/{relative.as_posix()}"] = path.read_bytes()
    return files


def write_library(files: dict[str, bytes], target: Path) -> Path:
    """Write ``files`` under ``target`` (which becomes a ``sys.path`` entry); return it."""
    for relative, content in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return target


def parse_check_call(source: str, exercise: str) -> CheckCall:
    """Find the single ``check("<exercise>", name=expr, ...)`` statement of a check cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise CourseError(f"check cell of {exercise} is not valid Python: {error}") from None
    calls = [
        node
        for node in tree.body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "check"
    ]
    if len(calls) != 1:
        raise CourseError(f"check cell of {exercise} must hold exactly one check(...) statement")
    statement = calls[0]
    call = statement.value
    if (
        len(call.args) != 1
        or not isinstance(call.args[0], ast.Constant)
        or call.args[0].value != exercise
        or any(keyword.arg is None for keyword in call.keywords)
    ):
        raise CourseError(f'check cell of {exercise} must read check("{exercise}", name=value, ...)')
    evidence = tuple((k.arg, ast.get_source_segment(source, k.value)) for k in call.keywords)
    lines = source.splitlines()
    before = "\n".join(lines[: statement.lineno - 1])
    after = "\n".join(lines[statement.end_lineno :])
    return CheckCall(exercise, evidence, before, after)


def load_pristine(path: Path, titles: dict[str, str], reports: dict[str, dict[str, str]] | None = None) -> Pristine:
    data = path.read_bytes()
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    try:
        exercises = tuple(schema.exercises_in(nb))
    except ValueError as error:
        raise CourseError(f"{path.name}: {error}") from None
    calls = {}
    for ex in exercises:
        calls[ex.exercise_id] = parse_check_call("".join(nb.cells[ex.check].source), ex.exercise_id)
        if ex.exercise_id not in titles:
            raise CourseError(f"{path.name}: exercise {ex.exercise_id} has no registered check")
    return Pristine(
        name=path.name,
        nb=nb,
        exercises=exercises,
        calls=calls,
        titles={ex.exercise_id: titles[ex.exercise_id] for ex in exercises},
        sha256=hashlib.sha256(data).hexdigest(),
        reports={ex.exercise_id: (reports or {})[ex.exercise_id] for ex in exercises if (reports or {}).get(ex.exercise_id)},
    )


def take_snapshot(root: Path, pristine_dir: Path | None = None, only: list[str] | None = None) -> CourseSnapshot:
    """Read the course at ``root``: pristine notebooks (``exercises/`` by default) and the library."""
    from coursetools.registry import all_exercises

    titles = {ex_id: ex.title for ex_id, ex in all_exercises().items()}
    reports = {ex_id: dict(ex.reports) for ex_id, ex in all_exercises().items() if ex.reports}
    source = pristine_dir or root / "exercises"
    paths = sorted(source.glob("*.ipynb"))
    if only:
        wanted = set(only)
        unknown = wanted - {p.name for p in paths}
        if unknown:
            raise CourseError(f"no such exercise notebook in {source}: {sorted(unknown)}")
        paths = [p for p in paths if p.name in wanted]
    if not paths:
        raise CourseError(f"no exercise notebooks in {source}")
    pristine = {p.name: load_pristine(p, titles, reports) for p in paths}
    library = library_files(root / PACKAGE)
    if f"{PACKAGE}/__init__.py" not in library:
        raise CourseError(f"{root / PACKAGE} is not the coursetools package")
    return CourseSnapshot(root=root, pristine=pristine, library=library)
