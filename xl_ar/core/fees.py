"""Late fees (违约金 / 逾期利息): an explicit registry of policies over one vectorised engine.

Every policy follows the same rules, so that the numbers on a dunning letter can be checked
by hand:

* **Days late.** An item's first late day is ``due_date + grace_days + 1``; it accrues for
  every day from then to ``as_of`` inclusive. With no grace, an unpaid invoice due on
  31 January has 1 day of interest at as-of 1 February.
* **Balance of a day.** Interest for day *d* is charged on the principal less the payments
  dated *before* d: a payment dated d still bears that day's interest. Interest thus runs up
  to and including the day of payment (自逾期之日起至实际支付之日止; 支払をする日まで), which
  is what ``amount * rate * (paid - due)`` gives in a spreadsheet, and the fee of an invoice
  paid on day t equals the fee quoted on day t: recording the payment never changes it.
  Payments dated on or after ``as_of`` therefore have no effect.
* **One rounding.** The interest of an item is summed exactly over its segments (float64
  of minor units; the rate sums of the statutory presets are integer micro-percent-days) and
  rounded half-up once, with :func:`xl_ar.core.money.round_half_up`.
* **Cap.** ``cap * principal``, rounded half-up, bounds the charge of every policy (interest,
  flat fee or share). Statutory compensation (UK s.5A, EU Art. 6, § 288(5) BGB) is a separate
  claim: it is added after the cap and is not limited by it.
* **Compensation** is due once the debt is late (after grace) with something still owed at
  the start of its first late day, and only when the invoice is in the statute's currency;
  otherwise a note says why it was left out.
* **Monotone.** The fee never decreases as ``as_of`` moves forward, and a payment never
  increases it.

The core runs on arrays: one row per item plus one row per payment inside the late period,
sorted once; no Python loop over items or days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Callable, ClassVar

import numpy as np
import pandas as pd

from xl_ar.core.money import exponent, round_half_up, to_major, to_minor
from xl_ar.core.order import lex_order
from xl_ar.core.rates import RateTable, fixing_dates, to_days

Notes = list[tuple[int, str]]
#: Notes as policies produce them: (item positions, one text for all of them).
NoteChunks = list[tuple[np.ndarray, str]]

# Statutory rates are summed in integer micro-percent-days, exact whatever the number of
# days; one division at the end turns them into a share of the balance (100 % * 365 days).
_MICRO = 1_000_000
_YEAR_UNITS = _MICRO * 100 * 365


@dataclass(frozen=True)
class FeeTerms:
    """The late-fee terms of a run.

    Attributes:
        policy: a key of :data:`LATE_FEE_POLICIES`.
        rate: None = the policy's default; per day (``daily``), per year (``annual``), the
            fee in the invoice's currency (``fixed``) or a share (``percent``). Ignored by the
            statutory presets: the law sets their rate.
        grace_days: days after the due date without any fee.
        cap: the charge is at most ``cap * principal``; None = no cap.
    """

    policy: str = "daily"
    rate: float | None = None
    grace_days: int = 0
    cap: float | None = None


@dataclass(frozen=True, eq=False)
class FeeResult:
    """Late fees of a set of items.

    Attributes:
        fee_minor: int64, one per item, in the item's currency minor units.
        notes: (item position, short English note), sorted by position.
        compensation_minor: the statutory compensation included in ``fee_minor`` (a letter
            states it apart from the interest); None when not computed.
    """

    fee_minor: np.ndarray
    notes: Notes = field(default_factory=list)
    compensation_minor: np.ndarray | None = None


class Lateness:
    """What every policy needs to know about the items at the as-of date.

    Attributes:
        n: number of items.
        principal, exp: int64 per item.
        start: int64 day number of each item's first late day.
        late: bool per item: a positive principal, a due date, and ``start <= as_of``.
        opening: int64 per item: the balance owed at the start of the first late day (0 for
            items that are not late).
        as_of: the as-of day number (days since 1970-01-01).
    """

    def __init__(self, items: pd.DataFrame, payments: pd.DataFrame | None, as_of: dt.date, grace_days: int):
        """Prepare the items (see :func:`late_fees` for the columns).

        Args:
            items: the items table.
            payments: the payments table, or None.
            as_of: the as-of date.
            grace_days: days after the due date without any fee.
        """
        self.n = len(items)
        self.principal = items["principal_minor"].to_numpy(dtype=np.int64)
        self.exp = items["exp"].to_numpy(dtype=np.int64)
        self._currency = items["currency"]
        self.as_of = int(to_days(as_of)[0].astype(np.int64))
        due = to_days(items["due_date"])
        nat = np.isnat(due)
        self.start = np.where(nat, self.as_of + 1, due.astype(np.int64) + grace_days + 1)
        self.late = (self.principal > 0) & ~nat & (self.start <= self.as_of)

        pi, pday, amt = _payment_arrays(payments, self.n)
        # Only payments of late items dated before as-of can change a day in the late period.
        keep = self.late[pi] & (pday < self.as_of)
        pi, pday, amt = pi[keep], pday[keep], amt[keep]
        before = pday < self.start[pi]
        paid_before = np.rint(np.bincount(pi[before], weights=amt[before], minlength=self.n)).astype(np.int64)
        self.opening = np.where(self.late, np.maximum(self.principal - paid_before, 0), 0)
        self._inside = (pi[~before], pday[~before], amt[~before])
        self._paid_before = paid_before

    @cached_property
    def currencies(self) -> tuple[np.ndarray, list[str]]:
        """(code per item, upper-case currency names): ``names[code]`` is the item's currency."""
        # A ledger holds a handful of currencies: normalise each distinct value once.
        codes, uniques = pd.factorize(self._currency, use_na_sentinel=True)
        names = [str(u).strip().upper() for u in uniques] + [""]
        return np.where(codes < 0, len(names) - 1, codes), names

    @cached_property
    def segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Runs of days with one balance: (item, first day, last day, balance), balance > 0.

        One head row per late item starts at its first late day with the opening balance;
        each payment dated inside the late period starts a new row on the next day.
        """
        heads = np.flatnonzero(self.late)
        pi, pday, amt = self._inside
        item = np.concatenate([heads, pi])
        # A head behaves like a payment made on the day before the first late day.
        key = np.concatenate([self.start[heads] - 1, pday])
        amount = np.concatenate([self._paid_before[heads], amt])
        is_head = np.zeros(len(item), dtype=bool)
        is_head[: len(heads)] = True
        if len(item) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty
        order = lex_order(item, key)
        item, key, amount, is_head = item[order], key[order], amount[order], is_head[order]
        cum = np.cumsum(amount)
        group = np.cumsum(is_head) - 1
        cum = cum - (cum - amount)[is_head][group]
        balance = np.maximum(self.principal[item] - cum, 0)
        first = key + 1
        last = np.empty_like(key)
        last[:-1] = key[1:]
        ends = np.append(is_head[1:], True)
        last[ends] = self.as_of
        keep = (balance > 0) & (last >= first)
        return item[keep], first[keep], last[keep], balance[keep]


def _payment_arrays(payments: pd.DataFrame | None, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if payments is None or len(payments) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    pi = payments["item"].to_numpy(dtype=np.int64)
    if len(pi) and (pi.min() < 0 or pi.max() >= n):
        raise ValueError(f"late fees: payment item positions must be 0..{n - 1}")
    pday = to_days(payments["date"])
    if np.isnat(pday).any():
        raise ValueError("late fees: every payment needs a date")
    return pi, pday.astype(np.int64), payments["amount_minor"].to_numpy(dtype=np.int64)


RateSum = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _accrue(late: Lateness, rate_sum: RateSum) -> np.ndarray:
    """Sum balance * (sum of daily rates over the segment's days) per item, unrounded."""
    item, first, last, balance = late.segments
    if len(item) == 0:
        return np.zeros(late.n)
    return np.bincount(item, weights=balance * rate_sum(item, first, last), minlength=late.n)


def _stale_notes(items: np.ndarray, series: str, known: np.datetime64) -> NoteChunks:
    text = (f"{series} rate after {known} (last date checked) taken as unchanged; "
            "add newer rates to the Rates sheet")
    return [(np.unique(items), text)] if len(items) else []


def _merge_notes(chunks: NoteChunks) -> Notes:
    """Flatten note chunks into (position, text) pairs sorted by position."""
    chunks = [(np.asarray(i, dtype=np.int64), t) for i, t in chunks if len(i)]
    if not chunks:
        return []
    items = np.concatenate([i for i, _ in chunks])
    which = np.repeat(np.arange(len(chunks)), [len(i) for i, _ in chunks])
    order = np.argsort(items, kind="stable")
    texts = [t for _, t in chunks]
    return list(zip(items[order].tolist(), map(texts.__getitem__, which[order].tolist())))


class LateFeePolicy:
    """A late-fee policy: its identity and its charge (subclasses fill both in).

    Attributes:
        key: the registry key users type in Settings (``LateFeePolicy``).
        label, label_zh: one-line description, English and Chinese.
        default_rate: the rate used when ``FeeTerms.rate`` is None (None when the law takes
            the rate from a reference-rate table).
        statutory: True for a legal preset, which ignores ``FeeTerms.rate``.
        source: short citation of the legal source (statutory presets).
    """

    key: ClassVar[str]
    label: ClassVar[str]
    label_zh: ClassVar[str]
    default_rate: ClassVar[float | None] = None
    #: The largest rate a ledger may set: beyond it the rate is surely a typo (and fees overflow).
    max_rate: ClassVar[float | None] = None
    statutory: ClassVar[bool] = False
    source: ClassVar[str] = ""
    needs_rates: ClassVar[bool] = False

    def charge(self, late: Lateness, rate: float | None,
               rates: RateTable | None) -> tuple[np.ndarray, NoteChunks]:
        """The unrounded charge per item in minor units (before cap and compensation).

        Args:
            late: the items at the as-of date.
            rate: the effective rate (``FeeTerms.rate`` or the default).
            rates: reference rates (policies with ``needs_rates``).

        Returns:
            (float64 array, notes as chunks).
        """
        raise NotImplementedError

    def compensation(self, late: Lateness) -> tuple[np.ndarray, NoteChunks]:
        """Statutory fixed compensation per item in minor units, added after the cap."""
        return np.zeros(late.n, dtype=np.int64), []

    def __repr__(self) -> str:
        return f"<LateFeePolicy {self.key}>"


class DailyRate(LateFeePolicy):
    """A rate per day on the overdue balance; default 0.05% a day (万分之五), the example of
    the source documents (docs/domain.md section 2)."""

    key = "daily"
    label = "Rate per day on the overdue balance (default 0.05%/day)"
    label_zh = "按日利率计收逾期金额的违约金（默认每日万分之五）"
    default_rate = 0.0005
    max_rate = 0.01  # 1% a day is 365% a year

    def charge(self, late, rate, rates):
        return _accrue(late, lambda item, first, last: rate * (last - first + 1)), []


class AnnualRate(LateFeePolicy):
    """A rate per year on the overdue balance, simple interest, daily rate = rate / 365 (also
    in leap years). Default 12% a year, a moderate contractual rate; set the contract's own
    rate in Settings."""

    key = "annual"
    label = "Rate per year on the overdue balance, rate/365 a day (default 12%)"
    label_zh = "按年利率计收（日利率 = 年利率/365，默认年12%）"
    default_rate = 0.12
    max_rate = 3.65  # as much as 1% a day

    def charge(self, late, rate, rates):
        return _accrue(late, lambda item, first, last: rate * (last - first + 1) / 365.0), []


class FixedFee(LateFeePolicy):
    """A flat fee, charged once when the item is late beyond grace and something is still
    owed at the start of its first late day. ``rate`` is the fee in the invoice's own
    currency (major units); default 100. Reminder-by-reminder fees are not modelled: the fee
    is charged once per item."""

    key = "fixed"
    label = "Flat fee once overdue (default 100 in the invoice currency)"
    label_zh = "逾期一次性固定费用（默认100，按发票币种）"
    default_rate = 100.0
    max_rate = 1e9  # a flat fee in the invoice currency

    def charge(self, late, rate, rates):
        due = late.late & (late.opening > 0)
        return np.where(due, rate * np.power(10.0, late.exp), 0.0), []


class PercentFee(LateFeePolicy):
    """A one-off share ``rate`` of the amount owed at the start of the first late day;
    default 2%."""

    key = "percent"
    label = "One-off share of the overdue amount (default 2%)"
    label_zh = "按逾期金额一次性收取比例（默认2%）"
    default_rate = 0.02
    max_rate = 1.0  # all of the overdue amount

    def charge(self, late, rate, rates):
        return np.where(late.late, rate * late.opening.astype(np.float64), 0.0), []


class ChinaSmePayment(DailyRate):
    """China: 保障中小企业款项支付条例 (Regulation on Ensuring Payment to Small and
    Medium-sized Enterprises), State Council Decree No. 728 of 2020-07-05, in force
    2020-09-01, Art. 15: where 机关、事业单位和大型企业 pay an SME late and the contract sets
    no rate, overdue interest is 0.05% a day (每日利率万分之五); an agreed rate may not be below
    the one-year LPR at signing. The Regulation was revised by Decree No. 802 (2025-03-17, in
    force 2025-06-01, 37 articles); the renumbered article of the revised text was not
    confirmed when checked. Date checked: 2026-11-24. ``rate`` is ignored."""

    key = "cn-sme"
    label = "China SME Payment Regulation: 0.05% a day"
    label_zh = "保障中小企业款项支付条例：每日万分之五"
    statutory = True
    source = "保障中小企业款项支付条例 (国务院令第728号) 第十五条; revised by 国务院令第802号"


class JapanSubcontract(AnnualRate):
    """Japan: 下請代金支払遅延等防止法 (Act against Delay in Payment of Subcontract Proceeds),
    Art. 4-2, and the JFTC rule setting the rate: 14.6% a year, counted per day (/365).
    From 2026-01-01 the Act is 製造委託等に係る中小受託事業者に対する代金の支払の遅延等の防止に関する
    法律 (取適法); its Art. 6 keeps the delay interest and JFTC Rule 令和7年第9号 (promulgated
    2025-10-01) keeps the rate at 14.6%. The statute counts from the day 60 days after receipt
    of the goods (受領日から起算して六十日を経過した日), not from the agreed due date: enter that
    date as the due date. Date checked: 2026-11-24. ``rate`` is ignored."""

    key = "jp-subcontract"
    label = "Japan subcontract act (取適法) delay interest: 14.6% a year"
    label_zh = "日本分包法（取适法）迟延利息：年14.6%"
    default_rate = 0.146
    statutory = True
    source = "下請法 第4条の2 / 取適法 第6条; 公正取引委員会規則 (14.6%)"


class UkLatePayment(LateFeePolicy):
    """UK: Late Payment of Commercial Debts (Interest) Act 1998 as amended. Statutory
    interest (s.4, s.6) is simple interest at 8% over the Bank of England's official dealing
    rate (Bank Rate) in force on 31 December (debts whose interest starts to run in
    January-June) or 30 June (July-December) before the day interest starts to run: The Late
    Payment of Commercial Debts (Rate of Interest) (No. 3) Order 2002 (SI 2002/1675), art. 4.
    The rate is fixed for the debt's whole life; per day = rate / 365. Fixed compensation
    (s.5A, inserted by SI 2002/1674): GBP 40 for a debt under 1,000, GBP 70 from 1,000 to
    under 10,000, GBP 100 from 10,000; the band uses the amount still owed when the debt
    became late. Here the debt becomes late on the first day after the grace days.
    Date checked: 2026-11-24. ``rate`` is ignored; reference rates come from ``boe-base``."""

    key = "uk-late-payment"
    label = "UK Late Payment Act: Bank Rate + 8% a year, plus GBP 40/70/100"
    label_zh = "英国商业债务逾期付款法：央行基准利率+8%年息，另加40/70/100英镑补偿"
    statutory = True
    needs_rates = True
    source = "Late Payment of Commercial Debts (Interest) Act 1998 s.4-6, s.5A; SI 2002/1675 art. 4"
    series = "boe-base"
    margin = 8.0
    _BANDS_MAJOR = ((1_000, 40), (10_000, 70), (None, 100))

    def charge(self, late, rate, rates):
        heads = np.flatnonzero(late.late & (late.opening > 0))  # the items that accrue
        q = np.zeros(late.n, dtype=np.int64)
        notes: NoteChunks = []
        if len(heads):
            start = late.start[heads].astype("datetime64[D]")
            ref = rates.half_year_reference(self.series, start, fixing="uk")
            q[heads] = np.rint((ref + self.margin) * _MICRO).astype(np.int64)
            known = rates.known_through(self.series)
            if known is not None:
                notes = _stale_notes(heads[fixing_dates(start, "uk") > known], self.series, known)
        units = lambda item, first, last: q[item] * (last - first + 1) / _YEAR_UNITS  # noqa: E731
        return _accrue(late, units), notes

    def compensation(self, late):
        due = late.late & (late.opening > 0)
        major = np.full(late.n, self._BANDS_MAJOR[-1][1], dtype=np.int64)
        scale = np.power(10, late.exp)
        for limit, amount in reversed(self._BANDS_MAJOR[:-1]):
            major = np.where(late.opening < limit * scale, amount, major)
        label = "GBP 40/70/100 (Late Payment Act s.5A)"
        return _statutory_compensation(late, due, "GBP", major * scale, label)


class HalfYearlyReferenceRate(LateFeePolicy):
    """Base of the presets whose rate is a reference rate + margin, reset each half-year over
    the debt's life, plus a flat compensation in one currency."""

    statutory = True
    needs_rates = True
    series: ClassVar[str]
    margin: ClassVar[float]
    fixing: ClassVar[str] = "start"
    comp_currency: ClassVar[str] = "EUR"
    comp_major: ClassVar[int] = 40
    comp_label: ClassVar[str] = ""

    def charge(self, late, rate, rates):
        item, first, last, balance = late.segments
        if len(item) == 0:
            return np.zeros(late.n), []
        # Half-year starts covering every accrual day; F(d) = micro-percent-days before d.
        lo = first.min().astype("datetime64[D]").astype("datetime64[M]")
        hi = last.max().astype("datetime64[D]").astype("datetime64[M]")
        lo = lo - (lo.astype(np.int64) % 6)
        breaks = np.arange(lo, hi + 1, 6).astype("datetime64[D]")
        q = np.rint((rates.half_year_reference(self.series, breaks, self.fixing) + self.margin) * _MICRO)
        q = q.astype(np.int64)
        b = breaks.astype(np.int64)
        f_at = np.concatenate([[0], np.cumsum(q[:-1] * np.diff(b))])

        def cumulative(d: np.ndarray) -> np.ndarray:
            k = np.searchsorted(b, d, side="right") - 1
            return f_at[k] + q[k] * (d - b[k])

        units = cumulative(last + 1) - cumulative(first)
        raw = np.bincount(item, weights=balance * (units / _YEAR_UNITS), minlength=late.n)
        notes: NoteChunks = []
        known = rates.known_through(self.series)
        if known is not None:
            stale = fixing_dates(last.astype("datetime64[D]"), self.fixing) > known
            notes = _stale_notes(item[stale], self.series, known)
        return raw, notes

    def compensation(self, late):
        due = late.late & (late.opening > 0)
        amount = self.comp_major * np.power(10, late.exp)
        return _statutory_compensation(late, due, self.comp_currency, amount, self.comp_label)


class EuLatePayment(HalfYearlyReferenceRate):
    """EU: Directive 2011/7/EU on combating late payment in commercial transactions.
    Art. 2(6): statutory interest is simple interest at the reference rate + at least 8
    percentage points; Art. 2(7)(a): for the euro, the ECB rate on its most recent main
    refinancing operations; Art. 3(2): the rate in force on 1 January applies to January-June
    and the rate in force on 1 July to July-December, so the rate changes each half-year over
    the debt's life; per day = rate / 365. Art. 6: EUR 40 fixed compensation once interest is
    due. This preset is the Directive's minimum; national laws may add more (Germany: use
    ``de-bgb-288``). Date checked: 2026-11-24. ``rate`` is ignored; reference rates come from
    ``ecb-mro``."""

    key = "eu-late-payment"
    label = "EU Late Payment Directive: ECB rate + 8 points, plus EUR 40"
    label_zh = "欧盟逾期付款指令：欧洲央行再融资利率+8个百分点，另加40欧元"
    source = "Directive 2011/7/EU Art. 2(6)-(7), Art. 3(2), Art. 6"
    series = "ecb-mro"
    margin = 8.0
    comp_label = "EUR 40 (Directive 2011/7/EU Art. 6)"


class GermanyBgb288(HalfYearlyReferenceRate):
    """Germany: § 288(2) BGB: in a transaction without a consumer, interest on a claim for
    payment is 9 percentage points over the Basiszinssatz of § 247 BGB, which the Bundesbank
    resets on 1 January and 1 July (so the rate changes each half-year); per day = rate / 365.
    § 288(5) BGB: a EUR 40 lump sum (Pauschale) when the debtor is in default.
    Date checked: 2026-11-24. ``rate`` is ignored; rates come from ``de-basiszins``."""

    key = "de-bgb-288"
    label = "Germany § 288(2) BGB: Basiszinssatz + 9 points, plus EUR 40"
    label_zh = "德国民法典第288条第2款：基础利率+9个百分点，另加40欧元"
    source = "BGB § 288 Abs. 2 und 5, § 247"
    series = "de-basiszins"
    margin = 9.0
    comp_label = "EUR 40 (§ 288(5) BGB)"


def _statutory_compensation(late: Lateness, due: np.ndarray, currency: str, amount: np.ndarray,
                            label: str) -> tuple[np.ndarray, NoteChunks]:
    idx = np.flatnonzero(due)
    out = np.zeros(late.n, dtype=np.int64)
    if len(idx) == 0:
        return out, []
    codes, names = late.currencies
    found = codes[idx]
    ours = np.isin(found, [k for k, name in enumerate(names) if name == currency])
    out[idx[ours]] = amount[idx[ours]]
    notes = [
        (idx[found == k],
         f"compensation {label} not added: invoice currency is {names[k] or 'blank'}, not {currency}")
        for k in np.unique(found[~ours])
    ]
    return out, notes


#: Every late-fee policy by key; the Settings sheet's ``LateFeePolicy`` names one of them.
LATE_FEE_POLICIES: dict[str, LateFeePolicy] = {
    p.key: p
    for p in (
        DailyRate(), AnnualRate(), FixedFee(), PercentFee(), ChinaSmePayment(),
        UkLatePayment(), EuLatePayment(), GermanyBgb288(), JapanSubcontract(),
    )
}


def policy_for(key: str) -> LateFeePolicy:
    """Return the policy registered under a key (case and spaces ignored).

    Args:
        key: e.g. ``"daily"`` or ``"UK-Late-Payment"``.

    Returns:
        The :class:`LateFeePolicy`.

    Raises:
        ValueError: the key is unknown (the message lists the known keys).
    """
    policy = LATE_FEE_POLICIES.get(str(key).strip().lower())
    if policy is None:
        raise ValueError(f'unknown late-fee policy "{key}"; use one of {", ".join(LATE_FEE_POLICIES)}')
    return policy


def _check_terms(terms: FeeTerms) -> None:
    if isinstance(terms.grace_days, bool) or int(terms.grace_days) != terms.grace_days or terms.grace_days < 0:
        raise ValueError(f"late fees: grace days must be a whole number >= 0, not {terms.grace_days!r}")
    for name in ("rate", "cap"):
        v = getattr(terms, name)
        if v is not None and not (np.isfinite(v) and v >= 0):
            raise ValueError(f"late fees: {name} must be a number >= 0, not {v!r}")


def late_fees(items: pd.DataFrame, payments: pd.DataFrame | None, as_of: dt.date, terms: FeeTerms,
              rates: RateTable | None = None) -> FeeResult:
    """Compute the late fee of every item at an as-of date.

    Args:
        items: one row per invoice: ``principal_minor`` (int64; <= 0 means a credit note, fee
            0), ``due_date`` (datetime64; NaT gives fee 0), ``currency`` (ISO code), ``exp``
            (minor-unit exponent).
        payments: money applied to items: ``item`` (position in ``items``), ``date``
            (datetime64), ``amount_minor`` (int64 > 0). Payments dated on or after ``as_of``
            have no effect (see the module docstring). May be None or empty.
        as_of: the as-of date.
        terms: the fee terms.
        rates: reference rates for the statutory presets; None = the packaged table.

    Returns:
        A :class:`FeeResult` (fees in each item's minor units, notes per item).

    Raises:
        ValueError: unknown policy, invalid terms, payment positions out of range, or a
            reference rate missing for a date (the message names series and date).
    """
    policy = policy_for(terms.policy)
    _check_terms(terms)
    rate = policy.default_rate if (policy.statutory or terms.rate is None) else float(terms.rate)
    if policy.needs_rates and rates is None:
        rates = RateTable.default()
    late = Lateness(items, payments, as_of, int(terms.grace_days))
    raw, notes = policy.charge(late, rate, rates)
    fee = round_half_up(np.maximum(raw, 0.0))
    if terms.cap is not None:
        fee = np.minimum(fee, round_half_up(float(terms.cap) * late.principal.astype(np.float64)))
    fee = np.where(late.late, fee, 0)
    compensation, more = policy.compensation(late)
    return FeeResult((fee + compensation).astype(np.int64), _merge_notes(notes + more), compensation.astype(np.int64))


def late_fee(amount: float, due_date: dt.date | None, as_of: dt.date, terms: FeeTerms,
             currency: str = "CNY", rates: RateTable | None = None) -> Decimal:
    """The late fee of one unpaid amount (for the ``AR_LATEFEE`` worksheet function).

    Args:
        amount: the overdue amount in major units.
        due_date: its due date (None gives 0).
        as_of: the as-of date.
        terms: the fee terms.
        currency: ISO code of the amount.
        rates: reference rates; None = the packaged table.

    Returns:
        The fee in major units, exact to the currency's minor unit.
    """
    exp = exponent(currency)
    items = pd.DataFrame({
        "principal_minor": np.array([to_minor(amount, exp)], dtype=np.int64),
        "due_date": to_days([due_date if due_date is not None else "NaT"]),
        "currency": [currency.upper()],
        "exp": np.array([exp], dtype=np.int64),
    })
    return to_major(int(late_fees(items, None, as_of, terms, rates).fee_minor[0]), exp)
