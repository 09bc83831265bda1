"""``xl-ar statements`` and ``xl-ar import-confirmations``."""

from __future__ import annotations

import json
from pathlib import Path

from xl_ar.book.errors import BookError
from xl_ar.cli.common import (EXIT_ISSUES, EXIT_OK, add_quiet, console_for, date_arg, esc, fail, print_issues,
                              progress_bar)


def register(subparsers) -> None:
    """Add ``statements`` and ``import-confirmations`` to the ``xl-ar`` command.

    Args:
        subparsers: the object ``ArgumentParser.add_subparsers()`` returned. Each new subparser
            sets ``handler``: call ``args.handler(args)`` to get the exit code.
    """
    s = subparsers.add_parser(
        "statements", help="write reconciliation statements (对账单), .xlsx and .pdf per customer",
        description="Per customer and currency: opening balance, every invoice, credit note and receipt of the "
        "period with a running balance, the closing balance (tied to the ledger) and its aging, and a "
        "confirmation block the customer signs and returns. Reads the book, writes nothing into it.")
    s.add_argument("book", type=Path, help="the ledger workbook (.xlsx or .xlsm)")
    s.add_argument("--from", dest="period_from", type=date_arg, required=True, help="first day of the period")
    s.add_argument("--to", dest="period_to", type=date_arg, required=True, help="last day of the period")
    s.add_argument("--customer", action="append", metavar="ID", help="only this customer (repeatable)")
    s.add_argument("--out", type=Path, help="output folder (default: statements-YYYYMMDD beside the book)")
    s.add_argument("--format", choices=("both", "xlsx", "pdf"), default="both", help="file formats (default both)")
    s.add_argument("--lang", choices=("zh", "en"), help="language (default: the customer's, else the book's)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    add_quiet(s)
    s.set_defaults(handler=_statements_main)

    s = subparsers.add_parser(
        "import-confirmations", help="import returned statements: confirmations and disputes",
        description="Read returned statement files: a confirmed one is logged in Activities; disputed lines "
        "set Disputed and DisputeReason on Invoices and are logged too. The book is backed up first; every "
        "other part of it stays byte-identical.")
    s.add_argument("book", type=Path, help="the ledger workbook (.xlsx or .xlsm)")
    s.add_argument("files", type=Path, nargs="+", help="returned statement files (.xlsx)")
    s.add_argument("--date", type=date_arg, help="date of the Activities rows (default today)")
    s.add_argument("--by", default="", help="who records the replies (the Activities By column)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(handler=_import_main)


def _statements_main(args) -> int:
    from xl_ar.app.statements import FORMATS, BookFile, run_statements
    from xl_ar.documents.statements import fmt_money

    console = console_for(args)
    formats = FORMATS if args.format == "both" else (args.format,)
    try:
        with progress_bar(console) as progress:
            report = run_statements(BookFile(args.book), args.period_from, args.period_to, customers=args.customer,
                                    out_dir=args.out, formats=formats, lang=args.lang, progress=progress)
    except (BookError, FileNotFoundError, PermissionError, ValueError) as exc:
        return fail(console, exc)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        print_issues(report.issues, console)
        for st in report.statements:
            balances = ", ".join(f"{x.currency} {fmt_money(x.closing_minor, x.exp)}" for x in st.sections)
            console.print(esc(f"{st.statement_id}  {st.customer_name}  {balances}"), highlight=False)
        if report.out_dir is not None:
            console.print(f"[green]written[/] {len(report.files)} file(s) to {esc(report.out_dir)}", highlight=False)
        elif not report.ok:
            console.print("[red]nothing written:[/] fix the errors above and run again")
    return EXIT_OK if report.ok else EXIT_ISSUES


def _import_main(args) -> int:
    from xl_ar.app.confirmations import import_confirmations

    console = console_for(args)
    try:
        summary = import_confirmations(args.book, args.files, today=args.date, by=args.by)
    except (BookError, FileNotFoundError, PermissionError) as exc:
        return fail(console, exc)
    if args.json:
        print(json.dumps(summary.as_json(), ensure_ascii=False))
    else:
        print_issues(summary.issues, console)
        for r in summary.replies:
            what = r.outcome + (f": {', '.join(r.disputed)}" if r.disputed else "")
            console.print(esc(f"{r.file}  {r.statement_id}  {what}"), highlight=False)
        if summary.written:
            console.print(f"[green]written[/] {esc(summary.book)} (backup {esc(summary.backup)})", highlight=False)
        else:
            console.print("nothing written")
    return EXIT_OK if summary.ok else EXIT_ISSUES
