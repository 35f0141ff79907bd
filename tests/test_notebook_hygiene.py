"""Static checks of every committed notebook: what nbval itself does not look at.

nbval compares outputs, but it never compares a cell that has no stored execution
count, and it does not care about stderr text that happens to match. These tests
keep the committed notebooks executed, clean and offline.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from coursetools import schema

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
ALL = EXECUTED + sorted((ROOT / "exercises").glob("*.ipynb"))
MACHINE_PATH = re.compile(r"(/root/|/home/|/tmp/|/work/|/Users/|site-packages|C:\\\\)")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
WARNING_LINE = re.compile(r":\d+: \w*Warning: ")  # how the warnings module prints
TIMING = re.compile(r"\d+(\.\d+)?\s?(ms|s)/step|\bETA\b|Epoch \d+/\d+")


def output_text(output) -> str:
    if output.output_type == "stream":
        return output.text
    if output.output_type == "error":  # the traceback too: learners read it, and it names files
        return output.ename + ": " + output.evalue + "\n" + "\n".join(output.traceback)
    return "\n".join(str(v) for k, v in output.get("data", {}).items() if not k.startswith("image/"))


def code_cells(path):
    return [(i, c) for i, c in schema.iter_code_cells(nbformat.read(path, as_version=4))]


@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_cell_was_executed_in_order(path):
    """An unexecuted cell is silently skipped by nbval's comparison."""
    counts = [c.execution_count for _, c in code_cells(path) if c.source.strip()]
    assert None not in counts
    assert counts == list(range(1, len(counts) + 1)), "re-run the notebook top to bottom in a fresh kernel"


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_outputs_are_clean(path):
    for index, cell in code_cells(path):
        for output in cell.outputs:
            text = output_text(output)
            where = f"cell {index}: {text[:100]!r}"
            assert not (output.output_type == "stream" and output.name == "stderr"), f"stderr in {where}"
            assert not MACHINE_PATH.search(text), f"machine path in {where}"
            assert not ADDRESS.search(text), f"memory address in {where}"
            assert not TIMING.search(text), f"timing in {where}"
            assert not WARNING_LINE.search(text), f"warning in {where}"


@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_errors_only_where_tagged_and_every_tagged_cell_shows_its_error(path):
    for index, cell in code_cells(path):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if schema.raises(cell):
            assert len(errors) == 1, f"cell {index} is tagged to raise but shows no error"
        else:
            assert errors == [], f"cell {index} shows {errors[0].ename} but is not tagged raises-exception"


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_offline_and_modern(path):
    for index, cell in code_cells(path):
        assert "keras.datasets" not in cell.source and "load_data(" not in cell.source, f"download in cell {index}"
        assert not re.search(r"^\s*from tensorflow import keras|^\s*import tensorflow\.keras", cell.source, re.M), (
            f"cell {index}: use `import keras` (tf.keras may be mentioned, not used as the import)"
        )


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_starts_with_a_goal_and_uses_the_python3_kernel(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# Lesson")


@pytest.mark.parametrize("path", EXECUTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_import_coursetools_before_keras(path):
    """coursetools sets TensorFlow's quiet environment (and oneDNN off); it must come first, in lessons too."""
    sources = "\n".join(c.source for _, c in code_cells(path))
    first = re.search(r"^(from coursetools[\w.]* import|import coursetools)", sources, re.M)
    assert first is not None and first.start() < sources.index("import keras")
