"""Text as an Excel cell holds it: at most 32,767 UTF-16 units, cut with a visible mark.

Apart from the conversions of cells (:mod:`xl_ar.core.convert`), which re-exports it, so that
the sheet XML writer's helpers need nothing heavier."""

from __future__ import annotations

#: The most characters (UTF-16 units) an Excel cell holds.
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
