"""The reminder cadence: what the collection log says was already sent.

A reminder is due when its invoice's current step (the stage's first action, then one every
``FollowUpDays``) has come and no message about the invoice went out since that step began.
:func:`xl_ar.core.stages.assign_stages` numbers the steps and reads, through
:func:`last_reminded`, the last message the log records for each invoice; the reminders run
plans only the steps not yet done. Everything is read from the workbook each run (Activities,
where the send run logs every message with its id), so running daily, weekly or twice on one
day sends each step once.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from xl_ar.core.ledger import Ledger

#: A collection-log Note that records a message the tool sent: ``[xlar-`` and 20 hex digits.
SENT_NOTE = re.compile(r"\[xlar-[0-9a-f]{20}\]")


def last_reminded(ledger: "Ledger", asof: np.datetime64) -> np.ndarray:
    """Per invoice row, the last day on or before the as-of date a message about it went out.

    A message is a row on Activities naming the invoice whose Note carries the message id
    the send run writes (``[xlar-…]``); calls and notes typed by a person do not count, so a
    logged phone call does not replace the written reminder of the same step.

    Args:
        ledger: the validated ledger.
        asof: the as-of date.

    Returns:
        ``datetime64[D]`` per invoice row (NaT: never).
    """
    inv, acts = ledger.invoices, ledger.activities
    out = np.full(len(inv), np.datetime64("NaT"), dtype="datetime64[D]")
    if not len(acts) or "note" not in acts:
        return out
    note = acts["note"].to_numpy(dtype=object)
    a_date = acts["date"].to_numpy(dtype="datetime64[D]")
    sel = np.array([isinstance(x, str) and bool(SENT_NOTE.search(x)) for x in note], bool)
    sel &= ~np.isnat(a_date) & (a_date <= asof)
    if not sel.any():
        return out
    frame = pd.DataFrame({"invoice_no": acts["invoice_no"].to_numpy(dtype=object)[sel], "date": a_date[sel]})
    latest = frame[frame["invoice_no"] != ""].groupby("invoice_no")["date"].max()
    found = inv["invoice_no"].map(latest)
    return found.to_numpy(dtype="datetime64[D]")
