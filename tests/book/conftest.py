"""Workbooks written by real writers (openpyxl, zipfile), built at test time."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.table import Table, TableStyleInfo

HEADERS = ["InvoiceNo", "Customer", "InvoiceDate", "DueDate", "Amount", "Currency"]
N_INVOICES = 20
VBA_BYTES = bytes(range(256)) * 40  # any bytes: the package must carry them untouched
CUSTOM_UI = (
    '<customUI xmlns="http://schemas.microsoft.com/office/2009/07/customui"><ribbon><tabs>'
    '<tab id="xlar" label="AR 应收"><group id="g" label="Run"><button id="refresh" label="Refresh" '
    'onAction="OnRefresh"/></group></tab></tabs></ribbon></customUI>'
).encode()


def invoice_rows() -> list[list]:
    """The Invoices sheet's data rows (header excluded)."""
    start = date(2024, 1, 1)
    return [
        [f"INV-{i:04d}", ["ACME", "华为", "Beta & Co"][i % 3], start + timedelta(days=7 * i),
         start + timedelta(days=7 * i + 30), round(100 + i * 12.35, 2), ["EUR", "CNY"][i % 2]]
        for i in range(1, N_INVOICES + 1)
    ]


def _ledger(wb: openpyxl.Workbook) -> None:
    ws = wb.active
    ws.title = "Invoices"
    ws.append(HEADERS)
    for row in invoice_rows():
        ws.append(row)
    for r in range(2, N_INVOICES + 2):
        ws.cell(r, 3).number_format = "yyyy-mm-dd"
        ws.cell(r, 4).number_format = "yyyy-mm-dd"
    cust = wb.create_sheet("Customers")
    cust.append(["CustomerID", "Name"])
    cust.append(["ACME", "Acme Corp"])
    cust.append(["华为", "华为技术有限公司"])


@pytest.fixture
def plain_book(tmp_path: Path) -> Path:
    """Invoices (A1:F21, no table) and Customers, as openpyxl writes them."""
    wb = openpyxl.Workbook()
    _ledger(wb)
    path = tmp_path / "plain.xlsx"
    wb.save(path)
    return path


@pytest.fixture
def filter_book(tmp_path: Path) -> Path:
    """Like plain_book with a sheet-level autofilter over the ledger."""
    wb = openpyxl.Workbook()
    _ledger(wb)
    wb["Invoices"].auto_filter.ref = f"A1:F{N_INVOICES + 1}"
    path = tmp_path / "filter.xlsx"
    wb.save(path)
    return path


def _table_workbook() -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    _ledger(wb)
    table = Table(displayName="tblInvoices", ref=f"A1:F{N_INVOICES + 1}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium9", showRowStripes=True)
    wb["Invoices"].add_table(table)
    return wb


@pytest.fixture
def table_book(tmp_path: Path) -> Path:
    """The ledger as an Excel Table ``tblInvoices`` (A1:F21)."""
    path = tmp_path / "table.xlsx"
    _table_workbook().save(path)
    return path


def _png() -> bytes:
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.new("RGB", (4, 3), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def rich_book(tmp_path: Path) -> Path:
    """An .xlsm with a table, chart, picture, comment, defined name, conditional format,
    ``xl/vbaProject.bin`` and a ``customUI/customUI14.xml`` ribbon."""
    from openpyxl.drawing.image import Image

    wb = _table_workbook()
    ws = wb["Invoices"]
    ws["B2"].comment = Comment("Key account", "AR team")
    ws.conditional_formatting.add(
        f"E2:E{N_INVOICES + 1}", CellIsRule(operator="greaterThan", formula=["300"], fill=PatternFill("solid", fgColor="FFC7CE"))
    )
    wb.defined_names["AmountTotal"] = DefinedName("AmountTotal", attr_text=f"Invoices!$E$2:$E${N_INVOICES + 1}")
    dash = wb.create_sheet("Dashboard")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=5, min_row=1, max_row=N_INVOICES + 1), titles_from_data=True)
    dash.add_chart(chart, "B2")
    dash.add_image(Image(io.BytesIO(_png())), "J2")
    plain = tmp_path / "rich_plain.xlsx"
    wb.save(plain)
    path = tmp_path / "rich.xlsm"
    add_vba_and_ribbon(plain, path)
    return path


def add_vba_and_ribbon(src: Path, dest: Path) -> None:
    """Rewrite ``src`` as a macro-enabled book with a VBA project part and a 2009 ribbon part."""
    with zipfile.ZipFile(src) as zin:
        parts = {i.filename: zin.read(i) for i in zin.infolist()}
    ct = parts["[Content_Types].xml"].decode()
    ct = ct.replace("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    "application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    ct = ct.replace("</Types>", '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')
    parts["[Content_Types].xml"] = ct.encode()
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    rels = rels.replace("</Relationships>", '<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/'
                        'relationships/vbaProject" Target="vbaProject.bin"/></Relationships>')
    parts["xl/_rels/workbook.xml.rels"] = rels.encode()
    root = parts["_rels/.rels"].decode()
    root = root.replace("</Relationships>", '<Relationship Id="rIdUi" Type="http://schemas.microsoft.com/office/2007/'
                        'relationships/ui/extensibility" Target="customUI/customUI14.xml"/></Relationships>')
    parts["_rels/.rels"] = root.encode()
    parts["xl/vbaProject.bin"] = VBA_BYTES
    parts["customUI/customUI14.xml"] = CUSTOM_UI
    write_zip(dest, parts)


def write_zip(dest: Path, parts: dict[str, bytes], *, seekable: bool = True) -> None:
    """Write members in order, deflated; an unseekable target makes zipfile use data descriptors."""
    with open(dest, "wb") as f:
        target = f if seekable else _Unseekable(f)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in parts.items():
                z.writestr(zipfile.ZipInfo(name, date_time=(2024, 5, 6, 7, 8, 10)), data, zipfile.ZIP_DEFLATED)


class _Unseekable(io.RawIOBase):
    def __init__(self, f):
        self.f = f

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        return self.f.write(b)

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        raise OSError("unseekable")

    def flush(self) -> None:
        self.f.flush()


def zip_parts(path: Path) -> dict[str, bytes]:
    """Every member's uncompressed bytes, in zip order."""
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def raw_members(path: Path) -> dict[str, tuple]:
    """Every member's compressed bytes as stored, with CRC, sizes, date and method."""
    out = {}
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        for i in z.infolist():
            f.seek(i.header_offset)
            head = f.read(30)
            n, e = int.from_bytes(head[26:28], "little"), int.from_bytes(head[28:30], "little")
            f.seek(i.header_offset + 30 + n + e)
            out[i.filename] = (f.read(i.compress_size), i.CRC, i.file_size, i.date_time, i.compress_type)
    return out


def add_calc_chain(src: Path, dest: Path, cells: list[tuple[str, int]], formulas: dict[str, str]) -> None:
    """Copy ``src`` with formulas put into sheet1 cells and an ``xl/calcChain.xml`` listing them."""
    parts = zip_parts(src)
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, formula in formulas.items():
        sheet = re.sub(rf'<c r="{ref}"([^>]*?)(?:/>|>.*?</c>)', rf'<c r="{ref}"\1><f>{formula}</f><v>1</v></c>', sheet, count=1)
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    chain = "".join(f'<c r="{r}" i="{i}"/>' for r, i in cells)
    parts["xl/calcChain.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<calcChain xmlns="http://schemas.'
        f'openxmlformats.org/spreadsheetml/2006/main">{chain}</calcChain>'
    ).encode()
    ct = parts["[Content_Types].xml"].decode().replace(
        "</Types>", '<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.calcChain+xml"/></Types>')
    parts["[Content_Types].xml"] = ct.encode()
    rels = parts["xl/_rels/workbook.xml.rels"].decode().replace(
        "</Relationships>", '<Relationship Id="rIdCalc" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/calcChain" Target="calcChain.xml"/></Relationships>')
    parts["xl/_rels/workbook.xml.rels"] = rels.encode()
    write_zip(dest, parts)


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The helpers above, for test modules (pytest discourages importing from conftest)."""
    return SimpleNamespace(
        HEADERS=HEADERS, N=N_INVOICES, VBA=VBA_BYTES, invoice_rows=invoice_rows, raw_members=raw_members,
        zip_parts=zip_parts, write_zip=write_zip, add_calc_chain=add_calc_chain,
    )
