"""What one notebook may use while it is graded."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one notebook may use; every limit is reported to the learner when hit."""

    cell_timeout: float = 120.0  # seconds one cell may run
    notebook_timeout: float = 900.0  # seconds the whole notebook may run
    memory_mb: int = 2048  # resident memory of the kernel and its children
    max_output_kb: int = 1024  # output one learner cell may print
    startup_timeout: float = 120.0  # seconds a kernel may take to start (not an option: the grader's side)

