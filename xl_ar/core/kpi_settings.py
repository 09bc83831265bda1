"""The settings of the KPIs, the work list and the warning table, read from the Settings sheet.

:class:`KpiSettings` holds targets, periods and bands (defaults in ``xl_ar.core.registry``);
:func:`parse_kpi_settings` reads them, every bad value an issue naming its cell.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping

from xl_ar.core import registry
from xl_ar.core.convert import is_blank
from xl_ar.core.issues import Issue

if TYPE_CHECKING:
    from xl_ar.core.settings import Settings


#: The KPI settings (see ``xl_ar.core.registry``): (key, default, English note, Chinese note).
KPI_SETTING_DEFAULTS: tuple[tuple[str, Any, str, str], ...] = registry.defaults_table("kpis")
#: Chinese keys accepted on the Settings sheet.
KPI_SETTING_ALIASES: dict[str, tuple[str, ...]] = registry.aliases_table("kpis")

@dataclass(frozen=True)
class KpiSettings:
    """Settings of the KPIs, the work list and the warning table.

    Attributes:
        overdue_target: the overdue-ratio target (0.05 = under 5%, document 002).
        dso_period, cei_period: ``(n, "d")`` days or ``(n, "m")`` months ending at the as-of date.
        trend_months: month-ends in the aging trend (0: no trend, for very large ledgers).
        worklist_days_ahead: the work list shows items due within this many days.
        amount_bands: warning-table amount edges in major units of the base currency.
        due_bands: warning-table days-to-due edges (0 = a "due today" band).
        base_currency: None = the run's base currency (the first tie-out).
        aging_edges, aging_basis: the run's aging (copied from Settings by the parser).
        auto_apply: the run's AutoApply (copied likewise), for the trend's allocations.
    """

    overdue_target: float = 0.05
    dso_period: tuple[int, str] = (90, "d")
    cei_period: tuple[int, str] = (3, "m")
    trend_months: int = 12
    worklist_days_ahead: int = 7
    amount_bands: tuple[int, ...] = (10_000, 100_000)
    due_bands: tuple[int, ...] = (0, 3, 7, 10, 30)
    base_currency: str | None = None
    aging_edges: tuple[int, ...] = (30, 60, 90)
    aging_basis: str = "due"
    auto_apply: str = "oldest"


_KEY_LOOKUP = {registry.fold(a): k for k, *_ in KPI_SETTING_DEFAULTS for a in (k, *KPI_SETTING_ALIASES.get(k, ()))}


def _edges(raw: Any, allow_zero: bool) -> tuple[int, ...]:
    text = str(int(raw)) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else str(raw)
    try:
        out = tuple(int(float(p)) for p in re.split(r"[,，;；\s]+", unicodedata.normalize("NFKC", text)) if p)
    except ValueError:
        raise ValueError("must be increasing whole numbers, e.g. 10000,100000") from None
    if not out or list(out) != sorted(set(out)) or out[0] < (0 if allow_zero else 1):
        raise ValueError("must be increasing whole numbers, e.g. 10000,100000")
    return out


def _period(raw: Any) -> tuple[int, str]:
    text = unicodedata.normalize("NFKC", str(raw)).strip().lower()
    m = re.fullmatch(r"(\d+)(?:\.0+)?\s*(d|days?|天|日|m|months?|mo|个月|月)?", text)
    if not m or int(m.group(1)) < 1:
        raise ValueError("must be days (90) or months (3m)")
    unit = "m" if m.group(2) and m.group(2)[0] in "m个月" else "d"
    return int(m.group(1)), unit


def _whole(lo: int):
    def parse(raw: Any) -> int:
        x = float(str(raw).strip())
        if x != int(x) or x < lo:
            raise ValueError(f"must be a whole number of at least {lo}")
        return int(x)
    return parse


def _ratio(raw: Any) -> float:
    s = str(raw).strip()
    x = float(s[:-1]) / 100 if s.endswith("%") else float(s)
    if not 0 <= x <= 1:
        raise ValueError("must be a share between 0 and 1 (or 0% to 100%)")
    return x


_PARSERS = {
    "OverdueRatioTarget": ("overdue_target", _ratio), "DsoPeriod": ("dso_period", _period),
    "CeiPeriod": ("cei_period", _period), "TrendMonths": ("trend_months", _whole(0)),
    "WorklistDaysAhead": ("worklist_days_ahead", _whole(0)),
    "WarningAmountBands": ("amount_bands", lambda r: _edges(r, False)),
    "WarningDueBands": ("due_bands", lambda r: _edges(r, True)),
}


def parse_kpi_settings(extra: Mapping[str, Any], run: "Settings | None" = None) -> tuple[KpiSettings, list[Issue]]:
    """Read the KPI settings from the Settings sheet's extra pairs.

    Args:
        extra: key text -> ``(raw value, "Settings!B12")`` (a bare raw value is placed at
            "Settings"); keys in English or Chinese (:data:`KPI_SETTING_ALIASES`), matched
            ignoring case, spaces, ``_`` and ``-``; other keys are ignored.
        run: the run's settings, whose base currency and aging edges and basis are copied.

    Returns:
        (settings, issues): a bad value is an error naming its place; its default is kept.
    """
    s, issues = KpiSettings(), []
    if run is not None:
        s = replace(s, base_currency=run.base_currency, aging_edges=tuple(run.aging_edges), aging_basis=run.aging_basis,
                    auto_apply=getattr(run, "auto_apply", "oldest"))
    for key_text, value in extra.items():
        key = _KEY_LOOKUP.get(registry.fold(key_text))
        if key is None:
            continue
        raw, where = value if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str) else (value, "Settings")
        if is_blank(raw):
            continue
        name, parse = _PARSERS[key]
        try:
            s = replace(s, **{name: parse(raw)})
        except (ValueError, TypeError) as e:
            default = next(d for k, d, *_ in KPI_SETTING_DEFAULTS if k == key)
            why = str(e) if "must" in str(e) else "is not valid"
            issues.append(Issue(where, f'{key} "{raw}" {why}; the default "{default}" is kept'))
    return s, issues
