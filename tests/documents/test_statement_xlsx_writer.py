"""The statement workbook as ``statement_xlsx`` writes it: the same workbook, read back, as the
openpyxl builder it replaced (``statement_xlsx_reference``), on random statements; and what
openpyxl and LibreOffice read from it, to the cent."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings, strategies as st

from statement_xlsx_reference import statement_workbook
from xl_ar.documents.confirmations import read_reply
from xl_ar.documents.statement_xlsx import statement_xlsx_bytes, write_statement_xlsx
from xl_ar.documents.statements import (KEY_COL, MARKER_SHEET, NAMES, Statement, StatementLine, StatementSection)

D = dt.date

# Text a ledger may hold: CJK, a leading "=", control characters, a literal "_x0041_", spaces at the ends.
texts = st.one_of(
    st.sampled_from(["", "货款", "=HYPERLINK(\"http://x\",\"click\")", "a\x01b", "_x0041_", " lead", "tail ",
                     "Harbor & Co <ltd>", "数量不符\n第二行"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
days = st.dates(D(2024, 1, 1), D(2026, 12, 31))


@st.composite
def lines(draw, exp: int) -> StatementLine:
    kind = draw(st.sampled_from(["invoice", "credit", "receipt"]))
    amount = draw(st.integers(1, 10 ** 11))
    return StatementLine(
        date=draw(days), kind=kind, doc_no=draw(texts.filter(bool) | st.just("I1")), description=draw(texts),
        reference=draw(texts), due_date=draw(st.none() | days) if kind == "invoice" else None,
        debit_minor=amount if kind == "invoice" else 0, credit_minor=0 if kind == "invoice" else amount,
        balance_minor=draw(st.integers(-10 ** 11, 10 ** 11)), row=draw(st.integers(2, 1_048_576)),
        disputed=draw(st.booleans()))


@st.composite
def sections(draw, currency: str) -> StatementSection:
    exp = {"JPY": 0, "KWD": 3}.get(currency, 2)
    big = st.integers(-10 ** 12, 10 ** 12)
    return StatementSection(
        currency=currency, exp=exp, opening_minor=draw(big), lines=tuple(draw(st.lists(lines(exp), max_size=6))),
        closing_minor=draw(big), ledger_minor=draw(big), aging_minor=tuple(draw(st.lists(big, min_size=5, max_size=5))),
        open_minor=draw(big), unapplied_minor=draw(big), disputed_minor=draw(st.sampled_from([0, 1, 123456])))


@st.composite
def statements(draw) -> Statement:
    currencies = draw(st.lists(st.sampled_from(["CNY", "USD", "JPY", "KWD"]), min_size=1, max_size=3, unique=True))
    start = draw(days)
    return Statement(
        statement_id=f"ST-C1-{start:%Y%m%d}-{start:%Y%m%d}", customer_id=draw(texts.filter(bool)),
        customer_name=draw(texts), contact="", email="", company_en=draw(texts), company_zh=draw(texts),
        period_from=start, period_to=start + dt.timedelta(days=draw(st.integers(0, 90))),
        lang=draw(st.sampled_from(["zh", "en"])), aging_edges=(30, 60, 90, 180), aging_basis=draw(st.sampled_from(["due", "invoice"])),
        sections=tuple(draw(sections(c)) for c in currencies))


def _rgb(color) -> str:
    return (color.rgb or "")[-6:] if color is not None and isinstance(color.rgb, str) else ""


def _side(side) -> tuple:
    return side.style, _rgb(side.color) if side.style else ""


def _look(data: bytes) -> dict:
    """What a reader sees of a statement workbook: every cell's value (as calamine decodes it:
    openpyxl leaves ``_x005F_`` undecoded in inline strings), type, number format, weight and
    fill; merged ranges, the data validation, names, hidden column, sheet states; and the font
    size, borders and alignment of those cells, row heights, column widths, the print setup."""
    from python_calamine import CalamineWorkbook

    wb = openpyxl.load_workbook(io.BytesIO(data))
    cal = CalamineWorkbook.from_filelike(io.BytesIO(data))
    out = {"values": {name: cal.get_sheet_by_name(name).to_python() for name in cal.sheet_names},
           "sheets": [(ws.title, ws.sheet_state) for ws in wb.worksheets],
           "names": {n: wb.defined_names[n].attr_text for n in NAMES.values() if n in wb.defined_names}}
    for ws in wb.worksheets:
        cells, looks = {}, {}
        for row in ws.iter_rows():
            for c in row:
                fill = _rgb(c.fill.fgColor) if c.fill is not None and c.fill.fill_type == "solid" else ""
                if c.value is not None:
                    cells[c.coordinate] = (c.data_type, c.number_format, bool(c.font.b), fill)
                elif fill:
                    cells[c.coordinate] = (None, fill, c.number_format if c.number_format != "General" else "")
                if c.coordinate in cells:
                    b, a = c.border, c.alignment
                    looks[c.coordinate] = (c.font.sz or 11.0,  # the reference's bold font has no size: 11
                                           tuple(_side(x) for x in (b.left, b.right, b.top, b.bottom)),
                                           (a.horizontal, a.vertical, bool(a.wrap_text)))
        ps = ws.page_setup
        out[ws.title] = {
            "cells": cells, "merged": sorted(str(m) for m in ws.merged_cells.ranges),
            "dv": sorted((dv.type, dv.formula1, tuple(sorted(str(x) for x in dv.sqref.ranges)))
                         for dv in ws.data_validations.dataValidation),
            "hidden": sorted(k for k, d in ws.column_dimensions.items() if d.hidden),
            "looks": looks,
            "heights": {r: d.height for r, d in ws.row_dimensions.items() if d.height},
            # in whole characters: the writer stores a width as Excel does for one typed in its UI
            # (12 -> 12.7109375, the 5 pixels of padding added; openpyxl stores 12, shown as 11.29)
            "widths": {k: int(d.width) for k, d in ws.column_dimensions.items() if d.customWidth and not d.hidden},
            "page": (ps.orientation, ps.fitToWidth, ps.fitToHeight, ws.sheet_properties.pageSetUpPr is not None
                     and ws.sheet_properties.pageSetUpPr.fitToPage, ws.print_area),
        }
    return out


@settings(max_examples=40, deadline=None)
@given(statements(), st.sampled_from([None, "zh", "en"]))
def test_the_fast_writer_gives_the_reference_workbook(statement, lang):
    buf = io.BytesIO()
    statement_workbook(statement, lang).save(buf)
    assert _look(statement_xlsx_bytes(statement, lang)) == _look(buf.getvalue())


def _statement() -> Statement:
    """C1 for February 2025: two invoices (one in words), a credit note and a receipt; USD too."""
    cny = StatementSection("CNY", 2, 1_000_000, (
        StatementLine(D(2025, 2, 1), "invoice", "I2", "货款 =SUM(A1)", "", D(2025, 3, 3), 2_000_000, 0, 3_000_000, 3, False),
        StatementLine(D(2025, 2, 9), "credit", "CN3", "退货\x01", "", None, 0, 300_001, 2_699_999, 4, False),
        StatementLine(D(2025, 2, 20), "receipt", "R1", "", "I2", None, 0, 1_899_998, 800_001, 2, False),
    ), 800_001, 800_001, (800_001, 0, 0, 0, 0), 800_001, 0, 0)
    usd = StatementSection("USD", 2, 0, (
        StatementLine(D(2025, 2, 28), "invoice", "U1", "Freight", "", D(2025, 3, 30), 123_456, 0, 123_456, 9, True),
    ), 123_456, 123_456, (123_456, 0, 0, 0, 0), 123_456, 0, 123_456)
    return Statement("ST-C1-20250201-20250228", "C1", "杭州甲方有限公司", "", "", "Example Ltd", "示例科技有限公司",
                     D(2025, 2, 1), D(2025, 2, 28), "zh", (30, 60, 90, 180), "due", (cny, usd))


def test_openpyxl_reads_the_values_to_the_cent(tmp_path):
    path = write_statement_xlsx(_statement(), tmp_path / "st.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["对账单", MARKER_SHEET] and wb[MARKER_SHEET].sheet_state == "veryHidden"
    ws = wb["对账单"]
    rows = {r[KEY_COL - 1].value: r for r in ws.iter_rows() if isinstance(r[KEY_COL - 1].value, str) and "|" in r[KEY_COL - 1].value}
    i2 = rows["INV|I2"]
    assert (i2[0].value, i2[0].number_format, i2[4].value) == (dt.datetime(2025, 2, 1), "yyyy-mm-dd", dt.datetime(2025, 3, 3))
    assert (i2[3].value, i2[3].data_type, i2[5].value, i2[7].value) == ("货款 =SUM(A1)", "s", 20000.0, 30000.0)
    assert rows["CRN|CN3"][3].value == "退货_x0001_"  # the control character stored as Excel stores it
    assert (rows["CRN|CN3"][6].value, rows["CRN|CN3"][7].value) == (3000.01, 26999.99)
    assert (rows["RCT|R1"][6].value, rows["RCT|R1"][7].value) == (18999.98, 8000.01)
    assert rows["INV|U1"][5].value == 1234.56 and rows["INV|U1"][5].number_format == "#,##0.00;-#,##0.00"
    words = {r[3].value: r[4].value for r in ws.iter_rows() if r[3].value == "大写"}
    assert words == {"大写": "人民币捌仟元零壹分"}
    reply = read_reply(path)
    assert reply.closing == {"CNY": "8000.01", "USD": "1234.56"} and reply.confirmed is None


def _soffice(src: Path, fmt: str, out: Path, tmp_path: Path) -> Path:
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", fmt,
                    "--outdir", str(out), str(src)], check=True, capture_output=True, timeout=180)
    return out / f"{src.stem}.{fmt.split(':')[0]}"


@pytest.mark.libreoffice
@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice (soffice) is not installed")
def test_libreoffice_reads_the_values_to_the_cent_and_a_resave_still_imports(tmp_path):
    path = write_statement_xlsx(_statement(), tmp_path / "st.xlsx")
    # CSV of the first sheet as LibreOffice shows it (UTF-8): formatted amounts and dates
    shown = _soffice(path, 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true', tmp_path / "csv", tmp_path)
    grid = list(csv.reader(io.StringIO(shown.read_text("utf-8"))))
    by_key = {r[KEY_COL - 1]: r for r in grid if len(r) >= KEY_COL and "|" in r[KEY_COL - 1]}
    assert by_key["INV|I2"][:8] == ["2025-02-01", "发票", "I2", "货款 =SUM(A1)", "2025-03-03", "20,000.00", "", "30,000.00"]
    assert by_key["CRN|CN3"][6:8] == ["3,000.01", "26,999.99"]
    assert by_key["RCT|R1"][6:8] == ["18,999.98", "8,000.01"]
    assert by_key["INV|U1"][5] == "1,234.56"
    assert ["", "", "", "大写", "人民币捌仟元零壹分"] in [r[:5] for r in grid]
    # re-saved as .xlsx by LibreOffice: the values, the names and the marker survive
    again = _soffice(path, "xlsx", tmp_path / "lo", tmp_path)
    ws = openpyxl.load_workbook(again)["对账单"]
    rows = {r[KEY_COL - 1].value: r for r in ws.iter_rows() if isinstance(r[KEY_COL - 1].value, str) and "|" in r[KEY_COL - 1].value}
    assert (rows["INV|I2"][0].value, rows["INV|I2"][5].value, rows["RCT|R1"][7].value) == (dt.datetime(2025, 2, 1), 20000, 8000.01)
    reply = read_reply(again)
    assert (reply.statement_id, reply.customer_id, reply.closing) == ("ST-C1-20250201-20250228", "C1",
                                                                      {"CNY": "8000.01", "USD": "1234.56"})


def test_the_same_statement_gives_the_same_bytes_at_another_time():
    import time

    first = statement_xlsx_bytes(_statement(), "zh")
    time.sleep(1.1)  # the writer's clock moves on a second: its default "created" would differ
    assert statement_xlsx_bytes(_statement(), "zh") == first
    wb = openpyxl.load_workbook(io.BytesIO(first))
    assert wb.properties.created == dt.datetime(2025, 2, 28)  # the period's last day


def test_the_package_holds_the_standard_parts_deflated_with_fixed_dates():
    import zipfile

    with zipfile.ZipFile(io.BytesIO(statement_xlsx_bytes(_statement(), "en"))) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
        assert [i.filename for i in infos] == [
            "[Content_Types].xml", "_rels/.rels", "docProps/app.xml", "docProps/core.xml", "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels", "xl/styles.xml", "xl/sharedStrings.xml", "xl/worksheets/sheet1.xml",
            "xl/worksheets/sheet2.xml"]
        assert {(i.compress_type, i.date_time) for i in infos} == {(zipfile.ZIP_DEFLATED, (1980, 1, 1, 0, 0, 0))}
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
        strings = zf.read("xl/sharedStrings.xml").decode()
    # ledger text is a shared string, escaped: never a formula, never markup
    assert "<f>" not in sheet and 't="str"' not in sheet and 't="inlineStr"' not in sheet
    assert "<t>货款 =SUM(A1)</t>" in strings and "<t>退货_x0001_</t>" in strings
