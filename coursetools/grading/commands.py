"""The ``release``, ``grade``, ``progress`` and ``grade-benchmark`` subcommands of ``python -m coursetools``.

Kept here rather than in :mod:`coursetools.cli` so that the CLI module stays a
short table of commands; heavy imports happen only when a command runs.

Exit codes of ``grade`` (and ``merge``): 0 the class was graded (whatever the learners
scored); 2 grading could not run (bad arguments, inconsistent course, no verdict
process, report not writable; partial reports that do not belong together); 3 the
report was written but some notebooks could not be run because of the grader's side
(see grading.log; grade again); 4 the class was graded, but the verdict process died
unexpectedly during the run -- a crash, or a kill from outside the grader, possibly a
learner's code -- and the notebooks that lost their verdict were graded again in a
clean process (see "SUSPICIOUS" in grading.log).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from coursetools.grading.options import LIMIT_OPTIONS, GradeOptions, Limits, shown
from coursetools.grading.instructor_commands import (
    add_instructor_commands,
    add_roster_option,
    load_roster,
    write_roster_gradebook,
)

CANNOT_RUN = 2
GRADER_FAULTS = 3
SUSPICIOUS = 4


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(**{option.field: getattr(args, option.field) for option in LIMIT_OPTIONS})


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """``--workers`` and the limits, their defaults and help text read from :mod:`.options` (written only there)."""
    workers = GradeOptions().workers
    parser.add_argument("--workers", type=int, default=workers, help=f"notebooks run at once (default {workers})")
    limits = Limits()
    for option in LIMIT_OPTIONS:
        default = getattr(limits, option.field)
        parser.add_argument(option.flag, type=type(default), default=default, metavar=option.metavar,
                            dest=option.field, help=f"{option.help} (default {shown(default)})")


def _release(args: argparse.Namespace, root: Path) -> int:
    from coursetools.grading.release import ReleaseError, make_release

    try:
        files = make_release(root, Path(args.out_dir))
    except ReleaseError as error:
        print(f"release: {error}", file=sys.stderr)
        return CANNOT_RUN
    print(f"released {len(files)} files to {args.out_dir}")
    return 0


def _grade(args: argparse.Namespace, root: Path) -> int:
    from coursetools.grading.grader import grade_class
    from coursetools.grading.learners import GradingError
    from coursetools.grading.release import PRISTINE_DIR
    from coursetools.grading.report import summary, write_report
    from coursetools.grading import signing
    from coursetools.grading.shards import ShardError, course_fingerprint, parse_shard, verdict_options, write_partial
    from coursetools.grading.signing import SignatureError
    from coursetools.grading.snapshot import CourseError, take_snapshot

    pristine = Path(args.release) / PRISTINE_DIR if args.release else None
    out = Path(args.out)
    roster = load_roster(args, "grade")
    try:
        shard = parse_shard(args.shard, os.environ) if args.shard else None
        if args.key_file and shard is None:
            raise ShardError("--key-file signs partial reports: give it with --shard K/N")
        key = _parts_key(args) if shard is not None else None
        os.environ.pop(signing.KEY_ENV, None)  # not for anything this run starts
        if pristine is not None and not pristine.is_dir():
            raise CourseError(f"{args.release} is not a release folder (no {PRISTINE_DIR})")
        snapshot = take_snapshot(root, pristine, args.notebooks or None)
        options = GradeOptions(
            workers=args.workers, limits=_limits(args), hidden=not args.no_hidden,
            keep_work=args.keep_work, progress_bar=not args.no_progress,
            data_dir=root / "data", sandbox=not args.no_sandbox,
        )
        outcome = grade_class(Path(args.submissions), snapshot, options, shard.select if shard else None)
        write_report(outcome, out)
        write_roster_gradebook(out, roster)
        if shard is not None:
            write_partial(outcome, out, shard, course_fingerprint(snapshot, options.data_dir), verdict_options(options))
            with open(out / "grading.log", "a", encoding="utf-8") as log:
                log.write(f"partial report: shard {shard} ({shard.source}), {len(outcome.learners)} of the class's "
                          f"{len(outcome.listing)} learner(s); combine all {shard.count} with "
                          "`python -m coursetools merge`\n")
            if key is not None:
                signing.sign(out, key)  # last: it vouches for every file of the part
    except (GradingError, CourseError, ShardError, SignatureError, OSError) as error:
        print(f"grade: grading could not run: {error}", file=sys.stderr)
        return CANNOT_RUN
    print(summary(outcome))
    if shard is not None:
        print(f"shard {shard} ({shard.source}): {len(outcome.learners)} of {len(outcome.listing)} learner(s); "
              f"partial report in {out} (combine all {shard.count} with `python -m coursetools merge`)")
        if key is not None:
            print(f"partial report signed: {out / signing.SIGNATURE} (key id {signing.key_id(key)})")
        else:
            print(f"grade: the partial report is not signed (no {signing.KEY_ENV}, no --key-file): merge cannot "
                  "tell it from an edited one", file=sys.stderr)
    print(f"report: {out / 'grades.csv'}, feedback in {out / 'feedback'}")
    if outcome.sandbox.startswith("WARNING"):
        print(f"grade: {outcome.sandbox}", file=sys.stderr)
    return _exit_status(outcome, "grade")


def _exit_status(outcome: Any, command: str) -> int:
    if outcome.grader_faults:
        print(f"{command}: {outcome.grader_faults} notebook(s) could not be run because of the grader "
              "itself; see grading.log and grade again", file=sys.stderr)
        return GRADER_FAULTS
    if outcome.suspicious:
        print(f"{command}: the verdict process died unexpectedly {len(outcome.suspicious)} time(s) during grading "
              "(a crash, or a kill from outside the grader); the notebooks that lost their verdict were graded "
              "again in a clean process. See SUSPICIOUS in grading.log", file=sys.stderr)
        return SUSPICIOUS
    return 0


def _parts_key(args: argparse.Namespace) -> bytes | None:
    """The key that signs (grade --shard) or checks (merge) partial reports: --key-file, else the
    environment's; taken out of this process's environment, so that nothing it starts inherits it."""
    from coursetools.grading import signing

    key = signing.read_key(args.key_file, os.environ)
    os.environ.pop(signing.KEY_ENV, None)
    return key


def _merge(args: argparse.Namespace) -> int:
    from coursetools.grading import signing
    from coursetools.grading.report import summary
    from coursetools.grading.shards import ShardError, merge_reports
    from coursetools.grading.signing import SignatureError

    out = Path(args.out)
    roster = load_roster(args, "merge")
    try:
        key = _parts_key(args)
        outcome = merge_reports([Path(part) for part in args.parts], out, key)
        write_roster_gradebook(out, roster)
    except (ShardError, SignatureError, OSError) as error:
        print(f"merge: {error}", file=sys.stderr)
        return CANNOT_RUN
    if key is None:
        print(f"merge: the partial reports were not verified (no {signing.KEY_ENV}, no --key-file): whoever could "
              "write to them could have changed their grades. See README, 'shards and merge'", file=sys.stderr)
    else:
        print(f"merge: every partial report is signed with the key given (key id {signing.key_id(key)}) and "
              "unchanged since")
    print(summary(outcome))
    print(f"report: {out / 'grades.csv'}, feedback in {out / 'feedback'}")
    return _exit_status(outcome, "merge")


def _progress(args: argparse.Namespace, root: Path) -> int:
    from coursetools.grading.learners import GradingError
    from coursetools.grading.progress import collect_progress, render_table
    from coursetools.grading.snapshot import CourseError

    options = GradeOptions(workers=args.workers, limits=_limits(args), progress_bar=not args.no_progress,
                           data_dir=root / "data")
    try:
        rows = collect_progress(root, Path(args.exercises) if args.exercises else None, options)
    except (GradingError, CourseError, OSError) as error:
        print(f"progress: could not run: {error}", file=sys.stderr)
        return CANNOT_RUN
    print(render_table(rows))
    return 0


def _grade_benchmark(args: argparse.Namespace, root: Path) -> int:
    from coursetools.grading.benchmark import run_benchmark

    return run_benchmark(root, learners=args.learners, workers=args.workers, out=Path(args.out) if args.out else None,
                         baseline=not args.no_baseline, sandbox=not args.no_sandbox)


def add_grading_commands(sub: Any, root: Path) -> None:
    """Register the grading subcommands on the CLI's subparsers; ``root`` is the course folder."""
    _add_release(sub, root)
    _add_grade(sub, root)
    _add_merge(sub)
    _add_progress(sub, root)
    _add_grade_benchmark(sub, root)
    add_instructor_commands(sub, root)  # report, gradescope-zip


def _add_release(sub: Any, root: Path) -> None:
    release = sub.add_parser("release", help="write the folder learners receive (no solutions, no hidden checks)")
    release.add_argument("out_dir", metavar="OUT_DIR")
    release.set_defaults(run=lambda a: _release(a, root))


def _add_grade(sub: Any, root: Path) -> None:
    grade = sub.add_parser(
        "grade", help="grade a class: SUBMISSIONS_DIR/<learner>/<exercise notebook>.ipynb",
        description="Grade every learner folder of SUBMISSIONS_DIR; write grades.csv, feedback/ and grading.log.",
    )
    grade.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    grade.add_argument("--out", required=True, metavar="REPORT_DIR")
    _add_run_options(grade)
    grade.add_argument("--notebooks", nargs="+", metavar="NAME", help="grade only these exercise notebooks")
    grade.add_argument("--release", metavar="DIR", help="grade against the pristine notebooks of an earlier release")
    grade.add_argument("--no-hidden", action="store_true", help="skip hidden checks")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run kernels unsandboxed even where bubblewrap is available (warned about)")
    grade.add_argument("--keep-work", action="store_true", help="keep the scratch folder (debugging)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.add_argument("--shard", metavar="K/N",
                       help="grade only shard K of N of the learners and write a partial report (see merge); "
                            "auto or auto/N: K (and N) from COURSETOOLS_SHARD, a Slurm array or a Kubernetes "
                            "Indexed Job")
    _add_key_option(grade, "with --shard: sign the partial report with the key in FILE")
    add_roster_option(grade)
    grade.set_defaults(run=lambda a: _grade(a, root))


def _add_merge(sub: Any) -> None:
    merge = sub.add_parser(
        "merge", help="combine the partial reports of grade --shard K/N into the class's report",
        description="Check that PART... are all N shards of one grading (same course, options and class), "
                    "then write the report one run over the whole class gives.",
    )
    merge.add_argument("parts", nargs="+", metavar="PART",
                       help="a REPORT_DIR written by grade --shard, or a folder of them")
    merge.add_argument("--out", required=True, metavar="REPORT_DIR")
    _add_key_option(merge, "refuse partial reports not signed with the key in FILE, or changed since")
    add_roster_option(merge)
    merge.set_defaults(run=_merge)


def _add_key_option(parser: argparse.ArgumentParser, what: str) -> None:
    from coursetools.grading.signing import KEY_ENV

    parser.add_argument("--key-file", metavar="FILE",
                        help=f"{what} (default: the key in ${KEY_ENV}, if set; see README, 'shards and merge')")


def _add_progress(sub: Any, root: Path) -> None:
    progress = sub.add_parser("progress", help="your exercises: passed / failed / not started")
    progress.add_argument("--exercises", metavar="DIR", help="folder of your exercise notebooks (default exercises/)")
    _add_run_options(progress)
    progress.add_argument("--no-progress", action="store_true", help="no progress bar")
    progress.set_defaults(run=lambda a: _progress(a, root))


def _add_grade_benchmark(sub: Any, root: Path) -> None:
    bench = sub.add_parser("grade-benchmark", help="grade synthetic learners; time, memory, overhead")
    bench.add_argument("--learners", type=int, default=30, help="learners in the synthetic class (default 30)")
    bench.add_argument("--workers", type=int, default=GradeOptions().workers,
                       help=f"notebooks graded at once (default {GradeOptions().workers})")
    bench.add_argument("--out", metavar="DIR", help="keep the synthetic class and report here")
    bench.add_argument("--no-baseline", action="store_true", help="skip timing plain execution")
    bench.add_argument("--no-sandbox", action="store_true", help="grade without the kernel sandbox")
    bench.set_defaults(run=lambda a: _grade_benchmark(a, root))
