"""The corpus: generated workbooks (messy but valid, broken, hostile, faults), each with the
outcome ``xl-ar`` must give.

Run ``python tests/corpus/cases.py`` to print the table kept in ``docs/corpus.md``.

Each case names: the command, the exit code (0 done, 1 errors in the ledger and nothing
written, 2 the file refused and nothing written), text the output must hold (the cell as
``Sheet!A1`` or the zip part), and which parts may change (``none``: the file stays
byte-identical).
"""

from __future__ import annotations

import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build import (AS_OF, CUSTOMERS, D, INVOICES, RECEIPTS, add_cell, deflate_bomb, edit_part, edit_sheet,  # noqa: E402
                   invoice_cell, ledger, parts, patch_declared_size, rezip, set_cell_xml, shared_strings,
                   shared_strings_bomb, sheet_part)


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # messy | broken | hostile | fault
    what: str
    build: Callable[[Path], Path]
    command: str
    exit: int
    expect: str  # must appear in the output
    changes: str  # "none" | "ledger" (the ledger sheets, their tables, styles, workbook; never the rest)
    args: tuple[str, ...] = ("--as-of", AS_OF)  # after the command and the workbook


CASES: list[Case] = []


def case(name: str, kind: str, what: str, command: str, exit: int, expect: str, changes: str | None = None,
         args: tuple[str, ...] = ("--as-of", AS_OF)):
    def deco(fn: Callable[[Path], Path]) -> Callable[[Path], Path]:
        CASES.append(Case(name, kind, what, fn, command, exit, expect,
                          changes or ("ledger" if exit == 0 and command == "refresh" else "none"), args))
        return fn
    return deco


def _cell(ref: str, xml: bytes) -> Callable[[Path], Path]:
    return lambda p: edit_sheet(ledger(p), "Invoices", lambda x: set_cell_xml(x, ref, xml))


def _settings(**kv) -> Callable[[Path], Path]:
    return lambda p: ledger(p, settings=kv)


def _amount(v) -> Callable[[Path], Path]:
    return lambda p: ledger(p, invoices=invoice_cell(amount=v))


def _due(v) -> Callable[[Path], Path]:
    return lambda p: ledger(p, invoices=invoice_cell(due=v))


def _doctype(part_of: Callable[[Path], str], inner: bytes = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'):
    def build(p: Path) -> Path:
        ledger(p)
        part = part_of(p)
        return edit_part(p, part, lambda x: x.replace(b"?>", b"?>" + inner, 1) if x.startswith(b"<?xml") else inner + x)
    return build


# ----------------------------------------------------------------------------- messy but valid
for name, what, build in [
    ("clean", "a clean ledger written by openpyxl", lambda p: ledger(p)),
    ("chinese", "Chinese sheet names and headers", lambda p: ledger(p, lang="zh")),
    ("shared-strings", "text in shared strings, as Excel writes it", lambda p: shared_strings(ledger(p))),
    ("far-cell", "one value typed in XFD1048576", lambda p: edit_sheet(ledger(p), "Invoices", lambda x: add_cell(x, "XFD1048576", b"<v>1</v>"))),
    ("far-cell-shared", "a far value in a shared-strings book", lambda p: edit_sheet(shared_strings(ledger(p)), "Invoices", lambda x: add_cell(x, "ZZ900000", b"<v>7</v>"))),
    ("text-amounts", "amounts typed as text with currency signs and grouping", _amount("¥10,000.00")),
    ("paren-negative", "a credit note typed as (1,234.50)", lambda p: ledger(p, invoices=INVOICES + [["CN9", "C1", D(2025, 3, 1), None, "(1,234.50)", "CNY", "", "", "", ""]])),
    ("decimal-comma-set", "1.234,50 with DecimalSeparator ,", lambda p: ledger(p, invoices=invoice_cell(amount="10.000,00"), settings={"DecimalSeparator": ","})),
    ("amount-1e12", "an amount of a trillion (under the bound)", _amount(1e12)),
    ("formula-text", "text that looks like a formula in a description", lambda p: ledger(p, invoices=invoice_cell(d7="=cmd|' /C calc'!A0"))),
    ("long-text", "a description of 100,000 characters", lambda p: ledger(p, invoices=invoice_cell(d7="x" * 100_000))),
    ("markup-name", "console markup in a customer name", lambda p: ledger(p, customers=[["C1", "[red]Evil[/] [/]", "A", "", "", "", 30, 1.0, "", "zh"], ["C2", "B", "B", "", "", "", 60, 1.0, "", "en"]])),
    ("formula-cached", "a formula with its cached value", _cell("E3", b'<c r="E3"><f>10000*2</f><v>20000</v></c>')),
    ("title-rows", "two title rows above the header", lambda p: ledger(p, edit=lambda wb: wb["Invoices"].insert_rows(1, 2))),
    ("settings-blank", "every setting blank", _settings(AsOfDate=None, LateFeeRate=None)),
]:
    case(name, "messy", what, "refresh", 0, "written")(build)

# Written, with a warning naming both cells: the currency cell is what counts.
for name, what, build, where in [
    ("usd-receipt-cny-invoice", "a USD receipt naming a CNY invoice",
     lambda p: ledger(p, receipts=[RECEIPTS[0][:4] + ["USD", "I2"], RECEIPTS[1]]), "Receipts!E2: receipt in USD names invoice \"I2\" in CNY (Invoices!F3)"),
    ("dollar-on-cny", "$10,000.00 on an invoice in CNY", _amount("$10,000.00"), "Invoices!E2: amount \"$10,000.00\" is written with \"$\" but its currency (Invoices!F2) is CNY"),
    ("us-dollar-on-cny", "US$10,000.00 on an invoice in CNY", _amount("US$10,000.00"), "Invoices!E2"),
    ("euro-on-usd", "€1,234.56 on an invoice in USD", lambda p: ledger(p, invoices=INVOICES[:3] + [INVOICES[3][:4] + ["€1,234.56"] + INVOICES[3][5:]]), "Invoices!E5"),
]:
    case(name, "messy", what, "refresh", 0, where)(build)



def long_cells(p: Path) -> Path:
    """C1's name and I1's description of 100,000 characters (openpyxl would cut them: edited in the XML)."""
    ledger(p, customers=[["C1", "LONGNAME"] + CUSTOMERS[0][2:], CUSTOMERS[1]], invoices=invoice_cell(d7="LONGDESC"))
    return rezip(p, {n: b.replace(b"LONGNAME", b"N" * 100_000).replace(b"LONGDESC", b"D" * 100_000)
                     for n, b in parts(p).items() if b"LONG" in b})


case("cells-100k", "messy", "a name and a description of 100,000 characters (Excel holds 32,767)", "refresh", 0,
     "Customers!B2: name of 100,000 characters is longer than the 32,767 an Excel cell holds")(long_cells)

case("check-clean", "messy", "check writes nothing", "check", 0, "tie-out")(lambda p: ledger(p))
case("markup-path", "messy", "a file name with console markup", "refresh", 0, "[red]book.xlsx")(
    lambda p: ledger(p.with_name("[red]book.xlsx")))



def _hostile_ids(p: Path) -> Path:
    """C1's id holds BEL (stored ``_x0007_``, as Excel stores it), C2's id is 300 characters long."""
    ids = {"C1": "CTRLID", "C2": "L" * 300}
    ledger(p, customers=[[ids[c[0]]] + c[1:] for c in CUSTOMERS],
           invoices=[[r[0], ids[r[1]]] + r[2:] for r in INVOICES],
           receipts=[[r[0], ids[r[1]]] + r[2:] for r in RECEIPTS])
    return rezip(p, {n: b.replace(b"CTRLID", b"_x0007_C1") for n, b in parts(p).items() if b"CTRLID" in b})


_PERIOD = ("--from", "2025-01-01", "--to", AS_OF)
case("statement-ids", "messy", "statements for ids with a control character and of 300 characters",
     "statements", 0, "written 4 file(s)", args=_PERIOD)(_hostile_ids)
case("statement-ids-names", "messy", "their file names: safe, bounded, told apart by a digest",
     "statements", 0, "ST-C1-5478d2ef-20250101-20250331.xlsx", args=(*_PERIOD, "--json"))(_hostile_ids)

# ----------------------------------------------------------------------------- broken: cells
for name, what, build, where in [
    ("decimal-comma", '"1.234,50" without DecimalSeparator', _amount("1.234,50"), "Invoices!E2"),
    ("decimal-comma-space", '"1 234,50"', _amount("1 234,50"), "Invoices!E2"),
    ("decimal-comma-short", '"12,50"', _amount("12,50"), "Invoices!E2"),
    ("amount-9e18", "an amount of 9e18", _amount(9e18), "Invoices!E2"),
    ("amount-1e15", "an amount of 1e15", _amount(1e15), "Invoices!E2"),
    ("amount-minus-1e14", "an amount of -1e14", _amount(-1e14), "Invoices!E2"),
    ("fee-rate-1e300", "LateFeeRate 1e300", _settings(LateFeeRate=1e300), "Settings!B8"),
    ("fee-rate-percent-day", "LateFeeRate 0.5 a day", _settings(LateFeeRate=0.5), "Settings!B8"),
    ("na-due", "#N/A as due date", _cell("D2", b'<c r="D2" t="e"><f>VLOOKUP(A2,X,2,0)</f><v>#N/A</v></c>'), "Invoices!D2"),
    ("ref-amount", "#REF! as amount", _cell("E3", b'<c r="E3" t="e"><v>#REF!</v></c>'), "Invoices!E3"),
    ("value-customer", "#VALUE! as customer", _cell("B2", b'<c r="B2" t="e"><v>#VALUE!</v></c>'), "Invoices!B2"),
    ("formula-no-value", "a formula saved without its value", _cell("E2", b'<c r="E2"><f>SUM(A1:A2)</f></c>'), "Invoices!E2"),
    ("negative-serial", "due date serial -5", _due(-5), "Invoices!D2"),
    ("day-first", "due date 01/02/2025", _due("01/02/2025"), "Invoices!D2"),
    ("markup-cell", "a bad date written [/]", _due("[/]"), "[/]"),
    ("bad-decimal-setting", "DecimalSeparator ;", _settings(DecimalSeparator=";"), "Settings!B"),
]:
    case(name, "broken", what, "refresh", 1, where)(build)

# ----------------------------------------------------------------------------- broken: files


def _chartsheet(p: Path) -> Path:
    def edit(wb):
        del wb["Invoices"]
        wb.create_chartsheet("Invoices")
    return ledger(p, edit=edit)


def _two_invoice_sheets(p: Path) -> Path:
    return ledger(p, edit=lambda wb: setattr(wb.copy_worksheet(wb["Invoices"]), "title", "发票"))


def _corrupt_deflate(p: Path) -> Path:
    ledger(p)
    part = sheet_part(p, "Invoices")
    with zipfile.ZipFile(p) as z:
        info = z.getinfo(part)
    data = bytearray(p.read_bytes())
    start = info.header_offset + 30 + len(part.encode())
    for i in range(start + 10, start + 40):
        data[i] ^= 0x5A
    p.write_bytes(bytes(data))
    return p


for name, what, build, expect in [
    ("directory", "a folder given as the workbook", lambda p: (p.mkdir(), p)[1], "is a folder"),
    ("missing", "no such file", lambda p: p, "does not exist"),
    ("empty-file", "an empty file", lambda p: (p.write_bytes(b""), p)[1], "not an Excel workbook"),
    ("text-file", "a CSV renamed .xlsx", lambda p: (p.write_text("a,b\n1,2\n"), p)[1], "not an Excel workbook"),
    ("truncated-zip", "a workbook cut in half", lambda p: (p.write_bytes(ledger(p).read_bytes()[:5000]), p)[1], "not an Excel workbook"),
    ("ole-file", "an encrypted or .xls file", lambda p: (p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)), p)[1], "password-protected or an old .xls"),
    ("ods", "an OpenDocument spreadsheet", lambda p: rezip(p, {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<a/>"}) if p.write_bytes(b"PK\x05\x06" + bytes(18)) is None else p, "not an Excel workbook"),
    ("no-content-types", "no [Content_Types].xml", lambda p: rezip(ledger(p), {"[Content_Types].xml": None}), "[Content_Types].xml"),
    ("no-workbook", "no workbook part", lambda p: rezip(ledger(p), {"xl/workbook.xml": None}), "no workbook part"),
    ("missing-sheet-part", "the Invoices part deleted", lambda p: rezip(ledger(p), {"xl/worksheets/sheet3.xml": None}), "xl/worksheets/sheet3.xml"),
    ("malformed-sheet", "a sheet's XML not well-formed", lambda p: edit_sheet(ledger(p), "Invoices", lambda x: x.replace(b"</sheetData>", b"<row></sheetData>")), "xl/worksheets/sheet3.xml is not well-formed"),
    ("malformed-styles", "styles.xml not well-formed", lambda p: edit_part(ledger(p), "xl/styles.xml", lambda x: x[:-20]), "xl/styles.xml is not well-formed"),
    ("malformed-table", "a table part not well-formed", lambda p: edit_part(ledger(p), "xl/tables/table3.xml", lambda x: x[:-5]), "xl/tables/table3.xml"),
    ("sst-index", "a shared-string index out of range", lambda p: edit_sheet(shared_strings(ledger(p)), "Invoices", lambda x: x.replace(b'<c r="A2" t="s"><v>', b'<c r="A2" t="s"><v>99999', 1)), "sheet3.xml) cannot be read"),
    ("corrupt-deflate", "corrupt deflate data in a sheet", _corrupt_deflate, "xl/worksheets/sheet3.xml"),
    ("crc-mismatch", "a sheet whose CRC does not match", lambda p: _crc(ledger(p)), "xl/worksheets/sheet3.xml"),
    ("chartsheet-invoices", "a chart sheet named Invoices", _chartsheet, "is a chart sheet"),
    ("two-invoice-sheets", "Invoices and 发票 both present", _two_invoice_sheets, "'Invoices' and '发票'"),
    ("strict", "a Strict Open XML workbook", lambda p: edit_part(ledger(p), "xl/workbook.xml", lambda x: x.replace(b"http://schemas.openxmlformats.org/spreadsheetml/2006/main", b"http://purl.oclc.org/ooxml/spreadsheetml/main")), "Strict Open XML"),
    ("date1904", "a 1904-date-system workbook", lambda p: edit_part(ledger(p), "xl/workbook.xml", lambda x: x.replace(b"<workbookPr/>", b'<workbookPr date1904="1"/>')), "1904 date system"),
]:
    case(name, "broken", what, "refresh", 2, expect)(build)


def _crc(p: Path) -> Path:
    part = sheet_part(p, "Invoices")
    data = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.getinfo(part)
    import struct
    struct.pack_into("<L", data, info.header_offset + 14, info.CRC ^ 1)
    c = data.find(b"PK\x01\x02")
    while c != -1:
        n = struct.unpack_from("<H", data, c + 28)[0]
        if bytes(data[c + 46:c + 46 + n]) == part.encode():
            struct.pack_into("<L", data, c + 16, info.CRC ^ 1)
        c = data.find(b"PK\x01\x02", c + 4)
    p.write_bytes(bytes(data))
    return p


# ----------------------------------------------------------------------------- hostile


def _ratio_bomb(p: Path) -> Path:
    ledger(p)
    comp, size = deflate_bomb(64 << 20)
    with zipfile.ZipFile(p, "a") as z:
        info = zipfile.ZipInfo("xl/media/bomb.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, b"")  # placeholder, replaced below
    return _swap_member(p, "xl/media/bomb.bin", comp, size)


def _swap_member(p: Path, member: str, comp: bytes, size: int) -> Path:
    """Put raw deflate data in place of a member written empty, with true sizes and CRC."""
    import struct
    import zlib
    data = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as z:
        info = z.getinfo(member)
    crc = 0
    chunk = bytes(1 << 20)
    for _ in range(size >> 20):
        crc = zlib.crc32(chunk, crc)
    head = info.header_offset
    n, e = struct.unpack_from("<HH", data, head + 26)
    start = head + 30 + n + e
    old_len = info.compress_size
    new = data[:start] + comp + data[start + old_len:]
    struct.pack_into("<LLL", new, head + 14, crc, len(comp), size)
    delta = len(comp) - old_len
    c = new.find(b"PK\x01\x02")
    while c != -1:
        nl = struct.unpack_from("<H", new, c + 28)[0]
        name = bytes(new[c + 46:c + 46 + nl])
        off = struct.unpack_from("<L", new, c + 42)[0]
        if name == member.encode():
            struct.pack_into("<LLL", new, c + 16, crc, len(comp), size)
        elif off > head:
            struct.pack_into("<L", new, c + 42, off + delta)
        c = new.find(b"PK\x01\x02", c + 4)
    eocd = new.rfind(b"PK\x05\x06")
    cd_off = struct.unpack_from("<L", new, eocd + 16)[0]
    struct.pack_into("<L", new, eocd + 16, cd_off + delta)
    p.write_bytes(bytes(new))
    return p


def _lying_size(p: Path) -> Path:
    """The Invoices sheet inflates far past the size its headers declare."""
    edit_sheet(ledger(p), "Invoices", lambda x: x.replace(b"</worksheet>", b"<!--" + b"a" * (20 << 20) + b"--></worksheet>"))
    return patch_declared_size(p, sheet_part(p, "Invoices"), 4096)


def _many_members(p: Path) -> Path:
    ledger(p)
    with zipfile.ZipFile(p, "a", zipfile.ZIP_STORED) as z:
        for i in range(50_001):
            z.writestr(f"customXml/x{i}.xml", b"")
    return p


def _huge_declared(p: Path) -> Path:
    ledger(p)
    with zipfile.ZipFile(p, "a") as z:
        z.writestr("xl/media/big.bin", b"x")
    return patch_declared_size(p, "xl/media/big.bin", 0xFFFFFFF0)


def _far_header(p: Path) -> Path:
    return edit_sheet(ledger(p), "Invoices", lambda x: add_cell(x, "A1048576", b"<v>1</v>").replace(
        b"</row>", b'<c r="XFD1"><v>1</v></c></row>', 1))


for name, what, build, expect in [
    ("laughs-shared-strings", "billion laughs in the shared strings", lambda p: shared_strings_bomb(shared_strings(ledger(p))), "xl/sharedStrings.xml declares a DOCTYPE"),
    ("xxe-sheet", "an external entity in the Invoices sheet", _doctype(lambda p: sheet_part(p, "Invoices")), "sheet3.xml declares a DOCTYPE"),
    ("xxe-styles", "an external entity in styles.xml", _doctype(lambda p: "xl/styles.xml"), "xl/styles.xml declares a DOCTYPE"),
    ("xxe-workbook", "a DOCTYPE in workbook.xml", _doctype(lambda p: "xl/workbook.xml"), "xl/workbook.xml"),
    ("xxe-rels", "a DOCTYPE in the workbook's relationships", _doctype(lambda p: "xl/_rels/workbook.xml.rels"), "workbook.xml.rels"),
    ("xxe-table", "a DOCTYPE in a table part", _doctype(lambda p: "xl/tables/table3.xml"), "xl/tables/table3.xml declares a DOCTYPE"),
    ("xxe-content-types", "a DOCTYPE in [Content_Types].xml", _doctype(lambda p: "[Content_Types].xml"), "[Content_Types].xml"),
    ("ratio-bomb", "a 64 MiB member deflated 1000:1", _ratio_bomb, "zip bomb"),
    ("lying-size", "a sheet inflating past its declared size", _lying_size, "xl/worksheets/sheet3.xml"),
    ("huge-declared", "a member declaring 4 GiB", _huge_declared, "MiB allowed"),
    ("many-members", "50,001 zip members", _many_members, "more than the 50000 allowed"),
    ("far-header", "XFD1 in the header row and a value in A1048576", _far_header, "Invoices!XFD1048576"),
]:
    case(name, "hostile", what, "check", 2, expect)(build)



def _templates(source: str) -> Callable[[Path], Path]:
    """A Templates sheet overriding every letter's text with ``source`` (the zh dunning letter is in B6)."""
    def edit(wb):
        ws = wb.create_sheet("Templates")
        ws.append(["Name", "Template"])
        for kind in ("reminder", "overdue", "dunning", "lawyer"):
            for lang in ("zh", "en"):
                ws.append([f"{kind}.{lang}.text", source])
    return lambda p: ledger(p, edit=edit, settings={"SenderEmail": "ar@example.com", "CompanyName": "X"})


for name, what, source in [
    ("template-nested-loops", "a template of nested range() loops (10^10 turns)",
     "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"),
    ("template-join-growth", "a template doubling its text with |join",
     "{% set ns = namespace(s='xxxxxxxxxx') %}{% for i in range(60) %}{% set ns.s = [ns.s, ns.s]|join %}{% endfor %}"),
    ("template-width", "a template asking |center for a width of a billion", "{{ 'x'|center(1000000000) }}"),
]:
    # The run goes on without the refused letters: the Outbox lists what rendered (exit 1 = errors).
    case(name, "hostile", what, "reminders", 1, "Templates!B6", "outbox")(_templates(source))

# ----------------------------------------------------------------------------- faults


def _read_only(p: Path) -> Path:
    ledger(p).chmod(0o444)
    return p


def _hard_link(p: Path) -> Path:
    os.link(ledger(p), p.with_name("other.xlsx"))
    return p


def _excel_open(p: Path) -> Path:
    ledger(p)
    p.with_name("~$" + p.name).write_bytes(b"owner")
    return p


def _symlink(p: Path) -> Path:
    real = ledger(p.with_name("real.xlsx"))
    p.symlink_to(real)
    return p


for name, what, build, code, expect in [
    ("read-only", "a read-only workbook", _read_only, 2, "is read-only"),
    ("hard-link", "a workbook with a second hard link", _hard_link, 2, "hard links"),
    ("open-in-excel", "an Excel owner file beside the workbook", _excel_open, 2, "is open in Excel"),
    ("symlink", "a workbook reached through a symbolic link", _symlink, 0, "written"),
]:
    case(name, "fault", what, "refresh", code, expect)(build)


def markdown() -> str:
    """The table of ``docs/corpus.md``."""
    lines = ["# The corpus of hostile and broken workbooks", "",
             "Generated by `tests/corpus/cases.py` and run by `tests/corpus/test_corpus.py` (the real `xl-ar` "
             "command on each). Exit 0: done; 1: errors in the ledger, nothing written; 2: the file is refused, "
             "nothing written. *Parts changed*: `none` = the file stays byte-identical; `ledger` = only the "
             "ledger sheets, their tables, styles and the workbook part may change; `outbox` = the reminders "
             "run writes its Outbox sheet without the refused letters. A full disk during "
             "the write and a concurrent run are in `tests/book/test_files.py`; a refresh and a send "
             "killed at every step in `tests/test_faults.py`; each template attack, measured in its "
             "own process, in `tests/documents/test_sandbox.py`.",
             "", f"{len(CASES)} cases.", "",
             "| case | kind | input | command | exit | output names | parts changed |",
             "|---|---|---|---|---|---|---|"]
    for c in CASES:
        expect = c.expect.replace("|", "\\|")
        command = c.command + ("" if c.args == ("--as-of", AS_OF) else " " + " ".join(c.args))
        lines.append(f"| {c.name} | {c.kind} | {c.what.replace('|', chr(92) + '|')} | {command} | {c.exit} | `{expect}` | {c.changes} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
