"""The computed cells of a splice rendered cell by cell, as they were before the vectorised renderer.

``RenderedRows`` is kept as it was, over the module's per-cell :func:`column_cells` (still the
package's renderer of a row holding a very long text, and the definition of a cell's bytes), so
that the faster :class:`xl_ar.book.rowcells.RenderedRows` is compared, byte for byte, with the
renderer it replaced.
"""

from __future__ import annotations

from typing import Any

from xl_ar.book.rowcells import column_cells
from xl_ar.book.sheetxml import OutColumn

#: Rows rendered together: a few megabytes of XML at a time.
BLOCK_ROWS = 4096


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
