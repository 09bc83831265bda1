"""The evidence checklist as first written (one scan of the ledger per case): the reference the
faster grouping is compared with in tests/core/test_evidence_fast.py. Not used by the program."""
from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from xl_ar.core.cadence import SENT_NOTE

#: The checklist's items, in the order a lawyer reads them.
EVIDENCE_ITEMS = ("contract", "invoices", "delivery", "statement_sent", "statement_confirmed", "reminders_sent",
                  "promises_broken", "disputes")
#: Items whose absence is no gap ("none" rather than "missing").
FACT_ITEMS = frozenset({"promises_broken", "disputes"})
#: Stages whose customers are legal cases.
LEGAL_STAGES = frozenset({"severe"})
#: Item -> (English, Chinese) label, for the Legal sheet and the lawyer's-letter annex.
ITEM_LABELS: dict[str, tuple[str, str]] = {
    "contract": ("Contract number", "合同编号"), "invoices": ("Invoices (open, overdue)", "发票（未付、已逾期）"),
    "delivery": ("Delivery notes", "送货单/签收单"), "statement_sent": ("Statement sent", "对账单已发送"),
    "statement_confirmed": ("Statement confirmed", "对账单已确认"),
    "reminders_sent": ("Reminders and letters sent", "催款提醒/催款函已发送"),
    "promises_broken": ("Broken promises to pay", "未履行的付款承诺"), "disputes": ("Disputes", "争议"),
}
#: Status -> (English, Chinese).
STATUS_LABELS: dict[str, tuple[str, str]] = {"present": ("present", "有"), "missing": ("MISSING", "缺失"),
                                             "none": ("none", "无")}
CONFIRMED = frozenset({"confirmed", "已确认"})
COLUMNS = ("customer_id", "name", "item", "status", "refs", "missing")


def _dates(values: Any) -> list[str]:
    return sorted({pd.Timestamp(v).date().isoformat() for v in values if not pd.isna(v)})


def evidence_checklist(ledger: Any, result: Any, stages: pd.DataFrame, as_of: dt.date,
                       promises: pd.DataFrame | None = None) -> pd.DataFrame:
    """The evidence checklist of every case at the severe stage.

    Args:
        ledger: the validated ledger.
        result: the refresh run (``open_minor``, ``days_late``, ``exists`` per invoice).
        stages: ``assign_stages`` of the same run (``stage`` per invoice).
        as_of: the as-of date: log rows dated after it do not count.
        promises: ``check_promises(...).promises`` (None: no broken promise is known).

    Returns:
        One row per case and item (cases by customer ID, items in :data:`EVIDENCE_ITEMS`
        order): ``customer_id``, ``name``, ``item``, ``status`` ("present", "missing" or
        "none"), ``refs`` (tuple of what was found: numbers, dates, "INV: reason"), ``missing``
        (tuple of the invoices lacking it).
    """
    inv, r = ledger.invoices, result.invoices
    open_ = r["exists"].to_numpy(bool) & (r["open_minor"].to_numpy(np.int64) > 0) & \
        (inv["amount_minor"].to_numpy(np.int64) > 0)
    overdue = open_ & (r["days_late"].to_numpy(np.int64) > 0)
    stage = stages["stage"].to_numpy(dtype=object)
    cust = inv["customer_id"].to_numpy(dtype=object)
    cases = sorted({c for c, s, o in zip(cust, stage, open_) if o and s in LEGAL_STAGES}, key=str)
    names = dict(zip(ledger.customers["customer_id"], ledger.customers["name"]))
    text = lambda col: inv[col].fillna("").astype(str).str.strip().to_numpy(dtype=object) if col in inv \
        else np.full(len(inv), "", object)  # noqa: E731
    inv_no, contract, delivery, reason = text("invoice_no"), text("contract_no"), text("delivery_note"), \
        text("dispute_reason")
    cols = ledger.places.get("Invoices", ("", {}))[1]
    has_delivery = "delivery_note" in inv and ("delivery_note" in cols if cols else True)
    disputed = inv["disputed"].to_numpy(bool)
    acts = ledger.activities
    if len(acts):
        acts = acts[acts["date"].to_numpy(dtype="datetime64[s]") <= np.datetime64(as_of, "s")]
    a_cust = acts["customer_id"].to_numpy(dtype=object) if len(acts) else np.zeros(0, object)
    a_chan = acts["channel"].fillna("").astype(str).str.lower().to_numpy(dtype=object) if len(acts) else a_cust
    a_out = acts["outcome"].fillna("").astype(str).str.strip().str.lower().to_numpy(dtype=object) if len(acts) else a_cust
    a_note = acts["note"].fillna("").astype(str).to_numpy(dtype=object) if len(acts) else a_cust
    a_date = acts["date"].to_numpy() if len(acts) else a_cust
    rows: list[tuple] = []
    for cid in cases:
        pos = np.flatnonzero((cust == cid) & overdue)
        nos = tuple(str(inv_no[p]) for p in pos)
        mine = a_cust == cid
        stmt = mine & (a_chan == "statement")
        sent = mine & np.array([bool(SENT_NOTE.search(n)) for n in a_note], dtype=bool)
        broken = ()
        if promises is not None and len(promises):
            b = promises[(promises["customer_id"] == cid) & (promises["state"] == "broken")]
            broken = tuple(_dates(b["promise_date"]))
        disp = tuple(f"{inv_no[p]}: {reason[p]}" if reason[p] else str(inv_no[p])
                     for p in np.flatnonzero((cust == cid) & open_ & disputed))
        found = {
            "contract": (tuple(dict.fromkeys(contract[p] for p in pos if contract[p])),
                         tuple(str(inv_no[p]) for p in pos if not contract[p])),
            "invoices": (nos, ()),
            "delivery": (tuple(delivery[p] for p in pos if delivery[p]),
                         tuple(str(inv_no[p]) for p in pos if not delivery[p]) if has_delivery else nos),
            "statement_sent": (tuple(_dates(a_date[stmt])), ()),
            "statement_confirmed": (tuple(_dates(a_date[stmt & np.isin(a_out, list(CONFIRMED))])), ()),
            "reminders_sent": (tuple(_dates(a_date[sent])), ()),
            "promises_broken": (broken, ()),
            "disputes": (disp, ()),
        }
        for item in EVIDENCE_ITEMS:
            refs, lacking = found[item]
            if item in FACT_ITEMS:
                status = "present" if refs else "none"
            else:
                status = "present" if refs and not lacking else "missing"
            rows.append((cid, str(names.get(cid, "") or ""), item, status, refs, lacking))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def checklist_lines(legal: pd.DataFrame, customer_id: str, lang: str) -> list[tuple[str, str, str, str, bool]]:
    """One case's checklist as text: (item, status, found, missing, gap) per item, in ``lang``.

    Args:
        legal: :func:`evidence_checklist`.
        customer_id: the case.
        lang: "zh" or "en".

    Returns:
        The lines (empty when the customer is no case).
    """
    k = 1 if lang == "zh" else 0
    sep = "、" if lang == "zh" else ", "
    return [(ITEM_LABELS[r.item][k], STATUS_LABELS[r.status][k], sep.join(r.refs), sep.join(r.missing),
             r.status == "missing")
            for r in legal[legal["customer_id"] == customer_id].itertuples(index=False)]

