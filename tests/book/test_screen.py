"""The screening of a workbook's parts before calamine parses them (real files, real reader)."""

from __future__ import annotations

import threading

import pytest

from corpus.build import (add_cell, edit_sheet, ledger, rezip, set_cell_xml, shared_strings,
                          shared_strings_bomb, sheet_part)
from xl_ar.book.package import BookError
from xl_ar.book.reader import read_book
from xl_ar.core.convert import CellError


def test_a_value_in_the_last_cell_of_the_grid_is_read_without_the_grid(tmp_path):
    book = edit_sheet(ledger(tmp_path / "far.xlsx"), "Invoices", lambda x: add_cell(x, "XFD1048576", b"<v>1</v>"))
    data = read_book(book)
    assert list(data.tables["Invoices"].frame["invoice_no"]) == ["I1", "I2", "I3", "I4"]


def test_a_far_cell_in_the_header_rows_that_would_need_the_whole_grid_is_refused(tmp_path):
    book = ledger(tmp_path / "far.xlsx")
    edit_sheet(book, "Invoices", lambda x: add_cell(x, "A1048576", b"<v>1</v>").replace(
        b"</row>", b'<c r="XFD1"><v>1</v></c></row>', 1))
    with pytest.raises(BookError, match=r"Invoices!XFD1048576: the ledger would span 1,048,576 rows"):
        read_book(book)


def test_a_doctype_in_the_shared_strings_is_refused_naming_the_part(tmp_path):
    book = shared_strings_bomb(shared_strings(ledger(tmp_path / "b.xlsx")))
    with pytest.raises(BookError, match=r"xl/sharedStrings.xml declares a DOCTYPE"):
        read_book(book)


def test_a_reader_failure_names_the_sheet_and_part(tmp_path):
    book = shared_strings(ledger(tmp_path / "s.xlsx"))
    edit_sheet(book, "Invoices", lambda x: x.replace(b'<c r="A2" t="s"><v>', b'<c r="A2" t="s"><v>99999', 1))
    with pytest.raises(BookError, match=r"the sheet 'Invoices' \(xl/worksheets/sheet3.xml\) cannot be read"):
        read_book(book)


def test_a_missing_sheet_part_and_malformed_xml_are_refused(tmp_path):
    book = ledger(tmp_path / "m.xlsx")
    rezip(book, {sheet_part(book, "Invoices"): None})
    with pytest.raises(BookError, match="has no part xl/worksheets/sheet3.xml"):
        read_book(book)
    book = edit_sheet(ledger(tmp_path / "x.xlsx"), "Invoices", lambda x: x.replace(b"</sheetData>", b"<row></sheetData>"))
    with pytest.raises(BookError, match=r"sheet3.xml is not well-formed XML \(line 1, column \d+: mismatched tag\)"):
        read_book(book)


@pytest.mark.parametrize("breakage", [
    lambda x: x.replace(b"</sheetData>", b"<row></sheetData>"),  # calamine reads it; expat refuses
    lambda x: x.replace(b"</sheetData>", b'<row r="9"><c r="A9" t="s"><v>1</v></x></row></sheetData>'),
    lambda x: x.replace(b'<c r="A2"', b'<c r="A2" \xff\xfe', 1),  # not UTF-8 either
])
def test_a_large_sheet_checked_beside_the_reader_is_refused_as_the_small_one_is(tmp_path, monkeypatch, breakage):
    from xl_ar.book import screen

    book = edit_sheet(ledger(tmp_path / "x.xlsx"), "Invoices", breakage)
    with pytest.raises(BookError) as here:
        read_book(book)
    monkeypatch.setattr(screen, "BESIDE_BYTES", 0)  # every sheet checked in a forked process
    with pytest.raises(BookError) as beside:
        read_book(book)
    assert "sheet3.xml is not well-formed XML" in str(here.value) and str(beside.value) == str(here.value)
    good = read_book(ledger(tmp_path / "good.xlsx"))
    assert list(good.tables["Invoices"].frame["invoice_no"]) == ["I1", "I2", "I3", "I4"]


def test_a_large_sheet_is_checked_here_when_no_process_can_be_started(tmp_path, monkeypatch):
    from xl_ar.book import screen

    def no_process(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(screen, "BESIDE_BYTES", 0)
    monkeypatch.setattr(screen.subprocess, "Popen", no_process)
    book = edit_sheet(ledger(tmp_path / "x.xlsx"), "Invoices", lambda x: x.replace(b"</sheetData>", b"<row></sheetData>"))
    with pytest.raises(BookError, match=r"sheet3.xml is not well-formed XML \(line 1, column \d+: mismatched tag\)"):
        read_book(book)
    assert list(read_book(ledger(tmp_path / "good.xlsx")).tables["Invoices"].frame["invoice_no"]) == ["I1", "I2", "I3", "I4"]


def test_excel_errors_and_uncalculated_formulas_are_not_blank(tmp_path):
    book = ledger(tmp_path / "e.xlsx")
    edit_sheet(book, "Invoices", lambda x: set_cell_xml(set_cell_xml(
        x, "D2", b'<c r="D2" t="e"><f>VLOOKUP(A2,X,2,0)</f><v>#N/A</v></c>'), "E3", b'<c r="E3"><f>SUM(1,2)</f></c>'))
    frame = read_book(book).tables["Invoices"].frame
    assert frame["due_date"][0] == CellError("#N/A")
    assert frame["amount"][1] == CellError("formula")


def test_two_sheets_for_one_ledger_and_a_chart_sheet_are_refused(tmp_path):
    def twice(wb):
        wb.copy_worksheet(wb["Invoices"]).title = "发票"
    with pytest.raises(BookError, match="the sheets 'Invoices' and '发票' both hold the Invoices ledger"):
        read_book(ledger(tmp_path / "two.xlsx", edit=twice))

    def chart(wb):
        del wb["Invoices"]
        wb.create_chartsheet("Invoices")
    with pytest.raises(BookError, match="the sheet 'Invoices' is a chart sheet, not a worksheet"):
        read_book(ledger(tmp_path / "chart.xlsx", edit=chart))


def test_a_folder_given_as_the_workbook_is_refused(tmp_path):
    (tmp_path / "book.xlsx").mkdir()
    with pytest.raises(BookError, match="book.xlsx is a folder, not a workbook file"):
        read_book(tmp_path / "book.xlsx")


@pytest.mark.parametrize("script", ["import os; os._exit(3)", "print('half an answer", "print('[1, 2]')"])
def test_a_check_whose_process_ends_without_an_answer_is_made_here_from_the_part(tmp_path, monkeypatch, script):
    from xl_ar.book import screen

    (tmp_path / "check.py").write_text(script)
    monkeypatch.setattr(screen, "BESIDE_BYTES", 0)
    monkeypatch.setattr(screen, "_SCRIPT", str(tmp_path / "check.py"))
    book = edit_sheet(ledger(tmp_path / "x.xlsx"), "Invoices", lambda x: x.replace(b"</sheetData>", b"<row></sheetData>"))
    with pytest.raises(BookError, match=r"sheet3.xml is not well-formed XML \(line 1, column \d+: mismatched tag\)"):
        read_book(book)
    assert list(read_book(ledger(tmp_path / "good.xlsx")).tables["Invoices"].frame["invoice_no"]) == ["I1", "I2", "I3", "I4"]


@pytest.mark.parametrize("sheet, cell", [("Invoices", "D2"), ("Receipts", "C2")])
def test_sheets_read_on_a_second_thread_read_as_on_one(tmp_path, monkeypatch, sheet, cell):
    """The sheets but the largest are parsed, taken and made into tables on a second thread; an
    error cell the screening found is put in wherever its sheet is read."""
    from xl_ar.book import reader

    book = edit_sheet(ledger(tmp_path / "e.xlsx"), sheet, lambda x: set_cell_xml(
        x, cell, f'<c r="{cell}" t="e"><f>VLOOKUP(A2,X,2,0)</f><v>#N/A</v></c>'.encode()))
    alone = read_book(book)
    monkeypatch.setattr(reader, "BESIDE_BYTES", 0)  # every sheet but the largest on the second thread
    threads = {}
    made = reader._read_table
    monkeypatch.setattr(reader, "_read_table", lambda *a: threads.setdefault(a[0], threading.current_thread()) and made(*a))
    beside = read_book(book)
    assert threads[sheet] is not threading.main_thread()
    assert beside.layouts == alone.layouts and beside.settings == alone.settings
    for name, raw in alone.tables.items():
        assert beside.tables[name].frame.equals(raw.frame), name
    column = {"Invoices": "due_date", "Receipts": "receipt_date"}[sheet]
    assert beside.tables[sheet].frame[column][0] == CellError("#N/A")


def test_a_reader_failure_on_the_second_thread_names_the_sheet_and_part(tmp_path, monkeypatch):
    from xl_ar.book import reader

    monkeypatch.setattr(reader, "BESIDE_BYTES", 0)
    book = shared_strings(ledger(tmp_path / "s.xlsx"))
    edit_sheet(book, "Receipts", lambda x: x.replace(b't="s"><v>', b't="s"><v>99999', 1))
    with pytest.raises(BookError, match=r"the sheet 'Receipts' \(xl/worksheets/sheet\d.xml\) cannot be read"):
        read_book(book)
