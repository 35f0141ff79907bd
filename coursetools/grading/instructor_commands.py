"""``report`` and ``gradescope-zip``, and the ``--roster`` option of ``grade`` and ``merge``.

``python -m coursetools report REPORT_DIR [--roster FILE]`` writes ``class.html`` and
``gradebook.csv`` again from a report's ``grades.csv`` and ``grading.log`` (a report from
an earlier grader, or a roster that arrived after grading); ``grade`` and ``merge`` write
both themselves. ``python -m coursetools gradescope-zip OUT.zip`` builds the Gradescope
autograder package (:mod:`coursetools.grading.gradescope`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

CANNOT_RUN = 2


def add_roster_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--roster", metavar="FILE",
                        help="CSV with the columns name,lms_id: fills the lms_id column of gradebook.csv")


def load_roster(args: argparse.Namespace, command: str) -> Any:
    """The roster of ``--roster`` (None without one), read before any grading; SystemExit(2) if unusable."""
    from coursetools.grading.gradebook import RosterError, read_roster

    if not getattr(args, "roster", None):
        return None
    if getattr(args, "shard", None):
        print(f"{command}: --roster goes with merge, not with --shard (a shard holds part of the class)",
              file=sys.stderr)
        raise SystemExit(CANNOT_RUN)
    try:
        return read_roster(Path(args.roster))
    except RosterError as error:
        print(f"{command}: {error}", file=sys.stderr)
        raise SystemExit(CANNOT_RUN) from None


def write_roster_gradebook(out: Path, roster: Any) -> None:
    """gradebook.csv again, with the roster's ids (grade and merge wrote it without)."""
    from coursetools.grading.gradebook import write_gradebook

    if roster is not None:
        write_gradebook(out, roster)


def _report(args: argparse.Namespace) -> int:
    from coursetools.grading.class_report import write_class_report
    from coursetools.grading.grade_rows import GradesError
    from coursetools.grading.gradebook import write_gradebook

    out = Path(args.report_dir)
    roster = load_roster(args, "report")
    try:
        page = write_class_report(out)
        book = write_gradebook(out, roster)
    except (GradesError, OSError) as error:
        print(f"report: {error}", file=sys.stderr)
        return CANNOT_RUN
    print(f"class report: {page}\ngradebook: {book}")
    return 0


def _gradescope_zip(args: argparse.Namespace, root: Path) -> int:
    from coursetools.grading.gradescope import GradescopeError, build_zip

    try:
        path, config = build_zip(root, Path(args.out_zip), args.notebooks or None, visibility=args.visibility)
    except GradescopeError as error:
        print(f"gradescope-zip: {error}", file=sys.stderr)
        return CANNOT_RUN
    print(f"wrote {path}: {len(config['notebooks'])} notebook(s) ({', '.join(config['notebooks'])}), "
          f"{config['max_score']:g} point(s); upload it as the assignment's autograder (README, 'Gradescope')")
    return 0


def add_instructor_commands(sub: Any, root: Path) -> None:
    report = sub.add_parser(
        "report", help="write class.html and gradebook.csv of a report folder again (e.g. with a roster)",
        description="Read REPORT_DIR/grades.csv and grading.log; write REPORT_DIR/class.html and gradebook.csv.")
    report.add_argument("report_dir", metavar="REPORT_DIR")
    add_roster_option(report)
    report.set_defaults(run=_report)

    zipped = sub.add_parser(
        "gradescope-zip", help="build the Gradescope autograder package (setup.sh, run_autograder, the grader)",
        description="Write a Gradescope autograder zip that grades the submitted exercise notebooks with this "
                    "course's grader (hidden checks included, never solutions/).")
    zipped.add_argument("out_zip", metavar="OUT.zip")
    zipped.add_argument("--notebooks", nargs="+", metavar="NAME",
                        help="the exercise notebooks of this Gradescope assignment (default: all)")
    zipped.add_argument("--visibility", default="visible",
                        choices=["visible", "hidden", "after_due_date", "after_published"],
                        help="when learners see each exercise's result (default: visible)")
    zipped.set_defaults(run=lambda a: _gradescope_zip(a, root))
