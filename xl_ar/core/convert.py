"""Converting raw cell values (as a reader hands them over) into typed columns.

Cells arrive as Python objects: floats, ints, str, bool, ``datetime``/``date``, or None. A
column that is already clean (the common case) takes a vectorised path; otherwise each cell is
parsed and every bad one is reported by its position, so validation can name sheet, row and
column.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 0 in the 1900 date system (after Excel's 1900 bug)

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_MONEY_STRIP = re.compile(r"US\$|[\s¥￥$€£]|RMB|CNY|USD|EUR|GBP|元", re.IGNORECASE)
_CURRENCY_STRIP = re.compile(r"US\$|[¥￥$€£]|RMB|CNY|USD|EUR|GBP|元", re.IGNORECASE)
#: The currencies a sign or code typed with an amount can stand for (¥ is both yuan and yen;
#: a bare $ is any dollar).
_MARKS = (
    (re.compile(r"US\$|USD", re.IGNORECASE), frozenset({"USD"})),
    (re.compile(r"RMB|CNY|元", re.IGNORECASE), frozenset({"CNY"})),
    (re.compile(r"[¥￥]"), frozenset({"CNY", "JPY"})),
    (re.compile(r"\$"), frozenset({"USD", "HKD", "SGD", "AUD", "CAD", "NZD", "TWD", "MXN"})),
    (re.compile(r"€|EUR", re.IGNORECASE), frozenset({"EUR"})),
    (re.compile(r"£|GBP", re.IGNORECASE), frozenset({"GBP"})),
)
_TRUE = {"y", "yes", "true", "1", "x", "是", "有", "√", "✓", "disputed", "争议"}
_FALSE = {"n", "no", "false", "0", "否", "无", "", "-"}


@dataclass(frozen=True)
class CellError:
    """A cell that holds no usable value: an Excel error (``#N/A``, ``#REF!``) or a formula
    saved without its value (``code`` ``"formula"``). Never blank, never parsed as a value."""

    code: str

    def __str__(self) -> str:
        return self.code

    def describe(self) -> str:
        """The problem in words, for an issue message."""
        if self.code == "formula":
            return ("holds a formula saved without its value; open the workbook in Excel, let it "
                    "calculate, and save")
        return f"shows the Excel error {self.code}; fix the formula or type the value"


def is_blank(v: Any) -> bool:
    """True for an empty cell: None, "", whitespace, NaN or NaT."""
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip()
    if isinstance(v, float):
        return v != v
    return v is pd.NaT


def parse_date(v: Any) -> dt.date | None:
    """Parse one date cell; None for blank; ValueError when it is not a date.

    Accepts date/datetime objects, Excel serial numbers (1900 system), and text in ISO
    (2025-01-31), slash (2025/1/31), compact (20250131) or Chinese (2025年1月31日) form.
    Day-first or month-first text (01/02/2025) is refused: it is ambiguous.
    """
    if is_blank(v):
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    if isinstance(v, pd.Timestamp):
        return v.date()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if not 1 <= v < 2958466:  # 9999-12-31
            raise ValueError(v)
        return EXCEL_EPOCH + dt.timedelta(days=int(v))
    s = str(v).strip()
    for pat in _DATE_PATTERNS:
        m = pat.match(s)
        if m:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    raise ValueError(v)


class AmbiguousNumber(ValueError):
    """Text whose decimal separator cannot be told: "12,50", "1.234,50", "1 234,50"."""


#: Grouping in threes with the other separator as the decimal mark, per DecimalSeparator.
_GROUPED = {
    ".": re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?"),
    ",": re.compile(r"\d{1,3}(?:[.\s\u00a0\u202f']\d{3})+(?:,\d+)?"),
}
_PLAIN = {".": re.compile(r"\d+(?:\.\d+)?"), ",": re.compile(r"\d+(?:,\d+)?")}


def parse_amount(v: Any, decimal: str | None = None) -> float | None:
    """Parse one amount cell to float major units; None for blank; ValueError for text.

    Accepts numbers, and text such as "1,234.50", "¥1,234.50", "(1,234.50)" (negative). A
    comma that could be a decimal comma ("12,50", "1.234,50", "1 234,50") is refused as
    ambiguous (:class:`AmbiguousNumber`) unless ``decimal`` says which separator marks decimals.

    Args:
        v: the cell value.
        decimal: "." or "," when the workbook's DecimalSeparator setting says; None = not set
            (then only commas grouping in threes before an optional ".decimals" are accepted).
    """
    if is_blank(v):
        return None
    if isinstance(v, bool):
        raise ValueError(v)
    if isinstance(v, (int, float)):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError(v)
        return float(v)
    s, neg, sign = _sign(_MONEY_STRIP.sub("", str(v)) if decimal != "," else _CURRENCY_STRIP.sub("", str(v)).strip())
    mark = decimal or "."
    if not (_PLAIN[mark].fullmatch(s) or _GROUPED[mark].fullmatch(s)):
        if decimal is None:
            alt = _sign(_CURRENCY_STRIP.sub("", str(v)).strip())[0]
            if _PLAIN[","].fullmatch(alt) or _GROUPED[","].fullmatch(alt):
                raise AmbiguousNumber(v)
        raise ValueError(v)
    s = re.sub(r"[.\s\u00a0\u202f']", "", s).replace(",", ".") if mark == "," else s.replace(",", "")
    x = float(sign + s)
    return -x if neg else x


def amount_currencies(v: Any) -> tuple[str, frozenset[str]] | None:
    """The currency sign or code typed with a text amount, and the currencies it can stand for.

    Args:
        v: the cell value (only text carries a sign: a number cell's format is not read).

    Returns:
        ``("$", {"USD", "HKD", ...})`` for ``"$1,000"``, ``("US$", {"USD"})`` for ``"US$1,000"``;
        None when the cell has no sign or code.
    """
    if not isinstance(v, str):
        return None
    for pattern, codes in _MARKS:
        m = pattern.search(v)
        if m:
            return m.group(), codes
    return None


#: The most characters an Excel cell holds.
EXCEL_CELL_CHARS = 32_767


def cut_cell_text(s: str) -> str:
    """Text cut to what an Excel cell holds, with a visible mark saying how much was cut.

    Args:
        s: any text.

    Returns:
        ``s`` itself when it fits; else its start and ``… [cut: 100,000 characters, a cell holds
        32,767]``, at most 32,767 UTF-16 units (what Excel counts) in all.
    """
    if len(s) <= EXCEL_CELL_CHARS // 2:  # fits even if every character took two UTF-16 units
        return s
    units = s.encode("utf-16-le", "surrogatepass")
    if len(units) // 2 <= EXCEL_CELL_CHARS:
        return s
    # Excel counts UTF-16 units (an emoji is two); never cut a character in half.
    mark = f"… [cut: {len(s):,} characters, a cell holds {EXCEL_CELL_CHARS:,}]"
    return units[:(EXCEL_CELL_CHARS - len(mark)) * 2].decode("utf-16-le", "ignore") + mark


def _sign(s: str) -> tuple[str, bool, str]:
    """(digits, negative in parentheses, "+"/"-"/"") of an amount's text."""
    neg = s.startswith("(") and s.endswith(")")
    if neg:
        s = s[1:-1].strip()
    sign = ""
    if s[:1] in ("+", "-"):
        sign, s = s[0], s[1:].strip()
    return s, neg, sign


def is_ambiguous(v: Any, decimal: str | None = None) -> bool:
    """True when ``v`` is refused only because its decimal separator is ambiguous."""
    try:
        parse_amount(v, decimal)
    except AmbiguousNumber:
        return True
    except (ValueError, TypeError):
        return False
    return False


def parse_int(v: Any) -> int | None:
    """Parse a whole number (e.g. terms in days)."""
    x = parse_amount(v)
    if x is None:
        return None
    if x != int(x):
        raise ValueError(v)
    return int(x)


def parse_number(v: Any, decimal: str | None = None) -> float | None:
    """Parse a plain number; a trailing % divides by 100."""
    if isinstance(v, str) and v.strip().endswith("%"):
        x = parse_amount(v.strip()[:-1], decimal)
        return None if x is None else x / 100.0
    return parse_amount(v, decimal)


def parse_bool(v: Any) -> bool:
    """Parse a yes/no cell (是/否, Y/N, TRUE/FALSE, x); blank is False."""
    if is_blank(v):
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(v)


def parse_text(v: Any) -> str:
    """Text as the user sees it: a whole number typed as 1001 stays "1001", not "1001.0"."""
    if is_blank(v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()[:10]
    return str(v).strip()


def convert_column(
    values: np.ndarray, parse: Callable[[Any], Any]
) -> tuple[list[Any], list[tuple[int, Any]]]:
    """Apply ``parse`` to every cell, collecting failures.

    Returns:
        (converted values, [(position, raw value)] of cells that failed).
    """
    out: list[Any] = []
    bad: list[tuple[int, Any]] = []
    for i, v in enumerate(values):
        try:
            out.append(parse(v))
        except (ValueError, TypeError, OverflowError):
            out.append(None)
            bad.append((i, v))
    return out, bad


def dates_column(values: np.ndarray) -> tuple[pd.Series, list[tuple[int, Any]]]:
    """Convert a column of date cells to ``datetime64[s]``; NaT for blanks and failures."""
    arr = np.asarray(values, dtype=object)
    if len(arr) and all(type(v) is dt.datetime or type(v) is dt.date for v in arr[: min(len(arr), 64)]):
        # Clean reader output: let pandas convert the whole array at once.
        try:
            if _types(arr) <= {dt.datetime, dt.date}:
                s = pd.to_datetime(pd.Series(arr), errors="raise").dt.normalize()
                return s.astype("datetime64[s]"), []
        except (ValueError, TypeError, OverflowError):
            pass
    parsed, bad = convert_column(arr, parse_date)
    s = pd.Series(pd.to_datetime(pd.Series(parsed, dtype=object), errors="coerce"))
    return s.astype("datetime64[s]"), bad


def amounts_column(values: np.ndarray, decimal: str | None = None) -> tuple[np.ndarray, list[tuple[int, Any]]]:
    """Convert a column of amount cells to float64 major units; NaN for blanks and failures.

    Args:
        values: the cells.
        decimal: the workbook's decimal separator, when set (see :func:`parse_amount`).
    """
    arr = np.asarray(values, dtype=object)
    try:
        f = arr.astype(np.float64)  # fast path: every cell already numeric
        if not any(isinstance(v, (bool, str)) for v in arr[: min(len(arr), 64)]) and np.isfinite(
            f[~np.isnan(f)]
        ).all():
            if not any(issubclass(t, (bool, str)) for t in _types(arr)):
                return f, []
    except (ValueError, TypeError):
        pass
    parsed, bad = convert_column(arr, lambda v: parse_amount(v, decimal))
    return np.array([np.nan if p is None else p for p in parsed], dtype=np.float64), bad


_type_of = np.frompyfunc(type, 1, 1)


def _types(arr: np.ndarray) -> set[type]:
    """The distinct types of a column's cells (one C-level pass, no per-cell Python frame)."""
    return set(map(type, arr.tolist()))


def cell_errors(values: np.ndarray) -> np.ndarray:
    """Positions of the :class:`CellError` cells of a column."""
    arr = np.asarray(values, dtype=object)
    if not len(arr) or CellError not in _types(arr):
        return np.zeros(0, np.int64)
    return np.flatnonzero(_type_of(arr) == CellError)


def text_column(values: np.ndarray) -> np.ndarray:
    """Convert a column to stripped text ("" for blank), as :func:`parse_text` does per cell."""
    arr = np.asarray(values, dtype=object)
    out = np.empty(len(arr), dtype=object)
    types = _type_of(arr) if len(arr) else np.zeros(0, object)
    is_str = types == str if len(arr) else np.zeros(0, bool)
    if is_str.any():  # the common case, done at once
        out[is_str] = _strip(arr[is_str])
    blank = types == type(None) if len(arr) else is_str  # an absent column is all None
    out[blank] = ""
    rest = np.flatnonzero(~is_str & ~blank)
    if len(rest):
        # The others are mostly blanks (a column the sheet does not have is all None): convert
        # each distinct value once. Unhashable cells (none come from a reader) go one by one.
        memo: dict[Any, str] = {}
        for i in rest.tolist():
            v = arr[i]
            key = (type(v), v)
            try:
                t = memo.get(key)
                if t is None:
                    t = memo[key] = parse_text(v)
            except TypeError:
                t = parse_text(v)
            out[i] = t
    if len(out) > 256:
        # One object per distinct text: a reader makes a new string for every cell, and a column
        # of repeated values (currencies, customer IDs, owners) would hold a million copies.
        out = map_distinct(out)
    return out


def map_distinct(values: Any, fn: Callable[[Any], Any] | None = None) -> np.ndarray:
    """``fn`` of each distinct value, computed once; equal values then share one object.

    Args:
        values: a column (a missing value is one distinct value like any other).
        fn: what to make of each distinct value (None: the value itself).

    Returns:
        An object array aligned with ``values``.
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    mapped = np.empty(len(uniques), dtype=object)
    mapped[:] = list(uniques) if fn is None else [fn(u) for u in uniques]
    return mapped[codes]


_strip = np.frompyfunc(str.strip, 1, 1)
