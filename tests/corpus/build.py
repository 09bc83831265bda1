"""Building blocks of the corpus: a clean ledger written by openpyxl, and edits of its zip.

Every input of the corpus is generated here at test time (no binary is kept in the repository):
a workbook written by a real writer, then changed the way a messy ledger, a broken file or an
attacker would change it.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Mapping

import openpyxl

from xl_ar.book.newbook import build_ledger_workbook

D = dt.date
AS_OF = "2025-03-31"

CUSTOMERS = [
    ["C1", "上海华信贸易有限公司", "A", "王经理", "ap@huaxin.example", "13800000000", 30, 100000.0, "张伟", "zh"],
    ["C2", "Harbor Logistics Ltd", "B", "Ms. Lee", "ap@harbor.example", "", 60, 50000.0, "Tom Chen", "en"],
]
INVOICES = [
    ["I1", "C1", D(2025, 1, 1), D(2025, 1, 31), 10000.00, "CNY", "HT1", "货款", "", ""],
    ["I2", "C1", D(2025, 2, 1), D(2025, 3, 3), 20000.00, "CNY", "HT1", "货款", "", ""],
    ["I3", "C2", D(2024, 11, 5), D(2024, 12, 5), 5000.00, "CNY", "", "Goods", "", ""],
    ["I4", "C2", D(2025, 3, 20), D(2025, 4, 19), 1234.56, "USD", "", "Service", "", ""],
]
RECEIPTS = [
    ["R1", "C1", D(2025, 2, 10), 4000.00, "CNY", "I2"],
    ["R2", "C2", D(2025, 2, 1), 5000.00, "CNY", ""],
]
#: Invoices!E is the amount column of the ledger above, D the due date, A the number.
AMOUNT, DUE = "E", "D"


def ledger(path: Path, *, invoices=INVOICES, receipts=RECEIPTS, customers=CUSTOMERS,
           settings: Mapping[str, object] | None = None, lang: str = "en",
           edit: Callable[[openpyxl.Workbook], None] | None = None) -> Path:
    """Write a clean ledger (openpyxl), optionally changed through openpyxl before saving."""
    wb = build_ledger_workbook(lang, {"Customers": customers, "Invoices": invoices, "Receipts": receipts})
    if settings:
        ws = wb.worksheets[0]
        keys = {str(ws.cell(r, 1).value): r for r in range(1, ws.max_row + 1)}
        for k, v in settings.items():
            r = keys.get(k) or ws.max_row + 1
            ws.cell(r, 1, k)
            ws.cell(r, 2, v)
    if edit is not None:
        edit(wb)
    wb.save(path)
    return path


def invoice_cell(amount=None, due=None, **more) -> list:
    """The invoice rows with the first row's amount and/or due date replaced."""
    rows = [list(r) for r in INVOICES]
    if amount is not None:
        rows[0][4] = amount
    if due is not None:
        rows[0][3] = due
    for k, v in more.items():
        rows[0][int(k[1:])] = v
    return rows


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def rezip(path: Path, changes: Mapping[str, bytes | None] = {}, *, order: list[str] | None = None,
          method: int = zipfile.ZIP_DEFLATED) -> Path:
    """Rewrite a zip with parts replaced (None deletes), added, in the same order."""
    old = parts(path)
    names = order or list(old) + [n for n in changes if n not in old]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for n in names:
            data = changes.get(n, old.get(n)) if n in changes else old.get(n)
            if data is not None:
                z.writestr(n, data)
    path.write_bytes(buf.getvalue())
    return path


def sheet_part(path: Path, name: str) -> str:
    """The part of a worksheet, from workbook.xml and its rels."""
    p = parts(path)
    wb = p["xl/workbook.xml"].decode()
    rid = re.search(r'<sheet [^>]*name="' + re.escape(name) + r'"[^>]*r:id="([^"]+)"', wb).group(1)
    rels = p["xl/_rels/workbook.xml.rels"].decode()
    target = re.search(r'<Relationship [^>]*Id="' + rid + r'"[^>]*Target="([^"]+)"', rels)
    if target is None:
        target = re.search(r'<Relationship [^>]*Target="([^"]+)"[^>]*Id="' + rid + '"', rels)
    t = target.group(1).lstrip("/")
    return t if t.startswith("xl/") else "xl/" + t


def edit_part(path: Path, part: str, fn: Callable[[bytes], bytes]) -> Path:
    return rezip(path, {part: fn(parts(path)[part])})


def edit_sheet(path: Path, name: str, fn: Callable[[bytes], bytes]) -> Path:
    return edit_part(path, sheet_part(path, name), fn)


def add_cell(xml: bytes, ref: str, inner: bytes, attrs: bytes = b"") -> bytes:
    """Append a cell in a new last row (``ref`` must be below every existing row)."""
    row = re.match(r"[A-Z]+(\d+)", ref).group(1)
    cell = b'<row r="' + row.encode() + b'"><c r="' + ref.encode() + b'"' + attrs + b">" + inner + b"</c></row>"
    return xml.replace(b"</sheetData>", cell + b"</sheetData>", 1)


def set_cell_xml(xml: bytes, ref: str, new_cell: bytes) -> bytes:
    """Replace the whole ``<c r="ref" ...>...</c>`` element."""
    pat = rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)'
    out, n = re.subn(pat, new_cell, xml, count=1, flags=re.S)
    assert n == 1, ref
    return out


def shared_strings_bomb(path: Path) -> Path:
    """A billion-laughs DOCTYPE in the shared strings."""
    ent = b'<!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)) + b"]>"
    return edit_part(path, "xl/sharedStrings.xml", lambda x: x.replace(b"?>", b"?>" + ent, 1) if x.startswith(b"<?xml") else ent + x)


def deflate_bomb(size: int) -> tuple[bytes, int]:
    """Raw deflate of ``size`` zero bytes (the ratio is ~1000:1)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = []
    chunk = b"\0" * (1 << 20)
    for _ in range(size >> 20):
        out.append(c.compress(chunk))
    out.append(c.flush())
    return b"".join(out), size


def patch_declared_size(path: Path, member: str, declared: int) -> Path:
    """Lie about a member's uncompressed size in both headers (the data stays as it is)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    name = member.encode()
    # central directory entry: signature, then the sizes at fixed offsets
    c = data.find(b"PK\x01\x02" + b"".ljust(0))
    while c != -1:
        n_len = struct.unpack_from("<H", data, c + 28)[0]
        if bytes(data[c + 46:c + 46 + n_len]) == name:
            struct.pack_into("<L", data, c + 24, declared)
        c = data.find(b"PK\x01\x02", c + 4)
    struct.pack_into("<L", data, info.header_offset + 22, declared)
    path.write_bytes(bytes(data))
    return path


def shared_strings(path: Path) -> Path:
    """Move every inline string into xl/sharedStrings.xml (what Excel itself writes)."""
    p = parts(path)
    table: dict[str, int] = {}

    def repl(m: re.Match[bytes]) -> bytes:
        text = m.group(3).decode()
        i = table.setdefault(text, len(table))
        return m.group(1) + b' t="s"' + m.group(2) + b"><v>" + str(i).encode() + b"</v></c>"

    changes: dict[str, bytes | None] = {}
    for name, data in p.items():
        if name.startswith("xl/worksheets/sheet"):
            changes[name] = re.sub(rb'(<c r="[A-Z]+\d+"(?: s="\d+")?) t="inlineStr"([^>]*)><is><t(?: [^>]*)?>(.*?)</t></is></c>',
                                   repl, data, flags=re.S)
    sst = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">' % (len(table), len(table))
    sst += b"".join(b"<si><t>" + t.encode() + b"</t></si>" for t in table) + b"</sst>"
    changes["xl/sharedStrings.xml"] = sst
    changes["xl/_rels/workbook.xml.rels"] = p["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'sharedStrings" Target="sharedStrings.xml" Id="rId99"/></Relationships>')
    changes["[Content_Types].xml"] = p["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    return rezip(path, changes)
