"""``xl-ar new``, ``check``, ``refresh`` and ``demo``: the ledger itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xl_ar.book.errors import BookError
from xl_ar.cli.common import (EXIT_ISSUES, EXIT_OK, MAX_PRINTED_ISSUES, add_quiet, console_for, date_arg, fail,
                              print_issues, progress_bar)


def register(sub: Any) -> None:
    """Add ``new``, ``check``, ``refresh`` and ``demo`` to the ``xl-ar`` command."""
    s = sub.add_parser("new", help="create an empty ledger workbook", description=
                       "Create an empty ledger workbook: Settings (every setting with its default), Customers, "
                       "Invoices, Receipts, Activities and Stages (the collection rules) sheets as Excel Tables, "
                       "with date and money formats and drop-downs.")
    s.add_argument("path", type=Path, help="the .xlsx file to create")
    s.add_argument("--lang", choices=("zh", "en"), default="zh", help="sheet names and headers (default zh)")
    s.add_argument("--force", action="store_true", help="overwrite an existing file")
    s.set_defaults(handler=_new)

    for name, help_, desc in (
        ("check", "validate a ledger workbook (writes nothing)",
         "Validate the ledger: every problem is listed with its sheet, row and column. "
         "Exit code 1 when there are errors."),
        ("refresh", "refresh aging, late fees, credit, stages and the report sheets in the workbook",
         "Allocate receipts, age open items, compute late fees, credit and collection stages, and write "
         "the computed columns on Invoices and Customers and the Aging, Collections, Warnings and "
         "Dashboard sheets back into the workbook (backed up first; every other part of the file "
         "stays byte-identical)."),
    ):
        s = sub.add_parser(name, help=help_, description=desc)
        s.add_argument("book", type=Path, help="the ledger workbook (.xlsx or .xlsm)")
        s.add_argument("--as-of", type=date_arg, help="as-of date (default: the Settings sheet's AsOfDate, else today)")
        s.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
        add_quiet(s)
        s.set_defaults(handler=_check_or_refresh)

    s = sub.add_parser("demo", help="build the sample ledger, refresh it and summarise",
                       description="Build a realistic sample ledger (a few hundred customers, a few thousand "
                       "invoices over two years), refresh it, write its reminders and statements, and print a "
                       "summary.")
    s.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder (default demo-out)")
    s.add_argument("--lang", choices=("zh", "en"), default="zh")
    s.add_argument("--customers", type=int, default=300)
    add_quiet(s)
    s.set_defaults(handler=_demo)


def refresh_file(book: Path, as_of, write: bool, console: Any):
    """The refresh (or, with ``write`` False, the check) of a workbook file, with a progress bar."""
    from xl_ar.app.refresh import run_refresh
    from xl_ar.book.filebook import FileBook

    with progress_bar(console) as progress:
        return run_refresh(FileBook(book), as_of=as_of, write=write, progress=progress)


def print_report(report, console: Any) -> None:
    """Issues (errors first), the aging and tie-out per currency, and the key figures."""
    from rich.table import Table

    from xl_ar.core.money import to_major

    ordered = sorted(report.issues, key=lambda i: i.severity != "error")
    print_issues(ordered[:MAX_PRINTED_ISSUES], console)
    if len(ordered) > MAX_PRINTED_ISSUES:
        console.print(f"... and {len(ordered) - MAX_PRINTED_ISSUES} more (--json lists them all)")
    if report.result is None:
        return
    res = report.result
    for ccy, t in res.tieouts.items():
        table = Table(title=f"Aging {ccy} as of {res.as_of:%Y-%m-%d}", title_justify="left")
        table.add_column("bucket")
        table.add_column(ccy, justify="right", no_wrap=True)
        for label, v in zip(res.labels, t.buckets):
            table.add_row(label, f"{to_major(v, t.exp):,}")
        table.add_row("open", f"{to_major(t.open, t.exp):,}", style="bold")
        console.print(table)
        sign = "=" if t.holds else "≠"
        console.print(
            f"tie-out: invoices {to_major(t.invoiced, t.exp):,} − credit notes {to_major(t.credit_applied, t.exp):,}"
            f" − receipts {to_major(t.received_applied, t.exp):,} = open {to_major(t.open, t.exp):,} {sign} sum of buckets;"
            f" unapplied cash {to_major(t.unapplied_cash, t.exp):,}, unapplied credit {to_major(t.unapplied_credit, t.exp):,};"
            f" late fees {to_major(t.late_fees, t.exp):,}", highlight=False)
    k = res.kpis
    if k is not None:
        pct = lambda x: "-" if x is None else f"{x:.1%}"  # noqa: E731
        days = lambda x: "-" if x is None else f"{x:.1f}"  # noqa: E731
        console.print(f"overdue ratio {pct(k.overdue_ratio)} (target under {k.overdue_target:.0%}); "
                      f"DSO {days(k.dso_simple)} days (countback {days(k.dso_countback)}); CEI {pct(k.cei)}; "
                      f"promises kept {pct(k.promises_kept)}; stages: "
                      + ", ".join(f"{n} {stage}" for stage, n in k.stages.items()), highlight=False)


def _new(args) -> int:
    from xl_ar.book.newbook import create_ledger

    console = console_for(args)
    path = create_ledger(args.path, args.lang, overwrite=args.force)
    console.print(f"created {path}", highlight=False)
    return EXIT_OK


def _check_or_refresh(args) -> int:
    from rich.markup import escape

    console = console_for(args)
    try:
        report = refresh_file(args.book, args.as_of, args.command == "refresh", console)
    except BookError as exc:
        return fail(console, exc)
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        print_report(report, console)
        book = escape(str(args.book))
        if report.written:
            console.print(f"[green]written[/] {book}" + (f" (backup {escape(str(report.backup))})" if report.backup else ""))
        elif report.ok and args.command == "refresh":
            console.print(f"unchanged: {book} is already up to date for {report.as_of:%Y-%m-%d}")
        elif not report.ok:
            console.print("[red]nothing written:[/] fix the errors above and run again")
    return EXIT_OK if report.ok else EXIT_ISSUES


def _demo(args) -> int:
    from xl_ar.app.demo import run_demo

    console = console_for(args)
    try:
        with progress_bar(console) as progress:
            result = run_demo(args.out, args.lang, args.customers, progress=progress)
    except BookError as exc:
        return fail(console, exc)
    for step in result.steps:
        if step.report is not None:
            print_report(step.report, console)
        for line in step.lines:
            console.print(line, highlight=False, markup=False)
    return EXIT_OK if result.ok else EXIT_ISSUES
