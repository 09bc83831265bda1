"""Test inputs as small text tables, the way an accountant would sketch a ledger.

    | InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount   |
    | I1        | C1         | 2025-01-01  | 2025-01-31 | 10000.00 |

Cells are handed to validation as text, exactly as a careless workbook might hold them, so the
same path that checks a real workbook converts them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from xl_ar.book.headers import field_for_header
from xl_ar.core.ledger import Ledger, RawTable, validate_ledger
from xl_ar.core.settings import Settings


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    return rows[0], rows[1:]


def raw_table(table: str, text: str, first_row: int = 2) -> RawTable:
    header, body = parse_table(text)
    fields = [field_for_header(table, h) for h in header]
    data = {"row": np.arange(first_row, first_row + len(body), dtype=np.int64)}
    columns = {}
    for j, f in enumerate(fields):
        if f is None:
            continue
        data[f] = np.array([r[j] if r[j] != "" else None for r in body], dtype=object)
        columns[f] = chr(ord("A") + j)
    return RawTable(table, table, pd.DataFrame(data), columns)


def ledger(invoices: str = "", receipts: str = "", customers: str = "", settings: Settings | None = None,
           activities: str = "") -> Ledger:
    """A validated ledger from text tables; fails the test on any validation error."""
    settings = settings or Settings()
    raw = {}
    for name, text in (("Invoices", invoices), ("Receipts", receipts), ("Customers", customers),
                       ("Activities", activities)):
        if text.strip():
            raw[name] = raw_table(name, text)
    raw.setdefault("Customers", raw_table("Customers", "| CustomerID |"))
    raw.setdefault("Receipts", raw_table("Receipts", "| ReceiptNo | CustomerID | ReceiptDate | Amount |"))
    raw.setdefault("Invoices", raw_table("Invoices", "| InvoiceNo | CustomerID | InvoiceDate | Amount |"))
    led, issues = validate_ledger(raw, settings)
    errors = [str(i) for i in issues if i.severity == "error"]
    assert not errors, errors
    return led


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


#: The header rows random ledgers are drawn under (see :func:`invoice_row`, :func:`receipt_row`).
INVOICES_HEAD = "| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount | Currency | Disputed |"
RECEIPTS_HEAD = "| ReceiptNo | CustomerID | ReceiptDate | Amount | Currency | InvoiceNo |"


def _row(*cells: object) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def invoice_row(i: int, customer: str, day: dt.date, due: dt.date | str, cents: int, currency: str,
                disputed: str, *more: str) -> str:
    """Invoice ``I{i}`` under :data:`INVOICES_HEAD` (``more``: cells of columns added after it)."""
    return _row(f"I{i}", customer, day, due, f"{cents / 100:.2f}", currency, disputed, *more)


def receipt_row(r: int, customer: str, day: dt.date, cents: int, currency: str, invoice: str) -> str:
    """Receipt ``R{r}`` under :data:`RECEIPTS_HEAD`."""
    return _row(f"R{r}", customer, day, f"{cents / 100:.2f}", currency, invoice)
