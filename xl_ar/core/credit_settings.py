"""The credit settings: what the Settings sheet says about scores, grades, limits and holds.

:class:`CreditSettings` holds every number of the credit rules (the sources' defaults, see
docs/domain.md section 1); :func:`parse_credit_settings` reads them from the Settings sheet's
keys (see ``xl_ar.core.registry``), every bad value an issue naming its cell.
``xl_ar.core.credit`` applies them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Callable, Mapping

from xl_ar.core import registry
from xl_ar.core.convert import is_blank, parse_bool, parse_number
from xl_ar.core.issues import Issue


GRADES: tuple[str, ...] = ("A", "B", "C", "D")
SCORE_FACTORS: tuple[str, ...] = ("days_late", "on_time", "disputes", "tenure", "volume", "utilisation")
ANCHORS: tuple[str, ...] = ("late_days", "dispute_share", "tenure_years", "volume",
                            "utilisation_low", "utilisation_high", "no_data")

#: The credit settings (see ``xl_ar.core.registry``): (key, default, English note, Chinese note).
CREDIT_SETTING_DEFAULTS: tuple[tuple[str, Any, str, str], ...] = registry.defaults_table("credit")
#: Chinese keys accepted on the Settings sheet.
CREDIT_SETTING_ALIASES: dict[str, tuple[str, ...]] = registry.aliases_table("credit")

def _defaults(key: str, cast: Callable[[str], Any] = Decimal) -> dict[str, Any]:
    """A default "A=80,B=65" of CREDIT_SETTING_DEFAULTS as a dict, so the two never disagree."""
    text = next(d for k, d, *_ in CREDIT_SETTING_DEFAULTS if k == key)
    return {k: cast(v) for k, v in (p.split("=") for p in text.split(","))}


@dataclass(frozen=True)
class CreditSettings:
    """Credit rules of one run; every default is the source documents' number (docs/domain.md section 1).

    Attributes:
        hold_days: an open invoice more than this many days past due holds the customer.
        hold_includes_disputed: whether disputed invoices trigger a hold.
        early_streak, early_raise: invoices in a row paid early, and the raise they earn.
        negative_news_factor: the limit's multiplier when the customer has negative news.
        review_months: months from the last review to the next.
        sales_months: the window for volume and average monthly sales.
        weights: factor name (``SCORE_FACTORS``) -> weight.
        late_days, dispute_share, tenure_years, volume, utilisation_low, utilisation_high,
            no_data: the score's anchors (see the module docstring).
        grade_cutoffs: lowest score of grades A, B and C.
        limit_months: grade -> months of average sales suggested as the limit.
        limit_fixed: grade -> fixed suggested limit (major units); None = use limit_months.
        limit_rounding: suggested limits are rounded down to a multiple of this (major units).
        terms_days: grade -> suggested payment terms in days (0 = cash).
        closed_order_statuses: order statuses (case-folded) that are not open orders.
    """

    hold_days: int = 15
    hold_includes_disputed: bool = False
    early_streak: int = 3
    early_raise: Decimal = Decimal("0.15")
    negative_news_factor: Decimal = Decimal("0.3")
    review_months: int = 3
    sales_months: int = 12
    weights: Mapping[str, float] = field(default_factory=lambda: _defaults("CreditScoreWeights", float))
    late_days: float = 60.0
    dispute_share: float = 0.2
    tenure_years: float = 3.0
    volume: float = 1_000_000.0
    utilisation_low: float = 0.5
    utilisation_high: float = 1.0
    no_data: float = 0.5
    grade_cutoffs: Mapping[str, float] = field(default_factory=lambda: _defaults("CreditGradeCutoffs", float))
    limit_months: Mapping[str, Decimal] = field(default_factory=lambda: _defaults("CreditLimitMonths"))
    limit_fixed: Mapping[str, Decimal] | None = None
    limit_rounding: Decimal = Decimal(1000)
    terms_days: Mapping[str, int] = field(default_factory=lambda: _defaults("CreditTermsByGrade", int))
    closed_order_statuses: tuple[str, ...] = ("shipped", "cancelled", "canceled", "closed", "invoiced",
                                              "已发货", "已取消", "已关闭", "已开票")


# ----------------------------------------------------------------------------- settings


_KEY_LOOKUP = {registry.fold(a): k for k, *_ in CREDIT_SETTING_DEFAULTS for a in (k, *CREDIT_SETTING_ALIASES.get(k, ()))}
_FACTOR_ALIASES = {"dayslate": "days_late", "late": "days_late", "ontime": "on_time", "dispute": "disputes",
                   "utilization": "utilisation", "utilisation": "utilisation"}


def _dec(raw: Any) -> Decimal:
    try:
        x = raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else parse_number(raw)
    except (ValueError, TypeError):
        x = None
    if x is None or isinstance(raw, bool) or not math.isfinite(x):
        raise ValueError("is not a number")
    return Decimal(repr(float(x))) if isinstance(x, float) else Decimal(int(x))


def _whole(lo: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        x = _dec(raw)
        if x != x.to_integral_value() or x < lo:
            raise ValueError(f"must be a whole number of at least {lo}")
        return int(x)
    return parse


def _pairs(raw: Any, names: tuple[str, ...], aliases: Mapping[str, str] | None = None) -> dict[str, Decimal]:
    """Parse "A=80,B=65" (also with ，；: ：) into name -> Decimal, names checked."""
    out: dict[str, Decimal] = {}
    folded = {registry.fold(n): n for n in names} | {registry.fold(a): n for a, n in (aliases or {}).items()}
    for part in re.split(r"[,，;；\n]+", str(raw)):
        if not part.strip():
            continue
        bits = re.split(r"[=:：]", part, maxsplit=1)
        if len(bits) != 2 or registry.fold(bits[0]) not in folded:
            raise ValueError(f'has "{part.strip()}", which is not one of {", ".join(n + "=..." for n in names)}')
        try:
            out[folded[registry.fold(bits[0])]] = _dec(bits[1].strip())
        except ValueError:
            raise ValueError(f'has "{part.strip()}", which is not a number') from None
    if not out:
        raise ValueError("is empty")
    return out


def _number_where(ok: Callable[[Decimal], bool], message: str) -> Callable[[Any], Decimal]:
    def parse(raw: Any) -> Decimal:
        x = _dec(raw)
        if not ok(x):
            raise ValueError(message)
        return x
    return parse


#: Settings of one number: key -> (CreditSettings field, parser).
_SCALARS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "CreditHoldDays": ("hold_days", _whole(0)),
    "CreditEarlyStreak": ("early_streak", _whole(1)),
    "CreditReviewMonths": ("review_months", _whole(1)),
    "CreditSalesMonths": ("sales_months", _whole(1)),
    "CreditEarlyRaise": ("early_raise", _number_where(lambda x: x >= 0, "must not be negative")),
    "CreditNegativeNewsFactor": ("negative_news_factor", _number_where(lambda x: 0 <= x <= 1, "must be between 0 and 1")),
    "CreditLimitRounding": ("limit_rounding", _number_where(lambda x: x > 0, "must be positive")),
}


def _parse_value(key: str, raw: Any, s: CreditSettings) -> dict[str, Any]:
    """The CreditSettings fields one Settings-sheet value sets; ValueError says what is wrong."""
    if key in _SCALARS:
        name, parse = _SCALARS[key]
        return {name: parse(raw)}
    if key == "CreditHoldIncludesDisputed":
        try:
            return {"hold_includes_disputed": parse_bool(raw)}
        except ValueError:
            raise ValueError("must be yes or no (是/否)") from None
    if key == "CreditScoreWeights":
        w = {**s.weights, **{k: float(v) for k, v in _pairs(raw, SCORE_FACTORS, _FACTOR_ALIASES).items()}}
        if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
            raise ValueError("must be weights of at least 0, not all 0")
        return {"weights": w}
    if key == "CreditScoreAnchors":
        a = {n: getattr(s, n) for n in ANCHORS} | {k: float(v) for k, v in _pairs(raw, ANCHORS).items()}
        if min(a["late_days"], a["dispute_share"], a["tenure_years"], a["volume"]) <= 0:
            raise ValueError("late_days, dispute_share, tenure_years and volume must be positive")
        if not 0 <= a["utilisation_low"] < a["utilisation_high"] or not 0 <= a["no_data"] <= 1:
            raise ValueError("needs 0 <= utilisation_low < utilisation_high and no_data between 0 and 1")
        return a
    if key == "CreditGradeCutoffs":
        c = {**s.grade_cutoffs, **{k: float(v) for k, v in _pairs(raw, GRADES[:3]).items()}}
        if not 100 >= c["A"] > c["B"] > c["C"] >= 0:
            raise ValueError("must satisfy 100 >= A > B > C >= 0")
        return {"grade_cutoffs": c}
    if key in ("CreditLimitMonths", "CreditLimitFixed"):
        base = s.limit_months if key == "CreditLimitMonths" else (s.limit_fixed or {g: Decimal(0) for g in GRADES})
        m = {**base, **_pairs(raw, GRADES)}
        if any(v < 0 for v in m.values()):
            raise ValueError("must not be negative")
        return {"limit_months" if key == "CreditLimitMonths" else "limit_fixed": m}
    if key == "CreditTermsByGrade":
        t = {**{g: Decimal(v) for g, v in s.terms_days.items()}, **_pairs(raw, GRADES)}
        if any(v < 0 or v != v.to_integral_value() for v in t.values()):
            raise ValueError("must be whole numbers of days of at least 0")
        return {"terms_days": {g: int(v) for g, v in t.items()}}
    if key == "CreditOrderClosedStatuses":
        return {"closed_order_statuses": tuple(registry.fold(p) for p in re.split(r"[,，;；]+", str(raw)) if p.strip())}
    raise KeyError(key)


def parse_credit_settings(extra: Mapping[str, Any]) -> tuple[CreditSettings, list[Issue]]:
    """Read the credit settings from the Settings sheet's extra pairs.

    Keys are matched ignoring case, spaces, ``_`` and ``-``, in English or Chinese
    (``CREDIT_SETTING_ALIASES``); other keys are ignored. A blank value keeps the default.

    Args:
        extra: key text -> ``(raw value, place)`` such as ``(20, "Settings!B12")``; a bare raw
            value (as in ``Settings.extra``) is accepted too and is placed at "Settings".

    Returns:
        (settings, issues): each bad value is an error naming its place, and its default is kept.
    """
    s, issues = CreditSettings(), []
    for key_text, value in extra.items():
        key = _KEY_LOOKUP.get(registry.fold(key_text))
        if key is None:
            continue
        raw, where = value if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str) \
            else (value, "Settings")
        if is_blank(raw):
            continue
        try:
            s = replace(s, **_parse_value(key, raw, s))
        except (ValueError, TypeError, ArithmeticError) as e:
            default = next(d for k, d, *_ in CREDIT_SETTING_DEFAULTS if k == key)
            why = str(e) if isinstance(e, ValueError) and str(e) else "is not valid"
            issues.append(Issue(where, f'{key} "{raw}" {why}; the default "{default}" is kept'))
    return s, issues
