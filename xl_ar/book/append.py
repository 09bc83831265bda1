"""Appending whole rows to a user's sheet (the collection log) without losing anything.

The tool appends to exactly one user sheet: ``Activities``, when it logs a message it sent.
Unlike the computed columns of a refresh, these rows belong to the user afterwards, so they
must look like the rows the user typed: same column formats, inside the same Excel Table.

The rule is the one Excel follows when you type below a table: the new rows go right after the
last row holding a value in the table's columns, each new cell takes the format of the cell
above it (unless the caller gives one), the table, its autofilter and the sheet dimension grow
over them. Rows already there but empty (a table pre-formatted down to row 500) are filled in
place, keeping their row attributes and the cells of other columns. Every other byte of the
sheet is copied through, and nothing is ever overwritten: a target cell that already holds a
value stops the append with an error.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping, Sequence
from urllib.parse import unquote

import numpy as np

from xl_ar.book.package import BookError, WorkbookPackage
from xl_ar.book.sheetxml import col_index, col_letter, escape_text, excel_serials, split_ref
from xl_ar.book.styles import safe_parse

_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet[\s>/]")


@dataclass(frozen=True)
class _Row:
    """One ``<row>`` of the sheet: its number, byte span and cells."""

    num: int
    start: int
    end: int
    open_tag: bytes  # "<row ...>" without the closing ">" (or "/>")
    cells: list[tuple[int, bytes, bool, int | None]]  # (column, xml with r=, has value, style)


@dataclass(frozen=True)
class AppendResult:
    """Where the rows went: ``first_row`` to ``last_row`` (1-based), and the parts changed."""

    first_row: int
    last_row: int
    parts: list[str]


def _prefix(xml: bytes) -> bytes:
    m = _ROOT.search(xml, 0, 1 << 16)
    if not m:
        raise BookError("not a worksheet: no <worksheet> element at the start of the part")
    return m.group(1) + b":" if m.group(1) else b""


def _sheet_data(xml: bytes, p: bytes) -> tuple[int, int, bool]:
    """(start of sheetData's content, end of it, self-closing)."""
    m = re.compile(rb"<" + re.escape(p) + rb"sheetData\b[^>]*?(/?)>").search(xml)
    if not m:
        raise BookError("the worksheet has no <sheetData>")
    if m.group(1):
        return m.start(), m.end(), True
    end = xml.rfind(b"</" + p + b"sheetData>")
    if end < m.end():
        raise BookError("the worksheet's <sheetData> is not closed")
    return m.end(), end, False


def _scan_rows(xml: bytes, p: bytes, start: int, end: int) -> list[_Row]:
    """Every row of sheetData with its cells (a collection log is small: a regex scan is fine)."""
    ep = re.escape(p)
    row_re = re.compile(rb"<" + ep + rb"row(?=[\s/>])([^>]*?)(/?)>")
    cell_re = re.compile(rb"<" + ep + rb"c(?=[\s/>])([^>]*?)(/?)>")
    close_row, close_c = b"</" + p + b"row>", b"</" + p + b"c>"
    rows: list[_Row] = []
    pos, prev = start, 0
    while True:
        m = row_re.search(xml, pos, end)
        if not m:
            return rows
        r = re.search(rb"""\sr\s*=\s*["'](\d+)["']""", m.group(1))
        num = int(r.group(1)) if r else prev + 1  # a row without r follows the previous one
        prev = num
        cells: list[tuple[int, bytes, bool, int | None]] = []
        if m.group(2):
            rows.append(_Row(num, m.start(), m.end(), xml[m.start(): m.end() - 2], cells))
            pos = m.end()
            continue
        stop = xml.find(close_row, m.end(), end)
        if stop < 0:
            raise BookError(f"row {num}: <row> is not closed")
        col, cpos = 0, m.end()
        while True:
            c = cell_re.search(xml, cpos, stop)
            if not c:
                break
            if c.group(2):
                c_end = c.end()
                body = b""
            else:
                c_end = xml.find(close_c, c.end(), stop)
                if c_end < 0:
                    raise BookError(f"row {num}: a <c> element is not closed")
                body = xml[c.end(): c_end]
                c_end += len(close_c)
            ref = re.search(rb"""\sr\s*=\s*["']([A-Za-z]{1,3})\d+["']""", c.group(1))
            col = col_index(ref.group(1)) if ref else col + 1
            s = re.search(rb"""\ss\s*=\s*["'](\d+)["']""", c.group(1))
            whole = xml[c.start(): c_end]
            if not ref:  # give it its implied reference: cells are about to move around it
                tag = b"<" + p + b"c"
                whole = tag + b' r="' + f"{col_letter(col)}{num}".encode() + b'"' + whole[len(tag):]
            has_value = any(t in body for t in (b"<" + p + b"v", b"<" + p + b"is", b"<" + p + b"f"))
            cells.append((col, whole, has_value, int(s.group(1)) if s else None))
            cpos = c_end
        rows.append(_Row(num, m.start(), stop + len(close_row), xml[m.start(): m.end() - 1], cells))
        pos = stop + len(close_row)


def _cell_xml(p: str, ref: str, value: Any, style: int | None) -> str:
    """One cell: numbers and dates as numbers, text inline (sharedStrings stays untouched)."""
    s = f' s="{style}"' if style else ""
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return f'<{p}c r="{ref}"{s}/>' if style else ""
    if isinstance(value, bool):
        return f'<{p}c r="{ref}"{s} t="b"><{p}v>{int(value)}</{p}v></{p}c>'
    if isinstance(value, (dt.date, np.datetime64)):
        serial = float(excel_serials(np.array([value], dtype="datetime64[us]"))[0])
        text = str(int(serial)) if serial == int(serial) else repr(serial)
        return f'<{p}c r="{ref}"{s}><{p}v>{text}</{p}v></{p}c>'
    if isinstance(value, (int, float, Decimal, np.integer, np.floating)):
        plain = value.item() if hasattr(value, "item") else value
        text = format(value, "f") if isinstance(value, Decimal) else repr(plain)
        text = text[:-2] if text.endswith(".0") else text
        return f'<{p}c r="{ref}"{s}><{p}v>{text}</{p}v></{p}c>'
    text = str(value)
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<{p}c r="{ref}"{s} t="inlineStr"><{p}is><{p}t{space}>{escape_text(text)}</{p}t></{p}is></{p}c>'


def _tables(pkg: WorkbookPackage, sheet_part: str) -> list[tuple[str, tuple[int, int, int, int], int]]:
    """(part, (row1, col1, row2, col2), totals rows) of each Excel Table on a sheet."""
    d, base = posixpath.split(sheet_part)
    rels = posixpath.join(d, "_rels", base + ".rels")
    if not pkg.has_part(rels):
        return []
    out = []
    for rel in safe_parse(pkg.read(rels), rels):
        if not isinstance(rel.tag, str) or not rel.get("Type", "").endswith("/table"):
            continue
        if rel.get("TargetMode") == "External":
            continue
        target = unquote(rel.get("Target", ""))
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(d, target))
        if not pkg.has_part(part):
            continue
        root = safe_parse(pkg.read(part), part)
        try:
            a, _, b = root.get("ref", "").partition(":")
            (r1, c1), (r2, c2) = split_ref(a), split_ref(b or a)
        except ValueError:
            continue
        out.append((part, (r1, c1, r2, c2), int(root.get("totalsRowCount", "0") or 0)))
    return out


def append_rows(
    pkg: WorkbookPackage,
    sheet: str,
    rows: Sequence[Mapping[int, Any]],
    *,
    header_row: int,
    styles: Mapping[int, int] | None = None,
) -> AppendResult:
    """Append complete rows below the data of a user's table, as typing them in Excel would.

    Args:
        pkg: the open workbook package (nothing is saved here: the caller saves once).
        sheet: the sheet's name (e.g. "Activities" or "催收日志").
        rows: one mapping per new row, 1-based column -> value (str, int, float, Decimal, bool,
            date; None or "" = blank). Columns outside the mapping stay as they were.
        header_row: the table's header row.
        styles: a cell format per column that wins over the one inherited from the row above
            (e.g. a date format for the date column).

    Returns:
        The rows written and the parts changed.

    Raises:
        BookError: the table has a totals row (rows would have to be inserted above it), or a
            cell the rows would take already holds a value.
    """
    if not rows:
        return AppendResult(0, 0, [])
    styles = dict(styles or {})
    part = pkg.sheet_part(sheet)
    xml = pkg.read(part)
    p = _prefix(xml)
    ps = p.decode()
    sd_start, sd_end, self_closing = _sheet_data(xml, p)
    scanned = [] if self_closing else _scan_rows(xml, p, sd_start, sd_end)
    ours = sorted({c for r in rows for c in r})
    table = next((t for t in _tables(pkg, part) if t[1][0] == header_row), None)
    if table is not None:
        t_part, (_, c1, t_end, c2), totals = table
        if totals:
            raise BookError(f"sheet {sheet!r}: its table has a totals row; remove it (Table Design > Total Row) so "
                            "rows can be added")
        lo, hi = min(c1, ours[0]), max(c2, ours[-1])
    else:
        t_end, lo, hi = None, ours[0], ours[-1]
    in_cols = lambda r: [c for c in r.cells if lo <= c[0] <= hi]  # noqa: E731
    data_rows = [r for r in scanned if r.num > header_row and (t_end is None or r.num <= t_end)
                 and any(has for _, _, has, _ in in_cols(r))]
    above = data_rows[-1] if data_rows else None
    first = (above.num if above else header_row) + 1
    last = first + len(rows) - 1
    if last > 1_048_576:
        raise BookError(f"sheet {sheet!r} is full: no room for {len(rows)} more rows")
    inherited = {c: s for c, _, _, s in (above.cells if above else []) if s}
    by_num = {r.num: r for r in scanned}
    for num in range(first, last + 1):
        r = by_num.get(num)
        clash = [c for c, _, has, _ in (r.cells if r else []) if has and c in set(ours)]
        if clash:
            raise BookError(f"sheet {sheet!r}: cell {col_letter(clash[0])}{num} below the data already holds a value; "
                            "nothing was added")

    def new_row(k: int) -> tuple[bytes, bytes]:
        """(open tag, cells) of target row ``first + k``, merged with what is there."""
        num = first + k
        old = by_num.get(num)
        kept = {c: (x, s) for c, x, _, s in (old.cells if old else [])}
        cells = {c: x for c, (x, _) in kept.items()}
        for c in set(rows[k]) | {c for c in inherited if lo <= c <= hi and c not in kept}:
            style = styles.get(c) or (kept[c][1] if c in kept else None) or inherited.get(c)
            x = _cell_xml(ps, f"{col_letter(c)}{num}", rows[k].get(c), style).encode()
            if x:
                cells[c] = x
            else:
                cells.pop(c, None)
        # spans is only an optimisation hint and would now be wrong: drop it
        tag = re.sub(rb'\sspans="[^"]*"', b"", old.open_tag) if old else f'<{ps}row r="{num}"'.encode()
        if old is None and not cells:
            return tag, b""
        return tag, b"".join(cells[c] for c in sorted(cells))

    out, prev = [], 0
    targets = list(range(len(rows)))
    body_close = f"</{ps}row>".encode()
    if self_closing:
        m = re.compile(rb"<" + re.escape(p) + rb"sheetData\b[^>]*?/>").search(xml)
        out.append(xml[: m.end() - 2].rstrip() + b">")
        for k in targets:
            tag, cells = new_row(k)
            out.append(tag + b">" + cells + body_close)
        out.append(b"</" + p + b"sheetData>")
        out.append(xml[m.end():])
    else:
        k = 0
        for r in scanned:
            while k < len(targets) and first + k < r.num:  # new rows before an existing later row
                tag, cells = new_row(k)
                out += [xml[prev: r.start], tag + b">" + cells + body_close]
                prev = r.start
                k += 1
            if k < len(targets) and first + k == r.num:
                tag, cells = new_row(k)
                out += [xml[prev: r.start], tag + b">" + cells + body_close]
                prev = r.end
                k += 1
        out.append(xml[prev: sd_end])
        for j in range(k, len(targets)):
            tag, cells = new_row(j)
            out.append(tag + b">" + cells + body_close)
        out.append(xml[sd_end:])
    new = b"".join(out)
    new = _widen_dimension(new, p, last, hi)
    pkg.set_part(part, new)
    changed = [part]
    if table is not None:
        # the table keeps its columns: a value written right of it stays a plain cell
        changed += pkg.extend_table(sheet, header_row, table[1][1], table[1][3], {}, last_row=max(last, table[1][2]))
    else:
        changed += pkg.extend_table(sheet, header_row, lo, hi, {}, last_row=last)
    return AppendResult(first, last, sorted(set(changed)))


def _widen_dimension(xml: bytes, p: bytes, last_row: int, last_col: int) -> bytes:
    m = re.compile(rb"<" + re.escape(p) + rb'dimension\b[^>]*?\sref="([^"]*)"').search(xml)
    if not m:
        return xml
    a, _, b = m.group(1).decode("ascii", "replace").partition(":")
    try:
        (r1, c1), (r2, c2) = split_ref(a), split_ref(b or a)
    except ValueError:
        return xml
    ref = f"{col_letter(c1)}{r1}:{col_letter(max(c2, last_col))}{max(r2, last_row)}"
    return xml[: m.start(1)] + ref.encode() + xml[m.end(1):]
