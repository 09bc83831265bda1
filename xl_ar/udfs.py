"""Excel worksheet functions (xlwings UDFs): ``=AR_DAYSLATE``, ``=AR_BUCKET``, ``=AR_LATEFEE``,
``=AR_STAGE``, ``=AR_SCHEDULE``, ``=AR_CREDITLIMIT``, ``=AR_AVAILABLE``.

Each takes a single cell or a whole column range and returns the same shape, so one formula
can fill a column (Excel spills it). Each is a few lines over the core. A bad cell gives a
readable text in its own place ("error: due date "abc" is not a date") instead of failing the
whole range. With no as-of date, functions use today's date, as ``TODAY()`` would.

xlwings' decorators are no-ops off Windows, so this module imports and is tested anywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import numpy as np
import pandas as pd
import xlwings as xw

from xl_ar.book.livebook import sheet_rows
from xl_ar.book.stagepolicy import StagePolicy, stage_policy
from xl_ar.core.aging import AgingEdges, age_open_items
from xl_ar.core.credit import GRADES, available_credit, credit_limit
from xl_ar.core.convert import (amounts_column, dates_column, is_blank, parse_amount, parse_date, parse_int,
                                parse_number)
from xl_ar.core.fees import LATE_FEE_POLICIES, FeeTerms, late_fees
from xl_ar.core.money import CURRENCY_EXPONENTS, to_major_array, to_minor, to_minor_array
from xl_ar.core.plans import events_from_text, milestone_schedule
from xl_ar.core.numerics import python_strings
from xl_ar.core.stages import stage_for

python_strings()  # the process Excel starts for the worksheet functions is xl-ar's: text as Python strings
Grid = list[list[Any]]


def _grid(value: Any) -> tuple[Grid, bool]:
    """A cell or range as a 2-D list, and whether it was a single value."""
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], (list, tuple)):
            return [list(r) for r in value], False
        return [[v] for v in value], False  # a 1-D column
    return [[value]], True


def _shape_like(grid: Grid, flat: list[Any], single: bool) -> Any:
    if single:
        return flat[0]
    it = iter(flat)
    return [[next(it) for _ in row] for row in grid]


def _broadcast(main: Grid, other: Any) -> list[Any]:
    """A second argument as one value per cell of ``main`` (a single value or the same shape)."""
    flat_main = [v for row in main for v in row]
    g, single = _grid(other)
    flat = [v for row in g for v in row]
    if single or len(flat) == 1:
        return [flat[0]] * len(flat_main)
    if len(flat) != len(flat_main):
        raise ValueError(f"ranges have different sizes ({len(flat_main)} and {len(flat)} cells)")
    return flat


def _objects(values: list[Any]) -> np.ndarray:
    """A list of cell values as a 1-D object array (cells that are sequences stay whole)."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def _as_of(value: Any) -> dt.date:
    d = parse_date(value)
    return d if d is not None else dt.date.today()


def _per_cell(func: Callable[..., Any], main: Any, *others: Any) -> Any:
    """Apply a scalar-safe function cell by cell, turning each failure into readable text."""
    grid, single = _grid(main)
    try:
        columns = [_broadcast(grid, o) for o in others]
    except ValueError as exc:
        return f"error: {exc}"
    out = []
    for k, v in enumerate(v for row in grid for v in row):
        try:
            out.append(func(v, *(c[k] for c in columns)))
        except ValueError as exc:
            out.append(f"error: {exc}")
    return _shape_like(grid, out, single)


def _due(value: Any) -> dt.date | None:
    try:
        return parse_date(value)
    except ValueError:
        raise ValueError(f'due date "{value}" is not a date') from None


def _edges(value: Any) -> AgingEdges:
    try:
        return AgingEdges.parse(None if is_blank(value) else str(int(value)) if isinstance(value, float) else value)
    except ValueError:
        raise ValueError(f'edges "{value}" must be increasing day counts such as 30,60,90') from None


@xw.func
@xw.arg("due_date", ndim=2)
def AR_DAYSLATE(due_date, as_of=None):
    """Days past the due date at the as-of date (today if blank); 0 when not yet due."""

    def one(due: Any, asof: Any) -> Any:
        d = _due(due)
        if d is None:
            return ""
        return max(0, (_as_of(asof) - d).days)

    return _per_cell(one, due_date, as_of)


@xw.func
@xw.arg("due_date", ndim=2)
def AR_BUCKET(due_date, as_of=None, edges=None):
    """Aging bucket of a due date at the as-of date, e.g. "1-30" or ">90" (edges default 30,60,90)."""

    def one(due: Any, asof: Any, e: Any) -> Any:
        d = _due(due)
        if d is None:
            return ""
        ae = _edges(e)
        day = np.array([np.datetime64(d, "s")])
        _, b = age_open_items(day, day, _as_of(asof), ae)
        return ae.labels("en")[int(b[0])]

    return _per_cell(one, due_date, as_of, edges)


def _fee_terms(policy: Any, rate: Any, grace_days: Any, cap: Any) -> FeeTerms:
    key = "daily" if is_blank(policy) else str(policy).strip().lower()
    if key not in LATE_FEE_POLICIES:
        raise ValueError(f'policy "{policy}" is unknown; use one of {", ".join(LATE_FEE_POLICIES)}')
    try:
        r = parse_number(rate)
        g = parse_int(grace_days) or 0
        c = parse_number(cap)
    except ValueError:
        raise ValueError("rate, grace days and cap must be numbers") from None
    return FeeTerms(key, r, g, c)


@xw.func
@xw.arg("amount", ndim=2)
def AR_LATEFEE(amount, due_date, as_of=None, policy=None, rate=None, grace_days=None, cap=None, currency=None):
    """Late fee on an overdue amount at the as-of date (policy daily 0.05%/day unless given).

    The optional currency (ISO code, default CNY) is the amount's: it sets the minor unit and
    decides statutory compensation (GBP 40/70/100 under uk-late-payment, EUR 40 under
    eu-late-payment and de-bgb-288), which is added only to amounts in the statute's currency.
    """
    grid, single = _grid(amount)
    try:
        terms = _fee_terms(policy, rate, grace_days, cap)
        ccy = "CNY" if is_blank(currency) else str(currency).strip().upper()
        if ccy not in CURRENCY_EXPONENTS:
            raise ValueError(f'currency "{currency}" is not a known ISO currency code')
        exp = CURRENCY_EXPONENTS[ccy]
        dues = _broadcast(grid, due_date)
        asofs = _broadcast(grid, as_of)
    except ValueError as exc:
        return f"error: {exc}"
    flat = [v for row in grid for v in row]
    out: list[Any] = [""] * len(flat)
    # Whole columns at once (one call per column is how Excel calls a UDF over a range).
    amounts, bad_amounts = amounts_column(_objects(flat))
    due, bad_dues = dates_column(_objects(dues))
    ok = ~np.isnan(amounts) & ~np.isnat(due.to_numpy())
    for k, a in bad_amounts:
        out[k], ok[k] = f'error: amount "{a}" is not a number', False
    for k, d in bad_dues:
        if not out[k]:  # a bad amount is reported first
            out[k] = f'error: due date "{d}" is not a date'
        ok[k] = False
    where = np.flatnonzero(ok)
    principal = to_minor_array(amounts[where], exp)
    due_days = due.to_numpy()[where]
    # One core call per distinct as-of date (usually one): a column is computed at once.
    by_asof: dict[dt.date, list[int]] = {}
    parsed: dict[Any, dt.date | None] = {}
    for i, k in enumerate(where.tolist()):
        v = asofs[k]
        try:
            day = parsed[v] if _hashable(v) and v in parsed else _as_of(v)
        except ValueError:
            out[k] = f'error: as-of date "{v}" is not a date'
            continue
        if _hashable(v):
            parsed[v] = day
        by_asof.setdefault(day, []).append(i)
    for day, idx in by_asof.items():
        items = pd.DataFrame({"principal_minor": principal[idx], "due_date": due_days[idx].astype("datetime64[s]"),
                              "currency": ccy, "exp": exp})
        fees = late_fees(items, None, day, terms)
        for k, v in zip(where[idx].tolist(), to_major_array(fees.fee_minor, exp)):
            out[k] = float(v)
    return _shape_like(grid, out, single)


def _book_policy(stages: Any, caller: Any) -> StagePolicy:
    """The Stages rules and language: of a range given, else of the calling book, else built in."""
    table = None if stages is None or all(is_blank(v) for row in _grid(stages)[0] for v in row) else _grid(stages)[0]
    sheets: dict[str, Any] = {}
    try:  # the calling workbook (Excel passes the caller's range; elsewhere there is none)
        sheets = {s.name: s for s in caller.sheet.book.sheets} if caller is not None else {}
    except Exception:  # noqa: BLE001 - no book to read: the range given, or the built-in rules
        sheets = {}
    return stage_policy(list(sheets), lambda name: sheet_rows(sheets[name]), table)


@xw.func
@xw.arg("days_late", ndim=2)
@xw.arg("stages", ndim=2)
def AR_STAGE(days_late, amount=None, klass=None, stages=None, caller=None):
    """Collection stage by the book's Stages rules (or a Stages range given), in the book's language."""
    policy = _book_policy(stages, caller)
    if policy.error is not None:
        return f"error: {policy.error.where}: {policy.error.message}"
    zh = policy.lang == "zh"

    def one(days: Any, amt: Any, k: Any) -> Any:
        if is_blank(days):
            return ""
        try:
            n = parse_int(days)
        except ValueError:
            raise ValueError(f'days late "{days}" is not a whole number') from None
        try:
            minor = None if is_blank(amt) else to_minor(parse_amount(amt), 2)
        except ValueError:
            raise ValueError(f'amount "{amt}" is not a number') from None
        rule = stage_for(n, minor, None if is_blank(k) else str(k).strip().upper(), policy.rules)
        if rule is None:
            return ""
        return (rule.label_zh or rule.label or rule.stage) if zh else (rule.label or rule.stage)

    return _per_cell(one, days_late, amount, klass)


@xw.func
@xw.ret(expand="table")
def AR_SCHEDULE(amount, terms, start_date, events=None):
    """Milestone schedule of a contract, e.g. terms "30%@0,60%@acceptance+30,10%@365": date, amount, label rows."""
    try:
        total = parse_amount(amount)
        start = parse_date(start_date)
        if total is None or start is None:
            return "error: amount and start date are required"
        ev = events_from_text(str(events)) if not is_blank(events) else None
        rows = milestone_schedule(to_minor(total, 2), str(terms), start, ev)
    except ValueError as exc:
        return f"error: {exc}"
    amounts = to_major_array(np.array([r.amount_minor for r in rows], dtype=np.int64), 2)
    return [[dt.datetime.combine(r.date, dt.time()), float(a), r.label] for r, a in zip(rows, amounts)]


@xw.func
@xw.arg("avg_monthly_sales", ndim=2)
def AR_CREDITLIMIT(avg_monthly_sales, score, early_streak=0, negative_news=False):
    """Suggested credit limit from average monthly sales and a credit score (0-100) or grade (A-D)."""

    def one(sales_cell: Any, sc: Any, streak_cell: Any, news_cell: Any) -> Any:
        try:
            sales = parse_amount(sales_cell)
        except ValueError:
            raise ValueError(f'average monthly sales "{sales_cell}" is not an amount') from None
        if sales is None:
            return ""
        if is_blank(sc):
            raise ValueError("the score is blank: give a number from 0 to 100 or a grade A-D")
        try:
            grade_or_score = str(sc).strip().upper() if isinstance(sc, str) else parse_number(sc)
            if isinstance(grade_or_score, str) and grade_or_score not in GRADES:
                grade_or_score = parse_number(grade_or_score)
            if grade_or_score is None:
                raise ValueError
        except ValueError:
            raise ValueError(f'score "{sc}" must be a number from 0 to 100 or a grade A-D') from None
        try:
            streak = parse_int(streak_cell) or 0
        except ValueError:
            raise ValueError(f'early payments in a row "{streak_cell}" is not a whole number') from None
        news = not is_blank(news_cell) and str(news_cell).strip().lower() in ("1", "true", "yes", "y", "是")
        return float(credit_limit(sales, grade_or_score, streak, news))

    return _per_cell(one, avg_monthly_sales, score, early_streak, negative_news)


@xw.func
@xw.arg("limit", ndim=2)
def AR_AVAILABLE(limit, exposure):
    """Credit still available: limit minus exposure (negative when over the limit)."""

    def one(lim: Any, exp: Any) -> Any:
        try:
            a, b = parse_amount(lim), parse_amount(exp)
        except ValueError:
            raise ValueError("limit and exposure must be amounts") from None
        if a is None:
            return ""
        return float(available_credit(a, b or 0))

    return _per_cell(one, limit, exposure)
