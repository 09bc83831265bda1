"""Excel Tables and autofilters widened over the columns a refresh adds to a ledger.

The edits work on the parts' bytes (a table part, a worksheet, the workbook part), changing only
the ``ref`` ranges, the ``tableColumns`` list and the hidden ``_xlnm._FilterDatabase`` name, so
everything else in them survives byte for byte. :meth:`WorkbookPackage.extend_table
<xl_ar.book.package.WorkbookPackage.extend_table>` finds the parts and applies them.
"""

from __future__ import annotations

import re
from typing import Mapping

from xl_ar.book.sheetxml import BookError, col_letter, escape_attr, split_ref
from xl_ar.book.styles import safe_parse

Box = tuple[int, int, int, int]  # (first row, first column, last row, last column), 1-based


def extend_table_xml(x: bytes, part: str, header_row: int, first_col: int, last_col: int,
                     headers: Mapping[int, str], last_row: int | None, user_headers: Mapping[int, str] | None = None,
                     sheet: str = "") -> bytes | None:
    """The table part widened as :meth:`WorkbookPackage.extend_table` describes, or None.

    Args:
        x: the table part.
        part: its name, for messages.
        header_row, first_col, last_col, headers, last_row, user_headers: as for ``extend_table``.
        sheet: the sheet's name, for messages.

    Returns:
        The new part, or None when it is not the ledger's table or needs no change.
    """
    root_el = safe_parse(x, part)
    box = _ref_box(root_el.get("ref", ""))
    if box is None or root_el.get("headerRowCount", "1") == "0":
        return None
    r1, c1, r2, c2 = box
    if r1 != header_row or not c1 <= first_col <= c2:
        return None
    totals = int(root_el.get("totalsRowCount", "0") or 0)
    new_box = (r1, c1, max(r2, last_row) if last_row and not totals else r2, max(c2, last_col))
    cols_el = root_el.find("{*}tableColumns")
    names = [c.get("name", "") for c in cols_el.iterfind("{*}tableColumn")]
    ids = [int(c.get("id", "0")) for c in cols_el.iterfind("{*}tableColumn")]
    if len(names) != c2 - c1 + 1:
        raise BookError(f"{part}: the table has {len(names)} columns but its range spans {c2 - c1 + 1}")
    want = list(names)
    for col in range(c1, new_box[3] + 1):
        if col in headers:
            name = _table_col_name(headers[col])
            if col > c2:
                want.append(name)
            else:
                want[col - c1] = name
        elif col > c2 and (user_headers or {}).get(col, "").strip():
            want.append(_table_col_name(user_headers[col]))  # a user's column: taken in, as Excel does
        elif col > c2:
            where = f"{sheet}!{col_letter(col)}{header_row}" if sheet else f"{part}: column {col_letter(col)}"
            raise BookError(
                f'{where}: this column lies between the Excel Table "{root_el.get("displayName", "")}" and the '
                f"columns xl-ar writes, and has no header, so the Table cannot be extended over it: type a header "
                f"in {col_letter(col)}{header_row} (or move what is in the column elsewhere) and run again")
    seen: set[str] = set()
    for k, n in enumerate(want):
        if n.casefold() in seen:
            where = f"{sheet}!{col_letter(c1 + k)}{header_row}" if sheet else part
            raise BookError(f'{where}: the header "{n}" is already a column of the Excel Table '
                            f'"{root_el.get("displayName", "")}": give this column another header and run again')
        seen.add(n.casefold())
    if "" in want:
        raise BookError(f"{part}: table column names must not be empty: {want}")
    if new_box == box and want == names:
        return None
    p = re.escape(root_el.prefix.encode() + b":") if root_el.prefix else b""
    tag_re = re.compile(rb"<" + p + rb"tableColumn\b([^>]*?)(/?)>")
    cols_m = re.compile(rb"<" + p + rb"tableColumns\b[^>]*>").search(x)
    close = re.compile(rb"</" + p + rb"tableColumns>").search(x, cols_m.end())
    inner = x[cols_m.end(): close.start()]
    pieces, last = [], 0
    for k, m in enumerate(tag_re.finditer(inner)):  # rename our columns whose header changed
        if want[k] != names[k]:
            attrs = re.sub(rb'(\sname=")[^"]*(")', lambda mm: mm.group(1) + escape_attr(want[k]).encode() + mm.group(2), m.group(1))
            pieces += [inner[last: m.start()], inner[m.start(): m.start(1)], attrs]
            last = m.end(1)
    pieces.append(inner[last:])
    pre = p.replace(b"\\", b"")
    next_id = max([0, *ids]) + 1
    for k, name in enumerate(want[len(names):]):
        pieces.append(b"<" + pre + b'tableColumn id="' + str(next_id + k).encode() + b'" name="' + escape_attr(name).encode() + b'"/>')
    start_tag = re.sub(rb'(\scount=")\d+(")', lambda mm: mm.group(1) + str(len(want)).encode() + mm.group(2), cols_m.group(0))
    x = x[: cols_m.start()] + start_tag + b"".join(pieces) + x[close.start():]
    ref = _ref(new_box).encode()
    root = re.compile(rb"<" + p + rb"table\b[^>]*>").search(x)
    x = x[: root.start()] + re.sub(rb'(\sref=")[^"]*(")', lambda mm: mm.group(1) + ref + mm.group(2), root.group(0), count=1) + x[root.end():]
    af_box = (new_box[0], new_box[1], new_box[2] - totals, new_box[3])
    x = re.sub(rb'(<' + p + rb'autoFilter\b[^>]*?\sref=")[^"]*(")', lambda mm: mm.group(1) + _ref(af_box).encode() + mm.group(2), x, count=1)
    return x


def widen_autofilter(x: bytes, header_row: int, first_col: int, last_col: int,
                     last_row: int | None) -> tuple[bytes, Box] | None:
    """A worksheet whose sheet-level ``<autoFilter>`` on ``header_row`` reaches the new columns.

    Args:
        x: the worksheet part.
        header_row, first_col, last_col, last_row: as for ``extend_table``.

    Returns:
        ``(new part, new filter box)``, or None when the sheet has no such filter or it
        already covers them.
    """
    tail = max(x.rfind(b"sheetData>"), 0)
    m = re.compile(rb'<(?:\w+:)?autoFilter\b[^>]*?\sref="([^"]*)"').search(x, tail)
    box = _ref_box(m.group(1).decode()) if m else None
    if box and box[0] == header_row and box[1] <= first_col <= box[3] + 1:
        new = (box[0], box[1], max(box[2], last_row or 0), max(box[3], last_col))
        if new != box:
            return x[: m.start(1)] + _ref(new).encode() + x[m.end(1):], new
    return None


def update_filter_name(wb: bytes, sheet: str, index: int, box: Box) -> bytes | None:
    """Keep the hidden ``_xlnm._FilterDatabase`` name in step with the sheet's autofilter.

    Args:
        wb: the workbook part.
        sheet: the sheet's name.
        index: its position among the workbook's sheets (the name's ``localSheetId``).
        box: the autofilter's new range.

    Returns:
        The new workbook part, or None when the sheet has no such name.
    """
    quoted = sheet if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", sheet) else "'" + sheet.replace("'", "''") + "'"
    r1, c1, r2, c2 = box
    ref = f"{quoted}!${col_letter(c1)}${r1}:${col_letter(c2)}${r2}"
    pat = (rb'(<(?:\w+:)?definedName\b(?=[^>]*\sname="_xlnm\._FilterDatabase")(?=[^>]*\slocalSheetId="'
           + str(index).encode() + rb'")[^>]*>)[^<]*(<)')
    new, n = re.subn(pat, lambda m: m.group(1) + _escape_text(ref) + b"<", wb, count=1)
    return new if n else None


def _escape_text(s: str) -> bytes:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def _ref_box(ref: str) -> Box | None:
    try:
        a, _, b = ref.partition(":")
        (r1, c1), (r2, c2) = split_ref(a), split_ref(b or a)
    except ValueError:
        return None
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def _ref(box: Box) -> str:
    r1, c1, r2, c2 = box
    return f"{col_letter(c1)}{r1}:{col_letter(c2)}{r2}"


def _table_col_name(s: str) -> str:
    """Excel stores line breaks in table column names as _x000a_ escapes."""
    return s.replace("\r", "_x000d_").replace("\n", "_x000a_").replace("\t", "_x0009_")
