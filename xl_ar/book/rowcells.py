"""The new cells of computed columns, rendered as XML rows by blocks, on demand.

A splice inserts, after each target row's own cells, the ``<c>`` elements of the computed
columns followed by ``</row>``. For a full sheet that is about 700 bytes for each of a million
rows: rendered all at once it would be the largest thing a run holds. :class:`RenderedRows`
converts each column once (so a bad value is refused before anything is written) and renders
rows a block at a time, as the splice walks down the sheet.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xl_ar.book.sheetxml import (OutColumn, _is_missing, _number_texts, _t_element, col_letter,
                                 excel_serials)

#: Rows rendered together: a few megabytes of XML at a time.
BLOCK_ROWS = 4096


def prepare_column(col: OutColumn, values: Any, n: int) -> Any:
    """One computed column's values in the form rendering needs, checked.

    Args:
        col: the column.
        values: its values, one per row.
        n: the number of rows.

    Returns:
        float64 (numbers; dates as Excel serials, NaN for a blank) or a list (text).

    Raises:
        ValueError: values that are not numbers in a number column, or not ``n`` of them.
    """
    letter = col_letter(col.index)
    if col.kind in ("number", "date"):
        if col.kind == "date":
            arr = excel_serials(values)
        else:
            try:
                arr = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"column {letter}: values are not numbers ({exc})") from None
        if arr.shape != (n,):
            raise ValueError(f"column {letter}: {arr.size} values for {n} rows")
        return arr
    vals = values.tolist() if isinstance(values, np.ndarray) else list(values)
    if len(vals) != n:
        raise ValueError(f"column {letter}: {len(vals)} values for {n} rows")
    return vals


def column_cells(col: OutColumn, rstr: Sequence[str], prepared: Any, p: str) -> list[str]:
    """Render one computed column: the full ``<c>`` element per row, "" for a blank.

    Args:
        col: the column.
        rstr: the rows' numbers as text (shared by all columns: converted once).
        prepared: :func:`prepare_column` of its values for these rows.
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
