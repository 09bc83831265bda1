"""Whole worksheets for the sheets the tool owns (reports such as "Aging"), rendered as XML."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping, Sequence

import numpy as np

from xl_ar.book.sheetxml import (
    MAIN_NS,
    REL_NS,
    _is_missing,
    _num,
    _range_ref,
    _t_element,
    col_letter,
    escape_attr,
    excel_serial,
)

CellValue = Any  # a plain value, or (value, style index)
_INF = float("inf")

_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="' + MAIN_NS + b'" xmlns:r="' + REL_NS.encode() + b'">'
)


_CACHED = frozenset({str, type(None), bool, int, float, date, datetime})  # equal values render alike


def _cell_tail(ref: str, value: Any, style: int | None, date_style: int) -> str:
    """A ``<c>`` after its ``<c r="A1`` (from the closing quote on); "" for a blank cell without a style.

    The reference is only for error messages: the same value and style give the same tail in
    any cell, which :func:`render_sheet` uses to render each distinct cell body once.
    """
    s = f' s="{style}"' if style else ""
    blank = f'"{s}/>' if style else ""
    if value.__class__ is float and value - value == 0.0:  # a finite amount: most cells of a report
        return f'"{s}><v>{_num(value + 0.0)}</v></c>'  # -0.0 + 0.0 is 0.0: Excel has no negative zero
    if _is_missing(value):
        return blank
    if isinstance(value, bool):
        return f'"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float, Decimal)):
        if isinstance(value, Decimal):
            text = format(value, "f")
        elif isinstance(value, float):
            if value != value or value in (_INF, -_INF):
                if value != value:
                    return blank
                raise ValueError("an infinite number cannot be written to Excel")
            text = _num(value + 0.0)  # one cell: no numpy round trip (-0.0 + 0.0 is 0.0)
        else:
            text = str(value)
        return f'"{s}><v>{text}</v></c>'
    if isinstance(value, (date, datetime, np.datetime64)):
        if isinstance(value, datetime) and value.tzinfo is not None:
            raise ValueError(f"{ref}: a time zone-aware datetime cannot be written to Excel")
        serial = excel_serial(value)
        if serial != serial:
            return blank
        eff = style or date_style
        st = f' s="{eff}"' if eff else ""
        return f'"{st}><v>{_num(serial)}</v></c>'
    if isinstance(value, str):
        if value == "":
            return blank
        return f'"{s} t="inlineStr">{_t_element(value, "")}</c>'
    raise TypeError(f"{ref}: cannot write a {type(value).__name__} to a cell")


def _sheet_data(rows: Sequence[Sequence[CellValue]], col_styles: Mapping[int, int], date_style: int,
                style_index: Mapping[Any, int] | None, first: int = 1, cache: dict[tuple, str] | None = None,
                letters: list[str] | None = None) -> tuple[list[str], int]:
    """The ``<row>`` elements' pieces and the last column holding a cell.

    Each distinct (value, style) of the common types is rendered once per sheet: reports repeat
    their labels, owners, stages and blanks on every row. ``rows`` are the sheet's from row
    ``first`` on; ``cache`` and ``letters`` carry what was rendered from one block of a sheet's
    rows to the next.
    """
    cache = {} if cache is None else cache
    letters = [] if letters is None else letters
    parts: list[str] = []
    max_c = 0
    for r, row in enumerate(rows, start=first):
        if len(row) > len(letters):
            letters += [col_letter(i) for i in range(len(letters) + 1, len(row) + 1)]
        open_at = len(parts)
        rs = str(r)
        parts.append(f'<row r="{rs}">')
        last = 0
        for c, cell in enumerate(row):
            if isinstance(cell, tuple):
                value, style = cell
                if style_index is not None:
                    style = style_index[style]
            else:
                value, style = cell, None
            if style is None and col_styles:
                style = col_styles.get(c + 1)
            if value is None and not style:  # a gap in a report's row: no cell at all
                continue
            cls = value.__class__
            if cls not in _CACHED and isinstance(value, np.generic):
                value = value.item()
                cls = value.__class__
            if cls in _CACHED:
                key = (cls, value, style)
                tail = cache.get(key)
                if tail is None:
                    tail = cache[key] = _cell_tail(f"{letters[c]}{r}", value, style, date_style)
            else:
                tail = _cell_tail(f"{letters[c]}{r}", value, style, date_style)
            if tail:
                parts.append(f'<c r="{letters[c]}{rs}{tail}')
                last = c + 1
        if last:
            parts.append("</row>")
            max_c = max(max_c, last)
        else:
            del parts[open_at:]
    return parts, max_c


def render_sheet(
    rows: Sequence[Sequence[CellValue]],
    *,
    col_styles: Mapping[int, int] | None = None,
    col_widths: Mapping[int, float] | None = None,
    date_style: int = 0,
    freeze_header: bool = True,
    merged: Sequence[str] = (),
    autofilter: str | None = None,
    style_index: Mapping[Any, int] | None = None,
) -> bytes:
    """Render a complete worksheet for a sheet the tool owns (a report such as "Aging").

    Args:
        rows: rows of cells from A1 down; a cell is a plain value (None, str, int, float,
            Decimal, bool, date, datetime, numpy scalar) or ``(value, style_index)``.
        col_styles: default style per 1-based column for cells given without a style.
        col_widths: width per 1-based column, in characters.
        date_style: style for date cells that have no style of their own.
        freeze_header: freeze the first row.
        merged: merged ranges, e.g. ``["A1:D1"]``.
        autofilter: an autofilter range, e.g. ``"A1:F40"``.
        style_index: when given, the style of a ``(value, style)`` cell is a key of it (a style
            name) rather than a style index.

    Returns:
        The worksheet XML (strings inline, no shared strings needed).
    """
    return b"".join(render_sheet_pieces(rows, col_styles=col_styles, col_widths=col_widths, date_style=date_style,
                                        freeze_header=freeze_header, merged=merged, autofilter=autofilter,
                                        style_index=style_index))


#: Rows rendered into one piece by :func:`render_sheet_pieces`: a few megabytes of XML.
BLOCK_ROWS = 16384


def render_sheet_pieces(rows: Sequence[Sequence[CellValue]], *, block_rows: int = BLOCK_ROWS,
                        col_styles: Mapping[int, int] | None = None, col_widths: Mapping[int, float] | None = None,
                        date_style: int = 0, freeze_header: bool = True, merged: Sequence[str] = (),
                        autofilter: str | None = None, style_index: Mapping[Any, int] | None = None) -> list[bytes]:
    """:func:`render_sheet`'s bytes in pieces: the head, the rows a block at a time, the tail.

    A large report (a full sheet's Legal sheet is 50 MB of XML) is never one string: rendered
    whole, its cells' pieces, their join and its encoding were three copies of it at once.
    The options are :func:`render_sheet`'s; ``block_rows`` rows go into each piece.
    """
    cache: dict[tuple, str] = {}
    letters: list[str] = []
    blocks: list[bytes] = []
    max_c = 0
    for a in range(0, len(rows), block_rows):
        parts, last = _sheet_data(rows[a: a + block_rows], col_styles or {}, date_style, style_index, a + 1, cache,
                                  letters)
        if parts:
            blocks.append("".join(parts).encode("utf-8"))
        max_c = max(max_c, last)
    n_rows = len(rows)
    dim = _range_ref(1, 1, max(n_rows, 1), max(max_c, 1))
    view = '<sheetView workbookViewId="0">'
    if freeze_header:
        view += (
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        )
    view += "</sheetView>"
    out = [f'<dimension ref="{dim}"/><sheetViews>{view}</sheetViews><sheetFormatPr defaultRowHeight="15"/>']
    if col_widths:
        out.append("<cols>")
        for c in sorted(col_widths):
            col_letter(c)
            out.append(f'<col min="{c}" max="{c}" width="{_num(col_widths[c])}" customWidth="1"/>')
        out.append("</cols>")
    out.append("<sheetData>" if blocks else "<sheetData/>")
    head = _HEAD + "".join(out).encode("utf-8")
    out = ["</sheetData>"] if blocks else []
    if autofilter:
        out.append(f'<autoFilter ref="{escape_attr(autofilter)}"/>')
    if merged:
        out.append(f'<mergeCells count="{len(merged)}">')
        out += [f'<mergeCell ref="{escape_attr(m)}"/>' for m in merged]
        out.append("</mergeCells>")
    out.append('<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>')
    return [head, *blocks, "".join(out).encode("utf-8") + b"</worksheet>"]
