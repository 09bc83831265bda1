"""The array scans of the screening give what its patterns give, on random sheet XML.

The scans work chunk by chunk; the tests shrink the chunk so that rows, cells and texts fall
across chunk borders.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xl_ar.book import screen
from xl_ar.book.sheetxml import col_letter

HEAD = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
TAIL = b"</sheetData></worksheet>"

TEXTS = st.text(alphabet='ab 客户"=r>', max_size=12)
CELL = st.tuples(st.integers(1, 16384), st.sampled_from(["n", "s", "str", "inline"]), TEXTS,
                 st.sampled_from([" ", "\n", "\t"]))
ROW = st.tuples(st.integers(1, 1_048_576), st.lists(CELL, max_size=5), st.booleans(), st.sampled_from(["", "x:"]))


def _sheet(rows: list) -> bytes:
    parts = [HEAD]
    for r, cells, numbered, p in rows:
        attrs = f' r="{r}"' if numbered else ""
        parts.append(f'<{p}row{attrs} spans="1:5" ht="15">'.encode())
        for c, kind, text, sp in cells:
            ref = f"{col_letter(c)}{r}"
            if kind == "inline":
                t = text.replace(">", "&gt;").replace('"', "&quot;")
                parts.append(f'<{p}c{sp}r="{ref}" t="inlineStr"><{p}is><{p}t>{t}</{p}t></{p}is></{p}c>'.encode())
            elif kind == "str":
                parts.append(f'<{p}c r="{ref}" s="2" t="str"><{p}f>A1&amp;"x"</{p}f><{p}v>x</{p}v></{p}c>'.encode())
            else:
                parts.append(f'<{p}c r="{ref}"{sp}t="{kind}"><{p}v>1</{p}v></{p}c>'.encode())
        parts.append(f"</{p}row>".encode())
    return b"".join(parts) + TAIL


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW, max_size=12))
def test_sheet_extent_is_the_patterns_extent(rows):
    data = _sheet(rows)
    assert screen.sheet_extent(data) == screen.exact_extent(data)


@settings(max_examples=150, deadline=None)
@given(st.lists(ROW, max_size=12))
def test_sheet_extent_across_chunk_borders(rows):
    # (not monkeypatch: hypothesis runs the body many times within one fixture)
    data = _sheet(rows)
    old = screen._CHUNK
    try:
        screen._CHUNK = 61
        got = screen.sheet_extent(data)
    finally:
        screen._CHUNK = old
    assert got == screen.exact_extent(data)


def test_a_cell_text_naming_a_far_cell_only_raises_the_bound():
    # Unescaped quotes are legal in element text: the scan may count them, never undercount.
    data = HEAD + b'<row r="2"><c r="B2" t="inlineStr"><is><t> r="XFD9999"</t></is></c></row>' + TAIL
    assert screen.exact_extent(data) == (2, 2)
    assert screen.sheet_extent(data) == (2, 16384)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40_000), max_size=4), st.integers(1, 5))
def test_has_long_text_is_the_pattern(lengths, chunk_kb):
    body = b"".join(b'<row r="1"><c r="A1" t="inlineStr"><is><t>' + b"a" * n + b"</t></is></c></row>" for n in lengths)
    data = HEAD + body + TAIL
    old = screen._CHUNK
    try:
        screen._CHUNK = chunk_kb * 7919
        got = screen.has_long_text(data)
    finally:
        screen._CHUNK = old
    assert got == (screen._LONG_TEXT.search(data) is not None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"<f>", b"f", b"<", b"<c r=\"A1\">", b"ff", b"<x:f", b"a"]), max_size=40),
       st.integers(0, 5))
def test_the_formula_tag_is_found_from_the_fs_as_the_plain_search_finds_it(pieces, many):
    data = b"".join(pieces)
    saved = screen._MANY_F
    screen._MANY_F = many  # also the plain search after a few "f"s
    try:
        assert screen._has_formula_tag(data) == (b"<f" in data)
    finally:
        screen._MANY_F = saved


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 20_000), st.integers(32_760, 32_775))
def test_a_text_just_too_long_is_found_at_any_alignment(pad, n):
    """A run of text just long enough covers a whole window without "<" wherever it starts."""
    data = HEAD + b"<row>" + b"<c/>" * (pad // 4) + b'<c t="inlineStr"><is><t>' + b"a" * n + b"</t></is></c></row>" + TAIL
    assert screen.has_long_text(data) == (screen._LONG_TEXT.search(data) is not None) == (n > screen.EXCEL_MAX_TEXT)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b't="e"', b't="e', b'"e"', b't="s"', b"e", b"t", b'="', b'<c r="A1" t="e">',
                                 b"inlineStr", b"x"]), max_size=30), st.integers(5, 40))
def test_has_error_type_is_the_plain_search(pieces, chunk):
    data = b"".join(pieces)
    old = screen._CHUNK
    try:
        screen._CHUNK = chunk
        got = screen._has_error_type(data)
    finally:
        screen._CHUNK = old
    assert got == (b't="e"' in data)
