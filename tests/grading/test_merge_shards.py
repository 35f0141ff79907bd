"""A class graded in shards and merged gives the report of one run; merge refuses parts that do not fit.

The class is small on purpose (six learners over one notebook, two of whom need a
kernel) so that grading it four times (once whole, three shards) stays fast.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from coursetools.grading import signing
from coursetools.grading.shards import PARTIAL, Shard, ShardError, course_fingerprint, parse_shard
from coursetools.grading.signing import KEY_ENV, SIGNATURE
from coursetools.grading.snapshot import take_snapshot
from fixtures.grading.classroom import (
    LAYERS,
    LAYERS_EXERCISES,
    PYTHON,
    ROOT,
    checksums,
    grade_cli,
    load,
    make_course,
    read_grades,
    set_answer,
    write_learner,
)

SHARDS = 3


KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0-instructor-only"  # signs the shards of the fixture (--key-file)


def merge_cli(parts: list[Path], out: Path, *options: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {name: value for name, value in os.environ.items() if name != KEY_ENV}
    return subprocess.run([PYTHON, "-m", "coursetools", "merge", *map(str, parts), "--out", str(out), *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env={**environment, **(env or {})})


def make_class(submissions: Path) -> None:
    write_learner(submissions, "ada", {LAYERS: load("solutions")})
    write_learner(submissions, "bob", {LAYERS: set_answer(load("solutions"), "1.1", "hidden = layers.Dense(8)")})
    write_learner(submissions, "cy", {LAYERS: load("exercises")})  # untouched: no kernel
    write_learner(submissions, "=dee", {LAYERS: b""})
    write_learner(submissions, "Zoë", {LAYERS: {"nbformat": 3, "worksheets": []}})
    os.mkdir(os.path.join(os.fsencode(submissions), b"e\xff"))  # no notebook; an undecodable name
    (submissions / "notes.txt").write_text("not a learner")
    (submissions / ".git").mkdir()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("shards")
    submissions = base / "submissions"
    make_class(submissions)
    before = checksums(submissions)
    options = ("--notebooks", LAYERS, "--no-progress", "--workers", "2")
    whole = grade_cli(submissions, base / "whole", *options)
    parts = [base / "parts" / f"part-{k}" for k in range(1, SHARDS + 1)]
    key_file = base / "parts.key"
    key_file.write_text(KEY + "\n")
    runs = [grade_cli(submissions, part, *options, "--shard", f"{k}/{SHARDS}", "--key-file", str(key_file))
            for k, part in enumerate(parts, 1)]
    merged = merge_cli(parts[::-1], base / "merged")  # any order of the parts
    assert checksums(submissions) == before
    return base, whole, runs, merged, parts


def masked_log(path: Path) -> str:
    return re.sub(r"\d+(\.\d+)? (s|MB|processes)\b", "# \\2", path.read_text(encoding="utf-8"))  # measurements


def masked_feedback(path: Path) -> str:
    return re.sub(r"\(graded [^)]*\)", "(graded #)", path.read_text(encoding="utf-8"))


def test_every_run_succeeded(graded):
    _, whole, runs, merged, _ = graded
    for result in (whole, *runs, merged):
        assert result.returncode == 0, result.stderr[-3000:]


def test_three_shards_merged_equal_one_run(graded):
    base, *_ = graded
    whole, merged = base / "whole", base / "merged"
    assert (merged / "grades.csv").read_bytes() == (whole / "grades.csv").read_bytes()
    names = sorted(p.name for p in (whole / "feedback").iterdir())
    assert names == sorted(p.name for p in (merged / "feedback").iterdir()) and len(names) == 6
    for name in names:
        assert masked_feedback(merged / "feedback" / name) == masked_feedback(whole / "feedback" / name), name
    assert masked_log(merged / "grading.log") == masked_log(whole / "grading.log")
    rows = read_grades(whole)
    assert {row["learner"] for row in rows} == {"ada", "bob", "cy", "'=dee", "Zoë", "e\\xff [" +
                                                 __import__("hashlib").sha256(b"e\xff").hexdigest()[:8] + "]"}
    assert {(row["learner"], row["status"]) for row in rows if row["exercise"] == "1.1"} >= {
        ("ada", "passed"), ("bob", "failed"), ("cy", "failed")}
    assert "skipped 'notes.txt'" in (whole / "grading.log").read_text() and "skipped '.git'" in (
        merged / "grading.log").read_text()


def test_merged_class_page_and_gradebook_equal_one_run(graded, tmp_path):
    base, _, _, _, parts = graded
    whole, merged = base / "whole", base / "merged"
    for name in ("class.html", "gradebook.csv"):
        assert (merged / name).read_bytes() == (whole / name).read_bytes(), name
    page = (whole / "class.html").read_text(encoding="utf-8")
    assert "6 learner(s) · 5 exercise(s) in 1 notebook(s)" in page.replace("&middot;", "·")
    assert "computes_relu" not in page and "relu_output_is_never_negative" not in page
    # With a roster: merge --roster writes what `report --roster` makes of the one-run report.
    roster = tmp_path / "roster.csv"
    roster.write_text("name,lms_id\nada,ada@uni.example\n=dee,dee@uni.example\nZoë,zoe@uni.example\nghost,g@x\n",
                      encoding="utf-8")
    with_roster = merge_cli(parts, tmp_path / "merged", "--roster", str(roster))
    assert with_roster.returncode == 0, with_roster.stderr[-2000:]
    shutil.copytree(whole, tmp_path / "whole")
    again = subprocess.run([PYTHON, "-m", "coursetools", "report", str(tmp_path / "whole"), "--roster", str(roster)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    book = (tmp_path / "merged" / "gradebook.csv").read_bytes()
    assert book == (tmp_path / "whole" / "gradebook.csv").read_bytes()
    assert book.startswith(b"learner,lms_id,total,max,01_layers\r\nbob,,4,5,4\r\ncy,,0,5,0\r\n")  # no id: first
    assert book.endswith(b"'=dee,dee@uni.example,0,5,0\r\nZo\xc3\xab,zoe@uni.example,0,5,0\r\nada,ada@uni.example,5,5,5\r\n")
    for said in (with_roster.stderr, again.stderr):
        assert "learner 'bob' is not in the roster" in said and "the roster names 'ghost'" in said


def test_each_shard_holds_its_slice_and_says_so(graded):
    _, _, runs, _, parts = graded
    seen = []
    for k, (result, part) in enumerate(zip(runs, parts), 1):
        info = json.loads((part / PARTIAL).read_text())
        assert info["shard"] == {"index": k, "count": SHARDS, "source": "--shard"}
        assert len(info["class"]) == 6 and len(info["learners"]) == 2
        seen += [entry["folder"] for entry in info["learners"]]
        assert f"shard {k}/{SHARDS}" in result.stdout
        assert "partial report: shard" in (part / "grading.log").read_text()
        assert len(read_grades(part)) == 2 * len(LAYERS_EXERCISES)
    assert sorted(seen) == sorted(info["class"])


def edited_copy(part: Path, target: Path, edit) -> Path:
    shutil.copytree(part, target)
    info = json.loads((target / PARTIAL).read_text())
    edit(info)
    (target / PARTIAL).write_text(json.dumps(info))
    return target


@pytest.mark.parametrize(
    "case, phrase",
    [
        ("missing", "shard(s) 3/3 missing"),
        ("twice", "is given twice"),
        ("other-release", "another course or release"),
        ("other-options", "other options"),
        ("other-class", "another class"),
        ("other-count", "is one of 3"),
        ("overlap", "was graded twice"),
        ("dropped-learner", "of the class is graded in no part: the parts hold 5 learner(s), the class 6"),
        ("not-partial", "is not a partial report"),
        ("out-is-a-part", "is one of the partial reports"),
    ],
)
def test_merge_refuses_parts_that_do_not_belong_together(graded, tmp_path, case, phrase):
    _, _, _, _, parts = graded
    one, two, three = parts
    if case == "missing":
        given = [one, two]
    elif case == "twice":
        given = [one, two, three, one]
    elif case == "other-release":
        given = [one, two, edited_copy(three, tmp_path / "p3", lambda i: i.update(course="0" * 64))]
    elif case == "other-options":
        given = [one, two, edited_copy(three, tmp_path / "p3", lambda i: i["options"].update(hidden=False))]
    elif case == "other-class":
        given = [one, two, edited_copy(three, tmp_path / "p3", lambda i: i["class"].append(b"late".hex()))]
    elif case == "other-count":
        given = [one, two, edited_copy(three, tmp_path / "p3", lambda i: i["shard"].update(index=3, count=4))]
    elif case == "overlap":  # shard 3 also claims a learner of shard 1
        ones = json.loads((one / PARTIAL).read_text())["learners"]
        given = [one, two, edited_copy(three, tmp_path / "p3", lambda i: i["learners"].append(ones[0]))]
    elif case == "dropped-learner":  # shard 3 lost one of its learners
        given = [one, two, edited_copy(three, tmp_path / "p3", lambda i: i["learners"].pop())]
    elif case == "not-partial":
        (tmp_path / "p3").mkdir()
        given = [one, two, tmp_path / "p3"]
    else:
        given = [one, two, three]
    out = one if case == "out-is-a-part" else tmp_path / "merged"
    result = merge_cli(given, out)
    assert result.returncode == 2, result.stdout + result.stderr
    assert phrase in result.stderr
    assert case == "out-is-a-part" or not (tmp_path / "merged").exists()


# --- signed parts: merge with the instructor's key refuses what it cannot vouch for -------------

def part_of(parts: list[Path], learner: str) -> Path:
    return next(part for part in parts if learner in [e["name"] for e in json.loads((part / PARTIAL).read_text())["learners"]])


def wrong_1_1_passed(info: dict) -> None:
    """The issue's edit: bob's wrong 1.1 says passed, worth 5 points."""
    for entry in info["learners"]:
        if entry["name"] == "bob":
            row = entry["notebooks"][LAYERS]["results"][0]
            assert row["exercise"] == "1.1" and row["status"] == "failed"
            row.update(status="passed", max_points=5, message="✅ 1.1 passed")


def test_each_shard_is_signed_and_merge_with_the_key_accepts_them(graded, tmp_path):
    base, _, runs, _, parts = graded
    for run, part in zip(runs, parts):
        signed = json.loads((part / SIGNATURE).read_text())
        assert signed["key_id"] == signing.key_id(KEY.encode()) and signed["algorithm"] == "HMAC-SHA256"
        assert {"partial.json", "grades.csv", "grading.log", "class.html", "gradebook.csv"} <= set(signed["files"])
        assert [name for name in signed["files"] if name.startswith("feedback/")]
        assert f"partial report signed: {part / SIGNATURE}" in run.stdout
    for how, options, env in (("file", ("--key-file", str(base / "parts.key")), None),
                              ("environment", (), {KEY_ENV: KEY})):
        result = merge_cli(parts, tmp_path / how, *options, env=env)
        assert result.returncode == 0, (how, result.stderr[-3000:])
        assert "every partial report is signed with the key given" in result.stdout and "not verified" not in result.stderr
        assert (tmp_path / how / "grades.csv").read_bytes() == (base / "whole" / "grades.csv").read_bytes()


def test_without_a_key_merge_says_the_parts_are_not_verified(graded, tmp_path):
    """Today's behaviour, said out loud: an edited part merges, and merge warns that nothing was checked."""
    _, _, _, merged, parts = graded
    assert "the partial reports were not verified" in merged.stderr
    bob = part_of(parts, "bob")
    given = [edited_copy(part, tmp_path / part.name, wrong_1_1_passed) if part == bob else part for part in parts]
    result = merge_cli(given, tmp_path / "merged")
    assert result.returncode == 0 and "the partial reports were not verified" in result.stderr
    row = next(r for r in read_grades(tmp_path / "merged") if r["learner"] == "bob" and r["exercise"] == "1.1")
    assert (row["status"], row["points"], row["max_points"]) == ("passed", "5", "5")  # what a key prevents


def resigned(part: Path, target: Path, key: bytes) -> Path:
    shutil.copytree(part, target)
    signing.sign(target, key)
    return target


def forged(part: Path, target: Path) -> Path:
    """partial.json edited, and its new hash written into the signature (the HMAC cannot be redone)."""
    edited_copy(part, target, wrong_1_1_passed)
    signed = json.loads((target / SIGNATURE).read_text())
    signed["files"]["partial.json"] = __import__("hashlib").sha256((target / PARTIAL).read_bytes()).hexdigest()
    (target / SIGNATURE).write_text(json.dumps(signed))
    return target


@pytest.mark.parametrize(
    "case, phrase",
    [
        ("altered", "was altered after it was signed: 'partial.json' changed"),
        ("unsigned", "is not signed (it has no signature.json)"),
        ("other-key", "was signed with another key"),
        ("forged-signature", "its signature.json was altered"),
        ("feedback-changed", "was altered after it was signed: 'feedback/bob.md' changed"),
        ("file-added", "was altered after it was signed: 'feedback/mallory.md' added"),
    ],
)
def test_merge_with_the_key_refuses_unsigned_or_altered_parts(graded, tmp_path, case, phrase):
    _, _, _, _, parts = graded
    bob = part_of(parts, "bob")
    target = tmp_path / "p"
    if case == "altered":
        changed = edited_copy(bob, target, wrong_1_1_passed)
    elif case == "unsigned":
        shutil.copytree(bob, target)
        (target / SIGNATURE).unlink()
        changed = target
    elif case == "other-key":
        changed = resigned(bob, target, b"another-instructor-key-of-32-bytes")
    elif case == "forged-signature":
        changed = forged(bob, target)
    elif case == "feedback-changed":
        shutil.copytree(bob, target)
        (target / "feedback" / "bob.md").write_text("# Feedback for bob\n\nTotal: 5 / 5\n")
        changed = target
    else:
        shutil.copytree(bob, target)
        (target / "feedback" / "mallory.md").write_text("# Feedback for mallory\n")
        changed = target
    given = [changed if part == bob else part for part in parts]
    result = merge_cli(given, tmp_path / "merged", env={KEY_ENV: KEY})
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"merge: {changed}" in result.stderr and phrase in result.stderr, result.stderr
    assert not (tmp_path / "merged").exists()


def test_a_key_too_short_or_unreadable_is_refused_before_grading(graded, tmp_path):
    _, _, _, _, parts = graded
    short = merge_cli(parts, tmp_path / "merged", env={KEY_ENV: "secret"})
    assert short.returncode == 2 and "is 6 byte(s) long; use at least 16" in short.stderr
    unreadable = merge_cli(parts, tmp_path / "merged", "--key-file", str(tmp_path / "nowhere.key"))
    assert unreadable.returncode == 2 and "nowhere.key cannot be read" in unreadable.stderr
    assert not (tmp_path / "merged").exists()
    refused = grade_cli(tmp_path / "class", tmp_path / "report", "--key-file", str(tmp_path / "k"))
    assert refused.returncode == 2 and "--key-file signs partial reports: give it with --shard K/N" in refused.stderr


def test_a_damaged_learner_entry_is_named(graded, tmp_path):
    """A learner entry without its notebooks: merge names the part, the entry and what it lacks."""
    _, _, _, _, parts = graded
    bob = part_of(parts, "bob")

    def damage(info):
        for entry in info["learners"]:
            if entry["name"] == "bob":
                del entry["notebooks"]

    given = [edited_copy(part, tmp_path / part.name, damage) if part == bob else part for part in parts]
    result = merge_cli(given, tmp_path / "merged")
    assert result.returncode == 2, result.stdout + result.stderr
    number = [e["name"] for e in json.loads((bob / PARTIAL).read_text())["learners"]].index("bob") + 1
    assert (f"{tmp_path / bob.name / PARTIAL} is damaged: learner entry {number} of 2 ('bob') has no 'notebooks'. "
            "Grade that shard again") in result.stderr
    assert "learner(s), the class" not in result.stderr


def test_merge_keeps_a_shard_s_suspicious_deaths_and_missing_sandbox(graded, tmp_path):
    """A shard that lost its verdict process, or ran without a sandbox, must not vanish in the merge."""
    _, _, _, _, parts = graded
    one, two, three = parts

    def alarm(info):
        info["suspicious"] = ["the verdict process died (signal 9) while judging learner 'x'"]
        info["sandbox"] = "WARNING: NO SANDBOX: bubblewrap is not installed"

    result = merge_cli([one, edited_copy(two, tmp_path / "p2", alarm), three], tmp_path / "merged")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "died unexpectedly" in result.stderr
    log = (tmp_path / "merged" / "grading.log").read_text(encoding="utf-8")
    assert "WARNING: NO SANDBOX on some shards: shard 2/3: WARNING: NO SANDBOX: bubblewrap" in log


def test_the_course_fingerprint_changes_with_checks_and_notebooks(tmp_path):
    course = make_course(tmp_path / "course")
    before = course_fingerprint(take_snapshot(course, only=[LAYERS]), course / "data")
    assert course_fingerprint(take_snapshot(course, only=[LAYERS]), course / "data") == before
    check = course / "coursetools" / "lessons" / "lesson01" / "checks.py"
    check.write_text(check.read_text() + "\n# changed\n")
    changed = course_fingerprint(take_snapshot(course, only=[LAYERS]), course / "data")
    assert changed != before
    nb = json.loads((course / "exercises" / LAYERS).read_text())
    nb["cells"][0]["source"] = "# Lesson 1 — Exercises: changed"
    (course / "exercises" / LAYERS).write_text(json.dumps(nb))
    assert course_fingerprint(take_snapshot(course, only=[LAYERS]), course / "data") not in (before, changed)


# --- choosing a shard ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "value, env, expected",
    [
        ("2/3", {}, (2, 3)),
        (" 3/3 ", {"SLURM_ARRAY_TASK_ID": "9"}, (3, 3)),  # explicit wins over the environment
        ("auto", {"COURSETOOLS_SHARD": "2/5"}, (2, 5)),
        ("auto/5", {"COURSETOOLS_SHARD": "5/5"}, (5, 5)),
        ("auto", {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "4",
                  "SLURM_ARRAY_TASK_COUNT": "4"}, (1, 4)),
        ("auto", {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "3",
                  "SLURM_ARRAY_TASK_COUNT": "4"}, (4, 4)),
        ("auto/3", {"SLURM_ARRAY_TASK_ID": "20", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_MAX": "30",
                    "SLURM_ARRAY_TASK_STEP": "10", "SLURM_ARRAY_TASK_COUNT": "3"}, (2, 3)),
        ("auto/4", {"JOB_COMPLETION_INDEX": "0"}, (1, 4)),
        ("auto/4", {"JOB_COMPLETION_INDEX": "3"}, (4, 4)),
    ],
)
def test_shard_from_arguments_and_engines(value, env, expected):
    shard = parse_shard(value, env)
    assert (shard.index, shard.count) == expected


@pytest.mark.parametrize(
    "value, env, phrase",
    [
        ("0/3", {}, "does not exist"),
        ("4/3", {}, "does not exist"),
        ("2of3", {}, "must read K/N"),
        ("auto", {}, "names no shard"),
        ("auto", {"JOB_COMPLETION_INDEX": "1"}, "auto/N"),
        ("auto/4", {"JOB_COMPLETION_INDEX": "4"}, "does not exist"),
        ("auto/4", {"JOB_COMPLETION_INDEX": "x"}, "whole number"),
        ("auto", {"COURSETOOLS_SHARD": "1/2", "JOB_COMPLETION_INDEX": "1"}, "more than one"),
        ("auto/3", {"COURSETOOLS_SHARD": "1/2"}, "but COURSETOOLS_SHARD is 1/2"),
        ("auto", {"SLURM_ARRAY_TASK_ID": "3"}, "is this a Slurm job array"),
        ("auto", {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "5",
                  "SLURM_ARRAY_TASK_COUNT": "3"}, "one range of task ids"),  # --array=1,3,5
        ("auto/2", {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "3",
                    "SLURM_ARRAY_TASK_COUNT": "3"}, "has 3 task(s)"),
    ],
)
def test_impossible_shards_are_refused(value, env, phrase):
    with pytest.raises(ShardError, match=re.escape(phrase)):
        parse_shard(value, env)


def test_slices_cover_the_class_once_whatever_the_listing_order():
    folders = [Path("/class") / name for name in ["b", "a", "Zoë", "=x", "c d", "ab", "é", "z", "y", "x"]]
    folders.append(Path(os.fsdecode(b"/class/\xff")))
    slices = [Shard(k, 3).select(folders) for k in (1, 2, 3)]
    shuffled = folders[:]
    random.Random(7).shuffle(shuffled)
    assert [Shard(k, 3).select(shuffled) for k in (1, 2, 3)] == slices
    assert sorted(p for s in slices for p in s) == sorted(folders)
    assert sorted(len(s) for s in slices) == [3, 4, 4]
    assert Shard(1, 1).select(folders) == sorted(folders, key=lambda p: os.fsencode(p.name))
    assert Shard(5, 20).select(folders) == [sorted(folders, key=lambda p: os.fsencode(p.name))[4]]


def test_grade_takes_the_shard_from_the_engine(tmp_path):
    submissions = tmp_path / "class"
    for name in ("a", "b", "c", "d", "e"):
        write_learner(submissions, name, {LAYERS: b""})  # no kernel needed
    env = {**os.environ, "JOB_COMPLETION_INDEX": "1"}
    result = subprocess.run([PYTHON, "-m", "coursetools", "grade", str(submissions), "--out", str(tmp_path / "k8s"),
                             "--notebooks", LAYERS, "--no-progress", "--shard", "auto/2"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    info = json.loads((tmp_path / "k8s" / PARTIAL).read_text())
    assert info["shard"]["index"] == 2 and info["shard"]["count"] == 2
    assert [bytes.fromhex(entry["folder"]) for entry in info["learners"]] == [b"b", b"d"]
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "7"}
    refused = subprocess.run([PYTHON, "-m", "coursetools", "grade", str(submissions), "--out", str(tmp_path / "x"),
                              "--notebooks", LAYERS, "--no-progress", "--shard", "auto"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert refused.returncode == 2 and "Slurm job array" in refused.stderr
    assert not (tmp_path / "x").exists()
