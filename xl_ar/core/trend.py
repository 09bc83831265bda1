"""Open amounts of every invoice at many past days, from one sort of the ledger's events.

The month-end trend and the CEI's opening need, for each of a dozen days, what a refresh on
that day would leave open on each invoice. Running the allocation once per day repeats its
sorts and frames for every day; this module states the same rule in closed form instead, so
a day costs a few array passes over events sorted once.

The rule (:mod:`xl_ar.core.allocation`) leaves, on day ``d``, for a customer in one currency
with no write-off dated by ``d``:

1. each credit note dated by ``d`` that names an invoice issued by ``d`` (same customer and
   currency) takes ``min(amount, C)`` off it, where ``C`` is the sum of those credit notes;
2. each receipt dated by ``d`` that names such an invoice then takes ``min(left, S)``, where
   ``S`` is the sum of those receipts (the order of payers within an invoice decides which
   receipt paid, never how much);
3. with ``auto_apply="oldest"``, the pool ``P`` (every receipt and credit note dated by
   ``d``, less what steps 1-2 applied) pays the undisputed invoices issued by ``d`` in the
   allocation's order (due date, invoice date, sheet order): an invoice whose predecessors
   still owe ``B`` gets ``clip(P - B, 0, left)``, the overlap of its interval with the
   pool's on the money axis, exactly what the allocation's interval overlap computes.

Write-offs change what a later receipt may pay (it recovers bad debt instead), so a customer
with a write-off dated by ``d`` is not covered here: the caller allocates those few in full
(:func:`written_off_groups`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from xl_ar.core.order import lex_order

_NEVER = np.iinfo(np.int64).max  # the day number of a missing date: never on or before any day


def _day_numbers(dates: np.ndarray) -> np.ndarray:
    d = np.asarray(dates, dtype="datetime64[D]")
    return np.where(np.isnat(d), _NEVER, d.astype(np.int64))


class OpenAmounts:
    """The ledger's events sorted once, for open amounts at any past day.

    Args:
        inv_group: per invoice row, its (customer, currency) code (``0..n_groups-1``).
        inv_date, due: invoice and due dates (NaT allowed).
        amount: invoice amounts in minor units (credit notes negative).
        disputed: per invoice row, whether it is disputed (skipped by step 3).
        credit_target: per invoice row, the position of the invoice its ``AppliesTo`` names, or -1.
        rec_group, rec_date, rec_amount: the receipts' codes, dates and amounts.
        rec_target: per receipt, the position of the invoice it names, or -1.
        auto_apply: "oldest" or "none" (step 3 is skipped).
        n_groups: number of group codes.
    """

    def __init__(self, inv_group: np.ndarray, inv_date: np.ndarray, due: np.ndarray, amount: np.ndarray,
                 disputed: np.ndarray, credit_target: np.ndarray, rec_group: np.ndarray, rec_date: np.ndarray,
                 rec_amount: np.ndarray, rec_target: np.ndarray, auto_apply: str, n_groups: int):
        self.n, self.n_groups, self.auto_apply = len(amount), n_groups, auto_apply
        self.g = np.asarray(inv_group, dtype=np.int64)
        self.day = _day_numbers(inv_date)
        self.amt = np.asarray(amount, dtype=np.int64)
        rg = np.asarray(rec_group, dtype=np.int64)
        rday = _day_numbers(rec_date)
        ramt = np.asarray(rec_amount, dtype=np.int64)
        issued = self.day != _NEVER

        # Receipts that can pay: a positive amount and a date.
        ok = (ramt > 0) & (rday != _NEVER)
        self.r_g, self.r_day, self.r_amt = rg[ok], rday[ok], ramt[ok]
        # Named payers whose invoice is a positive line of their own group; whether both exist
        # on a day is checked then.
        t = np.asarray(rec_target, dtype=np.int64)[ok]
        tt = np.where(t >= 0, t, 0)
        named = (t >= 0) & (self.amt[tt] > 0) & issued[tt] & (self.g[tt] == self.r_g) if self.n else t < -1
        self.rn_target, self.rn_day, self.rn_amt = t[named], self.r_day[named], self.r_amt[named]
        credit = self.amt < 0
        c = np.asarray(credit_target, dtype=np.int64)
        cc = np.where(c >= 0, c, 0)
        c_named = credit & (c >= 0) & (self.amt[cc] > 0) & issued[cc] & (self.g[cc] == self.g)
        self.c_pos = np.flatnonzero(credit)
        self.cn_pos, self.cn_target = np.flatnonzero(c_named), c[c_named]
        # Step 3's order, fixed once: undisputed positive lines by group, due, date, sheet order.
        fifo = np.flatnonzero((self.amt > 0) & ~np.asarray(disputed, dtype=bool))
        self.order = fifo[allocation_order(self.g[fifo], np.asarray(due, dtype="datetime64[D]")[fifo],
                                           np.asarray(inv_date, dtype="datetime64[D]")[fifo])]
        og = self.g[self.order]
        first = np.r_[True, og[1:] != og[:-1]] if len(og) else np.zeros(0, bool)
        #: per sorted position, the sorted position where its group starts
        self.group_start = np.maximum.accumulate(np.where(first, np.arange(len(og)), 0)) if len(og) else og
        self.order_g = og

    def at(self, day: dt.date) -> np.ndarray:
        """Open amount of each invoice row at the end of ``day`` (0: not issued by then, or a
        credit note), exact for every group with no write-off dated by then (:func:`written_off_groups`)."""
        d = np.datetime64(day, "D").astype(np.int64)
        exists = self.day <= d
        left = np.where(exists & (self.amt > 0), self.amt, 0)
        applied = np.zeros(self.n, np.int64)
        # Step 1: credit notes naming an invoice, both issued by d.
        cn = exists[self.cn_pos] & exists[self.cn_target]
        if cn.any():
            credit = np.zeros(self.n, np.int64)
            np.add.at(credit, self.cn_target[cn], -self.amt[self.cn_pos[cn]])
            applied += np.minimum(left, credit)
        # Step 2: receipts naming an invoice, both dated by d.
        rn = (self.rn_day <= d) & exists[self.rn_target]
        if rn.any():
            paid = np.zeros(self.n, np.int64)
            np.add.at(paid, self.rn_target[rn], self.rn_amt[rn])
            applied += np.minimum(left - applied, paid)
        left -= applied
        if self.auto_apply != "oldest" or not len(self.order):
            return left
        # Step 3: the pool of each group pays its oldest invoices first.
        pool = np.zeros(self.n_groups, np.int64)
        r = self.r_day <= d
        np.add.at(pool, self.r_g[r], self.r_amt[r])
        c = self.c_pos[exists[self.c_pos]]
        np.add.at(pool, self.g[c], -self.amt[c])
        np.subtract.at(pool, self.g, applied)
        owed = left[self.order]
        before = np.cumsum(owed) - owed
        before -= before[self.group_start]
        left[self.order] = owed - np.clip(pool[self.order_g] - before, 0, owed)
        return left


def allocation_order(group: np.ndarray, due: np.ndarray, issued: np.ndarray) -> np.ndarray:
    """The order that sorts lines by group, due date, invoice date, then position (a missing
    date last): ``np.lexsort((positions, issued, due, group))``. When the groups and the dates'
    spans fit, the three are packed into one integer and sorted once, stably
    (:func:`xl_ar.core.order.lex_order`; a million lines: about a quarter of the time of the
    four-key sort)."""
    g = np.asarray(group, dtype=np.int64)
    if not len(g):
        return np.zeros(0, np.intp)
    return lex_order(g, np.asarray(due, dtype="datetime64[D]"), np.asarray(issued, dtype="datetime64[D]"))


def written_off_groups(groups: np.ndarray, n_groups: int, wo_invoice: np.ndarray, wo_date: np.ndarray,
                       day: dt.date) -> np.ndarray:
    """Per group code, whether one of its invoices has a write-off dated on or before ``day``
    (the groups :class:`OpenAmounts` does not cover on that day)."""
    out = np.zeros(n_groups, bool)
    hit = _day_numbers(wo_date) <= np.datetime64(day, "D").astype(np.int64)
    out[np.asarray(groups, dtype=np.int64)[np.asarray(wo_invoice, dtype=np.int64)[hit]]] = True
    return out
