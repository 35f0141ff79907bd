"""The class report: one self-contained HTML page, ``class.html``, made from a report's files.

``grade`` and ``merge`` write it next to ``grades.csv`` (and ``python -m coursetools report
REPORT_DIR`` writes it again for any report). It is built from ``grades.csv`` and
``grading.log`` alone (:mod:`coursetools.grading.grade_rows`), so a merged report and one
run over the whole class give the same page, byte for byte. It shows:

* the distribution of totals, and the pass rate of every exercise, hardest first (charts
  drawn with matplotlib, embedded as SVG images; the numbers are in tables too);
* per exercise, the most common mistakes with how many learners made each, grouped by the
  mistake the check named (the first line of its card), not by the values a learner's
  answer had; "not done yet" is a state of its own, never a mistake;
* a learners x exercises grid (colour and a letter per state; sticky headers; a click on
  a column header sorts by it, and without JavaScript it reads in the report's order);
* the notebooks that hit a limit (time, memory, output), lost their kernel or their
  verdict, and grader faults, from ``grading.log``.

The page loads nothing: no network, no files but its own links to ``feedback/``; its one
script is inline and allowed by a Content-Security-Policy hash, which also keeps any other
script from running. Every text from the report (learner names are folder names,
messages quote exceptions) is HTML-escaped. Hidden checks' names, which ``grading.log``
holds for the instructor, never reach the page: only how many rows a hidden check failed.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import statistics
import sys
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from coursetools.grading.grade_rows import (
    NOT_DONE,
    STATES,
    Row,
    exercises,
    learners,
    notebooks,
    plain_name,
    points_text,
    read_grades,
)
from coursetools.grading.outcome import ERROR, FAILED, MISSING, PASSED

PAGE = "class.html"
LETTERS = {PASSED: "P", FAILED: "F", NOT_DONE: "N", ERROR: "E", MISSING: "M"}
CLASSES = {PASSED: "p", FAILED: "f", NOT_DONE: "n", ERROR: "e", MISSING: "m"}
COLOURS = {PASSED: "#1a9850", FAILED: "#d73027", NOT_DONE: "#bababa", ERROR: "#7b3294", MISSING: "#f1a340"}
MISTAKES_SHOWN = 4  # per exercise; the others are counted

# What grading.log says, line by line (coursetools/grading/grader.py, run.py): "<learner>/<notebook>: ..."
_HIDDEN = re.compile(r"\A(\S+) failed hidden check ")
_SUSPICIOUS = re.compile(r"SUSPICIOUS: the verdict process died unexpectedly (\d+) time")
_PARENS = re.compile(r"\s*\([^()]*\)")
_RAISED = re.compile(r"\b(raised|called) ([\w.]+)\b.*\Z")
_QUOTED = re.compile(r"(?<!\w)'[^'\n]*'(?!\w)|(?<!\w)\"[^\"\n]*\"(?!\w)")
_ITEM = r"(?:None|[-+]?\d+(?:\.\d+)?)"
_SHAPE = re.compile(rf"[(\[]\s*(?:{_ITEM}(?:\s*,\s*{_ITEM})*\s*,?)?\s*[)\]]")  # (None, 8, 8, 1), [3, 4], ()
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?(?![\w])")


@dataclass(frozen=True)
class LogEvent:
    """A notebook the instructor should know about: a limit hit, a lost kernel or verdict, a grader fault."""

    learner: str  # as grades.csv shows it
    notebook: str
    kind: str
    detail: str


@dataclass
class LogFacts:
    events: list[LogEvent]
    hidden_failures: Counter  # exercise -> rows that failed a hidden check (never which check)
    unsandboxed: bool
    verdict_deaths: int


def _stop_kind(text: str) -> str:
    if "MB of memory" in text:
        return "memory limit"
    if "processes at once" in text:
        return "process limit"
    if "MB of files" in text:
        return "disk limit"
    if "ran for more than" in text or "timed out" in text:
        return "time limit"
    if "lost contact" in text:
        return "lost contact with the kernel"
    return "kernel stopped (crash or exit)"


def _label(line: str, names: dict[str, str], known_notebooks: list[str]) -> tuple[str, str, str] | None:
    """(learner, notebook, message) of a line ``<learner>/<notebook>: <message>`` about a known notebook."""
    at = line.find("/")
    while at >= 0:
        name, rest = line[:at], line[at + 1:]
        if name in names:
            for notebook in known_notebooks:
                if rest.startswith(notebook + ": "):
                    return names[name], notebook, rest[len(notebook) + 2:]
        at = line.find("/", at + 1)
    return None


def read_log(path: Path, rows: list[Row]) -> LogFacts:
    """The events of ``grading.log`` that concern the class (``rows``: its grades)."""
    names: dict[str, str] = {}
    for learner in learners(rows):
        names.setdefault(plain_name(learner), learner)
        names.setdefault(learner, learner)
    known_notebooks = notebooks(rows)
    facts = LogFacts([], Counter(), False, 0)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.startswith("WARNING: NO SANDBOX"):
            facts.unsandboxed = True
        for deaths in _SUSPICIOUS.findall(line):
            facts.verdict_deaths += int(deaths)
        if not line or line[0].isspace():
            continue
        label = _label(line, names, known_notebooks)
        if label is None:
            continue
        learner, notebook, message = label
        hidden = _HIDDEN.match(message)
        if hidden:
            facts.hidden_failures[hidden[1]] += 1  # the check's name stays in grading.log
        elif message.startswith("stopped: "):
            detail = message[len("stopped: "):]
            facts.events.append(LogEvent(learner, notebook, _stop_kind(detail), detail))
        elif message.startswith("GRADER FAULT"):
            detail = message[len("GRADER FAULT"):].lstrip(": ").rstrip(":") or "see grading.log"
            facts.events.append(LogEvent(learner, notebook, "grader fault", detail))
        elif message.startswith("graded again in a clean verdict process"):
            facts.events.append(LogEvent(learner, notebook, "verdict lost, judged again", message))
        elif message.startswith("unexpected error while reading"):
            facts.events.append(LogEvent(learner, notebook, "could not be read", "see grading.log"))
    return facts


def output_events(rows: list[Row]) -> list[LogEvent]:
    """Notebooks whose cell printed more than the output limit (grades.csv says so; the log does not)."""
    seen: set[tuple[str, str]] = set()
    events = []
    for row in rows:
        if row.status == ERROR and "KB of output" in row.parts[0] and (row.learner, row.notebook) not in seen:
            seen.add((row.learner, row.notebook))
            events.append(LogEvent(row.learner, row.notebook, "output limit", row.parts[0]))
    return events


# --- mistakes ---------------------------------------------------------------------------------

def mistake(row: Row) -> str:
    """The mistake a failed or error row names, as its card says it (shown on the page).

    A failed row's first line is ``❌ <id>: <what is wrong>`` (its expected/found lines
    differ from learner to learner); an error's first line loses what it quotes (an
    exception's message, a cell number in parentheses), keeping what raised what.
    """
    first = row.parts[0]
    prefix = re.match(r"\A\W*\s*" + re.escape(row.exercise) + r":\s*", first)
    if prefix:
        first = first[prefix.end():]
    if row.status == ERROR:
        first = _PARENS.sub("", first)
        first = _RAISED.sub(lambda m: f"{m[1]} {m[2]}", first)
    first = " ".join(first.split())
    return first if len(first) <= 200 else first[:199] + "…"


def mistake_kind(text: str) -> str:
    """What groups mistakes: :func:`mistake` with its numbers and quoted values left out.

    Some checks name a learner's own values in the first line ("the stack has 2 Dense
    layer(s), not 3.", "Keras knows no loss called 'mse2'", a shape): learners who made
    that mistake with other values made the same mistake.
    """
    return _NUMBER.sub("#", _SHAPE.sub("(…)", _QUOTED.sub("'…'", text)))


@dataclass
class Mistake:
    text: str  # the most common wording
    status: str
    learners: int
    wordings: int  # how many different wordings (values) the group holds
    advice: list[str]  # the most common "expected:" / "hint:" lines of this mistake's cards
    found: tuple[str, int] | None  # the most common "found:" line and how many had it


def _labelled(parts: list[str], label: str) -> str | None:
    for part in parts[1:]:
        if part.startswith(label + ":"):
            return part
    return None


def mistakes_by_exercise(rows: list[Row]) -> dict[str, list[Mistake]]:
    grouped: dict[str, dict[tuple[str, str], list[Row]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.state in (FAILED, ERROR):
            grouped[row.exercise][(row.status, mistake_kind(mistake(row)))].append(row)
    result = {}
    for exercise, groups in grouped.items():
        found = []
        for (status, _), members in groups.items():
            wordings = Counter(mistake(r) for r in members)
            text = min(wordings.items(), key=lambda item: (-item[1], item[0]))[0]
            advice = Counter(tuple(p for p in (_labelled(r.parts, "expected"), _labelled(r.parts, "hint")) if p)
                             for r in members)
            founds = Counter(f for f in (_labelled(r.parts, "found") for r in members) if f)
            top_advice = min(advice.items(), key=lambda item: (-item[1], item[0]))[0] if advice else ()
            top_found = min(founds.items(), key=lambda item: (-item[1], item[0])) if founds else None
            found.append(Mistake(text, status, len(members), len(wordings), list(top_advice), top_found))
        found.sort(key=lambda m: (-m.learners, m.status, m.text))
        result[exercise] = found
    return result


# --- charts -------------------------------------------------------------------------------------

def _svg(fig) -> str:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "coursetools-class-report", "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def totals_chart(totals: list[float], possible: float) -> str:
    fig, ax = _figure(7.5, 2.6)
    whole = all(float(t).is_integer() for t in totals) and float(possible).is_integer() and possible <= 60
    if whole:
        counts = Counter(int(t) for t in totals)
        xs = list(range(int(possible) + 1))
        ax.bar(xs, [counts.get(x, 0) for x in xs], width=0.85, color="#4575b4")
    else:
        ax.hist(totals, bins=min(30, max(5, len(set(totals)))), range=(0, possible or 1), color="#4575b4")
    if totals:
        median = statistics.median(totals)
        ax.axvline(median, color="#222222", linestyle="--", linewidth=1)
        ax.annotate(f"median {points_text(median)}", (median, 1), xycoords=("data", "axes fraction"),
                    xytext=(0, 3), textcoords="offset points", fontsize=8, ha="center", va="bottom")
    ax.set_xlim(-0.7, possible + 0.7)
    ax.set_xlabel(f"total points (out of {points_text(possible)})")
    ax.set_ylabel("learners")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _svg(fig)


def pass_rate_chart(order: list[str], counts: dict[str, Counter], size: int) -> str:
    fig, ax = _figure(max(6.0, 0.26 * len(order) + 1.5), 3.0)
    bottom = [0.0] * len(order)
    xs = list(range(len(order)))
    for state in STATES:
        heights = [100.0 * counts[ex][state] / max(1, size) for ex in order]
        if any(heights):
            ax.bar(xs, heights, bottom=bottom, width=0.8, color=COLOURS[state], label=state)
            bottom = [b + h for b, h in zip(bottom, heights)]
    ax.set_xticks(xs, order, rotation=90 if len(order) > 45 else 0, fontsize=7 if len(order) > 25 else 8)
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of learners")
    ax.set_xlabel("exercise, hardest first (lowest pass rate on the left)")
    ax.legend(ncols=5, fontsize=8, frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0))
    return _svg(fig)


# --- the page -----------------------------------------------------------------------------------

def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


_TICKED = re.compile(r"`([^`]+)`")


def esc_code(text: str) -> str:
    """``text`` escaped, with its `backticked` names (as the checks write them) shown as code."""
    return _TICKED.sub(r"<code>\1</code>", esc(text))


_STYLE = """
:root{--p:#1a9850;--f:#d73027;--n:#bababa;--e:#7b3294;--m:#f1a340;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2328}
body{margin:0 auto;max-width:1400px;padding:0 20px 40px;line-height:1.4;font-size:14px}
h1{margin:18px 0 4px;font-size:24px}h2{margin:28px 0 8px;font-size:19px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
nav a{margin-right:14px}.muted{color:#59636e}.chart{max-width:100%;height:auto;display:block}
.chips span{display:inline-block;margin:2px 6px 2px 0;padding:2px 8px;border-radius:10px;background:#f3f4f6}
.key{display:inline-block;width:1.5em;text-align:center;font-weight:600;border-radius:3px;color:#fff}
table{border-collapse:collapse}th,td{padding:3px 6px;text-align:left;vertical-align:top}
table.list td,table.list th{border-bottom:1px solid #eaeef2}table.list{margin:6px 0 12px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.mistake{font-weight:600;max-width:26em}.advice{color:#59636e;font-size:12.5px;max-width:34em;font-weight:400}
table.mistakes tr.first td{border-top:1px solid #8c959f}code{font-size:12.5px;background:#f3f4f6;padding:0 3px;border-radius:3px}
.grid{max-height:80vh;overflow:auto;border:1px solid #d0d7de}
.grid table{font-size:11.5px}.grid th,.grid td{padding:1px 2px;border:1px solid #fff;white-space:nowrap}
.grid thead th{position:sticky;top:0;background:#f6f8fa;z-index:2;cursor:pointer;text-align:center;font-weight:600}
.grid thead th.nb{border-left:3px solid #8c959f}.grid td.nb{border-left:3px solid #8c959f}
.grid tbody th{position:sticky;left:0;background:#fff;z-index:1;font-weight:400;max-width:13em;overflow:hidden;text-overflow:ellipsis}
.grid thead th.corner{left:0;z-index:3;text-align:left}
.grid td.s{min-width:1.4em;text-align:center;color:#fff;font-weight:600}
.grid td.p,.key.p{background:var(--p)}.grid td.f,.key.f{background:var(--f)}.grid td.n,.key.n{background:var(--n);color:#222}
.grid td.e,.key.e{background:var(--e)}.grid td.m,.key.m{background:var(--m);color:#222}
.grid tfoot td{background:#f6f8fa;font-size:11px;text-align:center}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
"""

# Sorting the grid by a click on a column header; the page reads the same without it.
_SCRIPT = """(function(){var rank={p:0,n:1,f:2,e:3,m:4};
function key(cell,kind){if(kind==="num")return parseFloat(cell.getAttribute("data-v"));
if(kind==="state"){var c=cell.className.split(" ");for(var i=0;i<c.length;i++){if(c[i] in rank)return rank[c[i]];}return -1;}
return cell.textContent.toLowerCase();}
var tables=document.querySelectorAll("table.sortable");
Array.prototype.forEach.call(tables,function(table){var heads=table.tHead.rows[0].cells;
Array.prototype.forEach.call(heads,function(th,col){th.addEventListener("click",function(){
var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows),kind=th.getAttribute("data-kind");
var dir=th.getAttribute("aria-sort")?(th.getAttribute("aria-sort")==="ascending"?-1:1):(th.getAttribute("data-first")==="desc"?-1:1);
rows.sort(function(a,b){var x=key(a.cells[col],kind),y=key(b.cells[col],kind);return(x<y?-1:x>y?1:0)*dir;});
Array.prototype.forEach.call(heads,function(h){h.removeAttribute("aria-sort");});
th.setAttribute("aria-sort",dir>0?"ascending":"descending");
rows.forEach(function(r){body.appendChild(r);});});});});
window.addEventListener("load",function(){var shown=0;Array.prototype.forEach.call(document.images,function(i){if(i.complete&&i.naturalWidth>0)shown++;});
var root=document.documentElement;root.setAttribute("data-images-shown",String(shown));
root.setAttribute("data-load-ms",String(Math.round(performance.now())));});})();"""


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; "
            "base-uri 'none'; form-action 'none'")


def _feedback_links(out_dir: Path, names: list[str]) -> dict[str, str]:
    """learner -> relative link to their feedback file, where the report has it."""
    from coursetools.grading.report import feedback_name

    taken: set[str] = set()
    links = {}
    for name in names:
        file = feedback_name(plain_name(name), taken)
        if (out_dir / "feedback" / file).is_file():
            links[name] = "feedback/" + urllib.parse.quote(file)
    return links


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "-"


@dataclass
class _Summary:
    """What every section of the page reads: the grid of rows, totals, counts, the hardest exercises first."""

    names: list[str]
    pairs: list[tuple[str, str]]
    ex_ids: list[str]
    notebook_of: dict[str, str]
    size: int
    cell: dict[tuple[str, str], Row]
    totals: dict[str, float]
    possible: float
    max_of: dict[str, float]
    counts: dict[str, Counter]
    overall: Counter
    hardest: list[str]
    values: list[float]
    notebook_count: int


def _summarise(rows: list[Row]) -> _Summary:
    names, pairs = learners(rows), exercises(rows)
    ex_ids = [ex for _, ex in pairs]
    totals = {name: 0.0 for name in names}
    possible_of: dict[str, float] = {name: 0.0 for name in names}
    max_of: dict[str, float] = {}
    counts: dict[str, Counter] = {ex: Counter() for ex in ex_ids}
    overall: Counter = Counter()
    for r in rows:
        totals[r.learner] += r.points
        possible_of[r.learner] += r.max_points
        max_of.setdefault(r.exercise, r.max_points)
        counts[r.exercise][r.state] += 1
        overall[r.state] += 1
    size = len(names)
    hardest = sorted(ex_ids, key=lambda ex: (counts[ex][PASSED] / max(1, size), ex_ids.index(ex)))
    return _Summary(names, pairs, ex_ids, {ex: nb for nb, ex in pairs}, size,
                    {(r.learner, r.exercise): r for r in rows}, totals, max(possible_of.values(), default=0.0),
                    max_of, counts, overall, hardest, sorted(totals.values()), len(notebooks(rows)))


def render(rows: list[Row], facts: LogFacts, links: dict[str, str] | None = None) -> str:
    """The page for these rows of grades.csv and these facts of grading.log."""
    s = _summarise(rows)
    out = [*_head(s, facts), *_totals_section(s), *_exercises_section(s),
           *_mistakes_section(s, mistakes_by_exercise(rows), facts), *_limits_section(facts),
           *_grid_section(s, links or {}), *_foot()]
    return "\n".join(out)


def _head(s: _Summary, facts: LogFacts) -> list[str]:
    out = ["<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">",
           f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_csp()}\">",  # no quote of its own
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
           f"<title>Class report: {s.size} learner(s), {len(s.ex_ids)} exercise(s)</title>",
           f"<style>{_STYLE}</style>\n</head>\n<body>",
           "<h1>Class report</h1>",
           f"<p class=\"muted\">{s.size} learner(s) &middot; {len(s.ex_ids)} exercise(s) in {s.notebook_count} "
           f"notebook(s) &middot; {points_text(s.possible)} point(s) possible. Made from <code>grades.csv</code> and "
           "<code>grading.log</code> of this folder; each learner's details are in <code>feedback/</code>.</p>",
           "<nav><a href=\"#totals\">Totals</a><a href=\"#exercises\">Pass rate per exercise</a>"
           "<a href=\"#mistakes\">Common mistakes</a><a href=\"#limits\">Limits and faults</a>"
           "<a href=\"#grid\">Learners &times; exercises</a></nav>",
           "<p class=\"chips\">" + "".join(
               f"<span><span class=\"key {CLASSES[st]}\">{LETTERS[st]}</span> {esc(st)}: {s.overall[st]}</span>"
               for st in STATES) + "</p>"]
    if facts.unsandboxed:
        out.append("<p><strong>Warning:</strong> kernels ran without the sandbox for some or all notebooks "
                   "(see <code>WARNING: NO SANDBOX</code> in grading.log).</p>")
    return out


def _totals_section(s: _Summary) -> list[str]:
    out = ["<section id=\"totals\"><h2>Distribution of totals</h2>"]
    values, possible = s.values, s.possible
    if values:
        out.append(f"<img class=\"chart\" alt=\"Histogram of the learners' totals out of {esc(points_text(possible))} "
                   f"points\" src=\"{totals_chart(values, possible)}\">")
        quartiles = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
        out.append(f"<p>Median <strong>{esc(points_text(statistics.median(values)))}</strong> of "
                   f"{esc(points_text(possible))} &middot; mean {statistics.fmean(values):.1f} &middot; quartiles "
                   f"{quartiles[0]:g} / {quartiles[2]:g} &middot; lowest {esc(points_text(values[0]))}, highest "
                   f"{esc(points_text(values[-1]))} &middot; {sum(1 for v in values if v == possible)} learner(s) with "
                   f"every point, {sum(1 for v in values if v == 0)} with none.</p>")
    out.append("</section>")
    return out


def _exercises_section(s: _Summary) -> list[str]:
    out = ["<section id=\"exercises\"><h2>Pass rate per exercise, hardest first</h2>"]
    if s.ex_ids:
        out.append(f"<img class=\"chart\" alt=\"Stacked bars per exercise: passed, failed, not done, error, missing, "
                   f"hardest exercise first\" src=\"{pass_rate_chart(s.hardest, s.counts, s.size)}\">")
        out.append("<details><summary>The numbers</summary><table class=\"list\"><thead><tr><th>exercise</th>"
                   "<th>notebook</th><th class=\"num\">points</th><th class=\"num\">passed</th>"
                   + "".join(f"<th class=\"num\">{esc(st)}</th>" for st in STATES) + "</tr></thead><tbody>")
        for ex in s.hardest:
            out.append(f"<tr><td>{esc(ex)}</td><td>{esc(s.notebook_of[ex])}</td><td class=\"num\">"
                       f"{esc(points_text(s.max_of[ex]))}</td><td class=\"num\">{_pct(s.counts[ex][PASSED], s.size)}</td>"
                       + "".join(f"<td class=\"num\">{s.counts[ex][st]}</td>" for st in STATES) + "</tr>")
        out.append("</tbody></table></details>")
    out.append("</section>")
    return out


def _mistakes_section(s: _Summary, mistakes: dict, facts: LogFacts) -> list[str]:
    out = ["<section id=\"mistakes\"><h2>Most common mistakes per exercise</h2>",
           "<p class=\"muted\">Grouped by the mistake the check named (the first line of its card), hardest exercise "
           "first, with the check's own <em>expected</em> and <em>hint</em> lines and what its learners' answers most "
           "often were. "
           "&ldquo;Not done yet&rdquo; is not counted here: see the pass rate above.</p>"]
    if any(mistakes.values()):
        out.append("<table class=\"list mistakes\"><thead><tr><th>exercise</th><th class=\"num\">learners</th>"
                   "<th>mistake the check named</th><th>what the check tells them</th><th>most often found</th>"
                   "</tr></thead><tbody>")
        for ex in s.hardest:
            out += _mistake_rows(ex, mistakes.get(ex, []))
        out.append("</tbody></table>")
    else:
        out.append("<p>No failed or error rows apart from exercises not done yet.</p>")
    if facts.hidden_failures:
        listed = ", ".join(f"{esc(ex)} &times;{n}" for ex, n in sorted(
            facts.hidden_failures.items(), key=lambda item: s.ex_ids.index(item[0]) if item[0] in s.ex_ids else 0))
        out.append(f"<p>Answers that passed the notebook's check but failed a hidden check: {listed} "
                   "(learners read only the hint; which check failed is in grading.log).</p>")
    out.append("</section>")
    return out


def _mistake_rows(ex: str, found: list) -> list[str]:
    out = []
    for number, m in enumerate(found[:MISTAKES_SHOWN]):
        advice = "".join(f"<div>{esc_code(a)}</div>" for a in m.advice)
        seen = (f"{esc_code(m.found[0].removeprefix('found:').strip())} ({m.found[1]} of {m.learners})"
                if m.found else "")
        label = " <span class=\"key e\" title=\"error\">E</span>" if m.status == ERROR else ""
        if m.wordings > 1:
            label += f"<div class=\"advice\">and {m.wordings - 1} more wording(s) with other values</div>"
        first = " class=\"first\"" if number == 0 else ""
        out.append(f"<tr{first}><td>{esc(ex) if number == 0 else ''}</td><td class=\"num\">{m.learners}</td>"
                   f"<td class=\"mistake\">{esc_code(m.text)}{label}</td><td class=\"advice\">{advice}</td>"
                   f"<td class=\"advice\">{seen}</td></tr>")
    if len(found) > MISTAKES_SHOWN:
        rest = found[MISTAKES_SHOWN:]
        out.append(f"<tr><td></td><td class=\"num\">{sum(m.learners for m in rest)}</td>"
                   f"<td class=\"muted\" colspan=\"3\">{len(rest)} other mistake(s)</td></tr>")
    return out


def _limits_section(facts: LogFacts) -> list[str]:
    out = ["<section id=\"limits\"><h2>Limits hit and grader faults</h2>"]
    if facts.verdict_deaths:
        out.append(f"<p><strong>The verdict process died unexpectedly {facts.verdict_deaths} time(s)</strong> (a crash, "
                   "or a kill from outside the grader): see SUSPICIOUS in grading.log.</p>")
    if facts.events:
        kinds = Counter(e.kind for e in facts.events)
        out.append("<p>" + " &middot; ".join(f"{esc(k)}: {n}" for k, n in sorted(kinds.items())) + "</p>")
        out.append("<table class=\"list\"><thead><tr><th>learner</th><th>notebook</th><th>what</th><th>details</th>"
                   "</tr></thead><tbody>")
        for e in facts.events:
            out.append(f"<tr><td>{esc(e.learner)}</td><td>{esc(e.notebook)}</td><td>{esc(e.kind)}</td>"
                       f"<td class=\"advice\">{esc(e.detail[:300])}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append("<p>No notebook hit a limit (time, memory, output), lost its kernel or its verdict; no grader "
                   "faults.</p>")
    out.append("</section>")
    return out


def _grid_section(s: _Summary, links: dict[str, str]) -> list[str]:
    out = ["<section id=\"grid\"><h2>Learners &times; exercises</h2>",
           "<p>" + " ".join(f"<span class=\"key {CLASSES[st]}\">{LETTERS[st]}</span> {esc(st)}" for st in STATES)
           + " <span class=\"muted\">&middot; click a column to sort (a state column: problems first); hover a cell "
             "for the mistake; a name opens the learner's feedback file.</span></p>",
           "<div class=\"grid\"><table class=\"sortable\"><thead><tr>"
           "<th class=\"corner\" data-kind=\"text\">learner</th>"
           f"<th data-kind=\"num\" title=\"points out of {esc(points_text(s.possible))}\">total</th>"]
    previous = None
    for nb, ex in s.pairs:
        edge = " nb" if nb != previous else ""
        previous = nb
        out.append(f"<th class=\"{edge.strip()}\" data-kind=\"state\" data-first=\"desc\" title=\"{esc(nb)}\">"
                   f"{esc(ex)}</th>")
    out.append("</tr></thead><tbody>")
    starts = {ex for i, (nb, ex) in enumerate(s.pairs) if i == 0 or s.pairs[i - 1][0] != nb}
    out += [_grid_row(s, name, links.get(name), starts) for name in s.names]
    out.append("</tbody><tfoot><tr><td>passed</td><td></td>" + "".join(
        f"<td class=\"{'nb' if ex in starts else ''}\">{_pct(s.counts[ex][PASSED], s.size)}</td>" for ex in s.ex_ids)
        + "</tr></tfoot></table></div></section>")
    return out


def _grid_row(s: _Summary, name: str, link: str | None, starts: set[str]) -> str:
    shown = esc(name)
    label = f"<a href=\"{esc(link)}\">{shown}</a>" if link else shown
    line = [f"<tr><th scope=\"row\" title=\"{shown}\">{label}</th>"
            f"<td class=\"num\" data-v=\"{s.totals[name]:g}\">{esc(points_text(s.totals[name]))}</td>"]
    for ex in s.ex_ids:
        r = s.cell.get((name, ex))
        state = r.state if r else MISSING
        classes = f"s {CLASSES[state]}" + (" nb" if ex in starts else "")
        tip = f" title=\"{esc(_short(mistake(r)))}\"" if r is not None and state in (FAILED, ERROR) else ""
        line.append(f"<td class=\"{classes}\"{tip}>{LETTERS[state]}</td>")
    return "".join(line) + "</tr>"


def _foot() -> list[str]:
    return ["<p class=\"muted\">Written by <code>python -m coursetools</code> (grade, merge or report). Statuses: "
            "passed; failed (the check says what is wrong); not done (the placeholder is still there); error (the "
            "notebook could not run to the check, or its answer could not be read); missing (no notebook, or no "
            "answer cell).</p>",
            f"<script>{_SCRIPT}</script>\n</body>\n</html>\n"]


def write_class_report(out_dir: Path) -> Path:
    """Write ``out_dir/class.html`` from ``out_dir/grades.csv`` and ``grading.log``; return its path."""
    rows = read_grades(out_dir / "grades.csv")
    facts = read_log(out_dir / "grading.log", rows)
    facts.events += output_events(rows)
    path = out_dir / PAGE
    page = render(rows, facts, _feedback_links(out_dir, learners(rows)))
    path.write_text(page, encoding="utf-8")
    return path


def write_class_files(out_dir: Path) -> None:
    """After a report is written (``grade``, ``merge``): the class page and the gradebook.

    A failure here never costs the report itself, which is already on disk: it is said on
    stderr, and ``python -m coursetools report REPORT_DIR`` tries again.
    """
    from coursetools.grading.gradebook import write_gradebook

    for what, write in (("class report", write_class_report), ("gradebook", write_gradebook)):
        try:
            write(out_dir)
        except Exception as error:  # noqa: BLE001 - the report is written; say why the extra did not
            print(f"warning: the {what} could not be written: {type(error).__name__}: {error}", file=sys.stderr)
