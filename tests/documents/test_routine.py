"""The daily routine: `reminders` then `send --yes` every morning against a real SMTP server
(aiosmtpd on 127.0.0.1). Exactly the cadence's messages arrive, none twice; a receipt or a
promise stops the next step; a lawyer's letter waits for a person's approval."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl

from test_reminders import SETTINGS, make_book
from test_send import Inbox, approve_all, book_for, server
from xl_ar.app.reminders import build_reminders
from xl_ar.book.append import append_rows
from xl_ar.book.package import WorkbookPackage
from xl_ar.cli import main as docs_main
from xl_ar.documents.send import send_outbox

D = dt.date
TZ = dt.timezone(dt.timedelta(hours=8))

# id, name, class, contact, email, phone, terms, limit, owner, language
CUSTOMERS = [
    ["CA", "Alpha Ltd", "A", "", "ap@alpha.example", "", 30, 1.0, "", "en"],
    ["CB", "Beta Ltd", "B", "", "ap@beta.example", "", 30, 1.0, "", "en"],
    ["CC", "Gamma Ltd", "C", "", "ap@gamma.example", "13900000000", 30, 1.0, "", "en"],
]
# invoice, customer, date, due, amount, currency, contract, description, disputed, reason
INVOICES = [
    ["IA", "CA", D(2025, 2, 8), D(2025, 3, 10), 1000.00, "CNY", "", "", "", ""],
    ["IB", "CB", D(2025, 2, 3), D(2025, 3, 5), 2000.00, "CNY", "", "", "", ""],
    ["IC", "CC", D(2025, 2, 18), D(2025, 3, 20), 800.00, "CNY", "", "", "", ""],
]


def _add_receipt_and_promise(book: Path, day: D) -> None:
    """What the accountant records on the way: CB pays on 8 March, CC promises on 22 March."""
    pkg = WorkbookPackage.open(book)
    when = pkg.cell_style("yyyy-mm-dd")
    if day == D(2025, 3, 8):
        append_rows(pkg, "Receipts", [{1: "R1", 2: "CB", 3: day, 4: 2000.00, 5: "CNY", 6: "IB"}], header_row=1,
                    styles={3: when})
    if day == D(2025, 3, 22):
        append_rows(pkg, "Activities", [{1: day, 2: "CC", 3: "IC", 4: "phone", 5: "Tom", 6: "will pay mid April",
                                         7: D(2025, 4, 15), 8: 800.00}], header_row=1, styles={1: when, 7: when})
    pkg.save(book)


def test_thirty_mornings_send_exactly_the_cadence(tmp_path):
    inbox = Inbox()
    arrived: list[tuple[D, str, str]] = []
    sms: list[tuple[D, str]] = []
    with server(inbox) as port:
        settings = [(k, v) for k, v in SETTINGS if k != "SmtpSecurity"] + [
            ("SmtpPort", port), ("SmtpSecurity", "none"), ("SendRatePerMinute", 60000)]
        book = make_book(tmp_path / "ledger.xlsx", customers=CUSTOMERS, invoices=INVOICES, settings=settings)
        for n in range(30):
            day = D(2025, 3, 1) + dt.timedelta(days=n)
            _add_receipt_and_promise(book, day)
            s = build_reminders(book, day, now=dt.datetime.combine(day, dt.time(8), TZ))
            assert s.ok, s.issues
            sms += [(day, e.customer_id) for e in s.entries if e.channel == "sms"]
            before = len(inbox.messages)
            r = send_outbox(book, yes=True, now=lambda: dt.datetime.combine(day, dt.time(9), TZ))
            assert r.ok and not r.awaiting_approval
            got = [m["Message-ID"] for m in inbox.parsed()[before:]]
            assert len(got) == len(r.sent) and all(i in g for i, g in zip(r.sent, got))
            arrived += [(day, p.entry.customer_id, p.entry.stage) for p in r.planned if p.entry.id in r.sent]
    assert arrived == [
        (D(2025, 3, 2), "CB", "Reminder"),  # class B: 3 days before
        (D(2025, 3, 3), "CA", "Reminder"),  # class A: 7 days before
        (D(2025, 3, 5), "CB", "Due today"),
        (D(2025, 3, 6), "CB", "Mild"),      # then CB pays on 8 March: nothing more
        (D(2025, 3, 10), "CA", "Due today"),
        (D(2025, 3, 11), "CA", "Mild"),     # mild every 7 days from day 1
        (D(2025, 3, 18), "CA", "Mild"),
        (D(2025, 3, 20), "CC", "Due today"),
        (D(2025, 3, 21), "CC", "Mild"),     # then CC promises on 22 March: held as promised
        (D(2025, 3, 25), "CA", "Mild"),
    ]
    assert sms == [(D(2025, 3, 10), "CC")]  # class C: one SMS 10 days before, not one a day
    ids = inbox.ids()
    assert len(ids) == len(set(ids)) == 10
    log = [r for r in openpyxl.load_workbook(book)["Activities"].iter_rows(min_row=2, values_only=True) if r[1]]
    assert len([r for r in log if r[3] in ("email", "sms")]) == 11


def test_a_lawyers_letter_goes_only_when_approved_by_someone_on_a_date(tmp_path, capsys):
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port, approve=False)
        r = send_outbox(book, yes=True)
        assert [m[1] for m in inbox.messages] == [["ap@huaxin.example"], ["ap@harbor.example"]]
        [(lawyer, why)] = r.awaiting_approval.items()
        assert why.startswith("awaiting approval") and "1 封待审批 awaiting approval" in str(r)
        # "yes" alone is not enough: who approved it, and when
        wb = openpyxl.load_workbook(book)
        ws = wb["Outbox"]
        col = {c.value: c.column for c in ws[1]}
        row = next(c.row for c in ws["M"] if c.value == lawyer)
        assert ws.cell(row, col["Status"]).value == "awaiting approval" and ws.cell(row, col["Review"]).value == "yes"
        ws.cell(row, col["Approved"]).value = "是"
        wb.save(book)
        r = send_outbox(book, yes=True)
        assert r.sent == [] and "ApprovedBy is blank" in r.awaiting_approval[lawyer]
        # the next morning's reminders run keeps the approval with its message
        approve_all(book, by="王律师", at="2025-03-31")
        assert build_reminders(book, D(2025, 3, 31)).ok
        assert docs_main(["send", str(book)]) == 0
        assert "C4" in capsys.readouterr().out
        r = send_outbox(book, yes=True)
        assert r.sent == [lawyer] and not r.awaiting_approval
    assert inbox.messages[-1][1] == ["ar@olddebt.example"] and len(inbox.messages) == 3
