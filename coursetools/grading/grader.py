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

import hashlib
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
import time
import traceback
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from coursetools.grading.judge import Judge
from coursetools.grading.outcome import ERROR, FAILED, MISSING, ExerciseResult, clip
from coursetools.grading.protocol import JobItem, Verdict
from coursetools.grading.limits import Limits
from coursetools.grading.run import NotebookRun, run_plan
from coursetools.grading.sandbox import Sandbox
from coursetools.grading.sandbox import detect as detect_sandbox
from coursetools.grading.snapshot import CourseSnapshot, Pristine
from coursetools.grading.submission import MAX_NOTEBOOK_BYTES, Plan, SubmissionError, parse_notebook, rebuild

GRADER_FAULT = (
    "the grader could not run your notebook because of a problem on the grader's side, not "
    "yours. Your instructor will grade it again."
)
UNREADABLE = (
    "the grader could not read the cells of this notebook: they are not laid out the way "
    "JupyterLab saves them. Open it in JupyterLab, check that your work is there, save it "
    "(Ctrl+S) and hand it in again."
)
MAX_LISTED_FOLDERS = 200  # subfolders of a learner folder searched for misplaced notebooks
MAX_OTHERS = 50  # misplaced notebooks remembered for the rename hint


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

    folder: str  # the folder name as on disk (undecodable bytes as surrogate escapes)
    name: str  # how the report names the learner: see learner_name
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
    regrade: tuple[Plan, NotebookRun, list[JobItem]] | None = None  # verdict lost when the verdict process died


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
    class_notes: list[str] = field(default_factory=list)  # what discovery skipped: the same for every shard
    notes: list[str] = field(default_factory=list)  # what this run noticed (the verdict process, ...)
    seconds: float = 0.0
    kernels: int = 0
    grader_faults: int = 0
    suspicious: list[str] = field(default_factory=list)  # unexpected deaths of the verdict process
    sandbox: str = ""  # how kernels ran: the sandbox, or a warning that there was none
    listing: list[str] = field(default_factory=list)  # every learner folder of the class, in canonical order


# --- learner folders and their names --------------------------------------------------------

_HASHED = re.compile(r" \[[0-9a-f]{8}\]\Z")
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _visible(char: str) -> str:
    """A character as shown in the report: itself, or an escape if it is invisible or breaks lines."""
    category = unicodedata.category(char)
    if category not in _INVISIBLE and (category != "Zs" or char == " "):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(name: str) -> str:
    """A file or folder name as one line of readable text: undecodable bytes as ``\\xff``,
    invisible characters and line breaks as escapes such as ``\\u200b`` or ``\\x0a``."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(_visible(char) for char in text)


def learner_name(folder: str) -> str:
    """How the report names the learner of ``folder``: readable, one line, and unique.

    A folder name that is valid UTF-8 in NFC form, with no invisible characters, no
    surrounding spaces and no leading ``'`` is shown exactly as it is. Any other name is
    shown made readable (:func:`visible`, NFC), followed by `` [`` + the first 8 hex
    digits of the sha256 of the folder name's bytes + ``]``; a name that already ends
    that way is treated the same. So two different folders never get the same name (nor
    the same name once grades.csv adds ``'`` before ``= + - @``), and a folder's name
    depends on that folder alone: the same on every run, in every shard.
    """
    raw = os.fsencode(folder)
    text = unicodedata.normalize("NFC", visible(folder))
    try:
        exact = raw.decode("utf-8")
    except UnicodeDecodeError:
        exact = None
    if text != exact or text != text.strip() or text.startswith("'") or _HASHED.search(text):
        text += f" [{hashlib.sha256(raw).hexdigest()[:8]}]"
    return text


@dataclass
class ClassListing:
    """Every learner folder of a submissions folder, in canonical order, and what was skipped."""

    folders: list[Path]  # sorted by the bytes of their names: not by the file system's listing order
    notes: list[str]


def list_class(submissions: Path) -> ClassListing:
    """The learner folders of ``submissions``; files, hidden entries and ``__MACOSX`` are noted and skipped."""
    if not submissions.is_dir():
        raise GradingError(f"{submissions} is not a folder of learner folders")
    try:
        entries = sorted(os.scandir(submissions), key=lambda e: os.fsencode(e.name))
    except OSError as error:
        raise GradingError(f"{submissions} cannot be listed ({error.strerror})") from None
    folders, notes = [], []
    for entry in entries:
        try:
            is_folder = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_folder = False
        kind = "folder" if is_folder else "file"
        if entry.name.startswith("."):
            notes.append(f"skipped '{visible(entry.name)}': a hidden {kind}")
        elif entry.name == "__MACOSX":
            notes.append(f"skipped '{visible(entry.name)}': macOS archive metadata, not a learner folder")
        elif not is_folder and not entry.is_symlink():
            notes.append(f"skipped '{visible(entry.name)}': a file, not a learner folder")
        else:
            folders.append(Path(entry.path))
    return ClassListing(folders, notes)


def _special_file(mode: int) -> str | None:
    """What a non-regular file is, in words a learner understands."""
    if stat.S_ISLNK(mode):
        return "a link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    return None if stat.S_ISREG(mode) else "not a regular file"


def _read_notebook(path: Path, name: str) -> bytes | SubmissionError | None:
    """The bytes of one expected notebook, why it cannot be used, or None if it is not there."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        return SubmissionError(f"{name} could not be read ({error.strerror}).")
    special = _special_file(info.st_mode)
    if special:
        return SubmissionError(f"{name} is {special}, not a notebook file. Hand in the notebook file itself.")
    too_large = SubmissionError(
        f"{name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB; clear its outputs "
        "(Edit > Clear Outputs of All Cells), save and hand it in again.")
    if info.st_size > MAX_NOTEBOOK_BYTES:
        return too_large
    try:  # never follow a link, never wait on a pipe, even if the file changed since lstat
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return SubmissionError(f"{name} could not be read ({error.strerror}).")
    with open(fd, "rb") as handle:
        special = _special_file(os.fstat(handle.fileno()).st_mode)
        if special:
            return SubmissionError(f"{name} is {special}, not a notebook file. Hand in the notebook file itself.")
        try:
            data = handle.read(MAX_NOTEBOOK_BYTES + 1)
        except OSError as error:
            return SubmissionError(f"{name} could not be read ({error.strerror}).")
    return too_large if len(data) > MAX_NOTEBOOK_BYTES else data


def _scan(folder: Path) -> list[tuple[str, bool]]:
    """(name, is a folder) of each entry of ``folder``, sorted; nothing if it cannot be listed."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    found.append((entry.name, entry.is_dir(follow_symlinks=False)))
                except OSError:
                    found.append((entry.name, False))
    except OSError:
        return []
    return sorted(found, key=lambda item: os.fsencode(item[0]))


def _other_notebooks(folder: Path, expected: list[str]) -> list[str]:
    """Notebooks at the top of ``folder`` or one folder down, other than the expected ones.

    Only these two levels are looked at (a folder tree can be arbitrarily deep or wide).
    """
    wanted, found = set(expected), []
    subfolders = []
    for name, is_folder in _scan(folder):
        if name == ".ipynb_checkpoints":
            continue
        if is_folder:
            subfolders.append(name)
        elif name.lower().endswith(".ipynb") and name not in wanted:
            found.append(name)
    for sub in subfolders[:MAX_LISTED_FOLDERS]:
        found += [f"{sub}/{name}" for name, is_folder in _scan(folder / sub)
                  if name.lower().endswith(".ipynb") and not is_folder]
    return [visible(name) for name in sorted(found)[:MAX_OTHERS]]


def read_learner(folder: Path, expected: list[str], display: str | None = None) -> LearnerFiles:
    """Read the expected notebooks of one folder; never follow links, never write."""
    files = LearnerFiles(folder.name, display or learner_name(folder.name))
    if folder.is_symlink() or not folder.is_dir():
        files.problem = "your submission is a link or a file, not a folder of notebooks."
        return files
    for name in expected:
        data = _read_notebook(folder / name, name)
        if data is not None:
            files.notebooks[name] = data
    files.others = _other_notebooks(folder, expected)
    return files


def read_class(
    submissions: Path, expected: list[str], select: Callable[[list[Path]], list[Path]] | None = None,
) -> tuple[list[LearnerFiles], list[str], list[str]]:
    """The learner folders under ``submissions`` (canonical order; ``select`` picks a shard of them),
    read into memory; notes on what was skipped; and every learner folder of the class."""
    listing = list_class(submissions)
    chosen = select(listing.folders) if select else listing.folders
    return [read_learner(folder, expected) for folder in chosen], listing.notes, [f.name for f in listing.folders]


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


def combine(pristine: Pristine, plan: Plan, run: NotebookRun | None, verdicts: dict[str, Verdict]) -> list[ExerciseResult]:
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
            verdict = verdicts.get(ex_id) or Verdict(ERROR, "the grader returned no verdict.")
            status, message, not_started = verdict.status, verdict.message, verdict.not_started
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
            plan = rebuild(pristine, parse_notebook(data))
        except SubmissionError as error:
            return NotebookOutcome(_rows(pristine, ERROR, f"{pristine.name}: {error}"))
        except Exception:  # only this file trips it: the learner's row, and the details for the instructor
            return NotebookOutcome(_rows(pristine, ERROR, f"{pristine.name}: {UNREADABLE}"), [], [
                f"{label}: unexpected error while reading the notebook (not counted as a grader fault; "
                f"report it if the file looks sound):\n{traceback.format_exc(limit=-3)}"])
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
        verdicts: dict[str, Verdict] = {}
        items: list[JobItem] = []
        if run.captured:
            if judge is None:
                raise RuntimeError("evidence was captured but no verdict process is running")
            items = [
                JobItem(ex_id, ex_id, str(c.folder), c.entries, c.hashes, dict(pristine.calls[ex_id].evidence))
                for ex_id, c in run.captured.items()
            ]
            verdicts = judge.judge(items, label)
            for ex_id, verdict in verdicts.items():
                if verdict.hidden:
                    log.append(f"{label}: {ex_id} failed hidden check {verdict.hidden}")
        return NotebookOutcome(
            combine(pristine, plan, run, verdicts), plan.notes + run.notes, log, True,
            seconds=run.seconds, peak_rss=run.peak_rss, grader_fault=bool(run.infrastructure),
            regrade=(plan, run, items) if any(v.retry for v in verdicts.values()) else None,
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
    except Exception:  # grade_notebook gives this file its error rows, without a kernel
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
    outcome.listing = [files.folder for files in learners]
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
            nb.log += [f"{label}: {ex_id} failed hidden check {v.hidden}" for ex_id, v in verdicts.items() if v.hidden]
    finally:
        clean.close()


def _verdict_log(work: Path) -> list[str]:
    path = work / "verdict.log"
    if not path.exists():
        return []
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return ["verdict process log (last lines):", *lines[-200:]] if lines else []


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
