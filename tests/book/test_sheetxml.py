"""The streamed splice of computed columns and the owned-sheet renderer."""

from __future__ import annotations

import re
from datetime import date, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from xl_ar.book.render import render_sheet
from xl_ar.book.sheetxml import (
    BookError,
    OutColumn,
    col_index,
    col_letter,
    decode_xstring,
    escape_text,
    excel_serials,
)
from xl_ar.book.splice import _splice, splice_columns

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
M = "{%s}" % MAIN


def sheet(data: str, *, prologue: str = '<dimension ref="A1:B3"/>', epilogue: str = "", prefix: str = "") -> bytes:
    """A worksheet whose sheetData content is ``data`` (written with the given prefix), with
    what goes before and after it."""
    p = prefix + ":" if prefix else ""
    ns = f'xmlns:{prefix}="{MAIN}"' if prefix else f'xmlns="{MAIN}"'
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<{p}worksheet {ns}>{prologue}'
        f"<{p}sheetData>{data}</{p}sheetData>{epilogue}<{p}pageMargins left=\"0.7\" right=\"0.7\" top=\"0.75\" "
        f'bottom="0.75" header="0.3" footer="0.3"/></{p}worksheet>'
    ).encode()


def cells(xml: bytes) -> dict[tuple[int, int], tuple[dict, str]]:
    """(row, col) -> (attributes without r, the cell's inner XML), checking the order rules."""
    root = etree.fromstring(xml)
    out, last_row = {}, 0
    for row in root.iter(M + "row"):
        r = int(row.get("r")) if row.get("r") else last_row + 1  # implied: previous + 1
        assert r > last_row, "rows must be strictly increasing"
        last_row, last_col = r, 0
        for c in row.iter(M + "c"):
            m = re.fullmatch(r"([A-Z]+)(\d+)", c.get("r"))
            assert int(m.group(2)) == r
            col = col_index(m.group(1))
            assert col > last_col, "cells must be strictly increasing in a row"
            last_col = col
            attrs = {k: v for k, v in c.attrib.items() if k != "r"}
            inner = "".join(etree.tostring(ch, encoding="unicode") for ch in c)
            out[(r, col)] = (attrs, re.sub(r' xmlns(:\w+)?="[^"]*"', "", inner))
    return out


def num(v: str, s: int | None = None) -> tuple[dict, str]:
    return ({"s": str(s)} if s else {}), f"<v>{v}</v>"


def text(t: str, s: int | None = None, preserve: bool = False) -> tuple[dict, str]:
    attrs = {"s": str(s)} if s else {}
    attrs["t"] = "inlineStr"
    sp = ' xml:space="preserve"' if preserve else ""
    return attrs, f"<is><t{sp}>{t}</t></is>"


DAYS = OutColumn(3, "Days late", header_style=7, style=2, kind="number", width=10)
STAGE = OutColumn(4, "Stage", header_style=7, style=0, kind="text")
BASE = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>No</t></is></c><c r="B1" t="inlineStr"><is><t>Amt</t></is></c></row>'
    '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2"><v>10.5</v></c></row>'
    '<row r="3"><c r="A3" t="s"><v>1</v></c><c r="B3"><v>20</v></c></row>'
)


# ------------------------------------------------------------------------------- references


@pytest.mark.parametrize("i, letters", [(1, "A"), (26, "Z"), (27, "AA"), (52, "AZ"), (53, "BA"), (702, "ZZ"), (703, "AAA"), (16384, "XFD")])
def test_column_letters_round_trip(i, letters):
    assert col_letter(i) == letters
    assert col_index(letters) == i
    assert col_index(letters.lower()) == i


@pytest.mark.parametrize("bad", [0, 16385, -1])
def test_column_numbers_out_of_range_are_refused(bad):
    with pytest.raises(ValueError):
        col_letter(bad)


@pytest.mark.parametrize("bad", ["", "A1", "XFE", "ABCD", "Ä"])
def test_bad_column_letters_are_refused(bad):
    with pytest.raises(ValueError):
        col_index(bad)


# ------------------------------------------------------------------------------- the splice


def test_splice_appends_headers_and_values_exactly():
    out = splice_columns(sheet(BASE), header_row=1, columns=[DAYS, STAGE], rows=[2, 3],
                         values=[np.array([5.0, np.nan]), ["reminder", "final"]])
    assert out == sheet(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>No</t></is></c><c r="B1" t="inlineStr"><is><t>Amt</t></is></c>'
        '<c r="C1" s="7" t="inlineStr"><is><t>Days late</t></is></c><c r="D1" s="7" t="inlineStr"><is><t>Stage</t></is></c></row>'
        '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2"><v>10.5</v></c><c r="C2" s="2"><v>5</v></c>'
        '<c r="D2" t="inlineStr"><is><t>reminder</t></is></c></row>'
        '<row r="3"><c r="A3" t="s"><v>1</v></c><c r="B3"><v>20</v></c>'
        '<c r="D3" t="inlineStr"><is><t>final</t></is></c></row>',
        prologue='<dimension ref="A1:D3"/><cols><col min="3" max="3" width="10" customWidth="1"/></cols>',
    )


def test_splice_is_idempotent_and_clears_stale_values():
    first = splice_columns(sheet(BASE), header_row=1, columns=[DAYS, STAGE], rows=[2, 3],
                           values=[[5.0, 6.0], ["a", "b"]])
    again = splice_columns(first, header_row=1, columns=[DAYS, STAGE], rows=[2, 3],
                           values=[[5.0, 6.0], ["a", "b"]])
    assert again == first
    # row 3 no longer gets values: its old cells in C and D must vanish
    third = splice_columns(first, header_row=1, columns=[DAYS, STAGE], rows=[2], values=[[7.0], ["z"]])
    got = cells(third)
    assert got[(2, 3)] == num("7", 2) and got[(2, 4)] == text("z")
    assert (3, 3) not in got and (3, 4) not in got
    assert got[(3, 2)] == num("20")


def test_rows_not_in_the_sheet_are_created_in_order():
    xml = sheet('<row r="1"><c r="A1"><v>1</v></c></row><row r="5"><c r="A5"><v>5</v></c></row>')
    out = splice_columns(xml, header_row=1, columns=[DAYS], rows=[3, 7, 5], values=[[3.0, 7.0, 5.0]])
    got = cells(out)
    assert got[(3, 3)] == num("3", 2) and got[(5, 3)] == num("5", 2) and got[(7, 3)] == num("7", 2)
    assert got[(5, 1)] == num("5")
    assert b'<dimension ref="A1:C7"/>' in out


def test_missing_header_row_and_empty_sheet_data():
    empty = sheet("").replace(b"<sheetData></sheetData>", b"<sheetData/>")
    out = splice_columns(empty, header_row=2, columns=[STAGE], rows=[4], values=[["x"]])
    got = cells(out)
    assert got == {(2, 4): text("Stage", 7), (4, 4): text("x")}
    assert b"<sheetData/>" not in out


def test_self_closing_rows_are_opened_only_where_needed():
    xml = sheet('<row r="1"><c r="A1"><v>1</v></c></row><row r="2" ht="30" customHeight="1"/><row r="3"/>')
    out = splice_columns(xml, header_row=1, columns=[DAYS], rows=[2], values=[[1.25]])
    root = etree.fromstring(out)
    row2 = root.find(f"{M}sheetData/{M}row[@r='2']")
    assert row2.get("ht") == "30" and row2.get("customHeight") == "1"
    assert cells(out)[(2, 3)] == num("1.25", 2)
    assert root.find(f"{M}sheetData/{M}row[@r='3']") is not None


def test_rows_and_cells_without_r_use_their_implied_positions():
    xml = sheet('<row><c t="inlineStr"><is><t>h</t></is></c><c><v>2</v></c><c><v>3</v></c><c><v>4</v></c></row>'
                "<row><c><v>5</v></c><c><v>6</v></c><c><v>7</v></c><c><v>8</v></c></row>")
    out = splice_columns(xml, header_row=1, columns=[DAYS], rows=[2], values=[[9.0]])
    got = cells(out)  # every kept cell has its explicit reference now
    assert got[(1, 2)] == num("2") and got[(1, 3)] == text("Days late", 7) and got[(1, 4)] == num("4")
    assert got[(2, 1)] == num("5") and got[(2, 3)] == num("9", 2) and got[(2, 4)] == num("8")


def test_user_columns_right_of_ours_keep_their_place():
    xml = sheet('<row r="1"><c r="A1"><v>1</v></c><c r="E1" t="inlineStr"><is><t>Note</t></is></c></row>'
                '<row r="2"><c r="A2"><v>2</v></c><c r="C2"><v>99</v></c><c r="E2" t="inlineStr"><is><t>call</t></is></c></row>'
                '<row r="3"><c r="A3"><v>3</v></c><c r="F3"><v>6</v></c></row>')
    out = splice_columns(xml, header_row=1, columns=[DAYS, STAGE], rows=[2, 3], values=[[1.0, 2.0], ["x", "y"]])
    got = cells(out)
    assert got[(1, 5)] == text("Note") and got[(2, 5)] == text("call") and got[(3, 6)] == num("6")
    assert got[(2, 3)] == num("1", 2) and got[(3, 3)] == num("2", 2) and got[(3, 4)] == text("y")
    assert splice_columns(out, header_row=1, columns=[DAYS, STAGE], rows=[2, 3], values=[[1.0, 2.0], ["x", "y"]]) == out


def test_gap_between_our_columns_holds_a_user_column():
    far = OutColumn(5, "Fee", style=3)
    xml = sheet('<row r="1"><c r="A1"><v>1</v></c><c r="D1" t="inlineStr"><is><t>Mine</t></is></c></row>'
                '<row r="2"><c r="D2"><v>4</v></c></row>')
    out = splice_columns(xml, header_row=1, columns=[far, DAYS], rows=[2], values=[[0.5], [3.0]])
    got = cells(out)
    assert got[(2, 3)] == num("3", 2) and got[(2, 4)] == num("4") and got[(2, 5)] == num("0.5", 3)
    assert got[(1, 4)] == text("Mine")


def test_formula_cells_in_our_columns_are_replaced():
    xml = sheet('<row r="1"><c r="A1"><v>1</v></c><c r="C1"><f>A1*2</f><v>2</v></c></row>'
                '<row r="2"><c r="A2"><v>1</v></c><c r="C2"><f t="shared" ref="C2:C3" si="0">A2*2</f><v>2</v></c></row>'
                '<row r="3"><c r="B3"><f>A3+1</f><v>1</v></c><c r="C3"><f t="shared" si="0"/><v>2</v></c></row>')
    out = splice_columns(xml, header_row=1, columns=[DAYS], rows=[2], values=[[8.0]])
    got = cells(out)
    assert got[(1, 3)] == text("Days late", 7) and got[(2, 3)] == num("8", 2) and (3, 3) not in got
    assert got[(3, 2)] == ({}, "<f>A3+1</f><v>1</v>")
    assert b"A2*2" not in out


def test_rows_above_the_header_are_untouched():
    xml = sheet('<row r="1"><c r="C1" t="inlineStr"><is><t>Report title</t></is></c></row>'
                '<row r="2"><c r="A2"><v>1</v></c></row><row r="3"><c r="A3"><v>2</v></c></row>')
    out = splice_columns(xml, header_row=2, columns=[DAYS], rows=[3], values=[[1.0]])
    got = cells(out)
    assert got[(1, 3)] == text("Report title") and got[(2, 3)] == text("Days late", 7)


def test_text_is_escaped_like_excel():
    col = OutColumn(3, 'A&B <"x">', kind="text")
    vals = ["a<b & c>d", "tab\tnew\nline", "bell\x07null\x00", "_x0041_ literal", " padded ", "华为技术有限公司 应收", "\r"]
    out = splice_columns(sheet(BASE), header_row=1, columns=[col], rows=list(range(2, 9)), values=[vals])
    got = cells(out)
    assert got[(1, 3)] == text('A&amp;B &lt;"x"&gt;')
    assert got[(2, 3)] == text("a&lt;b &amp; c&gt;d")
    assert got[(3, 3)] == text("tab\tnew\nline")
    assert got[(4, 3)] == text("bell_x0007_null_x0000_")
    assert got[(5, 3)] == text("_x005F_x0041_ literal")
    assert got[(6, 3)] == text(" padded ", preserve=True)
    assert got[(7, 3)] == text("华为技术有限公司 应收")
    assert got[(8, 3)] == text("_x000D_", preserve=True)
    assert escape_text("\ud800") == "_xD800_"


def test_numbers_are_written_in_shortest_round_trip_form():
    vals = [0.1 + 0.2, -0.0, 1e16, 123456789.125, -3.0, 1e-7, 2.0**53 + 2]
    out = splice_columns(sheet(""), header_row=1, columns=[DAYS], rows=range(2, 9), values=[vals])
    got = [cells(out)[(r, 3)][1] for r in range(2, 9)]
    assert got == ["<v>0.30000000000000004</v>", "<v>0</v>", "<v>1e+16</v>", "<v>123456789.125</v>",
                   "<v>-3</v>", "<v>1e-07</v>", "<v>9007199254740994</v>"]
    assert all(float(re.sub("</?v>", "", g)) == v for g, v in zip(got, vals))


def test_dates_become_excel_serials():
    col = OutColumn(3, "Due", style=4, kind="date")
    vals = np.array(["1900-01-01", "1900-02-28", "1900-03-01", "2024-01-15", "NaT", "2024-01-15T18:00"], dtype="datetime64[ms]")
    out = splice_columns(sheet(""), header_row=1, columns=[col], rows=range(2, 8), values=[vals])
    got = cells(out)
    assert [got[(r, 3)] for r in (2, 3, 4, 5, 7)] == [num("1", 4), num("59", 4), num("61", 4), num("45306", 4), num("45306.75", 4)]
    assert (6, 3) not in got
    assert excel_serials([date(2024, 1, 15), None, datetime(2024, 1, 15, 12)]).tolist()[::2] == [45306.0, 45306.5]
    with pytest.raises(ValueError):
        excel_serials(np.array(["1899-12-31"], dtype="datetime64[D]"))


@pytest.mark.parametrize("kwargs, message", [
    (dict(rows=[1], values=[[1.0]]), "rows must lie"),
    (dict(rows=[2, 2], values=[[1.0, 2.0]]), "duplicate"),
    (dict(rows=[2], values=[[float("inf")]]), "infinite"),
    (dict(rows=[2, 3], values=[[1.0]]), "values for 2 rows"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        splice_columns(sheet(BASE), header_row=1, columns=[DAYS], **kwargs)


def test_namespace_prefix_is_followed():
    xml = sheet('<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row><x:row r="2"><x:c r="A2"><x:v>2</x:v></x:c></x:row>',
                prologue='<x:dimension ref="A1:A2"/>', prefix="x")
    out = splice_columns(xml, header_row=1, columns=[DAYS, STAGE], rows=[2], values=[[1.0], ["ok"]])
    assert b'<x:c r="C2" s="2"><x:v>1</x:v></x:c><x:c r="D2" t="inlineStr"><x:is><x:t>ok</x:t></x:is></x:c></x:row>' in out
    assert b'<x:cols><x:col min="3" max="3" width="10" customWidth="1"/></x:cols><x:sheetData>' in out
    assert b'<x:dimension ref="A1:D2"/>' in out
    etree.fromstring(out)


@pytest.mark.parametrize("xml, message", [
    (b'<!DOCTYPE lol [<!ENTITY a "aaaa">]><worksheet xmlns="' + MAIN.encode() + b'"><sheetData/></worksheet>', "DOCTYPE"),
    (b'<worksheet xmlns="http://purl.oclc.org/ooxml/spreadsheetml/main"><sheetData/></worksheet>', "Strict"),
    (sheet('<row r="1"><c r="A1" t="inlineStr"><is><t><![CDATA[</row>]]></t></is></c></row>'), "CDATA"),
    (b"<workbook/>", "not a worksheet"),
])
def test_unsafe_or_foreign_xml_is_refused(xml, message):
    with pytest.raises(BookError, match=message):
        splice_columns(xml, header_row=1, columns=[DAYS], rows=[2], values=[[1.0]])


def test_existing_cols_and_spans_are_respected():
    xml = sheet('<row r="1" spans="1:2"><c r="A1"><v>1</v></c></row><row r="2" spans="1:2"><c r="A2"><v>2</v></c></row>',
                prologue='<dimension ref="A1:B2"/><cols><col min="1" max="1" width="20" customWidth="1"/>'
                         '<col min="4" max="9" width="5" customWidth="1"/></cols>')
    out = splice_columns(xml, header_row=1, columns=[DAYS, STAGE], rows=[2], values=[[1.0], ["x"]])
    assert (b'<cols><col min="1" max="1" width="20" customWidth="1"/><col min="3" max="3" width="10" customWidth="1"/>'
            b'<col min="4" max="9" width="5" customWidth="1"/></cols>') in out
    assert out.count(b'spans="1:4"') == 2


# ------------------------------------------------------------------------------- properties

LAYOUTS = [  # a user column between ours (D), or ours side by side
    [OutColumn(3, "C", 1, 2, "number"), OutColumn(5, "E", 1, 0, "text")],
    [OutColumn(3, "C", 1, 2, "number"), OutColumn(4, "D", 1, 0, "text")],
]


@st.composite
def random_sheets(draw):
    """Small sheets with cells anywhere in A..G, some rows self-closing, some absent."""
    rows = sorted(draw(st.sets(st.integers(1, 12), max_size=10)))
    parts, original = [], {}
    for r in rows:
        cols = sorted(draw(st.sets(st.integers(1, 7), max_size=5)))
        if not cols and draw(st.booleans()):
            parts.append(f'<row r="{r}"/>')
            continue
        cs = []
        for c in cols:
            v = draw(st.integers(-5, 5))
            cs.append(f'<c r="{col_letter(c)}{r}"><v>{v}</v></c>')
            original[(r, c)] = num(str(v))
        parts.append(f'<row r="{r}">{"".join(cs)}</row>')
    header = draw(st.integers(1, 3))
    targets = sorted(draw(st.sets(st.integers(header + 1, 14), max_size=8)))
    nums = [draw(st.one_of(st.just(float("nan")), st.integers(-9, 9).map(float))) for _ in targets]
    texts = [draw(st.one_of(st.none(), st.text("ab<&华", max_size=3))) for _ in targets]
    return sheet("".join(parts)), original, header, targets, nums, texts, draw(st.sampled_from(LAYOUTS))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_sheets())
def test_splice_keeps_every_other_cell_and_writes_every_new_one(case):
    xml, original, header, targets, nums, texts, cols = case
    out = splice_columns(xml, header_row=header, columns=cols, rows=targets, values=[nums, texts])
    slow = b"".join(_splice(xml, header, cols, targets, [nums, texts], allow_fast=False))
    got = cells(out)
    assert cells(slow) == got
    ours = {c.index for c in cols}
    num_col, text_col = cols[0].index, cols[1].index
    for (r, c), cell in original.items():
        if c in ours and r >= header:
            continue
        assert got[(r, c)] == cell
    expected = {(header, num_col): text(cols[0].header, 1), (header, text_col): text(cols[1].header, 1)}
    for r, n, t in zip(targets, nums, texts):
        if n == n:
            expected[(r, num_col)] = num(str(int(n)), 2)
        if t:
            expected[(r, text_col)] = text(t.replace("&", "&amp;").replace("<", "&lt;"))
    assert {k: v for k, v in got.items() if k[1] in ours and k[0] >= header} == expected
    again = splice_columns(out, header_row=header, columns=cols, rows=targets, values=[nums, texts])
    assert again == out


# ------------------------------------------------------------------------------- owned sheets


def test_render_sheet_writes_values_styles_and_layout():
    xml = render_sheet(
        [[("Aging", 5)], ["Customer", "Total", "Due", "Open"], ["ACME", (1234.5, 3), date(2024, 3, 1), True],
         [], ["华为", 0.1 + 0.2, (datetime(2024, 3, 1, 6), 9), None]],
        col_widths={1: 14, 2: 12.5}, date_style=4, merged=["A1:D1"], autofilter="A2:D5",
    )
    got = cells(xml)
    assert got[(1, 1)] == text("Aging", 5)
    assert got[(3, 2)] == num("1234.5", 3) and got[(3, 3)] == num("45352", 4)
    assert got[(3, 4)] == ({"t": "b"}, "<v>1</v>")
    assert got[(5, 1)] == text("华为") and got[(5, 2)] == num("0.30000000000000004") and got[(5, 3)] == num("45352.25", 9)
    assert (5, 4) not in got
    for needle in (b'<dimension ref="A1:D5"/>', b'<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>',
                   b'<col min="2" max="2" width="12.5" customWidth="1"/>', b'<autoFilter ref="A2:D5"/>',
                   b'<mergeCells count="1"><mergeCell ref="A1:D1"/></mergeCells>'):
        assert needle in xml
    assert render_sheet([], freeze_header=False).count(b"<sheetData/>") == 1
    with pytest.raises(TypeError):
        render_sheet([[object()]])


def test_pretty_printed_xml_is_spliced_like_compact_xml():
    data = ('\n  <row r="1" spans="1:5">\n    <c r="A1"><v>1</v></c>\n    <c r="E1" t="inlineStr"><is><t>Note</t></is></c>\n  </row>'
            '\n  <row r="2" spans="1:5">\n    <c r="A2"><v>2</v></c>\n    <c r="C2"><v>7</v></c>\n  </row>'
            '\n  <row r="4" spans="1:5"/>\n')
    cols = [DAYS, STAGE]
    out = splice_columns(sheet(data), header_row=1, columns=cols, rows=[2, 3, 4], values=[[1.0, 2.0, 3.0], ["x", "y", "z"]])
    assert cells(out) == cells(b"".join(_splice(sheet(data), 1, cols, [2, 3, 4], [[1.0, 2.0, 3.0], ["x", "y", "z"]], allow_fast=False)))
    assert cells(out) == {
        (1, 1): num("1"), (1, 3): text("Days late", 7), (1, 4): text("Stage", 7), (1, 5): text("Note"),
        (2, 1): num("2"), (2, 3): num("1", 2), (2, 4): text("x"), (3, 3): num("2", 2), (3, 4): text("y"),
        (4, 3): num("3", 2), (4, 4): text("z"),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_sheets(), st.integers(1, 4))
def test_pieces_in_small_blocks_join_to_the_same_sheet(case, block_rows):
    """The spliced sheet handed over in blocks of rows (here tiny ones, so that every border of a
    block is crossed) is the same XML as the joined splice."""
    from xl_ar.book import rowcells, splice_stream
    from xl_ar.book import splice as splice_module

    xml, _, header, targets, nums, texts, cols = case
    whole = splice_columns(xml, header_row=header, columns=cols, rows=targets, values=[nums, texts])
    slow = b"".join(_splice(xml, header, cols, targets, [nums, texts], allow_fast=False))
    saved = splice_stream.BLOCK_ROWS, rowcells.BLOCK_ROWS
    splice_stream.BLOCK_ROWS = rowcells.BLOCK_ROWS = block_rows
    try:
        pieces = list(splice_module.splice_pieces(xml, header_row=header, columns=cols, rows=targets,
                                                  values=[nums, texts]))
        slow_small = b"".join(_splice(xml, header, cols, targets, [nums, texts], allow_fast=False))
    finally:
        splice_stream.BLOCK_ROWS, rowcells.BLOCK_ROWS = saved
    assert b"".join(pieces) == whole
    assert slow_small == slow


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["_", "x", "0", "_x", "_x0041", "x0041_", "_x0041_", "_x005F_", "\x01", "\r", "\x1f",
                                 "\ufffe", "华", " ", "&"]), max_size=12).map("".join))
def test_stored_text_reads_back_as_written_by_the_spec(text):
    assert decode_xstring(escape_text(text).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")) == text


def test_escapes_next_to_each_other_and_before_a_control_character_are_all_protected(tmp_path):
    from python_calamine import CalamineWorkbook

    from corpus.build import edit_sheet, ledger, set_cell_xml

    texts = ["_x0041_x0042_", "_x0041\x01", "a_x0041_\r", "_x005F_", "__x0041__", "_x00411_"]
    assert escape_text(texts[0]) == "_x005F_x0041_x005F_x0042_"
    assert escape_text(texts[1]) == "_x005F_x0041_x0001_"
    book = ledger(tmp_path / "e.xlsx")
    refs = ["A2", "A3", "A4", "A5", "B2", "B3"]  # cells of the ledger's four invoices
    for ref, t in zip(refs, texts):  # the stored text, read by a real reader (calamine, as the tool reads)
        edit_sheet(book, "Invoices", lambda x, ref=ref, t=t: set_cell_xml(
            x, ref, f'<c r="{ref}" t="inlineStr"><is><t>{escape_text(t)}</t></is></c>'.encode()))
    rows = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("Invoices").to_python()
    assert [rows[int(r[1]) - 1][ord(r[0]) - 65] for r in refs] == texts
