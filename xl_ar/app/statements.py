"""The statements run: what ``xl-ar statements`` and the ribbon's Statements button both call.

:func:`run_statements` reads the ledger through any book adapter (``FileBook`` or the
live-book adapter: it only reads), validates it, builds the statements and writes one .xlsx
and one .pdf per customer into a folder.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from xl_ar.core.issues import Issue, has_errors
from xl_ar.core.memory import collector_paused
from xl_ar.documents import numerals
from xl_ar.documents.bulk import in_order
from xl_ar.documents.statement_xlsx import write_statement_xlsx
from xl_ar.documents.statements import Statement, build_statements, customer_stems, file_stem, fmt_money
from xl_ar.core.progress import Progress, Step, quiet

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

    def read(self, progress=None):
        """The book's raw tables (the package is checked for zip and XML bombs first);
        ``progress``: a ``Step`` told how far the reading is."""
        from xl_ar.book.package import WorkbookPackage
        from xl_ar.book.reader import read_book

        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} does not exist")
        WorkbookPackage.open(self.path)
        return read_book(self.path, progress)


def default_out_dir(book: str | Path, period_to: dt.date) -> Path:
    """Where statements go by default: a folder beside the book, named after the period's end."""
    return Path(book).resolve().parent / f"statements-{period_to:%Y%m%d}"


def last_month(today: dt.date) -> tuple[dt.date, dt.date]:
    """The calendar month before ``today``'s: the usual period of a monthly statement run."""
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


@collector_paused()
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
    from xl_ar.app.refresh import load

    report = StatementsReport(str(getattr(adapter, "path", "")), period_from, period_to)
    if period_from > period_to:
        report.issues.append(Issue("--from", f"the period ends ({period_to}) before it starts ({period_from})"))
        return report
    step = Step(progress, "read", 0.0, 0.2).begin()
    data = adapter.read(progress=step)
    step = step.then("validate", 0.2, 0.4).begin()
    ledger, settings, _, issues = load(data, period_to, today or dt.date.today(), progress=step)
    report.issues = list(issues)
    known = set().union(*(frame["customer_id"].to_numpy(dtype=object)  # (a str column, value by value: slower)
                          for frame in (ledger.customers, ledger.invoices, ledger.receipts)))
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
    for files, failed in _write_files(report.statements, out, formats, lang, progress):
        report.files += files
        if failed and not any(i.where == "PDF" for i in report.issues):  # said once
            report.issues.append(Issue("PDF", failed))
    progress("done", 1.0)
    return report


def _write_files(statements: Sequence[Statement], out: Path, formats: Sequence[str], lang: str | None,
                 progress: Progress) -> list[tuple[list[Path], str | None]]:
    """Each statement's files (its .xlsx, then its PDF) and why its PDF could not be made.

    The workbooks are made first, the PDFs after them: the PDFs are drawn from one font cut to
    the characters of every statement (:class:`~xl_ar.documents.fonts.BatchFonts`), which this
    process makes while the workers make the workbooks (about a second at 2,500 statements)."""
    from xl_ar.documents.pdf import PdfError, write_statement_pdf

    n = len(statements)
    kinds = ([("xlsx", k) for k in range(n)] if "xlsx" in formats else []) + \
            ([("pdf", k) for k in range(n)] if "pdf" in formats else [])
    batch = None
    if "pdf" in formats and statements:
        from xl_ar.documents.fonts import BatchFonts

        progress("fonts", 0.5)
        batch = BatchFonts(statements, lang, deferred=True)
    pdf_failed: list[str] = []  # this process's first PDF failure: the same for every statement
    stems = customer_stems(statements)

    def make(j: int) -> tuple[Path | None, str | None]:
        """Job ``j``'s file, or why its PDF could not be made."""
        kind, k = kinds[j]
        st = statements[k]
        path = out / f"{file_stem(st, stems[k])}.{kind}"
        if kind == "xlsx":
            return write_statement_xlsx(st, path, lang), None
        if pdf_failed:
            return None, None
        try:
            return write_statement_pdf(st, path, lang, batch=batch), None
        except PdfError as exc:
            pdf_failed.append(str(exc))
            return None, str(exc)

    def done(count: int) -> None:
        progress("write", 0.5 + 0.5 * count / max(len(kinds), 1))

    numerals.prepare(lang or st.lang for st in statements)
    first_pdf = len(kinds) - (n if "pdf" in formats else 0)
    files: list[tuple[list[Path], str | None]] = [([], None) for _ in statements]
    try:
        for j, (path, failed) in enumerate(in_order(make, len(kinds), done, later=range(first_pdf, len(kinds)),
                                                    meanwhile=batch.cut if batch is not None else None)):
            k = kinds[j][1]
            made, why = files[k]
            files[k] = (made + [path] if path is not None else made, why or failed)
    finally:
        if batch is not None:
            batch.close()
    return files
