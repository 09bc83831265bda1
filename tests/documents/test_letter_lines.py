"""A letter's paragraphs broken into lines: nothing lost, nothing wider than the line, Chinese
broken anywhere but never before closing punctuation, English words kept whole."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_ar.documents.pages import _NO_LINE_END, _NO_LINE_START, broken


def width(ch: str) -> float:
    """A CJK character is a full em, anything else half of one."""
    return 1.0 if ch >= "\u2e80" else 0.5


def line_width(line: str) -> float:
    return sum(map(width, line))


ALPHABET = list("客户逾期金额滞纳合计付清") + list("abcdefgxyz0123456789") + [" ", " ", " "] + list("，。：）,.;（“")


@settings(max_examples=1000, deadline=None)
@given(st.text(ALPHABET, max_size=120), st.integers(2, 30))
def test_lines_keep_every_character_and_fit(text, room):
    lines = broken(text.strip(), float(room), width)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for line in lines:
        assert line == line.strip(" ") and line
        assert line_width(line) <= room or len(line) == 1
    # A line ends only where the next one's first word or character no longer fits on it.
    for line, nxt in zip(lines, lines[1:]):
        first = nxt.split(" ")[0]
        assert line_width(line + " " + first) > room or line_width(line + nxt[:2]) > room or \
            nxt[0] in _NO_LINE_START | _NO_LINE_END or nxt[1:2] in _NO_LINE_START or line[-1] in _NO_LINE_END


def test_chinese_is_broken_anywhere_but_not_before_closing_punctuation():
    text = "逾期金额合计付清，客户滞纳金"
    assert broken(text, 8.0, width) == ["逾期金额合计付", "清，客户滞纳金"]  # "，" stays with "清"
    assert broken(text, 9.0, width) == ["逾期金额合计付清，", "客户滞纳金"]


def test_opening_punctuation_goes_with_what_follows_it():
    assert broken("合计付清（大写）", 5.0, width) == ["合计付清", "（大写）"]


def test_english_words_stay_whole_and_the_space_goes_with_the_break():
    assert broken("pay the overdue amount now", 6.0, width) == ["pay the", "overdue", "amount now"]
    assert broken("a verylongword", 3.0, width) == ["a", "verylo", "ngword"]  # wider than a line: cut


def test_numbers_between_chinese_stay_whole():
    assert broken("金额 CNY 5,986.89，已逾期", 7.0, width) == ["金额 CNY", "5,986.89，已逾", "期"]


def test_a_paragraph_starts_a_line_at_each_line_break_and_wraps_in_its_column():
    from xl_ar.documents.fonts import find_cjk_font, own_cut
    from xl_ar.documents.pages import CELL_MARGIN, Pages

    found = find_cjk_font()
    if found is None:
        pytest.skip("no CJK font: install fonts-noto-cjk")
    text = "first line\n\nthird " + "word " * 40
    with own_cut(found, set(text)) as (regular, bold):
        pdf = Pages(regular, bold, margins=12, bottom=14)
        pdf.font(10)
        top = pdf.y
        pdf.paragraph(text, 5, 60)
        drawn = round((pdf.y - top) / 5)
        words = len(broken("third " + "word " * 40, 60 - 2 * CELL_MARGIN, pdf.width))
        assert drawn == 2 + words and words > 3
        assert pdf.x == pdf.l_margin
        assert max(op[1] + pdf.width(op[5]) for op in pdf._pages[0] if op[0] == "text") <= 12 + 60 - CELL_MARGIN
