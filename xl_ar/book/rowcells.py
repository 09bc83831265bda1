"""The new cells of computed columns, rendered as XML rows by blocks, on demand.

A splice inserts, after each target row's own cells, the ``<c>`` elements of the computed
columns followed by ``</row>``. For a full sheet that is about 700 bytes for each of a million
rows: rendered all at once it would be the largest thing a run holds. :class:`RenderedRows`
converts each column once (so a bad value is refused before anything is written) and renders
rows a block at a time, as the splice walks down the sheet, with array operations on the whole
block (:mod:`xl_ar.book.rowbytes`). :func:`column_cells` renders cell by cell, the same bytes:
it is used for the rare row holding a very long text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np

from xl_ar.book.rowbytes import assemble, digits_matrix, number_matrix, padded, squeeze
from xl_ar.book.sheetxml import (
    OutColumn,
    _is_missing,
    _number_texts,
    _t_element,
    col_letter,
    excel_serials,
)

#: Rows rendered together: a few megabytes of XML at a time.
BLOCK_ROWS = 8192

#: A text cell longer than this (bytes) is rendered cell by cell, its row with it, rather than
#: widening every row of its block's matrix.
LONG_CELL = 512


def prepare_column(col: OutColumn, values: Any, n: int) -> Any:
    """One computed column's values in the form rendering needs, checked.

    Args:
        col: the column.
        values: its values, one per row.
        n: the number of rows.

    Returns:
        float64 (numbers; dates as Excel serials, NaN for a blank) or a list (text).

    Raises:
        ValueError: values that are not numbers in a number column (or infinite), or not ``n``
            of them.
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
        if np.isinf(arr).any():
            raise ValueError(f"column {letter}: an infinite number cannot be written to Excel")
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

    A block is one padded byte matrix (:func:`xl_ar.book.rowbytes.assemble`): a row of it is
    each column's cell (its constant bytes, the row number's digits and the value's text; all
    zero where the cell is blank) side by side, then ``</row>``. Text columns are factorised
    once, each distinct cell rendered once.
    """

    def __init__(self, header: bytes, cols: list[OutColumn], rows: list[int], prepared: list[Any], p: str):
        """Args:
            header: the header row's new cells and ``</row>``.
            cols: the computed columns.
            rows: the value rows' numbers.
            prepared: :func:`prepare_column` of each column's values for these rows.
            p: the main namespace prefix ("" or "x:").
        """
        self.header, self.cols, self.rows, self.prepared, self.p = header, cols, rows, prepared, p
        self.close = f"</{p}row>".encode()
        self._rows = np.asarray(rows, dtype=np.int64)
        self._texts: list[_TextColumn | None] = []
        self._consts: list[tuple[bytes, ...]] = []  # a cell's bytes that are the same on every row
        for c, v in zip(cols, prepared):
            s_attr = f' s="{c.style}"' if c.style else ""
            head = f'<{p}c r="{col_letter(c.index)}'.encode()
            if c.kind == "text":
                self._texts.append(_TextColumn(v, f'"{s_attr} t="inlineStr">', p))
                self._consts.append((head,))
            else:
                self._texts.append(None)
                self._consts.append((head, f'"{s_attr}><{p}v>'.encode(), f"</{p}v></{p}c>".encode()))
        # The rendered block: _count targets from _first on, target _first + k being
        # _data[_offsets[k]: _offsets[k + 1]], or _slow[k] when rendered cell by cell.
        self._first, self._count, self._data, self._offsets, self._slow = 1, 0, b"", [0], {}

    def __len__(self) -> int:
        return 1 + len(self.rows)

    def __getitem__(self, j: int) -> bytes:
        k = j - self._first
        if not 0 <= k < self._count:
            if j == 0:
                return self.header
            if not 0 < j <= len(self.rows):
                raise IndexError(f"target {j} of {len(self)}")
            block = (j - 1) // BLOCK_ROWS
            self._render(block * BLOCK_ROWS, min((block + 1) * BLOCK_ROWS, len(self.rows)))
            k = j - self._first
        if self._slow and k in self._slow:
            return self._slow[k]
        return self._data[self._offsets[k]: self._offsets[k + 1]]

    def span(self, j0: int, j1: int) -> list[bytes]:
        """``[rows[j] for j in range(j0, j1)]``, each rendered block sliced at once."""
        out: list[bytes] = []
        j = j0
        while j < j1:
            self[j]  # renders the block holding target j, if not the current one
            k0, k1 = j - self._first, min(j1 - self._first, self._count)
            if j == 0 or k1 <= k0:  # the header row
                out.append(self[j])
                j += 1
                continue
            data, offs = self._data, self._offsets
            part = [data[a:b] for a, b in zip(offs[k0:k1], offs[k0 + 1: k1 + 1])]
            for k, row in self._slow.items():
                if k0 <= k < k1:
                    part[k - k0] = row
            out += part
            j = self._first + k1
        return out

    def _render(self, lo: int, hi: int) -> None:
        """Render value rows ``lo:hi`` (targets ``lo + 1`` to ``hi``) as the current block."""
        n = hi - lo
        digits, digit_count = digits_matrix(self._rows[lo:hi])
        lengths = np.full(n, len(self.close), np.int64)  # each row's bytes
        long = np.zeros(n, bool)
        cells = []
        for vals, text, consts in zip(self.prepared, self._texts, self._consts):
            if text is None:
                x = vals[lo:hi]
                blank = np.isnan(x)
                number, count = number_matrix(np.where(blank, 0.0, x))
                head, mid, tail = consts
                pieces = [head, digits, mid, number, tail]
            else:
                table, index, count, blank, too_long = text.block(lo, hi)
                pieces = [consts[0], digits, (table, index)]
                long |= too_long
            fixed = sum(len(q) for q in pieces if isinstance(q, bytes))
            lengths += np.where(blank, 0, fixed + digit_count + count)
            cells.append((pieces, np.flatnonzero(blank)))
        self._data, self._offsets = squeeze(assemble(cells, self.close, n), lengths)
        self._slow = self._cell_by_cell(lo, np.flatnonzero(long)) if long.any() else {}
        self._first, self._count = 1 + lo, n

    def _cell_by_cell(self, lo: int, at: np.ndarray) -> dict[int, bytes]:
        """Value rows ``lo + at`` rendered by :func:`column_cells`, by their place in the block."""
        idx = (lo + at).tolist()
        rstr = [str(self.rows[i]) for i in idx]
        cells = [column_cells(c, rstr, v[lo + at] if isinstance(v, np.ndarray) else [v[i] for i in idx], self.p)
                 for c, v in zip(self.cols, self.prepared)]
        close = self.close.decode()
        return {a: ("".join(parts) + close).encode() for a, parts in zip(at.tolist(), zip(*cells))}


class _TextColumn:
    """A text column factorised: each row's code, and each code's bytes after the row number.

    Code 0 is a blank (no cell). A string is rendered once per distinct string, any other value
    (a number, say) once per distinct rendering, by the rules of :func:`column_cells`. A cell
    longer than :data:`LONG_CELL` is marked long and left out of the matrix (its row is rendered
    cell by cell), as is, for safety, one holding a NUL byte (escaping leaves none).
    """

    def __init__(self, vals: list[Any], tail: str, p: str):
        """Args:
            vals: the column's values.
            tail: what follows the row number in a cell, up to its ``<is>``.
            p: the main namespace prefix.
        """
        # None, and these two NaN objects themselves (a dict finds a key by identity first), are
        # blanks looked up at C speed; any other value that is not a string goes to the loop.
        code_of: dict[Any, int] = {None: 0, math.nan: 0, np.nan: 0}
        frags = [""]
        for v in set(vals):  # a column of labels holds a handful
            if isinstance(v, str):
                code_of[v] = len(frags) if v else 0
                if v:
                    frags.append(f"{tail}{_t_element(v, p)}</{p}c>")
        codes = np.fromiter(map(code_of.get, vals, repeat(-1)), np.int32, len(vals))
        seen: dict[str, int] = {}
        for i in np.flatnonzero(codes < 0).tolist():  # not str: NaN, numbers, pandas' NA
            v = vals[i]
            if _is_missing(v) or str(v) == "":
                codes[i] = 0
                continue
            frag = f"{tail}{_t_element(str(v), p)}</{p}c>"
            codes[i] = code = seen.setdefault(frag, len(frags))
            if code == len(frags):
                frags.append(frag)
        encoded = [f.encode() for f in frags]
        self.codes = codes
        self.long = np.array([len(f) > LONG_CELL or b"\0" in f for f in encoded])
        self.frags = [b"" if long else f for f, long in zip(encoded, self.long.tolist())]
        self.lengths = np.array([len(f) for f in self.frags], np.int64)

    def block(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows ``lo:hi``: the distinct cells among them (a padded matrix, a long one empty), the
        row of it each row takes, each row's count of bytes, the blank rows and the long ones."""
        sub = self.codes[lo:hi]
        used = np.flatnonzero(np.bincount(sub, minlength=len(self.frags)))
        local = np.zeros(len(self.frags), np.int64)
        local[used] = np.arange(used.size)
        table = padded([self.frags[c] for c in used.tolist()])
        return table, local[sub], self.lengths[sub], sub == 0, self.long[sub]
