"""Texts XML cannot hold, or that look like its escapes, in a statement that comes back.

A customer name or document number may hold a control character, U+FFFE, a literal ``_x0001_``
or a character beyond U+FFFF. The visible sheet stores them escaped as Excel does (``_xHHHH_``),
which each application that re-saves or reads the file handles in its own way; the marker and
the hidden line keys hold them encoded (``marker_encode``), so a returned statement nobody
altered reads back with the very texts it was made of, and an altered one is still refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from lxml import etree
from python_calamine import CalamineWorkbook
from test_confirmations import TODAY, answer, invoice_row
from test_refresh import CUSTOMERS, INVOICES, RECEIPTS

from xl_ar.app.confirmations import import_confirmations
from xl_ar.app.refresh import load
from xl_ar.book.newbook import build_ledger_workbook
from xl_ar.book.reader import read_book
from xl_ar.book.sheetxml import escape_controls
from xl_ar.book.sheetxml import decode_xstring
from xl_ar.documents.confirmations import ReplyError, read_reply
from xl_ar.documents.statement_xlsx import statement_xlsx_bytes, write_statement_xlsx
from xl_ar.documents.statements import (
    DISPUTE_COL,
    KEY_COL,
    MARKER_SHEET,
    REASON_COL,
    Statement,
    StatementLine,
    StatementSection,
    build_statements,
    marker_checksum,
    marker_decode,
    marker_encode,
)

D = dt.date
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
ALTERED = "the statement's hidden marker was altered (its checksum does not match); not imported"
# The ledger's C2 and its USD invoice I6, renamed: what the ledger reader gives for them is what
# the statement carries (it leaves U+FFFE as the "_xFFFE_" the file holds).
NAME = "Harbor\x01 _x0001_ x005F_ _x005F_ Ltd\r\x1f😀𠀀\ufffe"
DOC = "I6\x1f_x0041_\r\uffff"
#: Pieces of text the writers and readers of .xlsx files treat in their own ways.
TRICKY = ["\x00", "\x01", "\x08", "\x0b", "\r", "\r\n", "\x1f", "\t", "\n", "\x7f", "\x85", "\ufffe", "\uffff",
          "\ud800", "\udfff", "\ud83d\ude00", "_x0001_", "_x005F_", "_x005f_", "x005F_", "_x0041_x0042_",
          "_X0041_", "_xD83D__xDE00_", "_", "%", "%41", "%E6", " ", "😀", "𠀀", "货款", "&<>\"'", "\u2028",
          "\ufeff", "INV|", "=A1"]
texts = st.lists(st.sampled_from(TRICKY) | st.characters(exclude_categories=()), max_size=8).map("".join)


def _ledger(path: Path) -> Path:
    """The test ledger with C2's name and its invoice I6's number as :data:`NAME` and :data:`DOC`
    (stored as Excel stores them: openpyxl refuses a control character)."""
    customers = [list(r) for r in CUSTOMERS]
    customers[1][1] = escape_controls(NAME)
    invoices = [list(r) for r in INVOICES]
    assert invoices[5][0] == "I6"
    invoices[5][0] = escape_controls(DOC)
    build_ledger_workbook("en", {"Customers": customers, "Invoices": invoices, "Receipts": RECEIPTS}).save(path)
    return path


@pytest.fixture
def c2(tmp_path):
    """(ledger book, C2's statement as sent, the statement)."""
    book = _ledger(tmp_path / "ledger.xlsx")
    ledger, settings, _, issues = load(read_book(book), None, TODAY)
    assert not issues
    [statement] = build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31), customers=["C2"])
    assert statement.customer_name.startswith("Harbor\x01 _x0001_ x005F_ _x005F_ Ltd\r\x1f😀𠀀")
    sent = tmp_path / "sent"
    sent.mkdir()
    return book, write_statement_xlsx(statement, sent / "c2.xlsx"), statement


def _soffice(src: Path, out: Path, tmp_path: Path) -> Path:
    """``src`` re-saved as .xlsx by LibreOffice headless, in ``out``."""
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", "xlsx",
                    "--outdir", str(out), str(src)], check=True, capture_output=True, timeout=180)
    return out / f"{src.stem}.xlsx"


def _resave(src: Path, out: Path) -> Path:
    wb = openpyxl.load_workbook(src)
    wb.save(out)
    return out


def _doc_key(statement: Statement) -> str:
    return next(x.key for s in statement.sections for x in s.lines if x.doc_no.startswith("I6"))


# ----------------------------------------------------------------------------- the reported case


def test_a_statement_sent_unchanged_reads_back_with_its_texts(c2, tmp_path):
    book, sent, statement = c2
    for path in (sent, _resave(sent, tmp_path / "resaved.xlsx")):
        reply = read_reply(path)
        assert (reply.customer_id, reply.customer_name, reply.statement_id) == (
            "C2", statement.customer_name, statement.statement_id)
        summary = import_confirmations(book, [path], today=TODAY)
        assert summary.ok and [i.message for i in summary.issues] == [
            f"statement {statement.statement_id} is neither confirmed nor disputed; nothing recorded"]


def test_a_dispute_of_a_document_with_control_characters_is_imported(c2, tmp_path):
    book, sent, statement = c2
    key = _doc_key(statement)
    reply = answer(sent, tmp_path / "back.xlsx", disputes={marker_encode(key): "not ours"}, mark="Yes")
    assert [d.doc_no for d in read_reply(reply).disputed] == [statement.sections[-1].lines[0].doc_no]
    summary = import_confirmations(book, [reply], today=TODAY)
    assert summary.ok and summary.written, summary.issues
    doc = summary.replies[0].disputed[0]
    assert doc.startswith("I6\x1f_x0041_\r") and summary.replies[0].outcome == "disputed"
    # the flag lands on the invoice: the ledger's own reading of its number found it
    ledger, _, _, _ = load(read_book(book), None, TODAY)
    row = ledger.invoices[ledger.invoices["invoice_no"] == doc]
    assert row["disputed"].tolist() == [True] and row["dispute_reason"].tolist() == ["not ours"]
    logged = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("Activities").to_python()
    assert logged[1][2] == doc and logged[1][5].startswith(f"disputed: {doc} (not ours)")  # the Activities row
    assert invoice_row(book, "I4")[8:10] == (None, None)


@pytest.mark.libreoffice
@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice (soffice) is not installed")
def test_a_statement_resaved_by_libreoffice_reads_back_with_its_texts(c2, tmp_path):
    book, sent, statement = c2
    again = _soffice(sent, tmp_path / "lo", tmp_path)
    assert read_reply(again).customer_name == statement.customer_name
    reply = answer(sent, tmp_path / "back.xlsx", disputes={marker_encode(_doc_key(statement)): "不对"}, mark="是")
    summary = import_confirmations(book, [_soffice(reply, tmp_path / "lo2", tmp_path)], today=TODAY)
    assert summary.ok and summary.written and summary.replies[0].disputed[0].startswith("I6\x1f_x0041_\r")


# ----------------------------------------------------------------------------- still refused


def _edit_marker(path: Path, out: Path, change) -> Path:
    """``path`` saved as ``out`` after ``change(label, value) -> new value or None`` on the
    marker's rows (texts as stored)."""
    wb = openpyxl.load_workbook(path)
    for row in wb[MARKER_SHEET].iter_rows():
        new = change(row[0].value, row[1].value) if row[0].value else None
        if new is not None:
            row[1].value = new
    wb.save(out)
    return out


@pytest.mark.parametrize("change", [
    pytest.param(lambda k, v: v + "%20" if k == "customer%5Fname" else None, id="another name, well encoded"),
    pytest.param(lambda k, v: escape_controls(marker_decode(v)) if k == "customer%5Fname" else None,
                 id="the name itself, not encoded"),
    pytest.param(lambda k, v: v.replace("H", "%48") if k == "customer%5Fname" else None, id="encoded another way"),
    pytest.param(lambda k, v: v.replace("%01", "%1") if k == "customer%5Fname" else None, id="a broken escape"),
    pytest.param(lambda k, v: "8000.00" if k == "closing:CNY" else None, id="a closing balance"),
    pytest.param(lambda k, v: "CNY" if k.startswith("INV|I6") else None, id="a line's currency"),
])
def test_an_altered_marker_is_refused(c2, tmp_path, change):
    book, sent, _ = c2
    edited = _edit_marker(sent, tmp_path / "edited.xlsx", change)
    with pytest.raises(ReplyError, match="altered"):
        read_reply(edited)
    summary = import_confirmations(book, [edited], today=TODAY)
    assert [i.message for i in summary.issues] == [f"edited.xlsx: {ALTERED}"] and not summary.written


def test_a_key_cell_naming_another_document_is_refused(c2, tmp_path):
    _, sent, statement = c2
    wb = openpyxl.load_workbook(sent)
    stored = marker_encode(_doc_key(statement))
    cell = next(r[KEY_COL - 1] for r in wb.worksheets[0].iter_rows() if r[KEY_COL - 1].value == stored)
    cell.value = marker_encode("INV|I6\x01")
    wb.save(tmp_path / "edited.xlsx")
    with pytest.raises(ReplyError, match="names I6\x01, which is not on the statement as issued"):
        read_reply(tmp_path / "edited.xlsx")


# ----------------------------------------------------------------------------- a statement made before


def _as_version_1(path: Path, out: Path) -> Path:
    """``path`` as the writer before the encoding made it: the marker and the line keys hold the
    texts as they are (escaped as Excel escapes them), version "1"."""
    wb = openpyxl.load_workbook(path)
    rows = [[marker_decode(c.value or "") for c in row] for row in wb[MARKER_SHEET].iter_rows(max_col=6)]
    split = [r[0] for r in rows].index("key")
    pairs = [r[:2] for r in rows[:split] if r[0] not in ("", "checksum")]
    pairs[[p[0] for p in pairs].index("version")][1] = "1"
    for row, texts in zip(wb[MARKER_SHEET].iter_rows(max_col=6), rows):
        if texts[0] == "version":
            texts[1] = "1"
        elif texts[0] == "checksum":
            texts[1] = marker_checksum(pairs, [r for r in rows[split + 1:] if r[0]])
        for cell, text in zip(row, texts):
            cell.value = escape_controls(text) or None
    for row in wb.worksheets[0].iter_rows(min_col=KEY_COL, max_col=KEY_COL):
        if row[0].value is not None:
            row[0].value = escape_controls(marker_decode(row[0].value))
    wb.save(out)
    return out


def test_a_statement_made_before_still_reads_with_control_characters_decoded(tmp_path):
    """A version "1" statement holding control characters (not a literal ``_xHHHH_``: in the
    shared strings that writer made, openpyxl drops the ``x005F_`` protecting one before the
    reader sees it)."""
    statement = _statement("Harbor\x01 Ltd\r\x1f😀𠀀", "I6\x1f\uffff")
    old = _as_version_1(write_statement_xlsx(statement, tmp_path / "st.xlsx"), tmp_path / "old.xlsx")
    assert openpyxl.load_workbook(old)[MARKER_SHEET]["B5"].value == "Harbor_x0001_ Ltd_x000D__x001F_😀𠀀"
    reply = read_reply(old)
    assert reply.customer_name == statement.customer_name
    back = answer(old, tmp_path / "back.xlsx", disputes={escape_controls("INV|I6\x1f\uffff"): "x"}, mark="Yes")
    assert [d.doc_no for d in read_reply(back).disputed] == ["I6\x1f\uffff"]
    plain = write_statement_xlsx(_statement("Harbor Ltd", "I6"), tmp_path / "p.xlsx")
    plain = _as_version_1(plain, tmp_path / "p1.xlsx")
    assert read_reply(plain).customer_name == "Harbor Ltd"  # as it always read
    # still checked: an altered old marker is refused
    edited = _edit_marker(old, tmp_path / "edited.xlsx", lambda k, v: v + "x" if k == "customer_name" else None)
    with pytest.raises(ReplyError, match="altered"):
        read_reply(edited)


# ----------------------------------------------------------------------------- the visible sheet


def _stored(data: bytes) -> tuple[list[str], dict[str, str]]:
    """The shared strings as the file stores them (entities resolved, ``_xHHHH_`` not), and the
    statement sheet's text cells (``"C3"`` -> that stored text)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        sst = etree.fromstring(zf.read("xl/sharedStrings.xml"))
        sheet = etree.fromstring(zf.read("xl/worksheets/sheet1.xml"))
    strings = ["".join(si.itertext()) for si in sst.iterfind("m:si", NS)]
    cells = {c.get("r"): strings[int(c.findtext("m:v", namespaces=NS))]
             for c in sheet.iterfind(".//m:c[@t='s']", NS)}
    return strings, cells


def _statement(name: str, doc: str, customer_id: str = "C1") -> Statement:
    line = StatementLine(D(2025, 2, 1), "invoice", doc, "货款", "", D(2025, 3, 3), 2_000_000, 0, 2_000_000, 3, False)
    cny = StatementSection("CNY", 2, 0, (line,), 2_000_000, 2_000_000, (2_000_000, 0, 0, 0, 0), 2_000_000, 0, 0)
    return Statement("ST-C1-20250201-20250228", customer_id, name, "", "", "Example Ltd", "示例有限公司",
                     D(2025, 2, 1), D(2025, 2, 28), "en", (30, 60, 90, 180), "due", (cny,))


@pytest.mark.parametrize("text, stored", [
    ("a\x01b\x1fc", "a_x0001_b_x001F_c"),
    ("a\rb\r\nc", "a_x000D_b_x000D_\nc"),  # a parser would turn a bare CR into LF
    ("tab\tand\nline", "tab\tand\nline"),  # legal in XML: as they are
    ("\ufffe\uffff", "_xFFFE__xFFFF_"),
    ("\ud800", "_xD800_"),  # a lone surrogate: its UTF-16 code unit
    ("😀 𠀀", "😀 𠀀"),  # beyond U+FFFF: legal XML, one character in UTF-8, never a pair of escapes
    ("_x0041_", "_x005F_x0041_"),  # the literal text, protected
    ("_x005F_", "_x005F_x005F_"),
    ("_x00e9_", "_x005F_x00e9_"),  # hex in either case
    ("x005F_ and _X0041_", "x005F_ and _X0041_"),  # neither is an escape
    ("\x7f\x85\u2028", "\x7f\x85\u2028"),  # legal XML
])
def test_the_visible_sheet_stores_texts_as_excel_does(text, stored):
    strings, cells = _stored(statement_xlsx_bytes(_statement(f"N{text}", f"D{text}")))
    assert cells["C3"] == f"N{stored} (C1)" and f"D{stored}" in strings
    assert decode_xstring(f"N{stored}") == f"N{text}"  # what Excel shows: the text itself
    # the marker and the hidden key: the encoded texts, nothing to escape in them
    assert marker_encode(f"N{text}") in strings and marker_encode(f"INV|D{text}") in strings
    assert all(s.isascii() and "_x" not in s for s in strings if s.startswith("INV|"))


# ----------------------------------------------------------------------------- the decoders


@pytest.mark.parametrize("stored, text", [
    ("plain 货款", "plain 货款"),
    ("a_x0001_b", "a\x01b"),
    ("_x000D__x000a_", "\r\n"),
    ("_x005F_x0041_", "_x0041_"),  # the protected literal
    ("_x005f_x0041_", "_x0041_"),
    ("_x005F_x005F_", "_x005F_"),
    ("_x005F__x0041_", "_A"),
    ("_x0041_x0042_", "Ax0042_"),  # left to right: the second underscore belongs to the first escape
    ("_xD83D__xDE00_", "😀"),  # a surrogate pair: one character
    ("_xD83D_", "\ud83d"),
    ("_x41_ _xGGGG_ _X0041_ x0041_", "_x41_ _xGGGG_ _X0041_ x0041_"),
])
def test_decode_xstring(stored, text):
    assert decode_xstring(stored) == text


_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\r\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _spec_escape(text: str) -> str:
    """``text`` escaped as ``ST_Xstring`` says: a character XML cannot hold (and CR) as its
    ``_xHHHH_``, and an underscore that would begin an ``_xHHHH_`` in the result as ``_x005F_``
    (overlapping ones too, and one before an escaped character, whose escape begins with ``_``)."""
    out = []
    for i, ch in enumerate(text):
        if _ILLEGAL.match(ch):
            out.append(f"_x{ord(ch):04X}_")
        elif ch == "_" and re.fullmatch("x[0-9A-Fa-f]{4}", text[i + 1:i + 6]) and (
                text[i + 6:i + 7] == "_" or _ILLEGAL.match(text[i + 6:i + 7])):
            out.append("_x005F_")
        else:
            out.append(ch)
    return "".join(out)


@given(texts)
@example("_x0041_x0042_")
@example("_x0041\x01")
@example("\ud83d\ude00")
def test_decode_xstring_inverts_the_spec_escaping(text):
    assume(not re.search("[\ud800-\udbff][\udc00-\udfff]", text))  # a pair of lone surrogates is the character
    assert decode_xstring(_spec_escape(text)) == text


@pytest.mark.parametrize("text, cell", [
    ("", ""), ("INV|I2", "INV|I2"), ("2025-03-31", "2025-03-31"), ("-3300.00", "-3300.00"),
    ("customer_name", "customer%5Fname"), ("xl-ar statement", "xl-ar%20statement"), ("100%", "100%25"),
    ("a\x01_x0001_", "a%01%5Fx0001%5F"), ("\ufffe", "%EF%BF%BE"), ("货", "%E8%B4%A7"), ("😀", "%F0%9F%98%80"),
    ("\ud800", "%ED%A0%80"),
])
def test_marker_encode(text, cell):
    assert marker_encode(text) == cell and marker_decode(cell) == text


@pytest.mark.parametrize("cell", ["a b", "a_b", "货", "%", "%4", "%4g", "%e8%b4%a7", "%41", "%2D", "%FF", "%E8%B4",
                                  "%C0%80", "\x01", "_x0001_"])
def test_marker_decode_refuses_what_marker_encode_never_writes(cell):
    assert marker_decode(cell) is None


@given(texts)
def test_marker_texts_round_trip_in_ascii_without_escapes(text):
    cell = marker_encode(text)
    assert marker_decode(cell) == text
    assert cell.isascii() and "_" not in cell and " " not in cell and cell.isprintable()


# ----------------------------------------------------------------------------- any text, end to end


def _dispute_every_line(src: Path, out: Path) -> Path:
    """Mark every line of the statement disputed (in openpyxl: a load and a save, as a re-save)."""
    wb = openpyxl.load_workbook(src)
    ws = wb.worksheets[0]
    for row in ws.iter_rows(min_row=2):
        if row[KEY_COL - 1].value not in (None, "key"):
            row[DISPUTE_COL - 1].value = "Yes"
            row[REASON_COL - 1].value = "wrong"
    wb.save(out)
    return out


@st.composite
def statements(draw) -> Statement:
    docs = draw(st.lists(texts.filter(bool), min_size=1, max_size=4))
    kinds = draw(st.lists(st.sampled_from(["invoice", "credit", "receipt"]), min_size=len(docs), max_size=len(docs)))
    lines = tuple(StatementLine(D(2025, 2, 1), kind, doc, draw(texts), "", None, 100, 0, 100 * (i + 1), i + 2, False)
                  for i, (doc, kind) in enumerate(zip(docs, kinds)))
    sec = StatementSection("CNY", 2, 0, lines, 100 * len(lines), 100 * len(lines), (100 * len(lines), 0, 0, 0, 0),
                           100 * len(lines), 0, 0)
    return dataclasses.replace(_statement(draw(texts), "I1", draw(texts.filter(bool))), statement_id=draw(texts),
                               sections=(sec,))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(statement=statements())
@example(statement=_statement(NAME, DOC, "C\x01_x0041_"))
def test_any_texts_come_back_as_written(tmp_path, statement):
    sent = write_statement_xlsx(statement, tmp_path / "st.xlsx")
    for path in (sent, _dispute_every_line(sent, tmp_path / "back.xlsx")):
        reply = read_reply(path)
        assert (reply.statement_id, reply.customer_id, reply.customer_name) == (
            statement.statement_id, statement.customer_id, statement.customer_name)
    lines = statement.sections[0].lines
    assert [(d.key, d.doc_no, d.kind, d.currency, d.reason) for d in reply.disputed] == [
        (x.key, x.doc_no, x.kind, "CNY", "wrong") for x in lines]


def _as_excel_stores(path: Path, out: Path, placeholder: str, stored: str) -> Path:
    """``path`` with ``placeholder`` replaced in its XML by ``stored``: a cell text as Excel writes it."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(".xml"):
                data = data.replace(placeholder.encode(), stored.encode())
            dst.writestr(info, data)
    return out


def test_answers_with_a_carriage_return_read_back_without_escapes(c2, tmp_path):
    """A remark, a reason and a signature pasted with Windows line ends: Excel stores the CR as
    ``_x000D_``; the import records the text the customer wrote."""
    book, sent, statement = c2
    key = _doc_key(statement)
    filled = answer(sent, tmp_path / "filled.xlsx", signer="王QQCRQQ五", remarks="第一行QQCRQQ\n第二行",
                    disputes={marker_encode(key): "未收到货QQCRQQ\n见附件"})
    reply = read_reply(_as_excel_stores(filled, tmp_path / "reply.xlsx", "QQCRQQ", "_x000D_"))
    assert reply.remarks == "第一行\r\n第二行"
    assert reply.signer == "王\r五"
    assert [(d.doc_no, d.reason) for d in reply.disputed] == [(statement.sections[-1].lines[0].doc_no, "未收到货\r\n见附件")]
