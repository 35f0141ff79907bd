"""Benchmark: run every notebook as nbval would, and report what it costs.

Per notebook: wall time (kernel start included), the slowest cell, and the peak
memory of the kernel's process tree, against the course's budget. This is a report,
not a timed test: timings depend on the machine and its load.

Memory is each process's proportional set size (PSS, Linux): the pages it shares with
another process of the tree are counted once, split between them. Summing resident
sizes (RSS) would count TensorFlow's libraries twice in a notebook whose class checks
keep a second Python with TensorFlow ready (lessons 7 and 10), although the machine
holds them once. Where PSS is not available, RSS.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil

from coursetools.execute import make_client

ROOT = Path(__file__).resolve().parent.parent
BUDGET_WALL_S = 15.0
BUDGET_CELL_S = 10.0
BUDGET_PEAK_MB = 1000.0


@dataclass
class NotebookCost:
    path: str
    wall_s: float
    slowest_cell: int
    slowest_cell_s: float
    peak_mb: float

    def verdict(self) -> str:
        over = []
        if self.wall_s > BUDGET_WALL_S:
            over.append("wall")
        if self.slowest_cell_s > BUDGET_CELL_S:
            over.append("cell")
        if self.peak_mb > BUDGET_PEAK_MB:
            over.append("memory")
        return "ok" if not over else "OVER: " + ", ".join(over)


def _memory_of(process: psutil.Process) -> int:
    """PSS where the system reports it (Linux), else RSS."""
    try:
        return process.memory_full_info().pss
    except (AttributeError, psutil.AccessDenied):
        return process.memory_info().rss


class PeakMemory:
    """Polls the memory (PSS, else RSS) of a process and its children in a background thread."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                self.peak_bytes = max(self.peak_bytes, sum(_memory_of(p) for p in tree))
            except psutil.Error:
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(path: Path) -> NotebookCost:
    """Run one notebook in a fresh kernel; unsolved exercises may fail at their checks."""
    nb = nbformat.read(path, as_version=4)
    client = make_client(nb, path.parent, allow_errors=True)
    cell_times: list[tuple[float, int]] = []
    started = time.perf_counter()
    with client.setup_kernel():
        with PeakMemory(client.km.provisioner.pid) as memory:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                cell_started = time.perf_counter()
                client.execute_cell(cell, index)
                cell_times.append((time.perf_counter() - cell_started, index))
    wall = time.perf_counter() - started
    slowest_s, slowest = max(cell_times) if cell_times else (0.0, -1)
    return NotebookCost(str(path.relative_to(ROOT)), wall, slowest, slowest_s, memory.peak_bytes / 2**20)


def default_notebooks() -> list[Path]:
    return [p for folder in ("notebooks", "solutions", "exercises") for p in sorted((ROOT / folder).glob("*.ipynb"))]


def report(costs: list[NotebookCost]) -> str:
    width = max([len("notebook")] + [len(str(c.path)) for c in costs])  # the longest path sets the column
    lines = [f"{'notebook':<{width}} {'wall s':>7} {'slowest cell':>16} {'peak MB':>8}  verdict"]
    for c in costs:
        slowest = f"#{c.slowest_cell}: {c.slowest_cell_s:.1f} s"
        lines.append(f"{str(c.path):<{width}} {c.wall_s:>7.1f} {slowest:>16} {c.peak_mb:>8.0f}  {c.verdict()}")
    lines.append(f"{'total':<{width}} {sum(c.wall_s for c in costs):>7.1f}")
    lines.append(f"budget: each notebook < {BUDGET_WALL_S:.0f} s, no cell > {BUDGET_CELL_S:.0f} s, peak < {BUDGET_PEAK_MB:.0f} MB")
    return "\n".join(lines)


def warm_disk_cache() -> float:
    """Import Keras once in a throwaway process; return how long that took.

    After a while unused, the 1.3 GB TensorFlow install drops out of the disk cache and
    the next import takes 10-20 s instead of 4. Without this, that cost would land on
    whichever notebook happens to be measured first.
    """
    import subprocess
    import sys

    from coursetools.quiet_env import apply_quiet_env

    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import keras"], check=True, env=dict(apply_quiet_env(dict(os.environ))))
    return time.perf_counter() - started


def main(paths: list[str] | None = None) -> int:
    from tqdm import tqdm

    notebooks = [Path(p).resolve() for p in paths] if paths else default_notebooks()
    print(f"warm-up: importing keras once took {warm_disk_cache():.1f} s (disk cache)")
    costs = []
    for path in tqdm(notebooks, desc="benchmark", unit="notebook"):
        costs.append(measure(path))
    print(report(costs))
    return 0
