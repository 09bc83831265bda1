"""One refresh run: a validated ledger and an as-of date in, every computed figure out.

``refresh(ledger, settings, as_of)`` allocates receipts, ages the open items, computes late
fees and the per-customer aging with its tie-out. It is pure: the same ledger and as-of date
always give the same result, which is what makes a refresh idempotent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Collection, Mapping

import numpy as np
import pandas as pd

from xl_ar.core.aging import AgingEdges, aging_table, age_open_items, days_between
from xl_ar.core.allocation import allocate_receipts
from xl_ar.core.beside import beside, can_fork
from xl_ar.core.credit import CreditSettings, assess_credit
from xl_ar.core.kpis import Kpis, KpiSettings, compute_kpis
from xl_ar.core.stages import DEFAULT_STAGE_RULES, StageRule, assign_stages
from xl_ar.core.worklist import collections_worklist, warning_table
from xl_ar.core.evidence import LEGAL_STAGES, evidence_checklist
from xl_ar.core.fees import FeeTerms, late_fees
from xl_ar.core.fx import FxTable, missing_rate_issues
from xl_ar.core.issues import Issue
from xl_ar.core.keys import LedgerKeys
from xl_ar.core.calendar import NO_CALENDAR, BusinessCalendar
from xl_ar.core.ledger import Ledger
from xl_ar.core.money import CURRENCY_EXPONENTS
from xl_ar.core.plans import check_promises
from xl_ar.core.position import Position, TieOut
from xl_ar.core.progress import Step
from xl_ar.core.rates import RateTable
from xl_ar.core.settings import Settings
from xl_ar.core.terms import invoice_fee_terms
from xl_ar.core.writeoffs import written_off_at


@dataclass(frozen=True)
class Policies:
    """The rules a run applies beyond the basic settings, each from the workbook or default.

    Attributes:
        credit: credit-control settings.
        stage_rules: collection-stage rules (the Stages sheet, else the sources' defaults).
        owners: owner role -> person, for stages whose owner is a role (e.g. finance).
        kpi: the dashboard's and work list's settings (targets, periods, bands, trend).
        calendar: working days for next action dates and payment deadlines (the Calendar setting).
    """

    credit: CreditSettings = field(default_factory=CreditSettings)
    stage_rules: tuple[StageRule, ...] = DEFAULT_STAGE_RULES
    owners: Mapping[str, str] = field(default_factory=dict)
    kpi: KpiSettings = field(default_factory=KpiSettings)
    calendar: BusinessCalendar = NO_CALENDAR


@dataclass(frozen=True)
class RunResult(Position):
    """Everything a refresh computed: the :class:`~xl_ar.core.position.Position` and the rules' results.

    Attributes (beyond the position's):
        credit: one row per customer (see ``xl_ar.core.credit.assess_credit``).
        stages: one row per invoice row (see ``xl_ar.core.stages.assign_stages``).
        kpis, worklist, warning: the dashboard's figures, the collectors' work list and the
            three-dimensional warning table (see ``xl_ar.core.kpis``, ``xl_ar.core.worklist``).
    """

    credit: pd.DataFrame | None = None
    stages: pd.DataFrame | None = None
    kpis: Kpis | None = None
    worklist: pd.DataFrame | None = None
    warning: pd.DataFrame | None = None
    legal: pd.DataFrame | None = None


#: What a refresh computes beyond the position, all of it by default (see :class:`RunResult`).
ALL_PARTS = frozenset({"credit", "stages", "kpis", "worklist", "warning", "legal"})


def fee_terms(settings: Settings) -> FeeTerms:
    """The late-fee terms a run applies, from the settings."""
    return FeeTerms(settings.late_fee_policy, settings.late_fee_rate,
                    settings.late_fee_grace_days, settings.late_fee_cap)


def rate_table(ledger: Ledger) -> RateTable:
    """The packaged reference rates, overridden by the workbook's Rates sheet if any."""
    table = RateTable.default()
    if ledger.rates is not None and len(ledger.rates):
        r = ledger.rates.dropna(subset=["effective_from", "rate_percent"])
        table = table.with_overrides(r[["series", "effective_from", "rate_percent"]])
    return table


def _last_write_off(ledger: Ledger, n: int, as_of: dt.date) -> np.ndarray:
    """Per invoice, the date of its last write-off by the as-of date (NaT: none)."""
    return written_off_at(ledger.writeoffs, n, np.datetime64(as_of, "s"))[1]


def _fees_by_terms(ledger: Ledger, items: pd.DataFrame, payments: pd.DataFrame, as_of: dt.date,
                   settings: Settings) -> tuple[np.ndarray, list[tuple[int, str]], np.ndarray]:
    """Late fees of every invoice under its customer's terms (see ``xl_ar.core.terms``), with
    the statutory compensation they include."""
    terms, idx = invoice_fee_terms(ledger.customers, ledger.invoices["customer_id"].to_numpy(dtype=object),
                                   fee_terms(settings))
    rates = rate_table(ledger)
    fee = np.zeros(len(items), np.int64)
    comp = np.zeros(len(items), np.int64)
    notes: list[tuple[int, str]] = []
    pay_item = payments["item"].to_numpy(dtype=np.int64)
    for k, t in enumerate(terms):
        pos = np.flatnonzero(idx == k)
        if not len(pos):
            continue
        renumber = np.full(len(items), -1, np.int64)
        renumber[pos] = np.arange(len(pos))
        sub_pay = payments[renumber[pay_item] >= 0].assign(item=lambda f: renumber[f["item"].to_numpy(dtype=np.int64)])
        res = late_fees(items.iloc[pos].reset_index(drop=True), sub_pay.reset_index(drop=True), as_of, t, rates)
        fee[pos] = res.fee_minor
        if res.compensation_minor is not None:
            comp[pos] = res.compensation_minor
        notes += [(int(pos[p]), n) for p, n in res.notes]
    return fee, notes, comp


#: The aging's per-customer sums beside its buckets (:func:`_group_sums`).
_GROUP_SUMS = ("late_fee", "disputed", "unapplied", "written_off", "recovered")


def _group_sums(keys: LedgerKeys, receipts: pd.DataFrame, cust: np.ndarray, ccy: np.ndarray, un: pd.DataFrame,
                recovered: pd.DataFrame, per_invoice: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per (customer, currency) group, in their sorted order: the sums of ``per_invoice``'s
    columns over the invoices, the unapplied money and the recovered written-off debt, one row
    per group any of them names (what a group-by of those rows' customer and currency sums).

    Summed by the run's group codes (:class:`xl_ar.core.keys.LedgerKeys`, numbered in the
    groups' sorted order) instead of hashing a million customer and currency texts again.
    """
    n, inv_g, rec_g = keys.groups, keys.inv_group, keys.rec_group
    kind, src = un["payer_kind"].to_numpy(dtype=object), un["payer"].to_numpy(dtype=np.int64)
    by_receipt = kind == "receipt"
    un_g = np.zeros(len(un), np.int64)
    un_g[by_receipt] = rec_g[src[by_receipt]]
    un_g[~by_receipt] = inv_g[src[~by_receipt]]
    rc_g = inv_g[recovered["invoice"].to_numpy(dtype=np.int64)]
    totals = {name: np.bincount(inv_g, values, n) for name, values in per_invoice.items()}
    totals["unapplied"] = np.bincount(un_g, un["amount_minor"].to_numpy(dtype=np.float64), n)
    totals["recovered"] = np.bincount(rc_g, recovered["amount_minor"].to_numpy(dtype=np.float64), n)
    named = np.zeros(n, bool)
    for g in (inv_g, un_g, rc_g):
        named[g] = True
    customer, currency = np.empty(n, object), np.empty(n, object)
    customer[inv_g], currency[inv_g] = cust, ccy
    rec_named = un_g[by_receipt]  # (a receipt's group is named only through its unapplied money)
    customer[rec_named] = receipts["customer_id"].to_numpy(dtype=object)[src[by_receipt]]
    currency[rec_named] = receipts["currency"].to_numpy(dtype=object)[src[by_receipt]]
    at = np.flatnonzero(named)
    return pd.DataFrame({"customer_id": customer[at], "currency": currency[at],
                         **{name: totals[name][at] for name in _GROUP_SUMS}})


def refresh(ledger: Ledger, settings: Settings, as_of: dt.date, policies: Policies | None = None, *,
            parts: Collection[str] = ALL_PARTS, progress: Step | None = None) -> RunResult:
    """Compute paid/open amounts, days late, buckets, late fees, the aging, credit and stages.

    Args:
        ledger: a validated ledger without errors.
        settings: the run's settings.
        as_of: the as-of date; documents dated after it do not exist for this run.
        policies: credit settings, stage rules and owners (defaults when None).
        parts: what to compute beyond the position (of :data:`ALL_PARTS`); the others are None.
            The stages come with any part that needs them.
        progress: reports the rules done, each by its share of a full sheet's time.

    Returns:
        The :class:`RunResult`.
    """
    done = progress or Step()
    inv = ledger.invoices
    edges = AgingEdges(settings.aging_edges)
    labels = edges.labels(settings.language)
    keys = LedgerKeys(ledger)  # every step groups by these: made once (xl_ar.core.keys)
    alloc = allocate_receipts(inv, ledger.receipts, as_of, groups=(keys.inv_group, keys.rec_group),
                              targets=keys.named, applies=keys.applies, writeoffs=ledger.writeoffs,
                              auto_apply=settings.auto_apply)
    written_off = alloc.written_off_minor
    done(0.2)

    inv_date = inv["invoice_date"].to_numpy(dtype="datetime64[s]")
    due = inv["due_date"].to_numpy(dtype="datetime64[s]")
    amt = inv["amount_minor"].to_numpy(dtype=np.int64)
    exists = ~np.isnat(inv_date) & (inv_date <= np.datetime64(as_of, "s"))
    is_inv = exists & (amt > 0)
    is_open = is_inv & (alloc.open_minor > 0)

    days_late_now, bucket = age_open_items(due, inv_date, as_of, edges, settings.aging_basis)
    days_late_paid = days_between(alloc.cleared_date, due)
    days_late = np.where(is_open, np.maximum(days_late_now, 0),
                         np.where(is_inv, np.maximum(days_late_paid, 0), -1))
    bucket = np.where(is_open, bucket, -1)

    issues: list[Issue] = []
    items = pd.DataFrame({
        "principal_minor": np.where(is_inv, amt, 0), "due_date": due,
        "currency": inv["currency"].to_numpy(dtype=object), "exp": inv["exp"].to_numpy(dtype=np.int64),
    })
    app = alloc.applications
    payments = pd.DataFrame({"item": app["invoice"].to_numpy(dtype=np.int64), "date": app["date"].to_numpy(),
                             "amount_minor": app["amount_minor"].to_numpy(dtype=np.int64)})
    wo = ledger.writeoffs
    if wo is not None and len(wo):  # a write-off settles its amount on its date: fees stop there
        wo = wo[wo["date"].to_numpy(dtype="datetime64[s]") <= np.datetime64(as_of, "s")]
        payments = pd.concat([payments, pd.DataFrame({
            "item": wo["invoice"].to_numpy(dtype=np.int64), "date": wo["date"].to_numpy(dtype="datetime64[s]"),
            "amount_minor": wo["amount_minor"].to_numpy(dtype=np.int64)})], ignore_index=True)
    fee_all, fee_notes, comp_all = _fees_by_terms(ledger, items, payments, as_of, settings)
    fee_minor = np.where(is_inv, fee_all, 0).astype(np.int64)
    done(0.3)
    rows = inv["row"].to_numpy()
    sheet = ledger.places.get("Invoices", ("Invoices",))[0]
    by_note: dict[str, list[int]] = {}
    for pos, note in fee_notes:
        by_note.setdefault(note, []).append(int(rows[pos]))
    for note, where in by_note.items():  # one warning per kind of note, not one per invoice
        more = f" (and {len(where) - 1} more rows)" if len(where) > 1 else ""
        issues.append(Issue(f"{sheet}!{where[0]}:{where[0]}", note + more, "warning"))

    invoices_out = pd.DataFrame({
        "row": rows, "exists": exists, "paid_minor": alloc.paid_minor, "open_minor": alloc.open_minor,
        "days_late": days_late, "bucket": bucket, "late_fee_minor": fee_minor,
        "compensation_minor": np.where(is_inv, comp_all, 0).astype(np.int64),
        "exp": inv["exp"].to_numpy(dtype=np.int64), "cleared_date": alloc.cleared_date,
        "written_off_minor": written_off, "written_off_date": _last_write_off(ledger, len(inv), as_of),
    })

    n_b = len(labels)
    cust = inv["customer_id"].to_numpy(dtype=object)
    ccy = inv["currency"].to_numpy(dtype=object)
    un = alloc.unapplied
    un_bucket = _unapplied_buckets(un, as_of, edges, settings)
    if un_bucket is None:
        aging = aging_table(cust, ccy, np.where(is_open, bucket, 0), alloc.open_minor, n_b)
    else:  # open items: unapplied money is aged as negative items by its own date
        aging = aging_table(np.r_[cust, un["customer_id"].to_numpy(dtype=object)],
                            np.r_[ccy, un["currency"].to_numpy(dtype=object)],
                            np.r_[np.where(is_open, bucket, 0), un_bucket],
                            np.r_[alloc.open_minor, -un["amount_minor"].to_numpy(dtype=np.int64)], n_b)
    disputed = np.where(is_open & inv["disputed"].to_numpy(dtype=bool), alloc.open_minor, 0)
    extra = _group_sums(keys, ledger.receipts, cust, ccy, un, alloc.recovered,
                        {"late_fee": fee_minor, "disputed": disputed, "written_off": written_off})
    sums = list(_GROUP_SUMS)
    keep = (extra[sums] != 0).any(axis=1)
    aging = aging.merge(extra[keep], on=["customer_id", "currency"], how="outer")
    bcols = [f"b{i}" for i in range(n_b)]
    aging[bcols + ["total"] + sums] = aging[bcols + ["total"] + sums].fillna(0).astype(np.int64)
    names = dict(zip(ledger.customers["customer_id"], ledger.customers["name"]))
    aging.insert(1, "name", aging["customer_id"].map(names).astype(object).fillna(""))
    aging = aging.sort_values(["currency", "customer_id"], key=lambda s: s if s.name != "currency" else s.ne(settings.base_currency), kind="stable").reset_index(drop=True)

    tieouts = _tie_out(inv, alloc, is_inv, bucket, fee_minor, labels, settings, un_bucket)
    fx = FxTable.from_frame(settings.base_currency, ledger.fx_rates)
    issues += missing_rate_issues({c: t.open for c, t in tieouts.items()
                                   if t.open and fx.rate_on(c, as_of) is None}, as_of,
                                  ledger.places.get("FxRates", ("FxRates",))[0])
    unapplied = un.copy()
    rec_no = ledger.receipts["receipt_no"].to_numpy(dtype=object)
    inv_no = inv["invoice_no"].to_numpy(dtype=object)
    unapplied["ref"] = [rec_no[p] if k == "receipt" else inv_no[p] for k, p in zip(un["payer_kind"], un["payer"])]
    position = Position(as_of, labels, invoices_out, aging, tieouts, unapplied, alloc, issues)
    done(0.4)
    policies = policies or Policies()
    kpi = policies.kpi
    want = frozenset(parts)
    stages = assign_stages(ledger, position, as_of, policies.stage_rules, policies.owners, calendar=policies.calendar,
                           keys=keys) if want & {"stages", "kpis", "worklist", "legal"} else None
    done(0.55)
    # The KPIs (with their month-end trend) need nothing the steps below make: on a large
    # ledger they are computed on a second core meanwhile, in a forked process, or on a thread
    # from BESIDE_INVOICES_UP_TO and where the system cannot fork (given views of their own of
    # the frames the steps below read).
    kpis = beside(lambda led, pos, stg, k: compute_kpis(led, pos, stg, as_of, kpi, trend=kpi.trend_months > 0,
                                                        fx=fx, keys=k),
                  ledger, position, stages, keys, worth_it=len(inv) >= BESIDE_INVOICES,
                  thread=len(inv) >= BESIDE_INVOICES_UP_TO or not can_fork()) if "kpis" in want else None
    try:
        others = dict(
            credit=assess_credit(ledger, position, as_of, policies.credit, ledger.orders, fx=fx, keys=keys)
            if "credit" in want else None)
        done(0.67)
        others["worklist"] = collections_worklist(ledger, position, stages, as_of, kpi.worklist_days_ahead, fx=fx) \
            if "worklist" in want else None
        done(0.8)
        others["warning"] = warning_table(ledger, position, as_of, kpi, fx=fx, keys=keys) if "warning" in want else None
        others["legal"] = _legal(ledger, position, stages, as_of) if "legal" in want else None
        done(0.85)
    except BaseException:
        if kpis is not None:
            kpis.drop()  # the run fails here: no process left behind for KPIs it no longer needs
        raise
    result = RunResult(**{f.name: getattr(position, f.name) for f in fields(Position)}, stages=stages, **others,
                       kpis=kpis.result() if kpis is not None else None)
    done(1.0)
    return result


#: Invoices from which the KPIs are computed on a second core (below, forking costs more
#: than the KPIs: about 0.25 s of them at 100,000 invoices, 2.5 s at a full sheet).
BESIDE_INVOICES = 50_000
#: Invoices from which they are computed on a thread instead: at a full sheet a forked process
#: saved about 0.5 s of 39 and cost 0.32 GiB more in all (what it allocates, and the pages of
#: the run it comes to copy); a thread costs no memory and about 1 s of the core's 7.7 s
#: (numpy's and pandas' loops let the other thread run). At 100,000 invoices the fork is ahead
#: (the core 0.53 s, on a thread 0.60 s, here 0.66 s), so a thread is used below only where
#: the system cannot fork.
BESIDE_INVOICES_UP_TO = 500_000


def _legal(ledger: Ledger, position: Position, stages: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The evidence checklist of the severe cases (promises are checked only when there is one)."""
    if not stages["stage"].isin(list(LEGAL_STAGES)).any():
        return evidence_checklist(ledger, position, stages, as_of)
    return evidence_checklist(ledger, position, stages, as_of, check_promises(ledger, position, as_of).promises)


def _unapplied_buckets(un: pd.DataFrame, as_of: dt.date, edges: AgingEdges, settings: Settings) -> np.ndarray | None:
    """Open-item mode (AutoApply none): the bucket of each unapplied line, aged by its own date.

    A receipt or credit note is due the day it is dated, so a payment of 45 days ago sits in
    the 31-60 bucket as a negative amount. None in the oldest-first mode (nothing is aged).
    """
    if settings.auto_apply != "none":
        return None
    day = un["date"].to_numpy(dtype="datetime64[s]")
    return age_open_items(day, day, as_of, edges, settings.aging_basis)[1]


def _tie_out(inv, alloc, is_inv, bucket, fee_minor, labels, settings, un_bucket=None) -> dict[str, TieOut]:
    ccy = inv["currency"].to_numpy(dtype=object)
    amt = inv["amount_minor"].to_numpy(dtype=np.int64)
    app = alloc.applications
    app_ccy = ccy[app["invoice"].to_numpy(dtype=np.int64)] if len(app) else np.zeros(0, object)
    un = alloc.unapplied
    currencies = sorted(set(ccy[is_inv]) | set(app_ccy) | set(un["currency"]) | {settings.base_currency},
                        key=lambda c: (c != settings.base_currency, c))
    disputed = inv["disputed"].to_numpy(dtype=bool)
    rec_ccy = ccy[alloc.recovered["invoice"].to_numpy(dtype=np.int64)]
    out: dict[str, TieOut] = {}
    for c in currencies:
        m = is_inv & (ccy == c)
        am = app_ccy == c
        kinds = app["payer_kind"].to_numpy(dtype=object)[am] if len(app) else np.zeros(0, object)
        amounts = app["amount_minor"].to_numpy(dtype=np.int64)[am] if len(app) else np.zeros(0, np.int64)
        open_m = alloc.open_minor[m]
        b = bucket[m]
        buckets = tuple(int(open_m[(b == i) & (open_m > 0)].sum()) for i in range(len(labels)))
        um = (un["currency"] == c).to_numpy()
        if un_bucket is not None:
            neg = un["amount_minor"].to_numpy(dtype=np.int64)[um]
            buckets = tuple(v - int(neg[un_bucket[um] == i].sum()) for i, v in enumerate(buckets))
        t = TieOut(
            currency=c, exp=CURRENCY_EXPONENTS.get(c, 2), invoiced=int(amt[m].sum()),
            credit_applied=int(amounts[kinds == "credit"].sum()), received_applied=int(amounts[kinds == "receipt"].sum()),
            open=int(open_m.sum()), buckets=buckets,
            unapplied_cash=int(un["amount_minor"][um & (un["payer_kind"] == "receipt").to_numpy()].sum()),
            unapplied_credit=int(un["amount_minor"][um & (un["payer_kind"] == "credit").to_numpy()].sum()),
            late_fees=int(fee_minor[m].sum()), disputed_open=int(open_m[disputed[m]].sum()),
            written_off=int(alloc.written_off_minor[m].sum()),
            recovered=int(alloc.recovered["amount_minor"].to_numpy(dtype=np.int64)[rec_ccy == c].sum()),
            aged_unapplied=un_bucket is not None,
        )
        if not t.holds:  # an arithmetic identity of the allocation: failing it is a bug, not bad data
            raise AssertionError(f"aging does not tie out for {c}: {t}")
        out[c] = t
    return out
