"""The defaults of grading's options are written once (options.py); the command line and the README say the same."""

from __future__ import annotations

import argparse
import re

from coursetools.grading.commands import _limits, add_grading_commands
from coursetools.grading.options import LIMIT_OPTIONS, GradeOptions, Limits, shown
from fixtures.grading.classroom import ROOT


def readme_defaults() -> dict[str, str]:
    """``{--flag: default}`` from the README's table of ``grade`` options."""
    table = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        row = re.match(r"\| `(--[a-z-]+)(?: [A-Z./]+)?` \| ([^|]*) \|", line)
        if row:
            table[row.group(1)] = row.group(2).strip()
    return table


def grading_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coursetools")
    add_grading_commands(parser.add_subparsers(dest="command"), ROOT)
    return parser


def test_the_readme_table_says_the_defaults_the_grader_uses():
    table = readme_defaults()
    for option in LIMIT_OPTIONS:
        assert table[option.flag] == shown(getattr(Limits(), option.field)), option.flag
    assert table["--workers"] == str(GradeOptions().workers)


def test_the_command_line_defaults_and_help_come_from_the_dataclasses():
    parser = grading_parser()
    for command in (["grade", "class", "--out", "report"], ["progress"]):
        args = parser.parse_args(command)
        assert _limits(args) == Limits() and args.workers == GradeOptions().workers
    grade = parser._subparsers._group_actions[0].choices["grade"]  # the subcommand's own parser
    help_text = " ".join(grade.format_help().split())
    for option in LIMIT_OPTIONS:
        assert f"{option.help} (default {shown(getattr(Limits(), option.field))})" in help_text, option.flag
    assert f"notebooks run at once (default {GradeOptions().workers})" in help_text


def test_options_set_the_limits():
    args = grading_parser().parse_args(["grade", "class", "--out", "report", "--cell-timeout", "30",
                                        "--memory-mb", "1500", "--max-output-kb", "256", "--notebook-timeout", "240",
                                        "--max-processes", "12", "--disk-mb", "80"])
    assert _limits(args) == Limits(cell_timeout=30, notebook_timeout=240, memory_mb=1500, max_output_kb=256,
                                   max_processes=12, disk_mb=80)
