"""Set a few cells of a user's worksheet, on the XML bytes (rows are appended by ``append.py``).

The refresh splice (``splice.splice_columns``) owns whole columns; a reply to a statement
touches single cells (an invoice's Disputed and DisputeReason). That is done here without a
DOM and without openpyxl: only the rows touched
are rewritten, every other byte of the sheet is copied through, strings are written inline (so
``sharedStrings.xml`` is untouched), and a replaced cell keeps its style unless told otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

import numpy as np

from xl_ar.book.package import WorkbookPackage
from xl_ar.book.sheetxml import BookError, col_index, col_letter, escape_text, excel_serials, split_ref
from xl_ar.book.splice import _locate


@dataclass(frozen=True)
class CellWrite:
    """A value for one cell.

    Attributes:
        value: str, int, float, Decimal, bool, date/datetime, or None (a blank cell).
        style: a ``cellXfs`` index; None keeps the existing cell's style (a new cell gets none).
    """

    value: Any
    style: int | None = None


def _value_xml(ref: str, w: CellWrite, style: int | None, p: str) -> str:
    """The ``<c>`` element of one write ("" for a blank cell without style)."""
    v = w.value.item() if isinstance(w.value, np.generic) else w.value
    s = f' s="{style}"' if style else ""
    head = f'<{p}c r="{ref}"{s}'
    if v is None or (isinstance(v, float) and v != v) or v == "":
        return head + "/>" if style else ""
    if isinstance(v, bool):
        return f'{head} t="b"><{p}v>{int(v)}</{p}v></{p}c>'
    if isinstance(v, (int, Decimal)):
        return f"{head}><{p}v>{format(Decimal(v), 'f')}</{p}v></{p}c>"
    if isinstance(v, float):
        if v in (float("inf"), float("-inf")):
            raise ValueError(f"{ref}: an infinite number cannot be written to Excel")
        text = repr(v + 0.0)
        return f"{head}><{p}v>{text[:-2] if text.endswith('.0') else text}</{p}v></{p}c>"
    if isinstance(v, (dt.date, dt.datetime)):
        serial = float(excel_serials(np.array([v], dtype="datetime64[us]"))[0])
        text = repr(serial)
        return f"{head}><{p}v>{text[:-2] if text.endswith('.0') else text}</{p}v></{p}c>"
    if isinstance(v, str):
        space = ' xml:space="preserve"' if v[:1].isspace() or v[-1:].isspace() else ""
        return f'{head} t="inlineStr"><{p}is><{p}t{space}>{escape_text(v)}</{p}t></{p}is></{p}c>'
    raise TypeError(f"{ref}: cannot write a {type(v).__name__} to a cell")


def _merge_row(body: bytes, row: int, writes: dict[int, CellWrite], p: bytes) -> bytes:
    """A row's cells with ``writes`` (column -> write) put in, in column order."""
    ep = re.escape(p)
    cell_re = re.compile(rb"<" + ep + rb"c(?=[\s/>])([^>]*?)(/?)>")
    close = b"</" + p + b"c>"
    ps = p.decode()
    out: list[bytes] = []
    pending = sorted(writes.items())
    k, col, last = 0, 0, 0
    for m in cell_re.finditer(body):
        if m.start() < last:
            continue  # inside a cell's content (an <is> or <f>), not a cell
        rm = re.search(rb"""\sr\s*=\s*["']([A-Za-z]{1,3})\d+["']""", m.group(1))
        c = col_index(rm.group(1)) if rm else col + 1
        end = m.end() if m.group(2) else body.find(close, m.end()) + len(close)
        if end < len(close):
            raise BookError(f"row {row}: a <c> element is not closed")
        out.append(body[last: m.start()])
        while k < len(pending) and pending[k][0] < c:
            out.append(_value_xml(f"{col_letter(pending[k][0])}{row}", pending[k][1], pending[k][1].style, ps).encode())
            k += 1
        if k < len(pending) and pending[k][0] == c:
            w = pending[k][1]
            sm = re.search(rb'\ss="(\d+)"', m.group(1))
            style = w.style if w.style is not None else (int(sm.group(1)) if sm else None)
            out.append(_value_xml(f"{col_letter(c)}{row}", w, style, ps).encode())
            k += 1
        elif rm:
            out.append(body[m.start(): end])
        else:  # give it its r: its implied position would shift once a cell is inserted before it
            out.append(b"<" + p + b'c r="' + f"{col_letter(c)}{row}".encode() + b'"' + body[m.start() + 2 + len(p): end])
        col, last = c, end
    out.extend(_value_xml(f"{col_letter(c)}{row}", w, w.style, ps).encode() for c, w in pending[k:])
    out.append(body[last:])  # trailing whitespace, or a row <extLst>, stays last
    return b"".join(out)


def set_cells(sheet_xml: bytes, writes: Mapping[str, Any]) -> bytes:
    """Set cells of a worksheet's XML, leaving every other cell and row as it was.

    A cell that exists is replaced (keeping its style unless the write gives one); a missing
    cell, or row, is created in order. The rows' ``spans`` hints and the sheet's ``<dimension>``
    are widened to cover the cells written.

    Args:
        sheet_xml: the worksheet part.
        writes: cell reference (``"I6"``) -> value or :class:`CellWrite`.

    Returns:
        The new XML.
    """
    by_row: dict[int, dict[int, CellWrite]] = {}
    for ref, w in writes.items():
        r, c = split_ref(ref)
        by_row.setdefault(r, {})[c] = w if isinstance(w, CellWrite) else CellWrite(w)
    if not by_row:
        return sheet_xml
    sheet = _locate(sheet_xml)  # the same checks as the refresh splice
    p, self_closing = sheet.p, sheet.self_closing
    # For <sheetData/> the bounds are the tag itself, else its content.
    start, end = (sheet.sd_open, sheet.sd_start) if self_closing else (sheet.sd_start, sheet.sd_end)
    ep = re.escape(p)
    row_re = re.compile(rb"<" + ep + rb"row(?=[\s/>])([^>]*?)(/?)>")
    row_close = b"</" + p + b"row>"
    targets = sorted(by_row)
    if self_closing:  # <sheetData/>: open it up around the new rows
        rows = b"".join(_new_row(r, by_row[r], p) for r in targets)
        xml = sheet_xml[:start] + b"<" + p + b"sheetData>" + rows + b"</" + p + b"sheetData>" + sheet_xml[end:]
        return _widen_dimension(xml, p, targets, [c for row in by_row.values() for c in row])
    out: list[bytes] = []
    prev, j = 0, 0  # sheet_xml[:prev] is in out; targets[:j] are written
    for m in row_re.finditer(sheet_xml, start, end):
        if j == len(targets):
            break
        rm = re.search(rb'\sr="(\d+)"', m.group(1))
        if not rm:
            raise BookError("the sheet has a row without a row number, which Excel never writes; refused")
        num = int(rm.group(1))
        while j < len(targets) and targets[j] < num:  # missing rows go before this one
            out += [sheet_xml[prev: m.start()], _new_row(targets[j], by_row[targets[j]], p)]
            prev = m.start()
            j += 1
        if j < len(targets) and targets[j] == num:
            if m.group(2):
                body, after = b"", m.end()
            else:
                body_end = sheet_xml.find(row_close, m.end(), end)
                if body_end < 0:
                    raise BookError(f"row {num}: <row> is not closed")
                body, after = sheet_xml[m.end(): body_end], body_end + len(row_close)
            out += [sheet_xml[prev: m.start()], b"<" + p + b"row" + _widen_spans(m.group(1), by_row[num]) + b">",
                    _merge_row(body, num, by_row[num], p), row_close]
            prev = after
            j += 1
    out.append(sheet_xml[prev:end])
    out += [_new_row(r, by_row[r], p) for r in targets[j:]]
    out.append(sheet_xml[end:])
    xml = b"".join(out)
    return _widen_dimension(xml, p, targets, [c for row in by_row.values() for c in row])


def _new_row(r: int, cells: dict[int, CellWrite], p: bytes) -> bytes:
    ps = p.decode()
    inner = "".join(_value_xml(f"{col_letter(c)}{r}", w, w.style, ps) for c, w in sorted(cells.items()))
    return f'<{ps}row r="{r}">{inner}</{ps}row>'.encode()


def _widen_spans(attrs: bytes, cells: dict[int, CellWrite]) -> bytes:
    m = re.search(rb'\sspans="(\d+):(\d+)"', attrs)
    if not m:
        return attrs
    lo, hi = min(int(m.group(1)), *cells), max(int(m.group(2)), *cells)
    return attrs[: m.start(1)] + f"{lo}:{hi}".encode() + attrs[m.end(2):]


def _widen_dimension(xml: bytes, p: bytes, rows: list[int], cols: list[int]) -> bytes:
    m = re.compile(rb"<" + re.escape(p) + rb'dimension\b[^>]*?\sref="([^"]*)"').search(xml, 0, 1 << 16)
    if not m:
        return xml
    try:
        a, _, b = m.group(1).decode().partition(":")
        (r1, c1), (r2, c2) = split_ref(a), split_ref(b or a)
    except ValueError:
        return xml
    r1, c1 = min(r1, *rows), min(c1, *cols)
    r2, c2 = max(r2, *rows), max(c2, *cols)
    ref = f"{col_letter(c1)}{r1}" + ("" if (r1, c1) == (r2, c2) else f":{col_letter(c2)}{r2}")
    return xml[: m.start(1)] + ref.encode() + xml[m.end(1):]


# ----------------------------------------------------------------------------- on a package


def set_sheet_cells(pkg: WorkbookPackage, sheet: str, writes: Mapping[str, Any], *, header_row: int = 1) -> str:
    """Set cells of one sheet of a package (see :func:`set_cells`).

    Args:
        pkg: the open workbook package.
        sheet: the sheet's name.
        writes: cell reference -> value or :class:`CellWrite`.
        header_row: the sheet's header row (a calculation chain listing a formula in the
            written columns from there down is dropped: Excel rebuilds it).

    Returns:
        The worksheet's part name.
    """
    part = pkg.sheet_part(sheet)
    xml = set_cells(pkg.read(part), writes)
    cols = sorted({split_ref(ref)[1] for ref in writes})
    return pkg.set_sheet(sheet, xml, cleared=(header_row, cols))
