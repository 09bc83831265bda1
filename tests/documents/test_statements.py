"""Reconciliation statements (对账单) on the ledger of ``tests/test_refresh.py``.

The ledger, by customer (amounts in CNY unless said):

    C1 上海华信贸易有限公司: I1 2025-01-01 10,000.00; I2 2025-02-01 20,000.00; CN3 2025-03-01 -3,000.00;
       I7 2025-05-01 999.99; R1 2025-02-10 4,000.00 (names I2); R2 2025-03-05 15,000.00
    C2 Harbor Logistics Ltd: I4 2024-11-05 5,000.00; I5 2025-01-06 700.00 (disputed);
       I6 2025-03-20 USD 1,234.56; R3 2025-02-01 9,000.00
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from test_refresh import write_ledger
from xl_ar.book.reader import read_book
from xl_ar.core.run import refresh
from xl_ar.documents import fonts, pdf as pdf_mod
from xl_ar.documents.confirmations import read_reply
from xl_ar.documents.statements import (
    DISPUTE_COL, KEY_COL, MARKER_SHEET, NAMES, REASON_COL, StatementSource, build_statements,
)
from xl_ar.cli.statements import register
from xl_ar.documents.attachments import statement_attachment
from xl_ar.documents.statement_xlsx import write_statement_xlsx
from xl_ar.app.refresh import load

D = dt.date
NAME_C1 = "上海华信贸易有限公司"


def book(tmp_path: Path, lang: str = "en", company: dict | None = None) -> Path:
    """The test ledger, with CompanyName rows added to its Settings sheet."""
    path = write_ledger(tmp_path / f"ledger-{lang}.xlsx", lang)
    if company:
        wb = openpyxl.load_workbook(path)
        ws = wb.worksheets[0]
        for k, v in company.items():
            ws.append([k, v])
        wb.save(path)
    return path


def loaded(path: Path):
    ledger, settings, _, issues = load(read_book(path), None, D(2025, 6, 30))
    assert not [i for i in issues if i.severity == "error"], issues
    return ledger, settings


@pytest.fixture
def ledger_settings(tmp_path):
    return loaded(book(tmp_path, company={"CompanyName": "Hangzhou Demo Co.", "CompanyNameZh": "杭州示例科技有限公司"}))


def by_customer(statements):
    return {s.customer_id: s for s in statements}


def rows(section):
    return [(x.date.isoformat(), x.kind, x.doc_no, x.debit_minor, x.credit_minor, x.balance_minor) for x in section.lines]


# ----------------------------------------------------------------------------- the numbers


def test_c1_february_to_march_to_the_cent(ledger_settings):
    ledger, settings = ledger_settings
    st = by_customer(build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31)))["C1"]
    assert st.statement_id == "ST-C1-20250201-20250331"
    assert st.customer_name == NAME_C1 and st.lang == "zh"  # the customer's own Language
    assert st.company("zh") == "杭州示例科技有限公司" and st.company("en") == "Hangzhou Demo Co."
    [cny] = st.sections
    assert cny.currency == "CNY"
    assert cny.opening_minor == 1_000_000  # I1, dated before the period
    assert rows(cny) == [
        ("2025-02-01", "invoice", "I2", 2_000_000, 0, 3_000_000),
        ("2025-02-10", "receipt", "R1", 0, 400_000, 2_600_000),
        ("2025-03-01", "credit", "CN3", 0, 300_000, 2_300_000),
        ("2025-03-05", "receipt", "R2", 0, 1_500_000, 800_000),
    ]
    assert cny.lines[1].reference == "I2"
    assert (cny.debit_minor, cny.credit_minor) == (2_000_000, 2_200_000)
    assert cny.closing_minor == cny.ledger_minor == 800_000
    # aging at Mar 31: I2's 8,000.00 is 28 days late; nothing unapplied
    assert cny.aging_minor == (0, 800_000, 0, 0, 0)
    assert (cny.open_minor, cny.unapplied_minor, cny.disputed_minor) == (800_000, 0, 0)
    assert cny.ties


def test_c2_has_one_section_per_currency(ledger_settings):
    ledger, settings = ledger_settings
    st = by_customer(build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31)))["C2"]
    assert [s.currency for s in st.sections] == ["CNY", "USD"]
    cny, usd = st.sections
    assert cny.opening_minor == 570_000  # I4 + I5
    assert rows(cny) == [("2025-02-01", "receipt", "R3", 0, 900_000, -330_000)]
    assert cny.closing_minor == cny.ledger_minor == -330_000
    # the closing balance = open items 700.00 (I5, disputed, 61-90 days) - unapplied cash 4,000.00
    assert cny.aging_minor == (0, 0, 0, 70_000, 0)
    assert (cny.open_minor, cny.unapplied_minor, cny.disputed_minor) == (70_000, 400_000, 70_000)
    assert usd.opening_minor == 0
    assert rows(usd) == [("2025-03-20", "invoice", "I6", 123_456, 0, 123_456)]
    assert usd.lines[0].due_date == D(2025, 4, 19)
    assert usd.closing_minor == 123_456 and usd.aging_minor == (123_456, 0, 0, 0, 0)


@pytest.mark.parametrize("start,end", [
    (D(2024, 11, 1), D(2024, 12, 31)), (D(2025, 1, 1), D(2025, 1, 31)), (D(2025, 2, 1), D(2025, 2, 28)),
    (D(2025, 3, 1), D(2025, 3, 31)), (D(2025, 1, 1), D(2025, 6, 30)), (D(2025, 3, 5), D(2025, 3, 5)),
])
def test_closing_ties_to_the_ledger_and_the_aging(ledger_settings, start, end):
    ledger, settings = ledger_settings
    statements = build_statements(ledger, settings, start, end)
    result = refresh(ledger, settings, end)
    aging = {(r.customer_id, r.currency): r for r in result.aging.itertuples()}
    for st in statements:
        for sec in st.sections:
            inv = ledger.invoices[(ledger.invoices.customer_id == st.customer_id) & (ledger.invoices.currency == sec.currency)]
            rec = ledger.receipts[(ledger.receipts.customer_id == st.customer_id) & (ledger.receipts.currency == sec.currency)]
            by_hand = (int(inv.amount_minor[inv.invoice_date <= str(end)].sum())
                       - int(rec.amount_minor[rec.receipt_date <= str(end)].sum()))
            assert sec.closing_minor == sec.ledger_minor == by_hand
            row = aging.get((st.customer_id, sec.currency))
            if row is not None:  # the core's aging sheet: open total - unapplied = the closing balance
                assert sec.closing_minor == row.total - row.unapplied
                assert sec.aging_minor == tuple(getattr(row, f"b{i}") for i in range(5))
            else:
                assert sec.closing_minor == 0


def test_consecutive_periods_chain(ledger_settings):
    ledger, settings = ledger_settings
    months = [(D(2025, m, 1), (D(2025, m + 1, 1) - dt.timedelta(days=1))) for m in range(1, 6)]
    closing = {}
    for start, end in months:
        for st in build_statements(ledger, settings, start, end):
            for sec in st.sections:
                key = (st.customer_id, sec.currency)
                assert sec.opening_minor == closing.get(key, sec.opening_minor)
                closing[key] = sec.closing_minor
    assert closing[("C1", "CNY")] == 899_999  # May: I7 999.99 on top of 8,000.00


def test_customer_filter_and_quiet_customers(ledger_settings):
    ledger, settings = ledger_settings
    assert [s.customer_id for s in build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31), customers=["C2"])] == ["C2"]
    # before any document nobody owes anything: no statement unless asked for by name
    assert build_statements(ledger, settings, D(2024, 1, 1), D(2024, 1, 31)) == []
    [quiet] = build_statements(ledger, settings, D(2024, 1, 1), D(2024, 1, 31), customers=["C1"], include_quiet=True)
    assert [(s.currency, s.opening_minor, s.closing_minor, s.lines) for s in quiet.sections] == [("CNY", 0, 0, ())]
    with pytest.raises(ValueError):
        build_statements(ledger, settings, D(2025, 3, 1), D(2025, 2, 1))


# ----------------------------------------------------------------------------- the xlsx


def test_xlsx_is_an_editable_workbook_with_a_marker(ledger_settings, tmp_path):
    ledger, settings = ledger_settings
    st = by_customer(build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31)))["C1"]
    path = write_statement_xlsx(st, tmp_path / "c1.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["对账单", MARKER_SHEET]
    assert wb[MARKER_SHEET].sheet_state == "veryHidden"
    ws = wb["对账单"]
    assert ws["A1"].value == "杭州示例科技有限公司" and ws["A2"].value == "对账单"
    assert ws["C3"].value == f"{NAME_C1} (C1)" and ws["C5"].value == "ST-C1-20250201-20250331"
    lines = [[c.value for c in r] for r in ws.iter_rows() if isinstance(r[KEY_COL - 1].value, str) and "|" in r[KEY_COL - 1].value]
    assert [(r[2], r[5], r[6], r[7], r[KEY_COL - 1]) for r in lines] == [
        ("I2", 20000, None, 30000, "INV|I2"), ("R1", None, 4000, 26000, "RCT|R1"),
        ("CN3", None, 3000, 23000, "CRN|CN3"), ("R2", None, 15000, 8000, "RCT|R2"),
    ]
    assert lines[0][0] == dt.datetime(2025, 2, 1) and lines[0][1] == "发票"
    assert ws.column_dimensions["K"].hidden
    labels = {r[3].value: r[7].value for r in ws.iter_rows() if r[3].value}
    assert labels["期初余额（2025-01-31）"] == 10000
    assert labels["期末余额（2025-03-31）"] == 8000 and labels["= 期末余额"] == 8000
    # the closing balance in capital numerals, beside the figure and in the confirmation block
    words = [r for r in ws.iter_rows() if r[3].value == "大写"][0]
    assert words[4].value == "人民币捌仟元整"
    assert any(r[0].value == "截至 2025-03-31，本公司欠贵公司余额为 CNY 8,000.00（大写：人民币捌仟元整）"
               for r in ws.iter_rows())
    assert ws[[r for r in ws.iter_rows() if r[3].value == "= 期末余额"][0][3].coordinate].data_type == "s"  # text, not a formula
    [dv] = ws.data_validations.dataValidation
    assert dv.formula1 == '"是,否"'
    first = [r for r in ws.iter_rows() if r[KEY_COL - 1].value == "INV|I2"][0][0].row
    assert ws.cell(first, DISPUTE_COL).coordinate in dv.sqref and ws.cell(first, REASON_COL).value is None
    assert set(NAMES.values()) <= set(wb.defined_names)
    confirmed = wb.defined_names[NAMES["confirmed"]].attr_text.split("!")[1].replace("$", "")
    assert confirmed in dv.sqref and ws[confirmed].value is None
    reply = read_reply(path)  # an unanswered statement reads back cleanly
    assert (reply.statement_id, reply.customer_id, reply.confirmed, reply.disputed) == ("ST-C1-20250201-20250331", "C1", None, ())
    assert reply.closing == {"CNY": "8000.00"}


def test_english_statement_and_text_that_looks_like_a_formula(tmp_path):
    ledger, settings = loaded(book(tmp_path))
    # a description typed as '=HYPERLINK... (text in the ledger) must stay text on the statement
    ledger.invoices.loc[ledger.invoices.invoice_no == "I6", "description"] = '=HYPERLINK("http://x","click")'
    st = by_customer(build_statements(ledger, settings, D(2025, 1, 1), D(2025, 3, 31), lang="en"))["C2"]
    ws = openpyxl.load_workbook(write_statement_xlsx(st, tmp_path / "c2.xlsx")).worksheets[0]
    cell = [r[3] for r in ws.iter_rows() if r[2].value == "I6"][0]
    assert cell.value == '=HYPERLINK("http://x","click")' and cell.data_type == "s"
    assert [c.value for c in ws[8]][:8] == ["Date", "Type", "Document", "Description", "Due date", "Invoiced",
                                            "Paid/credited", "Balance"]


# ----------------------------------------------------------------------------- the PDF


def _pdf_checks(data: bytes, tmp_path: Path, name: str) -> str:
    from PIL import Image

    pdf = tmp_path / f"{name}.pdf"
    pdf.write_bytes(data)
    assert data.startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(tmp_path / name)], check=True)
    png = next(tmp_path.glob(f"{name}*.png"))
    gray = Image.open(png).convert("L")
    dark = sum(gray.histogram()[:128])
    assert dark > 2000, "page 1 is (nearly) blank"
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


needs_poppler = pytest.mark.skipif(not shutil.which("pdftoppm") or not shutil.which("pdftotext"),
                                   reason="poppler-utils (pdftoppm, pdftotext) is not installed")


@needs_poppler
def test_pdf_renders_chinese_and_the_closing_balance(ledger_settings, tmp_path):
    if pdf_mod.find_cjk_font() is None:
        pytest.skip("no CJK font: install fonts-noto-cjk")
    ledger, settings = ledger_settings
    sts = by_customer(build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31)))
    text = _pdf_checks(pdf_mod.render_statement_pdf(sts["C1"], engine="reportlab"), tmp_path, "c1")
    assert NAME_C1 in text and "杭州示例科技有限公司" in text
    assert "8,000.00" in text and "ST-C1-20250201-20250331" in text and "期末余额" in text
    assert "大写：人民币捌仟元整" in text and "（大写：人民币捌仟元整）" in text
    assert text.count("第 1 页，共 1 页") == 1  # the footer
    text = _pdf_checks(pdf_mod.render_statement_pdf(sts["C2"]), tmp_path, "c2")
    assert "Harbor Logistics Ltd" in text and "-3,300.00" in text and "1,234.56" in text and "61-90" in text
    name, data, mime = statement_attachment(ledger, settings, "C1", D(2025, 3, 31), period_from=D(2025, 2, 1))
    assert (name, mime) == ("ST-C1-20250201-20250331.pdf", "application/pdf") and data.startswith(b"%PDF")
    name, data, mime = statement_attachment(ledger, settings, "C2", D(2025, 3, 31), fmt="xlsx")
    assert name == "ST-C2-20250301-20250331.xlsx" and data[:2] == b"PK" and mime.endswith("spreadsheetml.sheet")
    with pytest.raises(KeyError):
        statement_attachment(ledger, settings, "C9", D(2025, 3, 31))


@needs_poppler
def test_pdf_draws_any_text_as_typed_and_cuts_what_its_column_cannot_hold(ledger_settings, tmp_path):
    """A customer name or description holding PDF syntax, backslashes, brackets or control
    characters is drawn as text, with no operator of its own; a description wider than its
    column ends in an ellipsis."""
    if pdf_mod.find_cjk_font() is None:
        pytest.skip("no CJK font: install fonts-noto-cjk")
    ledger, settings = ledger_settings
    st = by_customer(build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31), lang="zh"))["C1"]
    hostile = "A) Tj ET BT /F9 99 Tf (B\\ \\(x\\) <4142> % endobj"
    sec = st.sections[0]
    first = dataclasses.replace(sec.lines[0], description="(摘要)\\" + "长" * 40)
    st = dataclasses.replace(st, customer_name=hostile + "\t",
                             sections=(dataclasses.replace(sec, lines=(first, *sec.lines[1:])), *st.sections[1:]))
    data = pdf_mod.render_statement_pdf(st, engine="reportlab")
    text = _pdf_checks(data, tmp_path, "hostile")
    assert hostile in text and NAME_C1 not in text
    assert "(摘要)\\长长" in text and "长…" in text and "长" * 40 not in text
    assert "8,000.00" in text
    faces = subprocess.run(["pdffonts", str(tmp_path / "hostile.pdf")], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert len(faces) == 2 and all("yes yes yes" in line for line in faces)  # no font the text named


@needs_poppler
@pytest.mark.libreoffice
@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice (soffice) is not installed")
def test_pdf_through_libreoffice(ledger_settings, tmp_path):
    ledger, settings = ledger_settings
    st = by_customer(build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31)))["C1"]
    text = _pdf_checks(pdf_mod.render_statement_pdf(st, engine="libreoffice"), tmp_path, "lo")
    assert NAME_C1 in text and "8,000.00" in text


def test_no_pdf_engine_is_a_clear_error(ledger_settings, monkeypatch):
    ledger, settings = ledger_settings
    st = build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31))[0]
    monkeypatch.setattr(pdf_mod, "find_cjk_font", lambda: None)
    monkeypatch.setattr(pdf_mod, "find_soffice", lambda: None)
    with pytest.raises(pdf_mod.PdfError, match="fonts-noto-cjk.*LibreOffice"):
        pdf_mod.render_statement_pdf(st)


# ----------------------------------------------------------------------------- the command


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="xl-ar")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.handler(args)


def test_cli_writes_one_pair_of_files_per_customer(tmp_path, capsys):
    path = book(tmp_path)
    out = tmp_path / "out"
    assert cli("statements", str(path), "--from", "2025-02-01", "--to", "2025-03-31", "--out", str(out),
               "--format", "xlsx", "--json") == 0
    got = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in out.iterdir()) == ["ST-C1-20250201-20250331.xlsx", "ST-C2-20250201-20250331.xlsx"]
    assert [(s["customer_id"], [(x["currency"], x["opening"], x["closing"]) for x in s["sections"]])
            for s in got["statements"]] == [("C1", [("CNY", "10000.00", "8000.00")]),
                                            ("C2", [("CNY", "5700.00", "-3300.00"), ("USD", "0.00", "1234.56")])]
    assert got["issues"] == []


def test_cli_customer_filter(tmp_path, capsys):
    path = book(tmp_path)
    out = tmp_path / "only-c2"
    assert cli("statements", str(path), "--from", "2025-02-01", "--to", "2025-03-31", "--customer", "C2",
               "--out", str(out)) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["ST-C2-20250201-20250331.pdf", "ST-C2-20250201-20250331.xlsx"] if pdf_mod.find_cjk_font() or pdf_mod.find_soffice() \
        else names == ["ST-C2-20250201-20250331.xlsx"]
    capsys.readouterr()
    assert cli("statements", str(path), "--from", "2025-02-01", "--to", "2025-03-31", "--customer", "C9",
               "--out", str(tmp_path / "none"), "--json") == 1
    got = json.loads(capsys.readouterr().out)
    assert got["issues"] == [{"where": "--customer", "message": 'customer "C9" is not on the ledger', "severity": "error"}]
    assert not (tmp_path / "none").exists()


# ----------------------------------------------------------------------------- documents in bulk


@needs_poppler
def test_a_batch_font_draws_the_same_text_as_a_cut_of_its_own(ledger_settings, tmp_path):
    if pdf_mod.find_cjk_font() is None:
        pytest.skip("no CJK font: install fonts-noto-cjk")
    ledger, settings = ledger_settings
    sts = by_customer(build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31), lang="zh"))
    with fonts.BatchFonts([sts["C1"]], "zh") as batch:
        assert NAME_C1[0] in batch.chars and batch.fonts_for(fonts.statement_chars(sts["C1"], "zh")) is not None
        alone = _pdf_checks(pdf_mod.render_statement_pdf(sts["C1"], engine="reportlab"), tmp_path, "alone")
        batched = pdf_mod.render_statement_pdf(sts["C1"], engine="reportlab", batch=batch)
        assert _pdf_checks(batched, tmp_path, "batched") == alone
        assert NAME_C1 in alone and "8,000.00" in alone
        # C2's name has letters outside the batch: it is drawn from a cut of its own, not as boxes
        other = dataclasses.replace(sts["C2"], customer_name="鼎盛医疗器械有限公司")
        assert batch.fonts_for(fonts.statement_chars(other, "zh")) is None
        text = _pdf_checks(pdf_mod.render_statement_pdf(other, engine="reportlab", batch=batch), tmp_path, "other")
        assert "鼎盛医疗器械有限公司" in text


def test_one_source_gives_the_same_statements_as_one_run_per_customer(ledger_settings):
    ledger, settings = ledger_settings
    result = refresh(ledger, settings, D(2025, 3, 31))
    source = StatementSource(ledger, settings, D(2025, 3, 31), result)
    for cid in ("C1", "C2", "C9"):
        alone = build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31), customers=[cid], include_quiet=True)
        assert source.statements(D(2025, 2, 1), customers=[cid], include_quiet=True) == alone
    assert source.statements(D(2025, 2, 1)) == build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31))
    name, data, _ = statement_attachment(ledger, settings, "C1", D(2025, 3, 31), fmt="xlsx", source=source)
    assert name == "ST-C1-20250301-20250331.xlsx" and data[:2] == b"PK"
    with pytest.raises(KeyError):
        statement_attachment(ledger, settings, "C9", D(2025, 3, 31), source=source)


@needs_poppler
def test_a_batch_font_holds_every_character_a_statement_draws(ledger_settings, tmp_path):
    """The capital numerals (捌仟…整), the confirmation lines and their full-width punctuation are
    composed by the PDF, not copied from the statement: the batch cut must hold them too, or the
    statement falls back to a cut of its own (about a second per PDF)."""
    if pdf_mod.find_cjk_font() is None:
        pytest.skip("no CJK font: install fonts-noto-cjk")
    ledger, settings = ledger_settings
    sts = build_statements(ledger, settings, D(2025, 2, 1), D(2025, 3, 31))
    with fonts.BatchFonts(sts) as batch:
        for st in sts:
            for lang in ("zh", "en"):
                small = batch.fonts_for(fonts.statement_chars(st, lang))
                assert small is not None
                data = pdf_mod._render_pages(st, lang, small, strict=True)
                assert data is not None, (st.customer_id, lang)  # no glyph missing from the cut
                if st.customer_id == "C1" and lang == "zh":
                    text = _pdf_checks(data, tmp_path, "c1-batch")
                    assert "（大写：人民币捌仟元整）" in text and "8,000.00" in text


def test_customers_whose_ids_differ_only_in_case_get_a_file_each(tmp_path, capsys):
    path = book(tmp_path)
    wb = openpyxl.load_workbook(path)
    wb["Customers"].append(["c1", "Lower Case Co", "B", "", "", "", 30, 1000.0, "", "en"])
    wb["Invoices"].append(["I9", "c1", dt.datetime(2025, 3, 1), dt.datetime(2025, 3, 31), 50.0, "CNY", "", "", "", ""])
    wb.save(path)
    out = tmp_path / "out"
    assert cli("statements", str(path), "--from", "2025-02-01", "--to", "2025-03-31", "--out", str(out),
               "--format", "xlsx", "--quiet") in (0, 1)
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 3 and len({n.casefold() for n in names}) == 3, names
    assert "ST-C2-20250201-20250331.xlsx" in names  # a customer alone keeps its plain name
    assert sum(n.startswith(("ST-C1-", "ST-c1-")) and len(n) == len("ST-C1-12345678-20250201-20250331.xlsx")
               for n in names) == 2
