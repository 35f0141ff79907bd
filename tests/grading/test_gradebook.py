"""gradebook.csv: one row per learner (learner, lms_id, total, max, points per notebook) for an LMS import,
ids from the instructor's roster; nobody is dropped, mismatches are reported.

That ``grade`` and ``merge`` of one class write it byte for byte the same (with and
without a roster) is tested in test_merge_shards.py.
"""

from __future__ import annotations

import csv
import io
import subprocess

import pytest

from coursetools.grading.gradebook import GRADEBOOK, RosterError, read_roster, write_gradebook
from fixtures.grading.classroom import PYTHON, ROOT
from fixtures.grading.synthetic_report import NOTEBOOKS, write_report

GRADES = """learner,notebook,exercise,status,points,max_points,message\r
ada,01_layers.ipynb,1.1,passed,1,1,✅ 1.1 passed\r
ada,01_layers.ipynb,1.2,passed,2,2,✅ 1.2 passed\r
ada,02_sequential.ipynb,2.1,failed,0,1.5,❌ 2.1: not done yet.\r
'=dee,01_layers.ipynb,1.1,failed,0,1,❌ 1.1: `hidden` is not a Dense layer.\r
'=dee,01_layers.ipynb,1.2,passed,2,2,✅ 1.2 passed\r
'=dee,02_sequential.ipynb,2.1,passed,1.5,1.5,✅ 2.1 passed\r
Zoë O'Brien,01_layers.ipynb,1.1,missing,0,1,01_layers.ipynb is not in your folder.\r
Zoë O'Brien,01_layers.ipynb,1.2,missing,0,2,01_layers.ipynb is not in your folder.\r
Zoë O'Brien,02_sequential.ipynb,2.1,error,0,1.5,Your answer cell raised ValueError: no.\r
"""


def read(path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture()
def report(tmp_path):
    (tmp_path / "grades.csv").write_text(GRADES, encoding="utf-8", newline="")
    return tmp_path


def test_one_row_per_learner_with_points_per_notebook(report):
    write_gradebook(report)
    assert read(report / GRADEBOOK) == [
        ["learner", "lms_id", "total", "max", "01_layers", "02_sequential"],
        ["ada", "", "3", "4.5", "3", "0"],
        ["'=dee", "", "3.5", "4.5", "2", "1.5"],
        ["Zoë O'Brien", "", "0", "4.5", "0", "0"],
    ]
    assert (report / GRADEBOOK).read_bytes().startswith(b"learner,lms_id,total,max,01_layers,02_sequential\r\n")


def test_roster_fills_ids_lists_everyone_and_reports_mismatches(report, tmp_path):
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("\ufeffName,email,LMS_ID\r\nada,ada@uni.example,ada@uni.example\r\n"
                           "=dee,dee@uni.example,=1+2\r\n\r\nghost,ghost@uni.example,g-7\r\n", encoding="utf-8")
    roster = read_roster(roster_file)  # BOM, any column order and case, extra columns, blank lines
    warnings = io.StringIO()
    write_gradebook(report, roster, warnings)
    rows = read(report / GRADEBOOK)
    # learners without an id first (Moodle stops at a first row that names nobody), then grades.csv's order
    assert [row[:2] for row in rows[1:]] == [["Zoë O'Brien", ""], ["ada", "ada@uni.example"], ["'=dee", "'=1+2"]]
    assert rows[1][2:] == ["0", "4.5", "0", "0"]
    said = warnings.getvalue()
    assert "learner \"Zoë O'Brien\" is not in the roster" in said and "empty lms_id" in said
    assert "the roster names 'ghost', who is not in this class" in said
    assert "2 of 3 learner(s) matched the roster; 1 without an lms_id; 1 roster name(s) not in the class" in said


def test_the_same_files_give_the_same_bytes(tmp_path):
    write_report(tmp_path / "a", learners=50)
    write_report(tmp_path / "b", learners=50)
    roster = tmp_path / "roster.csv"
    roster.write_text("name,lms_id\n" + "".join(f"learner-{n:03d},id{n}\n" for n in range(1, 51, 2)))
    for folder in ("a", "b"):
        write_gradebook(tmp_path / folder, read_roster(roster), io.StringIO())
    assert (tmp_path / "a" / GRADEBOOK).read_bytes() == (tmp_path / "b" / GRADEBOOK).read_bytes()
    rows = read(tmp_path / "a" / GRADEBOOK)
    assert len(rows) == 1 + 54 and rows[0][4:] == [name[:-6] for name in NOTEBOOKS]
    assert all(float(row[2]) == sum(float(v) for v in row[4:]) for row in rows[1:])


@pytest.mark.parametrize("content, reason", [
    ("learner,id\nada,1\n", "must name the columns name and lms_id"),
    ("name,lms_id\nada,1\nada,2\n", "'ada' is listed twice"),
    ("name,lms_id\nada,\n", "an empty name or lms_id"),
    ("name,lms_id,x\nada\n", "1 field(s)"),
])
def test_a_roster_that_cannot_be_used_says_why(tmp_path, content, reason):
    path = tmp_path / "roster.csv"
    path.write_text(content)
    with pytest.raises(RosterError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        read_roster(path)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "coursetools", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_report_command_rewrites_the_class_files_with_a_roster(report, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,lms_id\nada,A1\n")
    result = cli("report", str(report), "--roster", str(roster))
    assert result.returncode == 0, result.stderr
    assert (report / "class.html").is_file() and read(report / GRADEBOOK)[-1][:2] == ["ada", "A1"]
    assert "not in the roster" in result.stderr


def test_grade_refuses_a_bad_roster_before_grading(tmp_path):
    submissions = tmp_path / "submissions"
    (submissions / "ada").mkdir(parents=True)
    bad = tmp_path / "roster.csv"
    bad.write_text("who,id\n")
    result = cli("grade", str(submissions), "--out", str(tmp_path / "out"), "--roster", str(bad))
    assert result.returncode == 2 and "name and lms_id" in result.stderr and not (tmp_path / "out").exists()
    result = cli("grade", str(submissions), "--out", str(tmp_path / "out"), "--roster", str(bad), "--shard", "1/2")
    assert result.returncode == 2 and "--roster goes with merge" in result.stderr
    result = cli("report", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "grades.csv" in result.stderr
