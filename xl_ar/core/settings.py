"""The run's settings: parsed from the Settings sheet's Key/Value pairs into a frozen object."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from xl_ar.core import registry
from xl_ar.core.convert import parse_date
from xl_ar.core.issues import Issue
from xl_ar.core.money import CURRENCY_EXPONENTS

#: The run's own settings (the registry's ledger and late-fee keys), in the order a new workbook lists them.
SETTING_DEFAULTS: tuple[tuple[str, Any, str, str], ...] = registry.defaults_table("ledger", "late fees")

@dataclass(frozen=True)
class Settings:
    """Settings of one run (every default changeable on the Settings sheet).

    Attributes:
        as_of: the as-of date; None means the caller decides (the CLI uses today).
        base_currency: currency of amounts whose Currency cell is blank.
        language: "zh" or "en", the language of labels written back and of documents.
        aging_basis: "due" (days past due) or "invoice" (days since the invoice date).
        aging_edges: bucket edges in days, strictly increasing.
        auto_apply: "oldest" (money naming no invoice pays the oldest open ones) or "none"
            (it stays unapplied, aged as a negative item: open-item accounting).
        late_fee_policy, late_fee_rate, late_fee_grace_days, late_fee_cap: the late-fee terms.
        extra: every other Key/Value pair as (raw value, place of the value cell), for the
            settings of credit, stages and documents, and the user's own notes.
    """

    as_of: dt.date | None = None
    base_currency: str = "CNY"
    language: str = "zh"
    aging_basis: str = "due"
    aging_edges: tuple[int, ...] = (30, 60, 90)
    auto_apply: str = "oldest"
    late_fee_policy: str = "daily"
    late_fee_rate: float | None = None
    late_fee_grace_days: int = 0
    late_fee_cap: float | None = None
    decimal_separator: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def with_as_of(self, as_of: dt.date) -> "Settings":
        return replace(self, as_of=as_of)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and v != v)


def _number(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError
    if isinstance(v, (int, float)):
        return float(v)
    s = str(v).strip().replace(",", "")
    if s.endswith("%"):
        return float(s[:-1]) / 100.0
    return float(s)


def parse_settings(
    pairs: Mapping[str, tuple[Any, str]], policies: Mapping[str, Any] | None = None
) -> tuple[Settings, list[Issue]]:
    """Build Settings from the sheet's pairs.

    Args:
        pairs: canonical key (e.g. "AgingEdges") -> (raw cell value, place of the value cell,
            e.g. "Settings!B5"). Keys not known to xl-ar are kept in ``extra``.
        policies: the known late-fee policy keys, to validate ``LateFeePolicy``.

    Returns:
        (settings, issues); on a bad value the default is kept and an error is reported.
    """
    issues: list[Issue] = []
    values: dict[str, Any] = {}
    known = {k for k, *_ in SETTING_DEFAULTS}

    def bad(where: str, message: str) -> None:
        issues.append(Issue(where, message))

    for key, (raw, where) in pairs.items():
        if key not in known:
            continue
        if _blank(raw):
            if key in ("AsOfDate", "LateFeeCap", "LateFeeRate", "DecimalSeparator"):
                values[key] = None  # blank rate = the policy's own default
            continue
        try:
            if key == "AsOfDate":
                values[key] = parse_date(raw)
                if values[key] is None:
                    raise ValueError
            elif key == "BaseCurrency":
                code = str(raw).strip().upper()
                if code not in CURRENCY_EXPONENTS:
                    bad(where, f'base currency "{raw}" is not a known ISO currency code')
                    continue
                values[key] = code
            elif key == "Language":
                lang = str(raw).strip().lower()[:2]
                if lang not in ("zh", "en"):
                    bad(where, f'language "{raw}" must be zh or en')
                    continue
                values[key] = lang
            elif key == "AgingBasis":
                basis = str(raw).strip().lower()
                basis = {"到期日": "due", "开票日": "invoice"}.get(basis, basis)
                if basis not in ("due", "invoice"):
                    bad(where, f'aging basis "{raw}" must be due or invoice')
                    continue
                values[key] = basis
            elif key == "AutoApply":
                mode = str(raw).strip().lower()
                mode = {"最早": "oldest", "先进先出": "oldest", "否": "none", "不自动": "none", "no": "none"}.get(mode, mode)
                if mode not in ("oldest", "none"):
                    bad(where, f'AutoApply "{raw}" must be oldest or none')
                    continue
                values[key] = mode
            elif key == "AgingEdges":
                text = str(int(raw)) if isinstance(raw, (int, float)) else str(raw)
                edges = tuple(int(p) for p in text.replace("，", ",").replace(";", ",").split(",") if p.strip())
                if not edges or any(e <= 0 for e in edges) or list(edges) != sorted(set(edges)):
                    bad(where, f'aging edges "{raw}" must be increasing day counts, e.g. 30,60,90')
                    continue
                values[key] = edges
            elif key == "LateFeePolicy":
                policy = str(raw).strip().lower()
                if policies is not None and policy not in policies:
                    bad(where, f'late-fee policy "{raw}" is unknown; use one of {", ".join(policies)}')
                    continue
                values[key] = policy
            elif key == "LateFeeRate":
                values[key] = _number(raw)
                if values[key] < 0:
                    bad(where, f'late-fee rate "{raw}" must not be negative')
                    del values[key]
            elif key == "LateFeeGraceDays":
                n = _number(raw)
                if n < 0 or n != int(n):
                    bad(where, f'grace days "{raw}" must be a whole number of days')
                    continue
                values[key] = int(n)
            elif key == "DecimalSeparator":
                mark = {"point": ".", "dot": ".", "comma": ",", "，": ",", "。": "."}.get(str(raw).strip().lower(), str(raw).strip())
                if mark not in (".", ","):
                    bad(where, f'decimal separator "{raw}" must be "." or ","')
                    continue
                values[key] = mark
            elif key == "LateFeeCap":
                values[key] = _number(raw)
                if values[key] < 0:
                    bad(where, f'late-fee cap "{raw}" must not be negative')
                    del values[key]
        except (ValueError, TypeError):
            bad(where, f'{key} "{raw}" is not a valid value')

    rate = values.get("LateFeeRate")
    policy = (policies or {}).get(values.get("LateFeePolicy", "daily"))
    top = getattr(policy, "max_rate", None)
    if rate is not None and top is not None and rate > top:
        bad(pairs["LateFeeRate"][1], f'late-fee rate {pairs["LateFeeRate"][0]!r} is beyond the sane range of the '
            f'{getattr(policy, "key", "")} policy (at most {top:g}); check the cell')
        del values["LateFeeRate"]
    extra = {k: v for k, v in pairs.items() if k not in known}
    s = Settings(
        as_of=values.get("AsOfDate"),
        base_currency=values.get("BaseCurrency", "CNY"),
        language=values.get("Language", "zh"),
        aging_basis=values.get("AgingBasis", "due"),
        aging_edges=values.get("AgingEdges", (30, 60, 90)),
        auto_apply=values.get("AutoApply", "oldest"),
        late_fee_policy=values.get("LateFeePolicy", "daily"),
        late_fee_rate=values.get("LateFeeRate"),
        late_fee_grace_days=values.get("LateFeeGraceDays", 0),
        late_fee_cap=values.get("LateFeeCap"),
        decimal_separator=values.get("DecimalSeparator"),
        extra=extra,
    )
    return s, issues
