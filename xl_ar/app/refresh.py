"""The refresh run behind every entry point: check and refresh a ledger workbook.

A ribbon button and ``xl-ar refresh`` run the same code: read the book through an adapter,
validate, compute in the core, and (only when there is no error) write back through the same
adapter. Nothing is written when validation finds an error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xl_ar.core.memory import collector_paused, return_free_memory
from xl_ar.book.reader import BookData
from xl_ar.core.credit import parse_credit_settings
from xl_ar.core.fees import LATE_FEE_POLICIES
from xl_ar.core.issues import Issue, has_errors
from xl_ar.core.kpis import parse_kpi_settings
from xl_ar.core.ledger import Ledger, compact_text, validate_ledger
from xl_ar.core.money import to_major
from xl_ar.core.run import Policies, RunResult, refresh
from xl_ar.core.settings import Settings, parse_settings
from xl_ar.core.progress import Progress, Step, quiet
from xl_ar.core.calendar import calendar_from_settings
from xl_ar.core.stages import DEFAULT_STAGE_RULES, owners_from_settings, per_stage_counts, stage_rules_from_table


@dataclass
class Report:
    """What a run found and did, for the CLI, the ribbon and ``--json``."""

    book: str
    as_of: dt.date | None = None
    settings: Settings | None = None
    policies: Policies | None = None
    issues: list[Issue] = field(default_factory=list)
    result: RunResult | None = None
    written: bool = False
    backup: Path | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.issues)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` object: as_of, open_total, buckets, unapplied, issues (+ per currency)."""
        out: dict[str, Any] = {"as_of": self.as_of.isoformat() if self.as_of else None}
        if self.result is not None:
            tie = self.result.tieouts
            base = self.settings.base_currency if self.settings else next(iter(tie))
            t = tie[base]
            out.update(_tie_json(t, self.result.labels))
            out["currency"] = base
            others = {c: _tie_json(x, self.result.labels) for c, x in tie.items() if c != base}
            if others:
                out["currencies"] = others
            if self.result.stages is not None:
                out["stages"] = per_stage_counts(self.result.stages)
            if self.result.kpis is not None:
                out.update(self.result.kpis.as_json())
        else:
            out.update(open_total=None, buckets={}, unapplied=None)
        out["issues"] = [i.as_dict() for i in self.issues]
        out["written"] = self.written
        return out


def _money(minor: int, exp: int) -> float:
    return float(to_major(minor, exp))


def _tie_json(t, labels) -> dict[str, Any]:
    return {
        "open_total": _money(t.open, t.exp),
        "buckets": {label: _money(v, t.exp) for label, v in zip(labels, t.buckets)},
        "unapplied": _money(t.unapplied_cash + t.unapplied_credit, t.exp),
        "unapplied_cash": _money(t.unapplied_cash, t.exp),
        "unapplied_credit": _money(t.unapplied_credit, t.exp),
        "invoiced": _money(t.invoiced, t.exp),
        "credit_applied": _money(t.credit_applied, t.exp),
        "received_applied": _money(t.received_applied, t.exp),
        "late_fees": _money(t.late_fees, t.exp),
        "disputed_open": _money(t.disputed_open, t.exp),
        "ties_out": t.holds,
    }


def load(data: BookData, as_of: dt.date | None, today: dt.date, *,
         keep_codes: bool = False, progress: Step | None = None) -> tuple[Ledger | None, Settings, Policies, list[Issue]]:
    """Settings and validated ledger from what an adapter read.

    Args:
        data: the book's raw tables and settings.
        as_of: an as-of date given by the caller (wins over the Settings sheet).
        today: the date used when neither the caller nor the sheet sets one.
        keep_codes: keep validation's text codes for ``compact_text`` (see ``validate_ledger``).
        progress: the validation's step (table by table).
    """
    settings, issues = parse_settings(data.settings, LATE_FEE_POLICIES)
    settings = settings.with_as_of(as_of or settings.as_of or today)
    credit, credit_issues = parse_credit_settings(settings.extra)
    rules, rule_issues = DEFAULT_STAGE_RULES, []
    if "Stages" in data.tables:
        raw = data.tables["Stages"]
        rules, rule_issues = stage_rules_from_table(raw.frame, raw.columns, raw.sheet)
    kpi, kpi_issues = parse_kpi_settings(settings.extra, settings)
    calendar, problem, where = calendar_from_settings(settings.extra)
    if problem:
        kpi_issues = [*kpi_issues, Issue(where or "Settings", problem)]
    policies = Policies(credit, tuple(rules), owners_from_settings(settings.extra), kpi, calendar)
    ledger, more = validate_ledger(data.tables, settings, keep_codes=keep_codes, progress=progress)
    return ledger, settings, policies, issues + credit_issues + list(rule_issues) + kpi_issues + more


@collector_paused()
def run_refresh(adapter, *, as_of: dt.date | None = None, today: dt.date | None = None,
                write: bool = True, progress: Progress = quiet) -> Report:
    """Read, validate, compute and write back.

    Args:
        adapter: a book adapter (``FileBook`` or the live-book adapter): ``read() -> BookData``
            and ``write(result, settings, data) -> backup path or None``.
        as_of: the as-of date; None = the Settings sheet's, else ``today``.
        today: today's date (a parameter, so runs are reproducible).
        write: False validates and computes only (``xl-ar check``).
        progress: called with (stage, fraction done).

    Returns:
        The :class:`Report`. Nothing is written when there are errors.
    """
    today = today or dt.date.today()
    report = Report(book=str(getattr(adapter, "path", "")))
    step = Step(progress, "read", 0.0, 0.3).begin()
    # The large sheets' well-formedness is checked on the core the validating and computing
    # leave idle; it is waited for before anything is written or reported.
    data = adapter.read(progress=step, checks_later=True)
    scanning = write and hasattr(adapter, "scan_ahead")
    try:
        if scanning:  # the file's large sheets scanned for the splice while this validates
            adapter.scan_ahead(data)
        report = _refresh_read(adapter, data, report, as_of, today, write, step)
        data.finish_checks()
        return report
    except Exception:
        data.finish_checks()  # a part that is not well-formed is the cause of what failed: name it
        raise
    finally:
        data.drop_checks()  # (an interrupt: not waited for)
        if scanning:
            adapter.stop_scans()


def _refresh_read(adapter, data: BookData, report: Report, as_of: dt.date | None, today: dt.date, write: bool,
                  read: Step) -> Report:
    """:func:`run_refresh` once the book is read (``read``: its step, to make the next ones)."""
    step = read.then("validate", 0.3, 0.5).begin()
    ledger, settings, policies, issues = load(data, as_of, today, keep_codes=True, progress=step.part(0.0, 0.85))
    data.release_cells()  # the ledger holds what the run needs; the raw cells are most of its memory
    if ledger is not None:
        compact_text(ledger)
        return_free_memory()
    report.as_of, report.settings, report.policies, report.issues = settings.as_of, settings, policies, issues
    if has_errors(issues):
        return report
    step = step.then("compute", 0.5, 0.7).begin()
    result = refresh(ledger, settings, settings.as_of, policies, progress=step)
    return_free_memory()  # what the computing freed, before the writing takes its share
    report.result = result
    report.issues = issues + result.issues
    if write:
        step = step.then("write", 0.7, 1.0).begin()
        data.finish_checks()
        report.written, report.backup = adapter.write(result, settings, data, ledger, progress=step)
    step.then("done", 1.0, 1.0)(1.0)
    return report

