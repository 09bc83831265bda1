"""Capital numerals (大写金额): the hard cases, exactly, and the invariants of the conversion."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from xl_ar.documents.numerals import capital_amount, rmb_capital


@pytest.mark.parametrize("minor, words", [
    (1, "壹分"),
    (10, "壹角"),
    (1_000_550, "壹万零伍元伍角"),
    (10_000_000_000, "壹亿元整"),
    (100_001_000, "壹佰万零壹拾元整"),
    (1_234_567, "壹万贰仟叁佰肆拾伍元陆角柒分"),
    (100_000_005, "壹佰万元零伍分"),
    (10_005, "壹佰元零伍分"),
    (101_010, "壹仟零壹拾元壹角"),
    (20_000_000_101, "贰亿零壹元零壹分"),
    (0, "零元整"),
    (-10_000, "负壹佰元整"),
    (-1, "负壹分"),
])
def test_hard_cases(minor, words):
    assert rmb_capital(minor) == words


def test_other_exponents_and_currencies():
    assert rmb_capital(1_000_550_0, exp=3) == "壹万零伍元伍角"
    with pytest.raises(ValueError, match="below 分"):
        rmb_capital(1, exp=3)
    assert capital_amount(800_000, 2, "CNY") == "人民币捌仟元整"
    assert capital_amount(800_000, 2, "rmb") == "人民币捌仟元整"
    assert capital_amount(800_000, 2, "USD") == ""


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = {"拾": 10, "佰": 100, "仟": 1000}


def _back(words: str) -> int:
    """Read capital numerals back to fen (an independent parser, for the round trip)."""
    sign = -1 if words.startswith("负") else 1
    words = words.removeprefix("负").removesuffix("整")
    yuan, _, rest = words.partition("元")
    if not _:
        yuan, rest = "", words

    def section(text: str) -> int:
        total, digit = 0, 0
        for ch in text:
            if ch in _DIGITS:
                digit = _DIGITS.index(ch)
            else:
                total += (digit or 1) * _UNITS[ch]
                digit = 0
        return total + digit

    value, big = 0, 0
    for ch_unit, mult in (("亿", 10**8), ("万", 10**4)):
        if ch_unit in yuan:
            head, yuan = yuan.split(ch_unit, 1)
            big += (section(head) if ch_unit == "万" or "万" not in head else _back_wan(head)) * mult
    value = big + section(yuan)
    fen = value * 100
    jiao = rest.find("角")
    if jiao >= 0:
        fen += _DIGITS.index(rest[jiao - 1]) * 10
    f = rest.find("分")
    if f >= 0:
        fen += _DIGITS.index(rest[f - 1])
    return sign * fen


def _back_wan(text: str) -> int:
    return 0  # not reached below 10**12 fen


@given(st.integers(min_value=-(10**12) + 1, max_value=10**12 - 1))
def test_round_trip(minor):
    words = rmb_capital(minor)
    assert _back(words) == minor
    assert words.endswith("整") == (minor % 100 == 0)


def test_an_english_run_never_imports_the_numerals_library():
    import subprocess
    import sys

    code = ("import sys, xl_ar.cli, xl_ar.app.reminders, xl_ar.app.statements, xl_ar.documents.feetext;"
            "print('cn2an' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
    from xl_ar.documents import numerals

    numerals.prepare(["en", "en"])
    numerals.prepare(["en", "zh"])  # a Chinese document to come: imported before workers fork
    assert "cn2an" in sys.modules and numerals.chinese_integer(12) == "十二"
