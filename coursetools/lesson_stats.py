"""How long a lesson takes: cells, words, error demonstrations, and an estimate of the minutes.

``python -m coursetools.lesson_stats`` prints one row per lesson notebook (and, with
``--exercises``, per solution notebook) next to the time its ``LESSON`` states. The
estimate is a reading model, not a measurement:

    minutes = words / 180 + 0.4 per code cell + 1 per error demonstration + 0.04 per line of code

180 words a minute for technical prose read with care; a code cell costs time to read, run
and look at, more when it is long; an error demonstration costs a minute more, to read the
message and connect it to its cause. Calibration: the lesson 7 that mixed subclassing,
saving and porting (80 cells, 3,238 words, 41 code cells of 290 lines, 8 error
demonstrations) comes out at 54 minutes, which matches what learners reported (50-60).
For exercise notebooks the estimate covers reading and running only, not solving.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from coursetools import schema

WORDS_PER_MINUTE = 180
MINUTES_PER_CODE_CELL = 0.4
MINUTES_PER_ERROR_DEMONSTRATION = 1.0
MINUTES_PER_CODE_LINE = 0.04
LIMIT_MINUTES = 45  # no lesson takes longer (README, START_HERE)


@dataclass(frozen=True)
class NotebookStats:
    cells: int
    code_cells: int
    words: int
    code_lines: int
    error_demonstrations: int

    @property
    def minutes(self) -> float:
        return (self.words / WORDS_PER_MINUTE + MINUTES_PER_CODE_CELL * self.code_cells
                + MINUTES_PER_ERROR_DEMONSTRATION * self.error_demonstrations + MINUTES_PER_CODE_LINE * self.code_lines)


def notebook_stats(path: Path) -> NotebookStats:
    nb = nbformat.read(path, as_version=4)
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    return NotebookStats(
        cells=len(nb.cells),
        code_cells=len(code),
        words=sum(len(re.findall(r"\S+", c.source)) for c in markdown),
        code_lines=sum(1 for c in code for line in c.source.splitlines() if line.strip()),
        error_demonstrations=sum(1 for c in code if schema.raises(c)),
    )


def main(argv: list[str] | None = None) -> int:
    from coursetools.lessons import all_lessons

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercises", action="store_true", help="also the solution notebooks (reading and running)")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    print(f"{'notebook':56} {'cells':>5} {'code':>5} {'words':>6} {'lines':>6} {'errors':>6} {'estimate':>8} {'stated':>7}")
    for lesson in all_lessons():
        rows = [(lesson.lesson_notebook, lesson.minutes)]
        if args.exercises:
            rows.append((lesson.solution_notebook, lesson.exercise_minutes))
        for notebook, stated in rows:
            s = notebook_stats(root / notebook)
            print(f"{notebook:56} {s.cells:5} {s.code_cells:5} {s.words:6} {s.code_lines:6} {s.error_demonstrations:6} "
                  f"{s.minutes:8.0f} {stated:7}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
