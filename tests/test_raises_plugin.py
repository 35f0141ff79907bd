"""The raises-exception rule is enforced: a demonstration that stops raising fails.

Runs pytest + nbval on tiny notebooks in a subprocess, with and without the
plugin, so the test also proves that nbval alone would have let the cell pass.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output


pytestmark = pytest.mark.kernels  # starts kernels or pytest runs: not in the quick loop

def demo_notebook(path: Path, source: str, stored_ename: str = "ValueError") -> Path:
    cell = new_code_cell(source, metadata={"tags": ["raises-exception"]}, execution_count=1)
    cell.outputs = [new_output("error", ename=stored_ename, evalue="boom", traceback=[])]
    nb = new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def run_nbval(notebook: Path, *, plugin: bool, mode: str = "--nbval-lax") -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", mode,
            "--nbval-current-env", "--rootdir", str(notebook.parent), "-c", str(notebook.parent / "pytest.ini")]
    if plugin:
        args += ["-p", "coursetools.pytest_plugin"]
    (notebook.parent / "pytest.ini").write_text("[pytest]\n")
    return subprocess.run(args + [str(notebook)], capture_output=True, text=True, cwd=notebook.parent, timeout=120)


@pytest.mark.parametrize("mode", ["--nbval-lax", "--nbval"])
def test_a_cell_that_no_longer_raises_fails(tmp_path, mode):
    notebook = demo_notebook(tmp_path / "demo.ipynb", "x = 1  # the error this cell showed is gone")
    result = run_nbval(notebook, plugin=True, mode=mode)
    assert result.returncode == 1, result.stdout
    if mode == "--nbval-lax":
        assert "tagged raises-exception but ran without raising" in result.stdout


def test_nbval_alone_accepts_it_in_lax_mode(tmp_path):
    """Why the plugin exists (nbval issue 108): without it the same cell passes."""
    notebook = demo_notebook(tmp_path / "demo.ipynb", "x = 1")
    assert run_nbval(notebook, plugin=False).returncode == 0


def test_a_different_exception_fails(tmp_path):
    notebook = demo_notebook(tmp_path / "demo.ipynb", "raise KeyError('k')", stored_ename="ValueError")
    result = run_nbval(notebook, plugin=True)
    assert result.returncode == 1
    assert "raised KeyError, but the notebook shows ValueError" in result.stdout


def test_the_stored_exception_passes(tmp_path):
    notebook = demo_notebook(tmp_path / "demo.ipynb", "raise ValueError('boom')")
    assert run_nbval(notebook, plugin=True).returncode == 0
