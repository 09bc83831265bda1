"""A large sheet's blocks scanned ahead, while the run validates, for the splice to come.

The block-by-block splice (:mod:`xl_ar.book.splice_stream`) makes several passes over each block
of rows before it splices it: one looks for the shapes its fast path does not take (a comment,
a row ``<extLst>``, a tag whose first attribute is not ``r``), one reads the rows' numbers, one
finds each ``</row>``. They depend on the block's bytes alone, and a block is the same whenever
the part is inflated: :func:`row_blocks` over the same member. At a full sheet they are about
2 s of the run's own thread during the writing, while the second core has nothing to do during
validation (about 5 s): the file adapter starts :func:`scan_part` in a process of its own when
the reading is done (:func:`start_scans`), and hands what it found to the splice, which takes a
block's scan only for a block of the same size (the last block, whose tail may be edited, is
never scanned) and makes every pass itself where it has none. What it makes from a scan is what
it makes from its own passes (tested on every border between blocks).
"""

from __future__ import annotations

import itertools
import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Sequence

import numpy as np

from xl_ar.book.package import WorkbookPackage
from xl_ar.book.sheetxml import BookError
from xl_ar.book.splice import _Patterns, sheet_data_tag
from xl_ar.book.splice_bytes import find_all, without
from xl_ar.book import splice_stream
from xl_ar.book.splice_stream import _head, row_blocks
from xl_ar.book.zipio import iter_member
from xl_ar.core.cores import cores


@dataclass(frozen=True)
class BlockScan:
    """What the splice's fast path finds in one block of rows by passes over all of it.

    Attributes:
        size: the block's length in bytes (a scan is taken only for a block of that size).
        anomaly: a shape the fast path does not take is in it (then nothing else was scanned).
        rows: the numbers of its rows, in order (``<row r="...">``).
        closes: the offset of each ``</row>`` in the block.
    """

    size: int
    anomaly: bool
    rows: np.ndarray
    closes: np.ndarray
    cut: BlockCut | None = None


@dataclass(frozen=True)
class BlockCut:
    """The passes of the fast path over a block once our old cells are out of it, for the
    computed columns ``cols``: the block without them (``work``) is the block less ``runs``,
    its rows' hints widened over ``cols`` when ``widened``; ``size`` is its length; ``closes``,
    ``after`` and ``gaps`` are where its rows end and where user cells right of or between
    ``cols`` begin, in it. None (on the scan) where the rows do not all end with ``</row>``.
    """

    cols: tuple[int, ...]
    runs: np.ndarray
    widened: bool
    size: int
    closes: np.ndarray
    after: np.ndarray
    gaps: np.ndarray


def scan_pieces(pieces: Iterator[bytes], cols: Sequence[int] = ()) -> Iterator[BlockScan]:
    """The scans of the blocks of a part given as its inflated pieces, all but the last block.

    The blocks are those the splice cuts (:func:`row_blocks` after the part's head), the first
    one scanned from its ``<sheetData>`` tag on, as the splice does. A part whose head the splice
    refuses gives no scans. With ``cols`` (the 1-based columns the splice will write), each scan
    has its :class:`BlockCut` for them.
    """
    head = _head(pieces)
    try:
        p, sm = sheet_data_tag(head)
    except (BookError, ValueError):
        return
    if sm.group(1):
        return
    pat = _Patterns(p, sorted(cols) or [1])  # (the first passes do not depend on the columns)
    for k, (block, final) in enumerate(row_blocks(itertools.chain([head], pieces), pat.row_close)):
        if final:
            break
        s = sm.end() if k == 0 else 0
        if pat.anomaly.search(block, s, len(block)):
            yield BlockScan(len(block), True, np.zeros(0, np.int32), np.zeros(0, np.int32))
            continue
        rows = pat.row_numbers(block, s, len(block))
        closes = find_all(block, pat.row_close)
        small = np.int32 if len(block) < 2**31 and (not len(rows) or rows.max() < 2**31) else np.int64
        cut = _cut(block, s, pat, len(rows), small, closes) if cols else None
        yield BlockScan(len(block), False, rows.astype(small), closes.astype(small), cut)


def _cut(block: bytes, s: int, pat: _Patterns, n: int, small: type, closes: np.ndarray) -> BlockCut | None:
    """The :class:`BlockCut` of ``block`` for the columns of ``pat``, made as the fast path makes
    its ``work`` (``closes``: where the block's own rows end)."""
    runs = np.array([m.span() for m in pat.mine_runs.finditer(block)], dtype=np.int64).reshape(-1, 2)
    work = without(block, runs)
    wider = pat.widened(work, s)
    if wider is not block:  # (a block without our cells and hints to widen is its own work)
        closes = find_all(wider, pat.row_close)
    if len(closes) != n:
        return None  # self-closing rows: the splice opens them itself
    after, gaps = pat.user_cells(wider, s)
    return BlockCut(tuple(sorted(pat.ours)), runs.astype(small), wider is not work, len(wider), closes.astype(small),
                    np.array(after, dtype=small), np.array(gaps, dtype=small))


def scan_part(path: str | Path, part: str, block: int, cols: Sequence[int] = ()) -> Iterator[BlockScan]:
    """The scans of a worksheet part of the workbook file ``path`` inflated ``block`` bytes at a
    time, as the splice inflates it, for the computed columns ``cols`` (see :func:`scan_pieces`)."""
    pkg = WorkbookPackage.open(path)
    member = pkg.stored(part)
    if member is None:
        return
    pieces = iter_member(pkg.path, member, part, block)
    try:
        yield from scan_pieces(pieces, cols)
    finally:
        pieces.close()


class Scans:
    """The scans being made in a process of their own for a workbook's large sheets
    (:func:`start_scans`).

    A new interpreter, not a fork of the run: a forked child would keep the pages of everything
    the run held when it forked (the workbook's cells), which the run then copies as it goes on
    (the memory of both counted, up to a gigabyte at a full sheet), and needs none of them. It
    is given the file's path and the parts, and writes each block's scan, pickled, as it is made,
    to a file without a name: the run takes the blocks scanned by the time it writes (stopping
    the process first), and the splice makes its own passes over the others.
    """

    def __init__(self, proc: subprocess.Popen[bytes] | None, out: IO[bytes] | None):
        self._proc, self._out = proc, out

    def take(self) -> dict[str, list[BlockScan]]:
        """The scans made so far, by sheet name, the process stopped if it still runs (the
        splice makes its own passes over the blocks not scanned rather than wait for them)."""
        proc, out = self._proc, self._out
        self._proc = self._out = None
        if proc is None or out is None:
            return {}
        try:
            _stop(proc)  # before reading: it writes through the same open file
            out.seek(0)
            return read_scans(out)
        finally:
            out.close()

    def drop(self) -> None:
        """Stop the process (a run that does not write, or has written)."""
        proc, out = self._proc, self._out
        self._proc = self._out = None
        if proc is not None and out is not None:
            _stop(proc)
            out.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the scanning process if it still runs, and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def read_scans(out: IO[bytes]) -> dict[str, list[BlockScan]]:
    """The scans a scanning process wrote, by sheet name, in block order: up to the first
    record cut short (the process stopped as it wrote it) or not a scan."""
    scans: dict[str, list[BlockScan]] = {}
    while True:
        try:
            name, scan = pickle.load(out)  # (what our own process wrote)
        except Exception:  # the end, or a record cut short
            return scans
        if not isinstance(name, str) or not isinstance(scan, BlockScan):
            return scans
        scans.setdefault(name, []).append(scan)


def start_scans(pkg: WorkbookPackage, sheets: dict[str, tuple[str, Sequence[int]]]) -> Scans:
    """Start scanning the large ones of ``sheets`` (sheet name -> its worksheet part and the
    1-based columns the splice will write) of the workbook file ``pkg`` was opened from, in a
    process of its own, where the run has a second core; nothing otherwise (or where no process
    can start)."""
    large = {}
    for name, (part, cols) in sheets.items():
        member = pkg.stored(part)
        if member is not None and member.info.file_size >= splice_stream.STREAM_FROM:
            large[name] = (part, tuple(cols))
    if not large or cores() < 2:
        return Scans(None, None)
    here = str(Path(__file__).resolve().parents[2])  # the folder xl_ar is imported from
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    out = proc = None
    try:
        out = tempfile.TemporaryFile()
        proc = subprocess.Popen([sys.executable, "-c", CHILD],
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.DEVNULL, env=env)
        with proc.stdin:  # type: ignore[union-attr]
            proc.stdin.write(pickle.dumps((str(pkg.path), large, splice_stream.BLOCK_BYTES)))  # type: ignore[union-attr]
    except OSError:  # no process or file could be made, or it died at once: the splice makes its passes
        if proc is not None:
            _stop(proc)
        if out is not None:
            out.close()
        return Scans(None, None)
    return Scans(proc, out)


#: What the scanning process runs.
CHILD = "from xl_ar.book.splice_scan import _child; _child()"


def _child() -> None:
    """The scanning process: (path, {sheet: (part, columns)}, block size) pickled on its input;
    on its output (sheet name, scan) pickled for each block as it is scanned."""
    path, parts, block = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    for name, (part, cols) in parts.items():
        for scan in scan_part(path, part, block, cols):
            out.write(pickle.dumps((name, scan), protocol=pickle.HIGHEST_PROTOCOL))
            out.flush()
