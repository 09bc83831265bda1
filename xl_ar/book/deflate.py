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
"""

from __future__ import annotations

import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

try:
    from isal import isal_zlib as z
except ImportError:  # pragma: no cover - isal is a declared dependency
    z = zlib

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
        self._size = 0

    def __iadd__(self, data: bytes) -> Spill:
        """Append to the stream (as ``+=`` appends to a bytearray)."""
        self._file.write(data)
        self._size += len(data)
        return self

    def __len__(self) -> int:
        return self._size

    def chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
        """The stream from its start, ``size`` bytes at a time."""
        self._file.flush()
        self._file.seek(0)
        while chunk := self._file.read(size):
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


def deflate_pieces(pieces: Iterable[bytes], original: bytes | None = None, spill: Path | None = None) -> DeflatedPart:
    """Deflate the concatenation of ``pieces`` without joining them.

    Pieces are released once compressed (a list is emptied), so memory falls as the stream grows.
    The first :data:`SMALL` bytes are held back: a part that ends before them is deflated by
    zlib as :func:`deflate` would, one that goes past them by ISA-L from there on.

    Args:
        pieces: bytes-like pieces, in order: a list, or an iterator producing them.
        original: the part's original content, to compare with (None: not compared).
        spill: a folder where the stream of a part past :data:`SMALL` is kept (a :class:`Spill`)
            instead of memory; None keeps it in memory.

    Returns:
        The :class:`DeflatedPart`.
    """
    c = None
    held: list[bytes] = []
    out: bytearray | Spill = bytearray()
    crc, size = 0, 0
    view = memoryview(original) if original is not None else None
    same = original is not None
    for piece in _drain(pieces):
        n = len(piece)
        if not n:
            continue
        if same:
            same = view[size: size + n] == piece
        crc = z.crc32(piece, crc)
        size += n
        if c is not None:
            out += c.compress(piece)
            continue
        held.append(piece)
        if size >= SMALL:
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
    if same:
        same = size == len(original)
    return DeflatedPart(out, crc & CRC_MASK, size, same if original is not None else None)

