"""Where a ledger sheet's table sits: its header found among the first rows, the user's columns
and the tool's own computed ones told apart (by their headers, in English or Chinese).

Both readers (the cells', :mod:`xl_ar.book.reader`, and the columns', through it), the reading
copy's cut (:mod:`xl_ar.book.strip`) and the writer go by these rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xl_ar.book.headers import OUTPUT_LOOKUP, field_for_header, normalise
from xl_ar.core.convert import is_blank, parse_text

# The header is looked for in the first rows only: a title row or two above it is common.
HEADER_SEARCH_ROWS = 10


@dataclass(frozen=True)
class SheetLayout:
    """Where a ledger sheet's table sits.

    Attributes:
        name: the sheet's name in the workbook.
        header_row: 1-based Excel row of the header.
        first_col, last_col: 1-based columns of the user's table (computed columns excluded).
        outputs: computed field -> 1-based column, for computed columns already present.
        last_row: last non-empty row.
        headers: 1-based column -> header text of every non-blank header cell (a user's own
            column right of an Excel Table is taken into the Table under this name).
    """

    name: str
    header_row: int
    first_col: int
    last_col: int
    outputs: dict[str, int] = field(default_factory=dict)
    last_row: int = 0
    headers: dict[int, str] = field(default_factory=dict)


def find_header(rows: list[list[Any]], table: str) -> int | None:
    """Index of the row that names the most known fields among the first rows."""
    best, best_hits = None, 0
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        hits = sum(1 for v in row if not is_blank(v) and field_for_header(table, v))
        if hits > best_hits:
            best, best_hits = i, hits
    return best


def first_ours(head: list[list[Any]], table: str | None) -> tuple[int, int] | None:
    """Where :func:`xl_ar.book.reader._cells` cuts, from a sheet's first rows (from row 1 and column A): the index
    of the header row and the first of the tool's columns (0-based), or None when it keeps every
    column. The strip (:mod:`xl_ar.book.strip`) finds its cut by this same rule."""
    h = find_header(head, table) if OUTPUT_LOOKUP.get(table or "") else None
    k = ours_from(head[h], table) if h is not None else None
    return None if k is None else (h, k)


def ours_from(header: list[Any], table: str) -> int | None:
    """The first of the tool's own columns that end a header row (0-based; blank-headed columns
    among and after them go with them, not those before them: a user's column typed there
    without a header is still read), or None when the row does not end with one of them.

    A computed column's header found twice is ours only where it is last (as :func:`xl_ar.book.reader._read_table`
    takes it): the one further left is read as the user's.
    """
    lookup, k, first, seen = OUTPUT_LOOKUP.get(table, {}), len(header), None, set()
    while k:
        v = header[k - 1]
        if not is_blank(v):
            out = lookup.get(normalise(v)) if not field_for_header(table, v) else None
            if out is None or out in seen:
                break
            seen.add(out)
            first = k - 1
        k -= 1
    return first


@dataclass(frozen=True)
class Header:
    """A ledger sheet's header as :func:`xl_ar.book.reader._read_table` reads it."""

    row: int  # its index among the rows from row 1
    fields: dict[str, int]  # field -> its column from A (0-based)
    outputs: dict[str, int]  # computed field -> its column (1-based), for those already there
    used: list[int]  # columns (0-based) of every non-blank header cell
    user_cols: list[int]  # ... but the computed ones

    @property
    def last(self) -> int:
        """The last of the user's columns (1-based; 0 for none)."""
        return (max(self.user_cols) + 1) if self.user_cols else 0


def header_of(rows: list[list[Any]], table: str) -> Header | None:
    h = find_header(rows, table)
    if h is None:
        return None
    header = rows[h]
    fields: dict[str, int] = {}
    outputs: dict[str, int] = {}
    used = [j for j, v in enumerate(header) if not is_blank(v)]
    for j in used:
        f = field_for_header(table, header[j])
        if f and f not in fields:
            fields[f] = j
        elif normalise(header[j]) in OUTPUT_LOOKUP.get(table, {}):
            outputs[OUTPUT_LOOKUP[table][normalise(header[j])]] = j + 1
    return Header(h, fields, outputs, used, [j for j in used if j + 1 not in outputs.values()])


def layout_of(name: str, hd: Header, header: list[Any], last: int, records: np.ndarray) -> SheetLayout:
    h = hd.row
    return SheetLayout(
        name, h + 1, (min(hd.user_cols) + 1) if hd.user_cols else 1, last, hd.outputs,
        int(h + 2 + records[-1]) if len(records) else h + 1, {j + 1: parse_text(header[j]) for j in hd.used},
    )
