"""Per-customer late-fee terms: ``LateFeePolicy``, ``LateFeeRate``, ``LateFeeGraceDays`` and
``LateFeeCap`` columns on Customers override the Settings sheet's terms, cell by cell.

A company with Chinese, British and German customers gives each its own policy (``cn-sme``,
``uk-late-payment``, ``de-bgb-288``); a blank cell takes the workbook's setting. A customer's
rate cell applies to its own policy: switching a customer to another policy does not carry
the workbook's rate over (that rate was meant for the workbook's policy), so the policy's
default rate is used unless the customer's row gives one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xl_ar.core.fees import LATE_FEE_POLICIES, FeeTerms
from xl_ar.core.issues import Issue


def check_customer_terms(customers: pd.DataFrame, where) -> list[Issue]:
    """Warn about customer terms that cannot be used (and blank them: the settings apply).

    Args:
        customers: typed customers; the late-fee columns are edited in place.
        where: (field, position) -> the cell's place, e.g. ``Customers!P4``.

    Returns:
        One warning per unusable cell.
    """
    issues: list[Issue] = []
    if "late_fee_policy" not in customers:
        return issues
    pol = customers["late_fee_policy"].to_numpy(dtype=object)
    fixed = np.array([p.strip().lower() for p in pol], dtype=object)
    for pos in np.flatnonzero((fixed != "") & ~pd.Series(fixed).isin(LATE_FEE_POLICIES.keys()).to_numpy()):
        issues.append(Issue(where("late_fee_policy", int(pos)), f'late-fee policy "{pol[pos]}" is unknown; use one of '
                            f'{", ".join(LATE_FEE_POLICIES)}; the Settings sheet\'s policy applies', "warning"))
        fixed[pos] = ""
    customers["late_fee_policy"] = fixed
    for name in ("late_fee_rate", "late_fee_grace_days", "late_fee_cap"):
        col = customers[name].to_numpy(dtype=np.float64, copy=True)  # pandas may hand out a read-only view
        for pos in np.flatnonzero(col < 0):
            issues.append(Issue(where(name, int(pos)), f'{name.replace("_", " ")} must not be negative; the Settings '
                                "sheet's value applies", "warning"))
            col[pos] = np.nan
        customers[name] = col
    return issues


def invoice_fee_terms(customers: pd.DataFrame, invoice_customers: np.ndarray, default: FeeTerms
                      ) -> tuple[list[FeeTerms], np.ndarray]:
    """The late-fee terms of every invoice: its customer's, else the workbook's.

    Args:
        customers: typed customers (late-fee columns optional).
        invoice_customers: customer ID per invoice row.
        default: the Settings sheet's terms.

    Returns:
        (distinct terms, index into them per invoice row); the default is always first.
    """
    terms = [default]
    n = len(invoice_customers)
    if "late_fee_policy" not in customers or not len(customers):
        return terms, np.zeros(n, np.int64)
    per_customer: dict[str, int] = {}
    for cid, pol, rate, grace, cap in zip(customers["customer_id"], customers["late_fee_policy"],
                                          customers["late_fee_rate"], customers["late_fee_grace_days"],
                                          customers["late_fee_cap"]):
        if cid in per_customer or not (pol or rate == rate or grace == grace or cap == cap):
            continue
        own_policy = bool(pol) and pol != default.policy
        t = FeeTerms(
            policy=pol or default.policy,
            rate=float(rate) if rate == rate else (None if own_policy else default.rate),
            grace_days=int(grace) if grace == grace else default.grace_days,
            cap=float(cap) if cap == cap else default.cap,
        )
        if t not in terms:
            terms.append(t)
        per_customer[cid] = terms.index(t)
    idx = pd.Series(invoice_customers, dtype=object).map(per_customer).fillna(0).to_numpy(dtype=np.int64)
    return terms, idx


def customer_fee_terms(customers: pd.DataFrame, customer_id: str, default: FeeTerms) -> FeeTerms:
    """The late-fee terms of one customer: its own row's, else the workbook's.

    Args:
        customers: typed customers (late-fee columns optional).
        customer_id: the customer.
        default: the Settings sheet's terms.

    Returns:
        The :class:`FeeTerms` its invoices are charged under.
    """
    terms, idx = invoice_fee_terms(customers, np.array([customer_id], dtype=object), default)
    return terms[int(idx[0])]
