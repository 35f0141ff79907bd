"""The class report (class.html): what it shows, that it is safe and self-contained, and that it reads
in a real browser for the grade-benchmark class and for a class of 300.

The pages are made from report files without grading: the recorded report of the
grade-benchmark class (tests/fixtures/grading/benchmark_report) and synthetic reports
(tests/fixtures/grading/synthetic_report.py). That ``grade`` and ``merge`` write the page,
byte for byte the same, is tested in test_merge_shards.py.

Screenshots land in ``COURSETOOLS_SCREENSHOT_DIR`` when it is set (for a maintainer to
look at), else in the test's temporary folder; their paths are printed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import os
import urllib.parse
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from coursetools.grading import class_report
from coursetools.grading.class_report import PAGE, LogFacts, mistakes_by_exercise, read_log, render, write_class_report
from coursetools.grading.grade_rows import NOT_DONE, Row, read_grades
from fixtures.grading.browser import chromium_or_skip, dump_dom, screenshot
from fixtures.grading.synthetic_report import HIDDEN_NAME, HOSTILE_NAMES, write_report

BENCHMARK = Path(__file__).resolve().parents[1] / "fixtures" / "grading" / "benchmark_report"


def benchmark_report(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in ("grades.csv", "grading.log"):
        (target / name).write_bytes(gzip.decompress((BENCHMARK / f"{name}.gz").read_bytes()))
    return target


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("COURSETOOLS_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def row(learner: str, exercise: str, status: str, message: str, notebook: str = "01_layers.ipynb") -> Row:
    return Row(learner, notebook, exercise, status, 1.0 if status == "passed" else 0.0, 1.0, message)


def card(exercise: str, problem: str, found: str) -> str:
    return (f"❌ {exercise}: {problem} | expected: a NumPy array | found: {found} | "
            "hint: add the batch axis: reading[np.newaxis, :]")


def grid_rows(page: str) -> list[str]:
    body = page[page.index('<section id="grid">'):]
    body = body[body.index("<tbody>"):body.index("</tbody>")]
    return re.findall(r"<tr>.*?</tr>", body, flags=re.S)


# --- what the page says -----------------------------------------------------------------------

def test_mistakes_are_grouped_by_what_the_check_named_not_by_values():
    rows = [
        row("a", "1.4", "failed", card("1.4", "`batch` is not an array of numbers.", "None")),
        row("b", "1.4", "failed", card("1.4", "`batch` is not an array of numbers.", "a list of 3 numbers")),
        row("c", "1.4", "failed", card("1.4", "`batch` is not an array of numbers.", "None")),
        row("d", "1.4", "failed", card("1.4", "`batch` has shape (5,); it needs 2 axes.", "(5,)")),
        row("e", "1.4", "failed", card("1.4", "`batch` has shape (4, 5, 1); it needs 2 axes.", "(4, 5, 1)")),
        row("f", "1.4", "failed", "❌ 1.4: not done yet. | expected: your own code | found: the placeholder | hint: x"),
        row("g", "1.4", "error", "Your answer cell for exercise 1.4 raised NameError: name 'reding' is not defined. "
                                 "Fix the error, run the cell again, then its check cell."),
        row("h", "1.4", "error", "Your answer cell for exercise 1.4 raised NameError: name 'x' is not defined. "
                                 "Fix the error, run the cell again, then its check cell."),
        row("i", "1.4", "passed", "✅ 1.4 passed: a batch of one"),
    ]
    assert rows[5].state == NOT_DONE and rows[0].state == "failed"
    found = {m.text: m for m in mistakes_by_exercise(rows)["1.4"]}
    assert found["`batch` is not an array of numbers."].learners == 3
    assert found["`batch` is not an array of numbers."].found == ("found: None", 2)
    assert found["`batch` is not an array of numbers."].advice == [
        "expected: a NumPy array", "hint: add the batch axis: reading[np.newaxis, :]"]
    shape = [m for m in found.values() if m.text.startswith("`batch` has shape")]
    assert len(shape) == 1 and shape[0].learners == 2 and shape[0].wordings == 2  # values differ, same mistake
    assert found["Your answer cell for exercise 1.4 raised NameError"].learners == 2  # not by the message
    assert not any("not done" in text for text in found)  # a state of its own, never a mistake
    assert sum(m.learners for m in found.values()) == 7


def test_page_shows_each_part_for_a_synthetic_class(tmp_path):
    names = write_report(tmp_path, learners=40)
    page = write_class_report(tmp_path).read_text(encoding="utf-8")
    for section in ("totals", "exercises", "mistakes", "limits", "grid"):
        assert f'<section id="{section}">' in page
    assert page.count('<img class="chart"') == 2 and 'src="data:image/svg+xml;base64,' in page
    assert len(grid_rows(page)) == len(names) == 44
    limits = page[page.index('<section id="limits">'):page.index('<section id="grid">')]
    for kind in ("memory limit", "output limit", "grader fault"):
        assert f"<td>{kind}</td>" in limits, kind
    assert "could not start a Python kernel" in limits and "kernel log tail" not in limits
    assert "Answers that passed the notebook's check but failed a hidden check" in page
    mistakes = page[page.index('<section id="mistakes">'):page.index('<section id="limits">')]
    assert "<code>model</code> is not a Keras model." in mistakes and "not done yet" not in mistakes
    # hardest first: the rates table lists exercises by pass rate, lowest first
    rates = re.findall(r"<tr><td>([\d.]+)</td><td>[^<]*</td><td class=\"num\">\d+</td><td class=\"num\">(\d+)%",
                       page)
    assert len(rates) == 36 and [int(p) for _, p in rates] == sorted(int(p) for _, p in rates)


class Markup(HTMLParser):
    """Every tag, attribute and text of a page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parsed(page: str) -> Markup:
    markup = Markup()
    markup.feed(page)
    markup.close()
    return markup


def test_learner_text_cannot_add_markup(tmp_path):
    names = write_report(tmp_path, learners=5)
    page = write_class_report(tmp_path).read_text(encoding="utf-8")
    markup = parsed(page)
    tags = {tag for tag, _ in markup.tags}
    assert tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "nav", "a", "span", "strong",
                    "code", "em", "section", "img", "details", "summary", "table", "thead", "tbody", "tfoot", "tr",
                    "th", "td", "div", "script"}, tags
    assert [tag for tag, _ in markup.tags].count("script") == 1 and [tag for tag, _ in markup.tags].count("img") == 2
    assert not [name for _, attrs in markup.tags for name in attrs if name.startswith("on")]
    titles = {attrs.get("title") for tag, attrs in markup.tags if tag == "th"}
    texts = set(markup.text)
    for name in HOSTILE_NAMES:
        shown = "'" + name if name.startswith("=") else name
        assert shown in names and shown in titles and shown in texts, name  # the name, as text: nothing more
    assert "<img src=x" not in page and "<script>alert" not in page


def test_hidden_check_names_never_reach_the_page(tmp_path):
    write_report(tmp_path, learners=60)
    log = (tmp_path / "grading.log").read_text(encoding="utf-8")
    assert HIDDEN_NAME in log  # the instructor's log names it...
    page = write_class_report(tmp_path).read_text(encoding="utf-8")
    assert HIDDEN_NAME not in page and "secret" not in page  # ...the page only counts them
    assert "failed a hidden check" in page
    facts = read_log(tmp_path / "grading.log", read_grades(tmp_path / "grades.csv"))
    assert sum(facts.hidden_failures.values()) == log.count("failed hidden check")


def test_page_loads_nothing_from_elsewhere(tmp_path):
    write_report(tmp_path, learners=5)
    page = write_class_report(tmp_path).read_text(encoding="utf-8")
    assert "<link" not in page and "@import" not in page and "url(" not in page
    for attribute, value in re.findall(r'\s(src|href|action|srcset)="([^"]*)"', page):
        if attribute == "src":
            assert value.startswith("data:image/svg+xml;base64,"), value[:60]
        else:  # in-page anchors and the learners' feedback files next to the page
            assert attribute == "href" and (value.startswith("#") or value.startswith("feedback/")), value
            assert "//" not in value and ":" not in value
    for value in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page):
        svg = base64.b64decode(value).decode("utf-8")
        assert "http://" not in svg.replace("http://www.w3.org/", "").replace("http://purl.org/", "").replace(
            "http://creativecommons.org/", "") and "<image" not in svg and "<script" not in svg
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)[1]
    assert "default-src 'none'" in policy and "img-src data:" in policy
    script = re.search(r"<script>(.*)</script>", page, flags=re.S)[1]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy  # only this inline script may run
    links = re.findall(r'href="(feedback/[^"]+)"', page)
    assert len(links) == 9 and all((tmp_path / urllib.parse.unquote(html.unescape(link))).is_file() for link in links)


def test_same_files_give_the_same_page(tmp_path):
    write_report(tmp_path / "a", learners=20)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    first = write_class_report(tmp_path / "a").read_bytes()
    second = write_class_report(tmp_path / "b").read_bytes()
    assert first == second
    assert write_class_report(tmp_path / "a").read_bytes() == first


def test_unreadable_log_and_an_empty_class_still_give_a_page(tmp_path):
    (tmp_path / "grades.csv").write_text("learner,notebook,exercise,status,points,max_points,message\r\n")
    page = write_class_report(tmp_path).read_text(encoding="utf-8")  # no grading.log at all
    assert "0 learner(s)" in page and grid_rows(page) == []
    assert "<html" in render([], LogFacts([], class_report.Counter(), False, 0))


def test_a_class_of_300_stays_compact_and_quick(tmp_path):
    names = write_report(tmp_path, learners=300)
    started = time.monotonic()
    path = write_class_report(tmp_path)
    seconds = time.monotonic() - started
    size = path.stat().st_size
    page = path.read_text(encoding="utf-8")
    print(f"\nclass of {len(names)} x 36 exercises: class.html {size / 1e3:.0f} kB, written in {seconds:.2f} s")
    assert len(grid_rows(page)) == len(names)
    assert size < 1_500_000 and seconds < 30
    assert "position:sticky" in page  # headers and names stay in view while the grid scrolls


# --- in a real browser ------------------------------------------------------------------------

@pytest.mark.kernels
def test_benchmark_class_page_in_chromium(tmp_path):
    browser = chromium_or_skip()
    report = benchmark_report(tmp_path / "report")
    page = write_class_report(report)
    dom, seconds = dump_dom(browser, page)
    assert 'data-images-shown="2"' in dom  # both charts decoded and drawn
    assert len(grid_rows(dom)) == 30
    assert re.search(r"<th[^>]*>1\.1</th>", dom) and dom.count('data-kind="state"') == 36
    assert "30 learner(s) · 36 exercise(s) in 7 notebook(s) · 39 point(s) possible" in html.unescape(dom)
    assert "passed: 559" in dom and "failed: 208" in dom and "not done: 313" in dom
    rates = re.findall(r"<tr><td>([\d.]+)</td><td>[^<]*</td><td class=\"num\">\d+</td><td class=\"num\">(\d+)%", dom)
    assert rates[0] == ("1.4", "33")  # the hardest exercise of the benchmark class
    mistakes = dom[dom.index('<section id="mistakes">'):dom.index('<section id="limits">')]
    assert re.search(r"<td>1\.4</td><td class=\"num\">12</td><td class=\"mistake\"><code>batch</code> is not an "
                     r"array of numbers\.", mistakes)
    assert "No notebook hit a limit" in dom
    shot = screenshot(browser, page, shots(tmp_path) / "class-report-benchmark.png", window="1280,3600")
    print(f"\nbenchmark class page: {page.stat().st_size / 1e3:.0f} kB, Chromium {seconds:.1f} s; screenshot {shot}")


@pytest.mark.kernels
def test_300_learner_page_renders_and_sorts_in_chromium(tmp_path, monkeypatch):
    browser = chromium_or_skip()
    names = write_report(tmp_path, learners=300)
    page = write_class_report(tmp_path)
    dom, seconds = dump_dom(browser, page)
    load_ms = int(re.search(r'data-load-ms="(\d+)"', dom)[1])
    print(f"\nclass of {len(names)}: {page.stat().st_size / 1e3:.0f} kB; Chromium loaded it in {load_ms} ms "
          f"({seconds:.1f} s with start-up)")
    assert len(grid_rows(dom)) == len(names) and 'data-images-shown="2"' in dom
    assert "<script>alert(1)</script>" not in dom.split("<script>")[0]  # a learner's name stayed text
    screenshot(browser, page, shots(tmp_path) / "class-report-300.png", window="1280,1400")

    # The sorting script, driven by a click on "total" once the page has loaded.
    click = 'window.addEventListener("load",function(){document.querySelector("th[data-kind=num]").click();});'
    monkeypatch.setattr(class_report, "_SCRIPT", class_report._SCRIPT + click)
    sorted_page = write_class_report(tmp_path)
    dom, _ = dump_dom(browser, sorted_page)
    totals = [float(v) for v in re.findall(r'<td class="num" data-v="([\d.]+)">', dom)]
    assert len(totals) == len(names) and totals == sorted(totals) and totals != sorted(totals, reverse=True)
    assert 'aria-sort="ascending"' in dom
