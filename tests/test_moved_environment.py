"""A course folder moved or copied with its ``.venv`` gets an environment of its own.

Seen before this was fixed: a copied course folder kept a ``.venv`` whose scripts and
editable install pointed at the old folder; ``course.py`` said "environment up to date"
and ran the old folder's code. These tests build small fake environments (the files a
venv records its folder in) in temporary folders: no real 2 GB install.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent


def course_in(folder: Path):
    """course.py as it runs from ``folder`` (its ROOT is that folder), with the files its stamp hashes."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("course.py", "requirements.txt", "pyproject.toml"):
        shutil.copy2(ROOT / name, folder / name)
    spec = importlib.util.spec_from_file_location(f"course_{abs(hash(folder))}", folder / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_venv(course, made_in: Path, *, long_form: bool = False) -> None:
    """The files by which a venv made in ``made_in`` remembers that folder, in ``course``'s .venv."""
    python = made_in / ".venv" / "bin" / "python"
    course.BIN.mkdir(parents=True)
    (course.VENV / "pyvenv.cfg").write_text(f"home = /usr/bin\ncommand = /usr/bin/python3 -m venv {made_in / '.venv'}\n")
    course.PYTHON.write_text("")
    course.PYTHON.chmod(0o755)
    if long_form:  # what pip writes when the path is long or has spaces
        shebang = f'#!/bin/sh\n\'\'\'exec\' "{python}" "$0" "$@"\n\' \'\'\'\n'
    else:
        shebang = f"#!{python}\n"
    (course.BIN / "jupyter").write_text(shebang + "import sys\nfrom jupyter_core.command import main\nsys.exit(main())\n")
    record = course.VENV / "lib" / "python3.11" / "site-packages" / "coursetools-0.1.0.dist-info"
    record.mkdir(parents=True)
    (record / "direct_url.json").write_text(json.dumps({"dir_info": {"editable": True}, "url": made_in.as_uri()}))
    course.STAMP.write_text(course.requirements_hash() + "\n")


class Installs:
    """Stands in for venv creation and pip: records what ensure_environment would install."""

    def __init__(self, course, monkeypatch):
        self.created, self.commands, self.course = [], [], course

        class Builder:
            def __init__(builder, **options):
                pass

            def create(builder, folder):
                self.created.append(Path(folder))
                course.BIN.mkdir(parents=True)
                course.PYTHON.write_text("")

        def run(command, check=False, **kwargs):
            self.commands.append([str(part) for part in command])
            return subprocess.CompletedProcess(command, 0)

        monkeypatch.setattr(course, "venv", SimpleNamespace(EnvBuilder=Builder))  # this course.py's only
        monkeypatch.setattr(course, "subprocess", SimpleNamespace(run=run))


def test_an_environment_made_here_is_used_as_it_is(tmp_path, monkeypatch, capsys):
    course = course_in(tmp_path / "course")
    fake_venv(course, course.ROOT)
    installs = Installs(course, monkeypatch)
    assert course.venv_elsewhere() is None
    course.ensure_environment()
    assert installs.created == [] and installs.commands == []
    assert "environment up to date" in capsys.readouterr().out


@pytest.mark.parametrize("long_form", [False, True], ids=["shebang", "long-path-shebang"])
def test_a_copied_folder_notices_its_environment_belongs_to_the_old_one(tmp_path, long_form):
    old = tmp_path / "old course"
    course = course_in(tmp_path / "copy of the course")
    fake_venv(course, old, long_form=long_form)
    assert course.venv_elsewhere() == old


def test_the_editable_install_alone_gives_it_away(tmp_path):
    """Scripts rewritten by hand, but `coursetools` would still come from the old folder."""
    course = course_in(tmp_path / "course")
    fake_venv(course, tmp_path / "old")
    (course.BIN / "jupyter").write_text(f"#!{course.PYTHON}\n")
    assert course.venv_elsewhere() == tmp_path / "old"


def test_a_moved_environment_is_rebuilt_for_this_folder(tmp_path, monkeypatch, capsys):
    course = course_in(tmp_path / "moved")
    fake_venv(course, tmp_path / "where it was")
    (course.VENV / "old-marker").write_text("from the old folder")
    installs = Installs(course, monkeypatch)

    course.ensure_environment()

    out = capsys.readouterr().out
    assert "moved or copied" in out and str(tmp_path / "where it was") in out
    assert "environment up to date" not in out
    assert not (course.VENV / "old-marker").exists(), "the old environment is replaced"
    assert installs.created == [course.VENV]
    assert [str(course.ROOT)] == [c[-1] for c in installs.commands if "--editable" in c], "installed for this folder"
    assert course.STAMP.read_text().strip() == course.requirements_hash()


def test_an_environment_linked_from_elsewhere_is_left_alone_with_the_one_command(tmp_path, monkeypatch):
    other = course_in(tmp_path / "other")
    fake_venv(other, other.ROOT)
    course = course_in(tmp_path / "course")
    course.VENV.symlink_to(other.VENV)
    installs = Installs(course, monkeypatch)
    with pytest.raises(SystemExit) as stop:
        course.ensure_environment()
    assert f"rm -rf {course.VENV} && python3 {course.ROOT / 'course.py'} setup" in str(stop.value)
    assert (other.VENV / "pyvenv.cfg").is_file(), "another folder's environment is never deleted"
    assert installs.commands == []
