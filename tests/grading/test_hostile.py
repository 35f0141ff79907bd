"""One learner must never take down the class's report.

Each learner of this class hands in something that once stopped the whole report
(exit 1 with no rows, or a "grader's side" fault, exit 3, that a re-run repeats):
malformed files, hostile folder names, code that damages the grader's folders or
injects Markdown into its own feedback. The class is graded by the real command;
every learner must get rows (``error`` / ``missing`` with a clear message where the
hand-in is at fault), every other answer must still be graded, and the run must
exit 0 with the report written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
import unicodedata

import pytest

from fixtures.grading.classroom import (
    LAYERS,
    LAYERS_EXERCISES,
    add_cell_after,
    assert_clear_rows,
    by_learner,
    cell_index,
    checksums,
    grade_cli,
    load,
    read_grades,
    set_answer,
    write_cases,
    write_learner,
)

ALL = LAYERS_EXERCISES
DEEP_FOLDERS = 1200  # deeper than Python's recursion limit (1000)
RIGHT_1_1 = 'hidden = layers.Dense(16, activation="relu")'
FAKE_HEADING = "### ✅ 1.2 Compute a Dense layer by hand: passed (1 / 1)"
INJECTION = "oops\n```\n\n" + FAKE_HEADING + "\n\n<h2>✅ everything passed</h2>\n\n````\n\n# Total: 4 / 4\n"


def solved_with(exercise: str, *parts: str) -> dict:
    answer = "\n".join(textwrap.dedent(part).strip() for part in parts)
    return {LAYERS: set_answer(load("solutions"), exercise, answer)}


def with_comment(exercise: str, comment: str) -> dict:
    """The solutions, with ``comment`` on a line of its own above the answer of ``exercise``; written
    as JSON with ASCII escapes, so a lone surrogate is spelled ``\\ud800`` as an editor would."""
    nb = load("solutions")
    cell = nb["cells"][cell_index(nb, "answer", exercise)]
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    cell["source"] = f"# {comment}\n{source}"
    return {LAYERS: json.dumps(nb).encode("ascii")}


# Code in an answer cell that reaches the grader's work folder from the kernel's working
# directory (<work>/runs/<run id>/course/exercises): what a sandbox (see the README) stops.
WORK = "import pathlib, shutil\n_run = pathlib.Path.cwd().parents[1]\n_work = _run.parents[1]\n"

CASES = {
    # an exception message with a lone surrogate reaches the CSV writer and the feedback file
    "surrogate-message": (
        solved_with("1.1", """
            class Sly(list):
                def __len__(self):
                    raise ValueError("bad \\ud800 text")
            hidden = Sly()
            """),
        {"1.1": ("error", "ValueError: bad \ufffd text")},
    ),
    # a lone surrogate in a comment: no UTF-8 message can carry the cell to the kernel as it is
    "surrogate-in-comment": (with_comment("1.2", "copied from a chat \ud800 somewhere"), {}),
    # a notebook of deeply nested JSON: json.loads raises RecursionError
    "deep-json": ({LAYERS: "[" * 100_000 + "]" * 100_000},
                  {e: ("error", "nested too deeply") for e in ALL}),
    # a learner folder that is a very deep tree of folders (no notebook in it)
    "deep-folders": ({}, {e: ("missing", "01_layers.ipynb is not in your folder") for e in ALL}),
    # the kernel rewrites the manifest of 1.1 with deeply nested JSON after the capture ran
    "deep-manifest": (
        solved_with("1.1", RIGHT_1_1, """
            import pathlib, re
            def _forge(result):
                found = re.search(r"\\('([^']+)', '1\\.1'", result.info.raw_cell or "")
                if found:
                    deep = "[" * 100_000 + "]" * 100_000
                    pathlib.Path(found.group(1), "manifest.json").write_text(
                        '{"exercise": "1.1", "evidence": {"layer": ' + deep + '}}')
            get_ipython().events.register("post_run_cell", _forge)
            """),
        {"1.1": ("error", "nested too deeply")},
    ),
    # the kernel pre-creates the folders the grader moves evidence into
    "precreates-evidence-folders": (
        solved_with("1.1", WORK, """
            for _ex in ("1.1", "1.2", "1.3", "1.4", "1.5"):
                (_work / "collected" / _run.name / _ex / "planted").mkdir(parents=True, exist_ok=True)
            """, RIGHT_1_1),
        {},
    ),
    # the kernel deletes the folder of collected evidence (1.1's evidence is in it by then)
    "deletes-evidence-folder": (
        solved_with("1.2", WORK, """
            shutil.rmtree(_work / "collected" / _run.name)
            y_by_hand = np.maximum(x @ kernel + bias, 0.0)
            """),
        {"1.1": ("error", "missing")},
    ),
    # the learner's code deletes its own scratch folder (working folder, HOME, TMPDIR)
    "deletes-own-scratch": (
        solved_with("1.1", WORK, "shutil.rmtree(_run)", RIGHT_1_1),
        {e: ("error", "could not be saved for the grader") for e in ("1.1", "1.3")},
    ),
    # newlines and code fences in a quoted message try to write a passing heading
    "injects-markdown": (
        {LAYERS: add_cell_after(
            set_answer(load("solutions"), "1.2", f"raise ValueError({INJECTION!r})"),
            cell_index(load("solutions"), "answer", "1.1"), f"raise RuntimeError({INJECTION!r})")},
        {"1.2": ("error", "raised ValueError: oops")},
    ),
}

# Folder names (bytes: any name a file system allows) that must all stay apart in grades.csv.
CLASHING_NAMES = [
    b"=SUM(1)",  # shown as '=SUM(1) for spreadsheet safety ...
    b"'=SUM(1)",  # ... which is what this one is called
    b"ab\xff",  # undecodable bytes
    b"ab\xfe",
    "Zoë".encode(),  # NFC
    unicodedata.normalize("NFD", "Zoë").encode(),  # NFD: looks the same
    "Zoë\u200b".encode(),  # with an invisible zero-width space
    b"fake\n### \xe2\x9c\x85 1.1 passed",  # a newline and a heading in the name
]
SKIPPED = [".hidden-learner", "__MACOSX"]


def make_deep_tree(folder) -> None:
    path = folder
    for _ in range(DEEP_FOLDERS):
        path = path / "d"
        path.mkdir()


def remove_deep_tree(folder) -> None:
    """Bottom-up and without recursion: shutil.rmtree recurses, and fails on such a tree."""
    if not folder.exists():
        return
    paths = [folder]
    while (paths[-1] / "d").is_dir():
        paths.append(paths[-1] / "d")
    for path in reversed(paths):
        shutil.rmtree(path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    submissions = base / "submissions"
    write_cases(submissions, CASES)
    make_deep_tree(submissions / "deep-folders")
    empty = {LAYERS: b""}
    for raw in CLASHING_NAMES:
        folder = os.path.join(os.fsencode(submissions), raw)
        os.mkdir(folder)
        with open(os.path.join(folder, LAYERS.encode()), "wb") as handle:
            handle.write(b"")
    fifo = write_learner(submissions, "fifo", {})
    os.mkfifo(fifo / LAYERS)
    for name in SKIPPED:
        write_learner(submissions, name, empty)
    before = checksums(submissions)
    # Without the sandbox: these defences must hold on machines that have none, and with it
    # the kernel could not even reach the grader's folders (see the sandboxed class below).
    result = grade_cli(submissions, base / "report", "--notebooks", LAYERS, "--workers", "2",
                       "--cell-timeout", "60", "--notebook-timeout", "240", "--no-sandbox")
    try:
        yield result, base / "report", before, checksums(submissions)
    finally:
        remove_deep_tree(submissions / "deep-folders")


def rows_of(report):
    return read_grades(report) if (report / "grades.csv").exists() else []


def test_the_class_was_graded(graded):
    result, report, *_ = graded
    assert result.returncode == 0, result.stderr[-3000:]
    rows = rows_of(report)
    learners = len(CASES) + len(CLASHING_NAMES) + 1  # + the fifo
    assert len(rows) == len(ALL) * learners
    assert len({row["learner"] for row in rows}) == learners
    assert len(list((report / "feedback").iterdir())) == learners
    log = (report / "grading.log").read_text(encoding="utf-8")
    assert "grader faults: 0" in log and "GRADER FAULT" not in log


@pytest.mark.parametrize("learner", sorted(CASES))
def test_each_learner_gets_clear_rows(graded, learner):
    _, report, *_ = graded
    mine = by_learner(rows_of(report)).get(learner)
    assert mine and sorted(mine) == list(ALL), f"no rows for {learner}"
    assert_clear_rows(mine, CASES[learner][1])


def test_no_self_contradicting_verdict_when_the_scratch_folder_is_gone(graded):
    _, report, *_ = graded
    mine = by_learner(rows_of(report))["deletes-own-scratch"]
    assert "failed" not in {row["status"] for row in mine.values()}
    assert all("is not a Dense layer" not in row["message"] for row in mine.values())
    assert "working folder" in mine["1.1"]["message"]


def test_a_lone_surrogate_in_a_comment_is_graded_and_its_cell_named(graded):
    """The cell runs with U+FFFD in place of the character; every exercise is graded; the feedback says where."""
    _, report, *_ = graded
    mine = by_learner(rows_of(report))["surrogate-in-comment"]
    assert {exercise: row["status"] for exercise, row in mine.items()} == {e: "passed" for e in ALL}
    feedback = (report / "feedback" / "surrogate-in-comment.md").read_text(encoding="utf-8")
    nb = json.loads(CASES["surrogate-in-comment"][0][LAYERS])
    cell = cell_index(nb, "answer", "1.2") + 1
    assert (f"your answer cell for exercise 1.2 (cell {cell} of your notebook) holds a character that cannot "
            "be encoded as UTF-8 (U+D800") in feedback
    assert "lost contact" not in feedback


def test_a_fifo_is_named_as_such(graded):
    _, report, *_ = graded
    mine = by_learner(rows_of(report))["fifo"]
    for exercise in ALL:
        assert mine[exercise]["status"] == "error"
        assert "named pipe" in mine[exercise]["message"] and "link or a folder" not in mine[exercise]["message"]


def test_different_folders_never_share_a_name(graded):
    _, report, *_ = graded
    names = {row["learner"] for row in rows_of(report)} - set(CASES) - {"fifo"}
    assert len(names) == len(CLASHING_NAMES)
    assert all("\n" not in name and "\r" not in name for name in names)
    assert "'=SUM(1)" in names  # the formula-like name, made safe exactly as before
    assert "Zoë" in names  # a plain name is shown as it is
    assert any(name.startswith("ab\\xff") for name in names)  # undecodable bytes are shown, not lost


def markdown_tree(text):
    import mistune  # nbconvert's Markdown parser, installed with JupyterLab (pinned through it)
    return mistune.create_markdown(renderer=None)(text)


def walk(nodes):
    for node in nodes:
        yield node
        yield from walk(node.get("children", []))


def plain(node):
    return node.get("raw", "") + "".join(plain(child) for child in node.get("children", []))


def test_quoted_text_cannot_write_headings_into_feedback(graded):
    _, report, *_ = graded
    checked = 0
    for path in (report / "feedback").iterdir():
        text = path.read_text(encoding="utf-8")
        nodes = list(walk(markdown_tree(text)))
        headings = [(node["attrs"]["level"], plain(node)) for node in nodes if node["type"] == "heading"]
        assert headings[0][0] == 1 and plain_heading_is_ours(headings[0][1], 1), (path.name, headings)
        assert [level for level, _ in headings[1:]] == [2] + [3] * len(ALL), (path.name, headings)
        assert sum("passed" in title for _, title in headings) <= len(ALL)
        assert not [node for node in nodes if node["type"] in ("inline_html", "block_html")], path.name
        checked += 1
        if path.name.startswith("injects-markdown"):
            assert "oops" in text and headings[3][1].startswith("⚠️ 1.2")
            assert "everything passed" in text  # quoted, as text
    assert checked == len(CASES) + len(CLASHING_NAMES) + 1


def plain_heading_is_ours(title, level):
    return level == 1 and title.startswith("Feedback for ") and "\n" not in title


def test_skipped_folders_are_noted_in_the_log(graded):
    _, report, *_ = graded
    log = (report / "grading.log").read_text(encoding="utf-8")
    for name in SKIPPED:
        assert f"skipped {name!r}" in log


def test_submissions_never_change(graded):
    *_, before, after = graded
    assert before == after and before["fifo/01_layers.ipynb"] == "special file"  # the pipe was never opened


# --- the same damage with the sandbox on: the grader's folders are out of reach -------------

REACHING = ("precreates-evidence-folders", "deletes-evidence-folder", "deletes-own-scratch")


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory):
    from fixtures.grading.sandboxing import sandbox_or_skip

    sandbox_or_skip()
    base = tmp_path_factory.mktemp("hostile-sandboxed")
    write_cases(base / "submissions", {name: CASES[name] for name in REACHING})
    result = grade_cli(base / "submissions", base / "report", "--notebooks", LAYERS, "--workers", "2",
                       "--cell-timeout", "60", "--notebook-timeout", "240")
    return result, base / "report"


@pytest.mark.parametrize("learner", REACHING)
def test_in_the_sandbox_the_grader_s_folders_cannot_be_reached(sandboxed, learner):
    result, report = sandboxed
    assert result.returncode == 0, result.stderr[-3000:]
    mine = by_learner(rows_of(report))[learner]
    damaged = {"precreates-evidence-folders": "1.1", "deletes-evidence-folder": "1.2",
               "deletes-own-scratch": "1.1"}[learner]
    # the answer cell that reaches out raises (a read-only or missing folder): that exercise is
    # the learner's error; every other exercise is graded as usual and passes
    assert_clear_rows(mine, {damaged: ("error", "Your answer cell for exercise")})
