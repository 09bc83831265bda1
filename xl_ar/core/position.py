"""The receivable position of one run: what allocation, aging and fees computed.

Every rule of the core that comes after them (credit, stages, plans, KPIs, the work list)
reads this and nothing else of the run, so a rule is a function of the ledger, the position
and its own settings, and ``run.py`` composes them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from xl_ar.core.allocation import Allocation
from xl_ar.core.issues import Issue


@dataclass(frozen=True)
class TieOut:
    """The proof that the aging adds up, for one currency (all amounts in minor units).

    invoiced - credit_applied - received_applied - written_off = open = sum(buckets);
    unapplied cash, unapplied credit and recovered bad debt are listed beside it, never netted
    silently. In open-item mode (``AutoApply`` none, ``aged_unapplied``) the unapplied receipts
    and credit notes are aged as negative items by their own date, so the buckets add up to
    invoiced - all credit notes - all receipts - written off = open - unapplied (``net_balance``).
    """

    currency: str
    exp: int
    invoiced: int
    credit_applied: int
    received_applied: int
    open: int
    buckets: tuple[int, ...]
    unapplied_cash: int
    unapplied_credit: int
    late_fees: int
    disputed_open: int
    written_off: int = 0
    recovered: int = 0
    aged_unapplied: bool = False

    @property
    def holds(self) -> bool:
        lines = self.invoiced - self.credit_applied - self.received_applied - self.written_off
        if self.aged_unapplied:
            return lines == self.open and lines - self.unapplied_cash - self.unapplied_credit == sum(self.buckets)
        return lines == self.open == sum(self.buckets)

    @property
    def net_balance(self) -> int:
        return self.open - self.unapplied_cash - self.unapplied_credit


@dataclass(frozen=True)
class Position:
    """The receivable position at the as-of date.

    Attributes:
        as_of: the as-of date of the run.
        labels: bucket labels in the workbook's language.
        invoices: one row per invoice row of the ledger (same order): ``row`` (Excel row),
            ``exists`` (dated on or before as-of), ``paid_minor``, ``open_minor``,
            ``days_late`` (-1 when not applicable), ``bucket`` (index, -1 when none),
            ``late_fee_minor``, ``exp``, ``cleared_date``, ``written_off_minor``,
            ``written_off_date``.
        aging: one row per (customer, currency) with open items or unapplied money:
            ``customer_id``, ``name``, ``currency``, ``b0``..``bN``, ``total``,
            ``late_fee``, ``unapplied``, ``disputed``, ``written_off`` (bad debt),
            ``recovered`` (bad debt recovered) (minor units).
        tieouts: currency -> TieOut, base currency first.
        unapplied: unapplied receipts and credits (see Allocation.unapplied) with ``ref``.
        allocation: the full allocation (statements and promises read it).
        issues: warnings raised by the run itself.
    """

    as_of: dt.date
    labels: list[str]
    invoices: pd.DataFrame
    aging: pd.DataFrame
    tieouts: dict[str, TieOut]
    unapplied: pd.DataFrame
    allocation: Allocation
    issues: list[Issue] = field(default_factory=list)
