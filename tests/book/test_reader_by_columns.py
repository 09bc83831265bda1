"""A large ledger sheet read as columns (:mod:`xl_ar.book.columns`, fastexcel) gives the ledger
the cell reader gives, to the cell and to the message; what it does not read with certainty is
read cell by cell. Real workbooks written by openpyxl and by the tool's own refresh."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_refresh import AS_OF, write_ledger
from xl_ar.book import columns, reader, strip
from xl_ar.cli import main
from xl_ar.core.convert import CellError
from xl_ar.core.ledger import compact_text, validate_ledger
from xl_ar.core.fees import LATE_FEE_POLICIES
from xl_ar.core.settings import parse_settings

NEVER = 1 << 62  # a size no sheet reaches


def read(path: Path, monkeypatch, *, by_columns: bool):
    """read_book with every ledger sheet read as columns where it can be (or none); the sheets
    the column reader read."""
    monkeypatch.setattr(reader, "COLUMNS_FROM", 0 if by_columns else NEVER)
    taken: list[str] = []
    made = reader.read_columns

    def spy(path, sheet, *args, **kwargs):
        got = made(path, sheet, *args, **kwargs)
        if got is not None:
            taken.append(sheet)
        return got

    monkeypatch.setattr(reader, "read_columns", spy)
    try:
        return reader.read_book(path), taken
    finally:
        monkeypatch.setattr(reader, "read_columns", made)


def validated(data):
    cfg, issues = parse_settings(data.settings, LATE_FEE_POLICIES)
    ledger, more = validate_ledger(data.tables, cfg)
    return ledger, [*issues, *more]


def assert_same_ledger(path: Path, monkeypatch) -> list[str]:
    """Read both ways; the layouts, the validated tables and the issues are the same. Returns the
    sheets read as columns."""
    fast, taken = read(path, monkeypatch, by_columns=True)
    slow, none = read(path, monkeypatch, by_columns=False)
    assert none == []
    assert fast.layouts == slow.layouts and fast.settings == slow.settings
    for name, t in fast.tables.items():
        assert t.columns == slow.tables[name].columns and t.sheet == slow.tables[name].sheet
        assert t.frame["row"].tolist() == slow.tables[name].frame["row"].tolist()
    (a, issues_a), (b, issues_b) = validated(fast), validated(slow)
    assert issues_a == issues_b
    for table in ("customers", "invoices", "receipts"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table))
    return taken


# --------------------------------------------------------------------------- random sheets

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=6)
PADDED = st.builds(lambda a, s, b: a + s + b, st.sampled_from(["", " ", "  "]), TEXT,
                   st.sampled_from(["", " "])).filter(lambda t: not t.startswith("="))  # (openpyxl: a formula)
DATES = st.one_of(st.dates(dt.date(1950, 1, 1), dt.date(2099, 12, 31)),
                  st.datetimes(dt.datetime(1950, 1, 1), dt.datetime(2099, 12, 31)).map(lambda d: d.replace(microsecond=0)))
AMOUNTS = st.one_of(st.integers(-10**9, 10**9), st.decimals(-10**7, 10**7, places=2).map(float))


@st.composite
def invoice_sheets(draw):
    """An Invoices sheet's rows from A1: title rows, a header starting in any column with its
    columns in any order, blank rows among the records, blank cells in optional columns."""
    fields = ["InvoiceNo", "CustomerID", "InvoiceDate", "Amount"] + draw(
        st.lists(st.sampled_from(["DueDate", "Currency", "Description", "Disputed"]), unique=True))
    fields = draw(st.permutations(fields))
    left = draw(st.integers(0, 2))
    titles = draw(st.integers(0, 3))
    n = draw(st.integers(1, 25))
    cells = {
        "InvoiceNo": st.one_of(PADDED, st.integers(0, 10**6).map(lambda i: f"INV{i}")),
        "CustomerID": st.sampled_from(["C1", "C2", " C1", "c3", "客户一"]),
        "InvoiceDate": DATES,
        "DueDate": st.one_of(st.none(), DATES),
        "Amount": AMOUNTS,
        "Currency": st.sampled_from([None, "CNY", "usd", "EUR"]),
        "Description": st.one_of(st.none(), PADDED),
        # one kind a sheet, or both (a column of mixed kinds: read cell by cell)
        "Disputed": draw(st.sampled_from([[None, True, False], [None, "yes", "是", "no"],
                                          [None, True, "yes", "否"]]).map(st.sampled_from)),
    }
    rows: list[list] = [["Ledger " + draw(TEXT)] if i == 0 else [] for i in range(titles)]
    rows.append([None] * left + fields)
    for _ in range(n):
        if draw(st.integers(0, 6)) == 0:
            rows.append([])
        rows.append([None] * left + [draw(cells[f]) for f in fields])
    return rows


def write_sheets(path: Path, invoices: list[list]) -> Path:
    """A workbook with the test ledger's customers and receipts, and these invoices."""
    write_ledger(path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Invoices"]
    wb.remove(ws)
    ws = wb.create_sheet("Invoices", 1)
    for row in invoices:
        ws.append(row)
    wb.save(path)
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(invoice_sheets())
def test_random_sheets_read_alike(tmp_path_factory, monkeypatch, rows):
    path = write_sheets(tmp_path_factory.mktemp("random") / "ledger.xlsx", rows)
    taken = assert_same_ledger(path, monkeypatch)
    h = next(k for k, r in enumerate(rows) if "InvoiceNo" in r)
    disputed = {type(r[rows[h].index("Disputed")]) for r in rows[h + 1:] if r and "Disputed" in rows[h]}
    if not {bool, str} <= disputed:  # every other sheet drawn here is one the column reader reads
        assert "Invoices" in taken


def test_the_test_ledger_read_alike_as_written_and_refreshed(tmp_path, monkeypatch):
    """Every ledger sheet of the refresh tests' ledger is read as columns, as written and after
    a refresh (its computed columns cut by the reading copy, or read whole)."""
    book = write_ledger(tmp_path / "ledger.xlsx")
    assert sorted(assert_same_ledger(book, monkeypatch)) == ["Customers", "Invoices", "Receipts", "Stages"]
    assert main(["refresh", str(book), "--as-of", AS_OF, "--quiet"]) == 0
    for cut in (True, False):
        monkeypatch.setattr(strip, "STRIP_FROM", 0 if cut else NEVER)
        assert sorted(assert_same_ledger(book, monkeypatch)) == ["Customers", "Invoices", "Receipts", "Stages"]


def test_a_refresh_writes_the_same_workbook_either_way(tmp_path, monkeypatch):
    """Two consecutive days refreshed with every sheet read as columns, and cell by cell: the
    same bytes, member for member, but the time each was saved."""
    books = {}
    for by_columns in (True, False):
        monkeypatch.setattr(reader, "COLUMNS_FROM", 0 if by_columns else NEVER)
        book = write_ledger(tmp_path / f"ledger-{by_columns}.xlsx")
        for day in (AS_OF, "2025-04-01"):
            assert main(["refresh", str(book), "--as-of", day, "--quiet"]) == 0
        books[by_columns] = zipfile.ZipFile(book)
    a, b = books[True], books[False]
    assert a.namelist() == b.namelist()
    # (the properties part holds the time each was saved)
    assert [n for n in a.namelist() if a.read(n) != b.read(n) and n != "docProps/core.xml"] == []


# --------------------------------------------------------------------------- read cell by cell

GOOD = [["InvoiceNo", "CustomerID", "InvoiceDate", "Amount"],
        ["I1", "C1", dt.date(2025, 1, 5), 100],
        ["I2", "C2", dt.date(2025, 2, 5), 250.5]]


@pytest.mark.parametrize("where, value, message", [
    ((2, 4), "twelve hundred", 'Invoices!D3: amount "twelve hundred" is not a number'),
    ((2, 3), "2025-02-30", 'Invoices!C3: invoice date "2025-02-30" is not a date'),
    ((2, 1), 1001, None),  # a number among invoice numbers: read as text, cell by cell
    ((2, 4), True, 'Invoices!D3: amount "True" is not a number'),
])
def test_a_column_of_mixed_kinds_is_read_cell_by_cell(tmp_path, monkeypatch, where, value, message):
    rows = [list(r) for r in GOOD]
    rows[where[0]][where[1] - 1] = value
    path = write_sheets(tmp_path / "ledger.xlsx", rows)
    assert assert_same_ledger(path, monkeypatch) == ["Customers", "Receipts", "Stages"]
    data, _ = read(path, monkeypatch, by_columns=True)
    issues = [f"{i.where}: {i.message}" for i in validated(data)[1] if i.where.startswith("Invoices")]
    if message:
        assert message in issues
    else:
        assert data.tables["Invoices"].frame["invoice_no"].tolist() == ["I1", 1001.0]


def test_an_error_cell_is_read_cell_by_cell(tmp_path, monkeypatch):
    rows = [list(r) for r in GOOD]
    rows[1][3] = "=1/0"  # openpyxl saves the formula without a value
    path = write_sheets(tmp_path / "ledger.xlsx", rows)
    assert assert_same_ledger(path, monkeypatch) == ["Customers", "Receipts", "Stages"]


def test_a_cell_right_of_the_users_columns_is_read_cell_by_cell(tmp_path, monkeypatch):
    """A value typed right of the last headed column makes that column the user's (the reader's
    rule): the layout says so either way."""
    rows = [list(r) for r in GOOD]
    rows[2].append("a note")
    path = write_sheets(tmp_path / "ledger.xlsx", rows)
    assert assert_same_ledger(path, monkeypatch) == ["Customers", "Receipts", "Stages"]
    data, _ = read(path, monkeypatch, by_columns=True)
    assert data.layouts["Invoices"].last_col == 5


def test_without_the_column_reader_every_sheet_is_read_cell_by_cell(tmp_path, monkeypatch):
    path = write_sheets(tmp_path / "ledger.xlsx", GOOD)
    monkeypatch.setattr(columns, "_TAKES", {})  # no kind of field taken: as if it could read none
    assert assert_same_ledger(path, monkeypatch) == []


def test_columns_come_typed_and_coded(tmp_path, monkeypatch):
    path = write_sheets(tmp_path / "ledger.xlsx", GOOD + [[], ["I3", "C1", dt.datetime(2025, 3, 1, 18, 30), None]])
    data, taken = read(path, monkeypatch, by_columns=True)
    raw = data.tables["Invoices"]
    assert "Invoices" in taken
    assert raw.frame["row"].tolist() == [2, 3, 5]  # the blank row 4 is no record
    assert raw.frame["amount"].dtype == np.float64 and np.isnan(raw.frame["amount"].iloc[2])
    assert raw.frame["invoice_date"].dtype.kind == "M"
    codes, texts = raw.coded["customer_id"]
    assert texts[codes].tolist() == ["C1", "C2", "C1"] and len(texts) == 2
    data.release_cells()
    assert dataclasses.replace(data.tables["Invoices"], frame=None).coded == {}


def test_texts_read_by_columns_are_not_copied_again(tmp_path, monkeypatch):
    """``compact_text`` gives the cell reader's texts fresh strings (one per distinct text, made
    together); texts read by columns are that already, and are left as they are."""
    path = write_sheets(tmp_path / "ledger.xlsx", GOOD + [["I3", " C1", dt.date(2025, 3, 1), 7]])
    for by_columns in (True, False):
        data, _ = read(path, monkeypatch, by_columns=by_columns)
        cfg, _ = parse_settings(data.settings, LATE_FEE_POLICIES)
        ledger, _ = validate_ledger(data.tables, cfg, keep_codes=True)
        before = [id(v) for v in ledger.invoices["invoice_no"]]
        compact_text(ledger)
        after = [id(v) for v in ledger.invoices["invoice_no"]]
        assert ledger.invoices["invoice_no"].tolist() == ["I1", "I2", "I3"]
        assert (("invoices", "invoice_no") in ledger.fresh_text) is by_columns
        # (" C1" was stripped: not the reader's strings)
        assert ("invoices", "customer_id") not in ledger.fresh_text
        assert (before == after) is by_columns
        # A text column the sheet does not have: one "" in every row, nothing to compact.
        assert "contract_no" not in data.tables["Invoices"].frame
        assert ("invoices", "contract_no") in ledger.fresh_text
        assert ledger.invoices["contract_no"].tolist() == ["", "", ""] and str(ledger.invoices["contract_no"].dtype) == "str"


@pytest.mark.parametrize("column, cells", [
    ("InvoiceNo", [1001, 1002.5]),  # numbers in a text field: the cell reader's floats, read as text
    ("Disputed", [True, None]),  # a yes/no column of booleans
    ("Disputed", [1, 0]),  # ... of numbers
    ("Disputed", ["是", "no"]),  # ... of text
])
def test_columns_of_one_other_kind_are_read_as_columns(tmp_path, monkeypatch, column, cells):
    header = GOOD[0] + (["Disputed"] if column == "Disputed" else [])
    rows = [header] + [list(r) + ([cells[i]] if column == "Disputed" else []) for i, r in enumerate(GOOD[1:])]
    if column == "InvoiceNo":
        for r, v in zip(rows[1:], cells):
            r[0] = v
    path = write_sheets(tmp_path / "ledger.xlsx", rows)
    assert "Invoices" in assert_same_ledger(path, monkeypatch)


class PanicException(BaseException):
    """What pyo3 raises for a Rust panic (a BaseException, not an Exception)."""


@pytest.mark.parametrize("failure", [OSError("cannot open"), PanicException("index out of bounds")])
def test_a_failing_column_reader_leaves_the_sheet_to_the_cell_reader(tmp_path, monkeypatch, failure):
    import fastexcel

    def broken(*_args, **_kwargs):
        raise failure

    monkeypatch.setattr(fastexcel, "read_excel", broken)
    path = write_sheets(tmp_path / "ledger.xlsx", GOOD)
    assert assert_same_ledger(path, monkeypatch) == []


def test_an_interrupt_is_not_taken_for_a_failure(tmp_path, monkeypatch):
    import fastexcel

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastexcel, "read_excel", interrupted)
    path = write_sheets(tmp_path / "ledger.xlsx", GOOD)
    with pytest.raises(KeyboardInterrupt):
        read(path, monkeypatch, by_columns=True)


# --------------------------------------------------------------------------- read while screened

MANY = [GOOD[0]] + [[f"I{k}", f"C{k % 2 + 1}", dt.date(2025, 1, 1 + k % 28), 100 + k] for k in range(400)]


def early_reads(monkeypatch):
    """Spy on the sheets read as columns: (sheet, thread, whether the screening had ended)
    of each read as columns, and whether it read them."""
    seen, screened = [], [False]
    made, screen_book = reader._read_as_columns, reader.screen_book

    def spy(pkg, part, name, *args):
        done = screened[0]
        got = made(pkg, part, name, *args)
        seen.append((name, threading.current_thread().name, done, got is not None))
        return got

    def screening(*args):
        got = screen_book(*args)
        screened[0] = True
        return got

    monkeypatch.setattr(reader, "_read_as_columns", spy)
    monkeypatch.setattr(reader, "screen_book", screening)
    monkeypatch.setattr(reader, "COLUMNS_FROM", 0)
    return seen


def test_the_largest_sheet_is_read_while_the_screening_goes_on(tmp_path, monkeypatch):
    path = write_sheets(tmp_path / "ledger.xlsx", MANY)
    seen = early_reads(monkeypatch)
    fast = reader.read_book(path)
    assert ("Invoices", "xl-ar-columns_0", False, True) in seen  # before the screening ended
    assert all(name != "Invoices" or not done for name, _, done, _ in seen)  # and only then
    assert fast.tables["Invoices"].frame["invoice_no"].tolist() == [f"I{k}" for k in range(400)]
    assert not [t for t in threading.enumerate() if t.name.startswith("xl-ar-columns")]
    monkeypatch.undo()
    assert "Invoices" in assert_same_ledger(path, monkeypatch)  # (read early again)


def test_what_was_read_early_is_dropped_when_the_screening_finds_an_error_cell(tmp_path, monkeypatch):
    from corpus.build import edit_sheet, set_cell_xml

    path = edit_sheet(write_sheets(tmp_path / "ledger.xlsx", MANY), "Invoices",
                      lambda x: set_cell_xml(x, "C51", b'<c r="C51" t="e"><v>#DIV/0!</v></c>'))
    seen = early_reads(monkeypatch)
    data = reader.read_book(path)
    assert ("Invoices", "xl-ar-columns_0", False, True) in seen
    assert data.tables["Invoices"].frame["invoice_date"][49] == CellError("#DIV/0!")


def test_a_sheet_the_reading_copy_cuts_and_a_sheet_trimmed_are_not_read_early(tmp_path, monkeypatch):
    path = write_sheets(tmp_path / "ledger.xlsx", MANY)
    assert main(["refresh", str(path), "--as-of", AS_OF, "--quiet"]) == 0  # the tool's columns now
    monkeypatch.setattr(strip, "STRIP_FROM", 0)
    seen = early_reads(monkeypatch)
    reader.read_book(path)
    assert [s for s in seen if s[1].startswith("xl-ar-columns")] == []
    far = write_sheets(tmp_path / "far.xlsx", MANY)
    wb = openpyxl.load_workbook(far)
    wb["Invoices"]["XFD1048576"] = 1  # the grid would be too large: read trimmed, cell by cell
    wb.save(far)
    seen.clear()
    assert reader.read_book(far).tables["Invoices"].frame["invoice_no"].tolist()[:2] == ["I0", "I1"]
    assert [s for s in seen if s[1].startswith("xl-ar-columns")] == []


def test_a_screening_that_fails_after_the_early_read_began_waits_for_it(tmp_path, monkeypatch):
    from xl_ar.book.package import BookError

    path = write_sheets(tmp_path / "ledger.xlsx", MANY)
    wb = openpyxl.load_workbook(path)
    ws = wb["Receipts"]
    ws["A1048576"], ws["XFD1"] = 1, 1  # a far cell in the header rows: refused
    wb.save(path)
    seen = early_reads(monkeypatch)
    with pytest.raises(BookError, match=r"Receipts!XFD1048576: the ledger would span"):
        reader.read_book(path)
    assert ("Invoices", "xl-ar-columns_0", False, True) in seen
    assert not [t for t in threading.enumerate() if t.name.startswith("xl-ar-columns")]
