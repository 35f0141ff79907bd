"""requirements.txt (pip) and environment.yml (conda, Binder) must pin the same versions."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)\s*(;.*)?$")


def pins(lines: list[str]) -> dict[tuple[str, str], str]:
    """{(name, marker): version} of every exact pin."""
    found = {}
    for line in lines:
        line = line.split(" #")[0].strip()
        match = PIN.match(line)
        if match:
            name, version, marker = match.groups()
            found[(name.lower(), (marker or "").lstrip("; ").strip())] = version
    return found


def requirement_pins() -> dict[tuple[str, str], str]:
    return pins((ROOT / "requirements.txt").read_text().splitlines())


def conda_pip_pins() -> dict[tuple[str, str], str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    return pins(pip_section)


def test_every_requirement_is_pinned_exactly():
    lines = [l.split(" #")[0].strip() for l in (ROOT / "requirements.txt").read_text().splitlines()]
    loose = [l for l in lines if l and not l.startswith("#") and not PIN.match(l)]
    assert loose == [], f"unpinned requirements: {loose}"


def test_environment_yml_matches_requirements():
    assert conda_pip_pins() == requirement_pins()


def test_environment_yml_python_and_graphviz():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    assert "graphviz" in env["dependencies"]


def test_pin_parser_sees_a_drift():
    """The comparison is not vacuous: a changed version or a missing package differs."""
    base = requirement_pins()
    assert len(base) >= 10
    drifted = pins([l.replace("keras==3.15.1", "keras==3.14.0") for l in (ROOT / "requirements.txt").read_text().splitlines()])
    assert drifted != base
