"""Legal readiness: the evidence checklist of each severe case, from a real workbook, on the
Legal sheet (法律准备) a refresh writes, and as the annex of the lawyer's-letter draft."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl

from xl_ar.app.refresh import load
from xl_ar.book.filebook import FileBook
from xl_ar.book.newbook import build_ledger_workbook
from xl_ar.cli import main
from xl_ar.core.evidence import EVIDENCE_ITEMS
from xl_ar.core.run import refresh

D = dt.date
AS_OF = D(2025, 3, 31)
CUSTOMERS = [
    ["S1", "Stone Ltd", "B", "Mr. Stone", "ap@stone.example", "", 30, 1.0, "", "en"],
    ["S2", "Bare Ltd", "B", "", "ap@bare.example", "", 30, 1.0, "", "en"],
    ["M1", "Mild Ltd", "B", "", "ap@mild.example", "", 30, 1.0, "", "en"],
]
# invoice, customer, date, due, amount, currency, contract, description, disputed, reason (+ delivery note)
INVOICES = [
    ["V1", "S1", D(2024, 9, 1), D(2024, 10, 1), 3000.00, "CNY", "HT-1", "", "", "", "DN-1"],
    ["V2", "S1", D(2024, 10, 1), D(2024, 11, 1), 2000.00, "CNY", "", "", "", "", ""],
    ["V3", "S1", D(2024, 10, 15), D(2024, 11, 15), 500.00, "CNY", "HT-1", "", "是", "short delivery", "DN-3"],
    ["W1", "S2", D(2024, 8, 1), D(2024, 9, 1), 1000.00, "CNY", "", "", "", "", ""],
    ["X1", "M1", D(2025, 2, 1), D(2025, 3, 20), 400.00, "CNY", "HT-9", "", "", "", "DN-9"],
]
# date, customer, invoice, channel, by, note, promise date, promise amount, outcome, amount
ACTIVITIES = [
    [D(2025, 1, 10), "S1", "", "statement", "Ann", "confirmed balance CNY 5,500.00 (statement ST-1)", None, None,
     "confirmed", None],
    [D(2025, 2, 1), "S1", "V1", "email", "Ann", "Sent e-mail: Reminder [xlar-0123456789abcdef0123]", None, None,
     "sent", None],
    [D(2025, 2, 5), "S1", "V1", "phone", "Ann", "will pay", D(2025, 2, 20), 1000.00, "", None],
    [D(2025, 4, 2), "S2", "", "statement", "Ann", "after the as-of date: does not count", None, None, "confirmed", None],
]


def write_book(path: Path, delivery_header: str | None = "送货单") -> Path:
    rows = [r[:10] for r in INVOICES]
    wb = build_ledger_workbook("en", {"Customers": CUSTOMERS, "Invoices": rows, "Receipts": [],
                                      "Activities": ACTIVITIES})
    if delivery_header:  # the user keeps delivery notes in a column of their own, headed in Chinese
        ws = wb["Invoices"]
        ws.cell(1, 11, delivery_header)
        for i, r in enumerate(INVOICES, start=2):
            ws.cell(i, 11, r[10] or None)
    wb.save(path)
    return path


def checklist(path: Path):
    ledger, settings, policies, issues = load(FileBook(path).read(), AS_OF, AS_OF)
    result = refresh(ledger, settings, AS_OF, policies)
    return result.legal


def table(legal, cid):
    return {r.item: (r.status, r.refs, r.missing) for r in legal[legal["customer_id"] == cid].itertuples()}


def test_the_checklist_says_what_is_present_and_what_is_missing(tmp_path):
    legal = checklist(write_book(tmp_path / "l.xlsx"))
    assert list(dict.fromkeys(legal["customer_id"])) == ["S1", "S2"]  # M1 is mild: no case
    assert list(legal["item"][:8]) == list(EVIDENCE_ITEMS)
    assert table(legal, "S1") == {
        "contract": ("missing", ("HT-1",), ("V2",)),
        "invoices": ("present", ("V1", "V2", "V3"), ()),
        "delivery": ("missing", ("DN-1", "DN-3"), ("V2",)),
        "statement_sent": ("present", ("2025-01-10",), ()),
        "statement_confirmed": ("present", ("2025-01-10",), ()),
        "reminders_sent": ("present", ("2025-02-01",), ()),
        "promises_broken": ("present", ("2025-02-20",), ()),
        "disputes": ("present", ("V3: short delivery",), ()),
    }
    assert table(legal, "S2") == {
        "contract": ("missing", (), ("W1",)),
        "invoices": ("present", ("W1",), ()),
        "delivery": ("missing", (), ("W1",)),
        "statement_sent": ("missing", (), ()),  # the statement logged on 2 April is after the as-of date
        "statement_confirmed": ("missing", (), ()),
        "reminders_sent": ("missing", (), ()),
        "promises_broken": ("none", (), ()),
        "disputes": ("none", (), ()),
    }


def test_without_a_delivery_column_delivery_evidence_is_missing_for_every_invoice(tmp_path):
    legal = checklist(write_book(tmp_path / "l.xlsx", delivery_header=None))
    assert table(legal, "S1")["delivery"] == ("missing", (), ("V1", "V2", "V3"))


def test_the_refresh_writes_the_legal_sheet(tmp_path):
    book = write_book(tmp_path / "l.xlsx")
    assert main(["refresh", str(book), "--as-of", AS_OF.isoformat(), "--quiet"]) == 0
    ws = openpyxl.load_workbook(book)["Legal"]
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0][0] == "Legal readiness as of 2025-03-31: evidence per case at the severe stage"
    assert rows[1] == ["CustomerID", "Name", "Evidence", "Status", "Found", "Missing for"]
    assert rows[2] == ["S1", "Stone Ltd", "Contract number", "MISSING", "HT-1", "V2"]
    assert rows[4] == [None, None, "Delivery notes", "MISSING", "DN-1, DN-3", "V2"]
    assert rows[8] == [None, None, "Broken promises to pay", "present", "2025-02-20", None]
    assert rows[10] == ["S2", "Bare Ltd", "Contract number", "MISSING", None, "W1"]
    assert rows[17] == [None, None, "Disputes", "none", None, None]
    assert ws["D3"].font.color.rgb.endswith("C00000")  # a gap is red


def test_the_lawyers_letter_draft_carries_the_checklist_as_an_annex(tmp_path):
    from xl_ar.app.reminders import build_reminders
    import email
    import email.policy

    book = write_book(tmp_path / "l.xlsx")
    wb = openpyxl.load_workbook(book)
    for k, v in (("CompanyName", "Acme Trading Co."), ("SenderEmail", "ar@acme.example")):
        wb["Settings"].append([k, v, ""])
    wb.save(book)
    s = build_reminders(book, AS_OF, now=dt.datetime(2025, 3, 31, 9, tzinfo=dt.timezone.utc), attach=None)
    assert s.ok, s.issues
    eml = next(f for f in s.files if f.name.startswith("S2_lawyer"))
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert """ANNEX FOR COUNSEL – evidence checklist (remove before sending)
  - Contract number: MISSING; missing for: W1
  - Invoices (open, overdue): present; found: W1
  - Delivery notes: MISSING; missing for: W1
  - Statement sent: MISSING
  - Statement confirmed: MISSING
  - Reminders and letters sent: MISSING
  - Broken promises to pay: none
  - Disputes: none
""" in text
    html = msg.get_body(("html",)).get_content()
    assert ('<tr><td>Contract number</td><td style="color: #C00000; font-weight: bold;">MISSING</td><td></td>'
            '<td>W1</td></tr>') in html


def test_the_next_refresh_neither_screens_nor_reads_the_sheets_it_writes(tmp_path):
    from xl_ar.book.package import WorkbookPackage
    from xl_ar.book.reader import read_book
    from xl_ar.book.screen import screen_book

    book = write_book(tmp_path / "l.xlsx")
    assert main(["refresh", str(book), "--as-of", AS_OF.isoformat(), "--quiet"]) == 0
    names = openpyxl.load_workbook(book, read_only=True).sheetnames
    assert {"Aging", "Collections", "Dashboard", "Warnings", "Legal"} <= set(names)
    screening = screen_book(WorkbookPackage.open(book))
    screening.finish()
    assert sorted(screening.sheets) == ["Activities", "Customers", "Invoices", "Receipts", "Settings", "Stages"]
    data = read_book(book)
    assert sorted(data.tables) == ["Activities", "Customers", "Invoices", "Receipts", "Stages"]
    # The Legal sheet is the tool's: rewritten whole by the next refresh, whatever it holds now.
    legal = WorkbookPackage.open(book).sheet_part("Legal")
    with zipfile.ZipFile(book) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    assert legal in parts
    parts[legal] = parts[legal].replace(b"</sheetData>", b"<row r='x'></sheetData>", 1)  # not well-formed
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in parts.items():
            z.writestr(n, b)
    assert main(["refresh", str(book), "--as-of", AS_OF.isoformat(), "--quiet"]) == 0
    ws = openpyxl.load_workbook(book)["Legal"]
    assert ws["A3"].value == "S1"
