"""Run notebooks top to bottom in a fresh kernel, the way nbval and the grader do.

Used to refresh the committed outputs of lessons and solutions. Outputs are kept
clean: no per-cell timing metadata, the kernel gets the quiet TensorFlow environment so
no start-up log lands in a cell, and a traceback names Keras's files from the package
(``keras/src/models/sequential.py``), not from this machine's environment
(``/home/me/course/.venv/lib/python3.11/site-packages/keras/...``): a machine path in a
committed notebook is noise to every learner and names a folder of ours.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from coursetools.quiet_env import apply_quiet_env

INSTALLED = re.compile(r"(?:[A-Za-z]:)?[/\\][^\s\"'\x1b]*?[/\\](?:site|dist)-packages[/\\]")  # up to the package's folder


def without_machine_paths(nb: Any) -> Any:
    """``nb`` with every error traceback's installed-package paths made relative to site-packages."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [INSTALLED.sub("", line) for line in output["traceback"]]
    return nb


def make_client(nb: Any, workdir: Path, *, timeout: int = 120, allow_errors: bool = False) -> NotebookClient:
    """A client that runs ``nb`` with the current environment's Python kernel."""
    apply_quiet_env()
    return NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
        allow_errors=allow_errors,
        record_timing=False,
        # A graceful shutdown waits 2-3 s for TensorFlow's threads; nothing is lost by not waiting.
        shutdown_kernel="immediate",
        # The kernel's own log goes to this terminal; its one warning ("Kernel is running over
        # TCP without encryption": a local kernel on loopback) is noise in the course's tools.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )


def execute_notebook(path: Path, *, allow_errors: bool = False) -> Any:
    """Execute a notebook and return it; cells tagged ``raises-exception`` may raise."""
    nb = nbformat.read(path, as_version=4)
    make_client(nb, path.parent, allow_errors=allow_errors).execute()
    return nb


def refresh(path: Path) -> None:
    """Execute ``path`` and store it back with its new outputs."""
    nb = execute_notebook(path)
    nbformat.write(without_machine_paths(nb), path)
