"""A test that is a learner: JupyterLab in a real (headless) Chromium, driven like a person would.

From a copy of the course folder (so the learner's saved work never touches the repository)
it starts the lab the way the README says (`python3 course.py lab --no-browser --port=N`),
opens the URL the server prints, sees START_HERE, follows its link to the first exercise
notebook, runs it (*Run → Run All Cells*), runs a check before its answer, types a wrong
and then a right answer into an answer cell, runs it and the check, reads the card and the
✅ line from the page, saves, and then runs `python3 course.py progress` in the same folder:
that exercise passed, every other one not started. A second test runs all of lesson 4 in
the browser and times "Run All" to idle.

Screenshots of every step, the timings and the progress table are written to
``test-screenshots/learner/`` (kept out of git) for a maintainer to look at.

The browser is Debian's ``chromium`` with its matching ``chromium-driver``, driven by
Selenium through ``/usr/bin/chromedriver`` (so Selenium Manager never downloads anything),
with ``fonts-noto-color-emoji`` for ✅ and ❌. ``.ci/run`` and ``course.py test`` install
them as root on Debian. Where no Chromium can be had, the module is skipped with a loud
warning, or fails under ``COURSETOOLS_REQUIRE_BROWSER=1`` (set by ``.ci/run``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

from coursetools import schema
from coursetools.lessons import all_lessons
from fixtures.lab_page import (SHOTS, cell_index, cells, keys, kernel_idle, menu, output_text, prompts, scroll_to,
                               select_cell, shift_enter, shot, start_page_link, type_answer, wait_for)
from fixtures.learner_course import copy_course, environment_for

pytestmark = pytest.mark.kernels  # a JupyterLab server, kernels and a browser: not in the quick loop

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000"]
FIRST = all_lessons()[0]  # its exercise 1.1: a Dense layer of 16 units with ReLU, assigned to `hidden`
FOURTH = next(lesson for lesson in all_lessons() if lesson.number == 4)
WRONG = "hidden = layers.Dense(16)"  # no activation
RIGHT = 'hidden = layers.Dense(16, activation="relu")'


def no_browser(reason: str) -> None:
    line = f"NO BROWSER: {reason}; the end-to-end learner test (a real JupyterLab in Chromium) did not run"
    if os.environ.get("COURSETOOLS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"COURSETOOLS_REQUIRE_BROWSER=1 but {line}")
    warnings.warn(line)
    print(f"\n{'!' * 20} {line} {'!' * 20}")
    pytest.skip(line)


def emoji_font() -> bool:
    """Is there a font with ✅ (U+2705) for Chromium to draw it with?"""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    found = subprocess.run([fc_list, ":charset=2705", "family"], capture_output=True, text=True, timeout=60)
    return bool(found.stdout.strip())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Lab:
    """A JupyterLab server started by `course.py lab` in a copy of the course."""

    course: Path
    url: str  # the URL the server printed, as a learner copies it
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("learner")
    course = copy_course(base / "keras-course")
    environment_for(course)
    port = free_port()
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(base / "runtime"), JUPYTER_CONFIG_DIR=str(base / "jupyter-config"),
               IPYTHONDIR=str(base / "ipython"))
    started = time.monotonic()
    process = subprocess.Popen(["python3", "course.py", "lab", "--no-browser", f"--port={port}"], cwd=course, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    log: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in process.stdout:
            log.append(line)
            if re.search(rf"http://127\.0\.0\.1:{port}/\S*token=", line):
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not found.wait(180):
            pytest.fail("JupyterLab did not print its URL within 180 s:\n" + "".join(log[-40:]))
        url = re.search(rf"(http://127\.0\.0\.1:{port}/\S*token=\S+)", "".join(log)).group(1)
        server = Lab(course, url, process, log)
        server.timings["lab start (course.py lab -> URL printed), s"] = round(time.monotonic() - started, 1)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and its kernels: the session this test started
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        no_browser(f"{' and '.join(missing)} missing (Debian: apt-get install chromium chromium-driver "
                   "fonts-noto-color-emoji)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        no_browser("the selenium package is missing (python3 course.py setup installs requirements.txt)")
    if not emoji_font():
        no_browser("no colour emoji font (Debian: apt-get install fonts-noto-color-emoji): the screenshots "
                   "would show ✅ and ❌ as empty boxes")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # with Service's path: Selenium Manager is never asked for anything
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except Exception as error:  # noqa: BLE001 -- whatever stops Chromium from starting here
        no_browser(f"Chromium would not start: {str(error).splitlines()[0]}")
    driver.set_script_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def record(lab: Lab, name: str, seconds: float) -> None:
    lab.timings[name] = round(seconds, 1)
    (SHOTS / "timings.json").write_text(json.dumps(lab.timings, indent=1) + "\n", encoding="utf-8")


# --- the learner -------------------------------------------------------------------------------------


def test_a_learners_first_exercise_from_the_start_page_to_progress(browser: Any, lab: Lab) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browser
    notebook = FIRST.exercise_notebook
    nb = nbformat.read(lab.course / notebook, as_version=4)
    answer, check = cell_index(nb, "answer", "1.1"), cell_index(nb, "check", "1.1")
    early_check = cell_index(nb, "check", "1.2")

    # 1. The URL the server printed opens the start page, rendered, and nothing in front of it.
    started = time.monotonic()
    driver.get(lab.url)
    title = wait_for("START_HERE rendered", lambda: driver.find_element(By.CSS_SELECTOR, ".jp-RenderedMarkdown h1"),
                     driver=driver)
    assert title.text.startswith("Start here"), title.text
    assert not driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog"), "a dialog covers the start page"
    record(lab, "start page shown (page load -> START_HERE rendered), s", time.monotonic() - started)
    shot(driver, "01_start_page")

    # 2. Its link "N exercises" of lesson 1 opens the exercise notebook; the kernel starts.
    start_page_link(driver, notebook).click()
    wait_for("the exercise notebook, its kernel idle", lambda: len(cells(driver)) == len(nb.cells)
             and kernel_idle(driver), driver=driver)
    assert all(p in ("[ ]:", "") for p in prompts(driver)), f"a notebook never run shows no counts: {prompts(driver)}"
    shot(driver, "02_exercise_notebook_opened")

    # 3. Run → Run All Cells: the set-up runs, and it stops at the first check, which is not done yet.
    started = time.monotonic()
    menu(driver, "Run", "Run All Cells")
    wait_for("the first check's card", lambda: "not done yet" in output_text(driver, check) and kernel_idle(driver),
             driver=driver)
    record(lab, "exercise notebook Run All -> stopped at the first check, idle, s", time.monotonic() - started)
    assert "❌ 1.1: not done yet." in output_text(driver, check)
    scroll_to(driver, check)  # Run All leaves the last cell selected, far below where it stopped
    shot(driver, "03_run_all_stops_at_the_first_check")

    # 4. The check of 1.2 run before its answer cell: the course's card, not a NameError traceback.
    select_cell(driver, early_check)
    pressed = shift_enter(driver, nb, early_check)
    record(lab, "check cell run -> card (answer cell not run), s", time.monotonic() - pressed)
    card = output_text(driver, early_check)
    assert card.startswith("❌ 1.2: run the answer cell above first."), card
    assert "Traceback" not in card and "NameError:" not in card
    shot(driver, "04_check_before_its_answer")

    # 5. A wrong answer: the check's card says what is wrong.
    type_answer(driver, answer, WRONG)
    shift_enter(driver, nb, answer)  # runs the answer, selects the check
    pressed = shift_enter(driver, nb, check)
    record(lab, "check cell run -> card (wrong answer), s", time.monotonic() - pressed)
    card = output_text(driver, check)
    assert card.startswith("❌ 1.1: ") and "not done yet" not in card, card
    assert "expected:" in card and "hint:" in card and "Traceback" not in card, card
    shot(driver, "05_wrong_answer_card")

    # 6. The right answer: the ✅ line.
    type_answer(driver, answer, RIGHT)
    shift_enter(driver, nb, answer)
    pressed = shift_enter(driver, nb, check)
    record(lab, "check cell run -> ✅ line (right answer), s", time.monotonic() - pressed)
    assert output_text(driver, check).startswith("✅ 1.1 passed"), output_text(driver, check)
    shot(driver, "06_passed")

    # 7. Save (Ctrl+S): the answer is in the file on disk.
    keys(driver, "s", modifier=Keys.CONTROL)
    saved = lab.course / notebook
    wait_for("the saved notebook", lambda: RIGHT in "".join(
        c.source for c in nbformat.read(saved, as_version=4).cells if schema.is_answer(c)), 30, driver)
    shot(driver, "07_saved")

    # 8. `python3 course.py progress` in the same folder: 1.1 passed, everything else not started.
    started = time.monotonic()
    result = subprocess.run(["python3", "course.py", "progress", "--no-progress"], cwd=lab.course,
                            capture_output=True, text=True, timeout=600)
    record(lab, "course.py progress, s", time.monotonic() - started)
    (SHOTS / "progress.txt").write_text(result.stdout + result.stderr, encoding="utf-8")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    rows = {line.split()[1]: line for line in result.stdout.splitlines()
            if len(line.split()) > 2 and line.split()[0].endswith(".ipynb")}
    assert " passed" in rows.pop("1.1"), result.stdout
    assert rows and all("not started" in line for line in rows.values()), result.stdout
    assert f"1 passed, 0 failed, {len(rows)} not started" in result.stdout


def test_lesson_four_runs_all_cells_in_the_browser(browser: Any, lab: Lab) -> None:
    """*Run → Run All Cells* on lesson 4 reaches idle with every cell run; errors only where the lesson shows one."""
    from selenium.webdriver.common.by import By

    driver = browser
    nb = nbformat.read(lab.course / FOURTH.lesson_notebook, as_version=4)
    driver.get(lab.url)  # the start page in front; its link to lesson 4
    start_page_link(driver, FOURTH.lesson_notebook).click()
    wait_for("lesson 4 open, its kernel idle", lambda: len(cells(driver)) == len(nb.cells) and kernel_idle(driver),
             driver=driver)
    code_cells = sum(1 for c in nb.cells if c.cell_type == "code")
    started = time.monotonic()
    menu(driver, "Run", "Run All Cells")
    wait_for("every cell of lesson 4 run", lambda: kernel_idle(driver) and all(
        re.fullmatch(r"\[\d+\]:", p) for p in prompts(driver)), 600, driver)
    record(lab, "lesson 4 Run All -> idle, s", time.monotonic() - started)
    assert len(prompts(driver)) == code_cells
    shown = [i for i, cell in enumerate(cells(driver))
             if cell.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")]
    expected = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and schema.raises(cell)]
    assert shown == expected, "errors (or stderr) only in the cells that show an error on purpose"
    driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", cells(driver)[-1])
    shot(driver, "08_lesson4_run_all_done")


def test_without_a_browser_the_test_is_skipped_loudly_or_fails_where_required(monkeypatch, capsys):
    monkeypatch.delenv("COURSETOOLS_REQUIRE_BROWSER", raising=False)
    with pytest.warns(UserWarning, match="NO BROWSER: no chromium"), pytest.raises(pytest.skip.Exception):
        no_browser("no chromium")
    assert "NO BROWSER: no chromium" in capsys.readouterr().out
    monkeypatch.setenv("COURSETOOLS_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="COURSETOOLS_REQUIRE_BROWSER=1 but NO BROWSER"):
        no_browser("no chromium")
