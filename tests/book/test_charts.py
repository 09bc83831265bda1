"""Native charts written as DrawingML parts, and the report sheets that carry them, checked by
independent readers: the zip itself, openpyxl, and LibreOffice rendering to PDF and PNG."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
from lxml import etree
from openpyxl.worksheet.table import Table

from xl_ar.book.charts import CT_CHART, CT_DRAWING, REL_CHART, REL_DRAWING, ChartSpec, Series, add_charts, cell_range
from xl_ar.book.package import WorkbookPackage
from xl_ar.book.reports import REPORT_SHEETS, report_sheets
from xl_ar.book.writer import Styles, owned_parts, put_owned
from xl_ar.core.kpis import KpiSettings, compute_kpis
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings
from xl_ar.core.stages import assign_stages
from xl_ar.core.worklist import collections_worklist, warning_table

sys.path.insert(0, str(Path(__file__).parents[1]))
from tables import d, ledger  # noqa: E402

SHEET = "仪表板"
LABELS = ["未到期", "1-30天", "31-60天", "61-90天", "90天以上"]
AMOUNTS = [158000.0, 32000.0, 15000.0, 0.0, 4000.0]
MONTHS = ["2025-01", "2025-02", "2025-03"]
RATIOS = [0.1667, 0.4211, 0.244]
NS = {"c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
      "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
      "ct": "http://schemas.openxmlformats.org/package/2006/content-types",
      "rel": "http://schemas.openxmlformats.org/package/2006/relationships"}


def specs(sheet: str = SHEET) -> list[ChartSpec]:
    bar = ChartSpec("bar", "账龄分布 Aging", LABELS, cell_range(sheet, 2, 1, 6, 1),
                    [Series("金额", cell_range(sheet, 2, 2, 6, 2), AMOUNTS, cell_range(sheet, 1, 2))], (4, 1, 11, 16),
                    "#,##0", "zh")
    line = ChartSpec("line", "逾期率趋势", MONTHS, cell_range(sheet, 9, 1, 11, 1),
                     [Series("逾期率", cell_range(sheet, 9, 2, 11, 2), RATIOS, color="C00000")], (4, 17, 11, 32), "0%", "zh")
    return [bar, line]


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A Dashboard-like sheet (Chinese name, an Excel table after the data) and a ledger sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(["账龄段", "金额"])
    for label, v in zip(LABELS, AMOUNTS):
        ws.append([label, v])
    ws.append([])
    ws.append(["月份", "逾期率"])
    for m, r in zip(MONTHS, RATIOS):
        ws.append([m, r])
    ws.add_table(Table(displayName="tblAging", ref="A1:B6"))
    wb.create_sheet("Invoices").append(["InvoiceNo", "Amount"])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    return path


def charted(src: Path, dest: Path, charts=None) -> Path:
    pkg = WorkbookPackage.open(src)
    add_charts(pkg, SHEET, specs() if charts is None else charts)
    pkg.save(dest)
    return dest


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def rels_of(p: dict[str, bytes], part: str) -> list[tuple[str, str, str]]:
    """(Id, Type, target part) of a part's relationships ("" = the package root)."""
    folder, _, name = part.rpartition("/")
    x = p.get(f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels")
    if x is None:
        return []
    out = []
    for r in etree.fromstring(x).iterfind("rel:Relationship", NS):
        if r.get("TargetMode") == "External":
            continue
        target = r.get("Target")
        bits = target.lstrip("/").split("/") if target.startswith("/") else folder.split("/") + target.split("/")
        resolved: list[str] = []
        for b in bits:
            if b == "..":
                resolved.pop()
            elif b and b != ".":
                resolved.append(b)
        out.append((r.get("Id"), r.get("Type"), "/".join(resolved)))
    return out


def overrides(p: dict[str, bytes]) -> dict[str, str]:
    root = etree.fromstring(p["[Content_Types].xml"])
    return {o.get("PartName").lstrip("/"): o.get("ContentType") for o in root.iterfind("ct:Override", NS)}


def assert_no_orphans(p: dict[str, bytes]) -> None:
    """Every part is reached by a relationship; every relationship and Override names a part."""
    reached = {"[Content_Types].xml"}
    for name in p:
        m = re.fullmatch(r"(?:(.*)/)?_rels/(.*)\.rels", name)
        if not m:
            continue
        source = f"{m.group(1)}/{m.group(2)}" if m.group(1) else m.group(2)
        for _, _, target in rels_of(p, source):
            assert target in p, f"{name} points at a missing {target}"
            reached.add(target)
    orphans = [n for n in p if not n.endswith(".rels") and n not in reached]
    assert not orphans, f"orphan parts: {orphans}"
    missing = [n for n in overrides(p) if n not in p]
    assert not missing, f"Overrides for missing parts: {missing}"


# ----------------------------------------------------------------------------- the parts


def test_charts_are_parts_with_content_types_and_relationships(book, tmp_path):
    out = parts(charted(book, tmp_path / "out.xlsx"))
    ct = overrides(out)
    assert ct["xl/charts/chart1.xml"] == ct["xl/charts/chart2.xml"] == CT_CHART
    assert ct["xl/drawings/drawing1.xml"] == CT_DRAWING
    sheet = "xl/worksheets/sheet1.xml"
    (rid, typ, drawing), = [r for r in rels_of(out, sheet) if r[1] == REL_DRAWING]
    assert drawing == "xl/drawings/drawing1.xml"
    assert sorted(t for _, ty, t in rels_of(out, drawing) if ty == REL_CHART) == ["xl/charts/chart1.xml", "xl/charts/chart2.xml"]
    # <drawing> sits after pageMargins and before tableParts (CT_Worksheet order)
    x = out[sheet].decode()
    assert re.search(r"<pageMargins[^>]*/><drawing [^>]*r:id=\"" + rid + r"\"/><tableParts", x), x[-400:]
    assert_no_orphans(out)


def test_chart_xml_caches_values_and_keeps_chinese_text(book, tmp_path):
    out = parts(charted(book, tmp_path / "out.xlsx"))
    bar = etree.fromstring(out["xl/charts/chart1.xml"])
    assert bar.find(".//c:barChart/c:grouping", NS).get("val") == "clustered"
    assert "".join(bar.find(".//c:title", NS).itertext()) == "账龄分布 Aging"
    assert bar.find(".//c:ser/c:val/c:numRef/c:f", NS).text == "'仪表板'!$B$2:$B$6"
    assert [float(v.text) for v in bar.iterfind(".//c:ser/c:val//c:pt/c:v", NS)] == AMOUNTS
    assert [v.text for v in bar.iterfind(".//c:ser/c:cat//c:pt/c:v", NS)] == LABELS
    assert "账龄分布".encode("utf-8") in out["xl/charts/chart1.xml"]
    line = etree.fromstring(out["xl/charts/chart2.xml"])
    assert line.find(".//c:lineChart", NS) is not None
    assert line.find(".//c:valAx/c:numFmt", NS).get("formatCode") == "0%"
    assert [float(v.text) for v in line.iterfind(".//c:val//c:pt/c:v", NS)] == RATIOS


def test_openpyxl_loads_the_book_and_reads_the_charts(book, tmp_path):
    wb = openpyxl.load_workbook(charted(book, tmp_path / "out.xlsx"))
    charts = wb[SHEET]._charts
    assert [type(c).__name__ for c in charts] == ["BarChart", "LineChart"]
    assert charts[0].title.tx.rich.p[0].r[0].t == "账龄分布 Aging"
    assert wb[SHEET]["B2"].value == 158000 and list(wb[SHEET].tables) == ["tblAging"]


# ----------------------------------------------------------------------------- re-running


def test_rewriting_the_same_charts_is_idempotent(book, tmp_path):
    first = charted(book, tmp_path / "first.xlsx")
    pkg = WorkbookPackage.open(first)
    assert add_charts(pkg, SHEET, specs()) == []
    second = tmp_path / "second.xlsx"
    pkg.save(second)
    assert second.read_bytes() == first.read_bytes()


def test_fewer_charts_replace_the_old_ones_without_orphans(book, tmp_path):
    first = charted(book, tmp_path / "first.xlsx")
    one = parts(charted(first, tmp_path / "one.xlsx", specs()[:1]))
    assert "xl/charts/chart2.xml" not in one and "xl/charts/chart2.xml" not in overrides(one)
    assert len(rels_of(one, "xl/drawings/drawing1.xml")) == 1
    assert_no_orphans(one)
    none = parts(charted(first, tmp_path / "none.xlsx", []))
    assert not [n for n in none if "drawing" in n or "chart" in n]
    assert b"<drawing" not in none["xl/worksheets/sheet1.xml"]
    assert not [r for r in rels_of(none, "xl/worksheets/sheet1.xml") if r[1] == REL_DRAWING]
    assert_no_orphans(none)
    # and back: the same bytes as the first time
    again = charted(tmp_path / "none.xlsx", tmp_path / "again.xlsx")
    assert parts(again) == parts(first)


def test_a_users_picture_in_the_drawing_is_kept(tmp_path):
    from openpyxl.drawing.image import Image
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.new("RGB", (4, 3), (200, 30, 30)).save(buf, format="PNG")
    wb = openpyxl.Workbook()
    wb.active.title = SHEET
    wb.active.add_image(Image(io.BytesIO(buf.getvalue())), "H40")
    src = tmp_path / "pic.xlsx"
    wb.save(src)
    out = parts(charted(src, tmp_path / "out.xlsx"))
    xdr = "{http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing}"
    drawing = etree.fromstring(out["xl/drawings/drawing1.xml"])
    assert [len(list(drawing.iter(xdr + t))) for t in ("pic", "graphicFrame")] == [1, 2]
    assert sorted(int(e.get("id")) for e in drawing.iter(xdr + "cNvPr")) == [1, 2, 3]  # ids stay unique
    images = [t for _, ty, t in rels_of(out, "xl/drawings/drawing1.xml") if ty.endswith("/image")]
    assert images and all(i in out for i in images)
    assert_no_orphans(out)
    pkg = WorkbookPackage.open(tmp_path / "out.xlsx")
    assert add_charts(pkg, SHEET, specs()) == []
    assert len(openpyxl.load_workbook(tmp_path / "out.xlsx")[SHEET]._images) == 1


def test_specs_are_checked():
    with pytest.raises(ValueError, match="one value per category"):
        ChartSpec("bar", "t", ["a", "b"], "'S'!$A$1:$A$2", [Series("s", "'S'!$B$1:$B$2", [1.0])], (0, 0, 5, 5))
    with pytest.raises(ValueError, match="bar"):
        ChartSpec("pie", "t", ["a"], "'S'!$A$1", [Series("s", "'S'!$B$1", [1.0])], (0, 0, 5, 5))  # type: ignore[arg-type]
    assert cell_range("it's", 1, 1, 3, 2) == "'it''s'!$A$1:$B$3"


# ----------------------------------------------------------------------------- the report sheets

CUSTOMERS = """
| CustomerID | Name     | Class | Owner |
| C1         | 华信贸易 | A     | 张三  |
| C2         | Harbor   | B     | 李四  |
"""
INVOICES = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount    |
| I1        | C1         | 2025-01-20  | 2025-02-19 | 20000.00  |
| I2        | C2         | 2025-02-01  | 2025-03-03 | 30000.00  |
| I3        | C2         | 2025-03-05  | 2025-04-04 | 8000.00   |
| I4        | C1         | 2025-03-15  | 2025-04-14 | 150000.00 |
"""
RECEIPTS = """
| ReceiptNo | CustomerID | ReceiptDate | Amount  |
| R1        | C1         | 2025-03-10  | 5000.00 |
"""
AS_OF = d("2025-03-31")


def reports_book(tmp_path: Path, lang: str, src: Path | None = None, name: str = "reports.xlsx") -> Path:
    if src is None:
        wb = openpyxl.Workbook()
        wb.active.title = "Invoices"
        wb.create_sheet("账龄分析" if lang == "zh" else "Aging")
        wb.create_sheet("Settings")
        src = tmp_path / f"src-{lang}.xlsx"
        wb.save(src)
    settings = Settings(language=lang)
    led = ledger(INVOICES, RECEIPTS, CUSTOMERS)
    result = refresh(led, settings, AS_OF)
    stages = assign_stages(led, result, AS_OF)
    kpi = KpiSettings(trend_months=3)
    pkg = WorkbookPackage.open(src)
    aging = "账龄分析" if lang == "zh" else "Aging"
    names = {key: REPORT_SHEETS[key][lang == "zh"] for key in REPORT_SHEETS}
    sheets = report_sheets(result, compute_kpis(led, result, stages, AS_OF, kpi), collections_worklist(led, result, stages, AS_OF),
                           warning_table(led, result, AS_OF, kpi), lang, names)
    # the Aging sheet exists already: written again unchanged, the reports go after it
    from xl_ar.book.owned import OwnedSheet

    put_owned(pkg, owned_parts([OwnedSheet(aging, [], {}), *sheets], Styles(pkg).index))
    return pkg.save(tmp_path / name)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_sheets_go_after_aging_with_two_charts(tmp_path, lang):
    path = reports_book(tmp_path, lang)
    wb = openpyxl.load_workbook(path)
    names = [REPORT_SHEETS[k][lang == "zh"] for k in ("Collections", "Warnings", "Dashboard")]
    assert wb.sheetnames == ["Invoices", "账龄分析" if lang == "zh" else "Aging", *names, "Settings"]
    dash = wb[names[2]]
    assert len(dash._charts) == 2
    # open 15,000 (I1 after R1) + 30,000 + 8,000 + 150,000; overdue I1 and I2
    assert (dash["B5"].value, dash["B6"].value) == (203000, 45000)
    assert dash["B7"].value == pytest.approx(45000 / 203000)
    title = dash._charts[0].title.tx.rich.p[0].r[0].t
    assert title == ("账龄分布（CNY）" if lang == "zh" else "Aging by bucket (CNY)")
    work = wb[names[0]]
    # C1's I1 is 40 days late (moderate: finance sends the letter); C2's I2 28 days (mild: 李四)
    assert [[c.value for c in work[r]][:2] for r in (3, 4)] == [["财务" if lang == "zh" else "finance", "C1"], ["李四", "C2"]]
    assert work.auto_filter.ref == "A2:S4"
    assert wb[names[1]]["A1"].value.startswith("预警表" if lang == "zh" else "Warning table")


def test_report_sheets_written_twice_give_the_same_bytes(tmp_path):
    first = reports_book(tmp_path, "zh")
    second = reports_book(tmp_path, "zh", src=first, name="again.xlsx")
    assert second.read_bytes() == first.read_bytes()
    assert_no_orphans(parts(second))


# ----------------------------------------------------------------------------- LibreOffice

_TOOLS = [t for t in ("soffice", "pdftoppm", "pdftotext") if not shutil.which(t)]


@pytest.fixture(scope="module")
def lo_profile(tmp_path_factory) -> str:
    return (tmp_path_factory.mktemp("lo-profile")).as_uri()


def to_pdf(book: Path, profile: str) -> Path:
    out = book.parent / "pdf"
    out.mkdir(exist_ok=True)
    done = subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
                           "--outdir", str(out), str(book)], capture_output=True, text=True, timeout=180)
    pdf = out / (book.stem + ".pdf")
    assert done.returncode == 0 and pdf.exists(), done.stderr[-2000:]
    return pdf


def ink(pdf: Path) -> int:
    """Dark pixels over every page, rasterised at 40 dpi."""
    from PIL import Image as PILImage

    prefix = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(prefix)], check=True, timeout=120)
    total = 0
    for png in sorted(pdf.parent.glob(prefix.name + "-*.png")):
        gray = PILImage.open(png).convert("L")
        total += sum(gray.histogram()[:200])
    return total


@pytest.mark.libreoffice
@pytest.mark.skipif(bool(_TOOLS), reason=f"missing {', '.join(_TOOLS)}")
def test_libreoffice_draws_the_charts(book, tmp_path, lo_profile):
    plain = tmp_path / "plain"
    plain.mkdir()
    base = ink(to_pdf(shutil.copy(book, plain / "book.xlsx"), lo_profile))
    pdf = to_pdf(charted(book, tmp_path / "charts.xlsx"), lo_profile)
    assert ink(pdf) > base + 2000  # the two charts put real ink on the pages
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "账龄分布 Aging" in text and "逾期率趋势" in text  # the Chinese titles survive rendering


@pytest.mark.libreoffice
@pytest.mark.skipif(bool(_TOOLS), reason=f"missing {', '.join(_TOOLS)}")
def test_libreoffice_renders_the_dashboard(tmp_path, lo_profile):
    from PIL import Image as PILImage

    book = parts(reports_book(tmp_path, "zh"))
    # Hide every other sheet (hidden sheets are not exported) and make the Dashboard the
    # active one: the PDF then holds the Dashboard alone, drawn from our own chart parts.
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    wb = etree.fromstring(book["xl/workbook.xml"])
    sheets = list(wb.iter(main + "sheet"))
    for el in sheets:
        el.set("state", "visible" if el.get("name") == "仪表板" else "hidden")
    active = str([el.get("name") for el in sheets].index("仪表板"))
    for view in wb.iter(main + "workbookView"):
        view.set("activeTab", active)
        view.set("firstSheet", active)
    book["xl/workbook.xml"] = etree.tostring(wb)
    only = tmp_path / "dashboard.xlsx"
    with zipfile.ZipFile(only, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in book.items():
            z.writestr(name, data)
    pdf = to_pdf(only, lo_profile)
    pages = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split("\f")
    assert "应收账款仪表板" in pages[0] and "催收工作表" not in "".join(pages)
    assert "月末逾期率趋势" in "".join(pages) and "账龄分布" in "".join(pages)  # the charts' titles
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "dash")], check=True)
    page = PILImage.open(next(tmp_path.glob("dash*.png"))).convert("L")
    assert sum(page.histogram()[:200]) > 2000  # the first page is not blank
    assert ink(pdf) > 5000
