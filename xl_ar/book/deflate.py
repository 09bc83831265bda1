"""Deflating parts for the zip: whole, or streamed from pieces so a large sheet is never joined.

A spliced 1,048,575-row sheet is about a gigabyte of XML; joined into one ``bytes`` it would
double the memory of the run for a moment. :func:`deflate_pieces` instead compresses the
pieces as they come (raw deflate at level 1, as the zip stores it), keeps the CRC and size the
zip records need, and compares the result with the part's original content on the way, so the
package can still tell "nothing really changed" without inflating anything again.

ISA-L's deflate is used for large parts when installed (about 5x zlib's speed at level 1).
Parts under :data:`SMALL` go through zlib instead. zlib's stream is a function of the bytes
alone; ISA-L's is not promised to be: one refresh in several hundred of the same small ledger
once stored a 2 KB part as a different (valid, one byte shorter) stream, so the workbook was not
the same bytes as the run before. Under a megabyte zlib costs a few milliseconds, and every part
of an ordinary workbook, and the whole of a statement, is the same bytes run after run.

Where a second core is free, a large sheet spliced block by block is deflated beside the
splice (``beside=True``): ISA-L's threaded gzip writer compresses blocks of :data:`CHUNK`
bytes on a helper thread without holding the interpreter (each block with the end of the one
before as its dictionary, so the stream compresses as well), while the splice makes the next
ones. It writes a gzip file into the spill: a short header, the raw deflate stream the zip
needs, and a trailer with the CRC and size, so the part is that file less its header and
trailer (:meth:`Spill.window`).
"""

from __future__ import annotations

import itertools
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

try:
    from isal import igzip_threaded
    from isal import isal_zlib as z
except ImportError:  # pragma: no cover - isal is a declared dependency
    z, igzip_threaded = zlib, None

CRC_MASK = 0xFFFFFFFF
SMALL = 1 << 20  # parts shorter than this are deflated by zlib: the same stream every run


def deflate(data: bytes) -> bytes:
    """Raw deflate (no zlib header) of ``data`` at level 1, as a zip member stores it."""
    if z is not zlib and len(data) >= SMALL:
        return z.compress(data, 1, -15)
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@dataclass(frozen=True)
class DeflatedPart:
    """A part's new content, already deflated.

    Attributes:
        data: the raw deflate stream (a bytearray when it was made from pieces: grown in place,
            never joined, so a 100 MB stream is not held twice).
        crc: CRC-32 of the uncompressed content.
        size: its uncompressed size.
        same: whether it equals the original part byte for byte (None: not compared).
    """

    data: bytes | bytearray | Spill
    crc: int
    size: int
    same: bool | None = None

    def inflate(self) -> bytes:
        """The uncompressed content."""
        d = z.decompressobj(-15)
        if isinstance(self.data, Spill):
            out = b"".join(d.decompress(chunk) for chunk in self.data.chunks())
        else:
            out = d.decompress(self.data)
        return out + d.flush()


class Spill:
    """A deflate stream kept in a temporary file without a name, not in memory: a full sheet's
    is about 100 MB, held from its splice to the save. Removed when it is dropped."""

    def __init__(self, folder: Path):
        self._file = tempfile.TemporaryFile(dir=folder)
        self._start, self._size = 0, 0

    def __iadd__(self, data: bytes) -> Spill:
        """Append to the stream (as ``+=`` appends to a bytearray)."""
        self._file.write(data)
        self._size += len(data)
        return self

    def __len__(self) -> int:
        return self._size

    @property
    def file(self) -> Any:
        """The file itself, for a writer that fills it (then :meth:`window` says what it holds)."""
        return self._file

    def window(self, start: int, size: int) -> None:
        """The stream is the file's ``size`` bytes from ``start`` (what a writer wrote around it
        is left out)."""
        self._start, self._size = start, size

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The stream from its start, ``size`` bytes at a time."""
        self._file.flush()
        self._file.seek(self._start)
        left = self._size
        while left and (chunk := self._file.read(min(size, left))):
            left -= len(chunk)
            yield chunk


def _drain(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The pieces in order; a list's items are released as they are taken (the list is emptied)."""
    if not isinstance(pieces, list):
        yield from pieces
        return
    for i in range(len(pieces)):
        piece, pieces[i] = pieces[i], None
        yield piece
    pieces.clear()


#: Bytes the helper thread compresses at a time (:func:`deflate_pieces` with ``beside``): the
#: writer holds about three such blocks at once (16 MB blocks cost a 100,000-invoice refresh
#: 40 MB more at its peak, and saved no time at a full sheet).
CHUNK = 4 << 20


def deflate_pieces(pieces: Iterable[bytes], original: bytes | None = None, spill: Path | None = None,
                   beside: bool = False) -> DeflatedPart:
    """Deflate the concatenation of ``pieces`` without joining them.

    Pieces are released once compressed (a list is emptied), so memory falls as the stream grows.
    The first :data:`SMALL` bytes are held back: a part that ends before them is deflated by
    zlib as :func:`deflate` would, one that goes past them by ISA-L from there on.

    Args:
        pieces: bytes-like pieces, in order: a list, or an iterator producing them.
        original: the part's original content, to compare with (None: not compared).
        spill: a folder where the stream of a part past :data:`SMALL` is kept (a :class:`Spill`)
            instead of memory; None keeps it in memory.
        beside: deflate on a helper thread while the pieces are made (the module's note), when
            ISA-L and a spill file are there; a part that ends before :data:`SMALL` is still
            zlib's stream.

    Returns:
        The :class:`DeflatedPart`.
    """
    pieces = _drain(pieces)
    if beside and spill is not None and igzip_threaded is not None:
        head, ended = _first_bytes(pieces, SMALL)
        pieces = itertools.chain(head, pieces)
        if not ended:
            try:
                spilled = Spill(spill)
            except OSError:  # no temporary file there: deflated here, in memory
                pass
            else:
                return _deflate_beside(pieces, original, spilled)
    c = None
    held: list[bytes] = []
    out: bytearray | Spill = bytearray()
    crc = 0
    tally = _Tally(original)
    for piece in tally.counted(pieces):
        crc = z.crc32(piece, crc)
        if c is not None:
            out += c.compress(piece)
            continue
        held.append(piece)
        if tally.size >= SMALL:
            c = z.compressobj(1, zlib.DEFLATED, -15)
            if spill is not None:
                try:
                    out = Spill(spill)
                except OSError:  # no temporary file there: the stream stays in memory
                    pass
            for h in held:
                out += c.compress(h)
            held.clear()
    out += deflate(b"".join(held)) if c is None else c.flush()
    return DeflatedPart(out, crc & CRC_MASK, tally.size, tally.same())


class _Tally:
    """The size of a part's pieces as they pass, and whether they are ``original`` (None: not compared)."""

    def __init__(self, original: bytes | None):
        self.original, self.size = original, 0
        self._view = memoryview(original) if original is not None else None
        self._same = original is not None

    def counted(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        """The pieces that are not empty, counted and compared as they pass."""
        for piece in pieces:
            n = len(piece)
            if not n:
                continue
            if self._same:
                self._same = self._view[self.size: self.size + n] == piece
            self.size += n
            yield piece

    def same(self) -> bool | None:
        """Whether all the pieces were the original (once they have all passed)."""
        if self.original is None:
            return None
        return self._same and self.size == len(self.original)


def _first_bytes(pieces: Iterator[bytes], n: int) -> tuple[list[bytes], bool]:
    """The first pieces, until they hold ``n`` bytes, and whether the pieces ended before."""
    head, size = [], 0
    for piece in pieces:
        head.append(piece)
        size += len(piece)
        if size >= n:
            return head, False
    return head, True


def _deflate_beside(pieces: Iterable[bytes], original: bytes | None, out: Spill) -> DeflatedPart:
    """:func:`deflate_pieces` by ISA-L's threaded gzip writer into ``out``: the pieces are
    compared and counted here, compressed (with their CRC) on its helper thread."""
    tally = _Tally(original)
    writer = igzip_threaded.open(out.file, "wb", compresslevel=1, threads=1, block_size=CHUNK)
    try:
        for piece in tally.counted(pieces):
            writer.write(piece)
    finally:
        writer.close()  # on a failure too: the helper thread stops (the spill goes with the part)
    return DeflatedPart(out, _gzip_body(out, tally.size), tally.size, tally.same())


def _gzip_body(out: Spill, size: int) -> int:
    """Window ``out`` (a gzip file of ``size`` bytes of content) onto its deflate stream, and
    return the content's CRC from the trailer (RFC 1952: a 10-byte header, optional fields
    its flags announce, the stream, then the CRC and the size modulo 2**32, little-endian)."""
    f = out.file
    f.flush()
    total = f.seek(0, 2)
    f.seek(0)
    head = f.read(10)
    if len(head) < 10 or head[:3] != b"\x1f\x8b\x08" or total < 18:
        raise ValueError("the threaded deflate wrote no gzip stream")
    flags, at = head[3], 10
    if flags & 0x04:  # FEXTRA: its length, then that many bytes
        f.seek(at)
        at += 2 + struct.unpack("<H", f.read(2))[0]
    for flag in (0x08, 0x10):  # FNAME, FCOMMENT: each ends with a zero byte
        if flags & flag:
            f.seek(at)
            while f.read(1) not in (b"\0", b""):
                at += 1
            at += 1
    if flags & 0x02:  # FHCRC
        at += 2
    f.seek(total - 8)
    crc, isize = struct.unpack("<II", f.read(8))
    if isize != size & CRC_MASK:
        raise ValueError("the threaded deflate's size does not match what was written")
    out.window(at, total - 8 - at)
    return crc
