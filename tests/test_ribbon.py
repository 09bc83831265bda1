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
    # each sheet read and written moves it on, a whole percent at a time (or to the next step), never back
    percents = [int(re.search(r"(\d+)%$", s).group(1)) for s in shown[:-1]]
    assert percents == sorted(percents) and len(set(shown)) == len(shown) and percents[-1] == 100
    assert len([s for s in shown if "reading the book" in str(s)]) >= 4
    assert len([s for s in shown if "writing back" in str(s)]) >= 3
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


def test_update_credit_selects_the_credit_columns_and_lists_holds_and_over_limit(tmp_path):
    book = open_book(tmp_path)
    ribbon.run("update_credit", book)
    customers = book.sheets["Customers"]
    assert book.sheets.active.name == "Customers"
    head = customers.range("A1:AZ1").value
    first, last = head.index("AvgDaysLate") + 1, max(j for j, h in enumerate(head) if h) + 1
    from openpyxl.utils import get_column_letter as L
    assert book.app.selection == f"${L(first)}$1:${L(last)}$3"
    [alert] = book.app.alerts
    assert alert.title == "xl-ar: 信用已更新 / credit updated"
    # the test ledger's limits (100,000 and 50,000) are far above what is open: no one over
    assert "信用冻结 On hold:" in alert.prompt and "超额度 Over limit: 0" in alert.prompt


def test_plan_collections_opens_the_work_list_and_counts_todays_actions(tmp_path):
    book = open_book(tmp_path)
    ribbon.run("plan_collections", book)
    assert book.sheets.active.name == "Collections"
    [alert] = book.app.alerts
    assert "今日需跟进 Action today: " in alert.prompt and "Customers on the work list: " in alert.prompt
    rows = [r for r in book.sheets["Collections"].range("A3:S20").value if any(v is not None for v in r)]
    assert f"Customers on the work list: {len(rows)}" in alert.prompt


def test_dashboard_opens_the_dashboard_and_reports_its_key_figures(tmp_path):
    book = open_book(tmp_path)
    ribbon.run("dashboard", book)
    assert book.sheets.active.name == "Dashboard"
    [alert] = book.app.alerts
    assert "应收余额 Open CNY 8,700.00" in alert.prompt and "逾期 Overdue CNY" in alert.prompt
    assert "DSO" in alert.prompt and "CEI" in alert.prompt


class FakeSender:
    """Stands for ``send_outbox``: records its calls, answers with a plan of one message."""

    def __init__(self):
        self.calls = []

    def __call__(self, path, yes=False):
        from xl_ar.documents.outbox import OutboxEntry
        from xl_ar.documents.send import Planned, SendReport

        self.calls.append((Path(path).name, yes))
        entry = OutboxEntry(channel="email", customer_id="C1", name="Huaxin", to="ap@huaxin.example",
                            subject="Overdue I2", id="xlar-0123456789abcdef0123")
        report = SendReport(str(path), dry_run=not yes)
        report.planned = [Planned(entry, None)]
        report.awaiting_approval = {"xlar-ffffffffffffffffffff": "lawyer"}
        if yes:
            report.sent = [entry.id]
        return report


def test_send_lists_what_will_go_asks_then_sends_as_the_cli(tmp_path, monkeypatch):
    book = open_book(tmp_path)
    sender = FakeSender()
    answers = iter(["ok"])
    real = book.app.alert
    monkeypatch.setattr(book.app, "alert", lambda prompt, **k: (real(prompt, **k), next(answers, "ok"))[1])
    ribbon.send(book, sender=sender)
    assert sender.calls == [("ledger.xlsx", False), ("ledger.xlsx", True)]
    assert ("save", "ledger.xlsx", "") in book.app.calls  # approvals typed in Excel reach the file
    confirm, done = book.app.alerts
    assert confirm.buttons == "ok_cancel" and "1 e-mail(s) will be sent" in confirm.prompt
    assert "C1 Huaxin: Overdue I2 -> ap@huaxin.example" in confirm.prompt
    assert "1 封待审批 awaiting approval" in confirm.prompt
    assert done.title == "xl-ar: 已发送 / sent" and "已发送 sent 1" in done.prompt


def test_send_cancelled_sends_nothing(tmp_path, monkeypatch):
    book = open_book(tmp_path)
    sender = FakeSender()
    real = book.app.alert
    monkeypatch.setattr(book.app, "alert", lambda prompt, **k: (real(prompt, **k), "cancel")[1])
    ribbon.send(book, sender=sender)
    assert sender.calls == [("ledger.xlsx", False)] and len(book.app.alerts) == 1


def test_import_confirmations_takes_the_picked_files_into_the_open_book(tmp_path, monkeypatch):
    from xl_ar.app.statements import run_statements

    book = open_book(tmp_path)
    from xl_ar.book.filebook import FileBook

    run_statements(FileBook(book.fullname), dt.date(2025, 3, 1), dt.date(2025, 3, 31), out_dir=tmp_path / "st")
    reply = tmp_path / "st" / "ST-C1-20250301-20250331.xlsx"
    import openpyxl

    wb = openpyxl.load_workbook(reply)
    from xl_ar.documents.statements import NAMES

    ws = wb.worksheets[0]
    ws[wb.defined_names[NAMES["confirmed"]].attr_text.split("!")[1].replace("$", "")].value = "是"
    wb.save(reply)
    monkeypatch.setattr(ribbon, "PICK_FILES", lambda app: [str(reply)])
    ribbon.run("import_confirmations", book)
    [alert] = book.app.alerts
    acts = book.sheets["Activities"]
    logged = [r for r in acts.range("A2:I20").value if any(v is not None for v in r)]
    assert alert.mode == "info", alert.prompt
    assert logged and logged[-1][1] == "C1" and logged[-1][3] == "statement" and "ST-C1-20250301-20250331" in logged[-1][5]


def test_import_confirmations_cancelled_does_nothing(tmp_path, monkeypatch):
    book = open_book(tmp_path)
    monkeypatch.setattr(ribbon, "PICK_FILES", lambda app: [])
    ribbon.run("import_confirmations", book)
    assert book.app.alerts == []


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
    assert any(str(s).startswith("xl-ar: 生成草稿 / making the drafts… ") for s in book.app.status_history)


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
