"""What a late fee rests on, for a letter that lets the customer check it by hand.

A dunning letter states more than the fee: the policy, the method (daily or annual simple
interest, a fixed fee, a share of the overdue amount), the rate, the period (from each item's
first day of interest to the letter's date, and on until payment), the legal source, and any
statutory compensation. :func:`fee_basis` gives those facts for one customer's terms; the
wording is the documents layer's.

:data:`LETTER_SOURCES` is the registry of the citations a letter prints for the statutory
presets of :data:`xl_ar.core.fees.LATE_FEE_POLICIES` (statute and article, in Chinese and in
English); a contractual policy rests on the contract.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from xl_ar.core.fees import FeeTerms, policy_for
from xl_ar.core.rates import RateTable

#: Policy key -> (Chinese citation, English citation) printed on a letter.
LETTER_SOURCES: dict[str, tuple[str, str]] = {
    "cn-sme": ("《保障中小企业款项支付条例》（国务院令第728号）第十五条",
               "Regulation on Ensuring Payment to Small and Medium-sized Enterprises "
               "(保障中小企业款项支付条例, State Council Decree No. 728), Art. 15"),
    "uk-late-payment": ("英国《1998年商业债务逾期付款（利息）法》第4条（法定利息）及第5A条（固定补偿）",
                        "Late Payment of Commercial Debts (Interest) Act 1998, s.4 (statutory interest) "
                        "and s.5A (fixed compensation)"),
    "eu-late-payment": ("欧盟第2011/7/EU号指令第2条、第3条（法定利息）及第6条（补偿）",
                        "Directive 2011/7/EU, Art. 2 and 3 (statutory interest) and Art. 6 (compensation)"),
    "de-bgb-288": ("德国民法典（BGB）第288条第2款（迟延利息）及第5款（40欧元定额补偿）",
                   "§ 288 BGB: para. 2 (default interest) and para. 5 (EUR 40 lump sum)"),
    "jp-subcontract": ("日本《下请法》第4条之2／《取适法》第6条（迟延利息年14.6%）",
                       "Japan Subcontract Act Art. 4-2 / Act on Payment to Small Entrusted Businesses "
                       "Art. 6 (delay interest 14.6% a year)"),
}

#: Method of each policy family: what a letter calls it.
METHODS = {"daily": "daily", "cn-sme": "daily", "annual": "annual", "jp-subcontract": "annual",
           "uk-late-payment": "annual", "eu-late-payment": "annual", "de-bgb-288": "annual",
           "fixed": "fixed", "percent": "percent"}


@dataclass(frozen=True)
class FeeBasis:
    """The basis of one customer's late fee.

    Attributes:
        policy: the policy key; ``label``/``label_zh`` its description.
        method: "daily", "annual" (simple interest, rate/365 a day), "fixed" or "percent".
        rate: per day (daily), per year (annual), the fee in the invoice's currency (fixed) or
            the share (percent); for reference-rate presets the rate in force at the as-of date.
        reference: (series, reference rate in percent a year, margin in points) for the
            presets over a central bank rate, else None.
        statutory: a legal preset; ``source_zh``/``source_en`` its citation (blank: per contract).
        grace_days, cap: the terms' grace days and cap (share of the principal, None: none).
    """

    policy: str
    label: str
    label_zh: str
    method: str
    rate: float | None
    reference: tuple[str, float, float] | None
    statutory: bool
    source_zh: str
    source_en: str
    grace_days: int
    cap: float | None


def fee_basis(terms: FeeTerms, as_of: dt.date, rates: RateTable | None = None,
              start: dt.date | None = None) -> FeeBasis:
    """The basis of a late fee under ``terms`` at ``as_of``.

    Args:
        terms: the customer's terms (see ``xl_ar.core.terms``).
        as_of: the letter's date (the reference rate in force then is quoted).
        rates: reference rates (the packaged table when None).
        start: the first day of interest of the oldest item: the UK rate is fixed for a debt's
            whole life by the half-year its interest starts in (the others reset each half-year,
            so the rate in force at ``as_of`` is quoted).

    Returns:
        The :class:`FeeBasis`.

    Raises:
        ValueError: the policy is unknown.
    """
    policy = policy_for(terms.policy)
    rate = policy.default_rate if (policy.statutory or terms.rate is None) else float(terms.rate)
    reference = None
    series = getattr(policy, "series", "")
    if series:
        table = rates or RateTable.default()
        fixing = "uk" if policy.key == "uk-late-payment" else getattr(policy, "fixing", "start")
        when = start if (policy.key == "uk-late-payment" and start is not None) else as_of
        ref = float(table.half_year_reference(series, np.array([np.datetime64(when, "D")]), fixing)[0])
        margin = float(policy.margin)
        reference = (series, ref, margin)
        rate = (ref + margin) / 100.0
    zh, en = LETTER_SOURCES.get(policy.key, ("", "")) if policy.statutory else ("", "")
    return FeeBasis(policy.key, policy.label, policy.label_zh, METHODS.get(policy.key, "daily"), rate, reference,
                    policy.statutory, zh, en, int(terms.grace_days), terms.cap)


def interest_from(due: dt.date, grace_days: int) -> dt.date:
    """An item's first day of interest: the day after its due date and the grace days."""
    return due + dt.timedelta(days=int(grace_days) + 1)
