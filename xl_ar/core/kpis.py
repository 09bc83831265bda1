"""Management measures (docs/domain.md section 5) and the settings they share with the work list.

The collector's work list and the warning table, which use the same settings, are in
:mod:`xl_ar.core.worklist`.

Every money figure is in the **base currency** (the first currency of ``Position.tieouts``):
lines in other currencies convert at the latest ``FxRates`` rate on or before the as-of date
(``xl_ar.core.fx``), each line rounded once half-up, a total being the sum of its converted
lines. All figures of a run, the trend's month-ends and the CEI's opening included, use the
as-of date's rates, so a ratio measures collection and not a move of the rate. A currency
with no rate is left out and reported beside the figures (``Kpis.foreign_open``); the rates
used are ``Kpis.fx_rates``. Counts of stages and of promises cover every currency.

Definitions (``R(t)`` = open base-currency invoices at the end of day ``t``, the aging's
open items, written-off and disputed ones included since they stay in the aging until a
credit note clears them; *current* = not yet due, *overdue* = past the due date; *credit
sales* over a period = base-currency invoice lines with a positive amount dated in it; a
credit note is not netted from sales: like cash it settles receivables, so it counts as
collected in the CEI, and the countback is then sure to use up the balance):

* **Overdue ratio** = overdue R(as-of) / R(as-of). Target under 5% (document 002).
* **DSO, simple** = R(as-of) / credit sales of the period × days of the period (default the
  last 90 days). Source: the standard formula "(ending receivables / credit sales) × days in
  period", e.g. Credit Research Foundation; Investopedia "Days Sales Outstanding".
* **DSO, countback** (exhaustion method): take R(as-of); subtract the credit sales of the
  as-of month so far (counting its days, 1st to as-of), then of each earlier calendar month
  (counting its days), until a month's sales exceed what is left; add that month's days × the
  share of its sales still needed. Source: Credit Today, "Why you should switch to the
  countback method to calculate DSO"; worked example (Benji Pays, "The count-back method
  explained"): 212,000 against sales of 100,000 / 80,000 / 70,000 = 30 + 30 + 32/70 × 30 days.
* **CEI** = (R(start) + credit sales in (start, as-of] − R(as-of) − written off in the period)
  / (R(start) + credit sales − current R(as-of)) (a write-off is not a collection), a ratio like
  every other ratio of the run (the Dashboard shows 0.5393 as 53.9%, ``--json`` gives 0.5393),
  over the CEI period (default the last 3 months). Source: the
  Credit Research Foundation's index as creditguru.com states it for a one-year period: the
  period's total sales (its multi-month variant divides the sales by the number of months).
* **Average days delinquent** = DSO simple − best possible DSO, where best possible DSO =
  current R(as-of) / credit sales × days (same period as the DSO). Equivalently overdue
  R(as-of) / credit sales × days. Source: Credit Research Foundation (ADD = DSO − BPDSO).
* **Promises kept** = kept / (kept + broken) over every promise on the collection log whose
  date has passed (:func:`xl_ar.core.plans.check_promises`); pending ones are not counted.
* **Bad debt** = amount written off by write-offs on the collection log by the as-of date
  (``bad_debt_minor`` of :func:`xl_ar.core.stages.assign_stages`); it is no longer open.
* **Per owner** (the person in the Customers ``Owner`` column; blank = no owner): open,
  overdue, overdue ratio, customers with open items, broken promises, bad debt.
* **Aging trend**: for each of the last 12 month-ends on or before the as-of date, receipts
  are allocated and open items aged as of that month-end (the same rules as a refresh on that
  day, ``allocate_receipts`` + ``age_open_items``, computed in closed form from one sort of the
  events by :mod:`xl_ar.core.trend`; late fees are not needed), giving the buckets, the open
  total and the overdue ratio of each month-end.

Ratios are exact fractions of integer minor units turned into floats at the end; a measure
with a zero denominator is None (shown blank), never a division error.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from xl_ar.core.aging import AgingEdges, age_open_items
from xl_ar.core.allocation import allocate_receipts, credit_targets, named_targets
from xl_ar.core.keys import LedgerKeys
from xl_ar.core.fx import FxTable
from xl_ar.core.money import CURRENCY_EXPONENTS, to_major
from xl_ar.core.plans import PromiseCheck, check_promises
from xl_ar.core.stages import per_stage_counts
from xl_ar.core.trend import OpenAmounts, written_off_groups
from xl_ar.core.views import customer_info, per_invoice, stages_of

from xl_ar.core.kpi_settings import (  # noqa: F401 - the settings' names, re-exported for the rules' users
    KPI_SETTING_ALIASES, KPI_SETTING_DEFAULTS, KpiSettings, parse_kpi_settings,
)

if TYPE_CHECKING:
    from xl_ar.core.ledger import Ledger
    from xl_ar.core.position import Position

# ----------------------------------------------------------------------------- scalar formulas


def _float(x: Fraction | None) -> float | None:
    return None if x is None else float(x)


def dso_simple(receivables: int, credit_sales: int, days: int) -> float | None:
    """DSO = receivables / credit sales × days (None without sales).

    Args:
        receivables: open receivables at the end of the period (minor units).
        credit_sales: credit sales of the period (minor units).
        days: the period's length in days.
    """
    return _float(Fraction(receivables, credit_sales) * days) if credit_sales > 0 else None


def dso_countback(receivables: int, months: Sequence[tuple[int, int]]) -> float | None:
    """DSO by the countback (exhaustion) method.

    Args:
        receivables: open receivables at the as-of date (minor units).
        months: ``(credit sales, days)`` per month, the as-of month first, going back.

    Returns:
        Days; None when the months' sales do not use up the balance (not possible for a
        ledger's own history, whose open items are part of its sales).
    """
    left, days = receivables, Fraction(0)
    if left <= 0:
        return 0.0
    for sales, n_days in months:
        if sales >= left:
            return float(days + Fraction(left, sales) * n_days)
        days += n_days
        left -= max(sales, 0)
    return None


def collection_effectiveness(opening: int, credit_sales: int, closing: int, closing_current: int) -> float | None:
    """CEI as a ratio, like every other ratio of the run (0.5393 is shown as 53.9%):
    (opening + sales − closing) / (opening + sales − closing current).

    Args:
        opening: receivables at the start of the period.
        credit_sales: credit sales in the period.
        closing, closing_current: receivables at the end, all and not yet due.
    """
    den = opening + credit_sales - closing_current
    return _float(Fraction(opening + credit_sales - closing, den)) if den > 0 else None


def _share(part: int, whole: int) -> float | None:
    return _float(Fraction(part, whole)) if whole else None


# ----------------------------------------------------------------------------- dates


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _is_month_end(d: dt.date) -> bool:
    return (d + dt.timedelta(days=1)).day == 1


def months_back(d: dt.date, k: int) -> dt.date:
    """``d`` minus ``k`` calendar months: a month-end stays a month-end, else the day is clipped."""
    y, m0 = divmod(d.year * 12 + d.month - 1 - k, 12)
    end = _month_end(y, m0 + 1)
    return end if _is_month_end(d) else end.replace(day=min(d.day, end.day))


def period_start(period: tuple[int, str], as_of: dt.date) -> dt.date:
    """The last day before a period ending at ``as_of``: the period is (start, as_of]."""
    n, unit = period
    return as_of - dt.timedelta(days=n) if unit == "d" else months_back(as_of, n)


def trend_month_ends(as_of: dt.date, months: int = 12) -> list[dt.date]:
    """The last ``months`` month-ends on or before ``as_of``, oldest first."""
    last = as_of if _is_month_end(as_of) else as_of.replace(day=1) - dt.timedelta(days=1)
    return [months_back(last, k) for k in range(months - 1, -1, -1)]


# ----------------------------------------------------------------------------- the base view


class _Base:
    """The base-currency invoices and receipts of a ledger, for figures at several dates."""

    INV_COLS = ["customer_id", "currency", "invoice_no", "invoice_date", "due_date", "amount_minor", "disputed",
                "applies_to"]
    REC_COLS = ["customer_id", "currency", "receipt_date", "amount_minor", "invoice_no"]

    def __init__(self, ledger: "Ledger", result: "Position", kpi: KpiSettings, fx: FxTable | None = None,
                 keys: LedgerKeys | None = None):
        self.currency = kpi.base_currency or next(iter(result.tieouts))
        self.exp = CURRENCY_EXPONENTS.get(self.currency, 2)
        self.fx = fx if fx is not None and fx.base == self.currency else FxTable(self.currency)
        self.edges, self.basis = AgingEdges(tuple(kpi.aging_edges)), kpi.aging_basis
        self.auto_apply = kpi.auto_apply
        if len(self.edges.edges) + 2 != len(result.labels):
            raise ValueError("the KPI settings' aging edges differ from the run's: "
                             "build them with parse_kpi_settings(settings.extra, settings)")
        inv, rec = ledger.invoices, ledger.receipts
        # Every currency with a rate by the as-of date; each line converts at that one rate.
        self.mask = self.fx.known_currencies(inv["currency"].to_numpy(dtype=object), result.as_of)
        self.inv = inv.loc[self.mask, [c for c in self.INV_COLS if c in inv]].reset_index(drop=True)
        rec_known = self.fx.known_currencies(rec["currency"].to_numpy(dtype=object), result.as_of)
        self.rec = rec.loc[rec_known, self.REC_COLS].reset_index(drop=True)
        self.inv_ccy = self.inv["currency"].to_numpy(dtype=object)
        self.foreign = self.inv_ccy != self.currency
        self.inv_date = self.inv["invoice_date"].to_numpy(dtype="datetime64[D]")
        self.due = self.inv["due_date"].to_numpy(dtype="datetime64[D]")
        self.amt = self.inv["amount_minor"].to_numpy(dtype=np.int64)
        self.rec_date = self.rec["receipt_date"].to_numpy(dtype="datetime64[D]")
        self.as_of = result.as_of
        self.open_now = result.invoices["open_minor"].to_numpy(dtype=np.int64)[self.mask]
        self.bucket_now = np.where(self.open_now > 0, result.invoices["bucket"].to_numpy(dtype=np.int64)[self.mask], -1)
        sold = self.fx.convert_minor(self.amt, self.inv_ccy, self.as_of)
        #: currency -> (rate, rate date) of each foreign currency the figures convert
        self.amt_base, self.used = sold.minor, dict(sold.used)
        self.open_now_base = self.conv(self.open_now)
        self.n_buckets = len(result.labels)
        self._open: dict[dt.date, np.ndarray] = {}
        self._events: OpenAmounts | None = None
        # A customer's last document date: one with none after a day has, on that day, the
        # very allocation it has at the as-of date (customers are allocated independently).
        # Allocation groups: a customer in one currency (receipts settle their own currency only).
        # (customer, currency) pairs as integers: each column hashed once, then the pair of codes.
        # (The run's keys, made once: see xl_ar.core.keys.)
        self.keys = keys or LedgerKeys(ledger)
        self.inv_g, self.rec_g = self.keys.inv_group[self.mask], self.keys.rec_group[rec_known]
        named = self.keys.named_in(self.mask, rec_known)
        self.targets = named_targets(self.inv, self.rec) if named is None else named
        last = np.full(self.keys.groups, np.iinfo(np.int64).min, np.int64)
        for g, d in ((self.inv_g, self.inv_date), (self.rec_g, self.rec_date)):
            np.maximum.at(last, g, np.where(np.isnat(d), np.iinfo(np.int64).min, d.astype(np.int64)))
        # Write-offs of base invoices, renumbered to the base view; a write-off is a document too.
        wo = ledger.writeoffs
        base_pos = np.cumsum(self.mask) - 1
        if wo is not None and len(wo):
            wo = wo[self.mask[wo["invoice"].to_numpy(dtype=np.int64)]].copy()
            wo["invoice"] = base_pos[wo["invoice"].to_numpy(dtype=np.int64)]
            w_date = wo["date"].to_numpy(dtype="datetime64[D]")
            np.maximum.at(last, self.inv_g[wo["invoice"].to_numpy(dtype=np.int64)], w_date.astype(np.int64))
        self.writeoffs = wo
        self.last_doc = last

    def open_at(self, day: dt.date) -> np.ndarray:
        """Open amount of each base invoice at the end of ``day`` (0 for one not yet issued).

        What a refresh on that day computes: the closed form of :mod:`xl_ar.core.trend` for
        every customer, and the allocation itself for a customer with a write-off by then and a
        document after it (one with none after has its as-of figures).
        """
        if day == self.as_of:
            return self.open_now
        if day not in self._open:
            if self._events is None:
                self._events = OpenAmounts(
                    self.inv_g, self.inv_date, self.due, self.amt, self._disputed(), self._credit_targets(),
                    self.rec_g, self.rec_date, self.rec["amount_minor"].to_numpy(dtype=np.int64), self.targets,
                    self.auto_apply, len(self.last_doc))
            out = self._events.at(day)
            if self.writeoffs is not None and len(self.writeoffs):
                wo = self.writeoffs
                hit = written_off_groups(self.inv_g, len(self.last_doc), wo["invoice"].to_numpy(dtype=np.int64),
                                         wo["date"].to_numpy(dtype="datetime64[D]"), day)
                out = np.where(hit[self.inv_g], self.open_now, out)
                busy = hit & (self.last_doc > np.datetime64(day, "D").astype(np.int64))
                if busy.any():
                    out[busy[self.inv_g]] = self._allocate(day, busy)[busy[self.inv_g]]
            # Only the last day is kept (a full sheet's day is 8 MB, and the trend asks each once).
            self._open = {day: out}
        return self._open[day]

    def _credit_targets(self) -> np.ndarray:
        named = self.keys.applies_in(self.mask)
        return credit_targets(self.inv) if named is None else named

    def _disputed(self) -> np.ndarray:
        return self.inv["disputed"].to_numpy(dtype=bool) if "disputed" in self.inv else np.zeros(len(self.inv), bool)

    def _allocate(self, day: dt.date, busy: np.ndarray) -> np.ndarray:
        """The allocation at ``day`` of the groups ``busy`` marks (0 elsewhere)."""
        d = np.datetime64(day, "D")
        # Only documents dated by then exist. A mask (not a sort) keeps the sheet order the
        # allocation breaks ties by, so this is exactly what a refresh on that day computes.
        mi = busy[self.inv_g] & ~np.isnat(self.inv_date) & (self.inv_date <= d)
        mr = busy[self.rec_g] & ~np.isnat(self.rec_date) & (self.rec_date <= d)
        out = np.zeros(len(self.inv), np.int64)
        if mi.any():
            # One currency here: the customer codes are the allocation's groups (computed once).
            # Named invoices: positions in the whole base view, renumbered for the subset.
            renumber = np.full(len(self.inv) + 1, -1, np.int64)
            renumber[np.flatnonzero(mi)] = np.arange(int(mi.sum()))
            targets = renumber[self.targets[mr]]  # -1 stays -1 (the extra last slot)
            wo = self.writeoffs.assign(invoice=renumber[self.writeoffs["invoice"].to_numpy(dtype=np.int64)])
            wo = wo[wo["invoice"].to_numpy() >= 0]
            out[mi] = allocate_receipts(self.inv[mi], self.rec[mr], day, groups=(self.inv_g[mi], self.rec_g[mr]),
                                        targets=targets, writeoffs=wo, auto_apply=self.auto_apply).open_minor
        return out

    def conv(self, native: np.ndarray, currencies: np.ndarray | None = None) -> np.ndarray:
        """Per-line amounts (minor units of each line's currency) in base minor units, at the as-of rate."""
        if currencies is not None:
            return self.fx.convert_minor(native, currencies, self.as_of).minor
        # Each line converts on its own, so base lines (most of them) are copied and only the
        # others go through the rates: once per month-end of the trend.
        out = np.array(native, dtype=np.int64)
        if self.foreign.any():
            out[self.foreign] = self.fx.convert_minor(out[self.foreign], self.inv_ccy[self.foreign], self.as_of).minor
        return out

    def open_base_at(self, day: dt.date) -> np.ndarray:
        """Open amount of each invoice at the end of ``day``, in base minor units."""
        if day == self.as_of:
            return self.open_now_base
        return self.conv(self.open_at(day))

    def buckets_at(self, day: dt.date) -> list[int]:
        """Open amount per aging bucket at the end of ``day`` (base currency, sums of converted lines)."""
        if day == self.as_of:
            open_, bucket = self.open_now_base, self.bucket_now
        else:
            open_ = self.open_base_at(day)
            _, bucket = age_open_items(self.due, self.inv_date, day, self.edges, self.basis)
            bucket = np.where(open_ > 0, bucket, -1)
        return [int(open_[bucket == i].sum()) for i in range(self.n_buckets)]

    def sales(self, start: dt.date, end: dt.date) -> int:
        """Credit sales in (start, end]: invoice lines with a positive amount."""
        d = self.inv_date
        m = (d > np.datetime64(start, "D")) & (d <= np.datetime64(end, "D")) & (self.amt > 0)
        return int(self.amt_base[m].sum())

    def monthly_sales(self, as_of: dt.date) -> list[tuple[int, int]]:
        """(credit sales, days) per calendar month, the as-of month first, back to the first sale."""
        m = ~np.isnat(self.inv_date) & (self.inv_date <= np.datetime64(as_of, "D")) & (self.amt > 0)
        if not m.any():
            return []
        back = np.datetime64(as_of, "M").astype(np.int64) - self.inv_date[m].astype("datetime64[M]").astype(np.int64)
        sales = np.zeros(int(back.max()) + 1, np.int64)
        np.add.at(sales, back, self.amt_base[m])
        # The as-of month counts its days up to as-of; earlier months all their days.
        ends = [as_of] + [months_back(_month_end(as_of.year, as_of.month), k) for k in range(1, len(sales))]
        return [(int(s), e.day) for s, e in zip(sales, ends)]


def _trend(base: _Base, as_of: dt.date, months: int) -> pd.DataFrame:
    rows = []
    for m in trend_month_ends(as_of, months):
        b = base.buckets_at(m)
        total = sum(b)
        rows.append([np.datetime64(m, "s"), *b, total, total - b[0], _share(total - b[0], total)])
    cols = ["month_end", *[f"b{i}" for i in range(base.n_buckets)], "open_minor", "overdue_minor", "overdue_ratio"]
    out = pd.DataFrame(rows, columns=cols)
    out["month_end"] = out["month_end"].astype("datetime64[s]")
    out["overdue_ratio"] = out["overdue_ratio"].astype(float)
    return out


def aging_trend(ledger: "Ledger", result: "Position", settings: KpiSettings, fx: FxTable | None = None) -> pd.DataFrame:
    """Aging of the base currency at each of the last ``settings.trend_months`` month-ends.

    Args:
        ledger: the validated ledger.
        result: the refresh run (its as-of date ends the trend; its aging is reused there).
        settings: the KPI settings (trend months, aging edges and basis, base currency).
        fx: rates to the base currency (None: base-currency lines only).

    Returns:
        One row per month-end, oldest first: ``month_end``, ``b0``..``bN``, ``open_minor``,
        ``overdue_minor``, ``overdue_ratio`` (NaN when nothing is open).
    """
    return _trend(_Base(ledger, result, settings, fx), result.as_of, settings.trend_months)


# ----------------------------------------------------------------------------- the KPIs


@dataclass(frozen=True, eq=False)  # it holds frames: compare figures, not objects
class Kpis:
    """Every management figure of one run (money in minor units of ``currency``).

    ``dso_start``/``cei_start`` are the days before the periods begin (periods are
    (start, as_of]); ``owners`` and ``trend`` are frames (see :func:`compute_kpis`).
    """

    as_of: dt.date
    currency: str
    exp: int
    labels: tuple[str, ...]
    buckets: tuple[int, ...]
    open_minor: int
    overdue_minor: int
    current_minor: int
    overdue_ratio: float | None
    overdue_target: float
    dso_start: dt.date
    dso_days: int
    credit_sales_minor: int
    dso_simple: float | None
    dso_countback: float | None
    best_possible_dso: float | None
    add: float | None
    cei_start: dt.date
    cei_opening_minor: int
    cei_sales_minor: int
    cei: float | None
    promises_kept: float | None
    promises_kept_count: int
    promises_broken_count: int
    promises_pending_count: int
    bad_debt_minor: int
    bad_debt_invoices: int
    stages: Mapping[str, int]
    owners: pd.DataFrame
    trend: pd.DataFrame
    foreign_open: Mapping[str, int] = field(default_factory=dict)
    worklist_days_ahead: int = 7
    #: currency -> (rate, rate date) each foreign currency converted at (``xl_ar.core.fx``)
    fx_rates: Mapping[str, tuple[Decimal, dt.date]] = field(default_factory=dict)

    @property
    def meets_target(self) -> bool | None:
        """Whether the overdue ratio is under its target (None when nothing is open)."""
        return None if self.overdue_ratio is None else self.overdue_ratio < self.overdue_target

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` figures: money in major units, ratios to 4 places, days to 2."""
        money = lambda v: float(to_major(int(v), self.exp))  # noqa: E731
        money_in = lambda c, v: float(to_major(int(v), CURRENCY_EXPONENTS.get(c, 2)))  # noqa: E731
        rnd = lambda v, n: None if v is None or v != v else round(float(v), n)  # noqa: E731
        return {
            "kpi_currency": self.currency,
            "fx_rates": {c: {"rate": float(r), "date": f"{d:%Y-%m-%d}"} for c, (r, d) in sorted(self.fx_rates.items())},
            "fx_excluded": {c: money_in(c, v) for c, v in sorted(self.foreign_open.items())},
            "overdue_ratio": rnd(self.overdue_ratio, 4), "overdue_target": self.overdue_target,
            "meets_target": self.meets_target,
            "dso": {"simple": rnd(self.dso_simple, 2), "countback": rnd(self.dso_countback, 2),
                    "best_possible": rnd(self.best_possible_dso, 2), "period_days": self.dso_days},
            "cei": rnd(self.cei, 4), "add": rnd(self.add, 2),
            "promises_kept": {"ratio": rnd(self.promises_kept, 4), "kept": self.promises_kept_count,
                              "broken": self.promises_broken_count, "pending": self.promises_pending_count},
            "bad_debt": {"amount": money(self.bad_debt_minor), "invoices": self.bad_debt_invoices},
            "stages": dict(self.stages),
            "owners": [{"owner": o.owner, "customers": int(o.customers), "open": money(o.open_minor),
                        "overdue": money(o.overdue_minor), "overdue_ratio": rnd(o.overdue_ratio, 4),
                        "broken_promises": int(o.broken_promises), "bad_debt": money(o.bad_debt_minor)}
                       for o in self.owners.itertuples(index=False)],
            "trend": [{"month_end": f"{pd.Timestamp(t.month_end):%Y-%m-%d}",
                       "buckets": {lab: money(getattr(t, f"b{i}")) for i, lab in enumerate(self.labels)},
                       "open": money(t.open_minor), "overdue": money(t.overdue_minor),
                       "overdue_ratio": rnd(t.overdue_ratio, 4)} for t in self.trend.itertuples(index=False)],
        }


def _owners(ledger: "Ledger", base: _Base, stages: pd.DataFrame, promises: pd.DataFrame) -> pd.DataFrame:
    """Per owner (Customers ``Owner``): customers with open items, open, overdue, broken promises, bad debt."""
    owner = per_invoice(ledger, "account_manager", base.keys)[base.mask]
    open_ = base.open_now_base
    f = pd.DataFrame({"owner": owner, "customer_id": base.inv["customer_id"].to_numpy(dtype=object),
                      "open_minor": open_, "overdue_minor": np.where(base.bucket_now >= 1, open_, 0),
                      "bad_debt_minor": base.conv(stages["bad_debt_minor"].to_numpy(dtype=np.int64)[base.mask])})
    f = f[(f["open_minor"] > 0) | (f["bad_debt_minor"] > 0)]  # written off: no longer open, still bad debt
    f = f.assign(open_customer=f["customer_id"].where(f["open_minor"] > 0))
    g = f.groupby("owner").agg(customers=("open_customer", "nunique"), open_minor=("open_minor", "sum"),
                               overdue_minor=("overdue_minor", "sum"), bad_debt_minor=("bad_debt_minor", "sum"))
    info = customer_info(ledger).set_index("customer_id")["account_manager"]
    broken = promises.loc[promises["state"] == "broken", "customer_id"].map(info).fillna("")
    g = g.join(broken.value_counts().rename("broken_promises"), how="outer").fillna(0).astype(np.int64)
    g.index.name = "owner"
    g = g.reset_index()
    g["overdue_ratio"] = [_share(o, t) for o, t in zip(g["overdue_minor"], g["open_minor"])]
    g["overdue_ratio"] = g["overdue_ratio"].astype(float)
    g = g.sort_values("owner", key=lambda s: s.eq("").astype(int).astype(str) + s, kind="stable")
    cols = ["owner", "customers", "open_minor", "overdue_minor", "overdue_ratio", "broken_promises", "bad_debt_minor"]
    return g[cols].reset_index(drop=True)


def compute_kpis(ledger: "Ledger", result: "Position", stages: pd.DataFrame | None, as_of: dt.date,
                 settings: KpiSettings, promises: PromiseCheck | None = None, trend: bool = True,
                 fx: FxTable | None = None, keys: LedgerKeys | None = None) -> Kpis:
    """Compute every management figure of the module docstring at the as-of date.

    Args:
        ledger: the validated ledger.
        result: the refresh run at ``as_of``.
        stages: :func:`xl_ar.core.stages.assign_stages` of the same run (None: ``result.stages``).
        as_of: the as-of date.
        settings: the KPI settings (see :func:`parse_kpi_settings`).
        promises: the run's :func:`~xl_ar.core.plans.check_promises` (computed when None).
        trend: False leaves the trend empty (its month-ends come from one sort of the events,
            :mod:`xl_ar.core.trend`, a few array passes per month-end).
        fx: rates to the base currency (None: base-currency lines only); lines of a currency
            with no rate by the as-of date are left out and listed in ``foreign_open``.
        keys: the run's :class:`~xl_ar.core.keys.LedgerKeys` of ``ledger`` (made when None).

    Returns:
        The :class:`Kpis`. ``owners``: ``owner``, ``customers``, ``open_minor``,
        ``overdue_minor``, ``overdue_ratio``, ``broken_promises``, ``bad_debt_minor``, no owner
        last. ``trend``: as :func:`aging_trend`.
    """
    if result.as_of != as_of:
        raise ValueError(f"the run is as of {result.as_of}, not {as_of}: use the same day's run")
    stages = stages_of(result, stages)
    base = _Base(ledger, result, settings, fx, keys)
    buckets = tuple(base.buckets_at(as_of))
    total, current = sum(buckets), buckets[0]
    overdue = total - current

    dso_start = period_start(settings.dso_period, as_of)
    days = (as_of - dso_start).days
    sales = base.sales(dso_start, as_of)
    simple, best = dso_simple(total, sales, days), dso_simple(current, sales, days)
    cei_start = period_start(settings.cei_period, as_of)
    opening, cei_sales = int(base.open_base_at(cei_start).sum()), base.sales(cei_start, as_of)

    check = promises if promises is not None else check_promises(ledger, result, as_of)
    state = check.promises["state"]
    kept, broken = int((state == "kept").sum()), int((state == "broken").sum())
    bad = base.conv(stages["bad_debt_minor"].to_numpy(dtype=np.int64)[base.mask])
    # Debt written off in the CEI period left the receivables without being collected.
    wo = base.writeoffs
    wo_cei = 0
    if wo is not None and len(wo):
        w_date = wo["date"].to_numpy(dtype="datetime64[D]")
        w_in = (w_date > np.datetime64(cei_start, "D")) & (w_date <= np.datetime64(as_of, "D"))
        w_base = base.conv(wo["amount_minor"].to_numpy(dtype=np.int64), base.inv_ccy[wo["invoice"].to_numpy(dtype=np.int64)])
        wo_cei = int(w_base[w_in].sum())
    return Kpis(
        as_of=as_of, currency=base.currency, exp=base.exp, labels=tuple(result.labels), buckets=buckets,
        open_minor=total, overdue_minor=overdue, current_minor=current, overdue_ratio=_share(overdue, total),
        overdue_target=settings.overdue_target, dso_start=dso_start, dso_days=days, credit_sales_minor=sales,
        dso_simple=simple, dso_countback=dso_countback(total, base.monthly_sales(as_of)), best_possible_dso=best,
        add=None if simple is None else _float(Fraction(overdue, sales) * days),
        cei_start=cei_start, cei_opening_minor=opening, cei_sales_minor=cei_sales,
        cei=collection_effectiveness(opening, cei_sales, total + wo_cei, current),
        promises_kept=_share(kept, kept + broken), promises_kept_count=kept, promises_broken_count=broken,
        promises_pending_count=int((state == "promised").sum()),
        bad_debt_minor=int(bad.sum()), bad_debt_invoices=int((bad > 0).sum()),
        stages=per_stage_counts(stages), owners=_owners(ledger, base, stages, check.promises),
        trend=_trend(base, as_of, settings.trend_months if trend else 0),
        worklist_days_ahead=settings.worklist_days_ahead,
        foreign_open={c: t.open for c, t in result.tieouts.items()
                      if c != base.currency and t.open and base.fx.rate_on(c, as_of) is None},
        fx_rates=base.used,
    )
