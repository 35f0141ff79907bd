"""The options of a grading run and the limits of one notebook: the only place their defaults are written.

``grade``, ``progress`` and ``grade-benchmark`` build their command-line options, the
defaults and the help text from these dataclasses (:mod:`.commands`), and a test holds
the README's table of options to the same numbers, so the three can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """What one notebook may use; every limit is reported to the learner when hit."""

    cell_timeout: float = 120.0  # seconds one cell may run
    notebook_timeout: float = 900.0  # seconds the whole notebook may run
    memory_mb: int = 2048  # resident memory of the kernel and its children
    max_output_kb: int = 1024  # output one learner cell may print
    max_processes: int = 64  # processes the kernel may run at once, itself included
    disk_mb: int = 256  # what the kernel may write to its folders (working folder, HOME, TMPDIR, evidence)
    startup_timeout: float = 120.0  # seconds a kernel may take to start (not an option: the grader's side)


@dataclass(frozen=True)
class GradeOptions:
    """How a class is graded (``grade``; ``progress`` turns hidden checks off)."""

    workers: int = 2  # notebooks graded at once, one kernel each
    limits: Limits = field(default_factory=Limits)
    hidden: bool = True  # run hidden checks (the grader); progress turns them off
    skip_untouched: bool = True  # an unchanged notebook cannot pass anything: no kernel needed
    keep_work: bool = False  # keep the scratch folder, for debugging the grader
    progress_bar: bool = True
    verdict_timeout: float = 300.0
    verdict_memory_mb: int = 4096
    data_dir: Path | None = None  # copied next to each run's exercises/ when present
    sandbox: bool = True  # run kernels in a sandbox where the machine offers one (see .sandbox)


@dataclass(frozen=True)
class LimitOption:
    """A command-line option that sets one field of :class:`Limits`."""

    flag: str
    field: str
    metavar: str
    help: str  # without the default, which is added from Limits()


LIMIT_OPTIONS = (
    LimitOption("--cell-timeout", "cell_timeout", "S", "seconds one cell may run"),
    LimitOption("--notebook-timeout", "notebook_timeout", "S", "seconds a whole notebook may run"),
    LimitOption("--memory-mb", "memory_mb", "MB", "memory (RSS) a notebook's kernel may use"),
    LimitOption("--max-output-kb", "max_output_kb", "KB", "output one learner cell may print"),
    LimitOption("--max-processes", "max_processes", "N", "processes a notebook's kernel may run at once"),
    LimitOption("--disk-mb", "disk_mb", "MB", "files a notebook's kernel may write (working folder, HOME, TMPDIR)"),
)


def shown(value: float) -> str:
    """A default as the help text and the README write it: ``120``, not ``120.0``."""
    return f"{value:g}"
