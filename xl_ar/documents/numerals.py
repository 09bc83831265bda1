"""Amounts in Chinese capital numerals (大写金额), as Chinese business letters, statements and
balance confirmations carry them next to the figures.

The conversion is ``cn2an``'s RMB mode, behind these functions so the rest of the package never
sees the library (imported on first use). It is fed an exact decimal string built from integer minor units, never a
float, so 0.01 is 壹分 and not a rounding artefact.

Decisions: the forms follow the usual examples and the 支付结算办法 usage common in
practice — 整 after a whole number of 元 (壹佰元整), nothing after 角 or 分 (壹万零伍元伍角);
a negative amount (a credit balance) is 负… (负壹佰元整). Only renminbi is written in capital
numerals: other currencies have no such convention, so :func:`capital_amount` gives "" for them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

#: The currencies written in capital numerals, with the word put before the amount.
CAPITAL_CURRENCIES = {"CNY": "人民币", "RMB": "人民币"}


def rmb_capital(minor: int, exp: int = 2) -> str:
    """An amount in renminbi capital numerals: ``1234567`` (fen) -> ``壹万贰仟叁佰肆拾伍元陆角柒分``.

    Args:
        minor: the amount in minor units (分 when ``exp`` is 2); negative for a credit.
        exp: the number of decimals of ``minor`` (2 for CNY). Digits beyond 分 are refused.

    Returns:
        The capital-numeral text, e.g. ``壹亿元整``, ``壹分``, ``负壹佰元整``.

    Raises:
        ValueError: the amount has a non-zero part below 分.
    """
    value = Decimal(int(minor)).scaleb(-int(exp))
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(f"{value} has a part below 分 (0.01)")
    text = f"{value.quantize(Decimal('0.01')):f}"
    return _cn2an().an2cn(text, "rmb")


def chinese_integer(n: int) -> str:
    """A whole number in ordinary Chinese numerals: ``5`` -> ``五``, ``12`` -> ``十二``."""
    return _cn2an().an2cn(int(n))


def prepare(langs: Iterable[str]) -> None:
    """Import the library now when a Chinese document is to come (before workers fork, so that
    they do not each import it again)."""
    if "zh" in set(langs):
        _cn2an()


def _cn2an() -> Any:
    """The library, imported on first use (about 0.15 s: an English run never needs it)."""
    import cn2an

    return cn2an


def capital_amount(minor: int, exp: int, currency: str) -> str:
    """``人民币壹万元整`` for a renminbi amount, "" for any other currency.

    Args:
        minor: the amount in minor units.
        exp: its number of decimals.
        currency: ISO code (CNY; RMB is accepted as a synonym).

    Returns:
        The words with the currency in front, or "".
    """
    word = CAPITAL_CURRENCIES.get(str(currency).strip().upper())
    return f"{word}{rmb_capital(minor, exp)}" if word else ""


__all__ = ["CAPITAL_CURRENCIES", "capital_amount", "rmb_capital"]
