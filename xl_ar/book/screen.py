"""Screening the parts a reader will parse, before it parses them.

A workbook is untrusted input. calamine (the fast reader) trusts what it is given: a DOCTYPE
in the shared strings, a member whose data is longer than its header says, corrupt deflate data
or a missing sheet part end in a reader error or worse, and one value typed in XFD1048576 makes
it allocate the whole grid from A1 (17 billion cells). So every part the reader will parse
(workbook, its relationships, shared strings, styles, the ledger sheets and their tables) is
first inflated here under the package's limits (size, ratio, declared against real size, CRC),
parsed by expat for well-formedness with any DOCTYPE refused, and each ledger sheet's extent is
measured. A sheet whose dense grid would be too large is cut down to the columns of its header
rows (the only ones the ledger reads); if that is still too large it is refused, naming the
far cell.

The scan also finds what calamine hides: cells holding an Excel error (``#N/A``, ``#REF!``) and
formulas saved without a value, both of which it reads as blank.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xl_ar.book import wellformed
from xl_ar.book.headers import OWNED_SHEETS, sheet_for_name
from xl_ar.book.package import WorkbookPackage
from xl_ar.book.sheetxml import BookError, col_index, col_letter

#: The most cells (rows x columns, from A1) a ledger sheet may span once cut to its columns:
#: 1,048,576 rows of 22 columns. calamine holds the grid densely (~32 bytes a cell).
MAX_DENSE_CELLS = 23_000_000
#: The header is looked for in these first rows (as the reader does).
HEADER_ROWS = 10
#: Excel's limit on the characters of one cell.
EXCEL_MAX_TEXT = 32_767

_ROW = re.compile(rb"<(?:\w+:)?row\b[^>]*?\br=\"(\d+)\"")
_CELL_COL = re.compile(rb"<(?:\w+:)?c\b[^>]*?\br=\"([A-Z]{1,3})")
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_REF = re.compile(rb"\br=\"([A-Z]{1,3})(\d{1,7})\"")
_ERROR_CELL = re.compile(rb"<(?:\w+:)?c\b[^>]*?\bt=\"e\"[^>]*>.*?</(?:\w+:)?c>", re.S)
_FORMULA_NO_VALUE = re.compile(rb"<(?:\w+:)?c\b([^>]*)>\s*<(?:\w+:)?f\b[^>]*(?:/>|>[^<]*</(?:\w+:)?f>)\s*</(?:\w+:)?c>")
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
#: Bytes of a part scanned at once by the array scans: bounded memory on a 600 MB sheet, and
#: each piece's passes made while it is still in the processor's cache (a refreshed full
#: sheet's extent in 0.59 s by pieces of 1 MB, 0.99 s by pieces of 16 MB).
_CHUNK = 1 << 20
_LONG_TEXT = re.compile(rb"<(?:\w+:)?t\b[^>]*>[^<]{%d,}" % (EXCEL_MAX_TEXT + 1))


@dataclass
class SheetScreen:
    """What the scan of one ledger sheet found.

    Attributes:
        name: the sheet's name; part: its worksheet part.
        errors: cell reference -> Excel error shown (``"#N/A"``), or ``"formula"`` for a
            formula saved without a value.
        trimmed: the sheet XML cut to its ledger columns, when the full grid is too large.
        size: bytes of the sheet's XML as the reader will get it.
        xml: the sheet's XML as inflated here (not trimmed), kept for the reading copy, which
            lets it go (:func:`xl_ar.book.strip.reading_copy`): inflating a refreshed full
            sheet again costs half a second.
    """

    name: str
    part: str
    errors: dict[str, str] = field(default_factory=dict)
    trimmed: bytes | None = None
    size: int = 0
    xml: bytes | None = field(default=None, repr=False)


@dataclass
class Screening:
    """The checked parts of a workbook: the ledger sheets to read, by canonical name.

    The well-formedness of a large sheet is checked beside the run (:class:`_Beside`): call
    :meth:`finish` before anything read is acted on (written, or reported), and on any failure
    of what uses it, so that a part that is not well-formed is reported as such rather than as
    what it broke; :meth:`drop` stops the checks of a run that ends otherwise.
    """

    sheets: dict[str, SheetScreen]
    long_text: list[str] = field(default_factory=list)
    pending: list["_Beside"] = field(default_factory=list)

    def finish(self) -> None:
        """Wait for the checks made beside; raise the first one's :class:`BookError`."""
        pending, self.pending = self.pending, []
        _finish(pending)

    def drop(self) -> None:
        """Stop the checks still running (idempotent; none is left after :meth:`finish`)."""
        pending, self.pending = self.pending, []
        _drop(pending)


def _drop(pending: list["_Beside"]) -> None:
    """Stop every check made beside, not waiting for its answer."""
    for check in pending:
        check.drop()


def _finish(pending: list["_Beside"]) -> None:
    """Wait for every check made beside; raise the first refusal as a :class:`BookError`."""
    errors = [e for e in (b.result() for b in pending) if e]
    if errors:
        raise BookError(errors[0])


#: A sheet part this large (bytes of XML, about 25,000 rows) has its well-formedness checked in
#: a process of its own (:class:`_Beside`) where the system can start one: expat takes one to
#: two seconds over a full sheet, which the run can cover on a second core.
BESIDE_BYTES = 8 << 20
#: The check run as a script (:mod:`xl_ar.book.wellformed`).
_SCRIPT = str(Path(wellformed.__file__).resolve())


class _Beside:
    """:func:`check_xml` of one part in a process of its own (here, where none can be started).

    The process is a fresh interpreter running :mod:`xl_ar.book.wellformed` over the member as
    the file holds it: it shares none of the run's memory (a forked one would keep alive
    whatever the run frees while it works, a full sheet's XML among it), reads the part piece
    by piece and runs at the lowest priority. The run can go on meanwhile: the answer is
    waited for by :meth:`result`. For the rare process that ends without an answer, the part
    is inflated again and checked here. Where no interpreter can be started for it (not a
    POSIX system: the live book's process; a frozen application), it is checked here at once.
    """

    def __init__(self, pkg: WorkbookPackage, part: str, data: bytes | None):
        """``data``: the part as inflated, to check here where no process starts; None to
        start one only (``proc`` None then: nothing was checked)."""
        self.pkg, self.part, self.book = pkg, part, pkg.path.name
        self.error: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        member = pkg.stored(part)
        if not _can_start() or member is None:
            if data is not None:
                self._inline(data)
            return
        info = member.info
        args = [str(pkg.path), str(member.data_offset), str(info.compress_size), str(info.compress_type), str(info.file_size)]
        try:
            self.proc = subprocess.Popen([sys.executable, "-I", _SCRIPT, *args], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:  # no process could be started (memory, process slots): check here
            if data is not None:
                self._inline(data)

    def _inline(self, data: bytes) -> None:
        try:
            check_xml(data, self.part, self.book)
        except BookError as exc:
            self.error = str(exc)

    def result(self) -> str | None:
        """The refusal's message, or None for a well-formed part (waits for the process)."""
        if self.proc is not None:
            proc, self.proc = self.proc, None
            out, _ = proc.communicate()
            try:
                answer = json.loads(out) if proc.returncode == 0 else {}
            except ValueError:
                answer = {}
            if isinstance(answer, str):
                self.error = _refusal(answer, self.part, self.book)
            elif answer is not None:  # the process ended without an answer: check here instead
                self._inline(self.pkg.read(self.part))
        return self.error

    def drop(self) -> None:
        """Stop the process, if it is still working (a run that ends without the answer)."""
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()


def _can_start() -> bool:
    """Whether a check can run as a script in an interpreter of its own here (a POSIX system, an
    interpreter that is not a frozen application)."""
    return os.name == "posix" and bool(sys.executable) and not getattr(sys, "frozen", False)


def _refusal(reason: str, part: str, book: str) -> str:
    """The message for a part :func:`xl_ar.book.wellformed.check_pieces` refused for ``reason``."""
    if reason == "doctype":
        return f"{book}: {part} declares a DOCTYPE or entities; Excel never writes one, so it is refused"
    return f"{book}: {part} is not well-formed XML ({reason}); open and save it in Excel, or restore a backup"


def check_xml(data: bytes, part: str, book: str) -> None:
    """Refuse a part that is not well-formed XML or declares a DOCTYPE (entity bombs, XXE).

    Args:
        data: the part's bytes.
        part: its name, for the message.
        book: the workbook's file name, for the message.
    """
    try:
        wellformed.check_pieces((data,))
    except wellformed.Refused as exc:
        raise BookError(_refusal(str(exc), part, book)) from None


def screen_book(pkg: WorkbookPackage, fits: Callable[[str], None] | None = None) -> Screening:
    """Check every part the reader will parse and measure each ledger sheet.

    Args:
        pkg: the opened package (its zip directory already checked against the limits).
        fits: called with a ledger sheet's name as soon as its extent is known to fit, so that
            it reaches the reader as the file holds it (its well-formedness and its cells are
            checked after; the caller acts on what it read only once the screening is done).

    Returns:
        The ledger sheets to read; raises :class:`BookError` naming the part or the cell.

    The large ledger sheets' checks beside (:class:`_Beside`) are started first, from the file,
    so that they run while this screening reads the sheets (the core is otherwise idle then; a
    refreshed full sheet's check is one of the last things the next day's write waits for).
    Each counts once the screening reaches its sheet; a check of a sheet it never reaches (it
    failed before) is stopped, not waited for.
    """
    book = pkg.path.name
    ahead = _checks_ahead(pkg)
    sheets: dict[str, SheetScreen] = {}
    seen: dict[str, str] = {}
    long_text: list[str] = []
    pending: list[_Beside] = []
    try:
        for part in pkg.reader_parts():
            check_xml(pkg.read(part), part, book)
        for name, part, kind in pkg.sheet_kinds():
            canon = sheet_for_name(name)
            if canon is None or canon in OWNED_SHEETS:  # the reports: rewritten, never read
                continue
            if canon in seen:
                raise BookError(f"{book}: the sheets {seen[canon]!r} and {name!r} both hold the {canon} ledger; "
                                "rename or delete one so xl-ar reads the right one")
            seen[canon] = name
            if kind != "worksheet" or part is None:
                what = {"chartsheet": "chart sheet", "dialogsheet": "dialog sheet"}.get(kind, kind or "sheet of unknown kind")
                raise BookError(f"{book}: the sheet {name!r} is a {what}, not a worksheet, so it "
                                f"cannot hold the {canon} ledger; rename it")
            if not pkg.has_part(part):
                raise BookError(f"{book}: the sheet {name!r} has no part {part} (the file is damaged); restore a backup")
            data = pkg.read(part)
            if len(data) >= BESIDE_BYTES:
                pending.append(ahead.pop(part, None) or _Beside(pkg, part, data))
            else:
                check_xml(data, part, book)
            for tpart in pkg.sheet_table_parts(part):
                check_xml(pkg.read(tpart), tpart, book)
            sheets[canon] = screen = _screen_sheet(name, part, data, (lambda n=name: fits(n)) if fits else None)
            if screen.trimmed is None:
                screen.xml = data
            if has_long_text(data):
                long_text.append(name)
        sst = pkg.shared_strings_part()
        if sst and has_long_text(pkg.read(sst)):
            long_text.append("shared strings")
    except Exception:  # what a part that is not well-formed broke: report the part itself
        _drop(list(ahead.values()))  # (not waited for: sheets the screening never reached)
        _finish(pending)
        raise
    except BaseException:  # an interrupt: the checks are stopped, not waited for
        _drop(pending)
        raise
    finally:
        _drop(list(ahead.values()))  # (at the end, none is left: every large ledger sheet was reached)
    return Screening(sheets, long_text, pending)


def _checks_ahead(pkg: WorkbookPackage) -> dict[str, "_Beside"]:
    """The checks beside of the large ledger sheets, started from the file before the screening
    reads them, by part; none where no process can be started (they are made as the screening
    reaches each sheet, as before)."""
    if not _can_start():
        return {}
    ahead: dict[str, _Beside] = {}
    for name, part, kind in pkg.sheet_kinds():
        canon = sheet_for_name(name)
        member = pkg.stored(part) if part is not None and kind == "worksheet" else None
        if canon is None or canon in OWNED_SHEETS or member is None or member.info.file_size < BESIDE_BYTES \
                or part in ahead:
            continue
        check = _Beside(pkg, part, None)
        if check.proc is None:  # no process after all: the screening checks the sheet itself
            break
        ahead[part] = check
    return ahead


def _chunks(data: bytes, overlap: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """The part's bytes in pieces of at most :data:`_CHUNK` bytes, so that whole-part scans
    stay within bounded memory: (offset, length, the piece as uint8 followed by ``overlap``
    bytes of the next piece, zero-padded at the end). Each piece but the last is a view of
    ``data``, not a copy."""
    whole = np.frombuffer(data, np.uint8)
    for start in range(0, len(data), _CHUNK):
        n = min(_CHUNK, len(data) - start)
        end = start + n + overlap
        piece = whole[start:end]
        yield start, n, piece if end <= len(data) else np.concatenate([piece, np.zeros(end - len(data), np.uint8)])


def words_at(buf: Any, at: np.ndarray) -> np.ndarray:
    """The four bytes of ``buf`` (bytes, or a uint8 array) from each offset in ``at``, as one
    little-endian uint32 each: read through a view of ``buf`` at every byte offset, so that a
    short pattern around many places is compared once instead of byte by byte."""
    return np.ndarray((len(buf) - 3,), "<u4", buf, 0, (1,))[at]


#: The bytes that may come before an attribute's name in a tag (XML's white space).
_IS_SPACE = np.zeros(256, bool)
_IS_SPACE[list(b" \t\r\n")] = True
#: ``r="`` as the three high bytes of a little-endian uint32 whose low byte is the one before.
_R_ATTR = int.from_bytes(b'r="', "little")


def sheet_extent(data: bytes) -> tuple[int, int]:
    """The largest row number and column the rows and cells of a sheet's XML name.

    Found with array operations instead of the patterns (:func:`exact_extent`) that try every
    cell: every ``r="`` attribute after white space, one starting with a digit taken as a row's
    number (``<row r="17">``), one starting with a letter as a cell's reference
    (``<c r="D17">``). No other element of a worksheet has an ``r`` attribute, so this is the
    patterns' extent unless a cell's text holds ``r="`` itself, when it may be larger (and the
    caller then measures with the patterns before cutting anything).

    Each piece is compared once, for its ``r`` bytes (the rarest of the three); the byte before
    each and the two after are read as one uint32 (a view of the piece at every byte offset).
    Only references of two or three letters are read whole: the usual ledger has none.

    Args:
        data: the worksheet part (well-formed: :func:`check_xml` has passed).

    Returns:
        (rows, columns), 1-based; rows counted as ``<row`` elements when none carries a number.
    """
    rows = cols = 0
    found_row = False
    for _, n, a in _chunks(data, 16):
        at = np.flatnonzero(a[1:n + 1] == 0x72)  # an "r" at at + 1
        word = words_at(a, at)  # the byte before it, it and the two after
        at = at[((word >> 8) == _R_ATTR) & _IS_SPACE[word & 0xFF]] + 4  # where each value starts
        first = a[at]
        row_at = at[(first >= 0x30) & (first <= 0x39)]
        if len(row_at):
            found_row = True
            rows = max(rows, int(_leading_number(a, row_at, 0x30, 10, 10).max()))
        cell_at = at[(first >= 0x41) & (first <= 0x5A)]
        if len(cell_at):
            second = a[cell_at + 1]
            longer = cell_at[(second >= 0x41) & (second <= 0x5A)]
            if len(longer):  # [A-Z]{1,3}, greedy: a longer reference is a later column
                cols = max(cols, int(_leading_number(a, longer, 0x41, 26, 3).max()))
            else:
                cols = max(cols, int(a[cell_at].max()) - 0x40)
    return (rows if found_row else data.count(b"<row")), cols


def _leading_number(a: np.ndarray, at: np.ndarray, zero: int, base: int, most: int) -> np.ndarray:
    """The number each run of digits starting at ``at`` spells, read up to ``most`` digits: the
    digits ``0``-``9`` (``zero`` 0x30, ``base`` 10) or the column letters ``A``-``Z`` (0x41 as
    one, ``base`` 26)."""
    num = np.zeros(len(at), np.int64)
    going = np.ones(len(at), bool)
    one = 0 if base == 10 else 1
    for k in range(most):
        b = a[at + k].astype(np.int64) - zero
        going &= (b >= 0) & (b < base)
        num = np.where(going, num * base + b + one, num)
    return num


def exact_extent(data: bytes) -> tuple[int, int]:
    """The largest row number and column the ``<row>`` and ``<c>`` elements name (the patterns'
    reading; rows counted as ``<row`` elements when none carries a number)."""
    rows = max((int(r) for r in _ROW.findall(data)), default=data.count(b"<row"))
    return rows, max((col_index(c) for c in set(_CELL_COL.findall(data))), default=0)


def has_long_text(data: bytes) -> bool:
    """Whether a part holds a ``<t>`` text longer than Excel allows (:data:`_LONG_TEXT`).

    Such a text is a run of more than :data:`EXCEL_MAX_TEXT` bytes without a ``<``; the
    pattern runs only on a part that has one (the usual part has none, and the pattern alone
    tries every ``<``).
    """
    if not _gap_without_tag(data):
        return False
    last = -1  # position of the last "<" seen, across chunks
    for start, n, a in _chunks(data, 0):
        at = np.flatnonzero(a[:n] == 0x3C) + start
        if not len(at):
            continue
        gaps = np.diff(at, prepend=last)
        if gaps.max() > EXCEL_MAX_TEXT + 1:
            return _LONG_TEXT.search(data) is not None
        last = int(at[-1])
    if len(data) - last > EXCEL_MAX_TEXT + 1:
        return _LONG_TEXT.search(data) is not None
    return False


def _gap_without_tag(data: bytes) -> bool:
    """Whether some window of :data:`_WINDOW` bytes (at a multiple of it) holds no ``<``: a text
    too long for a cell does (a run of ``2 * _WINDOW - 1`` bytes or more covers a whole window),
    and the usual sheet has none. Each window is one search that stops at its first ``<``
    (20,000 searches for a full sheet: milliseconds, where finding every ``<`` took 0.3 s)."""
    return any(data.find(b"<", w, w + _WINDOW) < 0 for w in range(0, len(data), _WINDOW))


_WINDOW = (EXCEL_MAX_TEXT + 2) // 2  # 2 * _WINDOW - 1 <= EXCEL_MAX_TEXT + 1, the shortest long run


def _has_formula_tag(data: bytes) -> bool:
    """``b"<f" in data``, looked for from each ``f``: a sheet's XML has few (a formula's tag, some
    attribute names), and a search for the byte itself runs at memory speed, where the search
    for ``<f`` stops at every tag (0.27 s for a full sheet's 0.3 GB, against a few ms)."""
    at, seen = data.find(b"f"), 0
    while at >= 0:
        if at and data[at - 1] == 0x3C:
            return True
        seen += 1
        if seen > _MANY_F:  # text with many "f"s in the sheet itself: the plain search from here
            return data.find(b"<f", at) >= 0
        at = data.find(b"f", at + 1)
    return False


_MANY_F = 4096


def _has_error_type(data: bytes) -> bool:
    """``b't="e"' in data`` (the attribute of a cell holding an error), looked for from each
    ``e``, the rarest of its bytes in a sheet: the plain search slows at every quote and ``t``
    (0.43 s for a refreshed full sheet's 0.6 GB, against 0.26)."""
    for _, n, a in _chunks(data, 4):
        at = np.flatnonzero(a[3:n + 3] == 0x65)  # an "e" at at + 3
        if len(at):
            word = words_at(a, at)  # from at: the three bytes before it and it
            hit = at[word == _T_E]
            if len(hit) and bool((a[hit + 4] == 0x22).any()):
                return True
    return False


_T_E = int.from_bytes(b't="e', "little")


def _screen_sheet(name: str, part: str, data: bytes, fits: Callable[[], None] | None = None) -> SheetScreen:
    """What the scan of a sheet's XML finds; ``fits`` is called as soon as the sheet's extent is
    known to fit (the sheet then reaches the reader as it is), before its cells are scanned."""
    screen = SheetScreen(name, part, size=len(data))
    rows, cols = sheet_extent(data)
    if rows * cols > MAX_DENSE_CELLS:  # an upper bound: measure exactly before cutting
        rows, cols = exact_extent(data)
    if fits is not None and rows * cols <= MAX_DENSE_CELLS:
        fits()
    # The error pattern tries every cell; a plain search for its attribute first is ~20x cheaper
    # and skips it on the usual sheet that holds no error at all.
    for m in (_ERROR_CELL.finditer(data) if _has_error_type(data) else ()):
        ref, v = _REF.search(m.group(0)), _VALUE.search(m.group(0))
        if ref:
            screen.errors[(ref.group(1) + ref.group(2)).decode()] = (v.group(1).decode() if v else "#VALUE!")
    if _has_formula_tag(data):
        for m in _FORMULA_NO_VALUE.finditer(data):
            ref = _REF.search(m.group(1))
            if ref:
                screen.errors.setdefault((ref.group(1) + ref.group(2)).decode(), "formula")
    if rows * cols <= MAX_DENSE_CELLS:
        return screen
    # Too large from A1: keep the columns the header rows use; the rest is not ledger data.
    head_end = next((m.start() for m in _ROW.finditer(data) if int(m.group(1)) > HEADER_ROWS), len(data))
    keep_cols = max((col_index(c) for c in set(_CELL_COL.findall(data[:head_end]))), default=0)
    far: list[tuple[int, int]] = []
    kept_rows = 0

    def keep(m: re.Match[bytes]) -> bytes:
        nonlocal kept_rows
        ref = _REF.search(m.group(1))
        if ref is None:
            return m.group(0)
        c, r = col_index(ref.group(1)), int(ref.group(2))
        if c > keep_cols:
            if not far or (r, c) > far[0]:
                far[:] = [(r, c)]
            return b""
        kept_rows = max(kept_rows, r)
        return m.group(0)

    trimmed = _CELL.sub(keep, data)
    if kept_rows * keep_cols > MAX_DENSE_CELLS:
        raise BookError(f"{name}!{col_letter(keep_cols)}{kept_rows}: the ledger would span {kept_rows:,} rows by "
                        f"{keep_cols:,} columns from A1, more than xl-ar reads ({MAX_DENSE_CELLS:,} cells); "
                        "clear the cells far below or to the right of the ledger")
    screen.trimmed, screen.size = trimmed, len(trimmed)
    return screen
