"""The import of returned statements: check each reply against the ledger, record it.

``import_confirmations(book, files)`` reads each returned file (``read_reply``), checks it
against the ledger, then writes into the user's workbook without an openpyxl round trip:
``Disputed``/``DisputeReason`` on the disputed invoices and one Activities row per reply. The
workbook is backed up first and saved atomically; every zip member other than the two sheets
(and the tables and styles they need) stays byte-identical.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

from xl_ar.app.refresh import load
from xl_ar.book.append import append_rows
from xl_ar.book.cells import set_sheet_cells
from xl_ar.book.package import WorkbookPackage, check_not_open
from xl_ar.book.reader import read_book
from xl_ar.book.sheetxml import col_index
from xl_ar.core import convert
from xl_ar.core.issues import Issue
from xl_ar.core.memory import collector_paused
from xl_ar.core.money import CURRENCY_EXPONENTS
from xl_ar.documents.confirmations import (CHANNEL, OUTCOMES, YES, ImportSummary, Reply, ReplyError, ReplyFile,
                                           read_reply)


def _money_text(text: str, ccy: str) -> str:
    exp = CURRENCY_EXPONENTS.get(ccy, 2)
    try:
        return f"{Decimal(text):,.{exp}f}"
    except InvalidOperation:
        return text


def _note(reply: ReplyFile, outcome: str, lang: str) -> str:
    """The Activities note: what the customer said, with the statement id (to spot a re-import)."""
    zh = lang == "zh"
    extra = []
    if reply.signer or reply.sign_date:
        extra.append(("签字 " if zh else "signed ") + " ".join(x for x in (reply.signer, reply.sign_date) if x))
    if reply.remarks:
        extra.append(("备注：" if zh else "remarks: ") + reply.remarks)
    tail = ("；" if zh else "; ").join([("对账单 " if zh else "statement ") + reply.statement_id] + extra)
    if outcome == "confirmed":
        bal = ", ".join(f"{c} {_money_text(v, c)}" for c, v in reply.closing.items())
        return f"确认余额 {bal}（{tail}）" if zh else f"confirmed balance {bal} ({tail})"
    if reply.disputed:
        items = [f"{d.doc_no}（{d.reason}）" if zh and d.reason else f"{d.doc_no} ({d.reason})" if d.reason else d.doc_no
                 for d in reply.disputed]
        body = ("；" if zh else "; ").join(items)
    else:
        body = "未确认余额，未标明异议单据" if zh else "balance not confirmed, no line marked"
    return f"有异议：{body}（{tail}）" if zh else f"disputed: {body} ({tail})"


def import_confirmations(book_path: Any, files: Iterable[str | Path], *, today: dt.date | None = None,
                         by: str = "") -> ImportSummary:
    """Import returned statements into the ledger workbook.

    Args:
        book_path: the ledger workbook (.xlsx/.xlsm), or a live-book adapter (``LiveBook``: the
            ribbon's button writes into the book open in Excel, which the user then saves).
        files: the returned statement files.
        today: the date of the Activities rows (default: today).
        by: the Activities "By" (who recorded the reply).

    Returns:
        The :class:`ImportSummary`. A file that cannot be imported is an error issue naming it;
        the others are still imported. Nothing is written when no reply is usable.
    """
    today = today or dt.date.today()
    live = hasattr(book_path, "book") and hasattr(book_path.book, "sheets")
    book = Path(str(book_path.path if live else book_path))
    summary = ImportSummary(str(book))
    with collector_paused():  # the ledger only: the replies, read by openpyxl, leave cycles behind
        if live:
            pkg, data = None, book_path.read()
        else:
            check_not_open(book)
            pkg = WorkbookPackage.open(book).refuse_1904()
            data = read_book(book)
        ledger, settings, _, _ = load(data, None, today)
    lang = settings.language
    inv = ledger.invoices
    by_no = {no: k for k, no in enumerate(inv["invoice_no"].tolist()) if no}
    customers = set(ledger.customers["customer_id"]) | set(inv["customer_id"].to_numpy(dtype=object))
    inv_sheet, inv_cols = ledger.places.get("Invoices", ("Invoices", {}))
    act = data.tables.get("Activities")
    act_layout = data.layouts.get("Activities")
    logged = []  # (note, outcome) of the log's rows: a reply imported twice is logged once
    if act is not None and "note" in act.frame:
        outs = act.frame["outcome"].tolist() if "outcome" in act.frame else [""] * len(act.frame)
        logged = [(convert.parse_text(n), convert.parse_text(o)) for n, o in zip(act.frame["note"].tolist(), outs)]
    inv_writes: dict[str, Any] = {}
    act_rows: list[dict[int, Any]] = []
    done: set[tuple[str, str]] = set()

    for f in files:
        fname = Path(f).name
        try:
            reply = read_reply(f)
        except ReplyError as exc:
            summary.issues.append(Issue(fname, str(exc)))
            continue
        for w in reply.warnings:
            summary.issues.append(Issue(fname, w, "warning"))
        if reply.customer_id not in customers:
            summary.issues.append(Issue(fname, f'customer "{reply.customer_id}" of statement {reply.statement_id} is not on '
                                               "this ledger (a statement of another workbook?); not imported"))
            continue
        bad = [d.doc_no for d in reply.disputed if d.kind != "receipt" and (
            d.doc_no not in by_no or inv["customer_id"].iat[by_no[d.doc_no]] != reply.customer_id
            or inv["currency"].iat[by_no[d.doc_no]] != d.currency)]
        if bad:
            summary.issues.append(Issue(fname, f"{', '.join(bad)} of statement {reply.statement_id} not found on the "
                                               f'Invoices sheet for customer "{reply.customer_id}"; not imported'))
            continue
        if reply.disputed:
            outcome = "disputed"
            if reply.confirmed:
                summary.issues.append(Issue(fname, "marked both confirmed and disputed: recorded as disputed", "warning"))
        elif reply.confirmed is True:
            outcome = "confirmed"
        elif reply.confirmed is False:
            outcome = "disputed"
        else:
            summary.issues.append(Issue(fname, f"statement {reply.statement_id} is neither confirmed nor disputed; "
                                               "nothing recorded", "warning"))
            continue
        word = OUTCOMES[lang][outcome]
        if (reply.statement_id, outcome) in done or any(reply.statement_id in n and o in (word, "") for n, o in logged):
            summary.issues.append(Issue(fname, f"statement {reply.statement_id} ({outcome}) was already imported; "
                                               "skipped", "warning"))
            continue
        done.add((reply.statement_id, outcome))
        note = _note(reply, outcome, lang)
        invoices = [d for d in reply.disputed if d.kind != "receipt"]
        if invoices and "disputed" not in inv_cols:
            summary.issues.append(Issue(inv_sheet, "has no Disputed column (争议): disputes are logged in Activities "
                                                   "only; add the column to flag the invoices", "warning"))
        elif invoices:
            for d in invoices:
                row = int(inv["row"].iat[by_no[d.doc_no]])
                inv_writes[f"{inv_cols['disputed']}{row}"] = YES[lang]
                if "dispute_reason" in inv_cols:
                    old = convert.parse_text(inv["dispute_reason"].iat[by_no[d.doc_no]])
                    reason = d.reason or old or (f"见对账单 {reply.statement_id}" if lang == "zh"
                                                 else f"see statement {reply.statement_id}")
                    inv_writes[f"{inv_cols['dispute_reason']}{row}"] = reason
        row_no = None
        if act is None or not act.columns:
            summary.issues.append(Issue("Activities", "no Activities sheet with a header: the reply is not logged",
                                        "warning"))
        else:
            values = {"date": today, "customer_id": reply.customer_id,
                      "invoice_no": invoices[0].doc_no if len(invoices) == 1 else "", "channel": CHANNEL,
                      "by": by, "note": note, "outcome": word}
            act_rows.append({col_index(act.columns[k]): v for k, v in values.items() if k in act.columns and v != ""})
            row_no = act_layout.last_row + len(act_rows)
        summary.replies.append(Reply(fname, reply.statement_id, reply.customer_id, outcome,
                                     tuple(d.doc_no for d in reply.disputed), row_no))

    if not inv_writes and not act_rows:
        return summary
    if live:
        _write_live(book_path.book, inv_sheet, inv_writes, act_layout, act_rows)
        summary.written = True
        return summary
    if inv_writes:
        set_sheet_cells(pkg, inv_sheet, inv_writes, header_row=data.layouts["Invoices"].header_row)
    if act_rows:
        styles = {}
        if "date" in act.columns:  # a date needs a date format to show as one
            styles[col_index(act.columns["date"])] = pkg.cell_style("yyyy-mm-dd")
        append_rows(pkg, act_layout.name, act_rows, header_row=act_layout.header_row, styles=styles)
    summary.backup = pkg.save_changes()
    summary.written = summary.backup is not None
    return summary


def _write_live(xbook: Any, inv_sheet: str, inv_writes: dict[str, Any], act_layout: Any,
                act_rows: list[dict[int, Any]]) -> None:
    """Write the import into a book open in Excel: the dispute cells, then the log rows below the
    Activities sheet's last row (the user saves the book, as after a refresh)."""
    if inv_writes:
        sheet = xbook.sheets[inv_sheet]
        for address, value in inv_writes.items():
            sheet.range(address).value = value
    if act_rows:
        sheet = xbook.sheets[act_layout.name]
        width = max(max(r) for r in act_rows)
        grid = [[r.get(c) for c in range(1, width + 1)] for r in act_rows]
        first = act_layout.last_row + 1
        sheet.range((first, 1)).value = grid
        for r, row in enumerate(act_rows):
            for c, v in row.items():
                if isinstance(v, dt.date):
                    sheet.range((first + r, c)).number_format = "yyyy-mm-dd"
