"""The workbook package: targeted writes that leave every other part byte-identical."""

from __future__ import annotations

import os
import re
import struct
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from xl_ar.book.package import BookError, BookLockedError, WorkbookPackage, backup, check_not_open
from xl_ar.book.render import render_sheet
from xl_ar.book.sheetxml import OutColumn
from xl_ar.book.splice import splice_columns, splice_sheet

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
N_INVOICES = 20  # the fixtures' ledger size (checked against kit.N)
USER_HEADERS = ["InvoiceNo", "Customer", "InvoiceDate", "DueDate", "Amount", "Currency"]
ROWS = np.arange(2, N_INVOICES + 2)
OPEN = np.array([round(10.25 * i, 2) if i % 4 else np.nan for i in range(N_INVOICES)])
NEXT = np.array([f"2024-{1 + i % 12:02d}-{1 + i:02d}" for i in range(N_INVOICES)], dtype="datetime64[D]")
STAGE = np.array(["提醒 1", "final & <last>", "", "current"] * (N_INVOICES // 4), dtype=object)
HEADERS = {7: "Open", 8: "Next due", 9: "Stage 阶段"}


def refresh(src: Path, dest: Path, *, aging_after: str | None = "Invoices") -> WorkbookPackage:
    """What a Refresh does to a book: styles, spliced columns, the table, an owned sheet."""
    pkg = WorkbookPackage.open(src)
    head = pkg.cell_style(None, bold=True, font_color="1F3864", fill="DDEBF7", halign="center")
    money, day = pkg.cell_style("#,##0.00"), pkg.cell_style("yyyy-mm-dd")
    cols = [OutColumn(7, HEADERS[7], head, money, "number", 12), OutColumn(8, HEADERS[8], head, day, "date", 12),
            OutColumn(9, HEADERS[9], head, 0, "text", 14)]
    splice_sheet(pkg, "Invoices", header_row=1, columns=cols, rows=ROWS, values=[OPEN, NEXT, STAGE])
    pkg.extend_table("Invoices", 1, 1, 9, HEADERS, last_row=N_INVOICES + 1)
    aging = render_sheet([[("Customer", head), ("Open", head)], ["ACME", (1234.5, money)], ["华为", (0.5, money)],
                          ["As of", date(2024, 6, 30)]], col_widths={1: 20}, date_style=day)
    pkg.set_sheet("Aging", aging, after=aging_after)
    pkg.save(dest)
    return pkg


def assert_ledger_intact(ws, kit) -> None:
    """The user's cells A1:F21 read back exactly as written."""
    assert kit.N == N_INVOICES and kit.HEADERS == USER_HEADERS
    assert [c.value for c in ws[1][:6]] == USER_HEADERS
    for r, row in enumerate(kit.invoice_rows(), start=2):
        got = [c.value for c in ws[r][:6]]
        assert got[:2] + got[4:] == row[:2] + row[4:]
        assert [got[2].date(), got[3].date()] == row[2:4]


# ------------------------------------------------------------------------------- the main case


def test_refresh_changes_only_owned_parts_and_readers_agree(rich_book, tmp_path, kit):
    before = kit.raw_members(rich_book)
    out = tmp_path / "out.xlsm"
    refresh(rich_book, out)
    after = kit.raw_members(out)
    changed = {"xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/tables/table1.xml", "xl/workbook.xml",
               "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}
    assert list(after)[: len(before)] == list(before)  # same members, same order; the new sheet last
    assert list(after)[len(before):] == ["xl/worksheets/sheet4.xml"]
    for name, raw in before.items():
        if name not in changed:
            assert after[name] == raw, f"{name} changed"
        else:
            assert after[name][3] == raw[3]  # a replaced member keeps its date
    assert after["xl/worksheets/sheet4.xml"][3] == (1980, 1, 1, 0, 0, 0)
    assert kit.zip_parts(out)["xl/vbaProject.bin"] == kit.VBA
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None

    wb = openpyxl.load_workbook(out, keep_vba=True)
    assert wb.sheetnames == ["Invoices", "Aging", "Customers", "Dashboard"]
    ws = wb["Invoices"]
    assert_ledger_intact(ws, kit)
    assert [c.value for c in ws[1][6:9]] == list(HEADERS.values())
    for i, r in enumerate(ROWS):
        g, h, k = (ws.cell(r, c).value for c in (7, 8, 9))
        assert g == (None if np.isnan(OPEN[i]) else OPEN[i])
        assert isinstance(h, datetime) and h.date() == NEXT[i].astype(object)
        assert k == (STAGE[i] or None)
    assert ws.cell(3, 7).number_format == "#,##0.00" and ws.cell(2, 8).number_format == "yyyy-mm-dd"
    assert ws.cell(1, 7).font.b and ws.cell(1, 7).fill.fgColor.rgb == "FFDDEBF7"
    table = ws.tables["tblInvoices"]
    assert table.ref == f"A1:I{N_INVOICES + 1}" and table.autoFilter.ref == table.ref
    assert [c.name for c in table.tableColumns] == ["InvoiceNo", "Customer", "InvoiceDate", "DueDate", "Amount", "Currency", *HEADERS.values()]
    assert [c.id for c in table.tableColumns] == list(range(1, 10))
    assert ws["B2"].comment.text == "Key account"
    assert wb.defined_names["AmountTotal"].attr_text == f"Invoices!$E$2:$E${N_INVOICES + 1}"
    aging = wb["Aging"]
    assert [[c.value for c in row] for row in aging.iter_rows()] == [
        ["Customer", "Open"], ["ACME", 1234.5], ["华为", 0.5], ["As of", datetime(2024, 6, 30)]]
    assert aging.freeze_panes == "A2" and aging.column_dimensions["A"].width == 20

    cal = CalamineWorkbook.from_path(str(out))
    assert cal.sheet_names == ["Invoices", "Aging", "Customers", "Dashboard"]
    grid = cal.get_sheet_by_name("Invoices").to_python()
    assert grid[0] == [*USER_HEADERS, *HEADERS.values()]
    for i, row in enumerate(grid[1:]):
        assert row[:2] + row[4:6] == kit.invoice_rows()[i][:2] + kit.invoice_rows()[i][4:]
        assert row[6] == ("" if np.isnan(OPEN[i]) else OPEN[i])
        assert row[7] in (NEXT[i].astype(object), datetime.combine(NEXT[i].astype(object), datetime.min.time()))
        assert row[8] == STAGE[i]
    assert cal.get_sheet_by_name("Customers").to_python()[2] == ["华为", "华为技术有限公司"]


def test_refresh_is_deterministic_and_idempotent(rich_book, tmp_path):
    a, b, c = tmp_path / "a.xlsm", tmp_path / "b.xlsm", tmp_path / "c.xlsm"
    refresh(rich_book, a)
    refresh(rich_book, b)
    assert a.read_bytes() == b.read_bytes()
    refresh(a, c, aging_after=None)  # Aging exists now: replaced in place
    assert c.read_bytes() == a.read_bytes()


def test_plain_book_and_absolute_targets(plain_book, tmp_path, kit):
    parts = kit.zip_parts(plain_book)
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b'Target="worksheets/sheet1.xml"', b'Target="/xl/worksheets/sheet1.xml"').replace(
        b'Target="/xl/worksheets/sheet2.xml"', b'Target="/xl/worksheets/sheet2.xml"')
    src = tmp_path / "abs.xlsx"
    kit.write_zip(src, parts)
    pkg = WorkbookPackage.open(src)
    assert pkg.sheet_names == ["Invoices", "Customers"]
    assert pkg.sheet_part("invoices") == "xl/worksheets/sheet1.xml"
    assert pkg.has_part("/XL/Worksheets/Sheet1.xml") and not pkg.has_part("xl/nothing.xml")
    out = tmp_path / "out.xlsx"
    refresh(src, out)
    ws = openpyxl.load_workbook(out)["Invoices"]
    assert_ledger_intact(ws, kit)
    assert ws.cell(1, 9).value == "Stage 阶段" and ws.cell(5, 9).value == "current"


def test_source_with_data_descriptors_is_rewritten_cleanly(plain_book, tmp_path, kit):
    src = tmp_path / "dd.xlsx"
    kit.write_zip(src, kit.zip_parts(plain_book), seekable=False)
    with zipfile.ZipFile(src) as z:
        assert all(i.flag_bits & 0x8 for i in z.infolist())
    out = tmp_path / "out.xlsx"
    refresh(src, out)
    before, after = kit.raw_members(src), kit.raw_members(out)
    assert after["xl/worksheets/sheet2.xml"] == before["xl/worksheets/sheet2.xml"]
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None and not any(i.flag_bits & 0x8 for i in z.infolist())
    assert_ledger_intact(openpyxl.load_workbook(out)["Invoices"], kit)


# ------------------------------------------------------------------------------- sheets


def test_new_sheet_names_ids_and_positions(filter_book, tmp_path):
    wb = openpyxl.load_workbook(filter_book)
    wb["Customers"].auto_filter.ref = "A1:B3"
    src = tmp_path / "two_filters.xlsx"
    wb.save(src)
    pkg = WorkbookPackage.open(src)
    name = "账龄分析" * 7 + "应收账款"  # 32 characters: one too many
    with pytest.raises(BookError, match="31"):
        pkg.set_sheet(name, render_sheet([]))
    for bad in ("a/b", "History", "'x", "[x]", ""):
        with pytest.raises(BookError):
            pkg.set_sheet(bad, render_sheet([]))
    part = pkg.set_sheet(name[:31], render_sheet([["账龄"]]), after="Invoices")
    assert part == "xl/worksheets/sheet3.xml"
    assert pkg.sheet_names == ["Invoices", name[:31], "Customers"]
    wbx = pkg.read("xl/workbook.xml").decode()
    assert re.findall(r'localSheetId="(\d)"', wbx) == ["0", "2"]
    assert len(set(re.findall(r'sheetId="(\d+)"', wbx))) == 3
    pkg.save(tmp_path / "out.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "out.xlsx")
    assert wb.sheetnames == ["Invoices", name[:31], "Customers"]
    assert wb[name[:31]]["A1"].value == "账龄" and wb["Customers"].auto_filter.ref == "A1:B3"


def test_chart_sheet_is_not_a_worksheet(tmp_path):
    wb = openpyxl.Workbook()
    wb.create_chartsheet("Chart")
    wb.save(tmp_path / "cs.xlsx")
    with pytest.raises(BookError, match="not a worksheet"):
        WorkbookPackage.open(tmp_path / "cs.xlsx").sheet_part("Chart")
    with pytest.raises(BookError, match="no sheet"):
        WorkbookPackage.open(tmp_path / "cs.xlsx").sheet_part("Nope")


@pytest.mark.parametrize("cells, formulas, columns, dropped", [
    ([("E2", 1)], {"E2": "1+1"}, [5], True),  # a formula in a column we overwrite
    ([("B3", 1)], {"B3": "1+1"}, [7], False),  # a formula elsewhere stays valid
    ([("E2", 2)], {}, [5], False),  # another sheet's formula
])
def test_calc_chain_dropped_only_when_a_formula_vanishes(plain_book, tmp_path, cells, formulas, columns, dropped, kit):
    src = tmp_path / "calc.xlsx"
    kit.add_calc_chain(plain_book, src, cells, formulas)
    pkg = WorkbookPackage.open(src)
    cols = [OutColumn(c, f"X{c}") for c in columns]
    xml = splice_columns(pkg.read(pkg.sheet_part("Invoices")), header_row=1, columns=cols, rows=[2], values=[[1.0]] * len(cols))
    pkg.set_sheet("Invoices", xml, cleared=(1, columns))
    pkg.save(tmp_path / "out.xlsx")
    parts = kit.zip_parts(tmp_path / "out.xlsx")
    assert ("xl/calcChain.xml" not in parts) is dropped
    assert (b"calcChain" not in parts["[Content_Types].xml"] + parts["xl/_rels/workbook.xml.rels"]) is dropped
    openpyxl.load_workbook(tmp_path / "out.xlsx")


def test_whole_sheet_replacement_drops_its_calc_chain(plain_book, tmp_path, kit):
    src = tmp_path / "calc.xlsx"
    kit.add_calc_chain(plain_book, src, [("B3", 1)], {"B3": "1+1"})
    pkg = WorkbookPackage.open(src)
    pkg.set_sheet("Invoices", render_sheet([["replaced"]]))
    assert "xl/calcChain.xml" in pkg.changed_parts and not pkg.has_part("xl/calcChain.xml")


# ------------------------------------------------------------------------------- styles, tables


def test_styles_are_reused_and_a_missing_style_sheet_is_created(tmp_path, kit):
    parts = {
        "[Content_Types].xml": b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        b'<Default Extension="xml" ContentType="application/xml"/>'
        b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
        b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'.encode(),
        "xl/_rels/workbook.xml.rels": b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
        b'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData></worksheet>'.encode(),
    }
    src = tmp_path / "bare.xlsx"
    kit.write_zip(src, parts)
    pkg = WorkbookPackage.open(src)
    money = pkg.cell_style("0.00")
    assert (money, pkg.cell_style("0.00"), pkg.cell_style()) == (1, 1, 0)
    bold = pkg.cell_style(bold=True, italic=True, font_color="#C00000")
    pkg.set_sheet("S", splice_columns(pkg.read("xl/worksheets/sheet1.xml"), header_row=1,
                                      columns=[OutColumn(2, "B", bold, money)], rows=[2], values=[[3.5]]))
    pkg.save(tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx")["S"]
    assert ws["B2"].value == 3.5 and ws["B2"].number_format == "0.00"
    assert ws["B1"].font.b and ws["B1"].font.i and ws["B1"].font.color.rgb == "FFC00000"
    again = WorkbookPackage.open(tmp_path / "out.xlsx")
    assert again.cell_style("0.00") == money and again.changed_parts == []


def test_existing_styles_stay_byte_identical_around_the_additions(table_book):
    pkg = WorkbookPackage.open(table_book)
    old = pkg.read("xl/styles.xml")
    assert pkg.cell_style("yyyy-mm-dd") == 1  # openpyxl already wrote this exact format
    assert pkg.changed_parts == []
    pkg.cell_style("#,##0.00;[Red]-#,##0.00", fill="DDEBF7")
    new = pkg.read("xl/styles.xml")
    assert re.sub(rb"<numFmt .*?/>|<fill><patternFill patternType=\"solid\">.*?</fill>|<xf [^>]*applyFill=\"1\"/>|count=\"\d+\"", b"", new) == \
        re.sub(rb"<numFmt .*?/>|count=\"\d+\"", b"", old)


def test_table_rules(table_book, tmp_path):
    pkg = WorkbookPackage.open(table_book)
    with pytest.raises(BookError, match=r'^Invoices!G1: this column lies between the Excel Table "\w+" and the columns '
                                        r"xl-ar writes, and has no header.*type a header in G1"):
        pkg.extend_table("Invoices", 1, 1, 8, {8: "Late"})
    with pytest.raises(BookError, match='already a column of the Excel Table'):
        pkg.extend_table("Invoices", 1, 1, 7, {7: "amount"})
    assert pkg.extend_table("Invoices", 2, 1, 7, {7: "X"}) == []  # header elsewhere: not our table
    assert pkg.extend_table("Invoices", 1, 1, 7, {7: "Late\nfee"}, last_row=30) == ["xl/tables/table1.xml"]
    x = pkg.read("xl/tables/table1.xml")
    assert b'ref="A1:G30"' in x and b'<tableColumn id="7" name="Late_x000a_fee"/>' in x and b'count="7"' in x
    assert pkg.extend_table("Invoices", 1, 1, 7, {7: "滞纳金"}) == ["xl/tables/table1.xml"]  # language switch
    assert 'name="滞纳金"'.encode() in pkg.read("xl/tables/table1.xml") and pkg.extend_table("Invoices", 1, 1, 7, {7: "滞纳金"}) == []


def test_sheet_autofilter_and_its_hidden_name_are_extended(filter_book, tmp_path, kit):
    pkg = WorkbookPackage.open(filter_book)
    assert pkg.extend_table("Invoices", 1, 1, 8, {7: "a", 8: "b"}, last_row=25) == ["xl/worksheets/sheet1.xml"]
    pkg.save(tmp_path / "out.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "out.xlsx")
    assert wb["Invoices"].auto_filter.ref == "A1:H25"
    assert b"Invoices!$A$1:$H$25</definedName>" in kit.zip_parts(tmp_path / "out.xlsx")["xl/workbook.xml"]


# ------------------------------------------------------------------------------- refusals


def test_not_a_workbook_is_refused(tmp_path, kit):
    (tmp_path / "x.xlsx").write_bytes(b"hello, not a zip")
    with pytest.raises(BookError, match="not an Excel workbook"):
        WorkbookPackage.open(tmp_path / "x.xlsx")
    (tmp_path / "enc.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    with pytest.raises(BookError, match="password-protected"):
        WorkbookPackage.open(tmp_path / "enc.xlsx")
    kit.write_zip(tmp_path / "empty.xlsx", {"a.txt": b"x"})
    with pytest.raises(BookError, match="Content_Types"):
        WorkbookPackage.open(tmp_path / "empty.xlsx")
    with pytest.raises(BookError, match="no such file"):
        WorkbookPackage.open(tmp_path / "missing.xlsx")


def test_zip_bombs_are_refused(plain_book, tmp_path, kit):
    parts = kit.zip_parts(plain_book)
    kit.write_zip(tmp_path / "ratio.xlsx", {**parts, "xl/media/zeros.bin": b"\0" * (30 << 20)})
    with pytest.raises(BookError, match="expands more than 200:1"):
        WorkbookPackage.open(tmp_path / "ratio.xlsx")
    with zipfile.ZipFile(tmp_path / "many.xlsx", "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
        for i in range(50_001 - len(parts) + 1):
            z.writestr(f"x/{i}", b"")
    with pytest.raises(BookError, match="zip members"):
        WorkbookPackage.open(tmp_path / "many.xlsx")
    lying = _patch_size(plain_book, tmp_path / "lying.xlsx", "docProps/app.xml", 3 << 30)
    with pytest.raises(BookError, match="expand"):
        WorkbookPackage.open(lying)
    short = _patch_size(plain_book, tmp_path / "short.xlsx", "docProps/app.xml", 10)
    with pytest.raises(BookError, match="corrupt"):
        WorkbookPackage.open(short).read("docProps/app.xml")


def _patch_size(src: Path, dest: Path, member: str, size: int) -> Path:
    """Copy ``src`` with ``member``'s declared uncompressed size replaced (central directory)."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(member)
    at = 0
    while True:
        at = data.find(b"PK\x01\x02", at)
        n = struct.unpack("<H", data[at + 28: at + 30])[0]
        if data[at + 46: at + 46 + n] == member.encode():
            break
        at += 4
    assert struct.unpack("<L", data[at + 24: at + 28])[0] == info.file_size
    data[at + 24: at + 28] = struct.pack("<L", min(size, 0xFFFFFFFE))
    dest.write_bytes(bytes(data))
    return dest


def test_xml_bomb_in_workbook_is_refused(plain_book, tmp_path, kit):
    parts = kit.zip_parts(plain_book)
    lol = "".join(f'<!ENTITY lol{i} "{"&lol%d;" % (i - 1) * 10}">' for i in range(1, 10))
    parts["xl/workbook.xml"] = (f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{lol}]>'.encode()
                                + parts["xl/workbook.xml"].split(b"?>", 1)[-1].replace(b"<sheets>", b"<sheets>&lol9;", 1))
    kit.write_zip(tmp_path / "bomb.xlsx", parts)
    with pytest.raises(BookError, match="DOCTYPE"):
        WorkbookPackage.open(tmp_path / "bomb.xlsx")


# ------------------------------------------------------------------------------- files


@pytest.mark.parametrize("lock", ["~$plain.xlsx", "~$ain.xlsx", ".~lock.plain.xlsx#"])
def test_open_workbooks_are_not_touched(plain_book, lock):
    original = plain_book.read_bytes()
    check_not_open(plain_book)
    (plain_book.parent / lock).write_bytes(b"owner")
    with pytest.raises(BookLockedError, match=re.escape(lock)):
        check_not_open(plain_book)
    pkg = WorkbookPackage.open(plain_book)
    pkg.cell_style("0.0")
    with pytest.raises(BookLockedError):
        pkg.save()
    assert plain_book.read_bytes() == original


def test_backups_are_named_by_time_and_pruned(plain_book):
    base = datetime(2024, 3, 1, 9, 0, 0)
    first = backup(plain_book, now=base)
    assert first == plain_book.parent / ".xl-ar-backups" / "plain.20240301-090000.xlsx"
    assert first.read_bytes() == plain_book.read_bytes()
    assert backup(plain_book, now=base).name == "plain.20240301-090000-1.xlsx"
    for i in range(1, 21):
        backup(plain_book, now=base + timedelta(seconds=i))
    kept = sorted(p.name for p in first.parent.iterdir())
    assert len(kept) == 20 and "plain.20240301-090000.xlsx" not in kept and "plain.20240301-090000-1.xlsx" not in kept
    assert kept[-1] == "plain.20240301-090020.xlsx"


def test_save_is_atomic_and_a_failure_leaves_the_original(plain_book, tmp_path):
    original = plain_book.read_bytes()
    pkg = WorkbookPackage.open(plain_book)
    style = pkg.cell_style("0.000")
    seen: list[str] = []

    def explode(name: str) -> None:
        seen.append(name)
        if len(seen) == 3:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        pkg.save(progress=explode)
    assert plain_book.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["plain.xlsx"]
    saved = pkg.save(backup_dir=tmp_path / "bk")
    assert saved == plain_book and sorted(os.listdir(tmp_path)) == ["bk", "plain.xlsx"]
    assert (tmp_path / "bk").iterdir().__next__().read_bytes() == original
    assert pkg.changed_parts == [] and pkg.cell_style("0.000") == style and pkg.changed_parts == []


def test_save_refuses_when_the_file_changed_underneath(plain_book):
    pkg = WorkbookPackage.open(plain_book)
    os.utime(plain_book, ns=(1, 1))
    with pytest.raises(BookError, match="changed on disk"):
        pkg.save()


def test_differs_tells_a_real_change_from_the_same_bytes_set_again(plain_book):
    pkg = WorkbookPackage.open(plain_book)
    part = pkg.sheet_part(pkg.sheet_names[0])
    original = pkg.read(part)
    pkg.set_part(part, original)
    assert part in pkg.changed_parts and not pkg.differs(part)
    pkg.set_part(part, original.replace(b"</sheetData>", b"</sheetData>", 1) + b"")
    assert not pkg.differs(part)
    pkg.set_part(part, original[:-1] + b" ")  # same size, other bytes
    assert pkg.differs(part)
    pkg.set_part("xl/new.xml", b"<x/>")
    assert pkg.differs("xl/new.xml")
    assert not pkg.differs("xl/workbook.xml")  # untouched
