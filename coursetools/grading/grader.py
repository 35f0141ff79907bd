"""Grade a whole class: every learner's notebooks, in parallel, into result rows.

The order of events is what makes the verdicts trustworthy:

1. the course (pristine notebooks, check code) and *every submission* are read into
   memory before any learner code runs (:mod:`.snapshot`, :mod:`.learners`), so
   nothing a kernel writes to disk later changes what is graded, and submission files
   are only ever read;
2. every notebook is parsed and rebuilt, once (:func:`~.notebook.prepare_notebook`),
   which also tells whether any of them needs a kernel;
3. if one does, the verdict process starts and imports its checks (:mod:`.judge`),
   and is ready before the first kernel starts;
4. worker threads run the notebooks, each in its own fresh kernel, and send the
   collected evidence to the verdict process (:func:`~.notebook.grade_notebook`);
5. if the verdict process died unexpectedly, the notebooks that lost their verdict
   are judged again by a clean one, now that no kernel runs (:func:`_grade_again`).

Anything wrong with one learner's file becomes rows with a message for that learner;
only a failure of the grader itself (no kernel can start, the verdict process cannot
start) is reported as such.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from coursetools.grading import cgroups
from coursetools.grading.judge import Judge
from coursetools.grading.learners import GradingError, LearnerFiles, read_class
from coursetools.grading.notebook import (
    GRADER_FAULT, NotebookOutcome, Prepared, combine, grade_notebook, hidden_check_lines, prepare_notebook, rows,
)
from coursetools.grading.options import GradeOptions, Limits
from coursetools.grading.outcome import ERROR, ExerciseResult
from coursetools.grading.protocol import Verdict
from coursetools.grading.sandbox import Sandbox
from coursetools.grading.sandbox import detect as detect_sandbox
from coursetools.grading.snapshot import CourseSnapshot, Pristine


@dataclass
class LearnerOutcome:
    """One learner's folder as read, and the outcome of each exercise notebook, in the course's order."""

    files: LearnerFiles
    notebooks: dict[str, NotebookOutcome] = field(default_factory=dict)

    @property
    def results(self) -> list[ExerciseResult]:
        return [r for outcome in self.notebooks.values() for r in outcome.results]


@dataclass
class ClassOutcome:
    """A grading run (or a merge of shards): every learner's outcome, and what the report says about the run."""

    learners: list[LearnerOutcome]
    class_notes: list[str] = field(default_factory=list)  # what discovery skipped: the same for every shard
    notes: list[str] = field(default_factory=list)  # what this run noticed (the verdict process, ...)
    seconds: float = 0.0
    kernels: int = 0
    grader_faults: int = 0
    suspicious: list[str] = field(default_factory=list)  # unexpected deaths of the verdict process
    sandbox: str = ""  # how kernels ran: the sandbox, or a warning that there was none
    listing: list[str] = field(default_factory=list)  # every learner folder of the class, in canonical order


def grade_class(
    submissions: Path,
    snapshot: CourseSnapshot,
    options: GradeOptions,
    select: Callable[[list[Path]], list[Path]] | None = None,
) -> ClassOutcome:
    """Read every submission (or the shard ``select`` picks), then grade them all (see the module docstring)."""
    learners, notes, listing = read_class(submissions, list(snapshot.pristine), select)
    outcome = grade_learners(learners, snapshot, options, notes)
    outcome.listing = listing
    return outcome


def grade_learners(
    learners: list[LearnerFiles],
    snapshot: CourseSnapshot,
    options: GradeOptions,
    notes: list[str] | None = None,
) -> ClassOutcome:
    """Grade already-read learners (see :func:`~.learners.read_class`) over every pristine notebook."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="coursetools-grade-"))
    outcome = ClassOutcome([LearnerOutcome(files) for files in learners], list(notes or []))
    outcome.listing = [files.folder for files in learners]
    judge = sandbox = None
    try:
        tasks = [(lo, prepare_notebook(lo.files, p, options)) for lo in outcome.learners for p in snapshot.pristine.values()]
        if any(prepared.needs_kernel for _, prepared in tasks):
            sandbox, line = detect_sandbox(options.sandbox)
            outcome.sandbox = f"{line}\n{limits_line(options.limits, sandbox)}"
            judge = _new_judge(snapshot, options, work)
            _start_and_wait(judge)  # ready before any kernel starts
        _grade_in_parallel(tasks, snapshot, judge, sandbox, options, work, outcome)
        if judge is not None:
            _grade_again(outcome, snapshot, judge, options, work)
    finally:
        _clean_up(outcome, judge, options, work)
    outcome.seconds = time.monotonic() - started
    return outcome


def limits_line(limits: Limits, sandbox: Sandbox | None) -> str:
    """grading.log's line on how a kernel's processes and files are capped on this machine."""
    files = ("a tmpfs of that size for the working folder, HOME and TMPDIR, and the watchdog for the folders it "
             "shares with the grader" if sandbox else
             "the watchdog's measure every 0.1 s, no hard cap without the sandbox")
    return (f"limits per kernel: at most {limits.max_processes} processes ({cgroups.describe()}); "
            f"{limits.disk_mb} MB of files ({files})")


def _new_judge(snapshot: CourseSnapshot, options: GradeOptions, work: Path) -> Judge:
    return Judge(snapshot.library, work, hidden=options.hidden, job_timeout=options.verdict_timeout,
                 memory_mb=options.verdict_memory_mb)


def _start_and_wait(judge: Judge) -> None:
    """Start the verdict process and wait until it has imported its checks; :class:`GradingError` if it cannot."""
    try:
        judge.start()
        judge.wait_ready()
    except Exception as error:
        raise GradingError(str(error)) from None


def _grade_in_parallel(tasks: list[tuple[LearnerOutcome, Prepared]], snapshot: CourseSnapshot, judge: Judge | None,
                       sandbox: Sandbox | None, options: GradeOptions, work: Path, outcome: ClassOutcome) -> None:
    """Each prepared notebook graded by a worker thread (one kernel each), with a progress bar."""
    from tqdm import tqdm

    lock = threading.Lock()
    with tqdm(total=len(tasks), desc="grading", unit="notebook", file=sys.stderr,
              disable=not options.progress_bar, dynamic_ncols=True) as bar:
        with ThreadPoolExecutor(max_workers=max(1, options.workers), thread_name_prefix="grade") as pool:
            futures = {pool.submit(grade_notebook, prepared, snapshot, judge, options, work, sandbox): (lo, prepared)
                       for lo, prepared in tasks}
            for future in as_completed(futures):
                lo, prepared = futures[future]
                result = future.result()
                with lock:
                    lo.notebooks[prepared.pristine.name] = result
                    outcome.kernels += result.ran_kernel
                    outcome.grader_faults += result.grader_fault
                bar.update(1)
    for lo in outcome.learners:  # keep the course's notebook order
        lo.notebooks = {name: lo.notebooks[name] for name in snapshot.pristine}


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
    clean = _new_judge(snapshot, options, work)
    try:
        try:
            _start_and_wait(clean)
        except GradingError as error:
            for lo, name, nb in redo:
                _no_clean_judge(nb, snapshot.pristine[name], f"{lo.files.name}/{name}", error)
                outcome.grader_faults += 1
            return
        for lo, name, nb in redo:
            _judge_again(clean, nb, snapshot, name, f"{lo.files.name}/{name}")
    finally:
        clean.close()


def _no_clean_judge(nb: NotebookOutcome, pristine: Pristine, label: str, error: Exception) -> None:
    """A lost verdict that no clean process can give again: the grader's fault, graded again by hand."""
    nb.results = rows(pristine, ERROR, GRADER_FAULT)
    nb.log.append(f"{label}: GRADER FAULT: no clean verdict process to grade it again: {error}")
    nb.grader_fault, nb.regrade = True, None


def _judge_again(clean: Judge, nb: NotebookOutcome, snapshot: CourseSnapshot, name: str, label: str) -> None:
    """One notebook's lost verdicts, judged one exercise at a time (an item that kills ``clean`` costs only itself)."""
    plan, run, items = nb.regrade  # type: ignore[misc]
    verdicts: dict[str, Verdict] = {}
    crashed = []
    for item in items:
        deaths = len(clean.deaths)
        for key, verdict in clean.judge([item], label).items():
            verdicts[key] = replace(verdict, retry=False)
        if len(clean.deaths) > deaths:
            crashed.append(item.key)
    nb.results = combine(snapshot.pristine[name], plan, run, verdicts)
    nb.regrade = None
    nb.log.append(f"{label}: graded again in a clean verdict process"
                  + (f"; its evidence of {', '.join(crashed)} stopped that process too" if crashed else ""))
    nb.log += hidden_check_lines(label, verdicts)


def _clean_up(outcome: ClassOutcome, judge: Judge | None, options: GradeOptions, work: Path) -> None:
    """Stop the verdict process (noting restarts and its log), remove the scratch folder unless kept."""
    if judge is not None:
        if judge.restarts:
            outcome.notes.append(f"the verdict process was restarted {judge.restarts} time(s)")
        judge.close()
        outcome.notes += _verdict_log(work)
    if not options.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    else:
        outcome.notes.append(f"scratch folder kept: {work}")


def _verdict_log(work: Path) -> list[str]:
    path = work / "verdict.log"
    if not path.exists():
        return []
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return ["verdict process log (last lines):", *lines[-200:]] if lines else []
