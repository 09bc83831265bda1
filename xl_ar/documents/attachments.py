"""A customer's statement as an e-mail attachment: the "last statement" a reminder carries."""

from __future__ import annotations

import datetime as dt

from xl_ar.core.ledger import Ledger
from xl_ar.core.settings import Settings
from xl_ar.documents.fonts import BatchFonts
from xl_ar.documents.pdf import render_statement_pdf
from xl_ar.documents.statement_xlsx import statement_xlsx_bytes
from xl_ar.documents.statements import PDF_MIME, XLSX_MIME, StatementSource, file_stem


def statement_attachment(
    ledger: Ledger,
    settings: Settings,
    customer_id: str,
    period_to: dt.date,
    *,
    period_from: dt.date | None = None,
    fmt: str = "pdf",
    lang: str | None = None,
    source: StatementSource | None = None,
    batch: BatchFonts | None = None,
) -> tuple[str, bytes, str]:
    """A customer's statement as an e-mail attachment (the "last statement" a reminder carries).

    Args:
        ledger: a validated ledger without errors.
        settings: the run's settings.
        customer_id: the customer.
        period_to: the last day of the period (a reminder's as-of date).
        period_from: the first day (default: the first of ``period_to``'s month).
        fmt: "pdf" or "xlsx".
        lang: the language (default: the customer's, else the book's).
        source: the run's :class:`StatementSource` at ``period_to`` (None makes one: pass it
            when attaching statements for many customers).
        batch: the run's font cut for PDF statements (see ``xl_ar.documents.fonts.BatchFonts``).

    Returns:
        ``(filename, content, mimetype)``.

    Raises:
        KeyError: the customer is not on the ledger.
    """
    if source is None or source.period_to != period_to:
        source = StatementSource(ledger, settings, period_to)
    if customer_id not in source.known:
        raise KeyError(f'customer "{customer_id}" is not on the ledger')
    start = period_from or period_to.replace(day=1)
    st = source.statements(start, customers=[customer_id], lang=lang, include_quiet=True)[0]
    if fmt == "xlsx":
        return f"{file_stem(st)}.xlsx", statement_xlsx_bytes(st), XLSX_MIME
    if fmt == "pdf":
        return f"{file_stem(st)}.pdf", render_statement_pdf(st, batch=batch), PDF_MIME
    raise ValueError(f'format must be "pdf" or "xlsx", not "{fmt}"')
