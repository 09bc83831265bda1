"""Build ``workbook/AR_Template.xlsm`` from text: sheets, VBA project and ribbon.

Steps (``xl-ar build-template``):

1. The sheets, with openpyxl: ``README`` (bilingual), the ledger sheets of
   :func:`xl_ar.book.newbook.build_ledger_workbook` in Chinese (the computed columns of the
   Invoices Table pre-created, overdue buckets coloured) and ``xlwings.conf``.
2. Last, since openpyxl would orphan a ``customUI14.xml`` (docs/excel.md, "Ribbon"): the
   package is rewritten with ``xl/vbaProject.bin`` from our MS-OVBA writer (modules from
   ``macros/`` plus ``xlwings.bas`` and ``Dictionary.cls`` of the pinned xlwings package),
   ``customUI/customUI14.xml``, and the macro-enabled content type and relationships.

Output is deterministic: fixed document dates, zip member order, timestamps and
compression level, so two builds are byte-identical and a test can hold the committed
workbook equal to a fresh build.

Language policy: one template serves Chinese and English users. Sheet names and headers
are Chinese (most users; English headers are accepted too when a user renames them, see
``xl_ar.book.headers``), the ribbon labels and the README sheet are bilingual, and the
``xlwings.conf`` keys are xlwings' own English keys.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import sys
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import xlwings
from lxml import etree
from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from xl_ar.book.headers import INVOICE_OUTPUTS, sheet_label
from xl_ar.book.newbook import MONEY_FORMAT, build_ledger_workbook
from xl_ar.book.writer import COMPUTED_FILL as WRITER_COMPUTED_FILL, COMPUTED_FONT as WRITER_COMPUTED_FONT
from xl_ar.core.schema import TABLES
from xl_ar.template.ovba import Module, build_vba_project

__all__ = [
    "CONF_SHEET", "DEFAULT_OUT", "MACROS_DIR", "README_SHEET", "RIBBON_XML", "XLWINGS_CONF",
    "RibbonButton", "build_template", "main", "ribbon_buttons", "template_modules",
    "xlwings_vba_sources",
]  # fmt: skip

REPO_ROOT = Path(__file__).resolve().parents[2]
MACROS_DIR = REPO_ROOT / "macros"
DEFAULT_OUT = REPO_ROOT / "workbook" / "AR_Template.xlsm"
RIBBON_XML = MACROS_DIR / "customUI14.xml"
#: Our VBA modules, in project order after the document modules and xlwings' two.
MACRO_FILES = ("xlwings_udfs.bas", "Ribbon.bas", "SelfTest.bas")
LANG = "zh"
README_SHEET = "README"
CONF_SHEET = "xlwings.conf"  # xlwings reads PROJECT_NAME & ".conf" (xlwings.bas GetConfig)

#: The ``xlwings.conf`` sheet: the rows ``xlwings quickstart --standalone`` writes (its
#: ``quickstart_standalone.xlsm``, values included), with ``UDF Modules`` set. xlwings reads
#: column A from A1 down to the first blank cell (GetConfigFromSheet), so the rows are
#: contiguous and start at A1, and notes start below a blank row.
XLWINGS_CONF: tuple[tuple[str, object], ...] = (
    ("Interpreter_Win", "python"),
    ("Interpreter_Mac", None),
    ("PYTHONPATH", None),
    ("Conda Path", None),
    ("Conda Env", None),
    ("UDF Modules", "xl_ar.udfs"),
    ("Debug UDFs", False),
    ("Use UDF Server", False),
    ("Show Console", False),
)

CUSTOMUI_NS = "http://schemas.microsoft.com/office/2009/07/customui"
_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_MACRO_WORKBOOK_CT = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
_VBA_CT = "application/vnd.ms-office.vbaProject"
_VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
_CUSTOMUI14_REL = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
_CUSTOMUI_PART = "customUI/customUI14.xml"

# Determinism: document dates, zip timestamps (the zip epoch) and deflate level are fixed.
_DOC_TIME = dt.datetime(2025, 1, 1)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_LEVEL = 9

# "Computed" header style of the columns Refresh writes: the refresh's own header style, so
# the template's pre-created headers look as they will after the first refresh. Then the
# overdue colours, keyed on DaysLate: 1-30, 31-60, 61-90, >90 days.
COMPUTED_FILL = PatternFill("solid", fgColor=WRITER_COMPUTED_FILL)
COMPUTED_HEADER_FONT = Font(bold=True, color=WRITER_COMPUTED_FONT)
_OVERDUE_COLOURS = (  # (first day, last day or None, fill, font colour)
    (1, 30, "FFF2CC", "7F6000"),
    (31, 60, "FCE4D6", "833C0B"),
    (61, 90, "F8CBAD", "833C0B"),
    (91, None, "FF8B8B", "7F0000"),
)


# ---- VBA modules ----


def xlwings_vba_sources() -> tuple[str, str]:
    """``xlwings.bas`` and ``addin/Dictionary.cls`` of the installed (pinned) xlwings.

    ``xlwings quickstart --standalone`` and ``xlwings release`` embed these two files
    unchanged (xlwings/cli.py; the module of the package's ``quickstart_standalone.xlsm``
    equals ``xlwings.bas``): the module reads its settings from the ``xlwings.conf`` sheet
    itself, so no patching is needed.

    Returns:
        ``(xlwings.bas text, Dictionary.cls text)``.

    Raises:
        ValueError: ``xlwings.bas`` names another version than the installed package.
    """
    root = Path(xlwings.__file__).parent
    bas = (root / "xlwings.bas").read_text(encoding="cp1252")
    cls = (root / "addin" / "Dictionary.cls").read_text(encoding="cp1252")
    match = re.search(r'XLWINGS_VERSION As String = "([^"]+)"', bas)
    if not match or match.group(1) != xlwings.__version__:
        found = match.group(1) if match else "none"
        raise ValueError(f"xlwings.bas says version {found}, the package is {xlwings.__version__}")
    return bas, cls


def _module_from_text(text: str, kind: str, what: str) -> Module:
    """A Module named by its ``Attribute VB_Name`` line."""
    match = re.search(r'^Attribute VB_Name = "(\w+)"', text, re.M)
    if not match:
        raise ValueError(f"{what}: no Attribute VB_Name line")
    return Module(match.group(1), text, kind)  # type: ignore[arg-type]


def template_modules(sheet_count: int, *, test_recorder: bool = False) -> list[Module]:
    """Every VBA module of the template, in project order.

    Document modules ``ThisWorkbook`` and ``Sheet1``..``SheetN`` (empty: they must exist and
    match the workbook's codeNames, docs/excel.md "vbaProject.bin"), xlwings' ``xlwings``
    and ``Dictionary``, then ours from ``macros/``.

    Args:
        sheet_count: number of worksheets (one document module each).
        test_recorder: the test-only build: ``ArRun`` records commands instead of calling
            RunPython, plus a shim clicking every ribbon button (see :func:`_recorder_modules`).

    Returns:
        The modules.
    """
    modules = [Module("ThisWorkbook", "", "document")]
    modules += [Module(f"Sheet{i}", "", "document") for i in range(1, sheet_count + 1)]
    bas, cls = xlwings_vba_sources()
    modules += [Module("xlwings", bas, "standard"), Module("Dictionary", cls, "class")]
    ours = [
        _module_from_text((MACROS_DIR / name).read_text(encoding="cp1252"), "standard", name)
        for name in MACRO_FILES
    ]
    if test_recorder:
        ours = _recorder_modules(ours)
    return modules + ours


_ARRUN = re.compile(r"^Public Sub ArRun\(ByVal command As String\)\n.*?^End Sub\n", re.M | re.S)
_RECORDER_ARRUN = """Public Sub ArRun(ByVal command As String)
    ' Test build: record the command (ArTestShim.ArRecorded) instead of running Python.
    ArRecorded = ArRecorded & command & vbLf
End Sub
"""


def _recorder_modules(modules: list[Module]) -> list[Module]:
    """Swap ``ArRun`` for a recorder and add the click shim (test build only).

    LibreOffice cannot build an ``IRibbonControl`` and does nothing when UNO calls a Sub
    with a typed argument (docs/excel.md, "Checking without Excel"), so a class
    ``ArFakeControl`` stands in for the control and ``ArClickAll`` calls each button's
    ``onAction`` Sub from VBA, returning the recorded commands, one per line.
    """
    out = []
    for module in modules:
        if module.name == "ArRibbon":
            source = module.source.replace("\r\n", "\n")
            source, count = _ARRUN.subn(_RECORDER_ARRUN, source)
            if count != 1:
                raise ValueError("Ribbon.bas: expected exactly one 'Public Sub ArRun(ByVal command As String)'")
            module = Module(module.name, source, module.kind)
        out.append(module)
    clicks = "".join(
        f'    Set control = New ArFakeControl\n    control.Id = "{b.id}"\n    {b.on_action} control\n'
        for b in ribbon_buttons()
    )
    shim = (
        'Attribute VB_Name = "ArTestShim"\n'
        "' Test build only: clicks every ribbon button and returns what ArRun recorded.\n"
        "Option Explicit\n\nPublic ArRecorded As String\n\n"
        "Public Function ArClickAll() As String\n    Dim control As ArFakeControl\n"
        f'    ArRecorded = ""\n{clicks}    ArClickAll = ArRecorded\nEnd Function\n'
    )
    fake = "' Test build only: stands in for IRibbonControl.\nOption Explicit\n\nPublic Id As String\n"
    return out + [Module("ArTestShim", shim, "standard"), Module("ArFakeControl", fake, "class")]


# ---- Ribbon ----


@dataclass(frozen=True)
class RibbonButton:
    """A button of the ribbon XML.

    Attributes:
        id: the control id, also the action of ``xl_ar.ribbon.run``.
        label: "中文 English".
        supertip: Chinese, a newline, English.
        on_action: the VBA callback Sub.
    """

    id: str
    label: str
    supertip: str
    on_action: str


def ribbon_buttons(xml: bytes | None = None) -> list[RibbonButton]:
    """The buttons of ``macros/customUI14.xml`` (or of ``xml``), in document order."""
    root = etree.fromstring(RIBBON_XML.read_bytes() if xml is None else xml)
    return [
        RibbonButton(b.get("id"), b.get("label", ""), b.get("supertip", ""), b.get("onAction", ""))
        for b in root.iter(f"{{{CUSTOMUI_NS}}}button")
    ]


# ---- Sheets ----


def _add_computed_columns(ws, last_row: int) -> None:
    """Pre-create the computed columns of Invoices inside its Table; colour overdue cells.

    The headers are those :data:`xl_ar.book.headers.INVOICE_OUTPUTS` lists, which the
    refresh recognises and writes into; inside the Table, sorting or filtering keeps
    them with their rows. The conditional formats are keyed on the DaysLate value (a
    number, whatever the language) and cover the whole columns, so rows a refresh adds
    outside Excel are coloured too; ``ISNUMBER`` keeps a text cell uncoloured (Excel
    compares text as greater than any number).
    """
    first = sum(f.in_new_book for f in TABLES["Invoices"].fields) + 1
    columns = {}
    for k, (field, (english, chinese)) in enumerate(INVOICE_OUTPUTS.items()):
        col = first + k
        columns[field] = get_column_letter(col)
        cell = ws.cell(row=1, column=col, value=chinese if LANG == "zh" else english)
        cell.fill, cell.font = COMPUTED_FILL, COMPUTED_HEADER_FONT
        cell.alignment = Alignment(horizontal="center", vertical="center")
        ws.column_dimensions[columns[field]].width = 12 if field in ("days_late", "bucket") else 15
        fmt = "0" if field == "days_late" else None if field == "bucket" else MONEY_FORMAT
        for r in range(2, last_row + 1):
            if fmt:
                ws.cell(row=r, column=col).number_format = fmt
    table = ws.tables["tblInvoices"]
    table.ref = f"A1:{get_column_letter(first + len(INVOICE_OUTPUTS) - 1)}{last_row}"
    days = f"${columns['days_late']}2"
    target = f"{columns['days_late']}2:{columns['bucket']}1048576"
    for low, high, fill, font in _OVERDUE_COLOURS:
        test = f"{days}>={low}" + (f",{days}<={high}" if high is not None else "")
        ws.conditional_formatting.add(target, FormulaRule(
            formula=[f"AND(ISNUMBER({days}),{test})"], stopIfTrue=True,
            fill=PatternFill("solid", start_color=fill, end_color=fill), font=Font(color=font),
        ))  # fmt: skip


def _add_conf_sheet(wb: Workbook) -> None:
    """The ``xlwings.conf`` sheet: :data:`XLWINGS_CONF` from A1, then bilingual notes."""
    ws = wb.create_sheet(CONF_SHEET)
    for key, value in XLWINGS_CONF:
        ws.append([key, value])
    notes = (
        "说明 Notes:",
        "这些设置优先于 xlwings 插件和 xlwings.conf 文件的设置；删除一行则回到那些设置。",
        "These settings override those of the xlwings add-in and of xlwings.conf files; "
        "delete a row to fall back to them.",
        "Python 不在 PATH 上时，在 Interpreter_Win / Interpreter_Mac 填写 python 的完整路径。",
        "If Python is not on the PATH, enter its full path as Interpreter_Win / Interpreter_Mac.",
        "设置须从 A1 开始连续填写（xlwings 读到第一个空行为止）。",
        "The settings must start in A1 without gaps (xlwings stops at the first blank row).",
    )
    for i, note in enumerate(notes):
        cell = ws.cell(row=len(XLWINGS_CONF) + 2 + i, column=1, value=note)
        cell.font = Font(bold=i == 0, italic=i > 0, color="595959")
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 14


_README_INTRO = (
    "xl-ar 应收账款催收模板 / Receivables collection template",
    "在本工作簿中维护客户、发票、收款和催收记录；「AR 应收」选项卡上的按钮运行 Python 包 xl-ar。",
    "Keep customers, invoices, receipts and the collection log here; the buttons of the "
    "\"AR 应收\" ribbon tab run the Python package xl-ar.",
)
_README_INSTALL = (
    ("1", "安装 Python 3.10 或更高版本，然后在 xl-ar 项目文件夹中运行 pip install .",
     "Install Python 3.10 or later, then in the xl-ar folder run: pip install ."),
    ("2", "打开本工作簿，点击「启用内容」（启用宏）。下载的文件若被阻止：右键文件 → 属性 → 解除锁定。",
     "Open this workbook and click \"Enable Content\" (macros). If Excel blocks a downloaded "
     "file: right-click it > Properties > Unblock."),
    ("3", "Python 不在 PATH 上时，在 xlwings.conf 表填写 Interpreter_Win / Interpreter_Mac。",
     "If Python is not on the PATH, set Interpreter_Win / Interpreter_Mac on the xlwings.conf sheet."),
    ("Mac", "Mac 版 Excel：先运行一次 xlwings runpython install。按钮可用，工作表函数（=AR_…）不可用，"
            "请用「刷新账龄」得到相同结果。",
     "Excel for Mac: run xlwings runpython install once. The buttons work, the worksheet "
     "functions (=AR_...) do not: Refresh Aging writes the same results."),
)


def fill_readme_sheet(ws, buttons: Sequence[RibbonButton], udfs: Sequence[tuple[str, str]]) -> None:
    """Write the short bilingual README: buttons, install steps, functions, columns.

    Args:
        ws: the empty README worksheet.
        buttons: the ribbon buttons (label "中文 English", supertip "中文\\nEnglish").
        udfs: ``(signature, description)`` of each worksheet function.
    """
    title, *intro = _README_INTRO
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14, color="1F4E78")
    for line in intro:
        ws.append([None, line])

    def section(heading: str) -> None:
        ws.append([])
        ws.append([heading])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True, color="1F4E78")

    section("按钮 Buttons")
    for b in buttons:
        zh, _, en = b.supertip.partition("\n")
        ws.append([b.label, zh, en])
    section("安装 Install")
    for row in _README_INSTALL:
        ws.append(list(row))
    section("工作表函数 Worksheet functions (Windows)")
    for signature, doc in udfs:
        ws.append([signature.split("(")[0].lstrip("="), signature, doc])
        # Text, not a formula: openpyxl reads a leading "=" as one; the quote prefix also
        # keeps Excel from evaluating it when the cell is edited.
        cell = ws.cell(row=ws.max_row, column=2)
        cell.data_type, cell.quotePrefix = "s", True
    section("计算列 Computed columns")
    ws.append([None, "发票表右侧浅蓝色表头的列由「刷新账龄」写入，请勿手工填写；逾期 1-30 / 31-60 / 61-90 / 90 天以上依次着色。",
               "The pale-blue-headed columns at the right of the Invoices sheet (发票) are written by "
               "Refresh Aging: do not type in them. Days late 1-30 / 31-60 / 61-90 / over 90 are coloured."])
    ws.append([None, "「设置」表列出所有参数及其默认值。", "The Settings sheet (设置) lists every setting with its default."])
    widths = {"A": 24, "B": 58, "C": 58}
    for letter, width in widths.items():
        ws.column_dimensions[letter].width = width
    ws.page_setup.orientation = "landscape"  # printed: one page wide
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    for row in ws.iter_rows(min_row=2):
        lines = 1
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if isinstance(cell.value, str):
                lines = max(lines, -(-_display_width(cell.value) // (widths[cell.column_letter] - 2)))
        if lines > 1:  # openpyxl writes no heights and clients do not all fit wrapped rows
            ws.row_dimensions[row[0].row].height = 15 * lines


def _display_width(text: str) -> int:
    """Width of ``text`` in character cells: CJK and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

def build_sheets() -> Workbook:
    """The template's sheets (openpyxl), codeNames set to match the document modules.

    Returns:
        The workbook: README, the ledger sheets of ``build_ledger_workbook`` and xlwings.conf.
    """
    wb = build_ledger_workbook(LANG)
    invoices = wb[sheet_label("Invoices", LANG)]
    _add_computed_columns(invoices, last_row=invoices.max_row)
    _add_conf_sheet(wb)
    readme = wb.create_sheet(README_SHEET, 0)
    fill_readme_sheet(readme, ribbon_buttons(), _udf_signatures())
    wb.active = 0
    for ws in wb.worksheets:
        ws.sheet_view.tabSelected = ws is readme
    # codeNames: ThisWorkbook and Sheet1..N, the document modules template_modules() makes.
    wb.code_name = "ThisWorkbook"
    for i, ws in enumerate(wb.worksheets, start=1):
        ws.sheet_properties.codeName = f"Sheet{i}"
    wb.properties.creator = wb.properties.lastModifiedBy = "xl-ar"
    wb.properties.title = "xl-ar AR_Template"
    wb.properties.created = wb.properties.modified = _DOC_TIME
    return wb


def _udf_signatures() -> list[tuple[str, str]]:
    """``("=AR_X(a, [b])", description)`` for each wrapper of ``macros/xlwings_udfs.bas``.

    The wrappers are the UDFs Excel sees; the description is the first line of the Python
    docstring (what "Import Functions" would give Excel's function wizard; the template
    cannot set that text without Excel, so the README shows it).
    """
    import xl_ar.udfs as udfs  # the description only; the wrappers come from the golden file

    text = (MACROS_DIR / "xlwings_udfs.bas").read_text(encoding="cp1252")
    out = []
    for name, args in re.findall(r"^Function (\w+)\((.*)\)\s*$", text, re.M):
        shown = []
        for arg in filter(None, (a.strip() for a in args.split(","))):
            if arg.startswith("ParamArray "):
                arg = f"[{arg[11:].removesuffix('()')}, ...]"
            shown.append(f"[{arg[9:]}]" if arg.startswith("Optional ") else arg)
        function = getattr(udfs, name, None)
        if function is None:
            raise ValueError(f"macros/xlwings_udfs.bas wraps {name}, which xl_ar.udfs no longer has: "
                             "run `python -m xl_ar.template.udf_vba`")
        doc = (function.__doc__ or "").strip().split("\n")[0]
        out.append((f"={name}({', '.join(shown)})", doc))
    return out


# ---- Package ----


def _xml(root: etree._Element) -> bytes:
    declaration = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    return declaration + etree.tostring(root, encoding="UTF-8")


def _fixed_dates(core_xml: bytes) -> bytes:
    """``docProps/core.xml`` with the fixed build date: openpyxl stamps "modified" on save."""
    stamp = _DOC_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return re.sub(rb"(<dcterms:(?:created|modified)\b[^>]*>)[^<]*", lambda m: m.group(1) + stamp, core_xml)


def _add_relationship(rels_xml: bytes, rel_type: str, target: str) -> bytes:
    """Add a relationship with the next free ``rIdN`` (unless one of that type exists)."""
    root = etree.fromstring(rels_xml)
    rels = root.findall(f"{{{_REL_NS}}}Relationship")
    if any(r.get("Type") == rel_type for r in rels):
        return rels_xml
    used = {int(m.group(1)) for r in rels if (m := re.fullmatch(r"rId(\d+)", r.get("Id", "")))}
    new = etree.SubElement(root, f"{{{_REL_NS}}}Relationship")
    new.set("Id", f"rId{max(used, default=0) + 1}")
    new.set("Type", rel_type)
    new.set("Target", target)
    return _xml(root)


def _macro_content_types(ct_xml: bytes) -> bytes:
    """Macro-enabled workbook type and the ``bin`` default (docs/excel.md, "vbaProject.bin")."""
    root = etree.fromstring(ct_xml)
    for override in root.findall(f"{{{_CT_NS}}}Override"):
        if override.get("PartName") == "/xl/workbook.xml":
            override.set("ContentType", _MACRO_WORKBOOK_CT)
    defaults = root.findall(f"{{{_CT_NS}}}Default")
    if not any(d.get("Extension", "").lower() == "bin" for d in defaults):
        new = etree.Element(f"{{{_CT_NS}}}Default", Extension="bin", ContentType=_VBA_CT)
        defaults[-1].addnext(new) if defaults else root.insert(0, new)
    return _xml(root)


def package_xlsm(xlsx: bytes, vba_project: bytes, customui: bytes) -> bytes:
    """Turn openpyxl's ``.xlsx`` bytes into the ``.xlsm``: VBA, ribbon, types, relationships.

    Members are written in a fixed order (``[Content_Types].xml``, ``_rels/.rels``, then by
    name) with fixed timestamps, attributes and deflate level.

    Args:
        xlsx: the workbook openpyxl saved.
        vba_project: the ``vbaProject.bin`` bytes.
        customui: the ribbon XML (Office 2010 ``customUI14`` schema).

    Returns:
        The ``.xlsm`` bytes.
    """
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zin:
        parts = {name: zin.read(name) for name in zin.namelist()}
    parts["docProps/core.xml"] = _fixed_dates(parts["docProps/core.xml"])
    parts["[Content_Types].xml"] = _macro_content_types(parts["[Content_Types].xml"])
    parts["xl/_rels/workbook.xml.rels"] = _add_relationship(
        parts["xl/_rels/workbook.xml.rels"], _VBA_REL, "vbaProject.bin")
    parts["_rels/.rels"] = _add_relationship(parts["_rels/.rels"], _CUSTOMUI14_REL, _CUSTOMUI_PART)
    parts["xl/vbaProject.bin"] = vba_project
    parts[_CUSTOMUI_PART] = customui
    first = ["[Content_Types].xml", "_rels/.rels"]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for name in first + sorted(set(parts) - set(first)):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0  # else the host OS: builds on Linux and Windows would differ
            info.external_attr = 0
            zout.writestr(info, parts[name], compresslevel=_ZIP_LEVEL)
    return out.getvalue()


def build_template(out: Path = DEFAULT_OUT, *, test_recorder: bool = False) -> Path:
    """Build the macro workbook.

    Args:
        out: where to write it (folders are created).
        test_recorder: build the test-only variant (ArRun records instead of calling
            RunPython; module ArTestShim clicks every button). Never ship it.

    Returns:
        ``out``.
    """
    wb = build_sheets()
    buffer = io.BytesIO()
    wb.save(buffer)
    modules = template_modules(len(wb.worksheets), test_recorder=test_recorder)
    xlsm = package_xlsm(buffer.getvalue(), build_vba_project(modules), RIBBON_XML.read_bytes())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(xlsm)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``xl-ar build-template [--out PATH]``.

    Returns:
        0 on success.
    """
    parser = argparse.ArgumentParser(
        prog="xl-ar build-template",
        description="Build the macro workbook AR_Template.xlsm (sheets, VBA and ribbon) from "
        "the sources in macros/ and the pinned xlwings package.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output file (default {DEFAULT_OUT.relative_to(REPO_ROOT)})")
    args = parser.parse_args(argv)
    if not RIBBON_XML.is_file():
        # The VBA and ribbon sources live in the source tree, not in an installed package.
        print(f"error: {MACROS_DIR} not found: build the template from a checkout of xl-ar's sources "
              "(an installed package ships the engine, not the template's sources)", file=sys.stderr)
        return 2
    path = build_template(args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
