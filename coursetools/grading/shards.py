"""Grade a class too big for one machine: shards of learners, and one report merged from them.

``grade --shard K/N`` grades the K-th of N slices of the class (K from 1 to N) and
writes a *partial report*: the usual grades.csv, feedback/ and grading.log for its
learners, plus ``partial.json``, the same results in a form :func:`merge_reports`
reads back. ``merge PART... --out REPORT`` checks that the parts belong together and
writes exactly the report one run over the whole class writes (timings aside).

Slicing: every shard lists the whole class (learner folders sorted by the bytes of
their names, so the file system's listing order does not matter) and keeps the
folders at positions K-1, K-1+N, K-1+2N, ... The same class always gives the same
slices, on every run and every machine, and slices differ in size by one at most.

Partial reports record what a merge must check: the shard (K, N), the fingerprint of
the course that graded it (pristine notebooks, the ``coursetools`` package with its
checks and hidden checks, data files), the options that change verdicts (limits,
hidden checks) and the list of every learner folder of the class. A merge refuses
parts that overlap, leave a shard out, come from another course or release, other
options, or another class listing.

K and N can come from the engine that runs the shards (``--shard auto``):
``COURSETOOLS_SHARD=K/N`` (a CI matrix sets it), a Slurm job array
(``SLURM_ARRAY_TASK_ID`` within ``SLURM_ARRAY_TASK_MIN``..``MAX``, ``SLURM_ARRAY_TASK_COUNT``),
or a Kubernetes Indexed Job (``JOB_COMPLETION_INDEX``, counted from 0, with N passed as
``--shard auto/N`` because the Job does not publish its completions).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coursetools.grading import signing
from coursetools.grading.grader import ClassOutcome, LearnerOutcome
from coursetools.grading.learners import LearnerFiles
from coursetools.grading.notebook import NotebookOutcome
from coursetools.grading.options import GradeOptions
from coursetools.grading.outcome import STATUSES, ExerciseResult, clip
from coursetools.grading.report import write_report
from coursetools.grading.signing import SignatureError
from coursetools.grading.snapshot import CourseSnapshot

PARTIAL = "partial.json"
FORMAT = "coursetools partial grading report"
VERSION = 1


class ShardError(ValueError):
    """A shard cannot be chosen, or partial reports cannot be merged; ``str()`` says why."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1 <= index <= count), and where that came from."""

    index: int
    count: int
    source: str = "--shard"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def select(self, folders: list[Path]) -> list[Path]:
        """This shard's learner folders: every ``count``-th of the class in canonical order."""
        ordered = sorted(folders, key=lambda folder: os.fsencode(folder.name))
        return ordered[self.index - 1 :: self.count]


def _number(text: str, what: str) -> int:
    if not re.fullmatch(r"\s*\d+\s*", text or ""):
        raise ShardError(f"{what} must be a whole number, not {text!r}")
    return int(text)


def _checked(index: int, count: int, source: str) -> Shard:
    if count < 1 or not 1 <= index <= count:
        raise ShardError(f"{source}: shard {index}/{count} does not exist (shards are numbered 1 to N)")
    return Shard(index, count, source)


def _k_of_n(text: str, source: str) -> Shard:
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found:
        raise ShardError(f"{source} must read K/N (shard K of N, 1 <= K <= N), not {text!r}")
    return _checked(int(found[1]), int(found[2]), source)


def _slurm(env: Mapping[str, str], count: int | None) -> Shard:
    absent = [name for name in ("SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_COUNT")
              if name not in env]
    if absent:
        raise ShardError(f"SLURM_ARRAY_TASK_ID is set but not {', '.join(absent)}: is this a Slurm job array?")
    task = _number(env["SLURM_ARRAY_TASK_ID"], "SLURM_ARRAY_TASK_ID")
    first = _number(env["SLURM_ARRAY_TASK_MIN"], "SLURM_ARRAY_TASK_MIN")
    last = _number(env["SLURM_ARRAY_TASK_MAX"], "SLURM_ARRAY_TASK_MAX")
    step = _number(env.get("SLURM_ARRAY_TASK_STEP", "1"), "SLURM_ARRAY_TASK_STEP") or 1
    tasks = _number(env["SLURM_ARRAY_TASK_COUNT"], "SLURM_ARRAY_TASK_COUNT")
    if (last - first) % step or (last - first) // step + 1 != tasks or (task - first) % step:
        raise ShardError(
            f"the Slurm array must be one range of task ids (--array=1-{max(tasks, 1)}); found "
            f"ids {first}..{last} step {step} with {tasks} task(s)")
    source = f"Slurm array task {task} of {first}-{last}"
    if count is not None and count != tasks:
        raise ShardError(f"--shard auto/{count}, but the Slurm array has {tasks} task(s)")
    return _checked((task - first) // step + 1, tasks, source)


def _kubernetes(env: Mapping[str, str], count: int | None) -> Shard:
    index = _number(env["JOB_COMPLETION_INDEX"], "JOB_COMPLETION_INDEX")
    if count is None:
        raise ShardError("a Kubernetes Indexed Job gives the index only (JOB_COMPLETION_INDEX): pass its "
                         "completions as --shard auto/N")
    return _checked(index + 1, count, f"Kubernetes JOB_COMPLETION_INDEX={index}")


def parse_shard(value: str, env: Mapping[str, str] | None = None) -> Shard:
    """``K/N``; or ``auto`` / ``auto/N``: K (and N) from the engine's environment (module docstring)."""
    env = os.environ if env is None else env
    if value.strip() != "auto" and not value.strip().startswith("auto/"):
        return _k_of_n(value, "--shard")
    count = _number(value.strip()[5:], "N of --shard auto/N") if "/" in value else None
    engines = [name for name in ("COURSETOOLS_SHARD", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX") if name in env]
    if not engines:
        raise ShardError("--shard auto: the environment names no shard (COURSETOOLS_SHARD=K/N, a Slurm array "
                         "task, a Kubernetes Indexed Job); use --shard K/N")
    if len(engines) > 1:
        raise ShardError(f"--shard auto: the environment names more than one shard ({', '.join(engines)}); "
                         "use --shard K/N")
    if engines[0] == "SLURM_ARRAY_TASK_ID":
        return _slurm(env, count)
    if engines[0] == "JOB_COMPLETION_INDEX":
        return _kubernetes(env, count)
    shard = _k_of_n(env["COURSETOOLS_SHARD"], "COURSETOOLS_SHARD")
    if count is not None and count != shard.count:
        raise ShardError(f"--shard auto/{count}, but COURSETOOLS_SHARD is {shard}")
    return shard


# --- what a partial report records ------------------------------------------------------------

def course_fingerprint(snapshot: CourseSnapshot, data_dir: Path | None) -> str:
    """sha256 over everything that decides a verdict: pristine notebooks, checks and grader code, data."""
    digest = hashlib.sha256()
    for name, pristine in sorted(snapshot.pristine.items()):
        digest.update(f"pristine {name} {pristine.sha256}\n".encode())
    for path, content in sorted(snapshot.library.items()):
        digest.update(f"library {path} {hashlib.sha256(content).hexdigest()}\n".encode())
    if data_dir is not None and data_dir.is_dir():
        for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
            digest.update(f"data {path.relative_to(data_dir).as_posix()} "
                          f"{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


def verdict_options(options: GradeOptions) -> dict[str, Any]:
    """The options that can change a learner's rows (not workers, progress bar, scratch folder)."""
    limits = options.limits
    return {"cell_timeout": limits.cell_timeout, "notebook_timeout": limits.notebook_timeout,
            "memory_mb": limits.memory_mb, "max_output_kb": limits.max_output_kb,
            "max_processes": limits.max_processes, "disk_mb": limits.disk_mb,
            "startup_timeout": limits.startup_timeout, "hidden": options.hidden,
            "skip_untouched": options.skip_untouched, "verdict_timeout": options.verdict_timeout,
            "verdict_memory_mb": options.verdict_memory_mb}


def _hex(folder: str) -> str:
    return os.fsencode(folder).hex()


def _results(notebook: NotebookOutcome) -> dict[str, Any]:
    return {
        "results": [{"notebook": r.notebook, "exercise": r.exercise, "title": r.title, "status": r.status,
                     "max_points": r.max_points, "message": r.message, "not_started": r.not_started}
                    for r in notebook.results],
        "notes": notebook.notes, "log": notebook.log, "ran_kernel": notebook.ran_kernel,
        "seconds": notebook.seconds, "peak_rss": notebook.peak_rss, "grader_fault": notebook.grader_fault,
    }


def write_partial(outcome: ClassOutcome, out_dir: Path, shard: Shard, course: str, options: dict[str, Any]) -> Path:
    """Write ``out_dir/partial.json`` (the report itself is written by :func:`write_report`)."""
    info = {
        "format": FORMAT, "version": VERSION,
        "shard": {"index": shard.index, "count": shard.count, "source": shard.source},
        "course": course, "options": options,
        "class": [_hex(folder) for folder in outcome.listing],
        "learners": [{"folder": _hex(lo.files.folder), "name": lo.files.name,
                      "notebooks": {name: _results(nb) for name, nb in lo.notebooks.items()}}
                     for lo in outcome.learners],
        "class_notes": outcome.class_notes, "notes": outcome.notes,
        "seconds": outcome.seconds, "kernels": outcome.kernels, "grader_faults": outcome.grader_faults,
        "suspicious": outcome.suspicious, "sandbox": outcome.sandbox,
    }
    path = out_dir / PARTIAL
    path.write_text(json.dumps(info, indent=1) + "\n", encoding="ascii")
    return path


# --- merge -----------------------------------------------------------------------------------

def _load(part: Path) -> dict[str, Any]:
    path = part / PARTIAL
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShardError(f"{part} is not a partial report (no {PARTIAL}): grade it with --shard K/N") from None
    except (OSError, ValueError) as error:
        raise ShardError(f"{path} cannot be read ({error})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ShardError(f"{path} is not a partial grading report")
    if info.get("version") != VERSION:
        raise ShardError(f"{path} was written by another version of the grader (format {info.get('version')})")
    problem = _damage(info)
    if problem:
        raise ShardError(f"{path} is damaged: {problem}. Grade that shard again")
    return info


# What partial.json holds, field by field: a damaged part is named with the field that is wrong.
_NUMBER = (int, float)
_TOP = {"shard": dict, "course": str, "options": dict, "class": list, "learners": list, "class_notes": list,
        "notes": list, "seconds": _NUMBER, "kernels": int, "grader_faults": int}
_SHARD = {"index": int, "count": int, "source": str}
_LEARNER = {"folder": str, "name": str, "notebooks": dict}
_NOTEBOOK = {"results": list, "notes": list, "log": list, "ran_kernel": bool, "seconds": _NUMBER, "peak_rss": int,
             "grader_fault": bool}
_RESULT = {"notebook": str, "exercise": str, "title": str, "status": str, "max_points": _NUMBER, "message": str,
           "not_started": bool}


def _wrong_field(value: Any, fields: dict[str, Any]) -> str | None:
    """The first field of ``fields`` that ``value`` lacks or holds with another type, said in words."""
    if not isinstance(value, dict):
        return "is not an object"
    for name, kind in fields.items():
        if name not in value:
            return f"has no {name!r}"
        if not isinstance(value[name], kind) or kind is int and isinstance(value[name], bool):
            return f"has a {name!r} of the wrong type ({type(value[name]).__name__})"
    return None


def _hex_folder(text: Any) -> bool:
    try:
        bytes.fromhex(text)
        return isinstance(text, str)
    except (TypeError, ValueError):
        return False


def _damage(info: dict[str, Any]) -> str | None:
    """What is wrong with a partial report's content (a field missing or of the wrong type), or None."""
    problem = _wrong_field(info, _TOP)
    if problem:
        return f"the report {problem}"
    problem = _wrong_field(info["shard"], _SHARD)
    if problem:
        return f"its 'shard' {problem}"
    for key in ("class_notes", "notes", "suspicious"):
        if not isinstance(info.get(key, []), list) or not all(isinstance(note, str) for note in info.get(key, [])):
            return f"its {key!r} holds something other than lines of text"
    if not isinstance(info.get("sandbox", ""), str):
        return "its 'sandbox' is not text"
    if not all(_hex_folder(folder) for folder in info["class"]):
        return "its 'class' holds something other than folder names"
    for number, entry in enumerate(info["learners"], 1):
        where = f"learner entry {number} of {len(info['learners'])}"
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            where += f" ({clip(entry['name'], 60)!r})"
        problem = _wrong_field(entry, _LEARNER) or (None if _hex_folder(entry["folder"]) else "has a damaged 'folder'")
        if problem:
            return f"{where} {problem}"
        for name, notebook in entry["notebooks"].items():
            problem = _wrong_field(notebook, _NOTEBOOK)
            if problem:
                return f"{where}: notebook {clip(name, 60)!r} {problem}"
            if not all(isinstance(line, str) for line in notebook["notes"] + notebook["log"]):
                return f"{where}: notebook {clip(name, 60)!r} has notes or log lines that are not text"
            for row, result in enumerate(notebook["results"], 1):
                problem = _wrong_field(result, _RESULT)
                if not problem and result["status"] not in STATUSES:
                    problem = f"has an unknown status {clip(result['status'], 20)!r}"
                if problem:
                    return f"{where}: notebook {clip(name, 60)!r}, result {row} {problem}"
    return None


def _learner(entry: dict[str, Any]) -> LearnerOutcome:
    learner = LearnerOutcome(LearnerFiles(os.fsdecode(bytes.fromhex(entry["folder"])), entry["name"]))
    for name, notebook in entry["notebooks"].items():
        learner.notebooks[name] = NotebookOutcome(
            [ExerciseResult(r["notebook"], r["exercise"], r["title"], r["status"], r["max_points"], r["message"],
                            r["not_started"]) for r in notebook["results"]],
            notebook["notes"], notebook["log"], notebook["ran_kernel"], notebook["seconds"], notebook["peak_rss"],
            notebook["grader_fault"])
    return learner


def partial_reports(paths: list[Path]) -> list[Path]:
    """``paths`` with each folder that is not a partial report replaced by its subfolders that are.

    So ``merge parts/`` reads every ``parts/<shard>/partial.json``; a shard whose folder
    holds no partial report (it failed) is then reported missing.
    """
    found = []
    for path in paths:
        if (path / PARTIAL).exists() or not path.is_dir():
            found.append(path)
            continue
        inside = sorted(sub for sub in path.iterdir() if (sub / PARTIAL).is_file())
        found += inside or [path]  # a folder without any: _load says it is not a partial report
    return found


def merge_reports(parts: list[Path], out_dir: Path, key: bytes | None = None) -> ClassOutcome:
    """Check that ``parts`` are the N shards of one grading (each signed with ``key``, when given: see
    :mod:`.signing`), then write the class's report to ``out_dir``."""
    loaded = _load_parts(parts, out_dir, key)
    _check_same_grading(loaded)
    _check_every_shard_once(loaded)
    _check_every_learner_once(loaded)
    outcome = _merged(loaded)
    write_report(outcome, out_dir)
    return outcome


def _load_parts(parts: list[Path], out_dir: Path, key: bytes | None) -> list[tuple[Path, dict[str, Any]]]:
    """Every partial report named (folders of them opened), its signature checked when there is a key,
    read; never ``out_dir`` itself."""
    parts = partial_reports(parts)
    if not parts:
        raise ShardError("no partial reports to merge")
    target = out_dir.resolve()
    for part in parts:
        if target == part.resolve():
            raise ShardError(f"--out {out_dir} is one of the partial reports: write the merged report elsewhere")
    if key is not None:
        for part in parts:
            try:
                signing.verify(part, key)
            except SignatureError as error:
                raise ShardError(str(error)) from None
    return [(part, _load(part)) for part in parts]


def _check_same_grading(loaded: list[tuple[Path, dict[str, Any]]]) -> None:
    """Every part graded the same class against the same course with the same options."""
    first_part, first = loaded[0]
    for part, info in loaded[1:]:
        for key, what in (("course", "another course or release (checks, notebooks or grader code differ)"),
                          ("options", "other options (limits or hidden checks)"),
                          ("class", "another class (the learner folders differ): grade every shard from the same "
                                    "submissions folder")):
            if info[key] != first[key]:
                raise ShardError(f"{part} was graded against {what} than {first_part}")


def _check_every_shard_once(loaded: list[tuple[Path, dict[str, Any]]]) -> None:
    """Shards 1..N of the same N, each given exactly once."""
    first_part, first = loaded[0]
    count = first["shard"]["count"]
    by_index: dict[int, Path] = {}
    for part, info in loaded:
        index = info["shard"]["index"]
        if info["shard"]["count"] != count:
            raise ShardError(f"{part} is shard {index}/{info['shard']['count']}, but {first_part} is one of {count}")
        if index in by_index:
            raise ShardError(f"shard {index}/{count} is given twice: {by_index[index]} and {part}")
        by_index[index] = part
    missing = [f"{k}/{count}" for k in range(1, count + 1) if k not in by_index]
    if missing:
        raise ShardError(f"shard(s) {', '.join(missing)} missing: merge needs all {count} partial reports")


def _check_every_learner_once(loaded: list[tuple[Path, dict[str, Any]]]) -> None:
    """Every learner folder of the class graded in exactly one part."""
    graded: dict[str, Path] = {}
    for part, info in loaded:
        for entry in info["learners"]:
            if entry["folder"] in graded:
                raise ShardError(f"learner folder {entry['name']!r} was graded twice: in {graded[entry['folder']]} "
                                 f"and {part}")
            graded[entry["folder"]] = part
    first = loaded[0][1]
    listed = set(first["class"])
    ungraded = [folder for folder in first["class"] if folder not in graded]
    unlisted = [folder for folder in graded if folder not in listed]
    if ungraded:
        raise ShardError(f"{_folders(ungraded)} of the class {'is' if len(ungraded) == 1 else 'are'} graded in no "
                         f"part: the parts hold {len(graded)} learner(s), the class {len(listed)}")
    if unlisted:
        raise ShardError(f"{graded[unlisted[0]]} holds {_folders(unlisted)}, not in the class it lists")


def _folders(folders: list[str]) -> str:
    names = ", ".join(repr(os.fsdecode(bytes.fromhex(folder))) for folder in folders[:3])
    more = f" and {len(folders) - 3} more" if len(folders) > 3 else ""
    return f"learner folder{'s' if len(folders) > 1 else ''} {names}{more}"


def _merged(loaded: list[tuple[Path, dict[str, Any]]]) -> ClassOutcome:
    """The outcome one run over the whole class gives: learners in canonical order, notes and deaths by shard."""
    first = loaded[0][1]
    count = first["shard"]["count"]
    learners = sorted((_learner(entry) for _, info in loaded for entry in info["learners"]),
                      key=lambda lo: os.fsencode(lo.files.folder))
    ordered = [info for _, info in sorted(loaded, key=lambda item: item[1]["shard"]["index"])]
    return ClassOutcome(
        learners, list(first["class_notes"]),
        [f"shard {info['shard']['index']}/{count}: {note}" for info in ordered for note in info["notes"]],
        seconds=sum(info["seconds"] for info in ordered), kernels=sum(info["kernels"] for info in ordered),
        grader_faults=sum(info["grader_faults"] for info in ordered),
        listing=[os.fsdecode(bytes.fromhex(folder)) for folder in first["class"]],
        suspicious=[f"shard {info['shard']['index']}/{count}: {death}" for info in ordered
                    for death in info.get("suspicious", [])],
        sandbox=_merged_sandbox(ordered, count),
    )


def _merged_sandbox(ordered: list[dict[str, Any]], count: int) -> str:
    """The sandbox line of the merged log: a warning if any shard ran its kernels without one."""
    lines = [str(info.get("sandbox", "")) for info in ordered]
    warned = [f"shard {info['shard']['index']}/{count}: {line}" for info, line in zip(ordered, lines)
              if line.startswith("WARNING")]
    if warned:
        return "WARNING: NO SANDBOX on some shards: " + "; ".join(warned)
    return lines[0] if lines else ""
