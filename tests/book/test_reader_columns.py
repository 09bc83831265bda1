"""The reader leaves out the tool's own columns below a ledger's header: what it reads is the
same ledger, layout and all, as reading every column gives (real files, written by openpyxl,
read by calamine), whether calamine parses the whole sheet or a copy with those cells cut out
before it parses (:mod:`xl_ar.book.strip`, forced here onto sheets of any size)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import openpyxl
import pandas as pd
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from xl_ar.book import layout, reader, strip
from xl_ar.book.headers import OUTPUTS
from xl_ar.book.reader import _cells, read_book

USER = ["InvoiceNo", "CustomerID", "InvoiceDate", "DueDate", "Amount", "Currency", "Notes"]
OURS = [labels[0] for labels in OUTPUTS["Invoices"].values()]

cell_values = st.one_of(st.none(), st.integers(-5, 10**6), st.text("ab华 ", max_size=4),
                        st.dates(dt.date(2020, 1, 1), dt.date(2026, 12, 31)))


@st.composite
def ledgers(draw):
    """Title rows, the user's columns (a headerless one sometimes), ours after them with blank
    headers among and after them, rows with values everywhere."""
    titles = draw(st.integers(0, 3))
    user = draw(st.lists(st.sampled_from(USER), min_size=2, max_size=7, unique=True))
    gap = draw(st.booleans())  # a column typed without a header between the user's and ours
    ours = draw(st.lists(st.sampled_from(OURS + [None]), max_size=6))
    header = user + ([None] if gap else []) + ours
    rows = draw(st.lists(st.lists(cell_values, min_size=len(header) + 2, max_size=len(header) + 2), max_size=12))
    return titles, header, rows


def _book(path, titles, header, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Invoices"
    for i in range(titles):
        ws.append([f"Ledger {i}"])
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ledgers())
@example((0, USER + ["Paid", None, "Paid"], [[None] * 8 + [0, None, None, None]]))  # ours twice, a value between
@example((1, USER[:3] + ["Paid", "Open", None], [[1, 2, 3, 4, 5, 6, 7, 8], [None, None, None, 1, None, 2]]))
def test_leaving_our_columns_out_reads_the_same_ledger(tmp_path_factory, case):
    path = _book(tmp_path_factory.mktemp("b") / "book.xlsx", *case)
    narrow = read_book(path)
    cut, keep_from, keep_copy = [], strip.STRIP_FROM, reader.reading_copy
    try:
        strip.STRIP_FROM = 0  # every sheet is cut before calamine parses it, where the rule says so

        def spy(*args, **kwargs):
            copy = keep_copy(*args, **kwargs)
            cut.append(dict(copy.cuts))
            return copy

        reader.reading_copy = spy
        stripped = read_book(path)
    finally:
        strip.STRIP_FROM, reader.reading_copy = keep_from, keep_copy
    event(f"cut: {bool(cut[0])}")
    try:
        layout.ours_from, keep = (lambda header, table: None), layout.ours_from
        whole = read_book(path)
    finally:
        layout.ours_from = keep
    for read in (narrow, stripped):
        assert read.layouts == whole.layouts
        assert read.tables.keys() == whole.tables.keys()
        for name, t in whole.tables.items():
            pd.testing.assert_frame_equal(read.tables[name].frame, t.frame)
            assert dataclasses.replace(read.tables[name], frame=None) == dataclasses.replace(t, frame=None)


def test_the_cells_are_calamines_from_a1_and_ours_are_left_out_below_the_header(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Invoices"
    ws["C2"], ws["D2"], ws["E2"], ws["F2"], ws["G2"] = "InvoiceNo", "Amount", "Open", None, "Stage"
    ws["C3"], ws["D3"], ws["E3"], ws["G3"], ws["H3"] = "I1", 5, 5, "x", "stray"
    wb.save(tmp_path / "b.xlsx")
    sheet = CalamineWorkbook.from_path(str(tmp_path / "b.xlsx")).get_sheet_by_name("Invoices")
    full = sheet.to_python(skip_empty_area=False)
    assert _cells(sheet, None) == full and _cells(sheet, "Settings") == full
    assert _cells(sheet, "Invoices") == full[:2] + [full[2][:4]]  # from the first of ours on (E), left out
