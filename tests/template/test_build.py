"""The macro workbook AR_Template.xlsm, checked without Excel.

Independent readers check what the build wrote: oletools' olevba (module text), olefile
(the container and its PROJECT stream), the zip and XML parts, openpyxl and python-calamine
(the sheets). The LibreOffice checks are in test_libreoffice.py.
"""

from __future__ import annotations

import ast
import io
import re
import warnings
import zipfile
from pathlib import Path

import olefile
import openpyxl
import pytest
import xlwings
from lxml import etree
from python_calamine import CalamineWorkbook

with warnings.catch_warnings():  # oletools' pyparsing deprecation noise at import
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools.olevba import VBA_Parser

from xl_ar.book.headers import INVOICE_OUTPUTS, header_label, sheet_label
from xl_ar.core.schema import LEDGER_TABLES, TABLES
from xl_ar.book.newbook import ALL_SETTING_DEFAULTS, NEW_BOOK_SHEETS
from xl_ar.template import build
from xl_ar.template.build import (
    CONF_SHEET, CUSTOMUI_NS, DEFAULT_OUT, MACROS_DIR, README_SHEET, XLWINGS_CONF,
    build_template, ribbon_buttons, template_modules,
)  # fmt: skip
from xl_ar.template.ovba import normalise_source
from xl_ar.template.udf_vba import GOLDEN_PATH, generate_udf_module, udf_names

#: The actions of xl_ar/ribbon.py: run(action_id) for each.
RIBBON_IDS = ["refresh_aging", "update_credit", "plan_collections", "reminders", "statements",
              "dashboard", "help"]  # fmt: skip
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def handler(action: str) -> str:
    return f"import xl_ar.ribbon; xl_ar.ribbon.run('{action}')"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("tpl") / "AR_Template.xlsm")


@pytest.fixture(scope="module")
def recorder(tmp_path_factory) -> Path:
    return build_template(tmp_path_factory.mktemp("rec") / "AR_Template_test.xlsm", test_recorder=True)


@pytest.fixture(scope="module")
def parts(built) -> dict[str, bytes]:
    with zipfile.ZipFile(built) as z:
        return {name: z.read(name) for name in z.namelist()}


def olevba_modules(path: Path) -> dict[str, str]:
    """Module name -> source text as olevba reads it back."""
    parser = VBA_Parser(str(path), relaxed=False)
    try:
        return {stream.split("/")[-1]: code for _, stream, _, code in parser.extract_macros()}
    finally:
        parser.close()


@pytest.fixture(scope="module")
def modules(built) -> dict[str, str]:
    return olevba_modules(built)


# ---- determinism and the committed file ----


def test_two_builds_are_byte_identical(built, tmp_path):
    again = build_template(tmp_path / "again.xlsm")
    assert again.read_bytes() == built.read_bytes()


def _member_differences(a: bytes, b: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(a)) as za, zipfile.ZipFile(io.BytesIO(b)) as zb:
        names_a, names_b = za.namelist(), zb.namelist()
        out = [f"member order/names: {names_a} != {names_b}"] if names_a != names_b else []
        out += [n for n in sorted(set(names_a) & set(names_b)) if za.read(n) != zb.read(n)]
    return out


def test_committed_workbook_equals_a_fresh_build(built):
    assert DEFAULT_OUT.exists(), f"{DEFAULT_OUT} is missing: run `make template`"
    committed, fresh = DEFAULT_OUT.read_bytes(), built.read_bytes()
    if committed != fresh:
        changed = _member_differences(committed, fresh) or ["(zip bytes only: zlib differs?)"]
        pytest.fail(f"workbook/AR_Template.xlsm is stale, run `make template` "
                    f"(parts that differ: {', '.join(changed)})")


def test_main_writes_the_workbook_where_asked(tmp_path, capsys):
    out = tmp_path / "sub" / "x.xlsm"
    assert build.main(["--out", str(out)]) == 0
    assert out.exists() and str(out) in capsys.readouterr().out
    assert DEFAULT_OUT == Path(build.__file__).resolve().parents[2] / "workbook" / "AR_Template.xlsm"


# ---- VBA: olevba and olefile read it back ----


def test_olevba_reads_every_module_verbatim(built, modules, parts):
    n_sheets = parts["xl/workbook.xml"].count(b"<sheet ")
    expected = {m.name: normalise_source(m) for m in template_modules(n_sheets)}
    assert list(modules) == list(expected)
    for name, text in expected.items():
        assert modules[name] == text, f"module {name} differs"


def test_the_container_is_a_strict_compound_file(parts):
    ole = olefile.OleFileIO(parts["xl/vbaProject.bin"], raise_defects=olefile.DEFECT_POTENTIAL)
    try:
        project = ole.openstream("PROJECT").read().decode("cp1252")
    finally:
        ole.close()
    assert "Module=ArRibbon" in project and "Class=Dictionary" in project


def test_embedded_xlwings_is_the_pinned_package(modules):
    version = re.search(r'XLWINGS_VERSION As String = "([^"]+)"', modules["xlwings"]).group(1)
    assert version == xlwings.__version__
    root = Path(xlwings.__file__).parent
    bas = (root / "xlwings.bas").read_text(encoding="cp1252").replace("\r\n", "\n")
    assert modules["xlwings"].replace("\r\n", "\n") == bas  # unpatched, as quickstart embeds it
    cls = (root / "addin" / "Dictionary.cls").read_text(encoding="cp1252").replace("\r\n", "\n")
    body = cls[cls.index("''\n' Dictionary v"):]  # after the VERSION/BEGIN block and header attributes
    assert modules["Dictionary"].replace("\r\n", "\n").endswith(body)


def test_our_modules_are_cp1252_and_free_of_conditional_compilation():
    for name in ("Ribbon.bas", "SelfTest.bas"):
        text = (MACROS_DIR / name).read_bytes().decode("cp1252")  # raises if not cp1252
        assert not re.search(r"^\s*#", text, re.M), f"{name} has a # directive: LibreOffice runs both branches"


def test_shipping_build_calls_runpython_and_test_build_records(modules, recorder):
    arrun = re.search(r"^Public Sub ArRun\(.*?^End Sub", modules["ArRibbon"], re.M | re.S).group(0)
    assert "RunPython command" in arrun
    assert "ArTestShim" not in modules and "ArFakeControl" not in modules
    test_modules = olevba_modules(recorder)
    assert "RunPython command" not in test_modules["ArRibbon"]
    assert {"ArTestShim", "ArFakeControl"} <= set(test_modules)


# ---- the UDF wrappers ----


def test_golden_udf_module_equals_a_fresh_generation():
    fresh = generate_udf_module()
    golden = GOLDEN_PATH.read_text(encoding="ascii")
    assert golden == fresh, "macros/xlwings_udfs.bas is stale: run `python -m xl_ar.template.udf_vba`"


def _decorated_udfs() -> set[str]:
    """Functions of xl_ar/udfs.py decorated with xw.func, read from the source (AST)."""
    import xl_ar.udfs

    tree = ast.parse(Path(xl_ar.udfs.__file__).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for d in node.decorator_list:
                target = d.func if isinstance(d, ast.Call) else d
                if isinstance(target, ast.Attribute) and target.attr == "func":
                    names.add(node.name)
    return names


def test_golden_udf_module_wraps_every_xw_func(modules):
    golden = GOLDEN_PATH.read_text(encoding="ascii")
    wrapped = set(re.findall(r"^Function (\w+)\(", golden, re.M))
    assert wrapped == _decorated_udfs() == set(udf_names())
    assert modules["xlwings_udfs"].replace("\r\n", "\n") == golden


# ---- ribbon ----


def test_ribbon_xml_is_structurally_valid(parts, modules):
    xml = parts["customUI/customUI14.xml"]
    assert xml == (MACROS_DIR / "customUI14.xml").read_bytes()
    root = etree.fromstring(xml)
    assert root.tag == f"{{{CUSTOMUI_NS}}}customUI"
    assert all(el.tag.startswith(f"{{{CUSTOMUI_NS}}}") for el in root.iter(etree.Element))
    ids = [el.get("id") for el in root.iter(etree.Element) if el.get("id") is not None]
    assert len(ids) == len(set(ids)), "ribbon ids must be unique"
    assert all(re.fullmatch(r"[A-Za-z_]\w*", i) for i in ids)
    tab = root.find(f".//{{{CUSTOMUI_NS}}}tab")
    assert tab.get("label") == "AR 应收"
    buttons = ribbon_buttons(xml)
    assert [b.id for b in buttons] == RIBBON_IDS
    for b in buttons:
        assert re.search(r"[\u4e00-\u9fff]", b.label) and re.search(r"[A-Za-z]{4}", b.label), b.label
    callbacks = {el.get("onAction") for el in root.iter(etree.Element) if el.get("onAction")}
    vba = "\n".join(modules.values())
    for name in callbacks:
        signature = rf"^(Public )?Sub {name}\((ByRef |ByVal )?control As IRibbonControl\)"
        assert re.search(signature, vba, re.M | re.I), f"no Sub {name}(control As IRibbonControl)"


def test_package_has_macro_content_types_and_relationships(parts):
    ct = etree.fromstring(parts["[Content_Types].xml"])
    overrides = {o.get("PartName"): o.get("ContentType") for o in ct.iter(f"{{{CT_NS}}}Override")}
    defaults = {d.get("Extension"): d.get("ContentType") for d in ct.iter(f"{{{CT_NS}}}Default")}
    assert overrides["/xl/workbook.xml"] == "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
    assert defaults["bin"] == "application/vnd.ms-office.vbaProject"

    def rels(name):
        return {r.get("Type"): r.get("Target") for r in etree.fromstring(parts[name]).iter(f"{{{REL_NS}}}Relationship")}

    wb_rels = rels("xl/_rels/workbook.xml.rels")
    assert wb_rels["http://schemas.microsoft.com/office/2006/relationships/vbaProject"] == "vbaProject.bin"
    root_rels = rels("_rels/.rels")
    ui = root_rels["http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"]
    assert ui in parts
    all_ids = [r.get("Id") for r in etree.fromstring(parts["_rels/.rels"]).iter(f"{{{REL_NS}}}Relationship")]
    assert len(all_ids) == len(set(all_ids))
    assert list(parts)[:2] == ["[Content_Types].xml", "_rels/.rels"]


def test_code_names_match_the_document_modules(parts):
    ole = olefile.OleFileIO(parts["xl/vbaProject.bin"])
    try:
        project = ole.openstream("PROJECT").read().decode("cp1252")
    finally:
        ole.close()
    documents = re.findall(r"^Document=(\w+)/&H00000000\r$", project, re.M)
    workbook = etree.fromstring(parts["xl/workbook.xml"])
    code_names = [workbook.find(f"{{{MAIN_NS}}}workbookPr").get("codeName")]
    rels = {r.get("Id"): r.get("Target") for r in etree.fromstring(parts["xl/_rels/workbook.xml.rels"])}
    for sheet in workbook.iter(f"{{{MAIN_NS}}}sheet"):
        rid = sheet.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
        target = rels[rid]
        sheet_xml = etree.fromstring(parts[target[1:] if target.startswith("/") else "xl/" + target])
        code_names.append(sheet_xml.find(f"{{{MAIN_NS}}}sheetPr").get("codeName"))
    assert code_names[0] == "ThisWorkbook"
    assert sorted(code_names) == sorted(documents)


# ---- sheets ----


def test_openpyxl_opens_it_and_the_ledger_sheets_have_their_headers(built):
    wb = openpyxl.load_workbook(built, keep_vba=True)
    ledger = [sheet_label(name, "zh") for name in NEW_BOOK_SHEETS]
    assert wb.sheetnames == [README_SHEET, *ledger, CONF_SHEET]
    for table in LEDGER_TABLES[1:]:
        ws = wb[sheet_label(table.sheet, "zh")]
        headers = [c.value for c in ws[1]]
        expected = [header_label(table.sheet, f.name, "zh") for f in table.fields if f.in_new_book]
        if table.sheet == "Invoices":
            expected += [zh for _, zh in INVOICE_OUTPUTS.values()]
        assert headers == expected
        assert len(ws.tables) == 1
        (tbl,) = ws.tables.values()
        assert tbl.ref.startswith("A1:") and openpyxl.utils.column_index_from_string(
            re.match(r"A1:([A-Z]+)", tbl.ref).group(1)) == len(expected)
    settings = wb[sheet_label("Settings", "zh")]
    keys = [settings.cell(row=r, column=1).value for r in range(2, settings.max_row + 1)]
    assert keys == [key for key, *_ in ALL_SETTING_DEFAULTS]
    assert wb.vba_archive is not None


def test_computed_headers_are_styled_apart(built):
    ws = openpyxl.load_workbook(built)[sheet_label("Invoices", "zh")]
    user = ws.cell(row=1, column=1).fill.fgColor.rgb
    first = sum(f.in_new_book for f in TABLES["Invoices"].fields) + 1
    for k in range(len(INVOICE_OUTPUTS)):
        assert ws.cell(row=1, column=first + k).fill.fgColor.rgb not in (user, None, "00000000")


def _cf_colours(built) -> tuple[str, list[tuple[str, list[str]]]]:
    ws = openpyxl.load_workbook(built)[sheet_label("Invoices", "zh")]
    headers = [c.value for c in ws[1]]
    days = openpyxl.utils.get_column_letter(headers.index(INVOICE_OUTPUTS["days_late"][1]) + 1)
    rules = [(str(cf.sqref), r.formula) for cf in ws.conditional_formatting for r in cf.rules]
    return days, rules


def _evaluate(formula: str, days_col: str, value) -> bool:
    """Evaluate AND(ISNUMBER($M2),$M2>=a[,$M2<=b]) for one cell value."""
    ref = f"${days_col}2"
    m = re.fullmatch(rf"AND\(ISNUMBER\({re.escape(ref)}\)((?:,{re.escape(ref)}(?:>=|<=)\d+)+)\)", formula)
    assert m, f"unexpected conditional format {formula}"
    if not isinstance(value, (int, float)):
        return False
    for op, bound in re.findall(r"(>=|<=)(\d+)", m.group(1)):
        if not (value >= int(bound) if op == ">=" else value <= int(bound)):
            return False
    return True


def test_overdue_buckets_are_coloured_by_days_late(built):
    days, rules = _cf_colours(built)
    assert len(rules) == 4
    bucket = openpyxl.utils.get_column_letter(openpyxl.utils.column_index_from_string(days) + 1)
    for sqref, _ in rules:
        assert sqref == f"{days}2:{bucket}1048576"
    formulas = [f[0] for _, f in rules]
    for value, expected in ((0, None), (1, 0), (30, 0), (31, 1), (60, 1), (61, 2), (90, 2), (91, 3),
                            (5000, 3), ("error: x", None), (None, None)):  # fmt: skip
        hits = [i for i, f in enumerate(formulas) if _evaluate(f, days, value)]
        assert hits == ([] if expected is None else [expected]), (value, hits)


def test_xlwings_conf_sheet_is_what_quickstart_standalone_writes(built):
    quickstart = Path(xlwings.__file__).parent / "quickstart_standalone.xlsm"
    qs = openpyxl.load_workbook(quickstart)["_xlwings.conf"]
    ws = openpyxl.load_workbook(built)[CONF_SHEET]
    ours = [(ws.cell(row=r, column=1).value, ws.cell(row=r, column=2).value) for r in range(1, 11)]
    theirs = [(qs.cell(row=r, column=1).value, qs.cell(row=r, column=2).value) for r in range(1, 11)]
    assert ours[-1] == (None, None)  # xlwings reads A1 down to the first blank cell
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    assert dict(ours)["UDF Modules"] == "xl_ar.udfs"
    assert {k: v for k, v in ours if k != "UDF Modules"} == {k: v for k, v in theirs if k != "UDF Modules"}
    assert len({k.upper() for k, _ in XLWINGS_CONF}) == len(XLWINGS_CONF)  # VBA d.Add: unique keys


def test_readme_sheet_is_bilingual_and_complete(built):
    ws = openpyxl.load_workbook(built)[README_SHEET]
    text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    assert "pip install ." in text and "Mac" in text and "启用" in text
    for b in ribbon_buttons():
        assert b.label in text
    for name in udf_names():
        assert f"={name}(" in text


def test_python_calamine_opens_it(built):
    wb = CalamineWorkbook.from_path(str(built))
    assert wb.sheet_names[0] == README_SHEET and CONF_SHEET in wb.sheet_names
    rows = wb.get_sheet_by_name(sheet_label("Invoices", "zh")).to_python()
    assert rows[0][0] == header_label("Invoices", "invoice_no", "zh")
    assert rows[0][-1] == list(INVOICE_OUTPUTS.values())[-1][1]
