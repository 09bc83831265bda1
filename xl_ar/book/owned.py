"""A sheet the tool owns and rewrites whole (Aging, Collections, Warnings, Dashboard)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OwnedSheet:
    """What to write into one owned sheet, for any adapter.

    Attributes:
        name: the sheet's name (the existing one, else a new one in the workbook's language).
        rows: rows from A1; a cell is a value or ``(value, style name)``.
        widths: column widths (1-based column -> characters).
        freeze_header: freeze the first row.
        merged: merged ranges, e.g. ``("B3:D3",)``.
        autofilter: an autofilter range, or None.
        charts: native charts (``xl_ar.book.charts.ChartSpec``); written by the file adapter.
    """

    name: str
    rows: list[list]
    widths: dict[int, float]
    freeze_header: bool = False
    merged: tuple[str, ...] = ()
    autofilter: str | None = None
    charts: tuple[Any, ...] = field(default=())
