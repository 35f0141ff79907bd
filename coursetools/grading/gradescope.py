"""Gradescope: the autograder package, and what runs in it for every submission.

``python -m coursetools gradescope-zip OUT.zip [--notebooks NAME...]`` (:func:`build_zip`)
writes the zip Gradescope asks for: ``setup.sh`` and ``run_autograder`` at its root (from
``deploy/gradescope/``), and ``course/``, the grader: ``course.py``, the pinned
requirements, the ``coursetools`` package with its checks *and hidden checks*, the pristine
``exercises/`` and ``data/`` (never ``solutions/``), and ``gradescope.json`` (which notebooks
this assignment grades, their points, the tests' visibility).

For every submission Gradescope runs ``run_autograder``, which runs :func:`run` with the
package's environment: it gathers the submitted notebooks from ``/autograder/submission``
(at the top or in a subfolder, as an upload or a repository gives them) into one learner
folder, grades it with ``python -m coursetools grade`` (the same pipeline as a class:
rebuild, fresh kernel, clean verdict process, hidden checks), and turns the report's
``grades.csv`` into ``/autograder/results/results.json``: ``score`` and ``max_score``, and
one test per exercise whose output is the feedback card (error and missing rows score 0
with their message). Hidden checks show only their hint, as in ``grades.csv``; their names,
which grading.log holds, are cut from what this prints too.

``AUTOGRADER_ROOT`` (or the first argument) replaces ``/autograder``, so a test builds the
documented layout in a temporary folder and runs the real scripts there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from coursetools.grading.grade_rows import GradesError, Row, read_grades

CONFIG = "gradescope.json"
LEARNER = "submission"
SCRIPTS = ("setup.sh", "run_autograder")
COURSE_FILES = ("course.py", "requirements.txt", "pyproject.toml")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
_SEARCH_DEPTH = 4
_HIDDEN_LINE = re.compile(r"(: \S+ failed) hidden check \S+")
_FEEDBACK_HEADING = re.compile(r"\A### \S+ (\S+) (.*): (passed|failed|error|missing) \(")
_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_\[\]<>#|~!])")
_STAMP = (1980, 1, 1, 0, 0, 0)  # every zip entry's time: the same course gives the same zip


class GradescopeError(RuntimeError):
    """The package cannot be built, or a submission cannot be graded; ``str()`` says why."""


# --- the package ---------------------------------------------------------------------------------

def _exercise_points(root: Path) -> dict[str, list[list[Any]]]:
    import nbformat

    from coursetools import schema

    return {path.name: [[ex.exercise_id, ex.points] for ex in schema.exercises_in(nbformat.read(path, as_version=4))]
            for path in sorted((root / "exercises").glob("*.ipynb"))}


def package_files(root: Path, notebooks: list[str] | None = None, visibility: str = "visible") -> dict[str, bytes]:
    """Every file of the autograder zip (path inside the zip -> content) and its ``gradescope.json``."""
    from coursetools.grading.release import _check_exercises  # the release's guard: no stale or solved exercise
    from coursetools.grading.snapshot import PACKAGE, library_files

    try:
        _check_exercises(root)
    except Exception as error:
        raise GradescopeError(str(error)) from None
    if visibility not in VISIBILITIES:
        raise GradescopeError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    points = _exercise_points(root)
    chosen = []
    for name in notebooks or sorted(points):
        name = name if name.endswith(".ipynb") else name + ".ipynb"
        if name not in points:
            raise GradescopeError(f"{name} is not an exercise notebook of this course ({', '.join(sorted(points))})")
        if name not in chosen:
            chosen.append(name)
    files: dict[str, bytes] = {}
    for script in SCRIPTS:
        files[script] = (root / "deploy" / "gradescope" / script).read_bytes()
    for name in COURSE_FILES:
        files[f"course/{name}"] = (root / name).read_bytes()
    for relative, content in library_files(root / PACKAGE).items():  # hidden checks included: the grader needs them
        files[f"course/{relative}"] = content
    for folder in ("exercises", "data"):
        for path in sorted((root / folder).rglob("*")) if (root / folder).is_dir() else []:
            relative = path.relative_to(root)
            if path.is_file() and not {".ipynb_checkpoints", "__pycache__"} & set(relative.parts):
                files[f"course/{relative.as_posix()}"] = path.read_bytes()
    config = {
        "notebooks": chosen,
        "exercises": {name: points[name] for name in chosen},
        "max_score": sum(p for name in chosen for _, p in points[name]),
        "visibility": visibility,
    }
    files[f"course/{CONFIG}"] = (json.dumps(config, indent=1) + "\n").encode()
    assert not any(path.startswith("course/solutions/") for path in files)
    return files


def build_zip(root: Path, out: Path, notebooks: list[str] | None = None,
              visibility: str = "visible") -> tuple[Path, dict[str, Any]]:
    """Write the autograder zip to ``out``; return its path and its ``gradescope.json``."""
    files = package_files(root, notebooks, visibility)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_STAMP)
            mode = 0o755 if name in SCRIPTS else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return out, json.loads(files[f"course/{CONFIG}"])


# --- one submission --------------------------------------------------------------------------------

def _found(submission: Path) -> list[Path]:
    """Notebooks under the submission, shallowest first; hidden entries, links and __MACOSX left out."""
    found, level = [], [submission]
    for _ in range(_SEARCH_DEPTH):
        deeper = []
        for folder in level:
            try:
                entries = sorted(folder.iterdir())
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith(".") or entry.name == "__MACOSX" or entry.is_symlink():
                    continue
                if entry.is_dir():
                    deeper.append(entry)
                elif entry.is_file() and entry.suffix == ".ipynb":
                    found.append(entry)
        level = deeper
    return found


def gather(submission: Path, learner: Path, wanted: list[str]) -> list[str]:
    """Copy the submission's notebooks into ``learner`` (one flat folder); return notes for the instructor.

    A wanted notebook is taken from the shallowest place it is found (the top, or e.g.
    ``exercises/`` of a repository upload). Other notebooks are copied too, under their
    own names, so that a missing notebook's message can name a misnamed one.
    """
    learner.mkdir(parents=True, exist_ok=True)
    notes = []
    taken: set[str] = set()
    for path in _found(submission):
        name = path.name
        if name in taken:
            continue
        taken.add(name)
        shutil.copyfile(path, learner / name)
        where = path.parent.relative_to(submission).as_posix()
        if where != "." and name in wanted:
            notes.append(f"{name} was found in {where}/ of the submission and graded from there")
    return notes


def _titles(feedback: Path) -> dict[str, str]:
    """exercise -> title, from the headings of the learner's feedback file."""
    titles = {}
    try:
        lines = feedback.read_text(encoding="utf-8").splitlines()
    except OSError:
        return titles
    for line in lines:
        found = _FEEDBACK_HEADING.match(line)
        if found:
            titles[found[1]] = found[2]
    return titles


def _notes(feedback: Path) -> list[str]:
    """The "notes on this notebook" of the feedback file (a cell you added raised ...), as plain text."""
    try:
        lines = feedback.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    notes, inside = [], False
    for line in lines:
        if line == "Notes on this notebook:":
            inside = True
        elif inside and line.startswith("- "):
            notes.append(_MARKDOWN_ESCAPE.sub(r"\1", line[2:]))
        elif inside and line.strip():
            inside = False
    return notes


def _test(row: Row, title: str, visibility: str) -> dict[str, Any]:
    card = "\n".join([row.parts[0]] + [f"   {part}" for part in row.parts[1:]])  # as the notebook shows it
    if row.status in ("error", "missing"):
        card = f"{row.status}: {card}"
    return {
        "name": f"{row.exercise} {title}".strip() if title else f"{row.exercise} ({row.notebook})",
        "number": row.exercise,
        "score": row.points,
        "max_score": row.max_points,
        "status": "passed" if row.status == "passed" else "failed",
        "output": card,
        "visibility": visibility,
        "tags": [row.notebook, row.state],
    }


def results(report: Path, config: dict[str, Any], notes: list[str] | None = None) -> dict[str, Any]:
    """results.json for the one learner of ``report`` (a report folder written by ``grade``)."""
    rows = read_grades(report / "grades.csv")
    feedback = report / "feedback" / f"{LEARNER}.md"
    titles = _titles(feedback)
    tests = [_test(row, titles.get(row.exercise, ""), config.get("visibility", "visible")) for row in rows]
    score = sum(row.points for row in rows)
    most = sum(row.max_points for row in rows)
    states = Counter(row.state for row in rows)
    lines = [f"Graded by the course's grader: {score:g} / {most:g} point(s) "
             f"({', '.join(f'{n} {state}' for state, n in states.items())})."]
    learner_notes = (notes or []) + _notes(feedback)
    if learner_notes:
        lines += ["", "Notes:"] + [f"- {note}" for note in learner_notes]
    return {"score": score, "max_score": most, "output": "\n".join(lines), "stdout_visibility": "hidden",
            "tests": tests}


def _cannot_grade(config: dict[str, Any], why: str) -> dict[str, Any]:
    """results.json when the grader could not run at all (nothing of the learner's was judged)."""
    return {
        "score": 0, "max_score": config.get("max_score", 0), "stdout_visibility": "hidden",
        "output": "The autograder could not run (a problem on the grader's side, not in your notebooks); your "
                  "instructor can see why in the autograder's log. Submit again later or ask them.",
        "tests": [], "extra_data": {"grader": why[-500:]},
    }


def _redacted(text: str) -> str:
    """Text for Gradescope's autograder output: no hidden check's name, no verdict-process log (its tracebacks
    name the hidden checks)."""
    text = text.split("verdict process log (last lines):", 1)[0]
    return _HIDDEN_LINE.sub(r"\1 a hidden check", text)


def run(root: Path) -> int:
    """Grade ``root/submission`` and write ``root/results/results.json``; 0 when graded."""
    course = root / "source" / "course"
    config = json.loads((course / CONFIG).read_text(encoding="utf-8"))
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gradescope-"))
    started = time.monotonic()
    try:
        notes = gather(root / "submission", work / "class" / LEARNER, config["notebooks"])
        command = [sys.executable, "-m", "coursetools", "grade", str(work / "class"), "--out", str(work / "report"),
                   "--notebooks", *config["notebooks"], "--no-progress"]
        graded = subprocess.run(command, cwd=course, capture_output=True, text=True, errors="replace")
        print(_redacted(graded.stdout), end="")
        print(_redacted(graded.stderr), end="", file=sys.stderr)
        log = work / "report" / "grading.log"
        if log.is_file():
            print("--- grading.log ---\n" + _redacted(log.read_text(encoding="utf-8", errors="replace")))
        try:
            if graded.returncode not in (0, 3, 4):
                raise GradesError(f"grade exited with status {graded.returncode}")
            outcome = results(work / "report", config, notes)
            if graded.returncode == 3:
                outcome["output"] += ("\n\nPart of your submission could not be run because of a problem on the "
                                      "grader's side (those exercises say so); submit again or ask your instructor.")
            code = 0
        except GradesError as error:
            outcome, code = _cannot_grade(config, f"{error}\n{graded.stderr}"), 1
        outcome["execution_time"] = round(time.monotonic() - started)
        (results_dir / "results.json").write_text(json.dumps(outcome, indent=1, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")
        print(f"results.json: {outcome['score']:g} / {outcome['max_score']:g}")
        return code
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    return run(root)


if __name__ == "__main__":
    sys.exit(main())
