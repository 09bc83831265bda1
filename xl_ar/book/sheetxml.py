"""The basics of worksheet XML shared by the splice and the renderer.

Cell references (``A1`` <-> row and column), the text of values as Excel stores them (escaped
strings, shortest numbers, date serials), :class:`BookError` and :class:`OutColumn`. The
underscore helpers here are shared by :mod:`xl_ar.book.splice` (computed columns spliced into a
user's sheet) and :mod:`xl_ar.book.render` (whole sheets the tool owns), and by nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np

from xl_ar.core.celltext import cut_cell_text
from xl_ar.book.errors import BookError  # noqa: F401  (re-exported: the splice and the package raise it)

MAX_ROW = 1_048_576
MAX_COL = 16_384
MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

Kind = Literal["number", "text", "date"]




@dataclass(frozen=True)
class OutColumn:
    """A column the tool computes and writes into a user's sheet.

    Attributes:
        index: 1-based column number (1 = A).
        header: header text written on the header row ("" writes no header cell).
        header_style: ``cellXfs`` index of the header cell.
        style: ``cellXfs`` index of the value cells (a date column needs a date format here).
        kind: ``"number"``, ``"text"`` or ``"date"``.
        width: column width in characters, set only when no ``<col>`` covers the column yet.
    """

    index: int
    header: str
    header_style: int = 0
    style: int = 0
    kind: Kind = "number"
    width: float | None = None


# --------------------------------------------------------------------------- cell references


def col_letter(i: int) -> str:
    """Return the column letters of a 1-based column number.

    Args:
        i: column number, 1 to 16384.

    Returns:
        ``"A"`` for 1, ``"AA"`` for 27, ``"XFD"`` for 16384.
    """
    if not isinstance(i, (int, np.integer)) or not 1 <= i <= MAX_COL:
        raise ValueError(f"column number out of range 1-{MAX_COL}: {i!r}")
    s = ""
    i = int(i)
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def col_index(letters: str | bytes) -> int:
    """Return the 1-based column number of column letters (case-insensitive).

    Args:
        letters: ``"A"`` to ``"XFD"``.

    Returns:
        1 for ``"A"``, 27 for ``"AA"``.
    """
    if isinstance(letters, bytes):
        letters = letters.decode("ascii")
    if not letters or not letters.isascii() or not letters.isalpha() or len(letters) > 3:
        raise ValueError(f"not column letters: {letters!r}")
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    if n > MAX_COL:
        raise ValueError(f"column beyond XFD: {letters!r}")
    return n


def split_ref(ref: str) -> tuple[int, int]:
    """Return ``(row, column)`` of an A1 reference such as ``"$B$7"`` or ``"B7"``."""
    m = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?(\d+)", ref.strip())
    if not m:
        raise ValueError(f"not a cell reference: {ref!r}")
    return int(m.group(2)), col_index(m.group(1))


def _range_ref(r1: int, c1: int, r2: int, c2: int) -> str:
    a, b = f"{col_letter(c1)}{r1}", f"{col_letter(c2)}{r2}"
    return a if a == b else f"{a}:{b}"


# --------------------------------------------------------------------------- value rendering

_NEEDS_ESCAPE = re.compile("[&<>\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_ILLEGAL_CHARS = "\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_ILLEGAL = re.compile(f"[{_ILLEGAL_CHARS}]")
# What escaping writes: a character XML cannot hold, or an underscore a reader would take as
# the start of an escape: one before "xHHHH" and then an underscore, or a character that is
# itself escaped (its escape starts with one). Looked for in one pass over the text as given,
# so that escapes next to each other ("_x0041_x0042_") are all found.
_XSTRING = re.compile(r"_x([0-9A-Fa-f]{4})_")  # an escape as a reader decodes it
_CONTROL_ESCAPE = re.compile(f"[{_ILLEGAL_CHARS}]|_(?=x[0-9A-Fa-f]{{4}}(?:_|[{_ILLEGAL_CHARS}]))")
_EXCEL_EPOCH = np.datetime64("1899-12-30", "us")


def escape_text(s: str) -> str:
    """Escape text for a ``<t>`` element the way Excel does.

    Characters XML 1.0 forbids (and CR, which parsers would turn into LF) become ``_xHHHH_``,
    which Excel decodes; an underscore that would start such an escape in what is stored (one
    before ``xHHHH_``, or before ``xHHHH`` and an escaped character) is stored as ``_x005F_``, so
    a reader decodes the text to what was written; ``&``, ``<``, ``>`` become entities. Text longer
    than the 32,767 characters a cell holds is cut, with a visible mark (Excel would refuse the
    whole file as corrupt).
    """
    s = cut_cell_text(s)  # any text longer than a cell holds (a copied cell, a message quoting one)
    if not _NEEDS_ESCAPE.search(s):
        return s
    return escape_controls(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_controls(s: str) -> str:
    """The ``_xHHHH_`` part of :func:`escape_text` alone, for text given to another writer.

    openpyxl refuses control characters and writes a literal ``_x0041_`` unescaped (Excel
    would show ``A``); text escaped here is stored as Excel stores it and read back unchanged.
    """
    return _CONTROL_ESCAPE.sub(_escape_one, s)


def _escape_one(m: re.Match[str]) -> str:
    c = m.group()
    return "_x005F_" if c == "_" else f"_x{ord(c):04X}_"


def decode_xstring(text: str) -> str:
    """Decode the ``_xHHHH_`` escapes of a cell's text as the file stores it (``ST_Xstring``).

    Left to right, each ``_xHHHH_`` (hex digits in either case) stands for the UTF-16 code unit
    HHHH, so ``_x0001_`` is U+0001, ``_x005F_`` an underscore and ``_x005F_x0041_`` the literal
    text ``_x0041_``; a high and a low surrogate in a row make the one character they encode
    (``_xD83D__xDE00_`` is "😀"). Any other text is left as it is. The inverse of
    :func:`escape_controls`.

    Args:
        text: the text as stored.

    Returns:
        The text it stands for.
    """
    if "_x" not in text:
        return text
    out = _XSTRING.sub(lambda m: chr(int(m.group(1), 16)), text)
    return out.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def escape_attr(s: str) -> str:
    """Escape text for a double-quoted XML attribute (illegal characters dropped)."""
    s = _ILLEGAL.sub("", s)
    return (
        s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        .replace("\n", "&#10;").replace("\t", "&#9;")
    )


def _t_element(text: str, p: str) -> str:
    """An inline string's ``<is><t>`` with whitespace kept where Excel would trim it."""
    esc = escape_text(text)
    if text[:1].isspace() or text[-1:].isspace():
        return f'<{p}is><{p}t xml:space="preserve">{esc}</{p}t></{p}is>'
    return f"<{p}is><{p}t>{esc}</{p}t></{p}is>"


def _number_texts(arr: np.ndarray) -> list[str]:
    """Shortest round-trip text of each float, integers without ".0"; ``"nan"`` marks a blank."""
    if np.isinf(arr).any():
        raise ValueError("an infinite number cannot be written to Excel")
    arr = arr + 0.0  # -0.0 + 0.0 is 0.0: Excel has no negative zero
    blank = np.isnan(arr)
    integral = (arr == np.trunc(arr)) & (np.abs(arr) < 2.0**53)
    if (integral | blank).all():  # days, date serials, whole amounts: int text is 3x faster
        texts = list(map(str, np.where(blank, 0, arr).astype(np.int64).tolist()))
        for i in np.flatnonzero(blank).tolist():
            texts[i] = "nan"
        return texts
    return [t[:-2] if t[-2:] == ".0" else t for t in map(repr, arr.tolist())]


def excel_serials(values: Any) -> np.ndarray:
    """Convert dates to Excel serial numbers (1900 date system); NaT/None become NaN.

    Args:
        values: a datetime64 array, or a sequence of ``date``/``datetime``/``Timestamp``/None.

    Returns:
        float64 days since 1899-12-30, with Excel's fictitious 1900-02-29 (serial 60) skipped
        so that dates before 1900-03-01 get the serials Excel shows.
    """
    arr = np.asarray(values)
    if arr.dtype.kind != "M":
        arr = np.array([None if v is None or v != v else v for v in arr.tolist()], dtype="datetime64[us]")
    days = (arr.astype("datetime64[us]") - _EXCEL_EPOCH) / np.timedelta64(1, "D")
    days = np.where(days < 61, days - 1, days)
    if (days < 1).any():
        raise ValueError("dates before 1900-01-01 cannot be written to Excel")
    return days


_SERIAL_ZERO = date(1899, 12, 30)  # serial 0 of the 1900 date system
_LEAP_BUG_END = date(1900, 3, 1)  # from here on, serial = days since serial 0 (Excel's 1900-02-29 is behind)


def excel_serial(value: Any) -> float:
    """One date's Excel serial number (see :func:`excel_serials`); a plain date from 1900-03-01 on,
    the common case, without numpy."""
    if type(value) is date and value >= _LEAP_BUG_END:
        return float((value - _SERIAL_ZERO).days)
    return float(excel_serials(np.array([value], dtype="datetime64[us]"))[0])


def _is_missing(v: Any) -> bool:
    """None, NaN, NaT or pandas' NA (whose comparisons do not return bools)."""
    if v is None or type(v).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(v, (float, np.floating)) and v != v


def _num(x: float) -> str:
    s = repr(float(x))
    return s[:-2] if s.endswith(".0") else s
