"""Grade a whole class: every learner's notebooks, in parallel, into result rows.

The order of events is what makes the verdicts trustworthy:

1. the course (pristine notebooks, check code) and *every submission* are read into
   memory before any learner code runs, so nothing a kernel writes to disk later
   changes what is graded, and submission files are only ever read;
2. the verdict process starts and imports its checks (:mod:`.judge`);
3. worker threads run the notebooks, each in its own fresh kernel (:mod:`.run`),
   and send the collected evidence to the verdict process.

Anything wrong with one learner's file becomes rows with a message for that learner;
only a failure of the grader itself (no kernel can start, the verdict process cannot
start) is reported as such.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from coursetools.grading.judge import Judge
from coursetools.grading.outcome import ERROR, FAILED, MISSING, ExerciseResult, clip
from coursetools.grading.run import Limits, NotebookRun, run_plan
from coursetools.grading.sandbox import Sandbox
from coursetools.grading.sandbox import detect as detect_sandbox
from coursetools.grading.snapshot import CourseSnapshot, Pristine
from coursetools.grading.submission import MAX_NOTEBOOK_BYTES, Plan, SubmissionError, parse_notebook, rebuild

GRADER_FAULT = (
    "the grader could not run your notebook because of a problem on the grader's side, not "
    "yours. Your instructor will grade it again."
)


class GradingError(RuntimeError):
    """Grading as a whole cannot run (bad arguments, a broken course, no verdict process)."""


@dataclass(frozen=True)
class GradeOptions:
    workers: int = 2
    limits: Limits = field(default_factory=Limits)
    hidden: bool = True  # run hidden checks (the grader); progress turns them off
    skip_untouched: bool = True  # an unchanged notebook cannot pass anything: no kernel needed
    keep_work: bool = False  # keep the scratch folder, for debugging the grader
    progress_bar: bool = True
    verdict_timeout: float = 300.0
    verdict_memory_mb: int = 4096
    data_dir: Path | None = None  # copied next to each run's exercises/ when present
    sandbox: bool = True  # run kernels in a sandbox where the machine offers one (see .sandbox)


@dataclass
class LearnerFiles:
    """One learner's folder, read into memory: notebook bytes, or why a file is unusable."""

    folder: str  # the folder name as on disk
    name: str  # printable form of it (for the report)
    notebooks: dict[str, bytes | SubmissionError] = field(default_factory=dict)
    others: list[str] = field(default_factory=list)  # other notebooks found, for rename hints
    problem: str | None = None  # the folder itself cannot be used


@dataclass
class NotebookOutcome:
    results: list[ExerciseResult]
    notes: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # for the instructor only
    ran_kernel: bool = False
    seconds: float = 0.0
    peak_rss: int = 0
    grader_fault: bool = False
    regrade: tuple[Plan, NotebookRun, list[dict]] | None = None  # verdict lost when the verdict process died


@dataclass
class LearnerOutcome:
    files: LearnerFiles
    notebooks: dict[str, NotebookOutcome] = field(default_factory=dict)

    @property
    def results(self) -> list[ExerciseResult]:
        return [r for outcome in self.notebooks.values() for r in outcome.results]


@dataclass
class ClassOutcome:
    learners: list[LearnerOutcome]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    kernels: int = 0
    grader_faults: int = 0
    suspicious: list[str] = field(default_factory=list)  # unexpected deaths of the verdict process
    sandbox: str = ""  # how kernels ran: the sandbox, or a warning that there was none


def printable(name: str) -> str:
    """A folder name as text that survives UTF-8 files (undecodable bytes become U+FFFD)."""
    return os.fsencode(name).decode("utf-8", "replace")


def read_learner(folder: Path, expected: list[str], display: str | None = None) -> LearnerFiles:
    """Read the expected notebooks of one folder; never follow links, never write."""
    files = LearnerFiles(folder.name, display or printable(folder.name))
    if folder.is_symlink() or not folder.is_dir():
        files.problem = "your submission is a link or a file, not a folder of notebooks."
        return files
    for name in expected:
        path = folder / name
        if not os.path.lexists(path):
            continue
        if path.is_symlink() or not path.is_file():
            files.notebooks[name] = SubmissionError(
                f"{name} is a link or a folder, not a notebook file. Hand in the notebook file itself.")
            continue
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            files.notebooks[name] = SubmissionError(
                f"{name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB; clear its outputs "
                "(Edit > Clear Outputs of All Cells), save and hand it in again.")
            continue
        try:
            files.notebooks[name] = path.read_bytes()
        except OSError as error:
            files.notebooks[name] = SubmissionError(f"{name} could not be read ({error.strerror}).")
    wanted = set(expected)
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if len(relative.parts) > 2 or ".ipynb_checkpoints" in relative.parts:
            continue
        if path.suffix.lower() == ".ipynb" and relative.as_posix() not in wanted:
            files.others.append(printable(relative.as_posix()))
    return files


def read_class(submissions: Path, expected: list[str]) -> tuple[list[LearnerFiles], list[str]]:
    """Every learner folder under ``submissions`` (sorted), and notes on what was skipped."""
    if not submissions.is_dir():
        raise GradingError(f"{submissions} is not a folder of learner folders")
    learners, notes = [], []
    for entry in sorted(os.scandir(submissions), key=lambda e: e.name):
        if entry.name.startswith(".") or entry.name == "__MACOSX":
            continue
        if not entry.is_dir(follow_symlinks=False) and not entry.is_symlink():
            notes.append(f"skipped {printable(entry.name)!r}: a file, not a learner folder")
            continue
        learners.append(read_learner(Path(entry.path), expected))
    return learners, notes


def _missing_message(name: str, files: LearnerFiles) -> str:
    message = f"{name} is not in your folder. Hand in your notebook under exactly this name."
    if files.others:
        found = ", ".join(clip(o, 80) for o in files.others[:5])
        message += f" Found instead: {found}. If one of them is your work on {name}, rename it to {name}."
    return message


def _rows(pristine: Pristine, status: str, message: str, not_started: bool = False) -> list[ExerciseResult]:
    return [
        ExerciseResult(pristine.name, ex.exercise_id, pristine.titles[ex.exercise_id], status, ex.points,
                       message, not_started)
        for ex in pristine.exercises
    ]


def not_done_message(exercise_id: str, names: list[str]) -> str:
    """The check's own "not done yet" card, as the verdict would write it for a placeholder."""
    from coursetools.feedback import CheckFailed
    from coursetools.placeholders import not_done
    from coursetools.registry import run_check

    try:
        run_check(exercise_id, **{name: not_done(exercise_id) for name in names})
    except CheckFailed as failure:
        return failure.message()
    return f"{exercise_id}: not done yet."  # pragma: no cover - a placeholder never passes


def combine(pristine: Pristine, plan: Plan, run: NotebookRun | None, verdicts: dict[str, dict]) -> list[ExerciseResult]:
    """One row per exercise, from the rebuild, the run and the verdicts, most serious first."""
    results = []
    for ex in pristine.exercises:
        ex_id = ex.exercise_id
        not_started = False
        if ex_id in plan.problems:
            status, message = plan.problems[ex_id]
        elif run is None:  # skipped: the notebook is exactly as released
            status, message, not_started = FAILED, not_done_message(ex_id, [n for n, _ in pristine.calls[ex_id].evidence]), True
        elif ex_id in run.raised:
            status, message = ERROR, run.raised[ex_id]
        elif ex_id in run.overflow:
            status, message = ERROR, run.overflow[ex_id]
        elif ex_id in run.problems:
            status, message = ERROR, run.problems[ex_id]
        elif ex_id in run.captured:
            verdict = verdicts.get(ex_id) or {"status": ERROR, "message": "the grader returned no verdict."}
            status, message = verdict["status"], verdict["message"]
            not_started = bool(verdict.get("not_started"))
        elif run.infrastructure:
            status, message = ERROR, GRADER_FAULT
        elif run.stopped and run.stopped_in == ex_id:
            status, message = ERROR, run.stopped
        elif run.stopped:
            reason = run.stopped[:1].upper() + run.stopped[1:]
            status, message = ERROR, f"not graded: the notebook stopped before the check of {ex_id}. {reason}"
        else:
            status, message = ERROR, f"the check step of {ex_id} did not run."
        results.append(ExerciseResult(pristine.name, ex_id, pristine.titles[ex_id], status, ex.points,
                                      message, not_started))
    return results


def grade_notebook(
    files: LearnerFiles,
    pristine: Pristine,
    snapshot: CourseSnapshot,
    judge: Judge | None,
    options: GradeOptions,
    workdir: Path,
    sandbox: Sandbox | None = None,
) -> NotebookOutcome:
    """Rows for one learner's copy of one exercise notebook; never raises."""
    label = f"{files.name}/{pristine.name}"
    try:
        if files.problem:
            return NotebookOutcome(_rows(pristine, ERROR, files.problem))
        data = files.notebooks.get(pristine.name)
        if data is None:
            return NotebookOutcome(_rows(pristine, MISSING, _missing_message(pristine.name, files)))
        if isinstance(data, SubmissionError):
            return NotebookOutcome(_rows(pristine, ERROR, f"{pristine.name}: {data}"))
        try:
            learner = parse_notebook(data)
        except SubmissionError as error:
            return NotebookOutcome(_rows(pristine, ERROR, f"{pristine.name}: {error}"))
        plan = rebuild(pristine, learner)
        if plan.untouched and options.skip_untouched:
            return NotebookOutcome(combine(pristine, plan, None, {}), plan.notes, [f"{label}: unchanged, not run"])
        if len(plan.problems) == len(pristine.exercises):  # nothing left that running could grade
            return NotebookOutcome(combine(pristine, plan, None, {}), plan.notes, [f"{label}: no gradable answer, not run"])
        run = run_plan(plan, pristine.calls, snapshot.kernel_library(), workdir, options.limits, options.data_dir,
                       sandbox)
        log = [f"{label}: ran in {run.seconds:.1f} s, kernel peak {run.peak_rss / 2**20:.0f} MB"]
        if run.stopped:
            log.append(f"{label}: stopped: {run.stopped}\n    kernel log tail: {run.log[-600:]!r}")
        if run.infrastructure:
            log.append(f"{label}: GRADER FAULT: {run.infrastructure}\n    kernel log tail: {run.log[-1500:]!r}")
        verdicts: dict[str, dict] = {}
        if run.captured:
            if judge is None:
                raise RuntimeError("evidence was captured but no verdict process is running")
            items = [
                {"key": ex_id, "exercise": ex_id, "folder": str(c.folder), "evidence": c.entries,
                 "hashes": c.hashes, "labels": dict(pristine.calls[ex_id].evidence)}
                for ex_id, c in run.captured.items()
            ]
            verdicts = judge.judge(items, label)
            for ex_id, verdict in verdicts.items():
                if verdict.get("hidden"):
                    log.append(f"{label}: {ex_id} failed hidden check {verdict['hidden']}")
        return NotebookOutcome(
            combine(pristine, plan, run, verdicts), plan.notes + run.notes, log, True,
            seconds=run.seconds, peak_rss=run.peak_rss, grader_fault=bool(run.infrastructure),
            regrade=(plan, run, items) if any(v.get("retry") for v in verdicts.values()) else None,
        )
    except Exception:
        return NotebookOutcome(
            _rows(pristine, ERROR, GRADER_FAULT), [],
            [f"{label}: GRADER FAULT (internal error):\n{traceback.format_exc()}"], grader_fault=True,
        )


def _needs_kernel(files: LearnerFiles, pristine: Pristine) -> bool:
    data = files.notebooks.get(pristine.name)
    if files.problem or not isinstance(data, bytes):
        return False
    try:
        return not rebuild(pristine, parse_notebook(data)).untouched
    except SubmissionError:
        return False


def grade_learners(
    learners: list[LearnerFiles],
    snapshot: CourseSnapshot,
    options: GradeOptions,
    notes: list[str] | None = None,
) -> ClassOutcome:
    """Grade already-read learners (see :func:`read_class`) over every pristine notebook."""
    from tqdm import tqdm

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="coursetools-grade-"))
    outcome = ClassOutcome([LearnerOutcome(files) for files in learners], list(notes or []))
    tasks = [(lo, p) for lo in outcome.learners for p in snapshot.pristine.values()]
    judge = sandbox = None
    try:
        if any(_needs_kernel(lo.files, p) or not options.skip_untouched for lo, p in tasks):
            sandbox, outcome.sandbox = detect_sandbox(options.sandbox)
            judge = Judge(snapshot.library, work, hidden=options.hidden, job_timeout=options.verdict_timeout,
                          memory_mb=options.verdict_memory_mb)
            try:
                judge.start()
                judge.wait_ready()  # its check code is in memory before any learner code runs
            except Exception as error:
                raise GradingError(str(error)) from None
        lock = threading.Lock()
        with tqdm(total=len(tasks), desc="grading", unit="notebook", file=sys.stderr,
                  disable=not options.progress_bar, dynamic_ncols=True) as bar:
            with ThreadPoolExecutor(max_workers=max(1, options.workers), thread_name_prefix="grade") as pool:
                futures = {
                    pool.submit(grade_notebook, lo.files, p, snapshot, judge, options, work, sandbox): (lo, p)
                    for lo, p in tasks
                }
                for future in as_completed(futures):
                    lo, p = futures[future]
                    result = future.result()
                    with lock:
                        lo.notebooks[p.name] = result
                        outcome.kernels += result.ran_kernel
                        outcome.grader_faults += result.grader_fault
                    bar.update(1)
        for lo in outcome.learners:  # keep the course's notebook order
            lo.notebooks = {name: lo.notebooks[name] for name in snapshot.pristine}
        if judge is not None:
            _grade_again(outcome, snapshot, judge, options, work)
    finally:
        if judge is not None:
            if judge.restarts:
                outcome.notes.append(f"the verdict process was restarted {judge.restarts} time(s)")
            judge.close()
            outcome.notes += _verdict_log(work)
        if not options.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            outcome.notes.append(f"scratch folder kept: {work}")
    outcome.seconds = time.monotonic() - started
    return outcome


def _grade_again(outcome: ClassOutcome, snapshot: CourseSnapshot, judge: Judge, options: GradeOptions,
                 work: Path) -> None:
    """After an unexpected verdict-process death, judge the lost notebooks again in a clean process.

    A verdict process dies unexpectedly when its evidence crashes it, or when something
    kills it -- which only a learner's kernel should have a reason to do. So every
    death is reported (grading.log, exit status), and each notebook whose verdict was
    lost is judged again, one exercise at a time, by a fresh verdict process started
    now that no learner kernel runs. What still kills that process is its own evidence.
    """
    judge.close()  # a process found dead now died unexpectedly too
    if not judge.deaths:
        return
    outcome.suspicious = list(judge.deaths)
    redo = [(lo, name, nb) for lo in outcome.learners for name, nb in lo.notebooks.items() if nb.regrade]
    outcome.notes.append(
        f"SUSPICIOUS: the verdict process died unexpectedly {len(judge.deaths)} time(s) (a crash, or a kill from "
        f"outside the grader); {len(redo)} notebook(s) that lost their verdict were graded again in a clean "
        "verdict process started after every kernel had stopped:")
    outcome.notes += [f"    {death}" for death in judge.deaths]
    if not redo:
        return
    clean = Judge(snapshot.library, work, hidden=options.hidden, job_timeout=options.verdict_timeout,
                  memory_mb=options.verdict_memory_mb)
    try:
        try:
            clean.start()
            clean.wait_ready()
        except Exception as error:
            for lo, name, nb in redo:
                nb.results = _rows(snapshot.pristine[name], ERROR, GRADER_FAULT)
                nb.log.append(f"{lo.files.name}/{name}: GRADER FAULT: no clean verdict process to grade it again: {error}")
                nb.grader_fault, nb.regrade = True, None
                outcome.grader_faults += 1
            return
        for lo, name, nb in redo:
            plan, run, items = nb.regrade  # type: ignore[misc]
            label = f"{lo.files.name}/{name}"
            verdicts, crashed = {}, []
            for item in items:
                deaths = len(clean.deaths)
                for key, verdict in clean.judge([item], label).items():
                    verdicts[key] = {k: v for k, v in verdict.items() if k != "retry"}
                if len(clean.deaths) > deaths:
                    crashed.append(str(item["key"]))
            nb.results = combine(snapshot.pristine[name], plan, run, verdicts)
            nb.regrade = None
            nb.log.append(f"{label}: graded again in a clean verdict process"
                          + (f"; its evidence of {', '.join(crashed)} stopped that process too" if crashed else ""))
            nb.log += [f"{label}: {ex_id} failed hidden check {v['hidden']}" for ex_id, v in verdicts.items() if v.get("hidden")]
    finally:
        clean.close()


def _verdict_log(work: Path) -> list[str]:
    path = work / "verdict.log"
    if not path.exists():
        return []
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return ["verdict process log (last lines):", *lines[-200:]] if lines else []


def grade_class(submissions: Path, snapshot: CourseSnapshot, options: GradeOptions) -> ClassOutcome:
    """Read every submission, then grade them all (see the module docstring for the order)."""
    learners, notes = read_class(submissions, list(snapshot.pristine))
    return grade_learners(learners, snapshot, options, notes)
