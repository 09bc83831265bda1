"""Importing returned statements: confirmations, disputes, and files that must be refused.

The ledger is ``tests/test_refresh.py``'s; the statements cover 2025-02-01 to 2025-03-31 (see
``test_statements.py``): C1 closes at CNY 8,000.00; C2 at CNY -3,300.00 and USD 1,234.56.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from lxml import etree

from test_refresh import write_ledger
from xl_ar.book.cells import CellWrite, set_cells
from xl_ar.book.reader import read_book
from xl_ar.documents import confirmations
from xl_ar.app.confirmations import import_confirmations
from xl_ar.documents.statements import DISPUTE_COL, KEY_COL, MARKER_SHEET, NAMES, REASON_COL, build_statements, statement_id
from xl_ar.documents.statement_xlsx import write_statement_xlsx
from xl_ar.cli.statements import register
from xl_ar.app.refresh import load

D = dt.date
TODAY = D(2025, 4, 10)
ST_C1, ST_C2 = "ST-C1-20250201-20250331", "ST-C2-20250201-20250331"
INVOICES_PART, ACTIVITIES_PART, ACTIVITIES_TABLE = "xl/worksheets/sheet3.xml", "xl/worksheets/sheet5.xml", "xl/tables/table5.xml"


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i.filename) for i in z.infolist()}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(params=["en"])
def setup(tmp_path, request):
    """(ledger book, {customer: statement file}) for the period."""
    lang = request.param
    path = write_ledger(tmp_path / f"ledger-{lang}.xlsx", lang)
    ledger, settings, _, _ = load(read_book(path), None, TODAY)
    out = tmp_path / "sent"
    out.mkdir()
    files = {s.customer_id: write_statement_xlsx(s, out / f"{s.statement_id}.xlsx")
             for s in build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31))}
    return path, files


def answer(path: Path, out: Path, *, confirmed=None, disputes=None, signer=None, sign_date=None, remarks=None,
           mark="是") -> Path:
    """Fill a statement as the customer would (in openpyxl) and save it as ``out``."""
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]

    def named(key):
        return ws[wb.defined_names[NAMES[key]].attr_text.split("!")[1].replace("$", "")]

    for key, value in (("confirmed", confirmed), ("signer", signer), ("sign_date", sign_date), ("remarks", remarks)):
        if value is not None:
            named(key).value = value
    for row in ws.iter_rows():
        key = row[KEY_COL - 1].value
        if disputes and key in disputes:
            row[DISPUTE_COL - 1].value = mark
            row[REASON_COL - 1].value = disputes[key]
    wb.save(out)
    return out


def activities(path: Path) -> list[tuple]:
    wb = openpyxl.load_workbook(path)
    ws = wb["Activities"] if "Activities" in wb.sheetnames else wb["催收日志"]
    # the first nine columns: the log as it was; Amount (a write-off's) stays blank here
    return [r for r in ws.iter_rows(min_row=2, max_col=9, values_only=True) if any(v is not None for v in r)]


def invoice_row(path: Path, no: str) -> tuple:
    ws = openpyxl.load_workbook(path).worksheets[2]
    return next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == no)


# ----------------------------------------------------------------------------- confirmed


def test_a_confirmed_statement_is_logged(setup, tmp_path):
    book, files = setup
    reply = answer(files["C1"], tmp_path / "back.xlsx", confirmed="是", signer="王经理", sign_date=dt.datetime(2025, 4, 8))
    before, original = members(book), book.read_bytes()
    summary = import_confirmations(book, [reply], today=TODAY, by="张伟")
    assert summary.ok and summary.written and summary.issues == []
    assert [(r.statement_id, r.customer_id, r.outcome, r.disputed, r.activity_row) for r in summary.replies] == [
        (ST_C1, "C1", "confirmed", (), 2)]
    assert activities(book) == [(
        dt.datetime(2025, 4, 10), "C1", None, "statement", "张伟",
        f"confirmed balance CNY 8,000.00 (statement {ST_C1}; signed 王经理 2025-04-08)", None, None, "confirmed")]
    after = members(book)
    changed = {n for n in before if before[n] != after.get(n)}
    # a new ledger's table already spans one empty row (A1:I2): the reply fills it, the table stays
    assert changed == {ACTIVITIES_PART} and set(after) == set(before)
    wb = openpyxl.load_workbook(book)
    assert wb["Activities"].tables["tblActivities"].ref == "A1:J2"
    assert wb["Activities"]["A2"].number_format == "yyyy-mm-dd"
    assert summary.backup is not None and summary.backup.read_bytes() == original
    assert summary.backup.parent == book.parent / ".xl-ar-backups"
    # the ledger still reads cleanly
    _, _, _, issues = load(read_book(book), None, TODAY)
    assert not [i for i in issues if i.severity == "error"]


# ----------------------------------------------------------------------------- disputed


def test_disputed_lines_flag_invoices_and_are_logged(setup, tmp_path):
    book, files = setup
    reply = answer(files["C2"], tmp_path / "back.xlsx", disputes={"INV|I6": "price not agreed", "RCT|R3": "we paid 9,500"},
                   mark="Yes")
    before = members(book)
    summary = import_confirmations(book, [reply], today=TODAY)
    assert summary.ok and summary.written
    assert [(r.outcome, r.disputed) for r in summary.replies] == [("disputed", ("R3", "I6"))]
    assert invoice_row(book, "I6")[8:10] == ("yes", "price not agreed")
    assert invoice_row(book, "I4")[8:10] == (None, None)  # other invoices untouched
    assert invoice_row(book, "I5")[8:10] == ("是", "wrong price")
    assert activities(book) == [(
        dt.datetime(2025, 4, 10), "C2", "I6", "statement", None,
        f"disputed: R3 (we paid 9,500); I6 (price not agreed) (statement {ST_C2})", None, None, "disputed")]
    after = members(book)
    assert {n for n in before if before[n] != after[n]} == {INVOICES_PART, ACTIVITIES_PART}
    ledger, settings, _, _ = load(read_book(book), None, TODAY)
    inv = ledger.invoices.set_index("invoice_no")
    assert inv.loc["I6", "disputed"] and inv.loc["I6", "dispute_reason"] == "price not agreed"
    for part in (INVOICES_PART, ACTIVITIES_PART):  # well-formed XML, as Excel needs it
        etree.fromstring(after[part])


@pytest.mark.parametrize("setup", ["zh"], indirect=True)
def test_a_chinese_book_gets_chinese_words(setup, tmp_path):
    book, files = setup
    reply = answer(files["C1"], tmp_path / "back.xlsx", disputes={"INV|I2": "数量不符", "CRN|CN3": ""},
                   remarks="请尽快核实")
    summary = import_confirmations(book, [reply], today=TODAY)
    assert summary.ok and summary.written
    assert invoice_row(book, "I2")[8:10] == ("是", "数量不符")
    assert invoice_row(book, "CN3")[8:10] == ("是", f"见对账单 {ST_C1}")  # no reason given
    assert activities(book) == [(
        dt.datetime(2025, 4, 10), "C1", None, "statement", None,
        f"有异议：I2（数量不符）；CN3（对账单 {ST_C1}；备注：请尽快核实）", None, None, "有异议")]


def test_a_reason_without_the_mark_counts_and_no_means_disputed(setup, tmp_path):
    book, files = setup
    reply = answer(files["C1"], tmp_path / "back.xlsx", disputes={"INV|I2": "wrong quantity"}, mark=None)
    no = answer(files["C2"], tmp_path / "no.xlsx", confirmed="No")
    before = members(book)
    summary = import_confirmations(book, [reply, no], today=TODAY)
    assert [(r.customer_id, r.outcome, r.disputed) for r in summary.replies] == [("C1", "disputed", ("I2",)),
                                                                                 ("C2", "disputed", ())]
    assert [i.message for i in summary.issues] == ["row 10: a reason without the Disputed mark; taken as disputed"]
    assert activities(book)[1][5] == f"disputed: balance not confirmed, no line marked (statement {ST_C2})"
    # the second row is below the table's first empty row: the table and its autofilter grow over it
    assert openpyxl.load_workbook(book)["Activities"].tables["tblActivities"].ref == "A1:J3"
    assert ACTIVITIES_TABLE in {n for n, b in members(book).items() if b != before[n]}


# ----------------------------------------------------------------------------- refused


def test_an_altered_marker_is_refused_and_nothing_is_written(setup, tmp_path):
    book, files = setup
    reply = answer(files["C1"], tmp_path / "back.xlsx", confirmed="是")
    wb = openpyxl.load_workbook(reply)
    ws = wb[MARKER_SHEET]
    for row in ws.iter_rows():
        if row[0].value == "closing:CNY":
            row[1].value = "0.00"
    wb.save(reply)
    before = digest(book)
    summary = import_confirmations(book, [reply], today=TODAY)
    assert not summary.ok and not summary.written and summary.replies == []
    assert [i.as_dict() for i in summary.issues] == [{
        "where": "back.xlsx", "severity": "error",
        "message": "back.xlsx: the statement's hidden marker was altered (its checksum does not match); not imported"}]
    assert digest(book) == before and not (book.parent / ".xl-ar-backups").exists()


def test_unknown_and_damaged_files_are_reported_clearly(setup, tmp_path):
    book, files = setup
    plain = tmp_path / "plain.xlsx"
    openpyxl.Workbook().save(plain)
    text = tmp_path / "notes.xlsx"
    text.write_text("hello")
    edited = answer(files["C1"], tmp_path / "edited.xlsx", confirmed="是")
    wb = openpyxl.load_workbook(edited)
    next(r for r in wb.worksheets[0].iter_rows() if r[KEY_COL - 1].value == "INV|I2")[KEY_COL - 1].value = "INV|I99"
    wb.save(edited)
    before = digest(book)
    summary = import_confirmations(book, [plain, text, edited, tmp_path / "missing.xlsx"], today=TODAY)
    msgs = {i.where: i.message for i in summary.issues}
    assert msgs["plain.xlsx"] == "plain.xlsx is not a statement made by xl-ar (it has no _xlar sheet); not imported"
    assert msgs["notes.xlsx"].startswith("notes.xlsx: notes.xlsx is not an Excel workbook")
    assert msgs["edited.xlsx"] == ("edited.xlsx: row 10 names I99, which is not on the statement as issued; "
                                   "the file was altered, not imported")
    assert msgs["missing.xlsx"].startswith("missing.xlsx: ")
    assert not summary.written and digest(book) == before


def test_a_statement_of_another_ledger_is_refused(setup, tmp_path):
    book, files = setup
    ledger, settings, _, _ = load(read_book(book), None, TODAY)
    st = build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31), customers=["C1"])[0]
    other = dataclasses.replace(st, customer_id="C9", statement_id=statement_id("C9", st.period_from, st.period_to))
    reply = answer(write_statement_xlsx(other, tmp_path / "c9.xlsx"), tmp_path / "c9-back.xlsx", confirmed="Yes")
    good = answer(files["C2"], tmp_path / "c2-back.xlsx", confirmed="Yes")
    summary = import_confirmations(book, [reply, good], today=TODAY)
    assert [i.message for i in summary.issues] == [
        'customer "C9" of statement ST-C9-20250201-20250331 is not on this ledger (a statement of another '
        "workbook?); not imported"]
    assert [r.customer_id for r in summary.replies] == ["C2"] and summary.written  # the good one still counts
    assert not summary.ok


def test_huge_files_are_refused_before_parsing(setup, tmp_path, monkeypatch):
    book, files = setup
    monkeypatch.setattr(confirmations, "MAX_REPLY_BYTES", 1000)
    summary = import_confirmations(book, [files["C1"]], today=TODAY)
    assert "larger than a returned statement can be" in summary.issues[0].message


def test_a_reply_is_imported_once_and_a_blank_one_not_at_all(setup, tmp_path):
    book, files = setup
    reply = answer(files["C1"], tmp_path / "back.xlsx", confirmed="是")
    assert import_confirmations(book, [reply], today=TODAY).written
    first = digest(book)
    again = import_confirmations(book, [reply, files["C2"]], today=TODAY)
    assert not again.written and digest(book) == first
    assert [(i.severity, i.message) for i in again.issues] == [
        ("warning", f"statement {ST_C1} (confirmed) was already imported; skipped"),
        ("warning", f"statement {ST_C2} is neither confirmed nor disputed; nothing recorded")]


@pytest.mark.libreoffice
@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice (soffice) is not installed")
def test_a_statement_resaved_by_libreoffice_still_imports(setup, tmp_path):
    book, files = setup
    reply = answer(files["C2"], tmp_path / "back.xlsx", confirmed="Yes", signer="Ms. Lee")
    out = tmp_path / "lo"
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "xlsx",
                    "--outdir", str(out), str(reply)], check=True, capture_output=True, timeout=180)
    summary = import_confirmations(book, [out / "back.xlsx"], today=TODAY)
    assert summary.ok and [(r.outcome, r.customer_id) for r in summary.replies] == [("confirmed", "C2")]
    assert activities(book)[0][5] == f"confirmed balance CNY -3,300.00, USD 1,234.56 (statement {ST_C2}; signed Ms. Lee)"


def test_cli_import_confirmations(setup, tmp_path, capsys):
    book, files = setup
    reply = answer(files["C1"], tmp_path / "back.xlsx", confirmed="是")
    parser = argparse.ArgumentParser(prog="xl-ar")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["import-confirmations", str(book), str(reply), "--date", "2025-04-10", "--json"])
    assert args.handler(args) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["written"] and [(r["statement_id"], r["outcome"], r["activity_row"]) for r in got["replies"]] == [
        (ST_C1, "confirmed", 2)]


# ----------------------------------------------------------------------------- xl_ar.book.cells

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def test_set_cells_keeps_everything_else():
    xml = (f'<x:worksheet xmlns:x="{NS}"><x:dimension ref="A1:C3"/><x:sheetData>'
           '<x:row r="1" spans="1:3"><x:c r="A1" s="4" t="s"><x:v>0</x:v></x:c><x:c s="2"><x:v>5</x:v></x:c></x:row>'
           '<x:row r="3"/>'
           '<x:row r="5"><x:c r="C5" t="inlineStr"><x:is><x:t>keep &amp; me</x:t></x:is></x:c></x:row>'
           "</x:sheetData><x:tableParts/></x:worksheet>").encode()
    out = set_cells(xml, {"A1": "新 <值>", "E1": 1.5, "B3": D(2025, 4, 10), "A4": CellWrite(True, 7), "D5": None})
    assert out == (f'<x:worksheet xmlns:x="{NS}"><x:dimension ref="A1:E5"/><x:sheetData>'
                   '<x:row r="1" spans="1:5"><x:c r="A1" s="4" t="inlineStr"><x:is><x:t>新 &lt;值&gt;</x:t></x:is></x:c>'
                   '<x:c r="B1" s="2"><x:v>5</x:v></x:c><x:c r="E1"><x:v>1.5</x:v></x:c></x:row>'
                   '<x:row r="3"><x:c r="B3"><x:v>45757</x:v></x:c></x:row>'
                   '<x:row r="4"><x:c r="A4" s="7" t="b"><x:v>1</x:v></x:c></x:row>'
                   '<x:row r="5"><x:c r="C5" t="inlineStr"><x:is><x:t>keep &amp; me</x:t></x:is></x:c></x:row>'
                   "</x:sheetData><x:tableParts/></x:worksheet>").encode()


def test_set_cells_on_an_empty_sheet_and_rows_after_the_last():
    xml = f'<worksheet xmlns="{NS}"><sheetData/></worksheet>'.encode()
    assert set_cells(xml, {"B2": " x ", "A1": 3}) == (
        f'<worksheet xmlns="{NS}"><sheetData><row r="1"><c r="A1"><v>3</v></c></row>'
        '<row r="2"><c r="B2" t="inlineStr"><is><t xml:space="preserve"> x </t></is></c></row></sheetData></worksheet>'
    ).encode()
    xml = f'<worksheet xmlns="{NS}"><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData></worksheet>'.encode()
    assert set_cells(xml, {"A3": 2}).endswith(b'</row><row r="3"><c r="A3"><v>2</v></c></row></sheetData></worksheet>')
