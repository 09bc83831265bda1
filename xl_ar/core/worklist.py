"""The collector's work list and the three-dimensional warning table of a refresh run.

Both read the run's open items and collection stages at the as-of date; their settings
(:class:`~xl_ar.core.kpis.KpiSettings`) and the customer look-ups are shared with the KPIs.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from xl_ar.core.fx import FxTable
from xl_ar.core.kpis import KpiSettings
from xl_ar.core.keys import LedgerKeys
from xl_ar.core.views import customer_info, stages_of
from xl_ar.core.money import CURRENCY_EXPONENTS
from xl_ar.core.order import lex_order
from xl_ar.core.plans import PromiseCheck, check_promises
from xl_ar.core.stages import invoice_classes

if TYPE_CHECKING:
    from xl_ar.core.ledger import Ledger
    from xl_ar.core.position import Position

#: Urgency of a stage in the work list (lower = more urgent). A stage a user names on the
#: Stages sheet ranks with the fallback "overdue" when past due, else with the reminders.
STAGE_RANK = {"severe": 0, "moderate": 1, "overdue": 2, "mild": 3, "due": 4, "pre_due": 5,
              "disputed": 6, "promised": 7, "": 9}
_QUIET = ("", "promised", "disputed", "written_off")  # stages that are not a reminder now


def _promise_currency(ledger: "Ledger", promises: pd.DataFrame, base: str) -> np.ndarray:
    """A promise's currency: its invoice's, or the base currency for a customer-level one."""
    # Promises are few: look the invoices up in their numbers, not the other way round.
    wanted = pd.Index(promises["invoice_no"].to_numpy(dtype=object)).unique()
    hit = wanted.get_indexer(ledger.invoices["invoice_no"].to_numpy(dtype=object))
    first = np.full(len(wanted), len(hit), np.int64)  # the first invoice of each number
    np.minimum.at(first, hit[hit >= 0], np.flatnonzero(hit >= 0))
    ccy = np.r_[ledger.invoices["currency"].to_numpy(dtype=object), np.array([base], dtype=object)]
    return ccy[first[wanted.get_indexer(promises["invoice_no"].to_numpy(dtype=object))]]


# ----------------------------------------------------------------------------- the work list


def collections_worklist(ledger: "Ledger", result: "Position", stages: pd.DataFrame | None, as_of: dt.date,
                         days_ahead: int = 7, promises: PromiseCheck | None = None,
                         fx: FxTable | None = None) -> pd.DataFrame:
    """The collector's work list: one row per customer (and currency) with something to do.

    An invoice is listed when it is open, not written off, and overdue, due within
    ``days_ahead`` days, or already in a reminder stage (a class-C SMS 10 days ahead). A
    customer billed in two currencies gets a row per currency, since amounts in different
    currencies cannot be added (OCA credit-control groups its communications the same way).

    Order: by owner (the person who does the row's next action; no owner last), then urgency:
    the worst stage (:data:`STAGE_RANK`: severe, moderate, overdue, mild, due, reminder,
    disputed, promised), then the oldest item's days late (most first), then the overdue
    amount (largest first, in its own currency), then customer ID.

    Args:
        ledger: the validated ledger.
        result: the refresh run at ``as_of``.
        stages: :func:`xl_ar.core.stages.assign_stages` of the same run (None: ``result.stages``).
        as_of: the as-of date.
        days_ahead: items due within this many days are listed.
        promises: the run's :func:`~xl_ar.core.plans.check_promises` (computed when None).
        fx: rates to the base currency, for the base-currency columns (None: base lines only).

    Returns:
        ``owner``, ``owner_zh``, ``customer_id``, ``name``, ``class``, ``currency``, ``exp``,
        ``stage``, ``stage_label``, ``stage_label_zh`` (worst stage), ``items``,
        ``overdue_items``, ``overdue_minor``, ``due_soon_minor``, ``oldest_invoice``,
        ``oldest_days_late`` (negative: days until due), ``late_fee_minor``, ``promise_date``
        and ``promise_minor`` (the earliest pending promise), ``broken_promises``,
        ``next_action``, ``next_action_zh``, ``channel``, ``next_action_date`` (the earliest
        among the listed items, the most urgent stage's on a tie), ``account_manager``
        (Customers ``Owner``), ``overdue_base_minor`` and ``due_soon_base_minor`` (the row's
        amounts in the base currency, each invoice converted once half-up at the as-of rate;
        NA when its currency has no rate), ``base_currency``.
    """
    inv, r, stages = ledger.invoices, result.invoices, stages_of(result, stages)
    asof = np.datetime64(as_of, "D")
    due = inv["due_date"].to_numpy(dtype="datetime64[D]")
    days = np.where(np.isnat(due), 0, (asof - np.where(np.isnat(due), asof, due)).astype(np.int64))
    open_ = r["open_minor"].to_numpy(dtype=np.int64)
    stage = stages["stage"].to_numpy(dtype=object)
    active = (r["exists"].to_numpy(dtype=bool) & (inv["amount_minor"].to_numpy() > 0) & (open_ > 0)
              & ~np.isnat(due) & ~stages["written_off"].to_numpy(dtype=bool))
    overdue = days > 0
    reminder = ~overdue & ~pd.Series(stage).isin(_QUIET).to_numpy()
    pos = np.flatnonzero(active & (overdue | (days >= -days_ahead) | reminder))
    base = next(iter(result.tieouts))
    fx = fx if fx is not None and fx.base == base else FxTable(base)
    conv = fx.convert_minor(open_, inv["currency"].to_numpy(dtype=object), as_of)
    rank = pd.Series(stage[pos]).map(STAGE_RANK).to_numpy(dtype=float)
    rank = np.where(np.isnan(rank), np.where(overdue[pos], STAGE_RANK["overdue"], STAGE_RANK["pre_due"]), rank)
    nad = stages["next_action_date"].to_numpy(dtype="datetime64[s]")[pos]
    items = pd.DataFrame({
        "pos": pos, "customer_id": inv["customer_id"].to_numpy(dtype=object)[pos],
        "currency": inv["currency"].to_numpy(dtype=object)[pos], "exp": r["exp"].to_numpy(dtype=np.int64)[pos],
        "days": days[pos], "rank": rank.astype(np.int64), "late": overdue[pos].astype(np.int64),
        "overdue_minor": np.where(overdue[pos], open_[pos], 0), "due_soon_minor": np.where(overdue[pos], 0, open_[pos]),
        "late_fee_minor": r["late_fee_minor"].to_numpy(dtype=np.int64)[pos],
        "known": conv.known[pos].astype(np.int64), "overdue_base_minor": np.where(overdue[pos], conv.minor[pos], 0),
        "due_soon_base_minor": np.where(overdue[pos], 0, conv.minor[pos]),
        "nad": nad,
    })
    for col in ("stage", "stage_label", "stage_label_zh", "next_action", "next_action_zh", "channel", "owner", "owner_zh"):
        items[col] = stages[col].to_numpy(dtype=object)[pos]
    items["invoice_no"] = inv["invoice_no"].to_numpy(dtype=object)[pos]
    keys = ["customer_id", "currency"]
    g = items.groupby(keys, sort=False)
    out = g.agg(exp=("exp", "first"), items=("pos", "size"), overdue_items=("late", "sum"),
                overdue_minor=("overdue_minor", "sum"), due_soon_minor=("due_soon_minor", "sum"),
                late_fee_minor=("late_fee_minor", "sum"), known=("known", "min"),
                overdue_base_minor=("overdue_base_minor", "sum"), due_soon_base_minor=("due_soon_base_minor", "sum"),
                ).reset_index()

    # The groups as integers, numbered like ``out``'s rows (first appearance), so each "first
    # item of the group by some order" is one sort, not a sort and a text de-duplication.
    group = g.ngroup().to_numpy()

    def first(by: list[np.ndarray], cols: dict[str, str]) -> None:
        """Copy ``cols`` of each group's first item in the order ``by`` (then sheet order: the
        items are in it) into ``out``."""
        o = lex_order(group, *by)
        lead = o[np.r_[True, group[o][1:] != group[o][:-1]]] if len(o) else o
        for src, dst in cols.items():
            out[dst] = items[src].to_numpy()[lead]

    days_, rank_ = items["days"].to_numpy(), items["rank"].to_numpy()
    first([-days_], {"invoice_no": "oldest_invoice", "days": "oldest_days_late"})
    first([rank_, -days_], {"stage": "stage", "stage_label": "stage_label", "stage_label_zh": "stage_label_zh",
                            "rank": "rank"})
    first([items["nad"].to_numpy(), rank_], {  # (no date: last)
        "next_action": "next_action", "next_action_zh": "next_action_zh", "channel": "channel",
        "nad": "next_action_date", "owner": "owner", "owner_zh": "owner_zh"})

    check = promises if promises is not None else check_promises(ledger, result, as_of)
    p = check.promises.assign(currency=lambda f: _promise_currency(ledger, f, base))
    pending = p[p["state"] == "promised"].sort_values(["promise_date", "row"], kind="stable").drop_duplicates(keys)
    out = out.merge(pending[keys + ["promise_date", "promised_minor"]].rename(columns={"promised_minor": "promise_minor"}),
                    on=keys, how="left")
    broken = p[p["state"] == "broken"].groupby(keys).size().rename("broken_promises").reset_index()
    out = out.merge(broken, on=keys, how="left").merge(customer_info(ledger), on="customer_id", how="left")
    out["broken_promises"] = out["broken_promises"].fillna(0).astype(np.int64)
    out["promise_minor"] = out["promise_minor"].astype("Int64")
    out["promise_date"] = out["promise_date"].astype("datetime64[s]")
    out["next_action_date"] = out["next_action_date"].astype("datetime64[s]")
    for col in ("name", "class", "account_manager"):
        out[col] = out[col].fillna("").astype(object)
    out["_blank"] = out["owner"] == ""
    out["_over"] = -out["overdue_minor"]
    out["_old"] = -out["oldest_days_late"]
    out = out.sort_values(["_blank", "owner", "rank", "_old", "_over", "customer_id", "currency"], kind="stable")
    cols = ["owner", "owner_zh", "customer_id", "name", "class", "currency", "exp", "stage", "stage_label",
            "stage_label_zh", "items", "overdue_items", "overdue_minor", "due_soon_minor", "oldest_invoice",
            "oldest_days_late", "late_fee_minor", "promise_date", "promise_minor", "broken_promises", "next_action",
            "next_action_zh", "channel", "next_action_date", "account_manager", "overdue_base_minor",
            "due_soon_base_minor"]
    for col in ("overdue_base_minor", "due_soon_base_minor"):  # no rate: unknown, never zero
        out[col] = out[col].astype("Int64").where(out["known"] == 1)
    out = out[cols].reset_index(drop=True)
    out["base_currency"] = base
    for col in ("exp", "items", "overdue_items", "overdue_minor", "due_soon_minor", "oldest_days_late", "late_fee_minor"):
        out[col] = out[col].astype(np.int64)
    return out


# ----------------------------------------------------------------------------- the warning table


def _band_labels(kpi: KpiSettings) -> list[tuple[str, str, bool]]:
    """(English, Chinese, overdue) per days-to-due band: most overdue first, then by days to due."""
    e, out = kpi.aging_edges, []
    out.append((f"Overdue >{e[-1]} days", f"逾期{e[-1]}天以上", True))
    for k in range(len(e) - 1, -1, -1):
        lo = 1 if k == 0 else e[k - 1] + 1
        out.append((f"Overdue {lo}-{e[k]} days", f"逾期{lo}-{e[k]}天", True))
    lo = 0
    for hi in kpi.due_bands:
        if hi == 0:
            out.append(("Due today", "今天到期", False))
        elif lo == hi:
            out.append((f"Due in {hi} days", f"{hi}天后到期", False))
        else:
            out.append((f"Due in {lo}-{hi} days", f"{lo}-{hi}天后到期", False))
        lo = hi + 1
    out.append((f"Due in >{kpi.due_bands[-1]} days", f"{kpi.due_bands[-1]}天以后到期", False))
    return out


def _amount_labels(edges: tuple[int, ...]) -> list[tuple[str, str]]:
    out = [(f"< {edges[0]:,}", f"{edges[0]:,} 以下")]
    out += [(f"{a:,} - {b:,}", f"{a:,} - {b:,}") for a, b in zip(edges, edges[1:])]
    return out + [(f"≥ {edges[-1]:,}", f"{edges[-1]:,} 及以上")]


def warning_table(ledger: "Ledger", result: "Position", as_of: dt.date, settings: KpiSettings,
                  fx: FxTable | None = None, keys: LedgerKeys | None = None) -> pd.DataFrame:
    """The three-dimensional warning table (docs/domain.md section 3): days to due × amount × class.

    Every open invoice whose currency converts (the base currency, or one with an ``FxRates``
    rate on or before the as-of date; its open amount converted once, half-up) falls in exactly
    one cell: its days to the due date (an
    overdue band by the aging edges, else a band of ``settings.due_bands``), its open amount
    (``settings.amount_bands`` in major units: lower edge included) and its customer's class
    (blank = class B, as the stage rules treat it). So the amounts add up to the open total.

    Args:
        ledger: the validated ledger.
        result: the refresh run at ``as_of``.
        as_of: the as-of date.
        settings: the KPI settings.
        fx: rates to the base currency (None: base-currency invoices only). A currency with
            no rate is left out (the KPIs' ``foreign_open`` names it).
        keys: the run's :class:`~xl_ar.core.keys.LedgerKeys` of ``ledger`` (made when None).

    Returns:
        The full grid, one row per (band, amount band, class), bands most overdue first:
        ``band``, ``band_label``, ``band_label_zh``, ``overdue``, ``amount_band``,
        ``amount_label``, ``amount_label_zh``, ``class``, ``count``, ``amount_minor``,
        ``currency``, ``exp``.
    """
    base = settings.base_currency or next(iter(result.tieouts))
    exp = CURRENCY_EXPONENTS.get(base, 2)
    inv, r = ledger.invoices, result.invoices
    open_ = r["open_minor"].to_numpy(dtype=np.int64)
    fx = fx if fx is not None and fx.base == base else FxTable(base)
    conv = fx.convert_minor(open_, inv["currency"].to_numpy(dtype=object), as_of)
    m = conv.known & r["exists"].to_numpy(dtype=bool) & (open_ > 0)
    due = inv["due_date"].to_numpy(dtype="datetime64[D]")[m]
    to_due = np.where(np.isnat(due), 0, (np.where(np.isnat(due), np.datetime64(as_of, "D"), due)
                                         - np.datetime64(as_of, "D")).astype(np.int64))
    n_over = len(settings.aging_edges) + 1
    over = (n_over - 1) - np.searchsorted(np.asarray(settings.aging_edges), -to_due, side="left")
    band = np.where(to_due < 0, over, n_over + np.searchsorted(np.asarray(settings.due_bands), to_due, side="left"))
    amount = conv.minor[m]
    amount_band = np.searchsorted(np.asarray(settings.amount_bands, dtype=np.int64) * 10 ** exp, amount, side="right")
    klass = invoice_classes(keys or LedgerKeys(ledger))[m]
    classes = sorted({"A", "B", "C"} | set(klass))
    bands, amounts = _band_labels(settings), _amount_labels(tuple(settings.amount_bands))
    grid = pd.MultiIndex.from_product([range(len(bands)), range(len(amounts)), classes],
                                      names=["band", "amount_band", "class"])
    sums = (pd.DataFrame({"band": band, "amount_band": amount_band, "class": klass, "amount_minor": amount})
            .groupby(["band", "amount_band", "class"])["amount_minor"].agg(["size", "sum"]))
    full = sums.reindex(grid, fill_value=0).reset_index().rename(columns={"size": "count", "sum": "amount_minor"})
    full["band_label"] = [bands[b][0] for b in full["band"]]
    full["band_label_zh"] = [bands[b][1] for b in full["band"]]
    full["overdue"] = [bands[b][2] for b in full["band"]]
    full["amount_label"] = [amounts[a][0] for a in full["amount_band"]]
    full["amount_label_zh"] = [amounts[a][1] for a in full["amount_band"]]
    full["currency"], full["exp"] = base, exp
    cols = ["band", "band_label", "band_label_zh", "overdue", "amount_band", "amount_label", "amount_label_zh",
            "class", "count", "amount_minor", "currency", "exp"]
    out = full[cols].copy()
    out[["count", "amount_minor"]] = out[["count", "amount_minor"]].astype(np.int64)
    return out
