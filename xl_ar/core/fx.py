"""Exchange rates to the base currency, and the one conversion every base-currency figure uses.

The ``FxRates`` sheet (Date, Currency, Rate; 日期, 币种, 汇率) holds dated rates: units of the
base currency per one unit of the currency (USD 7.1000 = one dollar is 7.10 yuan). A figure
as of a date converts at the latest rate dated on or before that date (the rate a month-end
revaluation would use). Conversion is per line, exact on the rate as typed, rounded once
half-up (``xl_ar.core.money.convert_half_up``), and a converted total is the sum of its
converted lines. A currency with no rate by that date is never counted as zero: the lines are
left out of the figure and listed (:attr:`Converted.missing`) so the figure can say what it
excludes. Per-currency tie-outs never convert: they stay exact in their own currency.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from xl_ar.core.issues import Issue
from xl_ar.core.money import CURRENCY_EXPONENTS, convert_half_up, to_major


@dataclass(frozen=True)
class Converted:
    """Amounts converted to the base currency.

    Attributes:
        minor: per line, minor units of the base currency (0 where no rate: see ``known``).
        known: per line, whether it was converted (base currency or a rate on file).
        used: currency -> (rate, rate date) of each foreign currency converted.
        missing: currency -> native minor units left out for want of a rate.
    """

    minor: np.ndarray
    known: np.ndarray
    used: Mapping[str, tuple[Decimal, dt.date]]
    missing: Mapping[str, int]

    @property
    def total(self) -> int:
        """The sum of the converted lines (minor units of the base currency)."""
        return int(self.minor.sum())


@dataclass(frozen=True)
class FxTable:
    """Dated rates to the base currency: ``rates[currency]`` = sorted ``(date, rate)`` pairs."""

    base: str
    rates: Mapping[str, tuple[tuple[dt.date, Decimal], ...]] = field(default_factory=dict)

    @classmethod
    def from_frame(cls, base: str, frame: pd.DataFrame | None) -> "FxTable":
        """Build the table from a validated ``FxRates`` frame (``date``, ``currency``, ``rate``).

        Rows with a blank or bad cell (already reported by validation) are skipped.
        """
        by: dict[str, list[tuple[dt.date, Decimal]]] = {}
        if frame is not None and len(frame):
            ok = frame.dropna(subset=["date", "rate"])
            for day, ccy, rate in zip(ok["date"], ok["currency"], ok["rate"]):
                if ccy == base or not rate > 0:
                    continue
                by.setdefault(str(ccy), []).append((pd.Timestamp(day).date(), Decimal(repr(float(rate)))))
        return cls(base, {c: tuple(sorted(v)) for c, v in by.items()})

    def rate_on(self, currency: str, date: dt.date) -> tuple[Decimal, dt.date | None] | None:
        """The latest rate of ``currency`` dated on or before ``date``.

        Args:
            currency: ISO code.
            date: the day of the figure (the as-of date).

        Returns:
            ``(rate, rate date)``; ``(1, None)`` for the base currency; None when no rate.
        """
        if currency == self.base:
            return Decimal(1), None
        pairs = self.rates.get(currency, ())
        k = bisect.bisect_right([p[0] for p in pairs], date)
        return (pairs[k - 1][1], pairs[k - 1][0]) if k else None

    def convert_minor(self, amounts: np.ndarray, currencies: np.ndarray, date: dt.date) -> Converted:
        """Convert amounts, each in its own currency, to the base currency as of ``date``.

        Args:
            amounts: int64 minor units, one per line.
            currencies: the lines' ISO codes.
            date: the as-of date of the figure.

        Returns:
            The :class:`Converted` lines (each rounded once, half-up), what was used and
            what was left out.
        """
        amounts = np.asarray(amounts, dtype=np.int64)
        currencies = np.asarray(currencies, dtype=object)
        out = np.zeros(len(amounts), np.int64)
        known = np.zeros(len(amounts), bool)
        used: dict[str, tuple[Decimal, dt.date]] = {}
        missing: dict[str, int] = {}
        base_exp = CURRENCY_EXPONENTS.get(self.base, 2)
        for c in pd.unique(currencies):
            m = currencies == c
            hit = self.rate_on(str(c), date)
            if hit is None:
                total = int(amounts[m].sum())
                if total:
                    missing[str(c)] = total
                continue
            known[m] = True
            if c == self.base:
                out[m] = amounts[m]
                continue
            out[m] = convert_half_up(amounts[m], CURRENCY_EXPONENTS.get(str(c), 2), hit[0], base_exp)
            if amounts[m].any():
                used[str(c)] = hit  # type: ignore[assignment]
        return Converted(out, known, used, missing)

    def known_currencies(self, currencies: np.ndarray, date: dt.date) -> np.ndarray:
        """Per line, whether its currency converts as of ``date``."""
        currencies = np.asarray(currencies, dtype=object)
        out = currencies == self.base  # the base currency converts (most lines: no hashing)
        other = np.flatnonzero(~out)
        if len(other):
            codes, distinct = pd.factorize(currencies[other], use_na_sentinel=False)
            out[other] = np.array([self.rate_on(str(c), date) is not None for c in distinct], dtype=bool)[codes]
        return out


def rate_lines(used: Mapping[str, tuple[Decimal, dt.date]]) -> list[str]:
    """The rates a figure used, e.g. ``["USD 7.1000 (2025-03-31)"]``."""
    return [f"{c} {r:.4f} ({d:%Y-%m-%d})" for c, (r, d) in sorted(used.items())]


def missing_text(missing: Mapping[str, int], zh: bool = False) -> str:
    """What a figure left out, e.g. ``"excludes GBP 1,200.00: no rate"`` ("" when nothing)."""
    parts = [f"{c} {to_major(v, CURRENCY_EXPONENTS.get(c, 2)):,}" for c, v in sorted(missing.items())]
    if not parts:
        return ""
    return ("不含 " + "、".join(parts) + "：无汇率") if zh else ("excludes " + ", ".join(parts) + ": no rate")


def check_fx_rates(frame: pd.DataFrame, base: str, where: Callable[[str, int], str],
                   blank_currency: np.ndarray | None = None) -> list[Issue]:
    """Errors of an ``FxRates`` sheet beyond its cells' types.

    Args:
        frame: the typed frame (``date``, ``currency``, ``rate``; blank currency = base).
        base: the base currency.
        where: (field, position) -> the cell's place, e.g. ``FxRates!C4``.
        blank_currency: per row, whether its Currency cell was blank (an error: a rate of what?).

    Returns:
        A non-positive rate and a second rate for the same currency and date are errors; a
        row of the base currency itself is a warning (its rate is 1 by definition).
    """
    issues: list[Issue] = []
    seen: dict[tuple[str, object], int] = {}
    rows = frame["row"].to_numpy()
    for pos, (day, ccy, rate) in enumerate(zip(frame["date"], frame["currency"], frame["rate"])):
        if blank_currency is not None and blank_currency[pos]:
            issues.append(Issue(where("currency", pos), "currency is blank: name the currency the rate converts"))
            continue
        if rate == rate and rate <= 0:
            issues.append(Issue(where("rate", pos), f'rate {rate:g} of {ccy} is not positive; a rate is units of '
                                f'{base} per one {ccy}'))
        if ccy == base:
            issues.append(Issue(where("currency", pos), f"{base} is the base currency: its rate is always 1; "
                                "the row is ignored", "warning"))
            continue
        if day is pd.NaT or day != day:
            continue
        key = (str(ccy), pd.Timestamp(day))
        if key in seen:
            issues.append(Issue(where("rate", pos), f"a second rate for {ccy} on {pd.Timestamp(day):%Y-%m-%d} "
                                f"(first on row {rows[seen[key]]}); keep one"))
        else:
            seen[key] = pos
    return issues


def missing_rate_issues(missing: Mapping[str, int], as_of: dt.date, sheet: str = "FxRates") -> list[Issue]:
    """One warning per currency a figure could not convert, naming it and what was left out."""
    return [Issue(sheet, f"no {c} rate on or before {as_of:%Y-%m-%d}: base-currency figures exclude "
                  f"{c} {to_major(v, CURRENCY_EXPONENTS.get(c, 2)):,}", "warning")
            for c, v in sorted(missing.items())]
