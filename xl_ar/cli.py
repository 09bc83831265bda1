"""The ``xl-ar`` command: the same runs as the ribbon buttons, without Excel."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from xl_ar import __version__
from xl_ar.book.package import BookError
from xl_ar.cli_args import EXIT_ISSUES, EXIT_OK, EXIT_USAGE, date_arg, esc, print_issues
from xl_ar.core.money import to_major
from xl_ar.core.numerics import strict_numerics



def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="xl-ar",
        description="Receivables collection for ledgers kept in Excel: aging, late fees, "
        "credit and collection runs on the workbook itself (应收账款账龄、滞纳金与催收).",
    )
    p.add_argument("--version", action="version", version=f"xl-ar {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("new", help="create an empty ledger workbook", description=
                       "Create an empty ledger workbook: Settings, Customers, Invoices, Receipts and "
                       "Activities sheets as Excel Tables, with date and money formats and drop-downs.")
    s.add_argument("path", type=Path, help="the .xlsx file to create")
    s.add_argument("--lang", choices=("zh", "en"), default="zh", help="sheet names and headers (default zh)")
    s.add_argument("--force", action="store_true", help="overwrite an existing file")

    for name, help_, desc in (
        ("check", "validate a ledger workbook (writes nothing)",
         "Validate the ledger: every problem is listed with its sheet, row and column. "
         "Exit code 1 when there are errors."),
        ("refresh", "refresh aging and late fees in the workbook",
         "Allocate receipts, age open items, compute late fees and write the computed columns "
         "on Invoices and the Aging sheet back into the workbook (backed up first; every other "
         "part of the file stays byte-identical)."),
    ):
        s = sub.add_parser(name, help=help_, description=desc)
        s.add_argument("book", type=Path, help="the ledger workbook (.xlsx or .xlsm)")
        s.add_argument("--as-of", type=date_arg, help="as-of date (default: the Settings sheet's AsOfDate, else today)")
        s.add_argument("--json", action="store_true", help="print one JSON object instead of tables")

    # Documents that go out: each module registers its own subcommands with a handler.
    from xl_ar import plans_cli
    from xl_ar.docs import cli as docs_cli
    from xl_ar.docs import statements_cli

    plans_cli.register(sub)
    docs_cli.register(sub)
    statements_cli.register(sub)

    s = sub.add_parser("build-template", help="build workbook/AR_Template.xlsm (ribbon, UDFs, ledger sheets)",
                       description="Assemble the macro workbook from the sheet definitions and the VBA and "
                       "ribbon sources in macros/: deterministic, two builds are byte-identical.")
    s.add_argument("--out", type=Path, default=None, help="output path (default workbook/AR_Template.xlsm)")

    s = sub.add_parser("demo", help="build the sample ledger, refresh it and summarise",
                       description="Build a realistic sample ledger (a few hundred customers, a few thousand "
                       "invoices over two years), refresh it and print a summary.")
    s.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder (default demo-out)")
    s.add_argument("--lang", choices=("zh", "en"), default="zh")
    s.add_argument("--customers", type=int, default=300)
    return p


def _progress(console: Console):
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=not console.is_terminal)


def run_file(book: Path, as_of, write: bool, console: Console):
    """The refresh (or, with ``write`` False, the check) of a workbook file, with a progress bar."""
    from xl_ar.book.filebook import FileBook
    from xl_ar.jobs import run_refresh

    with _progress(console) as bar:
        task = bar.add_task("reading", total=1.0)

        def progress(stage: str, fraction: float) -> None:
            bar.update(task, description=stage, completed=fraction)

        return run_refresh(FileBook(book), as_of=as_of, write=write, progress=progress)


#: Issues printed before "and N more" (all of them are in --json).
MAX_PRINTED_ISSUES = 50


def print_report(report, console: Console) -> None:
    """Issues (errors first), the aging and tie-out per currency, and the key figures."""
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
                      f"DSO {days(k.dso_simple)} days (countback {days(k.dso_countback)}); "
                      f"promises kept {pct(k.promises_kept)}; stages: "
                      + ", ".join(f"{n} {stage}" for stage, n in k.stages.items()), highlight=False)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(stderr=getattr(args, "json", False))
    with strict_numerics():
        return _dispatch(args, console)


def _dispatch(args: argparse.Namespace, console: Console) -> int:
    try:
        if hasattr(args, "handler"):
            return args.handler(args)
        if args.command == "new":
            from xl_ar.book.newbook import create_ledger

            path = create_ledger(args.path, args.lang, overwrite=args.force)
            console.print(f"created {esc(path)}", highlight=False)
            return EXIT_OK
        if args.command in ("check", "refresh"):
            report = run_file(args.book, args.as_of, args.command == "refresh", console)
            if args.json:
                print(json.dumps(report.as_json(), ensure_ascii=False))
            else:
                print_report(report, console)
                if report.written:
                    console.print(f"[green]written[/] {esc(args.book)}" + (f" (backup {esc(report.backup)})" if report.backup else ""), highlight=False)
                elif report.ok and args.command == "refresh":
                    console.print(f"unchanged: {esc(args.book)} is already up to date for {report.as_of:%Y-%m-%d}")
                elif not report.ok:
                    console.print("[red]nothing written:[/] fix the errors above and run again")
            return EXIT_OK if report.ok else EXIT_ISSUES
        if args.command == "build-template":
            from xl_ar.template.build import main as build_main

            return build_main(["--out", str(args.out)] if args.out else [])
        if args.command == "demo":
            from xl_ar.demo import run_demo

            return run_demo(args.out, args.lang, args.customers, console)
    except (BookError, FileExistsError, FileNotFoundError, PermissionError) as exc:
        console.print(f"[red]error:[/] {esc(exc)}", highlight=False)
        return EXIT_USAGE
    except (OverflowError, FloatingPointError) as exc:
        console.print(f"[red]error:[/] a figure is too large to compute ({esc(exc)}); nothing was written", highlight=False)
        return EXIT_USAGE
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
