"""Reading and rebuilding a submission, the manifest rules, the report format: no kernel needed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from coursetools import evidence
from coursetools.grading import manifest
from coursetools.grading.learners import learner_name, read_learner
from coursetools.grading.outcome import clip, safe_text
from coursetools.grading.report import feedback_name, one_line, spreadsheet_safe
from coursetools.grading.run import capture_source, preamble_source
from coursetools.grading.snapshot import CourseError, parse_check_call, take_snapshot
from coursetools.grading.submission import (
    ADDED, ANSWER, CHECK, ERROR, MISSING, SETUP, SubmissionError, parse_notebook, rebuild,
)
from fixtures.grading.classroom import (
    LAYERS, LAYERS_EXERCISES, ROOT, add_cell_after, cell_index, duplicate_cell, load, set_check,
)


@pytest.fixture(scope="module")
def pristine():
    return take_snapshot(ROOT, only=[LAYERS]).pristine[LAYERS]


def plan_of(pristine, nb):
    return rebuild(pristine, parse_notebook(json.dumps(nb).encode()))


def sources(plan, role):
    return [(c.exercise, c.source) for c in plan.cells if c.role == role]


# --- reading the file ---------------------------------------------------------------

@pytest.mark.parametrize(
    "data, phrase",
    [
        (b"", "the file is empty"),
        (b"   \n", "the file is empty"),
        (b'{"cells": [', "JSON error at line 1"),
        (b"\xff\xfe\x00binary", "not text"),
        (b"[1, 2, 3]", "not a Jupyter notebook"),
        (b'{"nbformat": 3, "worksheets": []}', "notebook format 3"),
        (b'{"nbformat": 5, "cells": []}', "notebook format 5"),
        (b'{"nbformat": 4, "cells": {"a": 1}}', "damaged"),
        (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}', "damaged"),
        (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": "", "metadata": {"tags": "answer"}}]}', "damaged"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": "", "metadata": {"exercise": '
         + b"[" * 900 + b"]" * 900 + b"}}]}", "damaged"),
        (b'{"nbformat": ' + b"4" * 5000 + b"}", "a value no notebook editor writes"),
        (b'{"nbformat": "4", "cells": []}', 'holds the text "4" instead of the number 4'),
        (b'{"nbformat": null, "cells": []}', "holds the value null"),
    ],
)
def test_unreadable_files_get_a_learner_message(data, phrase):
    with pytest.raises(SubmissionError) as caught:
        parse_notebook(data)
    assert phrase in str(caught.value)
    assert "Traceback" not in str(caught.value)


@pytest.mark.parametrize("version", ['"4"', '"four"', "4.5", "[4]", "true"])
def test_a_wrong_format_number_is_named_without_contradiction(version):
    with pytest.raises(SubmissionError) as caught:
        parse_notebook(b'{"nbformat": ' + version.encode() + b', "cells": []}')
    message = str(caught.value)
    assert "format 4, but this course uses format 4" not in message
    assert "format 4.5, an unknown newer format" in message if version == "4.5" else "damaged" in message


def test_a_bom_and_list_sources_are_fine(pristine):
    nb = load("solutions")
    for cell in nb["cells"]:
        cell["source"] = cell["source"].splitlines(keepends=True) if isinstance(cell["source"], str) else cell["source"]
    plan = rebuild(pristine, parse_notebook(b"\xef\xbb\xbf" + json.dumps(nb).encode()))
    assert not plan.problems and len(sources(plan, ANSWER)) == len(LAYERS_EXERCISES)


# --- rebuilding from the pristine notebook --------------------------------------------

def test_solved_notebook_keeps_answers_and_pristine_checks(pristine):
    plan = plan_of(pristine, load("solutions"))
    assert [e for e, _ in sources(plan, ANSWER)] == list(LAYERS_EXERCISES)
    assert sources(plan, CHECK) == [(e, f'check("{e}", {a})') for e, a in [
        ("1.1", "layer=hidden"), ("1.2", "y_by_hand=y_by_hand"), ("1.3", "layer=wide"),
        ("1.4", "batch=batch, one_output=one_output"), ("1.5", "values=values, symbolic_shape=symbolic_shape")]]
    assert not plan.problems and not plan.untouched


def test_unchanged_exercise_notebook_is_untouched(pristine):
    assert plan_of(pristine, load("exercises")).untouched
    nb = load("exercises")
    assert not plan_of(pristine, add_cell_after(nb, 3, "hidden = 1")).untouched


def test_edited_setup_and_check_cells_are_replaced(pristine):
    nb = load("solutions")
    setup = next(i for i, c in enumerate(nb["cells"]) if "dense_by_hand_example()" in "".join(c["source"]))
    nb["cells"][setup]["source"] = "x = kernel = bias = 0"
    set_check(nb, "1.1", 'check("1.1", layer=layers.Dense(16, activation="relu"))')
    plan = plan_of(pristine, nb)
    text = "\n".join(c.source for c in plan.cells)
    assert "x = kernel = bias = 0" not in text and "x, kernel, bias = dense_by_hand_example()" in text
    assert ("1.1", 'check("1.1", layer=hidden)') in sources(plan, CHECK)


def test_deleted_check_cell_comes_back(pristine):
    nb = load("solutions")
    del nb["cells"][cell_index(nb, "check", "1.2")]
    assert ("1.2", 'check("1.2", y_by_hand=y_by_hand)') in sources(plan_of(pristine, nb), CHECK)


def test_added_cells_stay_after_the_cell_they_followed(pristine):
    nb = load("solutions")
    add_cell_after(nb, cell_index(nb, "answer", "1.2"), "helper = 2")
    add_cell_after(nb, 0, "print('first')")
    plan = plan_of(pristine, nb)
    roles = [(c.role, c.exercise) for c in plan.cells]
    helper = next(i for i, c in enumerate(plan.cells) if c.source == "helper = 2")
    assert roles[helper - 1] == (ANSWER, "1.2") and roles[helper + 1] == (CHECK, "1.2")
    assert plan.cells[helper].role == ADDED and plan.cells[helper].exercise == "1.2"
    first = next(i for i, c in enumerate(plan.cells) if c.source == "print('first')")
    assert first == 0  # before the first code cell, as in the learner's notebook


def test_deleted_answer_is_missing_and_placeholder_kept(pristine):
    nb = load("solutions")
    del nb["cells"][cell_index(nb, "answer", "1.3")]
    plan = plan_of(pristine, nb)
    assert plan.problems["1.3"][0] == MISSING
    assert ("1.3", '# Exercise 1.3: replace not_done("1.3") with your code.\nwide = not_done("1.3")') in [
        (c.exercise, c.source) for c in plan.cells if c.role == SETUP]


def test_duplicated_answer_is_an_error(pristine):
    nb = load("solutions")
    plan = plan_of(pristine, duplicate_cell(nb, cell_index(nb, "answer", "1.1")))
    assert plan.problems["1.1"][0] == ERROR and "2 answer cells" in plan.problems["1.1"][1]


def test_answer_cell_without_its_tags_is_still_the_answer(pristine):
    nb = load("solutions")
    nb["cells"][cell_index(nb, "answer", "1.4")]["metadata"] = {}
    plan = plan_of(pristine, nb)
    assert not plan.problems and [e for e, _ in sources(plan, ANSWER)] == list(LAYERS_EXERCISES)


def test_answer_turned_into_markdown_is_an_error(pristine):
    nb = load("solutions")
    nb["cells"][cell_index(nb, "answer", "1.2")]["cell_type"] = "markdown"
    nb["cells"][cell_index(nb, "answer", "1.2")].pop("outputs", None)
    assert "Markdown" in plan_of(pristine, nb).problems["1.2"][1]


def test_foreign_answer_tag_runs_as_an_added_cell(pristine):
    nb = load("solutions")
    add_cell_after(nb, 3, "z = 1", tags=["answer"], exercise="9.9")
    plan = plan_of(pristine, nb)
    assert any(c.role == ADDED and c.source == "z = 1" for c in plan.cells)
    assert "9.9" in plan.notes[0]


# --- capture cells ------------------------------------------------------------------

def test_capture_cell_hands_over_each_evidence_expression():
    call = parse_check_call('check("2.5", features=features, classifier=classifier)', "2.5")
    source = capture_source(call, "_capture_ab", Path("/private/ev/xyz"))
    assert source == ("_capture_ab('/private/ev/xyz', '2.5', {'features': lambda: (features), "
                      "'classifier': lambda: (classifier)})")
    compile(source, "capture", "exec")
    compile(preamble_source("_capture_ab"), "preamble", "exec")


@pytest.mark.parametrize("source", ['check("1.1")(x)', 'print(1)', 'check("1.2", layer=x)', 'check("1.1", *a)'])
def test_malformed_check_cells_are_a_course_error(source):
    with pytest.raises(CourseError):
        parse_check_call(source, "1.1")


# --- manifest rules -----------------------------------------------------------------

@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "keras", "file": "../layer.keras"},
        {"kind": "keras", "file": "/etc/passwd"},
        {"kind": "keras", "file": "other.keras"},
        {"kind": "array", "file": "layer.keras"},
        {"kind": "passed"},
        {"kind": "json"},
        "layer.keras",
    ],
)
def test_manifest_entries_that_break_the_rules_are_refused(entry):
    with pytest.raises(evidence.ManifestError):
        evidence.validate_manifest({"exercise": "1.1", "evidence": {"layer": entry}}, "1.1", ("layer",))


def test_manifest_must_match_the_exercise_and_its_names():
    good = {"kind": "keras", "file": "layer.keras"}
    assert evidence.validate_manifest({"exercise": "1.1", "evidence": {"layer": good}}, "1.1", ("layer",)) == {"layer": good}
    for bad in ({"exercise": "1.2", "evidence": {"layer": good}},
                {"exercise": "1.1", "evidence": {"layer": good, "extra": good}},
                {"exercise": "1.1", "evidence": {}}):
        with pytest.raises(evidence.ManifestError):
            evidence.validate_manifest(bad, "1.1", ("layer",))


def test_evidence_files_must_be_regular_files(tmp_path):
    (tmp_path / "real.keras").write_bytes(b"x")
    (tmp_path / "layer.keras").symlink_to(tmp_path / "real.keras")
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"exercise": "1.1", "evidence": {"layer": {"kind": "keras", "file": "layer.keras"}}}))
    with pytest.raises(evidence.ManifestError, match="not a regular file"):
        manifest.read(tmp_path, "1.1", ("layer",))


# --- learner folders and the report -------------------------------------------------

def test_links_are_never_followed(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / LAYERS).write_text("{}")
    me = tmp_path / "me"
    me.mkdir()
    (me / LAYERS).symlink_to(other / LAYERS)
    files = read_learner(me, [LAYERS])
    assert "link" in str(files.notebooks[LAYERS])
    (tmp_path / "linked-folder").symlink_to(other)
    assert "link" in read_learner(tmp_path / "linked-folder", [LAYERS]).problem


def test_other_notebooks_are_listed_for_rename_hints(tmp_path):
    (tmp_path / "01_layers (1).ipynb").write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / LAYERS).write_text("{}")
    assert read_learner(tmp_path, [LAYERS]).others == ["01_layers (1).ipynb", "sub/01_layers.ipynb"]


def test_feedback_names_are_safe_and_unique():
    taken: set[str] = set()
    names = [feedback_name(n, taken) for n in ["Zoë O'Brien", "../../etc/passwd", "zoë o'brien", "", "a/b"]]
    assert names[0] == "Zoë O_Brien.md"
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert len(set(n.lower() for n in names)) == len(names)


def test_csv_cells_cannot_become_formulas():
    assert spreadsheet_safe("=1+2") == "'=1+2" and spreadsheet_safe("@x") == "'@x"
    assert spreadsheet_safe("Zoë") == "Zoë"
    assert one_line("❌ 1.1: wrong\n   hint: x\n") == "❌ 1.1: wrong | hint: x"
    assert one_line("❌ 1.1: wrong\n   found:    8 units\n") == "❌ 1.1: wrong | found: 8 units"


def test_grade_exits_non_zero_only_when_grading_cannot_run(tmp_path):
    from fixtures.grading.classroom import grade_cli, read_grades, write_learner

    missing = grade_cli(tmp_path / "no-such-folder", tmp_path / "report")
    assert missing.returncode == 2 and "could not run" in missing.stderr
    # A class whose files are all unusable is still graded (no kernel needed): exit 0, rows written.
    write_learner(tmp_path / "class", "empty", {LAYERS: b""})
    write_learner(tmp_path / "class", "absent", {})
    graded = grade_cli(tmp_path / "class", tmp_path / "report", "--notebooks", LAYERS, "--no-progress")
    assert graded.returncode == 0, graded.stderr
    assert {(r["learner"], r["status"]) for r in read_grades(tmp_path / "report")} == {
        ("empty", "error"), ("absent", "missing")}


# --- hostile files, folders and names (see also test_hostile.py) ---------------------

def test_special_files_are_named_for_what_they_are(tmp_path):
    os.mkfifo(tmp_path / LAYERS)  # reading it would block the grader forever
    message = str(read_learner(tmp_path, [LAYERS]).notebooks[LAYERS])
    assert "is a named pipe (FIFO), not a notebook file" in message and "link or a folder" not in message
    (tmp_path / LAYERS).unlink()
    (tmp_path / LAYERS).mkdir()
    assert "is a folder, not a notebook file" in str(read_learner(tmp_path, [LAYERS]).notebooks[LAYERS])


def test_a_very_deep_folder_tree_is_not_walked(tmp_path):
    deep = tmp_path / "sub"
    deep.mkdir()
    (deep / "02_sequential.ipynb").write_text("{}")
    for _ in range(1200):  # deeper than Python's recursion limit
        deep = deep / "d"
        deep.mkdir()
    (deep / "lost.ipynb").write_text("{}")
    try:
        files = read_learner(tmp_path, [LAYERS])
        assert files.others == ["sub/02_sequential.ipynb"] and LAYERS not in files.notebooks
    finally:
        while deep != tmp_path:  # shutil.rmtree recurses too: remove it bottom-up
            shutil.rmtree(deep)
            deep = deep.parent


def test_manifest_json_too_deep_for_the_parser_is_refused(tmp_path):
    (tmp_path / "manifest.json").write_text('{"exercise": "1.1", "evidence": {"layer": ' + "[" * 100_000
                                            + "]" * 100_000 + "}}")
    with pytest.raises(evidence.ManifestError, match="nested too deeply"):
        manifest.read(tmp_path, "1.1", ("layer",))
    (tmp_path / "manifest.json").write_text('{"exercise": "1.1", "evidence": {"layer": ' + "7" * 5000 + "}}")
    with pytest.raises(evidence.ManifestError, match="not valid JSON"):
        manifest.read(tmp_path, "1.1", ("layer",))


def test_manifest_values_nest_no_deeper_than_the_exporter_writes(tmp_path):
    from coursetools.evidence import MAX_TREE_DEPTH, export_evidence

    value: object = 1
    for _ in range(MAX_TREE_DEPTH + 1):  # the deepest list of lists the exporter writes as one JSON value
        value = [value]
    entry = json.loads(json.dumps(export_evidence(value, tmp_path, "v")))
    assert entry["kind"] == "json" and evidence.validate_entry("v", entry) == entry
    tree = json.loads(json.dumps(export_evidence([np.ones(2), value], tmp_path, "t")))
    evidence.validate_entry("t", tree)  # a plain value inside a tree: one level less, as written
    with pytest.raises(evidence.ManifestError, match="nested too deeply"):
        evidence.validate_entry("v", {"kind": "json", "value": [value]})
    with pytest.raises(evidence.ManifestError, match="nested too deeply"):
        evidence.validate_entry("t", {"kind": "tree", "type": "list", "items": [{"kind": "json", "value": value}]})


def test_manifest_text_fields_must_be_text():
    deep: object = "x"
    for _ in range(900):
        deep = [deep]
    entry = evidence.validate_entry("layer", {"kind": "unexportable", "description": deep, "nature": [1]})
    assert entry == {"kind": "unexportable", "description": "a value", "nature": "other"}
    error = evidence.validate_entry("layer", {"kind": "capture_error", "error": deep, "message": {}, "stage": "save"})
    assert error == {"kind": "capture_error", "error": "Exception", "message": "", "stage": "save"}
    with pytest.raises(evidence.ManifestError):
        evidence.validate_entry("layer", {"kind": "keras", "file": deep})


def test_lone_surrogates_never_reach_a_file():
    assert clip("bad \ud800 text") == "bad \ufffd text"
    assert safe_text("\udcff") == "\ufffd"
    assert "\u2028" not in clip("a\u2028b") and "\x85" not in clip("a\x85b")


CLASHING = [b"=x", b"'=x", b"'=x [3c6e0b8a]", b"ab\xff", b"ab\xfe", b"ab\\xff", "Zo\u00eb".encode(),
            "Zoe\u0308".encode(), "Zo\u00eb\u200b".encode(), "Zo\u00eb ".encode(), "Zo\u00eb\u00a0".encode(),
            b"x\ny", b"x\\x0ay", b"Ada", b"ada"]


def test_learner_names_are_unique_readable_and_depend_on_the_folder_alone():
    names = [learner_name(os.fsdecode(raw)) for raw in CLASHING]
    assert len(set(names)) == len(CLASHING)
    assert len({spreadsheet_safe(name) for name in names}) == len(CLASHING)  # as grades.csv shows them
    assert all(name.isprintable() for name in names)
    assert names[0] == "=x" and spreadsheet_safe(names[0]) == "'=x"
    assert names[6] == "Zoë" and names[13] == "Ada" and names[5] == "ab\\xff"  # plain names as they are
    assert names[3].startswith("ab\\xff [") and names[7].startswith("Zoë [")
    assert [learner_name(os.fsdecode(raw)) for raw in reversed(CLASHING)] == names[::-1]


def test_feedback_keeps_quoted_text_quoted():
    mistune = pytest.importorskip("mistune")
    from coursetools.grading.grader import LearnerOutcome
    from coursetools.grading.learners import LearnerFiles
    from coursetools.grading.notebook import NotebookOutcome
    from coursetools.grading.outcome import ExerciseResult
    from coursetools.grading.report import feedback_text

    trick = "x\n````\n## ✅ 1.1 passed\n<h1>all passed</h1>\n"
    results = [ExerciseResult(LAYERS, "1.1", "Make a Dense layer", "error", 1, "raised ValueError: " + trick)]
    learner = LearnerOutcome(LearnerFiles("n", learner_name("`## ✅ <b>x</b>\n# y")))
    learner.notebooks[LAYERS] = NotebookOutcome(results, notes=["a cell raised " + trick])
    text = feedback_text(learner, "today")
    tree = mistune.create_markdown(renderer=None)(text)
    blocks = [node["type"] for node in tree if node["type"] != "blank_line"]
    assert blocks[:4] == ["heading", "paragraph", "heading", "heading"] and blocks.count("heading") == 3
    assert "block_html" not in blocks and "<h1>all passed</h1>" in text
    assert [n for n in tree if n["type"] == "block_code"][0]["raw"].startswith("Raised ValueError: x\n````\n## ✅")


def test_the_readme_names_learners_as_the_grader_does():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for folder, shown in [("Zoe\u0308", "Zoë [c106d155]"), (os.fsdecode(b"ab\xff"), "ab\\xff [2a40b10d]"),
                          ("'=x", "'=x [166d3f4f]"), ("=x", "=x")]:
        assert learner_name(folder) == shown and f"`{shown}`" in readme
