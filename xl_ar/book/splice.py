"""Computed columns spliced into a user's worksheet XML, without a DOM.

A 1,048,575-row sheet part is 100-200 MB of XML; parsing it into a tree costs seconds and
gigabytes. Excel's sheet XML is regular (``<row r="..">`` holding ``<c r="..">`` cells in
order), so the splice works on bytes: it finds each row with ``bytes.find``, looks at the cells
of a row only from the first one in or right of the computed columns, and copies everything
else through unchanged as slices of the original buffer joined once at the end. A large part
is spliced the same way a block of rows at a time, as it is inflated (:mod:`xl_ar.book.splice_stream`).
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from xl_ar.book.deflate import deflate_pieces
from xl_ar.book.rowcells import RenderedRows, prepare_column
from xl_ar.book.sheetxml import (
    MAIN_NS,
    MAX_COL,
    MAX_ROW,
    BookError,
    OutColumn,
    _t_element,
    col_index,
    col_letter,
)
from xl_ar.book.splice_bytes import find_all, widen_spans, without
from xl_ar.book.splice_stream import Shifted, Unstreamable, edit_tail, interleave, splice_by_blocks, update_prologue

if TYPE_CHECKING:
    from xl_ar.book.package import WorkbookPackage

_KINDS = ("number", "text", "date")


def _letters_at_least(letters: str) -> str:
    """Regex alternation matching column letters that sort at or after ``letters``."""
    n = len(letters)
    alts = [f"[A-Z]{{{n + 1},3}}"] if n < 3 else []
    for i, ch in enumerate(letters):
        if ch != "Z":
            alts.append(letters[:i] + f"[{chr(ord(ch) + 1)}-Z]" + (f"[A-Z]{{{n - i - 1}}}" if n - i - 1 else ""))
    alts.append(letters)
    return "(?:" + "|".join(alts) + ")"


# --------------------------------------------------------------------------- locating parts


@dataclass
class _Sheet:
    xml: bytes
    p: bytes  # prefix of the main namespace including ":", or b""
    sd_open: int  # index of "<sheetData"
    sd_start: int  # first byte inside sheetData
    sd_end: int  # index of "</sheetData>" (== sd_start for <sheetData/>)
    self_closing: bool


_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet[\s>/]")


def _locate(xml: bytes) -> _Sheet:
    """Find the main-namespace prefix and the sheetData bounds; refuse what we cannot splice."""
    p, sm = sheet_data_tag(xml)
    if sm.group(1):
        return _Sheet(xml, p, sm.start(), sm.end(), sm.end(), True)
    end = xml.rfind(b"</" + p + b"sheetData>")
    if end < sm.end():
        raise BookError("the worksheet's <sheetData> is not closed")
    if xml.find(b"<!", sm.end(), end) >= 0:
        raise BookError("comments or CDATA inside <sheetData> are not supported")
    return _Sheet(xml, p, sm.start(), sm.end(), end, False)


def sheet_data_tag(xml: bytes) -> tuple[bytes, re.Match[bytes]]:
    """The main-namespace prefix and the ``<sheetData>`` tag, found in the XML's first part."""
    m = _ROOT.search(xml, 0, 1 << 20)
    if not m:
        raise BookError("not a worksheet: no <worksheet> element at the start of the part")
    if b"<!DOCTYPE" in xml[: m.start()]:
        raise BookError("the worksheet XML declares a DOCTYPE, which Excel never writes; refused")
    prefix = m.group(1) or b""
    root_end = xml.index(b">", m.start())
    decl = (b"xmlns:" + prefix if prefix else b"xmlns") + b'="'
    i = xml.find(decl, m.start(), root_end)
    ns = xml[i + len(decl): xml.find(b'"', i + len(decl))] if i >= 0 else b""
    if ns != MAIN_NS:
        raise BookError(
            "the worksheet is not in the SpreadsheetML transitional namespace "
            "(a Strict Open XML file?); save it as an ordinary Excel workbook"
        )
    p = prefix + b":" if prefix else b""
    sm = re.compile(rb"<" + re.escape(p) + rb"sheetData\b[^>]*?(/?)>").search(xml, root_end)
    if not sm:
        raise BookError("the worksheet has no <sheetData>")
    return p, sm


# --------------------------------------------------------------------------- the splice


class _Patterns:
    """The byte patterns of one splice: namespace prefix ``p`` and our column indices."""

    def __init__(self, p: bytes, idx: list[int]):
        ep = re.escape(p)
        self.p, self.ours = p, set(idx)
        self.row_open, self.row_close = b"<" + p + b"row", b"</" + p + b"row>"
        self.open_c, self.close_c = b"<" + p + b"c", b"</" + p + b"c>"
        self.cell = re.compile(rb"<" + ep + rb"c(?=[\s/>])([^>]*?)(/?)>")
        self.cell_r = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]{1,3})\d+["']""")
        self.row_r = re.compile(rb"""\sr\s*=\s*["'](\d+)["']""")
        self.row_r_first = re.compile(rb"<" + ep + rb'row r="(\d+)"')
        self.row_self_closing = re.compile(rb"(<" + ep + rb"row\b[^>]*?)/>")
        # What the fast path cannot take, found in one pass: comments/CDATA, a row <extLst>, a
        # cell or row tag whose first attribute is not r="...".
        self.anomaly = re.compile(
            rb"<(?:!|" + ep + rb"extLst|" + ep + rb'c(?=[\s/>])(?! r=")|' + ep + rb'row(?=[\s/>])(?! r="))'
        )
        self.spans = re.compile(rb' spans="([^"]*)"')  # a literal prefix scans far faster than \s
        lo, hi = idx[0], idx[-1]
        gaps = [col_letter(i) for i in range(lo, hi) if i not in self.ours]
        after = _letters_at_least(col_letter(hi + 1)) if hi < MAX_COL else None
        cell_of = lambda alts: re.compile(rb"<" + ep + rb'c r="(?:' + alts.encode() + rb")\d")  # noqa: E731
        self.gap = cell_of("|".join(gaps)) if gaps else None  # user columns between ours
        self.after = cell_of(after) if after else None  # user columns right of ours
        mine = "|".join(col_letter(i) for i in idx).encode()
        # One of our cells, whole: the content has no "</c>" before its own end tag. Possessive
        # quantifiers (Python 3.11+) avoid backtracking: 2x faster over a million rows.
        whole = (rb"<" + ep + rb'c r="(?:' + mine + rb')\d+"[^>]*+(?:(?<=/)>|(?<!/)>[^<]*+(?:<(?!/' + ep
                 + rb"c>)[^<]*+)*+</" + ep + rb"c>)")
        # A run of them next to each other (a row's), removed by one match: 15% faster than one
        # match a cell over a refreshed sheet, where the run is most of every row.
        runs = whole + b"(?:" + whole + b")*+"
        try:
            self.mine, self.mine_runs = re.compile(whole), re.compile(runs)
        except re.error:  # Python 3.10: the same patterns with backtracking quantifiers
            self.mine, self.mine_runs = (re.compile(p.replace(b"*+", b"*")) for p in (whole, runs))
        self.lo, self.hi = lo, hi

    def row_numbers(self, xml: bytes, s: int, e: int) -> np.ndarray:
        """The numbers of the rows in ``xml[s:e]``, in order (every row tag starting ``<row r="``)."""
        return np.array(list(map(int, self.row_r_first.findall(xml, s, e))), dtype=np.int64)

    def widened(self, work: bytes, s: int) -> bytes:
        """``work`` with its rows' ``spans`` hints from ``s`` on widened over our columns (rows
        above the header too: a wider hint is harmless); ``work`` itself when none needs it."""
        return widen_spans(work, self, self.lo, self.hi) if work.find(b' spans="', s) >= 0 else work

    def user_cells(self, work: bytes, s: int) -> tuple[list[int], list[int]]:
        """Where the user's cells right of our columns and between them begin, from ``s`` on."""
        after = [m.start() for m in self.after.finditer(work, s)] if self.after is not None else []
        gaps = [m.start() for m in self.gap.finditer(work, s)] if self.gap is not None else []
        return after, gaps


class _RowMerger:
    """Cell-level merge of one row's cells with the new cells, for the rows that need it."""

    def __init__(self, xml: bytes, pat: _Patterns):
        self.xml, self.pat = xml, pat

    def merge(self, start: int, end: int, row: int, new: list[tuple[int, bytes]], out: list[bytes]) -> None:
        """Append to ``out`` the cells of xml[start:end] minus ours, with ``new`` merged in order.

        Kept cells without an ``r`` get one: their implied position (previous cell + 1) would
        shift once cells before them are removed or inserted.
        """
        xml, pat, k, col, last = self.xml, self.pat, 0, 0, start
        while True:
            m = pat.cell.search(xml, last, end)
            if not m:
                break
            rm = pat.cell_r.search(m.group(1))
            c = col_index(rm.group(1)) if rm else col + 1
            if m.group(2):
                cell_end = m.end()
            else:
                cell_end = xml.find(pat.close_c, m.end(), end)
                if cell_end < 0:
                    raise BookError(f"row {row}: a <c> element is not closed")
                cell_end += len(pat.close_c)
            out.append(xml[last: m.start()])  # whitespace between cells, if any
            if c not in pat.ours:
                while k < len(new) and new[k][0] < c:
                    out.append(new[k][1])
                    k += 1
                if rm:
                    out.append(xml[m.start(): cell_end])
                else:
                    ref = f"{col_letter(c)}{row}".encode()
                    out.append(pat.open_c + b' r="' + ref + b'"' + xml[m.start() + len(pat.open_c): cell_end])
            col, last = c, cell_end
        out.extend(cell for _, cell in new[k:])
        out.append(xml[last:end])  # trailing whitespace and a row <extLst>, kept last


class _Splice:
    """One splice: the sheet, its patterns, the target rows and their rendered new cells.

    ``targets[0]`` is the header row, ``targets[1:]`` the value rows (ascending);
    ``closed[j]`` is the new cells of ``targets[j]`` followed by ``</row>``.
    """

    def __init__(self, sh: _Sheet, pat: _Patterns, cols: list[OutColumn], header_row: int,
                 targets: list[int], closed: RenderedRows):
        self.xml, self.sh, self.pat, self.cols = sh.xml, sh, pat, cols
        self.header_row, self.targets, self.closed = header_row, targets, closed
        self.lc = len(pat.row_close)

    def cells_of(self, j: int) -> list[tuple[int, bytes]]:
        """The new cells of target j as (column, element), for rows merged cell by cell."""
        body = self.closed[j][: -self.lc]
        cells = [c + self.pat.close_c for c in body.split(self.pat.close_c)[:-1]]
        return [(col_index(self.pat.cell_r.search(c).group(1)), c) for c in cells]

    def new_row(self, j: int) -> bytes:
        return self.pat.row_open + b' r="' + str(self.targets[j]).encode() + b'">' + self.closed[j]

    def widen_spans(self, region: bytes) -> bytes:
        """Widen each row's ``spans`` hint (used columns) to cover our columns."""
        return widen_spans(region, self.pat, self.cols[0].index, self.cols[-1].index)

    def fast(self, prologue: bytes, scan: Any = None) -> Iterator[bytes] | None:
        """Splice with whole-buffer C-level operations; None when the sheet's shape needs `general`.

        Needs: every cell tag starts ``<c r="``, every row tag ``<row r="``, rows ascending, no
        row ``<extLst>``, none of our columns used above the header. Our old cells go in one
        ``re.sub``; the sheet is cut at each ``</row>`` and each row's new cells are interleaved
        as the text after it, yielded by blocks of rows. No extra copy of the sheet is made when
        there is nothing to strip (the rows are views of it). ``scan``: the block's passes made
        ahead (:class:`~xl_ar.book.splice_scan.BlockScan`), taken instead of making them here.
        """
        xml, sh, pat, lc = self.xml, self.sh, self.pat, self.lc
        s, e = sh.sd_start, sh.sd_end
        if sh.self_closing or (scan.anomaly if scan is not None else pat.anomaly.search(xml, s, e)):
            return None
        if scan is not None:
            r_arr = scan.rows.astype(np.int64)
        else:  # every row tag starts <row r=" (no anomaly)
            r_arr = pat.row_numbers(xml, s, e)
        n = len(r_arr)
        if n and (np.diff(r_arr) <= 0).any():
            return None
        first = int(np.searchsorted(r_arr, self.header_row))  # rows before it stay as they are
        if first:
            hdr = next(itertools.islice(pat.row_r_first.finditer(xml, s, e), first, None), None)
            if pat.mine.search(xml, s, hdr.start() if hdr else e):
                return None  # our columns used above the header: the whole-buffer strip would hit them
        cut = getattr(scan, "cut", None)  # the scan's passes over `work`, made for these very columns
        if cut is not None and cut.cols == tuple(sorted(pat.ours)):
            work = without(xml, cut.runs)
            work = self.widen_spans(work) if cut.widened else work
            cut = cut if len(work) == cut.size else None
        else:
            cut = None
        if cut is None:
            work = pat.widened(pat.mine_runs.sub(b"", xml), s)  # (xml itself when none of our cells are there)
        if cut is not None:
            closes = cut.closes.astype(np.int64)
        else:
            closes = scan.closes.astype(np.int64) if scan is not None and work is xml else find_all(work, pat.row_close)
        if len(closes) != n:  # <row .../> rows: open them up so that the row closes align with rows
            work, cut = pat.row_self_closing.sub(rb"\1></" + pat.p + b"row>", work), None
            closes = find_all(work, pat.row_close)
            if len(closes) != n:
                return None
        # Piece i is the sheet from after row i-1's </row> up to row i's (the last: to the end);
        # pieces are views of `work`, not copies. Edited pieces are kept apart in `edited`.
        starts = np.r_[0, closes + lc]
        stops = np.r_[closes, len(work)]
        edited: dict[int, bytes] = {}
        view = memoryview(work)
        piece = lambda i: edited[i] if i in edited else view[starts[i]: stops[i]]  # noqa: E731
        # User cells right of ours (a notes column, say) or between them: where, in which rows.
        after, gaps = (cut.after.tolist(), cut.gaps.tolist()) if cut is not None else pat.user_cells(work, s)
        tgt = np.asarray(self.targets, dtype=np.int64)
        posn = np.searchsorted(r_arr, tgt)
        exists = posn < n
        exists[exists] = r_arr[posn[exists]] == tgt[exists]
        # What follows row i: its new cells and </row> (target_of[i] >= 0), or just </row>;
        # rows edited below keep theirs in `tails`. Rendered on demand, in order.
        target_of = np.full(n, -1, np.int64)
        target_of[posn[exists]] = np.flatnonzero(exists)
        tails: dict[int, bytes] = {}
        closed = self.closed
        suffix = lambda i: tails[i] if i in tails else (closed[target_of[i]] if target_of[i] >= 0  # noqa: E731
                                                         else pat.row_close)
        if after or gaps:
            ends = starts[1:]
            row_of = lambda at: np.searchsorted(ends, np.asarray(at, dtype=np.int64), side="right")  # noqa: E731
            merge = set(row_of(gaps).tolist()) if gaps else set()
            for i in sorted(merge):  # a user column between ours: merge cell by cell
                if first <= i < n:
                    j = int(np.searchsorted(tgt, r_arr[i]))
                    new = self.cells_of(j) if j < len(tgt) and tgt[j] == r_arr[i] else []
                    old = bytes(piece(i))
                    gt = old.find(b">", old.find(pat.row_open)) + 1
                    out = [old[:gt]]
                    _RowMerger(old, pat).merge(gt, len(old), int(r_arr[i]), new, out)
                    edited[i], tails[i] = b"".join(out), pat.row_close
            if after:  # our block goes before the row's first cell right of it
                at = np.asarray(after, dtype=np.int64)
                rows_i = row_of(at)
                keep = np.flatnonzero(np.r_[True, rows_i[1:] != rows_i[:-1]])  # first per row
                for i, q in zip(rows_i[keep].tolist(), (at[keep] - starts[rows_i[keep]]).tolist()):
                    if first <= i < n and i not in merge and len(suffix(i)) > lc:
                        old = bytes(piece(i))
                        edited[i], tails[i] = old[:q], suffix(i)[:-lc] + old[q:] + pat.row_close
        lead: list[bytes] = []
        extra: dict[int, list[bytes]] = {}
        for k in np.flatnonzero(~exists).tolist():  # targets missing from the sheet: new rows
            if len(closed[k]) > lc:
                at = int(posn[k]) - 1
                (lead if at < 0 else extra.setdefault(at, [])).append(self.new_row(k))
        for i, rows in extra.items():
            tails[i] = suffix(i) + b"".join(rows)
        head = bytes(piece(0))  # the prologue is small: swap in the edited one, and rows before all others
        edited[0] = prologue + head[sh.sd_open: s] + b"".join(lead) + head[s:]
        return interleave(view, starts, stops, edited, target_of, tails, closed, pat.row_close)

    def general(self, prologue: bytes) -> list[bytes]:
        """Splice row by row, cell by cell where needed; handles any well-formed sheetData."""
        xml, sh, pat, lc = self.xml, self.sh, self.pat, self.lc
        targets, closed = self.targets, self.closed
        merger = _RowMerger(xml, pat)
        out: list[bytes] = [prologue]
        prev = sh.sd_open  # xml[:prev] is accounted for
        j, n_t, row_num, pos, end = 0, len(targets), 0, sh.sd_start, sh.sd_end
        delim = (b" ", b">", b"/", b"\t", b"\n", b"\r")
        while True:
            rs = xml.find(pat.row_open, pos, end)
            if rs < 0:
                break
            if xml[rs + len(pat.row_open): rs + len(pat.row_open) + 1] not in delim:
                pos = rs + 1
                continue
            gt = xml.find(b">", rs, end)
            if gt < 0:
                raise BookError("a <row> tag is not closed")
            self_closing = xml[gt - 1] == 0x2F
            m = pat.row_r.search(xml, rs, gt)
            row_num = int(m.group(1)) if m else row_num + 1
            if self_closing:
                body_start = body_end = pos = gt + 1
            else:
                body_start, body_end = gt + 1, xml.find(pat.row_close, gt + 1, end)
                if body_end < 0:
                    raise BookError(f"row {row_num}: <row> is not closed")
                pos = body_end + lc
            if row_num < self.header_row:
                continue
            while j < n_t and targets[j] < row_num:
                if len(closed[j]) > lc:
                    out += [xml[prev:rs], self.new_row(j)]
                    prev = rs
                j += 1
            this = -1
            if j < n_t and targets[j] == row_num:
                this, j = j, j + 1
            has_new = this >= 0 and len(closed[this]) > lc
            if has_new:
                sm = pat.spans.search(xml, rs, gt)
                if sm:
                    new = self.widen_spans(sm.group(0))
                    out += [xml[prev: sm.start()], new]
                    prev = sm.end()
            if self_closing:
                if has_new:
                    out += [xml[prev: gt - 1], b">", closed[this]]
                    prev = gt + 1
                continue
            out.append(xml[prev:body_start])
            merger.merge(body_start, body_end, row_num, self.cells_of(this) if has_new else [], out)
            prev = body_end
        tail_rows = [self.new_row(k) for k in range(j, n_t) if len(closed[k]) > lc]
        if sh.self_closing:
            tag = xml[sh.sd_open: sh.sd_start]
            out += [tag[:-2].rstrip() + b">", *tail_rows, b"</" + pat.p + b"sheetData>"]
            prev = sh.sd_start
        else:
            out.append(xml[prev: sh.sd_end])
            out += tail_rows
            prev = sh.sd_end
        out.append(xml[prev:])
        return out


def splice_columns(
    sheet_xml: bytes,
    *,
    header_row: int,
    columns: Sequence[OutColumn],
    rows: Any,
    values: Sequence[Any],
) -> bytes:
    """Write computed columns into a worksheet's XML, leaving every other cell as it was.

    Every existing cell in the given columns on rows >= ``header_row`` is removed (a row not in
    ``rows`` ends up blank there), the headers are written on ``header_row`` as inline strings
    (so ``sharedStrings.xml`` is untouched) and the values on ``rows``. Rows missing from the
    XML are created in order; ``<dimension>``, ``<cols>`` and the rows' ``spans`` are updated.

    Args:
        sheet_xml: the worksheet part as stored in the package.
        header_row: 1-based row of the headers.
        columns: the computed columns (distinct indices, any order).
        rows: 1-based Excel row numbers (distinct, each > ``header_row``) that get values.
        values: one sequence per column, aligned with ``rows``: floats (NaN = blank) for
            numbers, str (None or "" = blank) for text, datetime64/date (NaT/None = blank) for
            dates, which are written as Excel serial numbers with the column's style.

    Returns:
        The new XML. Formula cells in the columns are replaced like any other: tell the package
        (``set_sheet(..., cleared=(header_row, columns))``, or use :func:`splice_sheet`) so it
        can drop a calculation chain that lists them.
    """
    return b"".join(_splice(sheet_xml, header_row, columns, rows, values, allow_fast=True))


def splice_pieces(sheet_xml: bytes, *, header_row: int, columns: Sequence[OutColumn], rows: Any,
                  values: Sequence[Any]) -> Iterable[bytes]:
    """:func:`splice_columns` as the pieces whose concatenation is the new XML, not joined.

    A full sheet's new XML is about a gigabyte: the package deflates the pieces as they come
    (:func:`xl_ar.book.deflate.deflate_pieces`) instead of joining them first.

    Returns:
        The pieces, in order (a list, or an iterator yielding blocks of rows).
    """
    return _splice(sheet_xml, header_row, columns, rows, values, allow_fast=True)


def splice_sheet(pkg: WorkbookPackage, name: str, *, header_row: int, columns: Sequence[OutColumn], rows: Any,
                 values: Sequence[Any], tail: Callable[[bytes], bytes] | None = None, scans: Sequence[Any] = (),
                 progress: Callable[[float], None] | None = None) -> str:
    """Write computed columns into a worksheet of a package (:func:`splice_columns`, then set).

    The new part is deflated as it is spliced (a full sheet's XML is never joined) and compared
    on the way with the part as the file has it, so an unchanged sheet is still known as such.
    A large part is not even read whole: it is spliced block by block as it is inflated
    (:mod:`xl_ar.book.splice_stream`), unless a block's shape needs the whole-sheet splice.

    Args:
        pkg: the package.
        name: the sheet name.
        header_row, columns, rows, values: as for :func:`splice_columns`.
        tail: edits the XML from ``</sheetData>`` on (:func:`~xl_ar.book.splice_stream.edit_tail`).
        scans: the part's blocks scanned ahead (:mod:`xl_ar.book.splice_scan`), if any.
        progress: told the fraction of a large part spliced, block by block.

    Returns:
        The worksheet's part name.
    """
    part = pkg.sheet_part(name)
    req = _Request.checked(header_row, columns, rows, values)
    new = splice_by_blocks(pkg, part, lambda head: _BlockSplicer(head, req, scans), tail, progress=progress)
    if new is None:
        xml = pkg.read(part)
        new = deflate_pieces(_splice_checked(edit_tail(xml, tail), req, allow_fast=True),
                             original=None if part in pkg.changed_parts else xml)
    return pkg.set_sheet(name, new, cleared=(header_row, [c.index for c in columns]))


@dataclass
class _Request:
    """A splice's checked arguments: the columns by index, the rows ascending with their values."""

    header_row: int
    cols: list[OutColumn]
    vals: list[Any]
    rows: list[int]

    @classmethod
    def checked(cls, header_row: int, columns: Sequence[OutColumn], rows: Any, values: Sequence[Any]) -> _Request:
        """The arguments of :func:`splice_columns`, checked before any XML is read (ValueError)."""
        if not 1 <= header_row < MAX_ROW:
            raise ValueError(f"header_row out of range: {header_row}")
        if not columns or len(values) != len(columns):
            raise ValueError("give one value sequence per column, and at least one column")
        order = sorted(range(len(columns)), key=lambda k: columns[k].index)
        cols = [columns[k] for k in order]
        vals = [values[k] for k in order]
        idx = [c.index for c in cols]
        if len(set(idx)) != len(idx):
            raise ValueError("two computed columns share a column index")
        for c in cols:
            col_letter(c.index)
            if c.kind not in _KINDS:
                raise ValueError(f"unknown column kind {c.kind!r}")
        rows_arr = np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows_arr.size:
            if rows_arr.min() <= header_row or rows_arr.max() > MAX_ROW:
                raise ValueError(f"rows must lie in {header_row + 1}..{MAX_ROW}")
            if (np.diff(rows_arr) <= 0).any():
                perm = np.argsort(rows_arr, kind="stable")
                rows_arr = rows_arr[perm]
                if (np.diff(rows_arr) == 0).any():
                    raise ValueError("rows contains a duplicate row number")
                vals = [v[perm] if isinstance(v, np.ndarray) else np.asarray(list(v), dtype=object)[perm] for v in vals]
        return cls(header_row, cols, vals, rows_arr.tolist())

    def rendered(self, p: bytes) -> RenderedRows:
        """Every target's new cells and ``</row>``, for the namespace prefix ``p`` (values checked here)."""
        ps = p.decode()
        prepared = [prepare_column(c, v, len(self.rows)) for c, v in zip(self.cols, self.vals)]  # refused here, not midway
        heads = "".join(
            f'<{ps}c r="{col_letter(c.index)}{self.header_row}"' + (f' s="{c.header_style}"' if c.header_style else "")
            + f' t="inlineStr">{_t_element(c.header, ps)}</{ps}c>'
            for c in self.cols if c.header
        )
        return RenderedRows((heads + f"</{ps}row>").encode(), self.cols, self.rows, prepared, ps)

    def prologue(self, pro: bytes, p: bytes) -> bytes:
        """The XML before ``<sheetData>``, updated (:func:`~xl_ar.book.splice_stream.update_prologue`)."""
        return update_prologue(pro, p, self.cols, self.header_row, self.rows[-1] if self.rows else self.header_row)


def _splice(sheet_xml: bytes, header_row: int, columns: Sequence[OutColumn], rows: Any,
            values: Sequence[Any], allow_fast: bool) -> bytes:
    return _splice_checked(sheet_xml, _Request.checked(header_row, columns, rows, values), allow_fast)


def _splice_checked(sheet_xml: bytes, req: _Request, allow_fast: bool) -> Iterable[bytes]:
    """The whole-sheet splice: `_Splice.fast` when the sheet's shape allows it, else `general`."""
    sh = _locate(sheet_xml)
    pat = _Patterns(sh.p, [c.index for c in req.cols])
    closed = req.rendered(sh.p)
    job = _Splice(sh, pat, req.cols, req.header_row, [req.header_row] + req.rows, closed)
    prologue = req.prologue(sh.xml[: sh.sd_open], sh.p)
    return (job.fast(prologue) if allow_fast else None) or job.general(prologue)


class _BlockSplicer:
    """The whole-sheet `_Splice.fast`, run on each block of whole rows of a streamed part.

    A block is spliced as a sheet of its own rows would be, with the targets from after the
    previous block's last row up to its own last row (the last block: all that are left). A
    missing target row then lands where the whole-sheet splice puts it, right after the row
    before it (or, first in a block, right after the previous block's last ``</row>``). What
    `fast` checks across the sheet is checked across blocks too: rows ascend from one block to
    the next, and none of its whole-buffer patterns would have matched across a border (a cell
    left open, a ``' spans="'`` in a text). A block `fast` declines, or a sheet whose XML before
    ``<sheetData>`` the whole-sheet splice would edit as well, raises :class:`Unstreamable`.
    """

    def __init__(self, head: bytes, req: _Request, scans: Sequence[Any] = ()):
        """Args:
            head: the part's first pieces: the XML through ``<sheetData ...>``, and some rows.
            req: the splice's arguments.
            scans: the blocks' passes made ahead, in order (:mod:`xl_ar.book.splice_scan`).
        """
        try:
            p, sm = sheet_data_tag(head)
        except (BookError, ValueError):
            raise Unstreamable from None  # the whole-sheet splice says why, or finds it further on
        self.pat = pat = _Patterns(p, [c.index for c in req.cols])
        pro = head[: sm.end()]
        if sm.group(1) or any(x in pro for x in (b' spans="', pat.row_open, pat.row_close, pat.open_c + b' r="')):
            raise Unstreamable  # <sheetData/>, or text the whole-sheet `fast` would rewrite there too
        self.row_close, self.sd_close = pat.row_close, b"</" + p + b"sheetData>"
        self.req, self.targets, self.closed = req, [req.header_row] + req.rows, req.rendered(p)
        self.start: tuple[int, int] | None = (sm.start(), sm.end())  # the first block's; then None
        self.prologue = req.prologue(head[: sm.start()], p)
        self.done, self.last_row = 0, -1  # targets spliced so far; the last row seen
        self.scans, self.k = scans, 0  # and the blocks so far

    def __call__(self, block: bytes, final: bool) -> Iterator[bytes]:
        """The new XML of the next block, by `fast` on it alone, once what it cannot see is checked."""
        pat, (o, s) = self.pat, self.start or (0, 0)
        e = block.rfind(self.sd_close) if final else len(block)
        if e < s or (not final and self.sd_close in block):
            raise Unstreamable
        if block.find(b' spans="', s) >= 0 and block.count(b' spans="') != len(pat.spans.findall(block)):
            raise Unstreamable  # a ' spans="' outside a tag: a whole-sheet widening may treat it otherwise
        if not final and any(not c.group(2) for c in pat.cell.finditer(block, max(block.rfind(pat.close_c), s))):
            raise Unstreamable  # a cell left open (malformed): the whole sheet's strip would run past the row
        m = pat.row_r_first.search(block, s, e)
        last = pat.row_r_first.match(block, block.rfind(pat.row_open + b' r="', s, e)) if m else None
        if (m and int(m.group(1)) <= self.last_row) or (not final and last is None):
            raise Unstreamable  # rows out of order across blocks, or a block without a row we can read
        lo = self.done
        hi = len(self.targets) if final else bisect.bisect_right(self.targets, int(last.group(1)), lo)
        job = _Splice(_Sheet(block, pat.p, o, s, e, False), pat, self.req.cols, self.req.header_row,
                      self.targets[lo:hi], Shifted(self.closed, lo))
        scan = self.scans[self.k] if self.k < len(self.scans) and not final else None
        self.k += 1
        if scan is not None and scan.size != len(block):
            scan = None  # a scan of another block
        out = job.fast(self.prologue if self.start else b"", scan)
        if out is None:
            raise Unstreamable
        self.start, self.done, self.last_row = None, hi, int(last.group(1)) if last else self.last_row
        return out
