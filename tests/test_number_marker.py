"""The measured-number marker masks the number it marks and nothing else.

Lessons print numbers that differ slightly between computers (a trained model's
accuracy) as ``≈0.93`` with :func:`coursetools.numbers.about`, which first checks the
range the text claims. ``nbval-sanitize.cfg`` masks exactly that token before strict
comparison. These tests keep the mask from growing: it must never swallow the words
around a number, a whole line, or a number printed without the mark.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from coursetools import schema
from coursetools.numbers import MARK, TOKEN, ClaimNoLongerHolds, about

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


def sanitize_rules() -> dict[str, str]:
    text = (ROOT / "nbval-sanitize.cfg").read_text(encoding="ascii")  # ASCII: nbval opens it with the locale's encoding
    return dict(re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.MULTILINE))


def marker_rule() -> tuple[str, str]:
    rules = [(regex, replace) for regex, replace in sanitize_rules().items() if re.search(regex, MARK + "1")]
    assert len(rules) == 1, "exactly one sanitize rule masks the measured-number marker"
    return rules[0]


def masked(text: str) -> str:
    for regex, replace in sanitize_rules().items():  # as nbval applies them, in file order
        text = re.sub(regex, replace, text)
    return text


def test_the_sanitize_rule_is_the_token_about_prints():
    regex, _ = marker_rule()
    assert regex == TOKEN.pattern


@pytest.mark.parametrize(
    "line, expected",
    [
        ("test accuracy ≈0.93", "test accuracy ~NUMBER"),
        ("test accuracy ≈93% (chance: 10%)", "test accuracy ~NUMBER (chance: 10%)"),
        ("gradient ≈3e-04, layer 1 of 26", "gradient ~NUMBER, layer 1 of 26"),
        ("ink_loss ≈-512 after 3 epochs", "ink_loss ~NUMBER after 3 epochs"),
        ("from ≈1.3 to ≈2.9 (median ≈2.1)", "from ~NUMBER to ~NUMBER (median ~NUMBER)"),
        ("≈0.93≈0.94", "~NUMBER~NUMBER"),
        ("accuracy 0.93", "accuracy 0.93"),  # no mark: compared exactly
        ("≈ 0.93", "≈ 0.93"),  # a mark followed by a space masks nothing
        ("≈abc 12", "≈abc 12"),
        ("≈0.93 digits\nnext line 0.5", "~NUMBER digits\nnext line 0.5"),
    ],
)
def test_the_mask_replaces_only_the_marked_number(line, expected):
    assert masked(line) == expected


def test_a_match_is_a_short_run_of_number_characters():
    regex, _ = marker_rule()
    probe = "≈12345678901234567890.5% ≈-1.5e+10 ≈0.5 words ≈7\n≈8 end"
    for match in re.finditer(regex, probe):
        assert re.fullmatch(r"≈[-0-9.e+%]+", match.group()), match.group()
        assert not re.search(r"\s", match.group())


def printed_lines(path: Path):
    for index, cell in schema.iter_code_cells(nbformat.read(path, as_version=4)):
        for output in cell.outputs:
            texts = [output.get("text", "")] if output.output_type == "stream" else \
                [str(v) for k, v in output.get("data", {}).items() if k.startswith("text/")]
            for text in texts:
                for line in text.splitlines():
                    yield index, line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_mark_in_a_notebook_is_masked_and_leaves_its_words(path):
    for index, line in printed_lines(path):
        if MARK not in line:
            continue
        after = masked(line)
        assert MARK not in after, f"cell {index}: a ≈ not followed by a number: {line!r}"
        assert re.search(r"[A-Za-z]", TOKEN.sub("", line)), f"cell {index}: a measured number without words: {line!r}"


def test_about_checks_the_claim_and_marks_the_number():
    assert about(0.934, 0.9, 1.0) == "≈0.93"
    assert about(0.934, 0.9, 1.0, ".0%") == "≈93%"
    assert about(0.00031, 0.0, 0.001, ".0e") == "≈3e-04"
    assert about(-512.4, -1000, -200, ".0f") == "≈-512"
    for bad in (0.89, float("nan")):
        with pytest.raises(ClaimNoLongerHolds, match="outside"):
            about(bad, 0.9, 1.0)
    with pytest.raises(ValueError, match="can mask"):
        about(1234.5, 0, 1e6, ",.1f")
