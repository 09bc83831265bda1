"""Write-offs (坏账核销): a row on Activities that closes part or all of an invoice as bad debt.

A write-off is a document, like a receipt: a row on the collection log whose ``Outcome`` is one
of :data:`WRITE_OFF_OUTCOMES` (核销坏账, 坏账, write-off, ...), dated, naming the invoice in
``InvoiceNo``, with the amount written off in ``Amount`` (blank = what is open on that date)
and the reason in ``Note``. From its date:

* the amount leaves the receivables: the invoice's open amount, aging bucket and overdue
  figures drop it; the tie-out gains a line (invoiced − credits − receipts − written off =
  open = buckets);
* late fees stop accruing on it (it is treated as settled on that date, like a payment);
* the customer's hold lifts once nothing overdue is left open;
* a receipt dated after it that names the invoice pays what was left open (if anything), and
  the rest is a recovery of bad debt (坏账收回), up to the amount written off, shown as such and not as
  unapplied cash.

A write-off row with a blank InvoiceNo writes off every invoice of that customer issued on or
before its date (what is open of each); it may not carry an amount, since an amount without an
invoice does not say which debt it closes.

The amount of a blank-amount write-off depends on the receipts before it, so amounts are
settled once per ledger, in date order, by allocating at each write-off date
(:func:`settle_writeoffs`). Every later computation reads the settled amounts.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Callable

import numpy as np
import pandas as pd

from xl_ar.core.issues import Issue
from xl_ar.core.money import to_minor_array

#: Outcomes on Activities that mean "written off as bad debt" (compared case-insensitively,
#: ignoring spaces, hyphens and underscores). 核销 alone also names applying a receipt in
#: Chinese bookkeeping, but on a collection-log row it can only mean writing the debt off.
WRITE_OFF_OUTCOMES = frozenset({"writeoff", "writtenoff", "baddebt", "核销", "已核销", "坏账", "坏账核销",
                                "核销坏账", "已核销坏账", "坏账冲销"})

#: Columns of the settled write-offs frame (``Ledger.writeoffs``).
COLUMNS = ("invoice", "date", "amount_minor", "open_after_minor", "row", "customer_id", "currency", "reason")


def fold_outcome(text: Any) -> str:
    """An outcome folded for matching against :data:`WRITE_OFF_OUTCOMES`."""
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return "".join(ch for ch in s if ch not in " _-\u3000")


def empty() -> pd.DataFrame:
    """A settled write-offs frame with no rows."""
    return pd.DataFrame({"invoice": np.zeros(0, np.int64), "date": np.zeros(0, "datetime64[s]"),
                         "amount_minor": np.zeros(0, np.int64), "open_after_minor": np.zeros(0, np.int64),
                         "row": np.zeros(0, np.int64),
                         "customer_id": np.zeros(0, object), "currency": np.zeros(0, object),
                         "reason": np.zeros(0, object)})


def settle_writeoffs(activities: pd.DataFrame, invoices: pd.DataFrame, receipts: pd.DataFrame,
                     where: Callable[[str, int], str],
                     allocate: Callable[..., Any]) -> tuple[pd.DataFrame, list[Issue]]:
    """Find the write-offs on Activities and settle their amounts.

    Args:
        activities: typed activities (``date``, ``customer_id``, ``invoice_no``, ``outcome``,
            ``note``, ``row``; ``amount`` in major units, NaN = blank, if the column exists).
        invoices: typed invoices with ``amount_minor`` and ``exp``.
        receipts: typed receipts with ``amount_minor``.
        where: (field, position in activities) -> the cell's place, e.g. ``Activities!C5``.
        allocate: :func:`xl_ar.core.allocation.allocate_receipts` (passed in: allocation
            imports nothing from here, and this module is imported by validation).

    Returns:
        (write-offs, issues): one row per invoice written off by a row (columns
        :data:`COLUMNS`: ``invoice`` = position in ``invoices``), in date then sheet order;
        warnings for rows that name no invoice, an unknown one, or write off more than is open.
    """
    issues: list[Issue] = []
    if not len(activities) or "outcome" not in activities:
        return empty(), issues
    outcome = np.array([fold_outcome(o) for o in activities["outcome"].to_numpy(dtype=object)], dtype=object)
    a_date = activities["date"].to_numpy(dtype="datetime64[s]")
    sel = np.flatnonzero(pd.Series(outcome).isin(WRITE_OFF_OUTCOMES).to_numpy() & ~np.isnat(a_date))
    if not len(sel):
        return empty(), issues

    inv_no = invoices["invoice_no"].to_numpy(dtype=object)
    inv_cust = invoices["customer_id"].to_numpy(dtype=object)
    inv_date = invoices["invoice_date"].to_numpy(dtype="datetime64[s]")
    amt = invoices["amount_minor"].to_numpy(dtype=np.int64)
    exp = invoices["exp"].to_numpy(dtype=np.int64)
    by_no = {}
    for pos, no in enumerate(inv_no):
        by_no.setdefault(no, pos)
    amount = activities["amount"].to_numpy(dtype=np.float64) if "amount" in activities \
        else np.full(len(activities), np.nan)
    note = activities["note"].to_numpy(dtype=object) if "note" in activities else np.full(len(activities), "", object)
    a_no = activities["invoice_no"].to_numpy(dtype=object)
    a_cust = activities["customer_id"].to_numpy(dtype=object)

    # (activity position, invoice position, requested minor or -1 for "what is open")
    wanted: list[tuple[int, int, int]] = []
    for a in sel:
        if a_no[a]:
            pos = by_no.get(a_no[a])
            if pos is None:
                issues.append(Issue(where("invoice_no", a), f'write-off names invoice "{a_no[a]}", which is not on the '
                                    "Invoices sheet; nothing is written off", "warning"))
                continue
            if amt[pos] <= 0 or np.isnat(inv_date[pos]) or inv_date[pos] > a_date[a]:
                issues.append(Issue(where("invoice_no", a), f'invoice "{a_no[a]}" is not an invoice issued by the '
                                    "write-off's date; nothing is written off", "warning"))
                continue
            req = -1 if np.isnan(amount[a]) else int(to_minor_array(np.array([amount[a]]), exp[pos])[0])
            if req == 0 or req < -1:
                issues.append(Issue(where("amount", a), "a write-off amount must be positive; nothing is written off",
                                    "warning"))
                continue
            wanted.append((int(a), pos, req))
        elif not np.isnan(amount[a]):
            issues.append(Issue(where("invoice_no", a), "a write-off with an amount must name its invoice "
                                "(InvoiceNo); nothing is written off", "warning"))
        else:
            hits = np.flatnonzero((inv_cust == a_cust[a]) & (amt > 0) & ~np.isnat(inv_date) & (inv_date <= a_date[a]))
            wanted += [(int(a), int(p), -1) for p in hits]

    rows: list[dict] = []
    settled = empty()
    wanted.sort(key=lambda w: (a_date[w[0]], w[0], w[1]))
    k = 0
    while k < len(wanted):
        day = a_date[wanted[k][0]]
        same = [w for w in wanted[k:] if a_date[w[0]] == day]
        k += len(same)
        open_ = allocate(invoices, receipts, pd.Timestamp(day).date(), writeoffs=settled).open_minor.copy()
        for a, pos, req in same:
            left = int(open_[pos])
            take = left if req < 0 else min(req, left)
            if req > left:
                issues.append(Issue(where("amount", a), f'write-off of {req / 10 ** exp[pos]:,.{exp[pos]}f} is more than '
                                    f'the {left / 10 ** exp[pos]:,.{exp[pos]}f} open on invoice "{inv_no[pos]}" that day; '
                                    "only what is open is written off", "warning"))
            if take <= 0:
                if a_no[a]:
                    issues.append(Issue(where("invoice_no", a), f'invoice "{inv_no[pos]}" has nothing open on the '
                                        "write-off's date; nothing is written off", "warning"))
                continue
            open_[pos] -= take
            rows.append({"invoice": pos, "date": day, "amount_minor": take, "open_after_minor": int(open_[pos]),
                         "row": int(activities["row"].iat[a]),
                         "customer_id": inv_cust[pos], "currency": invoices["currency"].iat[pos],
                         "reason": note[a] or ""})
        settled = pd.concat([settled, pd.DataFrame(rows[len(settled):], columns=list(COLUMNS))], ignore_index=True) \
            if len(rows) > len(settled) else settled
    settled = settled.astype({"invoice": np.int64, "amount_minor": np.int64, "open_after_minor": np.int64,
                              "row": np.int64})
    settled["date"] = settled["date"].astype("datetime64[s]")
    return settled.reset_index(drop=True), issues


def written_off_at(writeoffs: pd.DataFrame | None, n_invoices: int, as_of: np.datetime64
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per invoice: the amount written off on or before ``as_of``, the last such date, and what
    was left open after it (what a later receipt naming the invoice pays before it recovers).

    Args:
        writeoffs: the settled write-offs (``Ledger.writeoffs``), or None.
        n_invoices: number of invoice rows.
        as_of: the day (datetime64).

    Returns:
        (amount in minor units, last write-off date or NaT, open after it), aligned with the
        invoices.
    """
    amount = np.zeros(n_invoices, np.int64)
    last = np.full(n_invoices, np.datetime64("NaT"), "datetime64[s]")
    residual = np.zeros(n_invoices, np.int64)
    if writeoffs is None or not len(writeoffs):
        return amount, last, residual
    w = writeoffs[writeoffs["date"].to_numpy(dtype="datetime64[s]") <= np.datetime64(as_of, "s")]
    if len(w):
        pos = w["invoice"].to_numpy(dtype=np.int64)
        np.add.at(amount, pos, w["amount_minor"].to_numpy(dtype=np.int64))
        w = w.sort_values(["date"], kind="stable").drop_duplicates("invoice", keep="last")
        at = w["invoice"].to_numpy(dtype=np.int64)
        last[at] = w["date"].to_numpy(dtype="datetime64[s]")
        residual[at] = w["open_after_minor"].to_numpy(dtype=np.int64)
    return amount, last, residual
