"""Set-up and runtime environment: second runs skip the install, TensorFlow stays quiet,
and a missing Graphviz is said in one clear line instead of a silently missing diagram."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import course  # noqa: E402  (the set-up script, importable for its helpers)


@pytest.mark.kernels
def test_second_setup_skips_the_install():
    """The suite runs inside .venv, so set-up has happened; running it again must not reinstall."""
    if not course.STAMP.exists():
        pytest.skip("not running from the project environment")
    result = subprocess.run([sys.executable, str(ROOT / "course.py"), "setup"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "environment up to date (.venv), skipping install" in result.stdout
    assert "installing" not in result.stdout


def test_install_stamp_follows_the_requirements(tmp_path, monkeypatch):
    """Editing requirements.txt must trigger a reinstall: the stamp hashes its content."""
    (tmp_path / "requirements.txt").write_text("keras==3.15.1\n")
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    monkeypatch.setattr(course, "ROOT", tmp_path)
    before = course.requirements_hash()
    (tmp_path / "requirements.txt").write_text("keras==3.15.0\n")
    assert course.requirements_hash() != before


def test_usage_without_command():
    result = subprocess.run([sys.executable, str(ROOT / "course.py")], capture_output=True, text=True)
    assert result.returncode == 2 and "course.py test" in result.stdout


def test_course_and_package_agree_on_the_quiet_environment():
    from coursetools.quiet_env import QUIET_TF_ENV

    assert course.QUIET_TF_ENV == QUIET_TF_ENV


@pytest.mark.kernels
def test_importing_keras_after_coursetools_prints_nothing_on_stderr():
    """TensorFlow's C++ start-up lines would land in notebooks as stderr output."""
    code = "import coursetools, keras, numpy as np; keras.layers.Dense(2)(np.ones((1, 3)))"
    env = {k: v for k, v in course.course_env().items() if not k.startswith("TF_")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0
    assert result.stderr == ""


def test_missing_graphviz_is_one_clear_line(monkeypatch, capsys):
    import shutil

    from coursetools import diagrams

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert diagrams.draw_model(object()) is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "No diagram: Graphviz's `dot` program is not installed" in out and "apt-get install graphviz" in out


def test_diagram_is_an_image_when_graphviz_is_there(tmp_path, monkeypatch):
    import keras

    from coursetools import diagrams

    if diagrams.missing_graphviz():
        pytest.fail(f"the test environment needs Graphviz: {diagrams.missing_graphviz()}")
    monkeypatch.chdir(tmp_path)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    image = diagrams.draw_model(model)
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [], "no stray model.png in the working folder"


def test_missing_slurm_is_installed_where_we_may_else_said(monkeypatch, capsys):
    """`course.py test` installs Debian's Slurm as root (no recommends); elsewhere it says how, once."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Slurm's daemons are Linux programs")
    installs = []
    monkeypatch.setattr(course.shutil, "which", lambda name, path=None: None)
    monkeypatch.setattr(course, "may_apt", lambda: "/usr/bin/apt-get")
    monkeypatch.setattr(course, "apt_get_install", lambda apt, packages, recommends=True: installs.append(
        (packages, recommends)))
    course.ensure_slurm()
    assert installs == [(["munge", "slurmctld", "slurmd", "slurm-client"], False)]
    monkeypatch.setattr(course, "may_apt", lambda: None)
    course.ensure_slurm()
    assert len(installs) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[course] installing Slurm for the Slurm recipe's test (Debian packages munge slurmctld slurmd slurm-client)"
    assert lines[1:] == [f"[course] warning: {course.SLURM_HELP}"] * 2  # still missing after the install; no apt
    assert "apt-get install --no-install-recommends munge slurmctld slurmd slurm-client" in course.SLURM_HELP
