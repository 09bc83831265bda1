"""Whether a part is well-formed XML without a DOCTYPE: the check, and the same check run as a
script in a process of its own over a zip member read straight from the workbook file.

The screening (:mod:`xl_ar.book.screen`) checks every part the reader parses. A full ledger
sheet is a few hundred megabytes of XML and expat takes one to two seconds over it, so a large
sheet is checked by this module run as a script: a fresh interpreter (``python -I``) that
holds none of the run's memory, reads the member piece by piece from the file, inflates it no
further than its declared size and gives the answer on its standard output as one line of JSON.
It runs at the lowest priority, so that it takes a core only when the run leaves one idle.

Standard library only (the script imports nothing of the package); the ``isal`` inflater is
used when it is installed. :func:`member_pieces` is also the package's own way of inflating a
member piece by piece (:func:`xl_ar.book.zipio.iter_member` checks its size and CRC around it).
"""

from __future__ import annotations

import json
import os
import sys
import xml.parsers.expat
from collections.abc import Generator, Iterable

try:
    from isal import isal_zlib as _zlib
except ImportError:  # (an install without it reads the same, a little slower)
    import zlib as _zlib

#: Uncompressed bytes handed to expat at a time, and compressed bytes read at a time.
PIECE = 1 << 20


class Corrupt(Exception):
    """A deflated member whose stream cannot be inflated; ``str()`` is the inflater's complaint."""


class Refused(Exception):
    """The part is not accepted; ``str()`` says why (``"doctype"``, or expat's complaint with
    its line and column)."""


def check_pieces(pieces: Iterable[bytes]) -> None:
    """Parse the pieces of one XML document in turn; raise :class:`Refused` at a DOCTYPE or
    entity declaration (entity bombs, XXE) or where the document stops being well-formed."""
    p = xml.parsers.expat.ParserCreate()

    def refuse(*_args: object) -> None:
        raise Refused("doctype")

    p.StartDoctypeDeclHandler = refuse
    p.EntityDeclHandler = refuse
    try:
        for piece in pieces:
            p.Parse(piece, False)
        p.Parse(b"", True)
    except xml.parsers.expat.ExpatError as exc:
        raise Refused(f"line {exc.lineno}, column {exc.offset + 1}: {xml.parsers.expat.ErrorString(exc.code)}") from None


def member_pieces(path: str, offset: int, compressed: int, method: int, size: int,
                  piece: int = PIECE) -> Generator[bytes, None, bool]:
    """A zip member's content in pieces of at most ``piece`` bytes, read from ``offset`` in the
    file: stored (``method`` 0) or deflated (any other: the zip directory allows none but 8);
    never more than ``size`` bytes (its declared size) plus one, so that a lying header cannot
    make the reading grow. Returns (as the generator's value) whether a deflated stream came to
    its end (True for a stored member); raises :class:`Corrupt` for one that cannot be inflated."""
    left, out = compressed, 0
    with open(path, "rb") as f:
        f.seek(offset)
        if method == 0:
            while left and out <= size:
                chunk = f.read(min(left, piece, size + 1 - out))
                if not chunk:
                    break
                left, out = left - len(chunk), out + len(chunk)
                yield chunk
            return True
        d, raw = _zlib.decompressobj(-15), b""
        while not d.eof and out <= size:
            if not raw and left:
                raw = f.read(min(left, PIECE))
                left = left - len(raw) if raw else 0
            try:
                chunk = d.decompress(raw, min(piece, size + 1 - out))
            except Exception as exc:  # isal and zlib raise different classes
                raise Corrupt(str(exc)) from None
            raw = d.unconsumed_tail
            if chunk:
                out += len(chunk)
                yield chunk
            elif not raw and not left:  # no input left, and no output held back either
                break
        return d.eof


def main(argv: list[str]) -> int:
    """``wellformed.py FILE OFFSET COMPRESSED METHOD SIZE``: prints ``null`` for a well-formed
    member, else the reason it is refused as a JSON string (or, for a member that cannot be
    read, ``{"unread": message}``, and the caller checks it itself)."""
    if hasattr(os, "nice"):
        os.nice(19)
    path, offset, compressed, method, size = argv[0], *map(int, argv[1:5])
    try:
        check_pieces(member_pieces(path, offset, compressed, method, size))
        answer: object = None
    except Refused as exc:
        answer = str(exc)
    except Exception as exc:  # noqa: BLE001 - the caller reads the part again and says what is wrong
        answer = {"unread": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
