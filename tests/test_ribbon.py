"""The ribbon handlers (``xl_ar/ribbon.py``) on a book open in the stand-in Excel.

Excel cannot run here, so the book is ``tests/fakexl.py``, the suite's one in-memory stand-in
for xlwings' ``Book``/``Sheet``/``Range``/``App`` (see its docstring), loaded from a real .xlsx
written by openpyxl. The button ids come from the real ribbon XML and VBA module in ``macros/``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import fakexl
from test_refresh import INVOICES, write_ledger
from xl_ar import ribbon
from xl_ar.core.issues import Issue

MACROS = Path(__file__).resolve().parent.parent / "macros"
AS_OF = dt.datetime(2025, 3, 31)


def open_book(tmp_path: Path, **ledger) -> fakexl.Book:
    """The test ledger open in the stand-in Excel, its Settings sheet's AsOfDate set to AS_OF."""
    book = fakexl.Book.from_file(write_ledger(tmp_path / "ledger.xlsx", **ledger))
    settings = book.sheets["Settings"]
    keys = settings.range("A1:A40").value
    settings.range((keys.index("AsOfDate") + 1, 2)).value = AS_OF
    book.app.calls.clear()
    return book


def snapshot(book: fakexl.Book) -> list:
    return [(s.name, dict(s._cells), {k: dict(v) for k, v in s._fmt.items()}) for s in book.sheets]


def test_every_button_has_a_handler_and_every_handler_a_button():
    ns = {"ui": "http://schemas.microsoft.com/office/2009/07/customui"}
    buttons = {b.get("id") for b in ET.parse(MACROS / "customUI14.xml").getroot().iterfind(".//ui:button", ns)}
    assert buttons == set(ribbon.HANDLERS)
    vba = (MACROS / "Ribbon.bas").read_text(encoding="cp1252")
    case = re.search(r'Case ("[^\n]*)\n\s*ArCommandFor = "import xl_ar\.ribbon', vba).group(1)
    assert set(re.findall(r'"(\w+)"', case)) == set(ribbon.HANDLERS)


def test_refresh_writes_the_columns_with_progress_in_the_status_bar(tmp_path):
    book = open_book(tmp_path)
    ribbon.run("refresh_aging", book)
    inv = book.sheets["Invoices"]
    assert inv.range("K1:O1").value == ["Paid", "Open", "DaysLate", "Bucket", "LateFee"]
    assert inv.range("K3:N3").value == [12000, 8000, 28, "1-30"]
    assert "Aging" in book.sheets.names
    shown = book.app.status_history
    assert shown[0] == "xl-ar: 读取账簿 / reading the book… 0%"
    assert "xl-ar: 写回 / writing back… 70%" in shown
    assert shown[-1] is False and book.app.status_bar is False  # handed back to Excel
    [alert] = book.app.alerts
    assert alert.mode == "info" and "Open CNY 8,700.00" in alert.prompt and "ties out" in alert.prompt
    assert "Open USD 1,234.56" in alert.prompt


@pytest.mark.parametrize("action", ["update_credit", "plan_collections", "dashboard"])
def test_the_other_run_buttons_run_the_same_refresh(tmp_path, action):
    book = open_book(tmp_path)
    ribbon.run(action, book)
    customers = book.sheets["Customers"]
    head = customers.range("A1:AD1").value
    assert "Exposure" in head and "Hold" in head
    assert len(book.app.alerts) == 1 and book.app.alerts[0].mode == "info"


def test_a_second_press_says_up_to_date_and_writes_nothing(tmp_path):
    book = open_book(tmp_path)
    ribbon.run("refresh_aging", book)
    before = snapshot(book)
    book.app.calls.clear()
    ribbon.run("refresh_aging", book)
    assert snapshot(book) == before
    assert not [c for c in book.app.calls if c[0] not in ("read",)]
    assert "already up to date" in book.app.alerts[-1].prompt


def test_ledger_errors_show_one_alert_listing_each_place(tmp_path):
    bad = [row[:] for row in INVOICES]
    bad[1][3] = "2025-13-01"
    bad[3][4] = "five thousand"
    book = open_book(tmp_path, invoices=bad)
    before = snapshot(book)
    ribbon.run("refresh_aging", book)
    [alert] = book.app.alerts
    assert alert.mode == "critical" and "nothing written" in alert.title
    assert alert.prompt.splitlines() == ['Invoices!D3: due date "2025-13-01" is not a date',
                                         'Invoices!E5: amount "five thousand" is not a number']
    assert snapshot(book) == before
    assert book.app.status_bar is False


def test_a_long_list_of_issues_is_capped():
    issues = [Issue(f"Invoices!D{r}", "due date is not a date") for r in range(2, 47)]
    issues.insert(10, Issue("Invoices!G9", "currency is blank", "warning"))
    lines = ribbon.issues_message(issues).splitlines()
    assert len(lines) == ribbon.MAX_LISTED + 1
    assert lines[0] == "Invoices!D2: due date is not a date"
    assert "warning" not in "".join(lines[:-1])  # errors come first
    assert lines[-1] == "… 另有 26 条 / and 26 more"


def test_an_exception_becomes_one_alert_of_one_line(tmp_path, monkeypatch, caplog):
    book = open_book(tmp_path)

    def protected(self, data):  # what Excel says when a sheet is protected
        raise PermissionError("The cell or chart you're trying to change is on a protected sheet.\n"
                              "To make a change, unprotect the sheet.")

    monkeypatch.setattr(fakexl.Range, "value", property(fakexl.Range.value.fget, protected))
    with caplog.at_level(logging.ERROR, logger="xl_ar.ribbon"):
        ribbon.run("refresh_aging", book)
    [alert] = book.app.alerts
    assert alert.mode == "critical"
    assert alert.prompt == "PermissionError: The cell or chart you're trying to change is on a protected sheet."
    assert book.app.status_bar is False
    assert book.app.screen_updating is True and book.app.calculation == "automatic"
    [record] = caplog.records
    assert record.exc_info and "refresh_aging" in record.getMessage()


def test_an_unknown_button_says_so(tmp_path):
    book = open_book(tmp_path)
    ribbon.run("export_everything", book)
    [alert] = book.app.alerts
    assert "export_everything" in alert.prompt and alert.mode == "critical"


def test_help_is_bilingual_and_names_the_readme(tmp_path):
    book = open_book(tmp_path)
    ribbon.run("help", book)
    [alert] = book.app.alerts
    assert "刷新账龄 Refresh Aging" in alert.prompt and "README" in alert.prompt


def test_reminders_button_writes_drafts_and_the_outbox(tmp_path):
    import datetime as dt

    book = open_book(tmp_path)
    ribbon.reminders(book, today=dt.date(2025, 3, 31))
    [alert] = book.app.alerts  # without a sender address nothing can be drafted: one clear box
    assert alert.mode == "critical" and "SenderEmail" in alert.prompt
    settings = book.sheets["Settings"]
    keys = settings.range("A1:A80").value
    settings.range((keys.index("SenderEmail") + 1, 2)).value = "ar@example.com"
    book.app.alerts.clear()
    ribbon.reminders(book, today=dt.date(2025, 3, 31))
    [alert] = book.app.alerts
    assert alert.mode == "info"
    drafts = list((tmp_path / "ledger-reminders-2025-03-31").glob("*.eml"))
    assert drafts  # C1's I2 is 28 days overdue: a friendly overdue note
    outbox = next(s for s in book.sheets if s.name in ("Outbox", "发件箱"))
    assert outbox.range("A1").value is not None
    assert book.app.status_bar is False


def test_run_uses_the_calling_book_and_logs_to_a_file(tmp_path, monkeypatch):
    import xlwings as xw

    book = open_book(tmp_path)
    monkeypatch.setattr(xw.Book, "caller", classmethod(lambda cls: book))
    monkeypatch.setattr(ribbon, "LOG_FILE", tmp_path / "logs" / "xl-ar.log")
    monkeypatch.setattr(ribbon, "run_refresh", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("Excel is busy")))
    try:
        ribbon.run("refresh_aging")
    finally:
        root = logging.getLogger("xl_ar")
        for h in [h for h in root.handlers if getattr(h, "_xl_ar", False)]:
            root.removeHandler(h)
            h.close()
    [alert] = book.app.alerts
    assert alert.prompt == f"RuntimeError: Excel is busy (详情 details: {tmp_path / 'logs' / 'xl-ar.log'})"
    assert "Traceback" in (tmp_path / "logs" / "xl-ar.log").read_text(encoding="utf-8")


def test_statements_button_writes_last_months_statements_beside_the_book(tmp_path):
    import datetime as dt

    book = open_book(tmp_path)
    before = snapshot(book)
    ribbon.statements(book, today=dt.date(2025, 4, 15))  # last month: March 2025
    [alert] = book.app.alerts
    out = Path(book.fullname).resolve().parent / "statements-20250331"
    assert sorted(p.name for p in out.iterdir()) == [
        "ST-C1-20250301-20250331.pdf", "ST-C1-20250301-20250331.xlsx",
        "ST-C2-20250301-20250331.pdf", "ST-C2-20250301-20250331.xlsx"]
    assert "2025-03-01" in alert.prompt and str(out) in alert.prompt and alert.mode == "info"
    assert snapshot(book) == before  # the book is only read
    assert book.app.status_bar is False
