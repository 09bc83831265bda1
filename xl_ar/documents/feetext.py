"""The late fee explained in a letter's words: policy, method, rate, period, source, compensation.

A dunning letter that claims a fee must let the customer check it: which rule, which rate,
how it is counted, from when to when, on what legal ground, and what fixed compensation is
added. :func:`fee_context` turns a customer's :class:`~xl_ar.core.feebasis.FeeBasis` into the
``fee`` fields of a template, in Chinese or English. A contractual policy says "per contract"
(按合同约定); a statutory preset names its statute and article.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from xl_ar.core.feebasis import FeeBasis, interest_from
from xl_ar.core.money import to_major
from xl_ar.documents.numerals import chinese_integer

#: Reference series -> (Chinese name, English name).
REFERENCE_NAMES = {"boe-base": ("英格兰银行基准利率", "Bank of England Bank Rate"),
                   "ecb-mro": ("欧洲央行主要再融资利率", "ECB main refinancing rate"),
                   "de-basiszins": ("德国基础利率（Basiszinssatz）", "Basiszinssatz (§ 247 BGB)")}
#: Policy -> (Chinese, English) rule of its statutory compensation.
COMPENSATION_RULES = {
    "uk-late-payment": ("按每笔逾期债务金额分档：不足1,000英镑为40英镑，1,000英镑至不足10,000英镑为70英镑，"
                        "10,000英镑及以上为100英镑",
                        "per invoice, GBP 40 for a debt under GBP 1,000, GBP 70 from GBP 1,000 to under "
                        "GBP 10,000, GBP 100 from GBP 10,000"),
    "eu-late-payment": ("每张逾期发票40欧元", "EUR 40 per invoice"),
    "de-bgb-288": ("每张逾期发票40欧元", "EUR 40 per invoice"),
}


def _pct(share: float, places: int = 2) -> str:
    """0.1275 -> "12.75%" (trailing zeros kept to two places: a rate reads like money)."""
    text = f"{share * 100:.6f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(places, '0')}%"


def _wan(share: float) -> str:
    """0.0005 -> "万分之五" when the daily rate is a whole number of ten-thousandths, else ""."""
    n = share * 10_000
    return f"万分之{chinese_integer(int(round(n)))}" if abs(n - round(n)) < 1e-9 and round(n) >= 1 else ""


def _rate(b: FeeBasis, zh: bool) -> str:
    if b.method == "daily":
        wan = _wan(b.rate or 0.0)
        return f"日利率{_pct(b.rate or 0.0)}{f'（{wan}）' if wan else ''}" if zh else f"{_pct(b.rate or 0.0)} per day"
    if b.method == "annual":
        if b.reference:
            series, ref, margin = b.reference
            name = REFERENCE_NAMES.get(series, (series, series))
            m = f"{margin:g}"
            return (f"年利率{_pct(b.rate or 0.0)}（{name[0]}{ref:.2f}% 加 {m} 个百分点）" if zh else
                    f"{_pct(b.rate or 0.0)} a year ({name[1]} {ref:.2f}% plus {m} percentage points)")
        return f"年利率{_pct(b.rate or 0.0)}" if zh else f"{_pct(b.rate or 0.0)} a year"
    if b.method == "fixed":
        return (f"每张逾期发票一次性 {b.rate or 0:,.2f}（发票币种）" if zh else
                f"a flat {b.rate or 0:,.2f} per overdue invoice (in the invoice's currency)")
    return f"逾期金额的{_pct(b.rate or 0.0)}，一次性收取" if zh else f"{_pct(b.rate or 0.0)} of the overdue amount, once"


_METHOD = {"daily": ("按日计收逾期利息（单利）", "simple interest per day on the overdue balance"),
           "annual": ("按年利率单利计息，每日按年利率的1/365计算", "simple interest, 1/365 of the annual rate per day, "
                      "on the overdue balance"),
           "fixed": ("一次性固定费用", "a one-off fixed fee"),
           "percent": ("按逾期金额比例一次性收取", "a one-off share of the overdue amount")}


def fee_context(basis: FeeBasis, items: Sequence[Any], as_of: dt.date, lang: str,
                fmt_date=lambda d, lang: d.isoformat()) -> dict[str, Any]:
    """The ``fee`` fields of a letter.

    Args:
        basis: the customer's fee basis.
        items: the letter's overdue items (``ReminderItem``: due date, currency, exp,
            ``compensation_minor``).
        as_of: the letter's date (interest is stated to it, and runs on until payment).
        lang: "zh" or "en".
        fmt_date: how the letter writes a date.

    Returns:
        A dict: policy, statutory, method, rate, source, period, compensation, cap, and
        ``text``: the whole explanation, one sentence per line.
    """
    zh = lang == "zh"
    interest = basis.method in ("daily", "annual")
    starts = [interest_from(i.due_date, basis.grace_days) for i in items]
    grace = basis.grace_days
    if interest:
        first = fmt_date(min(starts), lang) if starts else ""
        period = (f"自各发票逾期之日（到期日{f'及{grace}天宽限期' if grace else ''}后次日，最早为{first}）起至"
                  f"{fmt_date(as_of, lang)}止，并将继续计算至实际付款之日" if zh else
                  f"from each invoice's first day of interest (the day after its due date"
                  f"{f' and {grace} days of grace' if grace else ''}; the earliest is {first}) to "
                  f"{fmt_date(as_of, lang)}, and continuing until the day of payment")
    else:
        period = (f"发票逾期{f'超过{grace}天' if grace else ''}即收取一次" if zh else
                  f"charged once when an invoice is{f' more than {grace} days' if grace else ''} overdue")
    source = (basis.source_zh if zh else basis.source_en) if basis.statutory else ("按合同约定" if zh else "per contract")
    comp: dict[str, int] = {}
    exps: dict[str, int] = {}
    for i in items:
        if getattr(i, "compensation_minor", 0):
            comp[i.currency] = comp.get(i.currency, 0) + i.compensation_minor
            exps[i.currency] = i.exp
    comp_amount = "、".join(f"{c} {to_major(m, exps[c]):,.{exps[c]}f}" for c, m in comp.items()) if zh else \
        ", ".join(f"{c} {to_major(m, exps[c]):,.{exps[c]}f}" for c, m in comp.items())
    rule = COMPENSATION_RULES.get(basis.policy, ("", ""))[0 if zh else 1]
    compensation = ""
    if comp_amount:
        compensation = (f"另依法收取固定补偿{comp_amount}（{rule}）" if zh else
                        f"statutory fixed compensation {comp_amount} ({rule})")
    cap = ""
    if basis.cap is not None:
        cap = f"以本金的{_pct(basis.cap)}为上限" if zh else f"capped at {_pct(basis.cap)} of the principal"
    method, rate = _METHOD[basis.method][0 if zh else 1], _rate(basis, zh)
    if zh:
        lines = [f"计算依据：{source}。", f"计算方法：{method}，{rate}{f'，{cap}' if cap else ''}。",
                 f"计息期间：{period}。" if interest else f"收取条件：{period}。"]
        if compensation:
            lines.append(f"法定补偿：{compensation}。")
    else:
        lines = [f"Legal basis: {source}.", f"Method: {method}, {rate}{f', {cap}' if cap else ''}.",
                 f"Period: {period}." if interest else f"When charged: {period}."]
        if compensation:
            lines.append(f"Compensation: {compensation}.")
    return {"policy": basis.policy, "label": basis.label_zh if zh else basis.label, "statutory": basis.statutory,
            "method": method, "rate": rate, "source": source, "period": period, "compensation": compensation,
            "cap": cap, "text": "\n".join(lines)}
