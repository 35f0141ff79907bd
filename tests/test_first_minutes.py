"""The first minutes of a learner: JupyterLab opens on the start page, without pop-ups,
and the course's terminal tools print nothing but what they mean to.

Seen in a real browser before these were fixed: `course.py lab` reopened whatever the last
session left open, with no start page, and Jupyter's "get notified about news?" pop-up
covered the notebook; `benchmark` and `execute` printed the kernel's "running over TCP"
warning into the terminal.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import course  # noqa: E402  (the set-up script, importable for its helpers)

SCHEMAS = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"


def _option(args: list[str], name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    return values[-1] if values else None


def test_lab_opens_the_start_page_with_the_course_settings():
    args = course.lab_arguments([])
    assert _option(args, "LabApp.default_url") == f"/lab/tree/{course.START_PAGE}"
    assert (ROOT / course.START_PAGE).is_file()
    settings = Path(_option(args, "LabApp.app_settings_dir"))
    assert (settings / "overrides.json").is_file()
    assert Path(_option(args, "LabApp.workspaces_dir")).is_relative_to(ROOT)


def test_a_path_on_the_command_line_opens_that_file_instead():
    args = course.lab_arguments(["notebooks/02_lesson_sequential.ipynb"])
    assert _option(args, "LabApp.default_url") is None
    assert args[-1] == "notebooks/02_lesson_sequential.ipynb"


def test_the_course_settings_name_real_jupyterlab_settings():
    """A misspelt plugin or setting would be ignored silently, and the pop-up would be back."""
    overrides = json.loads((ROOT / course.LAB_SETTINGS / "overrides.json").read_text(encoding="utf-8"))
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    for plugin, values in overrides.items():
        package, name = plugin.rsplit(":", 1)
        schema = json.loads((SCHEMAS / package / f"{name}.json").read_text(encoding="utf-8"))
        for key, value in values.items():
            assert key in schema["properties"], f"{plugin} has no setting {key!r}"
            allowed = [choice["const"] for choice in schema["properties"][key].get("oneOf", [])]
            assert not allowed or value in allowed, f"{plugin}:{key} does not accept {value!r}"


def test_the_start_page_lists_every_lesson_in_order_with_its_exercises():
    text = (ROOT / course.START_PAGE).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+\.ipynb)\)", text)
    for link in links:
        assert (ROOT / link).is_file(), f"the start page links to a missing {link}"
    lessons = sorted(f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert [link for link in links if link.startswith("notebooks/")] == lessons
    exercises = sorted(f"exercises/{p.name}" for p in (ROOT / "exercises").glob("*.ipynb"))
    assert [link for link in links if link.startswith("exercises/")] == exercises
    assert "course.py progress" in text and "course.py check" in text


@pytest.mark.kernels
def test_executing_a_notebook_prints_no_kernel_log(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    result = subprocess.run([sys.executable, "-m", "coursetools", "execute", str(path)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "running over TCP" not in result.stdout + result.stderr
    assert result.stderr == ""
    assert nbformat.read(path, as_version=4).cells[0].outputs[0]["text"] == "42\n"


def test_the_benchmark_table_keeps_its_columns_for_long_paths():
    from coursetools.benchmark import NotebookCost, report

    costs = [NotebookCost("notebooks/05_lesson_multiple_inputs_outputs.ipynb", 12.1, 1, 3.0, 738),
             NotebookCost("notebooks/01_lesson_layers.ipynb", 4.8, 1, 2.8, 639)]
    header, *rows = report(costs).splitlines()[:3]
    wall_end = header.index("wall s") + len("wall s")
    for row, cost in zip(rows, costs):
        assert row[:wall_end].endswith(f" {cost.wall_s:.1f}"), f"{header}\n{row}"
