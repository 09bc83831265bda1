"""Rows a plan adds to the ledger: contract milestones as invoices, instalments on the log.

``append_ledger_rows`` appends rows under a ledger table of the workbook, without an openpyxl
round trip: the book is backed up first and saved atomically, every other part untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from xl_ar.book.append import append_rows
from xl_ar.book.package import WorkbookPackage, check_not_open
from xl_ar.book.reader import read_book
from xl_ar.book.sheetxml import col_index
from xl_ar.book.writer import DATE_FORMAT, MONEY_FORMAT
from xl_ar.core.schema import TABLES


class PlanError(Exception):
    """The rows cannot be added (no such sheet, a column missing): one line for the user."""


def append_ledger_rows(book: str | Path, table: str, rows: Sequence[dict[str, Any]]) -> tuple[str, Path | None]:
    """Append rows (field -> value) under a ledger table; back up, save atomically.

    Args:
        book: the workbook.
        table: the ledger table ("Invoices", "Activities", ...).
        rows: one dict per row, keyed by the table's field names.

    Returns:
        (the sheet written, the backup's path).

    Raises:
        PlanError: the workbook has no such sheet, or no column for a field with a value.
    """
    book = Path(book)
    check_not_open(book)
    WorkbookPackage.open(book).refuse_1904()  # safety checks before the reader parses anything
    data = read_book(book)
    if table not in data.tables:
        raise PlanError(f"the workbook has no {table} sheet")
    raw, layout = data.tables[table], data.layouts[table]
    missing = sorted({f for r in rows for f in r if r[f] not in (None, "")} - set(raw.columns))
    if missing:
        raise PlanError(f"{raw.sheet} has no column for {', '.join(missing)}")
    cells = [{col_index(raw.columns[f]): v for f, v in r.items() if f in raw.columns} for r in rows]
    pkg = WorkbookPackage.open(book)
    # Dates and amounts get their formats whatever the row above holds.
    formats = {"date": pkg.cell_style(DATE_FORMAT), "money": pkg.cell_style(MONEY_FORMAT)}
    styles = {col_index(letter): formats[TABLES[table].field(f).kind] for f, letter in raw.columns.items()
              if TABLES[table].field(f).kind in formats}
    append_rows(pkg, raw.sheet, cells, header_row=layout.header_row, styles=styles)
    return raw.sheet, pkg.save_changes()
