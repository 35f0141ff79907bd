"""``python -m coursetools grade-benchmark``: what grading a class costs, against plain execution.

It builds a synthetic class (default 30 learners) over every exercise notebook:
per learner and exercise a seeded choice of the solution, the untouched placeholder,
or a wrong answer (the placeholder's names assigned ``None``); a few learners hand
in everything untouched. It then

1. grades the class with the real pipeline (``--workers``, default 2: both cores),
2. executes the very same submitted notebooks plainly (nbclient, same worker count),

sampling the resident memory of this process and all its children (kernels, the
verdict process) every 0.2 s. It prints wall time, throughput, peak memory and the
overhead of grading over plain execution, and writes them as JSON with ``--out``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat

from coursetools import schema
from coursetools.build import solution_name
from coursetools.benchmark import PeakMemory

_ASSIGNED = re.compile(r"^(\w+) = not_done\(", re.M)


def synthetic_class(root: Path, target: Path, learners: int, seed: int = 2024) -> dict[str, int]:
    """Write ``learners`` folders of notebooks under ``target``; return counts per kind of answer."""
    rng = random.Random(seed)
    counts = {"solved": 0, "unsolved": 0, "wrong": 0}
    names = sorted(p.name for p in (root / "exercises").glob("*.ipynb"))
    for n in range(learners):
        folder = target / f"learner-{n + 1:02d}"
        folder.mkdir(parents=True)
        untouched = n % 10 == 9  # one learner in ten hands in nothing new
        for name in names:
            solution = nbformat.read(root / "solutions" / solution_name(name), as_version=4)
            exercise = nbformat.read(root / "exercises" / name, as_version=4)
            for ex in schema.exercises_in(exercise):
                kind = "unsolved" if untouched else rng.choices(["solved", "unsolved", "wrong"], [6, 2, 2])[0]
                counts[kind] += 1
                for index in ex.answers:
                    if kind == "solved":
                        exercise.cells[index].source = solution.cells[index].source
                    elif kind == "wrong":
                        assigned = _ASSIGNED.findall(exercise.cells[index].source)
                        exercise.cells[index].source = "\n".join(f"{v} = None" for v in assigned)
            nbformat.write(exercise, folder / name)
    return counts


def plain_execution(submissions: Path, workers: int, timeout: int = 600) -> tuple[float, int, int]:
    """Execute every submitted notebook as is; (wall seconds, peak RSS, notebooks)."""
    from coursetools.execute import make_client

    paths = sorted(submissions.glob("*/*.ipynb"))

    def execute(path: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="plain-") as cwd:
            nb = nbformat.read(path, as_version=4)
            client = make_client(nb, Path(cwd), timeout=timeout, allow_errors=True)
            client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # as the grader keeps a log

    started = time.monotonic()
    with PeakMemory(os.getpid(), interval=0.2) as memory, ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(execute, paths))
    return time.monotonic() - started, memory.peak_bytes, len(paths)


def run_benchmark(root: Path, *, learners: int, workers: int, out: Path | None = None,
                  baseline: bool = True, sandbox: bool = True) -> int:
    """Grade a synthetic class, then (``baseline``) execute it plainly; print the figures, keep them in ``out``."""
    from coursetools.grading.snapshot import take_snapshot

    work = Path(tempfile.mkdtemp(prefix="grade-benchmark-"))
    try:
        submissions = work / "submissions"
        counts = synthetic_class(root, submissions, learners)
        snapshot = take_snapshot(root)
        notebooks = learners * len(snapshot.pristine)
        print(f"synthetic class: {learners} learners x {len(snapshot.pristine)} notebooks = {notebooks} "
              f"notebooks; answers: {counts}")
        figures: dict[str, Any] = {"learners": learners, "workers": workers, "notebooks": notebooks, "answers": counts}
        grade_wall, kernels, grader_faults = _grade(submissions, snapshot, workers, sandbox, work / "report", figures)
        if baseline:
            _execute_plainly(submissions, workers, grade_wall, kernels, figures)
        _show(figures, work / "report", out)
        return 0 if not grader_faults else 3
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _grade(submissions: Path, snapshot: Any, workers: int, sandbox: bool, report: Path,
           figures: dict[str, Any]) -> tuple[float, int, int]:
    """Grade the class with the real pipeline, sampling memory; add the figures; (wall s, kernels, grader faults)."""
    from coursetools.grading.grader import grade_class
    from coursetools.grading.options import GradeOptions
    from coursetools.grading.report import summary, write_report

    started = time.monotonic()
    with PeakMemory(os.getpid(), interval=0.2) as memory:
        outcome = grade_class(submissions, snapshot, GradeOptions(workers=workers, sandbox=sandbox))
    grade_wall = time.monotonic() - started
    write_report(outcome, report)
    print(summary(outcome))
    print(outcome.sandbox)
    notebooks = figures["notebooks"]
    figures.update({
        "sandbox": not outcome.sandbox.startswith("WARNING"),
        "grade_wall_s": round(grade_wall, 1),
        "grade_notebooks_per_min": round(notebooks / grade_wall * 60, 1),
        "grade_kernels_run": outcome.kernels,
        "grade_peak_rss_mb": round(memory.peak_bytes / 2**20),
        "grade_s_per_executed_notebook": round(grade_wall / max(1, outcome.kernels), 2),
        "grader_faults": outcome.grader_faults,
    })
    return grade_wall, outcome.kernels, outcome.grader_faults


def _execute_plainly(submissions: Path, workers: int, grade_wall: float, kernels: int, figures: dict[str, Any]) -> None:
    """The same notebooks executed as they are; add the figures and grading's overhead over them."""
    plain_wall, plain_peak, executed = plain_execution(submissions, workers)
    figures.update({
        "plain_wall_s": round(plain_wall, 1),
        "plain_notebooks_per_min": round(executed / plain_wall * 60, 1),
        "plain_peak_rss_mb": round(plain_peak / 2**20),
        "plain_s_per_notebook": round(plain_wall / executed, 2),
        "overhead_wall_pct": round((grade_wall / plain_wall - 1) * 100, 1),
        "overhead_per_executed_notebook_pct": round(
            (grade_wall / max(1, kernels)) / (plain_wall / executed) * 100 - 100, 1),
    })


def _show(figures: dict[str, Any], report: Path, out: Path | None) -> None:
    """Print the figures; with ``out``, write them as JSON and keep the report there."""
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key.ljust(width)}  {value}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "grade-benchmark.json").write_text(json.dumps(figures, indent=1) + "\n")
        shutil.copytree(report, out / "report", dirs_exist_ok=True)
        print(f"written: {out / 'grade-benchmark.json'}")
