"""Grade one learner's copy of one exercise notebook: the pipeline, one named step at a time.

    read the hand-in -> rebuild it from the pristine notebook -> skip it if nothing can run
    -> run it in a fresh kernel -> report on its classes -> judge its evidence -> combine the rows

The first three steps (:func:`prepare_notebook`) need no learner code and run for
every notebook of the class before the first kernel starts, so each notebook is
parsed and rebuilt exactly once, and the grader knows before any learner code runs
whether it needs a verdict process at all. The last three (:func:`grade_notebook`)
run in the grader's worker threads. A step that already knows the rows (a missing
notebook, a file that is not a notebook, an untouched one) ends the pipeline there.

Nothing here raises: a learner's file that breaks a step becomes that learner's rows
with a message; a failure of the grader itself becomes ``error`` rows that say so
(and count as a grader fault, exit status 3).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path

from coursetools.grading.classes import report_on_classes
from coursetools.grading.judge import Judge
from coursetools.grading.learners import LearnerFiles
from coursetools.grading.options import GradeOptions
from coursetools.grading.outcome import ERROR, FAILED, MISSING, ExerciseResult, clip
from coursetools.grading.protocol import JobItem, Verdict
from coursetools.grading.run import NotebookRun, run_plan
from coursetools.grading.sandbox import Sandbox
from coursetools.grading.snapshot import CourseSnapshot, Pristine
from coursetools.grading.submission import Plan, SubmissionError, parse_notebook, rebuild

GRADER_FAULT = (
    "the grader could not run your notebook because of a problem on the grader's side, not "
    "yours. Your instructor will grade it again."
)
UNREADABLE = (
    "the grader could not read the cells of this notebook: they are not laid out the way "
    "JupyterLab saves them. Open it in JupyterLab, check that your work is there, save it "
    "(Ctrl+S) and hand it in again."
)


@dataclass
class NotebookOutcome:
    """What grading one notebook gave: its rows and notes (the learner's), its log lines and cost (the instructor's)."""

    results: list[ExerciseResult]
    notes: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # for the instructor only
    ran_kernel: bool = False
    seconds: float = 0.0
    peak_rss: int = 0
    grader_fault: bool = False
    regrade: tuple[Plan, NotebookRun, list[JobItem]] | None = None  # verdict lost when the verdict process died


@dataclass
class Prepared:
    """One learner's notebook after the steps that need no kernel: its plan to run, or already its rows."""

    files: LearnerFiles
    pristine: Pristine
    plan: Plan | None = None
    outcome: NotebookOutcome | None = None  # set when no kernel is needed

    @property
    def label(self) -> str:
        """How grading.log names this notebook: ``<learner>/<notebook>``."""
        return f"{self.files.name}/{self.pristine.name}"

    @property
    def needs_kernel(self) -> bool:
        return self.outcome is None


class _Finished(Exception):
    """Raised by a step that already knows the notebook's rows: the pipeline ends there."""

    def __init__(self, outcome: NotebookOutcome) -> None:
        super().__init__()
        self.outcome = outcome


# --- before any learner code: read, rebuild, skip -------------------------------------------


def prepare_notebook(files: LearnerFiles, pristine: Pristine, options: GradeOptions) -> Prepared:
    """Read the hand-in, rebuild it, skip it if nothing can run; never raises."""
    prepared = Prepared(files, pristine)
    try:
        data = read_hand_in(files, pristine)
        prepared.plan = rebuild_hand_in(data, pristine, prepared.label)
        skip_if_nothing_to_run(prepared.plan, pristine, options.skip_untouched, prepared.label)
    except _Finished as finished:
        prepared.plan, prepared.outcome = None, finished.outcome
    except Exception:
        prepared.plan, prepared.outcome = None, grader_fault(prepared)
    return prepared


def read_hand_in(files: LearnerFiles, pristine: Pristine) -> bytes:
    """The notebook's bytes as read into memory; its rows when the folder or the file cannot be used."""
    if files.problem:
        raise _Finished(NotebookOutcome(rows(pristine, ERROR, files.problem)))
    data = files.notebooks.get(pristine.name)
    if data is None:
        raise _Finished(NotebookOutcome(rows(pristine, MISSING, _missing_message(pristine.name, files))))
    if isinstance(data, SubmissionError):
        raise _Finished(NotebookOutcome(rows(pristine, ERROR, f"{pristine.name}: {data}")))
    return data


def rebuild_hand_in(data: bytes, pristine: Pristine, label: str) -> Plan:
    """The plan the kernel runs (:func:`~.submission.rebuild`); the rows when the file is no notebook."""
    try:
        return rebuild(pristine, parse_notebook(data))
    except SubmissionError as error:
        raise _Finished(NotebookOutcome(rows(pristine, ERROR, f"{pristine.name}: {error}"))) from None
    except Exception:  # only this file trips it: the learner's row, and the details for the instructor
        raise _Finished(NotebookOutcome(rows(pristine, ERROR, f"{pristine.name}: {UNREADABLE}"), [], [
            f"{label}: unexpected error while reading the notebook (not counted as a grader fault; "
            f"report it if the file looks sound):\n{traceback.format_exc(limit=-3)}"])) from None


def skip_if_nothing_to_run(plan: Plan, pristine: Pristine, skip_untouched: bool, label: str) -> None:
    """An untouched notebook cannot pass anything, nor one whose every exercise already has a problem."""
    if plan.untouched and skip_untouched:
        raise _Finished(NotebookOutcome(combine(pristine, plan, None, {}), plan.notes, [f"{label}: unchanged, not run"]))
    if len(plan.problems) == len(pristine.exercises):  # nothing left that running could grade
        raise _Finished(NotebookOutcome(combine(pristine, plan, None, {}), plan.notes,
                                        [f"{label}: no gradable answer, not run"]))


# --- in a worker thread: run, judge, combine -----------------------------------------------------


def grade_notebook(
    prepared: Prepared,
    snapshot: CourseSnapshot,
    judge: Judge | None,
    options: GradeOptions,
    workdir: Path,
    sandbox: Sandbox | None = None,
) -> NotebookOutcome:
    """Run the prepared notebook in a kernel, judge its evidence, combine the rows; never raises."""
    if prepared.outcome is not None:
        return prepared.outcome
    try:
        assert prepared.plan is not None
        run = run_plan(prepared.plan, prepared.pristine.calls, snapshot.kernel_library(), workdir, options.limits,
                       options.data_dir, sandbox)
        report_on_classes(prepared.plan, prepared.pristine, run, snapshot.kernel_library(), workdir, options.limits,
                          sandbox)
        items, verdicts = judge_evidence(prepared, run, judge)
        return combine_outcome(prepared, run, items, verdicts)
    except Exception:
        return grader_fault(prepared)


def judge_evidence(prepared: Prepared, run: NotebookRun, judge: Judge | None) -> tuple[list[JobItem], dict[str, Verdict]]:
    """The collected evidence as job items, and the verdict process's verdicts on them."""
    if not run.captured:
        return [], {}
    if judge is None:
        raise RuntimeError("evidence was captured but no verdict process is running")
    labels = {ex_id: dict(call.evidence) for ex_id, call in prepared.pristine.calls.items()}
    items = [JobItem(ex_id, ex_id, str(c.folder), c.entries, c.hashes, labels[ex_id]) for ex_id, c in run.captured.items()]
    return items, judge.judge(items, prepared.label)


def combine_outcome(prepared: Prepared, run: NotebookRun, items: list[JobItem],
                    verdicts: dict[str, Verdict]) -> NotebookOutcome:
    """The notebook's rows (:func:`combine`), notes, and what grading.log says about its run."""
    plan, label = prepared.plan, prepared.label
    assert plan is not None
    log = [f"{label}: ran in {run.seconds:.1f} s, kernel peak {run.peak_rss / 2**20:.0f} MB, "
           f"{run.peak_processes} processes at most, files written {run.disk_peak / 2**20:.1f} MB"]
    if run.stopped:
        log.append(f"{label}: stopped: {run.stopped}\n    kernel log tail: {run.log[-600:]!r}")
    if run.infrastructure:
        log.append(f"{label}: GRADER FAULT: {run.infrastructure}\n    kernel log tail: {run.log[-1500:]!r}")
    log += hidden_check_lines(label, verdicts)
    return NotebookOutcome(
        combine(prepared.pristine, plan, run, verdicts), plan.notes + run.notes, log, True,
        seconds=run.seconds, peak_rss=run.peak_rss, grader_fault=bool(run.infrastructure),
        regrade=(plan, run, items) if any(v.retry for v in verdicts.values()) else None,
    )


def hidden_check_lines(label: str, verdicts: dict[str, Verdict]) -> list[str]:
    """grading.log's lines for the hidden checks that failed (the learner reads only their hints)."""
    return [f"{label}: {ex_id} failed hidden check {verdict.hidden}" for ex_id, verdict in verdicts.items()
            if verdict.hidden]


# --- the rows ------------------------------------------------------------------------------------


def combine(pristine: Pristine, plan: Plan, run: NotebookRun | None, verdicts: dict[str, Verdict]) -> list[ExerciseResult]:
    """One row per exercise, from the rebuild, the run and the verdicts, most serious first."""
    results = []
    for ex in pristine.exercises:
        status, message, not_started = _row(pristine, ex.exercise_id, plan, run, verdicts)
        results.append(ExerciseResult(pristine.name, ex.exercise_id, pristine.titles[ex.exercise_id], status,
                                      ex.points, message, not_started))
    return results


def _row(pristine: Pristine, ex_id: str, plan: Plan, run: NotebookRun | None,
         verdicts: dict[str, Verdict]) -> tuple[str, str, bool]:
    """(status, message, not started) of one exercise: the first of these that applies."""
    if ex_id in plan.problems:
        return (*plan.problems[ex_id], False)
    if run is None:  # skipped: the notebook is exactly as released
        return FAILED, not_done_message(ex_id, [n for n, _ in pristine.calls[ex_id].evidence]), True
    for found in (run.raised, run.overflow, run.problems):
        if ex_id in found:
            return ERROR, found[ex_id], False
    if ex_id in run.captured:
        verdict = verdicts.get(ex_id) or Verdict(ERROR, "the grader returned no verdict.")
        return verdict.status, verdict.message, verdict.not_started
    if run.infrastructure:
        return ERROR, GRADER_FAULT, False
    if run.stopped and run.stopped_in == ex_id:
        return ERROR, run.stopped, False
    if run.stopped:
        reason = run.stopped[:1].upper() + run.stopped[1:]
        return ERROR, f"not graded: the notebook stopped before the check of {ex_id}. {reason}", False
    return ERROR, f"the check step of {ex_id} did not run.", False


def rows(pristine: Pristine, status: str, message: str, not_started: bool = False) -> list[ExerciseResult]:
    """The same row for every exercise of the notebook."""
    return [
        ExerciseResult(pristine.name, ex.exercise_id, pristine.titles[ex.exercise_id], status, ex.points,
                       message, not_started)
        for ex in pristine.exercises
    ]


def grader_fault(prepared: Prepared) -> NotebookOutcome:
    """``error`` rows that blame the grader, with the traceback for the instructor (call it in ``except``)."""
    return NotebookOutcome(
        rows(prepared.pristine, ERROR, GRADER_FAULT), [],
        [f"{prepared.label}: GRADER FAULT (internal error):\n{traceback.format_exc()}"], grader_fault=True,
    )


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


def _missing_message(name: str, files: LearnerFiles) -> str:
    message = f"{name} is not in your folder. Hand in your notebook under exactly this name."
    if files.others:
        found = ", ".join(clip(o, 80) for o in files.others[:5])
        message += f" Found instead: {found}. If one of them is your work on {name}, rename it to {name}."
    return message
