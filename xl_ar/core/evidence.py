"""Legal readiness: the evidence checklist of each case at the severe stage, from the data.

Before a case goes to a lawyer, the collector gathers what proves the debt and what was done
to collect it. :func:`evidence_checklist` reads it from the ledger, one row per case and item:

==================== ====================================================================
item                 present when
==================== ====================================================================
contract             every invoice of the case has a ContractNo (missing: those without)
invoices             the case's open overdue invoices (always present: they are the claim)
delivery             every invoice has a DeliveryNote (送货单/签收单); missing when the
                     Invoices sheet has no such column or a cell is blank
statement_sent       a statement is on the collection log (Activities, channel statement)
statement_confirmed  a returned statement confirmed the balance (Outcome confirmed/已确认)
reminders_sent       messages the tool sent are on the log (a ``[xlar-…]`` id in the Note)
promises_broken      a broken promise to pay (``xl_ar.core.plans.check_promises``)
disputes             disputed open invoices of the customer
==================== ====================================================================

The first six are evidence a claim needs: "missing" is a gap to fill. The last two are facts
a lawyer must know, not gaps: they are "present" or "none" (a broken promise acknowledges the
debt; a dispute is the defence to expect).

A case is a customer with an open invoice at the ``severe`` stage; its invoices are all of the
customer's open overdue invoices (disputed ones included: they are part of the story).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from xl_ar.core.cadence import SENT_NOTE
from xl_ar.core.order import lex_order

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


def _day_texts(values: np.ndarray) -> list[str | None]:
    """Each value's day as ISO text, None for a missing one."""
    return [None if pd.isna(v) else pd.Timestamp(v).date().isoformat() for v in values]


def _sorted_days(days: Any) -> tuple[str, ...]:
    """The distinct days among ``days`` (ISO text or None), in order."""
    return tuple(sorted({d for d in days if d is not None}))


def _dates(values: Any) -> list[str]:
    """The distinct days of ``values`` as ISO text, in order (missing values left out)."""
    return list(_sorted_days(_day_texts(values)))


def _stripped(values: np.ndarray) -> list[str]:
    """Each value as stripped text, a blank as "" (what ``fillna("").astype(str).str.strip()``
    gives, without pandas' string machinery: a million cells cost 1.5 s there)."""
    return [v.strip() if type(v) is str else "" if pd.isna(v) else str(v).strip() for v in values.tolist()]


def _by_case(keys: np.ndarray, cases: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The positions whose key is one of ``cases`` (sorted), ordered by case and then position,
    and where each case's run of them begins (``bounds[i]:bounds[i + 1]`` is case ``i``'s)."""
    codes = pd.Index(cases, dtype=object).get_indexer(np.asarray(keys, dtype=object)).astype(np.int64)
    rows = np.flatnonzero(codes >= 0)
    rows = rows[lex_order(codes[rows])]
    return rows, np.searchsorted(codes[rows], np.arange(len(cases) + 1))


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
    severe = open_ & pd.Series(stage, dtype=object).isin(list(LEGAL_STAGES)).to_numpy()
    cases = sorted(set(cust[severe].tolist()), key=str)
    names = dict(zip(ledger.customers["customer_id"], ledger.customers["name"]))
    # The cases' rows, grouped once, and what the checklist quotes of them as Python values,
    # sliced per case below (a scan of the ledger per case, or numpy per case, cost more).
    mine_all, inv_bounds = _by_case(cust, cases)
    open_disputed = open_ & inv["disputed"].to_numpy(bool)
    # The rows whose texts the checklist quotes: the cases' overdue and disputed open invoices.
    late, argued = mine_all[overdue[mine_all]], mine_all[open_disputed[mine_all]]

    def text(col: str, *rows: np.ndarray) -> np.ndarray:
        """The column as stripped text on ``rows`` ("" elsewhere)."""
        out = np.full(len(inv), "", dtype=object)
        at = np.concatenate(rows)
        if col in inv and len(at):
            out[at] = _stripped(inv[col].to_numpy(dtype=object)[at])
        return out

    inv_no = text("invoice_no", late, argued)
    contract, delivery, reason = text("contract_no", late), text("delivery_note", late), text("dispute_reason", argued)
    case_of = np.repeat(np.arange(len(cases)), np.diff(inv_bounds))  # the case of each of mine_all

    def each_case(keep: np.ndarray, *cols: np.ndarray) -> tuple[np.ndarray, list[list[Any]]]:
        """The cases' rows where ``keep``: each case's bounds in them, and ``cols`` on them as lists."""
        at = mine_all[keep[mine_all]]
        return np.searchsorted(case_of[keep[mine_all]], np.arange(len(cases) + 1)), [c[at].tolist() for c in cols]

    od_bounds, (nos_all, con_all, dlv_all) = each_case(overdue, inv_no, contract, delivery)
    dp_bounds, (d_nos, d_reasons) = each_case(open_disputed, inv_no, reason)
    disp_all = [f"{n}: {r}" if r else n for n, r in zip(d_nos, d_reasons)]
    cols = ledger.places.get("Invoices", ("", {}))[1]
    has_delivery = "delivery_note" in inv and ("delivery_note" in cols if cols else True)
    acts = ledger.activities
    if len(acts):
        acts = acts[acts["date"].to_numpy(dtype="datetime64[s]") <= np.datetime64(as_of, "s")]
    n_act = len(acts)
    a_cust = acts["customer_id"].to_numpy(dtype=object) if n_act else np.zeros(0, object)
    a_rows, a_bounds = _by_case(a_cust, cases)
    # Per log row of a case: its date as text, and whether it is a statement, a confirmed one, a message of the tool's.
    a_date = _day_texts(acts["date"].to_numpy()[a_rows]) if n_act else []
    a_chan = acts["channel"].fillna("").astype(str).str.lower().to_numpy(dtype=object)[a_rows] if n_act else a_cust
    a_out = acts["outcome"].fillna("").astype(str).str.strip().str.lower().to_numpy(dtype=object)[a_rows] \
        if n_act else a_cust
    a_note = acts["note"].fillna("").astype(str).to_numpy(dtype=object)[a_rows].tolist() if n_act else []
    is_stmt = (a_chan == "statement").tolist() if n_act else []
    is_conf = np.isin(a_out, list(CONFIRMED)).tolist() if n_act else []
    is_sent = [bool(SENT_NOTE.search(note)) for note in a_note]
    broken_of: dict[Any, tuple[str, ...]] = {}
    if promises is not None and len(promises):
        b = promises[promises["state"] == "broken"]
        for cid, group in b.groupby("customer_id", sort=False):
            broken_of[cid] = tuple(_dates(group["promise_date"]))
    rows: list[tuple] = []
    for i, cid in enumerate(cases):  # the texts are str already (text() above): quoted as they are
        o0, o1 = int(od_bounds[i]), int(od_bounds[i + 1])
        nos, con, dlv = tuple(nos_all[o0:o1]), con_all[o0:o1], dlv_all[o0:o1]
        log = range(int(a_bounds[i]), int(a_bounds[i + 1]))
        stmt = [j for j in log if is_stmt[j]]
        broken = broken_of.get(cid, ())
        disp = tuple(disp_all[int(dp_bounds[i]):int(dp_bounds[i + 1])])
        found = {
            "contract": (tuple(dict.fromkeys(c for c in con if c)), tuple(n for n, c in zip(nos, con) if not c)),
            "invoices": (nos, ()),
            "delivery": (tuple(d for d in dlv if d),
                         tuple(n for n, d in zip(nos, dlv) if not d) if has_delivery else nos),
            "statement_sent": (_sorted_days(a_date[j] for j in stmt), ()),
            "statement_confirmed": (_sorted_days(a_date[j] for j in stmt if is_conf[j]), ()),
            "reminders_sent": (_sorted_days(a_date[j] for j in log if is_sent[j]), ()),
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
    return all_checklist_lines(legal[legal["customer_id"] == customer_id], lang).get(customer_id, [])


def all_checklist_lines(legal: pd.DataFrame, lang: str) -> dict[str, list[tuple[str, str, str, str, bool]]]:
    """Every case's checklist as text, in one pass: customer id -> :func:`checklist_lines`.

    Args:
        legal: :func:`evidence_checklist` (its cases in order).
        lang: "zh" or "en".

    Returns:
        The cases in the order of ``legal``, each with its lines.
    """
    k = 1 if lang == "zh" else 0
    sep = "、" if lang == "zh" else ", "
    out: dict[str, list[tuple[str, str, str, str, bool]]] = {}
    # Plain lists: iterating pandas' string columns element by element costs more than the rest.
    cols = [legal[c].tolist() for c in ("customer_id", "item", "status", "refs", "missing")]
    for cid, item, status, refs, missing in zip(*cols):
        out.setdefault(cid, []).append((ITEM_LABELS[item][k], STATUS_LABELS[status][k], sep.join(refs),
                                        sep.join(missing), status == "missing"))
    return out
