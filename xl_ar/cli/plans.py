"""``xl-ar plan`` and ``xl-ar instalments``: payment plans written into the ledger.

- ``plan``: a contract's milestone terms (``30%@0,60%@acceptance+30,10%@365``) become invoice
  rows on the Invoices sheet, amounts summing exactly to the contract amount.
- ``instalments``: a negotiated instalment plan for an overdue debt is recorded on the
  collection log (Activities) as an agreement plus one promise per instalment, which the
  stages then track like any promise.

Without ``--write`` both print what they would add. With it the rows are appended below the
sheet's table, the book backed up first and saved atomically, every other part untouched.
"""

from __future__ import annotations

import argparse
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from rich.console import Console

from xl_ar.cli.common import EXIT_ISSUES, EXIT_OK, date_arg, esc, fail


def _amount(text: str) -> Decimal:
    from xl_ar.core.convert import parse_amount  # imported when used: `xl-ar --help` stays fast

    try:
        x = parse_amount(text)
    except ValueError:
        x = None
    if x is None or x <= 0:
        raise argparse.ArgumentTypeError(f'"{text}" is not a positive amount')
    return Decimal(repr(x))


def register(sub) -> None:
    """Add ``plan`` and ``instalments`` to the ``xl-ar`` command (each sets ``handler``)."""
    s = sub.add_parser("plan", help="turn a contract's payment terms into invoice rows",
                       description="Split a contract amount by milestone terms, e.g. "
                       "\"30%@0,60%@acceptance+30,10%@365\" (share @ days after the start, or after a named "
                       "event: acceptance/验收, delivery/交付, warranty/质保), into invoice rows whose amounts sum "
                       "exactly to the total. Prints them; --write appends them to the Invoices sheet.")
    s.add_argument("book", type=Path, help="the ledger workbook (.xlsx or .xlsm)")
    s.add_argument("--customer", required=True, help="the CustomerID (must be in the workbook)")
    s.add_argument("--contract", required=True, help="contract number; invoices are numbered CONTRACT-1, -2, ...")
    s.add_argument("--amount", type=_amount, required=True, help="the contract amount")
    s.add_argument("--terms", required=True, help='payment terms, e.g. "30%%@0,60%%@acceptance+30,10%%@365"')
    s.add_argument("--start", type=date_arg, required=True, help="contract start date")
    s.add_argument("--events", default="", help='event dates, e.g. "acceptance=2025-03-31; 质保=2026-03-31"')
    s.add_argument("--currency", default="CNY", help="currency of the amount (default CNY)")
    s.add_argument("--due-days", type=int, default=0, help="days from each milestone's invoice to its due date")
    s.add_argument("--write", action="store_true", help="append the rows to the workbook")
    s.set_defaults(handler=_plan_main)

    s = sub.add_parser("instalments", help="record an instalment agreement for an overdue debt",
                       description="Agree to repay an overdue amount in instalments with interest (default 1% of "
                       "the outstanding balance per instalment). Prints the "
                       "schedule; --write records the agreement and one promise per instalment on Activities, "
                       "so each instalment is then tracked like a promise to pay.")
    s.add_argument("book", type=Path, help="the ledger workbook (.xlsx or .xlsm)")
    s.add_argument("--customer", required=True, help="the CustomerID (must be in the workbook)")
    s.add_argument("--invoice", default="", help="the invoice rescheduled, one of the customer's (blank: the customer's overdue invoices)")
    s.add_argument("--amount", type=_amount, required=True, help="the principal to repay")
    s.add_argument("--count", type=int, default=3, help="number of instalments (default 3)")
    s.add_argument("--interval", type=int, default=30, help="days between instalments (default 30)")
    s.add_argument("--first", type=date_arg, required=True, help="date of the first instalment")
    s.add_argument("--rate", default="0.01", help="interest per instalment (default 0.01)")
    s.add_argument("--agreed-on", type=date_arg, default=None, help="date of the agreement (default today)")
    s.add_argument("--by", default="", help="who agreed it")
    s.add_argument("--currency", default="CNY", help="currency of the amount (default CNY)")
    s.add_argument("--write", action="store_true", help="append the rows to the workbook")
    s.set_defaults(handler=_instalments_main)


def _append(book: Path, table: str, rows: Sequence[dict[str, Any]], console: Console) -> int:
    from xl_ar.app.plans import PlanError, append_ledger_rows

    try:
        sheet, backup = append_ledger_rows(book, table, rows)
    except PlanError as exc:
        return fail(console, exc)
    console.print(f"[green]written[/] {len(rows)} row(s) to {esc(sheet)} (backup {esc(backup)})", highlight=False)
    return EXIT_OK


def _show(rows: Sequence[dict[str, Any]], fields: Sequence[str], title: str, console: Console) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for f in fields:
        table.add_column(f, justify="right" if "amount" in f else "left", no_wrap=f != "note")
    for r in rows:
        table.add_row(*["" if r.get(f) in (None, "") else esc(r[f]) for f in fields])
    console.print(table)


def _target_language(args, console: Console) -> tuple[str | None, int]:
    """(the book's language, EXIT_OK), or (None, exit code) after saying why not: the customer
    or invoice is not in the book (1), or the workbook cannot be used (2)."""
    from xl_ar.app.plans import PlanError, check_plan_target
    from xl_ar.book.errors import BookError

    try:
        return check_plan_target(args.book, args.customer, getattr(args, "invoice", "")), EXIT_OK
    except PlanError as exc:
        console.print(f"[red]error:[/] {esc(exc)}; nothing written", highlight=False)
        return None, EXIT_ISSUES
    except BookError as exc:
        return None, fail(console, exc)


def _plan_main(args) -> int:
    from rich.console import Console

    from xl_ar.core.money import CURRENCY_EXPONENTS, to_minor
    from xl_ar.core.plans import events_from_text, milestone_invoices

    console = Console()
    exp = CURRENCY_EXPONENTS.get(args.currency.upper(), 2)
    lang, code = _target_language(args, console)
    if lang is None:
        return code
    try:
        events = events_from_text(args.events) if args.events.strip() else None
        rows = milestone_invoices(args.contract, args.customer, to_minor(args.amount, exp), args.terms, args.start,
                                  events, exp=exp, terms_days=args.due_days)
    except ValueError as exc:
        console.print(f"[red]error:[/] {esc(exc)}", highlight=False)
        return EXIT_ISSUES
    for r in rows:
        r["currency"] = args.currency.upper()
    _show(rows, ["invoice_no", "invoice_date", "due_date", "amount", "description"], f"{args.contract}: {args.terms}", console)
    return _append(args.book, "Invoices", rows, console) if args.write else EXIT_OK


def _instalments_main(args) -> int:
    from rich.console import Console

    from xl_ar.core.money import CURRENCY_EXPONENTS, to_minor
    from xl_ar.core.plans import instalment_plan, plan_activities

    console = Console()
    exp = CURRENCY_EXPONENTS.get(args.currency.upper(), 2)
    lang, code = _target_language(args, console)
    if lang is None:
        return code
    try:
        plan = instalment_plan(to_minor(args.amount, exp), args.count, args.interval, args.first, args.rate)
    except ValueError as exc:
        console.print(f"[red]error:[/] {esc(exc)}", highlight=False)
        return EXIT_ISSUES
    rows = plan_activities(args.customer, args.invoice, plan, args.agreed_on or dt.date.today(), args.by, lang=lang,
                           exp=exp)
    _show(rows, ["promise_date", "promise_amount", "note"],
          f"{args.customer}: {args.count} instalments", console)
    return _append(args.book, "Activities", rows, console) if args.write else EXIT_OK
