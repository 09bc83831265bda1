"""The collector's and the manager's sheets: Collections (催收工作表), Warnings (预警表) and
Dashboard (仪表板) with two native charts, in the workbook's language.

The ``*_rows`` functions give rows from A1 whose cells are a value or ``(value, style name)``
(the names of ``writer.STYLE_SPECS``, which include :data:`REPORT_STYLE_SPECS`), so any
adapter can write them; :func:`report_sheets` puts them together as owned sheets.

Decisions: the three-dimensional warning table has its own sheet (Warnings / 预警表): it is
the collectors' daily tool and 20 columns wide, while the Dashboard is the manager's one-page
summary. A sheet the book already has under its English or Chinese name keeps that name; a
new one is named in the workbook's language and placed after the Aging sheet.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import pandas as pd

from xl_ar.book.charts import ChartSpec, Series, cell_range
from xl_ar.book.owned import OwnedSheet
from xl_ar.book.sheetxml import col_letter
from xl_ar.core.fx import missing_text, rate_lines
from xl_ar.core.kpis import Kpis
from xl_ar.core.money import CURRENCY_EXPONENTS, to_major
from xl_ar.core.stages import CHANNEL_LABELS, STAGE_TEXTS

#: Report sheets: canonical name -> (English name, Chinese name).
REPORT_SHEETS: dict[str, tuple[str, str]] = {
    "Collections": ("Collections", "催收工作表"), "Warnings": ("Warnings", "预警表"), "Dashboard": ("Dashboard", "仪表板"),
}
#: Styles the reports use beyond ``writer.STYLE_SPECS`` (same form; the lead may merge them).
REPORT_STYLE_SPECS: dict[str, dict[str, Any]] = {
    "warn": dict(num_fmt="0.0%", bold=True, font_color="C00000"),
    "ok": dict(num_fmt="0.0%", bold=True, font_color="375623"),
    "late": dict(num_fmt=None, font_color="C00000"),
    "subheader": dict(num_fmt=None, bold=True, fill="F2F2F2", halign="center"),
}

_T = {
    "en": {
        "c_title": "Collections work list as of {as_of}: customers with items overdue or due within {days} days",
        "c_head": ("Owner", "CustomerID", "Name", "Class", "Currency", "Stage", "Overdue", "Due soon", "Oldest invoice",
                   "Days late", "Days to due", "Late fees", "Promise date", "Promised", "Broken promises", "Next action date",
                   "Next action", "Channel", "Account manager"),
        "c_base": ("Overdue in {ccy}", "Due soon in {ccy}"),
        "none": "Nothing to collect", "no_owner": "(no owner)",
        "w_title": "Warning table as of {as_of}: open items by days to due date × amount × customer class ({ccy})",
        "w_amount": "Open amount", "w_count": "Number of invoices", "w_band": "Days to due date",
        "class": "Class {c}", "total": "Total",
        "d_title": "Receivables dashboard as of {as_of} ({ccy})",
        "d_rates": "Converted to {ccy} at {rates}",
        "d_head": ("Measure", "Value", "Note"), "open": "Open receivables", "overdue": "Overdue",
        "ratio": "Overdue ratio", "target": "Target under {t}: {met}", "met": "met", "not_met": "NOT met",
        "dso": "DSO, simple ({n} days)", "dso_note": "open / credit sales of the period × days",
        "countback": "DSO, countback", "countback_note": "open balance used up by monthly sales, latest first",
        "best": "Best possible DSO", "best_note": "not yet due / credit sales × days",
        "add": "Average days delinquent", "add_note": "DSO − best possible DSO",
        "cei": "Collection effectiveness (CEI)", "cei_note": "{start} to {end}",
        "kept": "Promises kept", "kept_note": "{k} kept, {b} broken, {p} pending",
        "bad": "Bad debt (written off)", "bad_note": "{n} invoices",
        "aging": "Aging by bucket", "bucket": "Bucket", "amount": "Amount", "share": "Share",
        "trend": "Aging trend at month-ends", "month": "Month", "target_col": "Target",
        "stages": "Collection stages", "stage": "Stage", "invoices": "Invoices",
        "owners": "Totals by owner", "o_head": ("Owner", "Customers", "Open", "Overdue", "Overdue ratio", "Broken promises", "Bad debt"),
        "chart_aging": "Aging by bucket ({ccy})", "chart_trend": "Overdue ratio at month-ends",
    },
    "zh": {
        "c_title": "催收工作表 截止 {as_of}：有逾期或 {days} 天内到期发票的客户",
        "c_head": ("负责人", "客户编号", "客户名称", "客户等级", "币种", "催收阶段", "逾期金额", "即将到期金额", "最早到期发票",
                   "逾期天数", "距到期天数", "滞纳金", "承诺付款日", "承诺金额", "违约次数", "下次跟进日期", "下一步行动", "方式", "客户经理"),
        "c_base": ("逾期金额（折{ccy}）", "即将到期金额（折{ccy}）"),
        "none": "暂无需要催收的客户", "no_owner": "（未分配）",
        "w_title": "预警表 截止 {as_of}：未收发票按距到期天数 × 金额 × 客户等级（{ccy}）",
        "w_amount": "未收金额", "w_count": "发票张数", "w_band": "距到期日", "class": "{c} 类客户", "total": "合计",
        "d_title": "应收账款仪表板 截止 {as_of}（{ccy}）",
        "d_rates": "按汇率折算为 {ccy}：{rates}",
        "d_head": ("指标", "数值", "说明"), "open": "应收账款余额", "overdue": "逾期金额",
        "ratio": "逾期率", "target": "目标低于 {t}：{met}", "met": "达标", "not_met": "未达标",
        "dso": "应收账款周转天数 DSO（{n} 天）", "dso_note": "余额 / 期间赊销额 × 天数",
        "countback": "DSO（倒推法）", "countback_note": "以最近各月销售额依次抵减余额",
        "best": "最佳可能 DSO", "best_note": "未到期余额 / 赊销额 × 天数",
        "add": "平均逾期天数 ADD", "add_note": "DSO − 最佳可能 DSO",
        "cei": "回款有效性指数 CEI", "cei_note": "{start} 至 {end}",
        "kept": "承诺兑现率", "kept_note": "兑现 {k}，违约 {b}，待到期 {p}",
        "bad": "坏账（已核销）", "bad_note": "{n} 张发票",
        "aging": "账龄分布", "bucket": "账龄段", "amount": "金额", "share": "占比",
        "trend": "月末账龄趋势", "month": "月份", "target_col": "目标",
        "stages": "催收阶段", "stage": "阶段", "invoices": "发票张数",
        "owners": "按负责人汇总", "o_head": ("负责人", "客户数", "应收余额", "逾期金额", "逾期率", "违约次数", "坏账"),
        "chart_aging": "账龄分布（{ccy}）", "chart_trend": "月末逾期率趋势",
    },
}


def _money(minor: Any, exp: int) -> tuple[float, str] | None:
    if minor is None or minor is pd.NA or (isinstance(minor, float) and minor != minor):
        return None
    # int / int is correctly rounded, as float() of the exact Decimal of to_major is: the same
    # float, without a Decimal per cell (a work list at full size has a hundred thousand).
    return int(minor) / 10 ** int(exp), "money"


def _date(v: Any) -> tuple[dt.date, str] | None:
    return None if v is None or pd.isna(v) else (pd.Timestamp(v).date(), "date")


def _num(v: float | None, style: str) -> tuple[float, str] | None:
    return None if v is None or v != v else (float(v), style)


def collections_rows(worklist: pd.DataFrame, lang: str, as_of: dt.date | None = None, days_ahead: int = 7) -> list[list]:
    """The Collections sheet: a title, a header (row 2) and one row per work-list row.

    Args:
        worklist: :func:`xl_ar.core.worklist.collections_worklist`.
        lang: "zh" or "en".
        as_of: the as-of date, for the title.
        days_ahead: the work list's horizon, for the title.

    Returns:
        Rows from A1; cells are values or ``(value, style name)``.
    """
    t, zh = _T[lang], lang == "zh"
    title = t["c_title"].format(as_of=f"{as_of:%Y-%m-%d}" if as_of else "", days=days_ahead)
    base = _base_currency(worklist)
    heads = list(t["c_head"]) + ([h.format(ccy=base) for h in t["c_base"]] if base else [])
    rows: list[list] = [[(title, "title")], [(h, "header") for h in heads]]
    # One pass over plain column lists (no per-row pandas): the work list has a row per customer.
    sfx = "_zh" if zh else ""
    names = ("owner" + sfx, "customer_id", "name", "class", "currency", "stage_label" + sfx, "overdue_minor",
             "due_soon_minor", "oldest_invoice", "oldest_days_late", "late_fee_minor", "promise_date",
             "promise_minor", "broken_promises", "next_action_date", "next_action" + sfx, "channel",
             "account_manager", "exp")
    for (owner, cid, name, cls, ccy, stage, overdue, due_soon, oldest, late, fee, p_date, p_minor, broken,
         next_date, action, channel, manager, exp) in zip(*(worklist[c].tolist() for c in names)):
        late = int(late)
        rows.append([
            owner or t["no_owner"], cid, name, cls, ccy, stage, _money(overdue, exp),
            # Days late only for an overdue item; one not yet due shows its days to the due date
            # in its own column (0 = due today) instead of a negative "days late".
            _money(due_soon, exp), oldest, (late, "late") if late > 0 else None, None if late > 0 else (-late, "integer"),
            _money(fee, exp), _date(p_date), _money(p_minor, exp), (int(broken), "integer") if broken else None,
            _date(next_date), action, CHANNEL_LABELS.get(channel, channel) if zh else channel, manager,
        ])
    if base:  # each row's amounts in the base currency (blank where its currency has no rate)
        base_exp = CURRENCY_EXPONENTS.get(base, 2)
        for row, over, soon in zip(rows[2:], worklist["overdue_base_minor"].tolist(),
                                   worklist["due_soon_base_minor"].tolist()):
            row += [_money(over, base_exp), _money(soon, base_exp)]
    if worklist.empty:
        rows.append([t["none"]])
    return rows


def _base_currency(worklist: pd.DataFrame) -> str | None:
    """The base currency when the work list holds rows in another one (then the sheet adds the
    amounts in the base currency, to compare and total across currencies), else None."""
    if worklist.empty or "base_currency" not in worklist:
        return None
    base = str(worklist["base_currency"].iat[0])
    return base if (worklist["currency"] != base).any() else None


def _warning_layout(table: pd.DataFrame, lang: str, as_of: dt.date | None) -> tuple[list[list], list[str]]:
    """The Warnings sheet's rows and merged header cells: an amount block and a count block."""
    t, zh = _T[lang], lang == "zh"
    classes = list(dict.fromkeys(table["class"]))
    amounts = table.drop_duplicates("amount_band").sort_values("amount_band")
    a_labels = amounts["amount_label_zh" if zh else "amount_label"].tolist()
    bands = table.drop_duplicates("band").sort_values("band")
    ccy = table["currency"].iat[0] if len(table) else ""
    exp = int(table["exp"].iat[0]) if len(table) else 2
    title = t["w_title"].format(as_of=f"{as_of:%Y-%m-%d}" if as_of else "", ccy=ccy)
    rows: list[list] = [[(title, "title")]]
    merged: list[str] = []
    width = 1 + len(classes) * len(a_labels)
    # The cube as dicts from column lists: a lookup per cell through pandas cost more than the rest.
    keys = list(zip(table["band"].tolist(), table["class"].tolist(), table["amount_band"].tolist()))
    lists = {col: table[col].tolist() for col in ("amount_minor", "count")}
    cubes = {col: dict(zip(keys, values)) for col, values in lists.items()}
    sums: dict[str, dict] = {col: {} for col in lists}  # (class, amount band) -> the block's total row
    for col, values in lists.items():
        for (_, c, a), v in zip(keys, values):
            sums[col][(c, a)] = sums[col].get((c, a), 0) + v
    a_bands = amounts["amount_band"].tolist()
    for block, col, cell in (("w_amount", "amount_minor", lambda v: _money(v, exp)),
                             ("w_count", "count", lambda v: (int(v), "integer"))):
        rows += [[], [(t[block], "bold")]]
        top = len(rows) + 1  # the 1-based row of the class header
        head = [(t["w_band"], "header")]
        for c in classes:
            head += [(t["class"].format(c=c), "header")] + [("", "header")] * (len(a_labels) - 1)
            if len(a_labels) > 1:
                merged.append(f"{col_letter(len(head) - len(a_labels) + 1)}{top}:{col_letter(len(head))}{top}")
        rows.append(head + [(t["total"], "header")])
        rows.append([("", "subheader")] + [(a, "subheader") for _ in classes for a in a_labels] + [("", "subheader")])
        merged += [f"A{top}:A{top + 1}", f"{col_letter(width + 1)}{top}:{col_letter(width + 1)}{top + 1}"]
        for b in bands.itertuples(index=False):
            values = [int(cubes[col][(b.band, c, a)]) for c in classes for a in a_bands]
            label = b.band_label_zh if zh else b.band_label
            rows.append([(label, "late" if b.overdue else None), *[cell(v) for v in values], cell(sum(values))])
        totals = [int(sums[col].get((c, a), 0)) for c in classes for a in a_bands]
        rows.append([(t["total"], "bold"), *[cell(v) for v in totals], cell(sum(totals))])
    return rows, merged


def warning_rows(table: pd.DataFrame, lang: str, as_of: dt.date | None = None) -> list[list]:
    """The Warnings sheet: open amount and number of invoices per band, class and amount band.

    Args:
        table: :func:`xl_ar.core.worklist.warning_table`.
        lang: "zh" or "en".
        as_of: the as-of date, for the title.

    Returns:
        Rows from A1 (cells as in :func:`collections_rows`); class headers span their amount
        bands (the merged ranges come with :func:`report_sheets`).
    """
    return _warning_layout(table, lang, as_of)[0]


def _dashboard_layout(k: Kpis, lang: str) -> tuple[list[list], dict[str, int]]:
    """The Dashboard's rows and where its chart data sit (1-based first rows)."""
    t, zh = _T[lang], lang == "zh"
    m = lambda v: _money(v, k.exp)  # noqa: E731
    rows: list[list] = [[(t["d_title"].format(as_of=f"{k.as_of:%Y-%m-%d}", ccy=k.currency), "title")]]
    # One line: the rates the figures used, and what they left out for want of a rate.
    fx_note = [t["d_rates"].format(ccy=k.currency, rates=", ".join(rate_lines(k.fx_rates)))] if k.fx_rates else []
    fx_note += [missing_text(k.foreign_open, zh)] if k.foreign_open else []
    rows.append([("；" if zh else "; ").join(fx_note)] if fx_note else [])
    met = None if k.meets_target is None else t["met"] if k.meets_target else t["not_met"]
    ratio_style = "ok" if k.meets_target else "warn"
    rows += [[], [(h, "header") for h in t["d_head"]],
             [t["open"], m(k.open_minor)], [t["overdue"], m(k.overdue_minor)],
             [t["ratio"], _num(k.overdue_ratio, ratio_style), t["target"].format(t=f"{k.overdue_target:.1%}", met=met or "-")],
             [t["dso"].format(n=k.dso_days), _num(k.dso_simple, "decimal1"), t["dso_note"]],
             [t["countback"], _num(k.dso_countback, "decimal1"), t["countback_note"]],
             [t["best"], _num(k.best_possible_dso, "decimal1"), t["best_note"]],
             [t["add"], _num(k.add, "decimal1"), t["add_note"]],
             [t["cei"], _num(k.cei, "percent"),
              t["cei_note"].format(start=f"{k.cei_start:%Y-%m-%d}", end=f"{k.as_of:%Y-%m-%d}")],
             [t["kept"], _num(k.promises_kept, "percent"),
              t["kept_note"].format(k=k.promises_kept_count, b=k.promises_broken_count, p=k.promises_pending_count)],
             [t["bad"], m(k.bad_debt_minor), t["bad_note"].format(n=k.bad_debt_invoices)], []]
    spots = {"aging": len(rows) + 3}
    rows += [[(t["aging"], "bold")], [(t["bucket"], "header"), (t["amount"], "header"), (t["share"], "header")]]
    for label, v in zip(k.labels, k.buckets):
        rows.append([label, m(v), _num(v / k.open_minor if k.open_minor else None, "percent")])
    rows += [[(t["total"], "bold"), (float(to_major(k.open_minor, k.exp)), "total")], []]
    spots["trend"] = len(rows) + 3
    rows += [[(t["trend"], "bold")], [(h, "header") for h in (t["month"], *k.labels, t["open"], t["overdue"],
                                                               t["ratio"], t["target_col"])]]
    n_b = len(k.labels)
    for r in k.trend.to_dict("records"):
        rows.append([f"{pd.Timestamp(r['month_end']):%Y-%m}", *[m(r[f"b{i}"]) for i in range(n_b)], m(r["open_minor"]),
                     m(r["overdue_minor"]), _num(r["overdue_ratio"], "percent"), (k.overdue_target, "percent")])
    rows += [[], [(t["stages"], "bold")], [(t["stage"], "header"), (t["invoices"], "header")]]
    for key, n in k.stages.items():
        texts = STAGE_TEXTS.get(key)
        rows.append([(texts[1] if zh else texts[0]) if texts else key, (n, "integer")])
    rows += [[], [(t["owners"], "bold")], [(h, "header") for h in t["o_head"]]]
    for o in k.owners.to_dict("records"):
        rows.append([o["owner"] or t["no_owner"], (int(o["customers"]), "integer"), m(o["open_minor"]),
                     m(o["overdue_minor"]), _num(o["overdue_ratio"], "percent"),
                     (int(o["broken_promises"]), "integer"), m(o["bad_debt_minor"])])
    spots["width"] = max(len(r) for r in rows)
    return rows, spots


def dashboard_rows(kpis: Kpis, lang: str) -> list[list]:
    """The Dashboard sheet: key figures, aging by bucket, the month-end trend, stages, owners.

    Args:
        kpis: :func:`xl_ar.core.kpis.compute_kpis`.
        lang: "zh" or "en".

    Returns:
        Rows from A1 (cells as in :func:`collections_rows`).
    """
    return _dashboard_layout(kpis, lang)[0]


def dashboard_charts(kpis: Kpis, lang: str, sheet: str) -> list[ChartSpec]:
    """The Dashboard's two charts: aging by bucket (columns) and the overdue-ratio trend (line).

    Args:
        kpis: the KPIs the sheet shows.
        lang: "zh" or "en" (titles).
        sheet: the Dashboard sheet's name (the series reference its cells).
    """
    t = _T[lang]
    _, spots = _dashboard_layout(kpis, lang)
    a, tr, n_b = spots["aging"], spots["trend"], len(kpis.labels)
    col = spots["width"] + 1  # 0-based: one empty column right of the widest table
    amounts = [float(to_major(v, kpis.exp)) for v in kpis.buckets]
    aging = ChartSpec("bar", t["chart_aging"].format(ccy=kpis.currency), list(kpis.labels),
                      cell_range(sheet, a, 1, a + n_b - 1, 1),
                      [Series(t["amount"], cell_range(sheet, a, 2, a + n_b - 1, 2), amounts, cell_range(sheet, a - 1, 2))],
                      (col, 1, col + 8, 18), "#,##0", lang)
    months = [f"{pd.Timestamp(x):%Y-%m}" for x in kpis.trend["month_end"]]
    last = tr + len(months) - 1
    ratio_col = n_b + 4  # month, buckets, open, overdue, ratio
    ratios = [None if v != v else float(v) for v in kpis.trend["overdue_ratio"]]
    trend = ChartSpec("line", t["chart_trend"], months, cell_range(sheet, tr, 1, last, 1), [
        Series(t["ratio"], cell_range(sheet, tr, ratio_col, last, ratio_col), ratios, cell_range(sheet, tr - 1, ratio_col), "C00000"),
        Series(t["target_col"], cell_range(sheet, tr, ratio_col + 1, last, ratio_col + 1), [kpis.overdue_target] * len(months),
               cell_range(sheet, tr - 1, ratio_col + 1), "70AD47"),
    ], (col, 19, col + 8, 37), "0%", lang)
    return [aging, trend] if months else [aging]  # KPIs computed without the trend: no line


#: Column widths of the report sheets.
COLLECTIONS_WIDTHS = {1: 16, 2: 12, 3: 28, 4: 8, 5: 8, 6: 12, 7: 14, 8: 14, 9: 14, 10: 9, 11: 10, 12: 12, 13: 12,
                      14: 14, 15: 9, 16: 13, 17: 50, 18: 10, 19: 14, 20: 16, 21: 16}


def report_sheets(result: Any, kpis: Kpis, worklist: pd.DataFrame, warning: pd.DataFrame, lang: str,
                  names: Mapping[str, str], days_ahead: int = 7) -> list[OwnedSheet]:
    """The Collections, Warnings and Dashboard sheets (with the Dashboard's two charts).

    Args:
        result: the refresh run (its as-of date titles the sheets).
        kpis: :func:`xl_ar.core.kpis.compute_kpis` of the run.
        worklist: :func:`xl_ar.core.worklist.collections_worklist` of the run.
        warning: :func:`xl_ar.core.worklist.warning_table` of the run.
        lang: "zh" or "en".
        names: canonical report sheet ("Collections", "Warnings", "Dashboard") -> its name.
        days_ahead: the work list's horizon (``KpiSettings.worklist_days_ahead``), for its title.

    Returns:
        The three sheets, in order, as :class:`OwnedSheet`.
    """
    lang = lang if lang in _T else "en"
    as_of = result.as_of
    n = len(worklist)
    w_rows, merged = _warning_layout(warning, lang, as_of)
    d_rows, spots = _dashboard_layout(kpis, lang)
    c_rows = collections_rows(worklist, lang, as_of, days_ahead)
    return [
        OwnedSheet(names["Collections"], c_rows, COLLECTIONS_WIDTHS,
                   autofilter=f"A2:{col_letter(len(c_rows[1]))}{n + 2}" if n else None),  # the header row's width
        OwnedSheet(names["Warnings"], w_rows, {1: 20, **{j: 14 for j in range(2, max(len(r) for r in w_rows) + 1)}},
                   merged=tuple(merged)),
        OwnedSheet(names["Dashboard"], d_rows, {1: 30, 2: 16, **{j: 14 for j in range(3, spots["width"] + 1)}},
                   charts=tuple(dashboard_charts(kpis, lang, names["Dashboard"]))),
    ]
