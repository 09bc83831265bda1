"""A large ledger sheet handed to calamine without the tool's own cells.

The next refresh reads back the sheets it refreshed: below the header of a full Invoices sheet,
the ten computed columns an earlier run wrote are half of the XML and most of its cells, and
calamine parses every one of them although the reader drops them (:func:`xl_ar.book.reader._cells`
keeps, below the header, only the columns left of the run of the tool's own columns that ends the
header row). Here, before calamine runs, that header is found from the first rows alone (the
beginning of the part inflated, shared strings read only as far as the header needs) by the
reader's own rule, so the columns left out are exactly the ones it drops. The part is then
inflated block by block and, in each row, the run of cells in or right of those columns that
ends the row is cut out (a cell of theirs followed by one of the user's in the same
row stays: only what the reader drops is ever removed). calamine reads a copy of the package in a
temporary file instead of the workbook: the parts it parses copied raw, the cut sheets stored.

The header row and the rows above it are cut as well, although the reader keeps them whole:
calamine holds a sheet's grid densely, as wide as its widest row, so the header's ten computed
titles alone would make each of a million rows ten cells wider (a third of a gigabyte, 0.4 s of
its parse and 0.15 s of the reader's). Those cells, as read here, go to the reader with the copy
(:attr:`ReadingCopy.heads`), which puts them back where they were. In the header they are the
tool's titles and blank cells, read here as calamine reads them (or the sheet is not cut); above
it, whatever a title row holds there, which only the search for the header looks at (a date is a
number here, which that search cannot tell from a date).

Whatever is unusual (no header found, a formula or an error cell among the first rows, text
whose decoding is not certain, a cell or row without its reference, comments or processing
instructions among the rows, a temporary file that cannot be written) and the sheet, or the
workbook, is read as it is, as before.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np

from xl_ar.book.headers import OUTPUT_LOOKUP
from xl_ar.book.package import WorkbookPackage
from xl_ar.book.screen import Screening, SheetScreen, words_at
from xl_ar.book.sheetxml import BookError, col_index
from xl_ar.book.splice import sheet_data_tag
from xl_ar.book.splice_stream import row_blocks
from xl_ar.book.zipio import copy_member, end_zip, iter_member, stored_member
from xl_ar.core.progress import Step

#: A ledger sheet with at least this much XML (about 25,000 rows) is cut before calamine parses
#: it, when its header ends with the tool's columns; a smaller one is read as it is.
STRIP_FROM = 8 << 20
#: The first rows are looked for in at most this much of the part's beginning.
HEAD_LIMIT = 4 << 20
_HEAD_PIECE = 1 << 16  # XML inflated at a time while the first rows are looked for
_PIECE = 1 << 20  # the part is cut by blocks of about this size (small enough for their
# array passes to find it in the processor's cache, 2.5 s for a refreshed full sheet against 2.9 by 4 MB)

#: The first rows and columns found: (index of the header among the rows, first of the tool's
#: columns from A, both 0-based), or None when nothing is to be left out.
FirstOurs = Callable[[list[list[Any]], str], "tuple[int, int] | None"]


class _Unusual(Exception):
    """Something this module does not read with certainty: the sheet is read as it is."""


@dataclass
class ReadingCopy:
    """The copy of the package calamine reads instead of the workbook file.

    Attributes:
        path: the temporary zip's path for calamine; None when no sheet was cut (calamine reads
            the workbook as before).
        cuts: sheet name -> where it was cut, for every sheet cut: the header's index and the
            first column left out below it (0-based, as the reader's rule gives them).
        heads: sheet name -> the cells cut from its first rows (the header's and those above
            it), for every sheet cut: for each of those rows, its values from the first column
            left out on (empty for a row holding none there).
    """

    path: Path | None = None
    cuts: dict[str, tuple[int, int]] = field(default_factory=dict)
    heads: dict[str, tuple[tuple[Any, ...], ...]] = field(default_factory=dict)
    _file: BinaryIO | None = None
    _named: bool = False  # a file with a name, removed on close (else it has none)

    def close(self) -> None:
        """Close and remove the temporary file."""
        path, file, self.path, self._file = self.path, self._file, None, None
        try:
            if file is not None:
                file.close()
            if path is not None and self._named:
                path.unlink(missing_ok=True)
        except OSError:
            pass

    def __enter__(self) -> ReadingCopy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _temporary() -> tuple[BinaryIO, Path, bool]:
    """A temporary file calamine can open by name: on Linux one without a name, by its
    ``/proc/self/fd`` path, gone however the run ends (killed, too); elsewhere a named one in the
    temporary folder, removed when the copy is closed. Returns (file, path, named)."""
    fds = Path("/proc/self/fd")
    if fds.is_dir():
        f = tempfile.TemporaryFile(prefix=".xl-ar-read-", suffix=".xlsx")
        return f, fds / str(f.fileno()), False
    fd, name = tempfile.mkstemp(prefix=".xl-ar-read-", suffix=".xlsx")
    return os.fdopen(fd, "w+b"), Path(name), True


@dataclass(frozen=True)
class _Cut:
    header_row: int  # 1-based row of the header
    first_col: int  # cells are cut from this 1-based column on, in every row
    p: bytes  # the sheet's prefix of the main namespace ("x:" or "")
    head: tuple[tuple[Any, ...], ...] = ()  # the header's and earlier rows' values cut (ReadingCopy.heads)


def reading_copy(pkg: WorkbookPackage, screening: Screening, first_ours: FirstOurs, head_rows: int,
                 progress: Step | None = None) -> ReadingCopy:
    """The copy calamine reads, with the tool's own cells cut below the header of each large sheet.

    Args:
        pkg: the package, as opened (its parts those of the file).
        screening: its screening: the ledger sheets, those it trimmed (read from their trimmed
            XML, never cut here) and their sizes.
        first_ours: the reader's rule, given a sheet's first rows (from row 1 and column A) and
            its table: the header's index and the first of the tool's columns, or None.
        head_rows: how many first rows the rule looks at.
        progress: reports the bytes of the sheets cut so far.

    Returns:
        The copy, to be closed once calamine is done with it (it removes the temporary file);
        one without a path when nothing is cut, or when the file cannot be written.
    """
    try:
        return _reading_copy(pkg, screening, first_ours, head_rows, progress or Step())
    finally:
        for screen in screening.sheets.values():
            screen.xml = None  # the copy is made: the sheets' XML goes


def _reading_copy(pkg: WorkbookPackage, screening: Screening, first_ours: FirstOurs, head_rows: int,
                  progress: Step) -> ReadingCopy:
    """:func:`reading_copy`, the screening's XML still kept."""
    cuts: dict[str, _Cut] = {}
    for canon, screen in screening.sheets.items():
        if canon in OUTPUT_LOOKUP and screen.trimmed is None and screen.size >= STRIP_FROM \
                and pkg.stored(screen.part) is not None:
            try:
                cut = _find_cut(pkg, screen.part, canon, first_ours, head_rows)
            except Exception:  # whatever it is, the sheet is read as it is
                cut = None
            if cut is not None:
                cuts[screen.name] = cut
    if not cuts:
        return ReadingCopy()
    try:
        out, path, named = _temporary()
    except OSError:
        return ReadingCopy()
    copy = ReadingCopy(path, _file=out, _named=named)
    try:
        cut_sheets = _write_copy(out, pkg, screening, cuts, progress)
        out.flush()
    except BaseException as exc:
        copy.close()
        if not isinstance(exc, Exception):
            raise
        return ReadingCopy()  # no room, no access, or anything else: read the workbook itself
    if not cut_sheets:
        copy.close()
        return ReadingCopy()
    copy.cuts = {s: (cuts[s].header_row - 1, cuts[s].first_col - 1) for s in cut_sheets}
    copy.heads = {s: cuts[s].head for s in cut_sheets}
    return copy


# --------------------------------------------------------------------------- the first rows


def _find_cut(pkg: WorkbookPackage, part: str, table: str, first_ours: FirstOurs, nrows: int) -> _Cut | None:
    """Where a sheet is cut: its first rows read from the beginning of the part, the rule applied."""
    found = _head(pkg, part, nrows)
    if found is None:
        return None
    p, head = found
    at = first_ours(head, table)
    if at is None:
        return None
    h, k = at
    return _Cut(h + 1, k + 1, p, tuple(tuple(row[k:]) for row in head[: h + 1]))


def first_rows(pkg: WorkbookPackage, part: str, nrows: int) -> list[list[Any]] | None:
    """A sheet's rows 1..``nrows`` from column A, read from the beginning of its part alone, as
    calamine gives them but for dates (numbers here); None for a part this module does not read
    with certainty (a formula or an error cell among them, say) or not stored as it reads parts."""
    try:
        found = _head(pkg, part, nrows)
    except Exception:  # _Unusual, or whatever else: the sheet is read the usual way
        return None
    return None if found is None else found[1]


def _head(pkg: WorkbookPackage, part: str, nrows: int) -> tuple[bytes, list[list[Any]]] | None:
    """The prefix of a sheet's main namespace and its first rows' values (shared strings
    resolved); None when the part is not stored as this module reads parts."""
    member = pkg.stored(part)
    if member is None:
        return None
    pieces = iter_member(pkg.path, member, part, _HEAD_PIECE)
    buf, found = b"", None
    try:
        for piece in pieces:
            buf += piece
            found = _first_rows(buf, nrows, final=False)
            if found is not None or len(buf) > HEAD_LIMIT:
                break
        else:
            found = _first_rows(buf, nrows, final=True)
    finally:
        pieces.close()
    if found is None:
        return None
    p, rows = found
    wanted = {v.index for row in rows for _, v in row if isinstance(v, _Shared)}
    strings = _shared_strings(pkg, wanted) if wanted else {}
    head: list[list[Any]] = []
    for row in rows:
        values: list[Any] = [""] * (row[-1][0] if row else 0)
        for col, v in row:
            values[col - 1] = strings[v.index] if isinstance(v, _Shared) else v
        head.append(values)
    return p, head


@dataclass(frozen=True)
class _Shared:
    index: int  # a shared string's index, resolved once the first rows are all read


def _first_rows(xml: bytes, nrows: int, final: bool) -> tuple[bytes, list[list[tuple[int, Any]]]] | None:
    """The cells of rows 1..``nrows`` as ``(column, value)`` in column order, with the prefix of the
    main namespace; None when ``xml`` (the part's beginning) stops before them (and is not the
    whole part). Raises :class:`_Unusual` for what it does not read as calamine would."""
    if b"sheetData" not in xml and not final:
        return None
    try:
        p, sm = sheet_data_tag(xml)
    except (BookError, ValueError):
        if not final and xml.find(b">", xml.find(b"sheetData")) < 0:
            return None  # the tag itself is cut off
        raise _Unusual from None
    if sm.group(1):
        raise _Unusual  # <sheetData/>: nothing to cut
    ep = re.escape(p)
    row_tag = re.compile(rb"<" + ep + rb"row(?=[\s/>])([^>]*)>")
    cell_tag = re.compile(rb"<" + ep + rb"c(?=[\s/>])([^>]*)>")
    row_close, cell_close, sd_close = b"</" + p + b"row>", b"</" + p + b"c>", b"</" + p + b"sheetData>"
    rows: list[list[tuple[int, Any]]] = [[] for _ in range(nrows)]
    pos, last = sm.end(), 0
    while True:
        m = row_tag.search(xml, pos)
        gap = xml[pos: m.start() if m else len(xml)]
        if gap.lstrip().startswith(sd_close):
            return p, rows  # the sheet's rows end before row nrows + 1
        if m is None and not final:
            return None  # the next row (or the end of the rows) is further on
        if m is None or gap.strip():
            raise _Unusual  # a comment, text or another element between rows
        rm = re.fullmatch(rb'\s+r="([1-9][0-9]{0,6})"(?:\s[^>]*)?/?', m.group(1))
        if rm is None or int(rm.group(1)) <= last:
            raise _Unusual  # a row without its number, or rows out of order
        last = int(rm.group(1))
        if last > nrows:
            return p, rows
        if m.group(1).endswith(b"/"):
            pos = m.end()
            continue
        end = xml.find(row_close, m.end())
        if end < 0:
            if final:
                raise _Unusual
            return None
        rows[last - 1] = _row_cells(xml[m.end(): end], last, p, cell_tag, cell_close)
        pos = end + len(row_close)


def _row_cells(body: bytes, row: int, p: bytes, cell_tag: re.Pattern[bytes],
               cell_close: bytes) -> list[tuple[int, Any]]:
    """The cells of one row's XML as ``(column, value)``, each naming itself, in column order."""
    cells: list[tuple[int, Any]] = []
    pos = 0
    while True:
        m = cell_tag.search(body, pos)
        if body[pos: m.start() if m else len(body)].strip():
            raise _Unusual  # anything else in the row (its extLst, say)
        if m is None:
            return cells
        rm = re.match(rb'\s+r="([A-Z]{1,3})([1-9][0-9]{0,6})"', m.group(1))
        if rm is None or int(rm.group(2)) != row:
            raise _Unusual
        col = col_index(rm.group(1))
        if cells and col <= cells[-1][0]:
            raise _Unusual
        tm = re.search(rb'\st="([^"]*)"', m.group(1))
        if m.group(1).endswith(b"/"):
            content, pos = b"", m.end()
        else:
            end = body.find(cell_close, m.end())
            if end < 0:
                raise _Unusual
            content, pos = body[m.end(): end], end + len(cell_close)
        cells.append((col, _value(tm.group(1) if tm else b"n", content, p)))


_NUMBER = re.compile(rb"\s*-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?\s*")


def _value(t: bytes, content: bytes, p: bytes) -> Any:
    """A cell's value as far as the header's rule tells values apart: text as calamine gives it,
    a number as a float, a boolean, "" for none; a shared string as its index."""
    ep = re.escape(p)
    if re.search(rb"<" + ep + rb"f[\s/>]", content):
        raise _Unusual  # a formula: its cached value, or none (an error cell), is left to calamine
    if t == b"inlineStr":
        m = re.fullmatch(rb"\s*(?:<" + ep + rb"is>(.*)</" + ep + rb"is>|<" + ep + rb"is/>)?\s*", content, re.S)
        if m is None:
            raise _Unusual
        return _rich(m.group(1) or b"", p)
    m = re.fullmatch(rb"\s*(?:<" + ep + rb"v>([^<]*)</" + ep + rb"v>)?\s*", content)
    if m is None:
        raise _Unusual
    raw = m.group(1)
    if raw is None and t in (b"n", b"s", b"str", b"b"):
        return ""  # no value: an empty cell
    if t == b"n" and _NUMBER.fullmatch(raw):
        return float(raw)
    if t == b"s" and raw.strip().isdigit():
        return _Shared(int(raw))
    if t == b"str":
        return _text(raw)
    if t == b"b" and raw in (b"0", b"1"):
        return raw == b"1"
    raise _Unusual  # an error cell, a date as text, anything else


_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _text(raw: bytes) -> str:
    """A text node's characters. A carriage return (which XML folds) or an ``_xHHHH_`` escape
    (which calamine decodes) is not read here: :class:`_Unusual`."""
    if b"\r" in raw:
        raise _Unusual
    s = raw.decode("utf-8")  # a UnicodeDecodeError is a ValueError: caught, read as it is
    if "&" in s:
        if "&" in _ENTITY.sub("", s):
            raise _Unusual
        s = _ENTITY.sub(_entity, s)
    if "_x" in s.lower():
        raise _Unusual
    return s


def _entity(m: re.Match[str]) -> str:
    g = m.group(1)
    if g in _NAMED:
        return _NAMED[g]
    code = int(g[2:], 16) if g[1] in "xX" else int(g[1:])
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF or code == 0xD:
        raise _Unusual
    return chr(code)


def _rich(content: bytes, p: bytes) -> str:
    """The text of an ``<si>`` or ``<is>``: its ``<t>``, or the ``<t>`` of each of its runs joined.
    Phonetic runs (``<rPh>``) and anything else holding text: :class:`_Unusual`."""
    if b"rPh" in content or b"<!" in content or b"<?" in content:
        raise _Unusual
    ep = re.escape(p)
    texts = re.findall(rb"<" + ep + rb"t(?:\s[^>]*)?(?:/>|>([^<]*)</" + ep + rb"t>)", content)
    if len(texts) != len(re.findall(rb"<" + ep + rb"t[\s/>]", content)):
        raise _Unusual
    rest = re.sub(rb"<" + ep + rb"t(?:\s[^>]*)?(?:/>|>[^<]*</" + ep + rb"t>)", b"", content)
    if re.sub(rb"<[^>]*>", b"", rest).strip():
        raise _Unusual  # text outside a <t>
    return "".join(_text(t) for t in texts)


def _shared_strings(pkg: WorkbookPackage, wanted: set[int]) -> dict[int, str]:
    """The shared strings of the given indices, the part inflated only as far as the last one."""
    part = pkg.shared_strings_part()
    member = pkg.stored(part) if part else None
    if member is None or part != "xl/sharedStrings.xml":
        raise _Unusual  # (a reader may look for them there whatever the relationships say)
    si_open = re.compile(rb"<([\w.-]+:)?si(?=[\s/>])([^>]*)>")
    out: dict[int, str] = {}
    top, index, pos, buf = max(wanted), 0, 0, b""
    pieces = iter_member(pkg.path, member, part, _HEAD_PIECE)
    try:
        for piece in pieces:
            buf = buf[pos:] + piece
            pos = 0
            while index <= top:
                m = si_open.search(buf, pos)
                if m is None:
                    break
                if m.group(2).endswith(b"/"):
                    content, end = b"", m.end()
                else:
                    close = b"</" + (m.group(1) or b"") + b"si>"
                    at = buf.find(close, m.end())
                    if at < 0:
                        break  # the string goes on in the next piece
                    content, end = buf[m.end(): at], at + len(close)
                if index in wanted:
                    out[index] = _rich(content, m.group(1) or b"")
                index, pos = index + 1, end
            if index > top:
                return out
    finally:
        pieces.close()
    raise _Unusual  # fewer strings than the cells name


# --------------------------------------------------------------------------- the copy


def _write_copy(out: BinaryIO, pkg: WorkbookPackage, screening: Screening, cuts: dict[str, _Cut],
                progress: Step) -> list[str]:
    """Write the zip calamine reads: the reader's parts and every ledger sheet, each copied raw
    unless cut (stored) or trimmed by the screening (stored as trimmed). Returns the sheets cut;
    ``progress`` is told the bytes of XML cut so far."""
    sheets: dict[str, SheetScreen] = {s.part: s for s in screening.sheets.values()}
    central: list[bytes] = []
    cut_sheets: list[str] = []
    total, seen = sum(len(s.xml or b"") for s in sheets.values() if s.name in cuts) or 1, [0]

    def read(n: int) -> None:
        seen[0] += n
        progress(seen[0] / total)

    with open(pkg.path, "rb") as src:
        for part in dict.fromkeys(pkg.reader_parts() + list(sheets)):
            member, screen = pkg.stored(part), sheets.get(part)
            if member is None:
                raise _Unusual  # a part changed in the package: not the file's
            start = out.tell()
            if screen is not None and screen.trimmed is not None:
                central.append(stored_member(out, member, [screen.trimmed]))
                continue
            cut = cuts.get(screen.name) if screen is not None else None
            if cut is not None and screen.xml is not None:
                try:
                    central.append(stored_member(out, member, _stripped(screen.xml, cut, read)))
                    cut_sheets.append(screen.name)
                    continue
                except _Unusual:  # this sheet is copied as it is, over what was written of it
                    out.seek(start)
                    out.truncate()
            central.append(copy_member(out, src, member, pkg.path.name))
    end_zip(out, central)
    return cut_sheets


# --------------------------------------------------------------------------- the cut


def _stripped(xml: bytes, cut: _Cut, read: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """The part's XML (as the screening inflated it) cut block by block (blocks of whole rows),
    ``read`` told each block's length. Raises :class:`_Unusual` (the caller then copies the part
    as it is) for a shape not cut with certainty, or when nothing at all is cut."""
    row_close, sd_close = b"</" + cut.p + b"row>", b"</" + cut.p + b"sheetData>"
    pieces = _pieces(xml)
    first, removed = True, 0
    try:
        for block, final in row_blocks(pieces, row_close):
            s = 0
            if first:
                try:
                    p, sm = sheet_data_tag(block)
                except (BookError, ValueError):
                    raise _Unusual from None
                if p != cut.p or sm.group(1):
                    raise _Unusual
                s, first = sm.end(), False
            # (calamine reads no cell past </sheetData>: what follows it is never cut, and were it
            # in an earlier block, this one would not end with it)
            e = block.rfind(sd_close) if final else len(block)
            if e < s:
                raise _Unusual
            starts, stops = _runs(block, s, e, cut)
            if read is not None:
                read(len(block))
            if not len(starts):
                yield block
                continue
            removed += int((stops - starts).sum())
            view, bounds = memoryview(block), np.r_[0, stops].tolist()
            ends = np.r_[starts, len(block)].tolist()
            yield b"".join([view[a:b] for a, b in zip(bounds, ends)])
            del view
    finally:
        pieces.close()
    if not removed:
        raise _Unusual  # nothing the reader drops: the part is copied raw instead


def _pieces(xml: bytes) -> Iterator[bytes]:
    """``xml`` in pieces of :data:`_PIECE` bytes."""
    for at in range(0, len(xml), _PIECE):
        yield xml[at:at + _PIECE]


_NAME_END = np.zeros(256, bool)  # the bytes that may end a tag's name
_NAME_END[list(b" \t\r\n/>")] = True
_LETTER = np.zeros(256, bool)
_LETTER[list(range(0x41, 0x5B))] = True
_DIGIT = np.zeros(256, bool)
_DIGIT[list(range(0x30, 0x3A))] = True
_R_ATTR = int.from_bytes(b' r="', "little")


def _runs(block: bytes, s: int, e: int, cut: _Cut) -> tuple[np.ndarray, np.ndarray]:
    """The runs of cells to cut in ``block[s:e]`` (whole rows): for each row whose last cell lies
    in or right of the first column cut, from the first cell of the run of such cells that ends
    the row to the row's end tag. Returns (starts, stops) offsets in ``block``.

    Cells are found by array operations on the bytes: every ``<c`` followed by what ends a tag's
    name, each of which must start ``<c r="`` and name its column (A to XFD) and row (no leading
    zero); rows by their end tags.
    """
    empty = np.zeros(0, np.int64)
    if _has2(block, s, e, b"<!") or _has2(block, s, e, b"<?"):
        raise _Unusual  # a comment, CDATA or processing instruction could hide markup
    a = np.frombuffer(block, np.uint8)
    tag = b"<" + cut.p + b"c"
    pos = _find2(block, s, e, tag[:2])
    if pos.size and pos[-1] + len(tag) + 10 >= len(block):
        raise _Unusual  # (a cell's tag is never that close to the end of a block of rows)
    for j in range(2, len(tag)):
        pos = pos[a[pos + j] == tag[j]]
    pos = pos[_NAME_END[a[pos + len(tag)]]]  # <c, not <col or <color
    if not pos.size:
        return empty, empty
    at = pos + len(tag)
    if (words_at(block, at) != _R_ATTR).any():
        raise _Unusual  # a cell whose first attribute is not its reference
    at += 4
    b0, b1, b2 = a[at], a[at + 1], a[at + 2]
    two = _LETTER[b1]
    three = two & _LETTER[b2]
    v0, v1, v2 = (b.astype(np.int32) - 0x40 for b in (b0, b1, b2))
    col = np.where(three, (v0 * 26 + v1) * 26 + v2, np.where(two, v0 * 26 + v1, v0))
    at += 1 + two + three  # the row's digits
    d0 = a[at]
    if not _LETTER[b0].all() or not _DIGIT[d0].all() or (d0 == 0x30).any() or (col > 16384).any():
        raise _Unusual  # a reference calamine may read otherwise
    ours = col >= cut.first_col
    close = b"</" + cut.p + b"row>"
    ends = _find2(block, s, e, b"w>") + 2 - len(close)
    ends = ends[ends >= s]
    for j in range(len(close) - 2):
        ends = ends[a[ends + j] == close[j]]
    if not ends.size or pos[-1] > ends[-1]:
        raise _Unusual  # a cell after the last row's end
    last = np.searchsorted(pos, ends) - 1  # the last cell before each row's end tag
    held = last > np.r_[-1, last[:-1]]  # rows holding cells
    last, ends = last[held], ends[held]
    cut_at = np.flatnonzero(ours[last])  # rows ending with a cell to cut
    if not cut_at.size:
        return empty, empty
    kept = np.r_[-1, np.flatnonzero(~ours)]  # the run to cut starts after the row's last cell kept ...
    after_kept = kept[np.searchsorted(kept, last[cut_at]) - 1] + 1
    first = np.maximum(after_kept, np.r_[0, last[:-1] + 1][cut_at])  # ... or at its first cell
    return pos[first], ends[cut_at]


def _has2(block: bytes, s: int, e: int, two: bytes) -> bool:
    """Whether the two bytes ``two`` occur within ``block[s:e]``."""
    w = int.from_bytes(two, "little")
    return any((np.frombuffer(block, "<u2", (e - start) // 2, offset=start) == w).any()
               for start in (s, s + 1) if e - start >= 2)


def _find2(block: bytes, s: int, e: int, two: bytes) -> np.ndarray:
    """Offsets in ``block`` of each occurrence of the two bytes ``two`` within ``block[s:e]``."""
    w = int.from_bytes(two, "little")
    found = []
    for start in (s, s + 1):  # the pairs starting at even offsets from s, then at odd ones
        n = (e - start) // 2
        pairs = np.frombuffer(block, "<u2", n, offset=start) if n > 0 else np.zeros(0, "<u2")
        found.append(np.flatnonzero(pairs == w) * 2 + start)
    return np.sort(np.concatenate(found), kind="stable")  # two sorted runs: merged
