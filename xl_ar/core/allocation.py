"""Receipt allocation: which receipt and credit note paid which invoice, as of a date.

The rule (docs/domain.md section 3, "by reference, otherwise oldest first"):

1. A credit note (a negative invoice line) that names the invoice it corrects (``AppliesTo``),
   of the same customer and currency, reduces that invoice first, up to what is open on it
   (it corrects the amount billed, so it comes before any receipt).
2. A receipt that names an invoice of the same customer and currency pays that invoice next,
   up to what is open (receipts naming one invoice pay it in date order).
3. With ``auto_apply="oldest"`` (the default): what is left of every receipt and credit note
   goes to the customer's open invoices in the same currency, oldest due date first (then
   invoice date, then sheet order). Payers are taken in date order. Disputed invoices are
   skipped here: a customer who disputes an invoice is not taken to be paying it unless the
   receipt says so. With ``auto_apply="none"`` (open-item accounting) nothing is applied
   that names no invoice.
4. Money that fits no invoice is unapplied cash (or unapplied credit), kept and reported.

Documents dated after the as-of date do not exist for the run. An application's date, used
for interest, is the later of the payer's date and the invoice date (cash received before an
invoice existed pays it on the day it is issued).

Everything is vectorised: step 2 is an overlap of intervals on a cumulative money axis, so
the cost is a few sorts, not a loop over invoices.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xl_ar.core.order import lex_order
from xl_ar.core.writeoffs import written_off_at


@dataclass(frozen=True)
class Allocation:
    """The result of allocating receipts and credit notes.

    Attributes:
        paid_minor: per invoice row (aligned with the input frame), money applied to it.
        open_minor: per invoice row, what is still owed (0 for credit notes and for rows not
            existing at the as-of date).
        applications: one row per (invoice, payer) pair: ``invoice`` (position in the invoices
            frame), ``payer_kind`` ("receipt" or "credit"), ``payer`` (position in its frame),
            ``date`` (effective date), ``amount_minor``.
        unapplied: payers with money left: ``payer_kind``, ``payer``, ``customer_id``,
            ``currency``, ``date``, ``amount_minor`` (the part left).
        cleared_date: per invoice row, the date it was fully paid (NaT if still open or
            written off in part or whole: written off is not paid).
        written_off_minor: per invoice row, the amount written off as bad debt by the as-of date.
        recovered: receipts recovering written-off debt: ``receipt``, ``invoice``, ``date``,
            ``amount_minor`` (see ``xl_ar.core.writeoffs``).
    """

    paid_minor: np.ndarray
    open_minor: np.ndarray
    applications: pd.DataFrame
    unapplied: pd.DataFrame
    cleared_date: np.ndarray
    written_off_minor: np.ndarray | None = None
    recovered: pd.DataFrame | None = None


def group_codes(*frames_cols: tuple[pd.Series, pd.Series]) -> list[np.ndarray]:
    """Integer codes for (customer, currency) pairs, shared across several frames.

    Codes are in sorted key order (groups are processed in that order); hashing with
    ``pd.factorize`` first keeps this fast on a million rows of text.
    """
    cust = pd.concat([c for c, _ in frames_cols], ignore_index=True).astype(str)
    ccy = pd.concat([k for _, k in frames_cols], ignore_index=True).astype(str)
    c_codes, _ = pd.factorize(cust, sort=True)
    k_codes, k_uniq = pd.factorize(ccy, sort=True)
    pair = c_codes.astype(np.int64) * max(len(k_uniq), 1) + k_codes
    codes, _ = pd.factorize(pair, sort=True)
    out, start = [], 0
    for c, _ in frames_cols:
        out.append(codes[start : start + len(c)])
        start += len(c)
    return out


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting: numpy 2's hash-based unique is far slower on large int arrays."""
    a = np.sort(a, kind="stable")
    return a[np.r_[True, a[1:] != a[:-1]]] if len(a) else a


def _overlap(inv_group, inv_amount, pay_group, pay_amount):
    """Pair payers with invoices first-in-first-out within groups.

    Both inputs must already be sorted by group, then by priority. Returns arrays
    (invoice position, payer position, amount) of the pairings, in the sorted order given.
    """
    groups = _sorted_unique(np.concatenate([inv_group, pay_group]))
    inv_tot = np.bincount(np.searchsorted(groups, inv_group), weights=inv_amount, minlength=len(groups))
    pay_tot = np.bincount(np.searchsorted(groups, pay_group), weights=pay_amount, minlength=len(groups))
    span = np.maximum(inv_tot, pay_tot).astype(np.int64)
    base = np.concatenate([[0], np.cumsum(span)[:-1]]).astype(np.int64)

    def ends(group, amount):
        g = np.searchsorted(groups, group)
        csum = np.cumsum(amount)
        # cumulative sum restarted at each group, then shifted to the group's base
        first = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, bool)
        restart = np.maximum.accumulate(np.where(first, np.arange(len(g)), 0)) if len(g) else g
        before = (csum - amount)[restart]
        return base[g] + csum - before

    inv_end, pay_end = ends(inv_group, inv_amount), ends(pay_group, pay_amount)
    inv_start, pay_start = inv_end - inv_amount, pay_end - pay_amount
    pts = _sorted_unique(np.concatenate([inv_start, inv_end, pay_start, pay_end]))
    if len(pts) < 2:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    lo, hi = pts[:-1], pts[1:]
    i = np.searchsorted(inv_end, lo, side="right")
    j = np.searchsorted(pay_end, lo, side="right")
    ok_i = i < len(inv_end)
    ok_j = j < len(pay_end)
    i_c, j_c = np.minimum(i, len(inv_end) - 1), np.minimum(j, len(pay_end) - 1)
    ok = ok_i & ok_j
    if len(inv_end):
        ok &= inv_start[i_c] <= lo
    if len(pay_end):
        ok &= pay_start[j_c] <= lo
    return i_c[ok], j_c[ok], (hi - lo)[ok]


def invoice_numbers(invoices: pd.DataFrame) -> pd.Series:
    """Invoice number -> position in ``invoices`` of the first line with it."""
    by_no = pd.Series(np.arange(len(invoices)), index=invoices["invoice_no"].to_numpy())
    return by_no[~by_no.index.duplicated()]


def named_targets(invoices: pd.DataFrame, receipts: pd.DataFrame, numbers: pd.Series | None = None) -> np.ndarray:
    """Position in ``invoices`` of the invoice each receipt names (the first of that number), or -1.

    ``numbers``: :func:`invoice_numbers` of ``invoices``, when the caller has it.
    """
    if not len(receipts):
        return np.zeros(0, np.int64)
    return _named_positions(receipts["invoice_no"], invoices, numbers)


def credit_targets(invoices: pd.DataFrame, numbers: pd.Series | None = None) -> np.ndarray:
    """Position in ``invoices`` of the invoice each row's ``applies_to`` names (first of that number), or -1."""
    if "applies_to" not in invoices:
        return np.full(len(invoices), -1, np.int64)
    return _named_positions(invoices["applies_to"], invoices, numbers)


def _named_positions(names: pd.Series, invoices: pd.DataFrame, numbers: pd.Series | None) -> np.ndarray:
    """Position in ``invoices`` of the first invoice of each name (-1: blank, or none of that
    number). Only the names given are looked up: most receipts and credit notes name none."""
    named = names.fillna("").to_numpy(dtype=object)
    out = np.full(len(named), -1, np.int64)
    some = np.flatnonzero(named != "")
    if len(some) and len(invoices):
        by_no = invoice_numbers(invoices) if numbers is None else numbers
        out[some] = by_no.reindex(named[some]).fillna(-1).to_numpy(dtype=np.int64)
    return out


def _apply_named(payer: np.ndarray, target: np.ndarray, date: np.ndarray, amount: np.ndarray,
                 cap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply payers to the invoices they name, per invoice in date order, up to ``cap[target]``.

    Returns:
        (payer, invoice, amount applied) of the applications with an amount.
    """
    order = lex_order(target, date)
    r, t, a = payer[order], target[order], amount[order]
    first = np.r_[True, t[1:] != t[:-1]]
    start_idx = np.maximum.accumulate(np.where(first, np.arange(len(t)), 0))
    csum = np.cumsum(a)
    cum_after = csum - (csum - a)[start_idx]
    c = cap[t]
    applied = np.minimum(cum_after, c) - np.minimum(cum_after - a, c)
    keep = applied > 0
    return r[keep], t[keep], applied[keep]


def allocate_receipts(invoices: pd.DataFrame, receipts: pd.DataFrame, as_of: dt.date,
                      groups: tuple[np.ndarray, np.ndarray] | None = None,
                      targets: np.ndarray | None = None, applies: np.ndarray | None = None,
                      writeoffs: pd.DataFrame | None = None, auto_apply: str = "oldest") -> Allocation:
    """Apply receipts and credit notes to invoices as of a date.

    Args:
        invoices: typed invoices (``customer_id``, ``currency``, ``invoice_no``,
            ``invoice_date``, ``due_date``, ``amount_minor``, ``disputed``); credit notes have
            a negative ``amount_minor``.
        receipts: typed receipts (``customer_id``, ``currency``, ``receipt_date``,
            ``amount_minor``, ``invoice_no`` naming the invoice it pays or "").
        as_of: documents dated after it are ignored.
        groups: integer (customer, currency) codes of the invoices and receipts, when the caller
            allocates the same ledger at several dates and has computed them once.
        targets: :func:`named_targets` of these frames, likewise computed once.
        applies: :func:`credit_targets` of the invoices, likewise.
        writeoffs: settled write-offs (``Ledger.writeoffs``; ``invoice`` = position in
            ``invoices``): amounts dated by the as-of date close their invoice; a receipt
            naming a written-off invoice, dated after the write-off, pays what it left open,
            then recovers the bad debt (up to the amount written off).
        auto_apply: "oldest" applies money that names no invoice to the oldest open ones;
            "none" leaves it unapplied (open-item accounting).

    Returns:
        The :class:`Allocation`; money is conserved: for every (customer, currency),
        receipts + credit notes = applied + unapplied.
    """
    asof = np.datetime64(as_of, "s")
    n_inv = len(invoices)
    inv_date = invoices["invoice_date"].to_numpy(dtype="datetime64[s]")
    due = invoices["due_date"].to_numpy(dtype="datetime64[s]")
    amt = invoices["amount_minor"].to_numpy(dtype=np.int64)
    exists = ~np.isnat(inv_date) & (inv_date <= asof)
    is_inv = exists & (amt > 0)
    is_credit = exists & (amt < 0)

    rec_date = receipts["receipt_date"].to_numpy(dtype="datetime64[s]")
    rec_amt = receipts["amount_minor"].to_numpy(dtype=np.int64)
    rec_ok = ~np.isnat(rec_date) & (rec_date <= asof) & (rec_amt > 0)

    inv_g, rec_g = groups if groups is not None else group_codes(
        (invoices["customer_id"], invoices["currency"]), (receipts["customer_id"], receipts["currency"])
    )
    wo, wo_last, wo_left = written_off_at(writeoffs, n_inv, asof)
    wo = np.where(is_inv, wo, 0)
    remaining_inv = np.where(is_inv, amt - wo, 0).astype(np.int64)
    remaining_rec = np.where(rec_ok, rec_amt, 0).astype(np.int64)
    apps: list[pd.DataFrame] = []
    recovered = pd.DataFrame({"receipt": np.zeros(0, np.int64), "invoice": np.zeros(0, np.int64),
                              "date": np.zeros(0, "datetime64[s]"), "amount_minor": np.zeros(0, np.int64)})

    # Step 0: credit notes that name the invoice they correct (same customer and currency).
    remaining_cred = np.where(is_credit, -amt, 0).astype(np.int64)
    c_target = credit_targets(invoices) if applies is None else applies
    c_named = is_credit & (c_target >= 0)
    if c_named.any():
        c_named &= is_inv[np.where(c_named, c_target, 0)] & (inv_g[np.where(c_named, c_target, 0)] == inv_g)
    if c_named.any():
        cr = np.flatnonzero(c_named)
        r, t, applied = _apply_named(cr, c_target[cr], inv_date[cr], remaining_cred[cr], remaining_inv)
        np.subtract.at(remaining_cred, r, applied)
        np.subtract.at(remaining_inv, t, applied)
        apps.append(pd.DataFrame({"invoice": t, "payer_kind": "credit", "payer": r,
                                  "date": np.maximum(inv_date[r], inv_date[t]), "amount_minor": applied}))

    # Step 1: receipts that name an invoice of their own customer and currency.
    target = named_targets(invoices, receipts) if targets is None else targets
    has_target = rec_ok & (target >= 0)
    tpos = np.where(has_target, target, 0).astype(np.int64)
    if n_inv:
        has_target &= is_inv[tpos] & (inv_g[tpos] == rec_g)
    # A receipt dated after its invoice's write-off pays only what the write-off left open.
    after_wo = has_target & ~np.isnat(wo_last[tpos]) & (rec_date > wo_last[tpos]) if n_inv else has_target
    for part, cap_of in ((has_target & ~after_wo, amt - wo), (after_wo, wo_left)):
        if not part.any():
            continue
        r0 = np.flatnonzero(part)
        r, t, applied = _apply_named(r0, tpos[r0], rec_date[r0], rec_amt[r0], np.minimum(cap_of, remaining_inv))
        np.subtract.at(remaining_rec, r, applied)
        np.subtract.at(remaining_inv, t, applied)
        apps.append(pd.DataFrame({
            "invoice": t, "payer_kind": "receipt", "payer": r,
            "date": np.maximum(rec_date[r], inv_date[t]), "amount_minor": applied,
        }))

    # Step 1b: what is left of a receipt naming a written-off invoice recovers the bad debt.
    recovering = after_wo & (remaining_rec > 0) & (wo[tpos] > 0) if n_inv else after_wo
    if recovering.any():
        r = np.flatnonzero(recovering)
        t = tpos[r]
        order = lex_order(t, rec_date[r])
        r, t = r[order], t[order]
        a = remaining_rec[r]
        first = np.r_[True, t[1:] != t[:-1]]
        start_idx = np.maximum.accumulate(np.where(first, np.arange(len(t)), 0))
        csum = np.cumsum(a)
        cum_after = csum - (csum - a)[start_idx]
        got = np.minimum(cum_after, wo[t]) - np.minimum(cum_after - a, wo[t])
        keep = got > 0
        np.subtract.at(remaining_rec, r[keep], got[keep])
        recovered = pd.DataFrame({"receipt": r[keep], "invoice": t[keep],
                                  "date": rec_date[r[keep]].astype("datetime64[s]"), "amount_minor": got[keep]})

    # Step 2: everything left, first in first out within (customer, currency).
    disputed = invoices["disputed"].to_numpy(dtype=bool) if "disputed" in invoices else np.zeros(n_inv, bool)
    open_pos = np.flatnonzero((remaining_inv > 0) & ~disputed)
    open_pos = open_pos[lex_order(inv_g[open_pos], due[open_pos], inv_date[open_pos])]
    rec_pos = np.flatnonzero(remaining_rec > 0)
    cred_pos = np.flatnonzero(remaining_cred > 0)
    pay_kind = np.r_[np.zeros(len(rec_pos), np.int8), np.ones(len(cred_pos), np.int8)]
    pay_src = np.r_[rec_pos, cred_pos].astype(np.int64)
    pay_group = np.r_[rec_g[rec_pos], inv_g[cred_pos]]
    pay_date = np.r_[rec_date[rec_pos], inv_date[cred_pos]]
    pay_amt = np.r_[remaining_rec[rec_pos], remaining_cred[cred_pos]].astype(np.int64)
    order = lex_order(pay_group, pay_date, pay_kind)  # (then by source: each kind's are in sheet order)
    pay_kind, pay_src, pay_group, pay_date, pay_amt = (x[order] for x in (pay_kind, pay_src, pay_group, pay_date, pay_amt))

    if auto_apply == "none":  # open-item accounting: nothing names an invoice here, so nothing applies
        open_pos = open_pos[:0]
    ii, jj, aa = _overlap(inv_g[open_pos], remaining_inv[open_pos], pay_group, pay_amt)
    inv_hit = open_pos[ii]
    np.subtract.at(remaining_inv, inv_hit, aa)
    pay_left = pay_amt.copy()
    np.subtract.at(pay_left, jj, aa)
    apps.append(pd.DataFrame({
        "invoice": inv_hit, "payer_kind": np.where(pay_kind[jj] == 0, "receipt", "credit"),
        "payer": pay_src[jj], "date": np.maximum(pay_date[jj], inv_date[inv_hit]), "amount_minor": aa,
    }))

    applications = pd.concat(apps, ignore_index=True) if apps else pd.DataFrame(
        columns=["invoice", "payer_kind", "payer", "date", "amount_minor"])
    applications["date"] = applications["date"].astype("datetime64[s]")
    applications["amount_minor"] = applications["amount_minor"].astype(np.int64)
    applications["invoice"] = applications["invoice"].astype(np.int64)
    applications["payer"] = applications["payer"].astype(np.int64)

    left = pay_left > 0
    src, kind = pay_src[left], pay_kind[left]
    cust = np.where(kind == 0,
                    receipts["customer_id"].to_numpy(dtype=object)[np.where(kind == 0, src, 0)] if len(receipts) else "",
                    invoices["customer_id"].to_numpy(dtype=object)[np.where(kind == 1, src, 0)] if n_inv else "")
    ccy = np.where(kind == 0,
                   receipts["currency"].to_numpy(dtype=object)[np.where(kind == 0, src, 0)] if len(receipts) else "",
                   invoices["currency"].to_numpy(dtype=object)[np.where(kind == 1, src, 0)] if n_inv else "")
    unapplied = pd.DataFrame({
        "payer_kind": np.where(kind == 0, "receipt", "credit"), "payer": src,
        "customer_id": cust, "currency": ccy, "date": pay_date[left].astype("datetime64[s]"),
        "amount_minor": pay_left[left],
    })

    paid = np.where(is_inv, amt - wo - remaining_inv, 0).astype(np.int64)
    open_minor = np.where(is_inv, remaining_inv, 0).astype(np.int64)
    cleared = np.full(n_inv, np.datetime64("NaT"), dtype="datetime64[s]")
    if len(applications):
        last = applications.groupby("invoice")["date"].max()
        full = is_inv & (open_minor == 0)
        idx = last.index.to_numpy()
        sel = full[idx]
        cleared[idx[sel]] = last.to_numpy(dtype="datetime64[s]")[sel]
    cleared[wo > 0] = np.datetime64("NaT")
    return Allocation(paid, open_minor, applications, unapplied, cleared, wo.astype(np.int64), recovered)
