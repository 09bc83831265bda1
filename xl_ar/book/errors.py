"""The book layer's error, in a module of its own that imports nothing heavy.

The command line catches it in every handler; importing it from here keeps ``xl-ar --help``
from loading numpy (``xl_ar.book.sheetxml`` and ``xl_ar.book.package`` re-export it).
"""

from __future__ import annotations


class BookError(Exception):
    """A workbook that cannot be read or written safely; the message is one line."""
