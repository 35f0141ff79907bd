"""Write what grading found: ``grades.csv`` for the instructor, one feedback file per learner.

``grades.csv`` has exactly the columns ``learner,notebook,exercise,status,points,
max_points,message``, one row per learner and exercise. Learner names and messages
may contain anything a folder name or an exception can (commas, quotes, newlines):
the csv module quotes them, messages are flattened to one line, and a cell that
starts with ``= + - @`` gets a leading ``'`` so spreadsheets do not run it as a formula.

Feedback files (``feedback/<learner>.md``) repeat each exercise's full message, inside
a code fence longer than any run of backticks in it, so quoted text cannot close the
fence and write Markdown (a fake "passed" heading) of its own; notes and the learner's
name are one line with Markdown's special characters escaped.
``grading.log`` is the instructor's view: timings, limits hit, grader faults.
Every text written passes :func:`~coursetools.grading.outcome.safe_text`: a lone
surrogate in one learner's message cannot stop the report of the class.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from datetime import datetime
from pathlib import Path

from coursetools.grading.class_report import write_class_files
from coursetools.grading.grader import ClassOutcome, LearnerOutcome
from coursetools.grading.outcome import ERROR, FAILED, MISSING, PASSED, STATUSES, format_points, safe_text

COLUMNS = ["learner", "notebook", "exercise", "status", "points", "max_points", "message"]
ICONS = {PASSED: "✅", FAILED: "❌", ERROR: "⚠️", MISSING: "❔"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!])")
_BACKTICKS = re.compile(r"`+")


def spreadsheet_safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def inline_markdown(text: str) -> str:
    """Text shown inside a line of Markdown as exactly these characters: no line breaks,
    no headings, links, HTML or emphasis of its own."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(safe_text(text).split()))


def code_span(text: str) -> str:
    """``text`` (one line) as a Markdown code span: shown verbatim, whatever characters it holds."""
    text = "".join(" " if char.isspace() else char for char in safe_text(text))
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fenced(text: str, info: str = "text") -> list[str]:
    """Lines of a fenced code block that ``text`` cannot close (its fence is longer than any
    run of backticks in the text)."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *safe_text(text).splitlines(), fence]


def one_line(message: str) -> str:
    """A feedback card as one csv field; the card's column-aligning spaces are folded."""
    return " | ".join(" ".join(part.split()) for part in message.splitlines() if part.strip())


def feedback_name(name: str, taken: set[str]) -> str:
    """A file name for a learner: readable, safe on every OS, unique in the report."""
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[^\w.\- \[\]]+", "_", text).strip(" ._-") or "learner"
    text = re.sub(r"\s+", " ", text)[:80]
    candidate, n = text, 2
    while candidate.lower() in taken:
        candidate, n = f"{text}-{n}", n + 1
    taken.add(candidate.lower())
    return candidate + ".md"


def write_csv(outcome: ClassOutcome, path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for learner in outcome.learners:
            for r in learner.results:
                writer.writerow([safe_text(value) for value in (
                    spreadsheet_safe(learner.files.name), r.notebook, r.exercise, r.status,
                    format_points(r.points), format_points(r.max_points), spreadsheet_safe(one_line(r.message)),
                )])


def feedback_text(learner: LearnerOutcome, when: str) -> str:
    results = learner.results
    total = sum(r.points for r in results)
    possible = sum(r.max_points for r in results)
    lines = [f"# Feedback for {code_span(learner.files.name)}", "",
             f"**Total: {format_points(total)} / {format_points(possible)} points** (graded {when})", ""]
    for notebook, outcome in learner.notebooks.items():
        got = sum(r.points for r in outcome.results)
        out_of = sum(r.max_points for r in outcome.results)
        lines += [f"## {notebook}: {format_points(got)} / {format_points(out_of)} points", ""]
        for r in outcome.results:
            lines.append(f"### {ICONS[r.status]} {r.exercise} {r.title}: {r.status} "
                         f"({format_points(r.points)} / {format_points(r.max_points)})")
            lines += ["", *fenced(r.message), ""]
        if outcome.notes:
            lines += ["Notes on this notebook:", ""] + [f"- {inline_markdown(note)}" for note in outcome.notes] + [""]
    lines += ["---", "Statuses: passed; failed (the check says what is wrong); error (your notebook "
              "could not run, or its answer could not be read: see the message); missing (a notebook "
              "or an answer cell is not there)."]
    return "\n".join(lines) + "\n"


def write_report(outcome: ClassOutcome, out_dir: Path) -> dict[str, str]:
    """Write grades.csv, feedback/ and grading.log; return {learner folder: feedback file}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(outcome, out_dir / "grades.csv")
    feedback_dir = out_dir / "feedback"
    feedback_dir.mkdir(exist_ok=True)
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    taken: set[str] = set()
    files = {}
    for learner in outcome.learners:
        name = feedback_name(learner.files.name, taken)
        (feedback_dir / name).write_text(safe_text(feedback_text(learner, when)), encoding="utf-8")
        files[learner.files.folder] = name
    log = [f"graded {len(outcome.learners)} learner(s) in {outcome.seconds:.1f} s; "
           f"{outcome.kernels} notebook(s) executed; grader faults: {outcome.grader_faults}"]
    log += [outcome.sandbox] if outcome.sandbox else []
    for learner in outcome.learners:
        for notebook in learner.notebooks.values():
            log += notebook.log
    log += outcome.class_notes + outcome.notes
    (out_dir / "grading.log").write_text(safe_text("\n".join(log) + "\n"), encoding="utf-8")
    write_class_files(out_dir)  # class.html and gradebook.csv, from the files just written
    return files


def summary(outcome: ClassOutcome) -> str:
    counts = {status: 0 for status in STATUSES}
    for learner in outcome.learners:
        for r in learner.results:
            counts[r.status] += 1
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    return (f"graded {len(outcome.learners)} learner(s), {sum(counts.values())} exercise rows ({parts}) "
            f"in {outcome.seconds:.0f} s")
