"""``xl-ar statements`` and ``xl-ar import-confirmations``, and the run behind them.

:func:`run_statements` is what the CLI and the ribbon's Statements button both call: it reads
the ledger through any book adapter (``FileBook`` or the live-book adapter: it only reads),
validates it, builds the statements and writes one .xlsx and one .pdf per customer into a
folder. ``xl_ar.cli`` adds the subcommands with one call to :func:`register`; each subparser
sets ``handler``, a function of the parsed arguments returning the exit code (the convention
of ``xl_ar.docs.cli``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from xl_ar.book.package import BookError
from xl_ar.cli_args import EXIT_ISSUES, EXIT_OK, EXIT_USAGE, console_for, date_arg, esc, print_issues
from xl_ar.core.issues import Issue, has_errors
from xl_ar.docs.statements import Statement, build_statements, file_stem, fmt_money, write_statement_xlsx
from xl_ar.jobs import Progress, quiet

FORMATS = ("xlsx", "pdf")
@dataclass
class StatementsReport:
    """What a statements run found and wrote."""

    book: str
    period_from: dt.date
    period_to: dt.date
    out_dir: Path | None = None
    issues: list[Issue] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not has_errors(self.issues)

    def as_json(self) -> dict[str, Any]:
        return {
            "book": self.book, "from": self.period_from.isoformat(), "to": self.period_to.isoformat(),
            "out": str(self.out_dir) if self.out_dir else None,
            "statements": [{
                "statement_id": s.statement_id, "customer_id": s.customer_id, "name": s.customer_name,
                "sections": [{"currency": x.currency, "opening": fmt_money(x.opening_minor, x.exp).replace(",", ""),
                              "closing": fmt_money(x.closing_minor, x.exp).replace(",", ""), "lines": len(x.lines),
                              "ties": x.ties} for x in s.sections]} for s in self.statements],
            "files": [str(f) for f in self.files],
            "issues": [i.as_dict() for i in self.issues],
        }


class BookFile:
    """A read-only file adapter: statements only read the book, so it may be open in Excel."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self):
        """The book's raw tables (the package is checked for zip and XML bombs first)."""
        from xl_ar.book.package import WorkbookPackage
        from xl_ar.book.reader import read_book

        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} does not exist")
        WorkbookPackage.open(self.path)
        return read_book(self.path)


def default_out_dir(book: str | Path, period_to: dt.date) -> Path:
    """Where statements go by default: a folder beside the book, named after the period's end."""
    return Path(book).resolve().parent / f"statements-{period_to:%Y%m%d}"


def last_month(today: dt.date) -> tuple[dt.date, dt.date]:
    """The calendar month before ``today``'s: the usual period of a monthly statement run."""
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


def run_statements(
    adapter,
    period_from: dt.date,
    period_to: dt.date,
    *,
    customers: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    formats: Sequence[str] = FORMATS,
    lang: str | None = None,
    today: dt.date | None = None,
    progress: Progress = quiet,
) -> StatementsReport:
    """Read the ledger, build the period's statements and write them as files.

    Args:
        adapter: a book adapter with ``read() -> BookData`` and ``path``.
        period_from, period_to: the period (inclusive); the aging is at ``period_to``.
        customers: only these customer ids (default: every customer with something to state).
        out_dir: the folder (default :func:`default_out_dir`); created when missing.
        formats: "xlsx" and/or "pdf".
        lang: "zh" or "en" (default: each customer's Language, else the book's).
        today: today's date (only used when the Settings sheet has no as-of date).
        progress: called with (stage, fraction done).

    Returns:
        The :class:`StatementsReport`. Nothing is written when the ledger has errors.
    """
    from xl_ar.jobs import load

    report = StatementsReport(str(getattr(adapter, "path", "")), period_from, period_to)
    if period_from > period_to:
        report.issues.append(Issue("--from", f"the period ends ({period_to}) before it starts ({period_from})"))
        return report
    progress("read", 0.0)
    data = adapter.read()
    progress("validate", 0.2)
    ledger, settings, _, issues = load(data, period_to, today or dt.date.today())
    report.issues = list(issues)
    known = set(ledger.customers["customer_id"]) | set(ledger.invoices["customer_id"]) | set(ledger.receipts["customer_id"])
    for c in customers or ():
        if c not in known:
            report.issues.append(Issue("--customer", f'customer "{c}" is not on the ledger'))
    if has_errors(report.issues):
        return report
    progress("compute", 0.4)
    report.statements = build_statements(ledger, settings, period_from, period_to, customers=customers, lang=lang,
                                         include_quiet=customers is not None)
    out = Path(out_dir) if out_dir else default_out_dir(report.book or ".", period_to)
    out.mkdir(parents=True, exist_ok=True)
    report.out_dir = out
    n = max(len(report.statements), 1)
    for k, st in enumerate(report.statements):
        progress("write", 0.5 + 0.5 * k / n)
        if "xlsx" in formats:
            report.files.append(write_statement_xlsx(st, out / f"{file_stem(st)}.xlsx", lang))
        if "pdf" in formats:
            from xl_ar.docs.pdf import PdfError, write_statement_pdf

            try:
                report.files.append(write_statement_pdf(st, out / f"{file_stem(st)}.pdf", lang))
            except PdfError as exc:
                report.issues.append(Issue("PDF", str(exc)))
                formats = [f for f in formats if f != "pdf"]  # the same error for every customer: say it once
    progress("done", 1.0)
    return report


# ----------------------------------------------------------------------------- the CLI


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
    s.add_argument("--format", choices=("both", *FORMATS), default="both", help="file formats (default both)")
    s.add_argument("--lang", choices=("zh", "en"), help="language (default: the customer's, else the book's)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
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
    console = console_for(args)
    formats = FORMATS if args.format == "both" else (args.format,)
    try:
        report = run_statements(BookFile(args.book), args.period_from, args.period_to, customers=args.customer,
                                out_dir=args.out, formats=formats, lang=args.lang)
    except (BookError, FileNotFoundError, PermissionError, ValueError) as exc:
        console.print(f"[red]error:[/] {esc(exc)}", highlight=False)
        return EXIT_USAGE
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
    from xl_ar.docs.confirmations import import_confirmations

    console = console_for(args)
    try:
        summary = import_confirmations(args.book, args.files, today=args.date, by=args.by)
    except (BookError, FileNotFoundError, PermissionError) as exc:
        console.print(f"[red]error:[/] {esc(exc)}", highlight=False)
        return EXIT_USAGE
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
