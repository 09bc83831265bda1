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
from xl_ar.core.convert import parse_text, text_column
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


def _column(data, table: str, field: str) -> list[str]:
    raw = data.tables.get(table)
    if raw is None or field not in raw.frame:
        return []
    return list(text_column(raw.frame[field].to_numpy(dtype=object)))


def check_plan_target(book: str | Path, customer_id: str, invoice_no: str = "") -> str:
    """Check that a plan's customer (and invoice) exist in the book; return the book's language.

    A plan for a customer or invoice the ledger does not have would be rows nobody collects,
    so it is refused before anything is shown or written.

    Args:
        book: the workbook.
        customer_id: the customer the plan is for: a CustomerID of the Customers sheet, or of
            the Invoices sheet when the book has no Customers sheet.
        invoice_no: the invoice rescheduled ("" = none named).

    Returns:
        The book's language ("zh" or "en", the Settings sheet's ``Language``; blank = zh, as
        the refresh reads it), for the text of the rows written.

    Raises:
        PlanError: the customer or the invoice is not in the book, or the invoice is another
            customer's.
    """
    book = Path(book)
    WorkbookPackage.open(book).refuse_1904()  # safety checks before the reader parses anything
    data = read_book(book)
    lang = parse_text(data.settings.get("Language", ("zh", ""))[0]).lower() or "zh"
    customer_id = parse_text(customer_id)
    if "Customers" in data.tables:
        ids, where = _column(data, "Customers", "customer_id"), data.tables["Customers"].sheet
    else:
        ids, where = _column(data, "Invoices", "customer_id"), data.tables["Invoices"].sheet if "Invoices" in data.tables else "Invoices"
    if customer_id not in ids:
        names = dict(zip(_column(data, "Customers", "name"), _column(data, "Customers", "customer_id")))
        hint = f'; "{customer_id}" is the name of {names[customer_id]}: give its CustomerID' if customer_id in names else ""
        raise PlanError(f'customer "{customer_id}" is not on the {where} sheet{hint}')
    invoice_no = parse_text(invoice_no)
    if invoice_no:
        owners = dict(zip(_column(data, "Invoices", "invoice_no"), _column(data, "Invoices", "customer_id")))
        sheet = data.tables["Invoices"].sheet if "Invoices" in data.tables else "Invoices"
        if invoice_no not in owners:
            raise PlanError(f'invoice "{invoice_no}" is not on the {sheet} sheet')
        if owners[invoice_no] != customer_id:
            raise PlanError(f'invoice "{invoice_no}" is customer {owners[invoice_no]}\'s, not {customer_id}\'s')
    return "en" if lang == "en" else "zh"
