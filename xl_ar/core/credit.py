"""Credit control (信用管理): payment behaviour, score, grade, limit, exposure, hold, review.

Everything here is computed per customer at the run's as-of date, from the allocation of the
same refresh run (docs/domain.md section 1). Definitions:

* **Paid invoice**: an invoice line with a positive amount, dated on or before the as-of
  date, fully paid by then; its *clearing date* is the effective date of the receipt or credit
  note that cleared it (``Position.invoices["cleared_date"]``). Behaviour counts invoices in
  every currency (days do not depend on the currency); money converts to the base currency.
* **Days late** of a paid invoice: ``max(0, clearing date - due date)``. ``avg_days_late`` is
  their mean, ``on_time_rate`` the share cleared on or before the due date (NaN: none paid).
* **A payment made early**: an invoice cleared strictly before its due date. ``early_streak``
  counts the customer's paid invoices, ordered by clearing date (then due date, then sheet
  order), that were early, going back from the latest until the first one that was not.
* **Tenure**: days from the first invoice to the as-of date. **Volume**: net invoiced
  (invoices less credit notes, not below 0), converted to the base currency, over the last
  ``sales_months`` months (invoice date after as-of minus the months, up to as-of).
  **Average monthly sales** = volume / ``sales_months`` (a customer younger than the window
  is divided by the full window: new customers start small, on purpose).
* **Exposure**: open invoices, less unapplied cash and credit (money of the customer's
  already in hand), plus open orders, never below 0, in the base currency: a line in another
  currency converts once, half-up, at the latest ``FxRates`` rate on or before the as-of date
  (``xl_ar.core.fx``; a USD customer with 5,500.00 open at 7.1 has exposure 39,050.00). Lines of
  a currency with no rate are left out, counted in ``foreign_open_count`` and named in
  ``fx_excluded``, never counted as zero silently. Volume converts the same way. **Utilisation** = exposure / limit, where the
  limit is the manual or sheet limit (the suggested limit depends on the score: not used).
* **Score** (0-100): each factor mapped to 0..1, weighted, ``round(100 * sum(w*f) / sum(w))``:
  days late ``1 - min(avg/late_days, 1)`` (0 days = 1, 60+ = 0); on time = the share;
  disputes ``1 - min(share/dispute_share, 1)`` (share of the customer's invoices marked
  disputed; 20%+ = 0); tenure ``min(days / (365*tenure_years), 1)``; volume
  ``min(log(1+v)/log(1+volume), 1)`` in major units (1,000,000 a year = 1); utilisation 1 up to
  ``utilisation_low`` (50%), 0 from ``utilisation_high`` (100%), linear between. A factor with
  no data (nothing paid, no invoice, no limit) counts ``no_data`` (0.5).
* **Grade**: A from 80, B from 65, C from 50, otherwise D; ``ManualGrade`` wins.
* **Behaviour counts what is unpaid too**: ``avg_days_late`` and ``on_time_rate`` take, besides
  paid invoices, every undisputed open invoice past due (its days late so far) and every written-off one
  (its days late at the write-off, never on time); ``overdue_open_count`` and
  ``written_off_count`` count them.
* **Proposed limit** (``suggested_limit_minor`` with ``limit_reason``): with a granted limit
  (``ManualLimit``, else ``CreditLimit``) it starts from that limit; an early streak raises it
  by ``early_raise`` (+15%); only negative news or a hold cut it below (see :func:`_proposals`).
  Without a granted limit it is the grade's limit:
* **Grade's limit**: months of average sales per grade (A 3, B 2, C 1, D 0), or a fixed
  amount per grade; +15% when the early streak is at least 3 (document 002); x0.3 on negative
  news; then rounded down to a multiple of 1,000. Raising is only *suggested*; lowering for
  negative news also applies to the sheet's ``CreditLimit`` at once (docs/domain.md: "negative news
  lowers the limit at once"). **Limit in force**: ``ManualLimit`` > ``CreditLimit`` > suggested.
* **Hold**: any open invoice (any currency) more than 15 days past due (disputed ones excluded by default)
  holds the customer until it is paid; ``ManualHold`` "no" lifts it, "yes" forces one.
* **Next review**: ``LastReview`` + 3 months (day clipped to the month's end); with no
  ``LastReview`` the customer has never been reviewed, so the review is due at the as-of date.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xl_ar.core import registry
from xl_ar.core.convert import is_blank, parse_bool
from xl_ar.core.fx import FxTable, missing_text
from xl_ar.core.keys import LedgerKeys, customer_positions
from xl_ar.core.ledger import Ledger
from xl_ar.core.money import CURRENCY_EXPONENTS, to_minor_array
from xl_ar.core.order import lex_order

if TYPE_CHECKING:  # run.py calls assess_credit: a runtime import would be circular
    from xl_ar.core.position import Position

from xl_ar.core.credit_settings import (  # noqa: F401 - the settings' names, re-exported for the rule's users
    ANCHORS, CREDIT_SETTING_ALIASES, CREDIT_SETTING_DEFAULTS, GRADES, SCORE_FACTORS, CreditSettings, parse_credit_settings,
)


# ----------------------------------------------------------------------------- pure rules


def _score_array(avg_days_late, on_time_rate, dispute_share, tenure_days, volume, utilisation,
                 s: CreditSettings) -> np.ndarray:
    """Vectorised score (see the module docstring); NaN inputs count ``no_data``."""
    f64 = lambda x: np.asarray(x, dtype=np.float64)  # noqa: E731
    late, on, disp, ten, vol, util = map(f64, (avg_days_late, on_time_rate, dispute_share, tenure_days,
                                               volume, utilisation))
    nd = s.no_data
    with np.errstate(invalid="ignore", divide="ignore"):
        parts = {
            "days_late": np.where(np.isnan(late), nd, 1 - np.clip(late / s.late_days, 0, 1)),
            "on_time": np.where(np.isnan(on), nd, np.clip(on, 0, 1)),
            "disputes": np.where(np.isnan(disp), nd, 1 - np.clip(disp / s.dispute_share, 0, 1)),
            "tenure": np.clip(np.nan_to_num(ten) / (365.0 * s.tenure_years), 0, 1),
            "volume": np.clip(np.log1p(np.maximum(np.nan_to_num(vol), 0)) / math.log1p(s.volume), 0, 1),
            "utilisation": np.where(np.isnan(util), nd, 1 - np.clip(
                (util - s.utilisation_low) / (s.utilisation_high - s.utilisation_low), 0, 1)),
        }
    total = sum(s.weights.get(k, 0.0) for k in SCORE_FACTORS)
    raw = sum(s.weights.get(k, 0.0) * parts[k] for k in SCORE_FACTORS) * (100.0 / total)
    # half-up; the epsilon keeps 64.5 computed as 64.4999999 from rounding down
    return np.clip(np.floor(raw + 0.5 + 1e-9), 0, 100).astype(np.int64)


def credit_score(avg_days_late: float | None = None, on_time_rate: float | None = None,
                 dispute_share: float | None = None, tenure_days: float = 0, volume: float = 0,
                 utilisation: float | None = None, settings: CreditSettings = CreditSettings()) -> int:
    """The credit score (0-100) of one customer's payment behaviour.

    Args:
        avg_days_late: mean days late of paid invoices; None = nothing paid yet.
        on_time_rate: share (0..1) of paid invoices paid by the due date; None = nothing paid.
        dispute_share: share (0..1) of invoices disputed; None = no invoices.
        tenure_days: days since the first invoice.
        volume: net invoiced over the sales window, in major units.
        utilisation: exposure / limit; None = no limit set.
        settings: weights and anchors.

    Returns:
        The score, an integer from 0 to 100.
    """
    nan = lambda x: np.nan if x is None else x  # noqa: E731
    return int(_score_array([nan(avg_days_late)], [nan(on_time_rate)], [nan(dispute_share)], [tenure_days],
                            [volume], [nan(utilisation)], settings)[0])


def _grade_array(score: np.ndarray, s: CreditSettings) -> np.ndarray:
    c = s.grade_cutoffs
    score = np.asarray(score, dtype=np.float64)
    return np.select([score >= c["A"], score >= c["B"], score >= c["C"]], ["A", "B", "C"], "D").astype(object)


def grade_for(score: float, settings: CreditSettings = CreditSettings()) -> str:
    """The grade ("A".."D") of a score, by the grade cut-offs."""
    return str(_grade_array(np.array([score]), settings)[0])


def _suggested_major(grade: str, avg_monthly: Fraction, streak: int, news: bool, s: CreditSettings) -> Fraction:
    """Suggested limit in major units, exact: grade base, early raise, news factor, round down."""
    base = Fraction(s.limit_fixed[grade]) if s.limit_fixed is not None else Fraction(s.limit_months[grade]) * avg_monthly
    if streak >= s.early_streak:
        base *= 1 + Fraction(s.early_raise)
    if news:
        base *= Fraction(s.negative_news_factor)
    unit = Fraction(s.limit_rounding)
    return (max(base, Fraction(0)) // unit) * unit


def credit_limit(avg_monthly_sales: float | Decimal | str, score: float | str, early_streak: int = 0,
                 negative_news: bool = False, settings: CreditSettings = CreditSettings()) -> Decimal:
    """The suggested credit limit (for the ``AR_CREDITLIMIT`` worksheet function).

    Args:
        avg_monthly_sales: average monthly net sales in major units (ignored with fixed limits).
        score: the credit score (0-100), or a grade letter "A".."D" to use directly.
        early_streak: invoices in a row paid before their due date, ending with the latest.
        negative_news: whether the customer has negative news.
        settings: grade cut-offs, limit months or fixed limits, raise, factor, rounding.

    Returns:
        The limit in major units, rounded down to ``limit_rounding``.
    """
    grade = str(score).strip().upper() if isinstance(score, str) and str(score).strip().upper() in GRADES \
        else grade_for(float(score), settings)
    sales = Fraction(Decimal(repr(avg_monthly_sales)) if isinstance(avg_monthly_sales, float) else Decimal(avg_monthly_sales))
    x = _suggested_major(grade, sales, int(early_streak), bool(negative_news), settings)
    return Decimal(x.numerator) / Decimal(x.denominator)


def available_credit(limit: float | Decimal | str, exposure: float | Decimal | str) -> Decimal:
    """Credit still available: limit - exposure, negative when over the limit (``AR_AVAILABLE``).

    Args:
        limit: the credit limit in major units.
        exposure: open receivables plus open orders, in major units.

    Returns:
        The difference, exact.
    """
    dec = lambda v: Decimal(repr(v)) if isinstance(v, float) else Decimal(v)  # noqa: E731
    return dec(limit) - dec(exposure)


# ----------------------------------------------------------------------------- per customer


def add_months(dates: np.ndarray, months: int) -> np.ndarray:
    """Dates plus whole calendar months, the day clipped to the month's end (NaT stays NaT)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    ok = ~np.isnat(d)
    safe = np.where(ok, d, np.datetime64("2000-01-01", "D"))
    m = safe.astype("datetime64[M]")
    day = (safe - m.astype("datetime64[D]")).astype(np.int64)
    m2 = m + months
    length = ((m2 + 1).astype("datetime64[D]") - m2.astype("datetime64[D]")).astype(np.int64)
    out = m2.astype("datetime64[D]") + np.minimum(day, length - 1)
    return np.where(ok, out, np.datetime64("NaT", "D"))


def _tri_state(col: pd.Series | None, n: int) -> np.ndarray:
    """yes -> 1, no -> 0, blank or unreadable -> -1 (a typo must not lift or force a hold)."""
    if col is None:
        return np.full(n, -1, np.int8)
    if col.dtype == bool:  # a bool column cannot say "blank": only a yes is taken as meant
        return np.where(col.to_numpy(dtype=bool), 1, -1).astype(np.int8)

    def one(v: Any) -> int:
        if is_blank(v) or v is pd.NA:
            return -1
        try:
            return int(parse_bool(v))
        except (ValueError, TypeError):
            return -1
    return np.array([one(v) for v in col.to_numpy(dtype=object)], dtype=np.int8)


def _money(cust: pd.DataFrame, name: str, exp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(minor units, given) of a money column: ``name`` in major units (NaN = blank), or
    ``name_minor``; validation stores a blank ``*_minor`` as 0, so blankness comes from ``name``."""
    n = len(cust)
    major = pd.to_numeric(cust[name], errors="coerce").to_numpy(np.float64) if name in cust else None
    minor = pd.to_numeric(cust[f"{name}_minor"], errors="coerce").to_numpy(np.float64) if f"{name}_minor" in cust else None
    if major is None and minor is None:
        return np.zeros(n, np.int64), np.zeros(n, bool)
    given = ~np.isnan(major) if major is not None else ~np.isnan(minor)
    if minor is None:
        minor = to_minor_array(np.nan_to_num(major), exp).astype(np.float64)
    return np.where(given, np.nan_to_num(minor), 0).astype(np.int64), given


def _days(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whole days a - b as floats, NaN where either date is missing."""
    delta = np.asarray(a, "datetime64[D]") - np.asarray(b, "datetime64[D]")
    return np.where(np.isnat(delta), np.nan, delta.astype(np.float64))


def assess_credit(ledger: Ledger, result: Position, as_of: dt.date, settings: CreditSettings,
                  orders: pd.DataFrame | None = None, fx: FxTable | None = None,
                  keys: LedgerKeys | None = None) -> pd.DataFrame:
    """Credit figures of every customer at the as-of date.

    Args:
        ledger: the validated ledger. ``ledger.customers`` needs ``customer_id`` and
            ``currency`` (the base currency); it may hold ``credit_limit`` (money, NaN = blank)
            and the optional inputs ``last_review`` (datetime64), ``manual_limit`` (money in
            major units, NaN = blank; or ``manual_limit_minor``), ``manual_grade`` (text
            A-D), ``manual_hold`` (yes/no/blank text or bool) and ``negative_news`` (bool or
            yes/no text). Absent columns count as blank.
        result: the refresh run of the same ledger and as-of date.
        as_of: the as-of date.
        settings: the credit rules.
        orders: optional open orders: ``customer_id``, ``amount_minor`` (or ``amount`` in
            major units), ``status``; optionally ``currency`` (other than the customer's:
            converted by ``fx``) and ``order_date`` (after the as-of date: not counted).
        fx: rates to the base currency (None: base-currency money only).
        keys: the run's :class:`~xl_ar.core.keys.LedgerKeys` of ``ledger`` (made when None).

    Returns:
        One row per row of ``ledger.customers`` (same order): ``customer_id``,
        ``avg_days_late``, ``on_time_rate``, ``paid_count``, ``open_minor``,
        ``unapplied_minor``, ``orders_minor``, ``foreign_open_count`` (open items left out
        for want of a rate), ``fx_excluded`` (what they are, e.g. "excludes GBP 1,200.00: no
        rate"), ``exposure_minor``,
        ``limit_minor``, ``limit_source`` ("manual", "sheet", "suggested"),
        ``available_minor``, ``over_limit``, ``score``, ``grade``, ``avg_monthly_sales_minor``,
        ``suggested_limit_minor``, ``suggested_terms_days``, ``early_streak``, ``hold``,
        ``hold_reason``, ``hold_reason_zh``, ``next_review`` (datetime64[s]), ``review_due``.
    """
    s = settings
    cust = ledger.customers.reset_index(drop=True)
    n = len(cust)
    ids = cust["customer_id"].astype(str).to_numpy(dtype=object)
    ccy = cust["currency"].to_numpy(dtype=object) if "currency" in cust else np.full(n, "CNY", object)
    exp = np.array([CURRENCY_EXPONENTS.get(c, 2) for c in ccy], dtype=np.int64)
    home_ccy = pd.Series(ccy, index=ids)
    home_ccy = home_ccy[~home_ccy.index.duplicated()]
    asof = np.datetime64(as_of, "D")
    # Per-customer figures are reduced over integer keys (a customer listed twice shares one).
    ledger_keys = keys or LedgerKeys(ledger)
    keys = _Keys(ids, ledger_keys.customers)

    inv, ri = ledger.invoices, result.invoices
    exists = ri["exists"].to_numpy(dtype=bool)
    k = np.where(exists, ledger_keys.inv_customer, -1)
    amt = inv["amount_minor"].to_numpy(dtype=np.int64)
    open_ = ri["open_minor"].to_numpy(dtype=np.int64)
    due = inv["due_date"].to_numpy(dtype="datetime64[D]")
    idate = inv["invoice_date"].to_numpy(dtype="datetime64[D]")
    disputed = inv["disputed"].to_numpy(dtype=bool) if "disputed" in inv else np.zeros(len(inv), bool)
    late = _days(ri["cleared_date"].to_numpy(dtype="datetime64[D]"), due)
    overdue = _days(np.full(len(inv), asof), due)
    wo_late = _days(ri["written_off_date"].to_numpy(dtype="datetime64[D]"), due)
    # Money counts every line that converts to the base currency (the customers' currency),
    # each converted once, half-up, at the as-of rate; a line with no rate is left out and named.
    base = str(ccy[0]) if n else (fx.base if fx is not None else "CNY")
    fx = fx if fx is not None and fx.base == base else FxTable(base)
    inv_ccy = inv["currency"].to_numpy(dtype=object)
    open_conv = fx.convert_minor(open_, inv_ccy, as_of)
    home, open_base = open_conv.known, open_conv.minor
    amt_base = fx.convert_minor(amt, inv_ccy, as_of).minor
    pos_inv = (k >= 0) & (amt > 0)

    # Behaviour: every currency; an invoice with no due date has no lateness. Paid invoices
    # count their days late when paid; open ones past due their days late so far; written-off
    # ones their days late when written off, and never as on time.
    paid = pos_inv & ~np.isnan(late)
    written = pos_inv & ~np.isnan(wo_late)
    # A disputed item is not yet late payment: the dispute factor scores it (as the hold skips it).
    overdue_open = pos_inv & (open_ > 0) & (overdue > 0) & np.isnan(wo_late) & ~disputed
    seen = paid | overdue_open | written  # three disjoint sets: written off excludes overdue open
    seen_late = np.where(paid, np.maximum(late, 0), np.where(written, np.maximum(wo_late, 0), overdue))
    seen_n = keys.count(k, seen)
    avg_late = keys.mean(k, seen, seen_late, seen_n)
    on_time = keys.mean(k, seen, (paid & (late <= 0)).astype(np.float64), seen_n)
    paid_count, overdue_count, written_count = (keys.at(keys.count(k, m)) for m in (paid, overdue_open, written))
    streak = keys.at(_early_streaks(keys, k, paid, ri["cleared_date"].to_numpy(dtype="datetime64[D]"), due, late))
    pos_n = keys.count(k, pos_inv)
    dispute_share = keys.mean(k, pos_inv, disputed.astype(np.float64), pos_n)
    first = np.full(len(keys), np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first, k[pos_inv], idate[pos_inv].astype(np.int64))
    tenure = keys.at(np.where(pos_n > 0, asof.astype(np.int64) - first, 0).astype(np.float64))

    # Money: base currency only.
    start = add_months(np.array([asof]), -s.sales_months)[0]
    sales = np.maximum(keys.at(keys.sum(k, (k >= 0) & home & (idate > start), amt_base)), 0)
    open_home = keys.at(keys.sum(k, pos_inv & home, open_base))
    left_out = pos_inv & ~home & (open_ > 0)
    foreign = keys.at(keys.count(k, left_out))
    notes = np.full(len(keys), "", object)
    if left_out.any():
        lo = pd.DataFrame({"k": k[left_out], "ccy": inv_ccy[left_out], "open": open_[left_out]})
        for key, grp in lo.groupby("k", sort=False):
            notes[key] = missing_text(grp.groupby("ccy")["open"].sum().to_dict())
    un = result.unapplied
    un_conv = fx.convert_minor(un["amount_minor"].to_numpy(dtype=np.int64), un["currency"].to_numpy(dtype=object), as_of)
    un_k = keys.of(un["customer_id"].to_numpy(dtype=object))
    unapplied = keys.at(keys.sum(un_k, un_conv.known, un_conv.minor))
    order_minor = _open_orders(orders, ids, home_ccy, exp, asof, s, fx)
    exposure = np.maximum(open_home - unapplied + order_minor, 0).astype(np.int64)

    # Limits: manual > sheet (lowered at once by negative news) > suggested.
    news = _tri_state(cust["negative_news"] if "negative_news" in cust else None, n) == 1
    manual_minor, manual_given = _money(cust, "manual_limit", exp)
    raw_sheet_minor, sheet_given = _money(cust, "credit_limit", exp)
    sheet_minor = np.where(news, _times_half_up(raw_sheet_minor, Fraction(s.negative_news_factor)), raw_sheet_minor)
    known_limit = np.where(manual_given, manual_minor, np.where(sheet_given, sheet_minor, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(known_limit < 0, np.nan, np.where(exposure == 0, 0.0, exposure / known_limit))
    volume_major = sales / np.power(10.0, exp)
    score = _score_array(avg_late, on_time, dispute_share, tenure, volume_major, util, s)
    grade = _grade_array(score, s)
    if "manual_grade" in cust:
        mg = cust["manual_grade"].fillna("").astype(str).str.strip().str.upper().to_numpy(dtype=object)
        grade = np.where(np.isin(mg, GRADES), mg, grade).astype(object)
    by_grade = _grade_limits(grade, sales, streak, news, exp, s)
    limit = np.where(manual_given, manual_minor, np.where(sheet_given, sheet_minor, by_grade)).astype(np.int64)
    source = np.where(manual_given, "manual", np.where(sheet_given, "sheet", "suggested")).astype(object)

    hold, reason_en, reason_zh = _holds(keys, k, pos_inv & (open_ > 0), overdue, disputed,
                                        inv["invoice_no"].to_numpy(dtype=object), cust.get("manual_hold"), s)
    granted = np.where(manual_given, manual_minor, np.where(sheet_given, raw_sheet_minor, -1))
    suggested, why_en, why_zh = _proposals(granted, by_grade, grade, streak, news, hold, s)
    last_review = cust["last_review"].to_numpy(dtype="datetime64[D]") if "last_review" in cust \
        else np.full(n, np.datetime64("NaT"), "datetime64[D]")
    # Never reviewed: the review is due now, not a quarter after some arbitrary date.
    next_review = np.where(np.isnat(last_review), asof, add_months(last_review, s.review_months))

    return pd.DataFrame({
        "customer_id": cust["customer_id"].to_numpy(dtype=object),
        "avg_days_late": keys.at(avg_late), "on_time_rate": keys.at(on_time),
        "paid_count": paid_count, "overdue_open_count": overdue_count, "written_off_count": written_count,
        "open_minor": open_home, "unapplied_minor": unapplied,
        "orders_minor": order_minor, "foreign_open_count": foreign,
        "fx_excluded": keys.at(notes), "exposure_minor": exposure,
        "limit_minor": limit, "limit_source": source, "available_minor": limit - exposure,
        "over_limit": exposure > limit, "score": score, "grade": grade,
        "avg_monthly_sales_minor": (sales // s.sales_months).astype(np.int64),
        "suggested_limit_minor": suggested, "limit_reason": why_en, "limit_reason_zh": why_zh,
        "suggested_terms_days": np.array([s.terms_days[g] for g in grade], dtype=np.int64),
        "early_streak": streak, "hold": hold, "hold_reason": reason_en, "hold_reason_zh": reason_zh,
        "next_review": next_review.astype("datetime64[s]"), "review_due": next_review <= asof,
    })


class _Keys:
    """Customers as integer keys (a customer ID listed twice is one key), for per-customer sums.

    Args:
        ids: the Customers sheet's IDs as text, one per row.
        index: those IDs each once, first listed first (``LedgerKeys.customers``).
    """

    def __init__(self, ids: np.ndarray, index: pd.Index):
        self.index = index
        self.row = self.index.get_indexer(ids)  # per Customers row, its key

    def __len__(self) -> int:
        return len(self.index)

    def of(self, values: np.ndarray) -> np.ndarray:
        """The key of each customer ID (-1: not on the Customers sheet)."""
        return customer_positions(self.index, values)

    def at(self, per_key: np.ndarray) -> np.ndarray:
        """Per-key figures laid out per Customers row."""
        return per_key[self.row]

    def count(self, key: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(key[mask & (key >= 0)], minlength=len(self)).astype(np.int64)

    def sum(self, key: np.ndarray, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Exact integer sums (int64, never through floats)."""
        out = np.zeros(len(self), np.int64)
        m = mask & (key >= 0)
        np.add.at(out, key[m], np.asarray(values, dtype=np.int64)[m])
        return out

    def mean(self, key: np.ndarray, mask: np.ndarray, values: np.ndarray, count: np.ndarray) -> np.ndarray:
        """Means of whole-day (or 0/1) floats: their sums are exact; NaN for a key with none."""
        m = mask & (key >= 0)
        total = np.bincount(key[m], weights=values[m], minlength=len(self))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _early_streaks(keys: _Keys, k: np.ndarray, paid: np.ndarray, cleared: np.ndarray, due: np.ndarray,
                   late: np.ndarray) -> np.ndarray:
    """Per key, the paid invoices in a row, going back from the latest clearing, paid early."""
    pos = np.flatnonzero(paid & (k >= 0))
    pos = pos[lex_order(k[pos], cleared[pos], due[pos])]  # (then in sheet order: pos ascends)
    g = k[pos]
    out = np.zeros(len(keys), np.int64)
    if not len(pos):
        return out
    idx = np.arange(len(pos))
    start = np.maximum.accumulate(np.where(np.r_[True, g[1:] != g[:-1]], idx, 0))
    # the last payment not made early, or the row before the group's first
    last_break = np.maximum(np.maximum.accumulate(np.where(late[pos] < 0, -1, idx)), start - 1)
    end = np.r_[g[1:] != g[:-1], True]
    out[g[end]] = idx[end] - last_break[end]
    return out


def _times_half_up(minor: np.ndarray, factor: Fraction) -> np.ndarray:
    """``floor(x * factor + 1/2)`` per amount, exact (Python integers: no overflow)."""
    x = np.asarray(minor, dtype=object)
    p, q = factor.numerator, factor.denominator
    return ((2 * p * x + q) // (2 * q)).astype(np.int64) if len(x) else np.zeros(0, np.int64)


def _grade_limits(grade: np.ndarray, sales: np.ndarray, streak: np.ndarray, news: np.ndarray, exp: np.ndarray,
                  s: CreditSettings) -> np.ndarray:
    """The grade's limit per customer in minor units: :func:`_suggested_major` of the average
    monthly sales, times ``10**exp``, exact. The rational factor is built once per kind of
    customer (grade, raised, news); each customer then costs one integer division."""
    out = np.zeros(len(grade), np.int64)
    raised = np.asarray(streak) >= s.early_streak
    kinds = pd.DataFrame({"g": grade, "r": raised, "n": np.asarray(news, bool), "e": exp})
    for (g, r, nw, e), rows in kinds.groupby(["g", "r", "n", "e"], sort=False).indices.items():
        scale = 10 ** int(e)
        if s.limit_fixed is not None:
            out[rows] = int(_suggested_major(g, Fraction(0), s.early_streak if r else 0, bool(nw), s) * scale)
            continue
        # (months × sales / (sales_months × scale)) × raise × news, floored to the unit, × scale
        f = Fraction(s.limit_months[g]) / (s.sales_months * scale)
        if r:
            f *= 1 + Fraction(s.early_raise)
        if nw:
            f *= Fraction(s.negative_news_factor)
        step = f / Fraction(s.limit_rounding)  # limits per unit of rounding, per minor unit of sales
        v = np.asarray(sales[rows], dtype=object)
        units = np.maximum((v * step.numerator) // step.denominator, 0)
        unit = Fraction(s.limit_rounding) * scale
        out[rows] = ((units * unit.numerator) // unit.denominator).astype(np.int64)
    return out


def _proposals(granted: np.ndarray, by_grade: np.ndarray, grade: np.ndarray, streak: np.ndarray, news: np.ndarray,
               hold: np.ndarray, s: CreditSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The proposed limit per customer, with its reason (English, Chinese).

    With a granted limit (ManualLimit, else CreditLimit) the proposal starts from it: an early
    streak raises it by ``early_raise`` (the sources' rule: +15% of the granted limit), and it
    goes below it only by a rule that says so: negative news (× the factor) or a hold (down to
    the grade's limit, if lower). Without a granted limit the proposal is the grade's limit.
    Granted-based proposals are exact to the minor unit (half-up), not rounded to
    ``limit_rounding``: +15% of 50,000 is 57,500.
    """
    n = len(granted)
    raised = (np.asarray(streak) >= s.early_streak) & (granted >= 0)
    news = np.asarray(news, bool) & (granted >= 0)
    # x = granted × factor, the factor an exact fraction p/q per (raised, news); Python integers.
    p = np.ones(n, object)
    q = np.ones(n, object)
    for flag, factor in ((raised, 1 + Fraction(s.early_raise)), (news, Fraction(s.negative_news_factor))):
        p = np.where(flag, p * factor.numerator, p)
        q = np.where(flag, q * factor.denominator, q)
    g = np.maximum(granted, 0).astype(object)
    cut = hold & (granted >= 0) & (by_grade.astype(object) * q < g * p)
    half_up = (2 * g * p + q) // (2 * q) if n else np.zeros(0, object)
    out = np.where(granted < 0, by_grade, np.where(cut, by_grade, half_up)).astype(np.int64)

    pct = f"{Decimal(s.early_raise) * 100:f}".rstrip("0").rstrip(".")
    k, gr = np.asarray(streak).astype(str).astype(object), np.asarray(grade, dtype=object).astype(str).astype(object)
    parts_en = [np.where(raised, k + f" invoices paid early in a row: granted limit +{pct}%", ""),
                np.where(news, f"negative news: × {s.negative_news_factor}", ""),
                np.where(cut, "on hold: cut to the grade " + gr + " limit", "")]
    parts_zh = [np.where(raised, "连续 " + k + f" 张发票提前付款：核定额度上调 {pct}%", ""),
                np.where(news, f"负面信息：× {s.negative_news_factor}", ""),
                np.where(cut, "信用冻结：降至 " + gr + " 级额度", "")]
    en = _joined(parts_en, "; ", "granted limit kept")
    zh = _joined(parts_zh, "；", "维持核定额度")
    en = np.where(granted < 0, "grade " + gr + " limit", en).astype(object)
    zh = np.where(granted < 0, gr + " 级额度", zh).astype(object)
    return out, en, zh


def _joined(parts: list[np.ndarray], sep: str, none: str) -> np.ndarray:
    """Per row, the non-empty texts of ``parts`` joined by ``sep`` (``none`` when all are empty)."""
    out = parts[0].astype(object)
    for part in parts[1:]:
        part = part.astype(object)
        out = np.where(part == "", out, np.where(out == "", part, out + sep + part))
    return np.where(out == "", none, out).astype(object)


def _open_orders(orders: pd.DataFrame | None, ids: np.ndarray, home_ccy: pd.Series, exp: np.ndarray,
                 asof: np.datetime64, s: CreditSettings, fx: FxTable | None = None) -> np.ndarray:
    """Open order amounts per customer (minor units of the customer's currency; an order in
    another currency counts converted by ``fx``, and not at all without a rate)."""
    if orders is None or not len(orders) or "customer_id" not in orders:
        return np.zeros(len(ids), np.int64)
    o = orders.reset_index(drop=True)
    cid = o["customer_id"].astype(str)
    if "amount_minor" in o:
        amount = pd.to_numeric(o["amount_minor"], errors="coerce").fillna(0).to_numpy(np.float64)
    else:
        e = cid.map(pd.Series(exp, index=ids).groupby(level=0).first()).fillna(2).to_numpy(np.float64)
        major = pd.to_numeric(o["amount"], errors="coerce").fillna(0).to_numpy(np.float64) if "amount" in o \
            else np.zeros(len(o))
        amount = to_minor_array(major, e.astype(np.int64))
    status = o["status"].map(lambda v: "" if is_blank(v) else registry.fold(v)) if "status" in o else pd.Series("", index=o.index)
    keep = ~status.isin(set(s.closed_order_statuses)).to_numpy()
    if "currency" in o:
        c = o["currency"].fillna("").astype(str).str.strip().str.upper()
        home = cid.map(home_ccy).fillna("")
        if fx is not None:
            conv = fx.convert_minor(amount.astype(np.int64), c.where(c != "", home).to_numpy(dtype=object),
                                    asof.astype(dt.date))
            keep &= conv.known
            amount = conv.minor
        else:
            keep &= ((c == "") | (c == home)).to_numpy()
    if "order_date" in o:
        od = pd.to_datetime(o["order_date"], errors="coerce").to_numpy(dtype="datetime64[D]")
        keep &= np.isnat(od) | (od <= asof)
    sums = pd.Series(amount[keep], index=cid[keep].to_numpy()).groupby(level=0).sum()
    return pd.Series(ids).map(sums).fillna(0).to_numpy().astype(np.int64)


def _holds(keys: _Keys, k: np.ndarray, open_: np.ndarray, overdue: np.ndarray, disputed: np.ndarray,
           invoice_no: np.ndarray, manual: pd.Series | None, s: CreditSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hold, English reason, Chinese reason) per customer; the reason names the worst invoice.

    Args:
        keys, k: the customers' keys and each invoice row's key (-1: not counted).
        open_: per invoice row, whether it is a positive line still open.
        overdue: days past due at the as-of date (NaN: no due date).
        disputed, invoice_no: per invoice row.
        manual: the ``ManualHold`` column (None: absent).
        s: the credit settings.
    """
    n = len(keys.row)
    over = np.flatnonzero((k >= 0) & open_ & (overdue > s.hold_days) & (s.hold_includes_disputed | ~disputed))
    # the worst: most days overdue, then the first on the sheet
    over = over[lex_order(k[over], -overdue[over])]
    first = np.r_[True, k[over][1:] != k[over][:-1]] if len(over) else np.zeros(0, bool)
    worst_no = np.full(len(keys), "", object)
    worst_days = np.full(len(keys), -1, np.int64)
    worst_no[k[over[first]]] = invoice_no[over[first]]
    worst_days[k[over[first]]] = overdue[over[first]].astype(np.int64)
    no, days = keys.at(worst_no).astype(str).astype(object), keys.at(worst_days)
    is_over = np.zeros(len(k), bool)
    is_over[over] = True
    more = keys.at(keys.count(k, is_over)) - 1
    auto = days >= 0
    h = str(s.hold_days)
    d_txt, more_txt = days.astype(str).astype(object), more.astype(str).astype(object)
    en = no + " overdue " + d_txt + f" days > {h}"
    zh = no + " 逾期 " + d_txt + f" 天，超过 {h} 天"
    en = np.where(more > 0, en + " (and " + more_txt + " more)", en)
    zh = np.where(more > 0, zh + "（另有 " + more_txt + " 张逾期发票）", zh)
    flag = _tri_state(manual, n)
    hold = np.where(flag == 1, True, np.where(flag == 0, False, auto))
    forced = hold & ~auto
    en = np.where(forced, "manual hold (ManualHold = yes)", np.where(hold, en, "")).astype(object)
    zh = np.where(forced, "人工冻结（ManualHold = 是）", np.where(hold, zh, "")).astype(object)
    return hold.astype(bool), en, zh
