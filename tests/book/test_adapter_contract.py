"""The contract both book adapters keep: ``FileBook`` (a file) and ``LiveBook`` (an open book).

``FileBook`` runs on a real .xlsx written by openpyxl: the ledger of ``tests/test_refresh.py``.
``LiveBook`` runs on ``tests/fakexl.py``, an in-memory stand-in for xlwings' ``Book``/``Sheet``/
``Range`` loaded from the same file. That stand-in is the only one in the test suite, and it is
used because Excel cannot run here (no Office on Linux). Whatever one adapter reads, computes,
writes and refuses to write, the other must too; values written are compared as read back.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

import fakexl
from test_refresh import AS_OF, CUSTOMERS, INVOICES, RECEIPTS, write_ledger
from xl_ar.book.filebook import FileBook
from xl_ar.book.headers import OUTPUTS
from xl_ar.book.livebook import LiveBook
from xl_ar.book.sheetxml import col_letter
from xl_ar.app.refresh import run_refresh

DAY = dt.date.fromisoformat(AS_OF)


def norm(v: Any) -> Any:
    """A cell as both readers agree on it: blank = None, every date a datetime."""
    if v is None or v == "":
        return None
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day)
    return v


def trim(rows: list[list[Any]]) -> list[list[Any]]:
    out = [[norm(v) for v in row] for row in rows]
    out = [row[: max([i + 1 for i, v in enumerate(row) if v is not None], default=0)] for row in out]
    while out and not out[-1]:
        out.pop()
    return out


class FileSide:
    """A ledger file and the file adapter; read back with calamine."""

    kind = "file"

    def __init__(self, path: Path):
        self.path = path

    def adapter(self) -> FileBook:
        return FileBook(self.path)

    def sheet_names(self) -> list[str]:
        return CalamineWorkbook.from_path(str(self.path)).sheet_names

    def rows(self, sheet: str) -> list[list[Any]]:
        wb = CalamineWorkbook.from_path(str(self.path))
        return trim(wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False))

    def table_ref(self, sheet: str) -> str:
        ws = openpyxl.load_workbook(self.path)[sheet]
        return next(iter(ws.tables.values())).ref

    def header_fill(self, sheet: str, ref: str) -> str:
        return openpyxl.load_workbook(self.path)[sheet][ref].fill.fgColor.rgb[-6:]

    def state(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


class LiveSide:
    """The same ledger open in the stand-in Excel, and the live-book adapter."""

    kind = "live"

    def __init__(self, path: Path):
        self.book = fakexl.Book.from_file(path)

    def adapter(self) -> LiveBook:
        return LiveBook(self.book)

    def sheet_names(self) -> list[str]:
        return [s.name for s in self.book.sheets]

    def rows(self, sheet: str) -> list[list[Any]]:
        s = self.book.sheets[sheet]
        return trim(s.range((1, 1), s.used_range.last_cell).options(ndim=2).value)

    def table_ref(self, sheet: str) -> str:
        return self.book.sheets[sheet].tables[0].range.address.replace("$", "")

    def header_fill(self, sheet: str, ref: str) -> str:
        return "%02X%02X%02X" % self.book.sheets[sheet].range(ref).color

    def state(self) -> list:
        return [(s.name, copy.deepcopy(s._cells), copy.deepcopy(s._fmt), [t._box for t in s.tables])
                for s in self.book.sheets]


SIDES = {"file": FileSide, "live": LiveSide}


def both(tmp_path: Path, lang: str = "en", **ledger) -> tuple[FileSide, LiveSide]:
    """The same ledger twice: a file for ``FileBook``, and a copy opened in the stand-in."""
    path = write_ledger(tmp_path / f"ledger-{lang}.xlsx", lang=lang, **ledger)
    live = LiveSide(path)  # loaded before the file adapter writes to the file
    return FileSide(path), live


@pytest.fixture(params=list(SIDES))
def side(request, tmp_path):
    return SIDES[request.param](write_ledger(tmp_path / "ledger.xlsx"))


# --------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_both_adapters_read_the_same_book_data(tmp_path, lang):
    f, live = both(tmp_path, lang)
    a, b = f.adapter().read(), live.adapter().read()
    assert a.sheet_names == b.sheet_names
    assert a.settings == b.settings
    assert a.layouts == b.layouts
    assert a.tables.keys() == b.tables.keys()
    for name in a.tables:
        ta, tb = a.tables[name], b.tables[name]
        assert (ta.sheet, ta.columns) == (tb.sheet, tb.columns)
        assert ta.frame.equals(tb.frame), name


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_both_adapters_report_the_same_run(tmp_path, lang):
    f, live = both(tmp_path, lang)
    a = run_refresh(f.adapter(), as_of=DAY).as_json()
    b = run_refresh(live.adapter(), as_of=DAY).as_json()
    assert a == b
    assert a["written"] is True and a["open_total"] == 8700.0


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_values_written_back_read_back_the_same(tmp_path, lang):
    f, live = both(tmp_path, lang)
    run_refresh(f.adapter(), as_of=DAY)
    run_refresh(live.adapter(), as_of=DAY)
    assert f.sheet_names() == live.sheet_names()
    for sheet in f.sheet_names():
        assert f.rows(sheet) == live.rows(sheet), sheet


def test_written_values_are_the_runs(side):
    report = run_refresh(side.adapter(), as_of=DAY)
    assert report.written is True
    inv = side.rows("Invoices")
    assert inv[0][10:15] == ["Paid", "Open", "DaysLate", "Bucket", "LateFee"]
    assert inv[2][10:14] == [12000, 8000, 28, "1-30"]
    assert inv[3][10:15] == []  # the credit note has no computed values
    assert side.table_ref("Invoices") == f"A1:{col_letter(len(inv[0]))}8"  # the table covers our columns
    assert side.header_fill("Invoices", "K1") == "DDEBF7"
    assert side.sheet_names()[-5:] == ["Aging", "Collections", "Warnings", "Dashboard", "Legal"]
    aging = side.rows("Aging")
    assert aging[0] == ["Aging as of 2025-03-31 (by due date)"]
    assert ["= open items", None, 8700] in aging
    customers = side.rows("Customers")
    head = customers[0]
    assert head[head.index("AvgDaysLate"):][:4] == ["AvgDaysLate", "OnTimeRate", "Exposure", "Available"]
    assert customers[1][head.index("NextReview")] == dt.datetime(2025, 3, 31)


def test_a_second_refresh_writes_nothing(side):
    assert run_refresh(side.adapter(), as_of=DAY).written is True
    before = side.state()
    again = run_refresh(side.adapter(), as_of=DAY)
    assert again.ok and again.written is False
    assert side.state() == before


def test_a_later_as_of_date_rewrites_what_changed(side):
    run_refresh(side.adapter(), as_of=DAY)
    later = run_refresh(side.adapter(), as_of=dt.date(2025, 4, 30))
    assert later.written is True
    assert side.rows("Invoices")[2][12] == 58  # I2, due Mar 3: 58 days late at Apr 30
    assert side.rows("Aging")[0] == ["Aging as of 2025-04-30 (by due date)"]


def test_an_error_ledger_writes_nothing(tmp_path):
    bad = [row[:] for row in INVOICES]
    bad[1][3] = "2025-13-01"
    bad[3][4] = "five thousand"
    for s in both(tmp_path, invoices=bad):
        before = s.state()
        report = run_refresh(s.adapter(), as_of=DAY)
        assert report.written is False and report.result is None
        assert [(i.where, i.message) for i in report.issues] == [
            ("Invoices!D3", 'due date "2025-13-01" is not a date'),
            ("Invoices!E5", 'amount "five thousand" is not a number'),
        ]
        assert s.state() == before, s.kind


def test_text_that_looks_like_a_number_stays_text(tmp_path):
    """Customer "001": Excel would turn a typed-in "001" into the number 1."""
    rename = {"C1": "001"}
    customers = [[rename.get(r[0], r[0]), *r[1:]] for r in CUSTOMERS]
    invoices = [[r[0], rename.get(r[1], r[1]), *r[2:]] for r in INVOICES]
    receipts = [[r[0], rename.get(r[1], r[1]), *r[2:]] for r in RECEIPTS]
    path = tmp_path / "ids.xlsx"
    wb = openpyxl.load_workbook(write_ledger(path, invoices=invoices, receipts=receipts))
    for i, row in enumerate(customers, start=2):
        wb["Customers"].cell(i, 1).value = row[0]
    wb.save(path)
    f, live = FileSide(path), LiveSide(path)
    assert run_refresh(f.adapter(), as_of=DAY).as_json() == run_refresh(live.adapter(), as_of=DAY).as_json()
    assert f.rows("Aging") == live.rows("Aging")
    assert ["001", "上海华信贸易有限公司", "CNY"] == live.rows("Aging")[3][:3]


def test_sheets_that_are_not_ledger_input_are_not_read(tmp_path):
    path = write_ledger(tmp_path / "extra.xlsx")
    wb = openpyxl.load_workbook(path)
    wb.create_sheet("Aging").append(["InvoiceNo", "CustomerID", "Amount"])  # the tool's, never input
    wb.create_sheet("Notes").append(["anything", 1, dt.datetime(2025, 1, 1)])
    wb.save(path)
    a, b = FileBook(path).read(), LiveSide(path).adapter().read()
    assert a.sheet_names == b.sheet_names and a.tables.keys() == b.tables.keys() and a.layouts == b.layouts


# --------------------------------------------------------------------------- live-book specifics


def test_the_live_book_writes_a_column_per_call(tmp_path):
    live = LiveSide(write_ledger(tmp_path / "ledger.xlsx"))
    run_refresh(live.adapter(), as_of=DAY)
    writes = [(sheet, ref) for op, sheet, ref in live.book.app.calls if op == "write"]
    letters = [col_letter(c) for c in range(11, 11 + len(OUTPUTS["Invoices"]))]  # right of J
    assert [ref for sheet, ref in writes if sheet == "Invoices"] == [f"${x}$1:${x}$8" for x in letters]
    assert len([w for w in writes if w[0] == "Customers"]) == len(OUTPUTS["Customers"])
    assert len([w for w in writes if w[0] == "Aging"]) == 1  # the whole sheet in one call
    assert live.book.app.screen_updating is True and live.book.app.calculation == "automatic"  # restored
    assert live.book.sheets.active.name == "Settings"  # adding Aging did not move the user


def test_the_live_book_reads_from_a1_when_the_used_range_starts_lower(tmp_path):
    """A title above the header: Excel's used range starts at the title, rows still count from A1."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "应收台账"
    ws["B3"] = "2025年应收账款台账"
    ws.append([])
    ws["B5"], ws["C5"], ws["D5"], ws["E5"], ws["F5"] = "发票号", "客户编号", "开票日期", "到期日", "金额"
    ws["B6"], ws["C6"], ws["D6"], ws["E6"], ws["F6"] = "A-1", "K1", dt.date(2025, 1, 1), dt.date(2025, 1, 31), 1000.0
    wb.create_sheet("客户").append(["客户编号", "客户名称"])
    wb["客户"].append(["K1", "北京客户"])
    wb.create_sheet("收款").append(["收款单号", "客户编号", "收款日期", "金额"])
    path = tmp_path / "plain.xlsx"
    wb.save(path)
    f, live = FileSide(path), LiveSide(path)
    assert live.book.sheets["应收台账"].used_range.address == "$B$3:$F$6"
    a, b = f.adapter().read(), live.adapter().read()
    assert a.layouts == b.layouts and a.tables["Invoices"].frame.equals(b.tables["Invoices"].frame)
    assert a.tables["Invoices"].columns["amount"] == "F"
    assert run_refresh(f.adapter(), as_of=DAY).written
    assert run_refresh(live.adapter(), as_of=DAY).written
    assert f.rows("应收台账") == live.rows("应收台账")
    assert live.rows("应收台账")[5][6:11] == [0, 1000, 59, "31-60天", 29.5]  # 1,000 x 0.05% x 59 days


def test_the_live_dashboard_gets_the_same_two_charts(tmp_path):
    """The file gets DrawingML charts; the live book draws the same ones through xlwings."""
    f, live = both(tmp_path, "zh")
    run_refresh(live.adapter(), as_of=DAY)
    sheet = live.book.sheets["仪表板"]
    charts = list(sheet.charts)
    assert [(c.name, c.chart_type) for c in charts] == [("xl-ar: 账龄分布（CNY）", "column_clustered"),
                                                        ("xl-ar: 月末逾期率趋势", "line")]
    assert charts[0].source.startswith("A") and "," in charts[0].source  # categories, then the amounts
    run_refresh(live.adapter(), as_of=DAY)  # unchanged: nothing redrawn, nothing duplicated
    assert len(list(sheet.charts)) == 2
    assert live.book.sheets["预警表"].merged  # class headers span their amount bands
