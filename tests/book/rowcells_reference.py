"""The computed cells of a splice rendered cell by cell, as they were before the vectorised renderer.

Kept verbatim (the module's ``column_cells`` and ``RenderedRows``, and the number texts they
used) so that the faster :class:`xl_ar.book.rowcells.RenderedRows` is compared, byte for byte,
with the renderer it replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from xl_ar.book.sheetxml import OutColumn, _is_missing, _t_element, col_letter

#: Rows rendered together: a few megabytes of XML at a time.
BLOCK_ROWS = 4096


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


def column_cells(col: OutColumn, rstr: Sequence[str], prepared: Any, p: str) -> list[str]:
    """Render one computed column: the full ``<c>`` element per row, "" for a blank.

    Args:
        col: the column.
        rstr: the rows' numbers as text (shared by all columns: converted once).
        prepared: its values for these rows (float64 for numbers and dates, a list for text).
        p: the main namespace prefix ("" or "x:").
    """
    letter = col_letter(col.index)
    s_attr = f' s="{col.style}"' if col.style else ""
    head = f'<{p}c r="{letter}'
    if col.kind in ("number", "date"):
        mid, tail = f'"{s_attr}><{p}v>', f"</{p}v></{p}c>"
        return ["" if t == "nan" else f"{head}{r}{mid}{t}{tail}" for r, t in zip(rstr, _number_texts(prepared))]
    vals = prepared
    # Text columns repeat a few labels (stages, buckets): render each distinct value once.
    tail = f'"{s_attr} t="inlineStr">'
    memo: dict[Any, str] = {}
    try:
        distinct = set(vals)  # at C speed; a column of labels holds a handful
    except TypeError:  # an unhashable value: the loop below renders it
        distinct = {v for v in vals if isinstance(v, str)}
    for v in distinct:
        if isinstance(v, str):
            memo[v] = f"{tail}{_t_element(v, p)}</{p}c>" if v else ""
    frags = list(map(memo.get, vals))
    for i in [i for i, f in enumerate(frags) if f is None]:  # not str: None, NaN, numbers
        v = vals[i]
        frags[i] = "" if _is_missing(v) or str(v) == "" else f"{tail}{_t_element(str(v), p)}</{p}c>"
    return [f"{head}{r}{f}" if f else "" for r, f in zip(rstr, frags)]


class RenderedRows:
    """``rows[j]``: the new cells of target ``j`` followed by ``</row>``, as bytes.

    Target 0 is the header row (the columns' headers); targets 1.. are the value rows. Rows are
    rendered a block at a time and only the last block is kept, so walking the targets in order
    (as both splice paths do) renders each once; going back re-renders a block.
    """

    def __init__(self, header: bytes, cols: list[OutColumn], rows: list[int], prepared: list[Any], p: str):
        self.header, self.cols, self.rows, self.prepared, self.p = header, cols, rows, prepared, p
        self.close = f"</{p}row>"
        self._block, self._rendered = -1, []

    def __len__(self) -> int:
        return 1 + len(self.rows)

    def __getitem__(self, j: int) -> bytes:
        if j == 0:
            return self.header
        block, at = divmod(j - 1, BLOCK_ROWS)
        if block != self._block:
            lo, hi = block * BLOCK_ROWS, min((block + 1) * BLOCK_ROWS, len(self.rows))
            rstr = list(map(str, self.rows[lo:hi]))
            cells = [column_cells(c, rstr, v[lo:hi], self.p) for c, v in zip(self.cols, self.prepared)]
            self._rendered = [("".join(parts) + self.close).encode() for parts in zip(*cells)]
            self._block = block
        return self._rendered[at]
