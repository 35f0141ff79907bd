"""One entry point for the course's tooling: ``python -m coursetools COMMAND``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _build(args: argparse.Namespace) -> int:
    from coursetools.build import build_all

    changed = build_all(ROOT / "solutions", ROOT / "exercises", write=not args.check)
    for path in changed:
        print(f"{'stale' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    if args.check and changed:
        print("exercises/ is out of date: run `python -m coursetools build-exercises`")
        return 1
    return 0


def _execute(args: argparse.Namespace) -> int:
    from coursetools.execute import refresh

    for name in args.notebooks:
        refresh(Path(name))
        print(f"executed: {name}")
    return 0


def _tables(args: argparse.Namespace) -> int:
    from coursetools.tables import update_tables

    changed = update_tables(ROOT, write=not args.check)
    for page in changed:
        print(f"{'stale' if args.check else 'wrote'}: the lesson table of {page}")
    if args.check and changed:
        print("the lesson tables are out of date: run `python -m coursetools tables`")
        return 1
    return 0


def _new_lesson(args: argparse.Namespace) -> int:
    import importlib

    from coursetools.scaffold import ScaffoldError, new_lesson
    from coursetools.tables import update_tables

    try:
        written = new_lesson(ROOT, args.number, args.title, args.slug, execute=not args.no_execute)
    except ScaffoldError as error:
        print(f"new-lesson: {error}", file=sys.stderr)
        return 2
    importlib.invalidate_caches()  # the tables import the new lesson's package
    written += [ROOT / page for page in update_tables(ROOT)]
    for path in written:
        print(f"wrote: {path.relative_to(ROOT)}")
    print("next: README.md, section 'Adding a lesson'")
    return 0


def _benchmark(args: argparse.Namespace) -> int:
    from coursetools.benchmark import main as benchmark_main

    return benchmark_main(args.notebooks or None)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["selfcheck"]:  # pytest's own options pass through untouched
        from coursetools.selfcheck import main as selfcheck_main

        return selfcheck_main(argv[1:], ROOT)
    parser = argparse.ArgumentParser(prog="coursetools", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build-exercises", help="regenerate exercises/ from solutions/")
    build.add_argument("--check", action="store_true", help="only report stale notebooks")
    build.set_defaults(run=_build)

    execute = sub.add_parser("execute", help="re-run notebooks and store their outputs")
    execute.add_argument("notebooks", nargs="+")
    execute.set_defaults(run=_execute)

    tables = sub.add_parser("tables", help="regenerate the lesson tables of README.md and START_HERE.md")
    tables.add_argument("--check", action="store_true", help="only report stale tables")
    tables.set_defaults(run=_tables)

    lesson = sub.add_parser("new-lesson", help="create a lesson: its folder, notebooks, tests and table rows")
    lesson.add_argument("number", type=int, help="the lesson's number, e.g. 8")
    lesson.add_argument("title", help='its title, e.g. "Sequences and attention"')
    lesson.add_argument("--slug", help="the notebooks' name after the number (default: from the title)")
    lesson.add_argument("--no-execute", action="store_true", help="do not execute the new notebooks (tests need them executed)")
    lesson.set_defaults(run=_new_lesson)

    bench = sub.add_parser("benchmark", help="time every notebook: wall, slowest cell, peak memory")
    bench.add_argument("notebooks", nargs="*")
    bench.set_defaults(run=_benchmark)

    from coursetools.grading.commands import add_grading_commands

    add_grading_commands(sub, ROOT)  # release, grade, progress, grade-benchmark

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
