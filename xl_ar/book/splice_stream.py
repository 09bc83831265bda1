"""A large worksheet part spliced block by block as it is inflated, never held whole.

A 1,048,575-row sheet part is 0.3 GiB of XML (0.6 GiB once it holds the computed columns).
Read whole with its compressed bytes, copied once more when our old cells were stripped from
it, and kept to the end to tell whether the new XML is the same, it set the peak memory of a
full refresh. Here the part is inflated piece by piece (:func:`~xl_ar.book.zipio.iter_member`)
and cut into blocks of whole rows: each block ends right after a ``</row>`` (the rest waits for
the next piece); the first one starts with the XML before ``<sheetData>`` (the head: small,
taken whole and updated by :func:`update_prologue`, as the whole-sheet splice does), the last
one holds ``</sheetData>`` and what follows it. Each block is spliced on its own, compared with
itself as it was (a block's new XML replaces exactly its old rows, so the comparison stays
exact) and deflated as it comes: a few blocks of memory instead of the sheet's several copies.
The compressed sheet (about 100 MB for a full one) waits for the save in a temporary file
without a name beside the workbook (:class:`~xl_ar.book.deflate.Spill`), not in memory.

How one block is spliced is the caller's (:mod:`xl_ar.book.splice`); a block of a shape only
the whole-sheet splice takes raises :class:`Unstreamable`, and the caller splices the whole
sheet instead, from the start: what was deflated so far is dropped. Both lay the new rows out
with :func:`interleave`.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Protocol

import numpy as np

from xl_ar.book.deflate import DeflatedPart, deflate_pieces
from xl_ar.book.sheetxml import OutColumn, _num, _range_ref, split_ref
from xl_ar.book.zipio import iter_member
from xl_ar.core.cores import cores

if TYPE_CHECKING:
    from xl_ar.book.package import WorkbookPackage
    from xl_ar.book.rowcells import RenderedRows

#: Parts with less XML than this are spliced whole: they hold little more than one block.
STREAM_FROM = 16 << 20

#: XML bytes inflated at a time, so about the size of a block (a few rows more or less).
BLOCK_BYTES = 16 << 20


class Unstreamable(Exception):
    """A sheet the block-by-block splice does not take: the whole-sheet splice runs instead."""


class BlockSplicer(Protocol):
    """Splices one sheet's blocks, in order; made from the part's head."""

    row_close: bytes  # a row's end tag (with the sheet's namespace prefix): where blocks are cut

    def __call__(self, block: bytes, final: bool) -> Iterable[bytes]:
        """The new XML of ``block`` (whole rows; ``final``: the last block, to the part's end)."""
        ...


def splice_by_blocks(pkg: WorkbookPackage, part: str, start: Callable[[bytes], BlockSplicer],
                     tail: Callable[[bytes], bytes] | None = None,
                     progress: Callable[[float], None] | None = None) -> DeflatedPart | None:
    """Splice a large part block by block, deflating the new XML as it comes.

    Args:
        pkg: the package.
        part: the worksheet part.
        start: makes the block splicer from the part's head (its first pieces, through the
            ``<sheetData>`` tag); it raises :class:`Unstreamable` to decline.
        tail: applied to the part's XML from ``</sheetData>`` on (see :func:`edit_tail`).
        progress: told the fraction of the part read so far, piece by piece.

    Returns:
        The new part, its ``same`` flag set by the block-by-block comparison; None when the part
        is small or already changed in the package (held in memory already: the whole-sheet
        splice is as good there), or when a block needs the whole-sheet splice.
    """
    member = pkg.stored(part)
    if member is None or member.info.file_size < STREAM_FROM:
        return None
    pieces = iter_member(pkg.path, member, part, BLOCK_BYTES)
    try:
        head = _head(pieces)
        splicer = start(head)
        read = pieces if progress is None else _told(pieces, progress, len(head), member.info.file_size)
        blocks = row_blocks(itertools.chain([head], read), splicer.row_close)
        del head
        same = [True]
        new = deflate_pieces(_compared(blocks, splicer, same, tail), spill=pkg.path.parent, beside=cores() > 1)
    except Unstreamable:
        return None
    finally:
        pieces.close()
    return dataclasses.replace(new, same=same[0])


def _told(pieces: Iterator[bytes], progress: Callable[[float], None], seen: int, total: int) -> Iterator[bytes]:
    """``pieces`` as they are, ``progress`` told the fraction of ``total`` bytes read after each."""
    for piece in pieces:
        seen += len(piece)
        progress(seen / max(total, 1))
        yield piece


def _head(pieces: Iterator[bytes]) -> bytes:
    """The first pieces, as many as it takes to hold the ``<sheetData ...>`` tag (or all of them)."""
    head = b""
    for piece in pieces:
        head += piece
        at = head.find(b"sheetData")
        if at >= 0 and head.find(b">", at) >= 0:
            break
    return head


def row_blocks(pieces: Iterable[bytes], row_close: bytes) -> Iterator[tuple[bytes, bool]]:
    """The XML in blocks of whole rows, each with whether it is the last one.

    Each block but the last ends right after the last ``</row>`` of what was read: a row's end
    tag is always markup (a ``<`` in text is escaped; comments and CDATA are refused by the
    splicer), so the next block starts with the next row, or the text between rows.
    """
    carry = b""
    for piece in pieces:
        buf = carry + piece if carry else piece
        del piece
        cut = buf.rfind(row_close)
        if cut < 0:  # no row ends in it (a very long row): read on
            carry = buf
            continue
        cut += len(row_close)
        block, carry = buf[:cut], buf[cut:]
        del buf
        yield block, False
        del block
    yield carry, True


def _compared(blocks: Iterable[tuple[bytes, bool]], splicer: BlockSplicer, same: list[bool],
              tail: Callable[[bytes], bytes] | None) -> Iterator[bytes]:
    """Each block's new XML, in pieces; ``same[0]`` is cleared when one differs from the block
    as it was (the last one's ``tail`` edited first: it holds ``</sheetData>``)."""
    for block, final in blocks:
        at = 0
        for piece in splicer(edit_tail(block, tail) if final else block, final):
            if same[0]:
                same[0] = block.startswith(piece, at)
            at += len(piece)
            yield piece
        same[0] = same[0] and at == len(block)


def edit_tail(xml: bytes, tail: Callable[[bytes], bytes] | None) -> bytes:
    """``xml`` with what follows its ``</sheetData>`` (the end tag included) replaced by
    ``tail(that)``: a sheet autofilter widened over the new columns in the same pass as the
    splice, so a large sheet is not read whole a second time for it. Unchanged without one."""
    at = xml.rfind(b"sheetData>") if tail is not None else -1
    lt = xml.rfind(b"<", 0, at) if at >= 0 else -1
    if lt < 0 or xml[lt + 1: lt + 2] != b"/":
        return xml
    old = xml[lt:]
    new = tail(old)
    return xml if new == old else xml[:lt] + new


class Shifted:
    """A block's own targets of a :class:`~xl_ar.book.rowcells.RenderedRows`: item ``j`` is its
    item ``lo + j``, so a block is spliced as a sheet of its own rows with its own targets."""

    def __init__(self, rows: RenderedRows, lo: int):
        self.rows, self.lo = rows, lo

    def __getitem__(self, j: int) -> bytes:
        return self.rows[self.lo + j]

    def span(self, j0: int, j1: int) -> list[bytes]:
        """Items ``j0`` to ``j1 - 1``."""
        return self.rows.span(self.lo + j0, self.lo + j1)


# --------------------------------------------------------------------------- the head


def _parse_ref(ref: bytes) -> tuple[int, int, int, int] | None:
    """``b"A1:I90"`` -> (row1, col1, row2, col2); None when unreadable."""
    try:
        parts = ref.decode("ascii").split(":")
        (r1, c1), (r2, c2) = split_ref(parts[0]), split_ref(parts[-1])
    except (ValueError, UnicodeDecodeError):
        return None
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def update_prologue(pro: bytes, p: bytes, cols: list[OutColumn], header_row: int, last_row: int) -> bytes:
    """Widen ``<dimension ref>`` to our cells and add ``<col>`` widths nobody set yet."""
    ep = re.escape(p)
    dm = re.compile(rb"<" + ep + rb'dimension\b[^>]*?\sref="([^"]*)"').search(pro)
    if dm:
        old = _parse_ref(dm.group(1))
        box = (header_row, cols[0].index, last_row, cols[-1].index)
        if old is not None:
            box = (min(old[0], box[0]), min(old[1], box[1]), max(old[2], box[2]), max(old[3], box[3]))
        pro = pro[: dm.start(1)] + _range_ref(*box).encode() + pro[dm.end(1):]
    wanted = [c for c in cols if c.width is not None]
    if not wanted:
        return pro
    cm = re.compile(rb"<" + ep + rb"cols\b[^>]*?(/?)>").search(pro)
    existing: list[tuple[int, int, bytes]] = []
    if cm and not cm.group(1):
        close = pro.find(b"</" + p + b"cols>", cm.end())
        inner = pro[cm.end(): close]
        for m in re.finditer(rb"<" + ep + rb"col\b[^>]*?(?:/>|>.*?</" + ep + rb"col>)", inner, re.S):
            mn = re.search(rb'\smin="(\d+)"', m.group(0))
            mx = re.search(rb'\smax="(\d+)"', m.group(0))
            existing.append((int(mn.group(1)) if mn else 0, int(mx.group(1)) if mx else 0, m.group(0)))
    added = [
        (c.index, c.index, f'<{p.decode()}col min="{c.index}" max="{c.index}" width="{_num(c.width)}" customWidth="1"/>'.encode())
        for c in wanted
        if not any(lo <= c.index <= hi for lo, hi, _ in existing)
    ]
    if not added:
        return pro
    elems = b"".join(e for _, _, e in sorted(existing + added, key=lambda t: t[0]))
    block = b"<" + p + b"cols>" + elems + b"</" + p + b"cols>"
    if cm:
        stop = cm.end() if cm.group(1) else pro.find(b"</" + p + b"cols>", cm.end()) + len(b"</" + p + b"cols>")
        return pro[: cm.start()] + block + pro[stop:]
    return pro + block  # the prologue ends right before <sheetData>, where <cols> belongs


# --------------------------------------------------------------------------- the rows laid out


#: Rows per piece handed to the compressor: large enough that the per-piece cost vanishes,
#: small enough that a block's bytes are a few megabytes.
BLOCK_ROWS = 4096


def interleave(view: memoryview, starts: np.ndarray, stops: np.ndarray, edited: dict[int, bytes],
               target_of: np.ndarray, tails: dict[int, bytes], closed: RenderedRows | Shifted,
               row_close: bytes) -> Iterator[bytes]:
    """The new sheet, by blocks of rows: each row's piece of the old sheet (``view[starts[i]:
    stops[i]]``, or ``edited[i]``), then what follows it (``tails[i]``, else its target's new
    cells and ``</row>``, else ``</row>``); the last piece (after the last row) ends it.

    A block of rows each followed by the next target's cells (the usual block of a ledger) is
    laid out by list slices, not row by row, and its few edited rows put in after."""
    n = len(target_of)
    special = np.zeros(n + 1, bool)
    special[list(edited) + list(tails)] = True
    for lo in range(0, n + 1, BLOCK_ROWS):
        hi = min(lo + BLOCK_ROWS, n + 1)
        m = min(hi, n) - lo
        t = target_of[lo: lo + m]
        if m and t[0] >= 0 and (np.diff(t) == 1).all():  # each row's target the next one
            block: list[Any] = [None] * (2 * m)
            block[0::2] = [view[a:b] for a, b in zip(starts[lo: lo + m].tolist(), stops[lo: lo + m].tolist())]
            block[1::2] = closed.span(int(t[0]), int(t[0]) + m)
            for k in np.flatnonzero(special[lo: lo + m]).tolist():  # (a block's first row, say)
                if lo + k in edited:
                    block[2 * k] = edited[lo + k]
                if lo + k in tails:
                    block[2 * k + 1] = tails[lo + k]
            if hi == n + 1:
                block.append(edited[n] if n in edited else view[starts[n]: stops[n]])
            yield b"".join(block)
            continue
        block = []
        add = block.append
        targets = target_of[lo: min(hi, n)].tolist()
        for i, a, b in zip(range(lo, hi), starts[lo:hi].tolist(), stops[lo:hi].tolist()):
            add(edited[i] if i in edited else view[a:b])
            if i < n:
                t_i = targets[i - lo]
                add(tails[i] if i in tails else closed[t_i] if t_i >= 0 else row_close)
        yield b"".join(block)
