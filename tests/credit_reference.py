"""The credit assessment as it was before it was vectorised, kept as the reference the fast one
must equal exactly (tests/core/test_credit_fast.py). Not used by the program."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xl_ar.core.position import Position

import numpy as np
import pandas as pd

from xl_ar.core import registry
from xl_ar.core.convert import is_blank, parse_bool
from xl_ar.core.credit import GRADES, CreditSettings, _grade_array, _score_array, _suggested_major, add_months
from xl_ar.core.fx import FxTable, missing_text
from xl_ar.core.ledger import Ledger
from xl_ar.core.money import CURRENCY_EXPONENTS, to_minor_array


def _tri_state(col: pd.Series | None, n: int) -> np.ndarray:
    """yes -> 1, no -> 0, blank or unreadable -> -1 (a typo must not lift or force a hold)."""
    if col is None:
        return np.full(n, -1, np.int8)
    if col.dtype == bool:  # a bool column cannot say "blank": only a yes is taken as meant
        return np.where(col.to_numpy(dtype=bool), 1, -1).astype(np.int8)

    def one(v: Any) -> int:
        if is_blank(v) or v is pd.NA:
            return -1
        try:
            return int(parse_bool(v))
        except (ValueError, TypeError):
            return -1
    return np.array([one(v) for v in col.to_numpy(dtype=object)], dtype=np.int8)


def _money(cust: pd.DataFrame, name: str, exp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(minor units, given) of a money column: ``name`` in major units (NaN = blank), or
    ``name_minor``; validation stores a blank ``*_minor`` as 0, so blankness comes from ``name``."""
    n = len(cust)
    major = pd.to_numeric(cust[name], errors="coerce").to_numpy(np.float64) if name in cust else None
    minor = pd.to_numeric(cust[f"{name}_minor"], errors="coerce").to_numpy(np.float64) if f"{name}_minor" in cust else None
    if major is None and minor is None:
        return np.zeros(n, np.int64), np.zeros(n, bool)
    given = ~np.isnan(major) if major is not None else ~np.isnan(minor)
    if minor is None:
        minor = to_minor_array(np.nan_to_num(major), exp).astype(np.float64)
    return np.where(given, np.nan_to_num(minor), 0).astype(np.int64), given


def _days(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whole days a - b as floats, NaN where either date is missing."""
    delta = np.asarray(a, "datetime64[D]") - np.asarray(b, "datetime64[D]")
    return np.where(np.isnat(delta), np.nan, delta.astype(np.float64))


def assess_credit(ledger: Ledger, result: "Position", as_of: dt.date, settings: CreditSettings,
                  orders: pd.DataFrame | None = None, fx: FxTable | None = None) -> pd.DataFrame:
    """Credit figures of every customer at the as-of date.

    Args:
        ledger: the validated ledger. ``ledger.customers`` needs ``customer_id`` and
            ``currency`` (the base currency); it may hold ``credit_limit`` (money, NaN = blank)
            and the optional inputs ``last_review`` (datetime64), ``manual_limit`` (money in
            major units, NaN = blank; or ``manual_limit_minor``), ``manual_grade`` (text
            A-D), ``manual_hold`` (yes/no/blank text or bool) and ``negative_news`` (bool or
            yes/no text). Absent columns count as blank.
        result: the refresh run of the same ledger and as-of date.
        as_of: the as-of date.
        settings: the credit rules.
        orders: optional open orders: ``customer_id``, ``amount_minor`` (or ``amount`` in
            major units), ``status``; optionally ``currency`` (other than the customer's:
            converted by ``fx``) and ``order_date`` (after the as-of date: not counted).
        fx: rates to the base currency (None: base-currency money only).

    Returns:
        One row per row of ``ledger.customers`` (same order): ``customer_id``,
        ``avg_days_late``, ``on_time_rate``, ``paid_count``, ``open_minor``,
        ``unapplied_minor``, ``orders_minor``, ``foreign_open_count`` (open items left out
        for want of a rate), ``fx_excluded`` (what they are, e.g. "excludes GBP 1,200.00: no
        rate"), ``exposure_minor``,
        ``limit_minor``, ``limit_source`` ("manual", "sheet", "suggested"),
        ``available_minor``, ``over_limit``, ``score``, ``grade``, ``avg_monthly_sales_minor``,
        ``suggested_limit_minor``, ``suggested_terms_days``, ``early_streak``, ``hold``,
        ``hold_reason``, ``hold_reason_zh``, ``next_review`` (datetime64[s]), ``review_due``.
    """
    s = settings
    cust = ledger.customers.reset_index(drop=True)
    n = len(cust)
    ids = cust["customer_id"].astype(str).to_numpy(dtype=object)
    ccy = cust["currency"].to_numpy(dtype=object) if "currency" in cust else np.full(n, "CNY", object)
    exp = np.array([CURRENCY_EXPONENTS.get(c, 2) for c in ccy], dtype=np.int64)
    home_ccy = pd.Series(ccy, index=ids)
    home_ccy = home_ccy[~home_ccy.index.duplicated()]
    asof = np.datetime64(as_of, "D")

    inv, ri = ledger.invoices, result.invoices
    amt = inv["amount_minor"].to_numpy(dtype=np.int64)
    due = inv["due_date"].to_numpy(dtype="datetime64[D]")
    cleared = ri["cleared_date"].to_numpy(dtype="datetime64[D]")
    f = pd.DataFrame({
        "cust": inv["customer_id"].to_numpy(dtype=object), "no": inv["invoice_no"].to_numpy(dtype=object),
        "amt": amt, "open": ri["open_minor"].to_numpy(dtype=np.int64),
        "idate": inv["invoice_date"].to_numpy(dtype="datetime64[D]").astype("datetime64[s]"),
        "disputed": inv["disputed"].to_numpy(dtype=bool) if "disputed" in inv else np.zeros(len(inv), bool),
        "late": _days(cleared, due), "overdue": _days(np.full(len(inv), asof), due), "pos": np.arange(len(inv)),
        "cleared": cleared.astype("datetime64[s]"), "due": due.astype("datetime64[s]"),
    })
    exists = ri["exists"].to_numpy(dtype=bool)
    # Money counts every line that converts to the base currency (the customers' currency),
    # each converted once, half-up, at the as-of rate; a line with no rate is left out and named.
    base = str(ccy[0]) if n else (fx.base if fx is not None else "CNY")
    fx = fx if fx is not None and fx.base == base else FxTable(base)
    inv_ccy = inv["currency"].to_numpy(dtype=object)
    open_conv = fx.convert_minor(f["open"].to_numpy(dtype=np.int64), inv_ccy, as_of)
    f["home"] = open_conv.known
    f["open_base"] = open_conv.minor
    f["amt_base"] = fx.convert_minor(amt, inv_ccy, as_of).minor
    f = f[exists]
    pos_inv = f[f["amt"] > 0]
    by = lambda frame: frame.groupby("cust", sort=False)  # noqa: E731
    at = lambda series, fill=np.nan: pd.Series(ids).map(series).fillna(fill).to_numpy()  # noqa: E731

    # Behaviour: every currency; an invoice with no due date has no lateness. Paid invoices
    # count their days late when paid; open ones past due their days late so far; written-off
    # ones their days late when written off, and never as on time.
    paid = pos_inv[~np.isnan(pos_inv["late"])]
    wo_day = _days(result.invoices["written_off_date"].to_numpy(dtype="datetime64[D]")[f["pos"].to_numpy()], f["due"])
    pos_inv = pos_inv.assign(wo_late=wo_day[(f["amt"] > 0).to_numpy()])
    written = pos_inv[~np.isnan(pos_inv["wo_late"])]
    # A disputed item is not yet late payment: the dispute factor scores it (as the hold skips it).
    overdue_open = pos_inv[(pos_inv["open"] > 0) & (pos_inv["overdue"] > 0) & np.isnan(pos_inv["wo_late"])
                           & ~pos_inv["disputed"]]
    seen = pd.concat([
        pd.DataFrame({"cust": paid["cust"], "late": paid["late"].clip(lower=0), "on_time": paid["late"] <= 0}),
        pd.DataFrame({"cust": overdue_open["cust"], "late": overdue_open["overdue"], "on_time": False}),
        pd.DataFrame({"cust": written["cust"], "late": written["wo_late"].clip(lower=0), "on_time": False}),
    ], ignore_index=True)
    avg_late = at(seen.groupby("cust", sort=False)["late"].mean())
    on_time = at(seen.groupby("cust", sort=False)["on_time"].mean())
    paid_count = at(by(paid).size(), 0).astype(np.int64)
    overdue_count = at(by(overdue_open).size(), 0).astype(np.int64)
    written_count = at(by(written).size(), 0).astype(np.int64)
    seq = paid.sort_values(["cust", "cleared", "due", "pos"], kind="stable")
    early = seq["late"] < 0
    breaks = (~early).astype(np.int64).groupby(seq["cust"], sort=False).cumsum()
    last_break = breaks.groupby(seq["cust"], sort=False).transform("max")
    streak = at((early & (breaks == last_break)).groupby(seq["cust"], sort=False).sum(), 0).astype(np.int64)
    dispute_share = at(by(pos_inv)["disputed"].mean())
    first = by(pos_inv)["idate"].min()
    tenure = at(pd.Series(_days(np.full(len(first), asof), first.to_numpy("datetime64[D]")), index=first.index), 0)

    # Money: base currency only.
    start = add_months(np.array([asof]), -s.sales_months)[0]
    window = f[f["home"] & (f["idate"] > start.astype("datetime64[s]"))]
    sales = np.maximum(at(by(window)["amt_base"].sum(), 0), 0).astype(np.int64)
    open_home = at(by(pos_inv[pos_inv["home"]])["open_base"].sum(), 0).astype(np.int64)
    left_out = pos_inv[~pos_inv["home"] & (pos_inv["open"] > 0)]
    foreign = at(by(left_out).size(), 0).astype(np.int64)
    left_out = left_out.assign(ccy=inv_ccy[left_out["pos"].to_numpy(dtype=np.int64)])
    notes = {c: missing_text(grp.groupby("ccy")["open"].sum().to_dict()) for c, grp in left_out.groupby("cust", sort=False)}
    un = result.unapplied
    un_conv = fx.convert_minor(un["amount_minor"].to_numpy(dtype=np.int64), un["currency"].to_numpy(dtype=object), as_of)
    un_home = un.assign(amount_minor=un_conv.minor)[un_conv.known]
    unapplied = at(un_home.groupby("customer_id", sort=False)["amount_minor"].sum(), 0).astype(np.int64)
    order_minor = _open_orders(orders, ids, home_ccy, exp, asof, s, fx)
    exposure = np.maximum(open_home - unapplied + order_minor, 0).astype(np.int64)

    # Limits: manual > sheet (lowered at once by negative news) > suggested.
    news = _tri_state(cust["negative_news"] if "negative_news" in cust else None, n) == 1
    manual_minor, manual_given = _money(cust, "manual_limit", exp)
    sheet_minor, sheet_given = _money(cust, "credit_limit", exp)
    factor = Fraction(s.negative_news_factor)
    sheet_minor = np.array([math.floor(x * factor + Fraction(1, 2)) if nw else x  # half-up, x >= 0
                            for x, nw in zip(sheet_minor.tolist(), news)], dtype=np.int64)
    known_limit = np.where(manual_given, manual_minor, np.where(sheet_given, sheet_minor, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        util = np.where(known_limit < 0, np.nan, np.where(exposure == 0, 0.0, exposure / known_limit))
    volume_major = sales / np.power(10.0, exp)
    score = _score_array(avg_late, on_time, dispute_share, tenure, volume_major, util, s)
    grade = _grade_array(score, s)
    if "manual_grade" in cust:
        mg = cust["manual_grade"].fillna("").astype(str).str.strip().str.upper().to_numpy(dtype=object)
        grade = np.where(np.isin(mg, GRADES), mg, grade).astype(object)
    # Exact rational arithmetic per customer (not per invoice) so the UDF gives the same figure.
    by_grade = np.array([
        int(_suggested_major(g, Fraction(int(v), s.sales_months * 10 ** int(e)), int(k), bool(nw), s) * 10 ** int(e))
        for g, v, k, nw, e in zip(grade, sales, streak, news, exp)], dtype=np.int64)
    limit = np.where(manual_given, manual_minor, np.where(sheet_given, sheet_minor, by_grade)).astype(np.int64)
    source = np.where(manual_given, "manual", np.where(sheet_given, "sheet", "suggested")).astype(object)

    hold, reason_en, reason_zh = _holds(pos_inv, ids, cust.get("manual_hold"), s)
    _, raw_sheet_given = _money(cust, "credit_limit", exp)
    granted = np.where(manual_given, manual_minor, np.where(raw_sheet_given, _money(cust, "credit_limit", exp)[0], -1))
    suggested, why_en, why_zh = _proposals(granted, by_grade, grade, streak, news, hold, s)
    last_review = cust["last_review"].to_numpy(dtype="datetime64[D]") if "last_review" in cust \
        else np.full(n, np.datetime64("NaT"), "datetime64[D]")
    # Never reviewed: the review is due now, not a quarter after some arbitrary date.
    next_review = np.where(np.isnat(last_review), asof, add_months(last_review, s.review_months))

    return pd.DataFrame({
        "customer_id": cust["customer_id"].to_numpy(dtype=object),
        "avg_days_late": avg_late.astype(np.float64), "on_time_rate": on_time.astype(np.float64),
        "paid_count": paid_count, "overdue_open_count": overdue_count, "written_off_count": written_count,
        "open_minor": open_home, "unapplied_minor": unapplied,
        "orders_minor": order_minor, "foreign_open_count": foreign,
        "fx_excluded": np.array([notes.get(i, "") for i in ids], dtype=object), "exposure_minor": exposure,
        "limit_minor": limit, "limit_source": source, "available_minor": limit - exposure,
        "over_limit": exposure > limit, "score": score, "grade": grade,
        "avg_monthly_sales_minor": (sales // s.sales_months).astype(np.int64),
        "suggested_limit_minor": suggested, "limit_reason": why_en, "limit_reason_zh": why_zh,
        "suggested_terms_days": np.array([s.terms_days[g] for g in grade], dtype=np.int64),
        "early_streak": streak, "hold": hold, "hold_reason": reason_en, "hold_reason_zh": reason_zh,
        "next_review": next_review.astype("datetime64[s]"), "review_due": next_review <= asof,
    })


def _proposals(granted: np.ndarray, by_grade: np.ndarray, grade: np.ndarray, streak: np.ndarray, news: np.ndarray,
               hold: np.ndarray, s: CreditSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The proposed limit per customer, with its reason (English, Chinese).

    With a granted limit (ManualLimit, else CreditLimit) the proposal starts from it: an early
    streak raises it by ``early_raise`` (the sources' rule: +15% of the granted limit), and it
    goes below it only by a rule that says so: negative news (× the factor) or a hold (down to
    the grade's limit, if lower). Without a granted limit the proposal is the grade's limit.
    Granted-based proposals are exact to the minor unit (half-up), not rounded to
    ``limit_rounding``: +15% of 50,000 is 57,500.
    """
    out = by_grade.copy()
    en = np.full(len(granted), "", object)
    zh = np.full(len(granted), "", object)
    pct = f"{Decimal(s.early_raise) * 100:f}".rstrip("0").rstrip(".")
    for i, g in enumerate(granted.tolist()):
        if g < 0:
            en[i] = f"grade {grade[i]} limit"
            zh[i] = f"{grade[i]} 级额度"
            continue
        x, why, why_zh = Fraction(g), [], []
        if streak[i] >= s.early_streak:
            x *= 1 + Fraction(s.early_raise)
            why.append(f"{int(streak[i])} invoices paid early in a row: granted limit +{pct}%")
            why_zh.append(f"连续 {int(streak[i])} 张发票提前付款：核定额度上调 {pct}%")
        if news[i]:
            x *= Fraction(s.negative_news_factor)
            why.append(f"negative news: × {s.negative_news_factor}")
            why_zh.append(f"负面信息：× {s.negative_news_factor}")
        if hold[i] and by_grade[i] < x:
            x = Fraction(int(by_grade[i]))
            why.append(f"on hold: cut to the grade {grade[i]} limit")
            why_zh.append(f"信用冻结：降至 {grade[i]} 级额度")
        out[i] = math.floor(x + Fraction(1, 2))
        en[i] = "; ".join(why) or "granted limit kept"
        zh[i] = "；".join(why_zh) or "维持核定额度"
    return out.astype(np.int64), en, zh


def _open_orders(orders: pd.DataFrame | None, ids: np.ndarray, home_ccy: pd.Series, exp: np.ndarray,
                 asof: np.datetime64, s: CreditSettings, fx: FxTable | None = None) -> np.ndarray:
    """Open order amounts per customer (minor units of the customer's currency; an order in
    another currency counts converted by ``fx``, and not at all without a rate)."""
    if orders is None or not len(orders) or "customer_id" not in orders:
        return np.zeros(len(ids), np.int64)
    o = orders.reset_index(drop=True)
    cid = o["customer_id"].astype(str)
    if "amount_minor" in o:
        amount = pd.to_numeric(o["amount_minor"], errors="coerce").fillna(0).to_numpy(np.float64)
    else:
        e = cid.map(pd.Series(exp, index=ids).groupby(level=0).first()).fillna(2).to_numpy(np.float64)
        major = pd.to_numeric(o["amount"], errors="coerce").fillna(0).to_numpy(np.float64) if "amount" in o \
            else np.zeros(len(o))
        amount = to_minor_array(major, e.astype(np.int64))
    status = o["status"].map(lambda v: "" if is_blank(v) else registry.fold(v)) if "status" in o else pd.Series("", index=o.index)
    keep = ~status.isin(set(s.closed_order_statuses)).to_numpy()
    if "currency" in o:
        c = o["currency"].fillna("").astype(str).str.strip().str.upper()
        home = cid.map(home_ccy).fillna("")
        if fx is not None:
            conv = fx.convert_minor(amount.astype(np.int64), c.where(c != "", home).to_numpy(dtype=object),
                                    asof.astype(dt.date))
            keep &= conv.known
            amount = conv.minor
        else:
            keep &= ((c == "") | (c == home)).to_numpy()
    if "order_date" in o:
        od = pd.to_datetime(o["order_date"], errors="coerce").to_numpy(dtype="datetime64[D]")
        keep &= np.isnat(od) | (od <= asof)
    sums = pd.Series(amount[keep], index=cid[keep].to_numpy()).groupby(level=0).sum()
    return pd.Series(ids).map(sums).fillna(0).to_numpy().astype(np.int64)


def _holds(pos_inv: pd.DataFrame, ids: np.ndarray, manual: pd.Series | None,
           s: CreditSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hold, English reason, Chinese reason) per customer; the reason names the worst invoice."""
    n = len(ids)
    over = pos_inv[(pos_inv["open"] > 0) & (pos_inv["overdue"] > s.hold_days)
                   & (s.hold_includes_disputed | ~pos_inv["disputed"])]
    over = over.sort_values(["cust", "overdue", "pos"], ascending=[True, False, True], kind="stable")
    worst = over.drop_duplicates("cust").set_index("cust")
    count = over.groupby("cust").size()
    no = pd.Series(ids).map(worst["no"]).to_numpy(dtype=object)
    no = np.where(pd.isna(no), "", no)
    days = pd.Series(ids).map(worst["overdue"]).fillna(-1).to_numpy().astype(np.int64)
    more = pd.Series(ids).map(count).fillna(0).to_numpy().astype(np.int64) - 1
    auto = days >= 0
    h = str(s.hold_days)
    en = np.char.add(np.char.add(no.astype(str), " overdue "), days.astype(str)).astype(object) + f" days > {h}"
    zh = np.char.add(np.char.add(no.astype(str), " 逾期 "), days.astype(str)).astype(object) + f" 天，超过 {h} 天"
    en = np.where(more > 0, en + " (and " + more.astype(str).astype(object) + " more)", en)
    zh = np.where(more > 0, zh + "（另有 " + more.astype(str).astype(object) + " 张逾期发票）", zh)
    flag = _tri_state(manual, n)
    hold = np.where(flag == 1, True, np.where(flag == 0, False, auto))
    forced = hold & ~auto
    en = np.where(forced, "manual hold (ManualHold = yes)", np.where(hold, en, "")).astype(object)
    zh = np.where(forced, "人工冻结（ManualHold = 是）", np.where(hold, zh, "")).astype(object)
    return hold.astype(bool), en, zh
