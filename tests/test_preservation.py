"""A refresh keeps everything a user's workbook had: chart, picture, comment, defined name,
conditional formats, VBA project and ribbon stay byte-identical; LibreOffice reads the result."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.drawing.image import Image
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import PatternFill
from openpyxl.workbook.defined_name import DefinedName
from PIL import Image as PILImage

from test_refresh import AS_OF, CUSTOMERS, INVOICES, RECEIPTS
from xl_ar.book.newbook import build_ledger_workbook
from xl_ar.cli import main
from xl_ar.template.ovba import Module, build_vba_project

RIBBON = b"""<?xml version="1.0" encoding="UTF-8"?>
<customUI xmlns="http://schemas.microsoft.com/office/2009/07/customui"><ribbon><tabs>
<tab id="mine" label="My tab"><group id="g" label="g"><button id="b" label="Go" onAction="Go"/></group></tab>
</tabs></ribbon></customUI>"""


def rich_workbook(path: Path, tmp: Path) -> Path:
    """A ledger with the things openpyxl round trips would lose, plus a macro project and ribbon."""
    wb = build_ledger_workbook("en", {"Customers": CUSTOMERS, "Invoices": INVOICES, "Receipts": RECEIPTS})
    inv = wb["Invoices"]
    chart = BarChart()
    chart.add_data(Reference(inv, min_col=5, min_row=1, max_row=8), titles_from_data=True)
    summary = wb.create_sheet("Summary")
    summary["A1"] = "My notes"
    summary.add_chart(chart, "B2")
    png = tmp / "logo.png"
    PILImage.new("RGB", (40, 20), (200, 30, 30)).save(png)
    summary.add_image(Image(str(png)), "H2")
    inv["H2"].comment = Comment("check with sales", "accountant")
    inv.conditional_formatting.add("E2:E100", CellIsRule(operator="greaterThan", formula=["10000"],
                                                         fill=PatternFill("solid", fgColor="FFC7CE")))
    wb.defined_names["BigAmounts"] = DefinedName("BigAmounts", attr_text="Invoices!$E$2:$E$100")
    plain = tmp / "plain.xlsx"
    wb.save(plain)
    vba = build_vba_project([Module("ThisWorkbook", "", "document"),
                             Module("Mine", 'Public Sub Go(control As IRibbonControl)\r\n    MsgBox "hi"\r\nEnd Sub\r\n', "standard")])
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
                data = data.replace(b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdVBA" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>')
            elif item.filename == "_rels/.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdUI" Type="http://schemas.microsoft.com/office/2007/relationships/ui/extensibility" Target="customUI/customUI14.xml"/></Relationships>')
            dst.writestr(item, data)
        dst.writestr("xl/vbaProject.bin", vba)
        dst.writestr("customUI/customUI14.xml", RIBBON)
    return path


def raw_members(path: Path) -> dict[str, bytes]:
    """Each member's compressed bytes as stored (local header + data), to prove no recompression."""
    out = {}
    blob = path.read_bytes()
    with zipfile.ZipFile(path) as z:
        for i in z.infolist():
            n_len = int.from_bytes(blob[i.header_offset + 26:i.header_offset + 28], "little")
            x_len = int.from_bytes(blob[i.header_offset + 28:i.header_offset + 30], "little")
            start = i.header_offset + 30 + n_len + x_len
            out[i.filename] = blob[start:start + i.compress_size]
    return out


def test_refresh_keeps_every_part_it_does_not_own(tmp_path):
    book = rich_workbook(tmp_path / "ledger.xlsm", tmp_path)
    before = raw_members(book)
    for kind in ("xl/charts/chart1.xml", "xl/media/image1.png", "xl/vbaProject.bin", "customUI/customUI14.xml"):
        assert kind in before
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    after = raw_members(book)
    owned = {"xl/worksheets/sheet3.xml", "xl/styles.xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
             "[Content_Types].xml", "xl/tables/table3.xml", "docProps/app.xml",
             "xl/worksheets/sheet2.xml", "xl/tables/table2.xml"}
    for name, data in before.items():
        if name not in owned:
            assert after.get(name) == data, f"{name} changed"
    added = set(after) - set(before)  # Aging, Collections, Warnings, Dashboard and its two charts
    assert {"xl/worksheets/sheet8.xml", "xl/worksheets/sheet11.xml"} <= added
    assert all(n.startswith(("xl/worksheets/", "xl/charts/", "xl/drawings/")) for n in added), added
    assert sum(n.startswith("xl/charts/chart") for n in added) == 2
    with zipfile.ZipFile(book) as z:
        ct = z.read("[Content_Types].xml")
        wbxml = z.read("xl/workbook.xml")
        sheet = z.read("xl/worksheets/sheet3.xml")
    assert b"macroEnabled" in ct and b"vbaProject" in ct
    assert b"BigAmounts" in wbxml  # the defined name
    assert b"<conditionalFormatting" in sheet and b"<legacyDrawing" in sheet  # CF and the comment's drawing


def test_refresh_keeps_macros_readable(tmp_path):
    from oletools.olevba import VBA_Parser

    book = rich_workbook(tmp_path / "ledger.xlsm", tmp_path)
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    parser = VBA_Parser(str(book))
    sources = {name: code for _, _, name, code in parser.extract_macros()}
    parser.close()
    assert 'MsgBox "hi"' in sources["Mine.bas"]


def _libreoffice_csv(book: Path, out: Path) -> dict[str, list[list[str]]]:
    """Every sheet of a workbook as CSV, exported by LibreOffice headless."""
    profile = out / "profile"
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore", "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1", "--outdir", str(out), str(book)],
        check=True, capture_output=True, timeout=180)
    sheets = {}
    for f in out.glob(f"{book.stem}-*.csv"):
        sheets[f.stem[len(book.stem) + 1:]] = list(csv.reader(io.StringIO(f.read_text(encoding="utf-8"))))
    return sheets


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed (make test installs it)")
def test_libreoffice_opens_the_refreshed_workbook(tmp_path):
    book = rich_workbook(tmp_path / "ledger.xlsm", tmp_path)
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    sheets = _libreoffice_csv(book, tmp_path / "lo")
    inv = sheets["Invoices"]
    assert inv[0][10:16] == ["Paid", "Open", "DaysLate", "Bucket", "LateFee", "Stage"]
    # raw values, not as formatted ("save cell contents as shown" is off)
    assert inv[1][0] == "I1" and inv[1][10:15] == ["10000", "0", "33", "", "159"]
    assert inv[2][10:15] == ["12000", "8000", "28", "1-30", "120"]
    assert inv[6][10:15] == ["0", "1234.56", "0", "Not due", "0"]
    aging = sheets["Aging"]
    assert aging[0][0] == "Aging as of 2025-03-31 (by due date)"
    c1 = next(r for r in aging if r[0] == "C1")
    assert c1[:9] == ["C1", "上海华信贸易有限公司", "CNY", "0", "8000", "0", "0", "0", "8000"]
    assert any(r[:3] == ["Ties out", "", "yes"] for r in aging)
    assert sheets["Summary"][0][0] == "My notes"
