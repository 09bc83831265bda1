"""Amounts the ledger cannot take at face value: decimal commas, sizes beyond int64 minor units,
late-fee rates beyond reason."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xl_ar.core.convert import AmbiguousNumber, parse_amount
from xl_ar.core.fees import LATE_FEE_POLICIES
from xl_ar.core.money import MAX_AMOUNT, to_minor_array
from xl_ar.core.settings import parse_settings


@pytest.mark.parametrize("text", ["12,50", "1.234,50", "1 234,50", "-1.234,5 €"])
def test_a_decimal_comma_is_ambiguous_without_the_setting(text):
    with pytest.raises(AmbiguousNumber):
        parse_amount(text)


@pytest.mark.parametrize("text, decimal, value", [
    ("1,234.50", None, 1234.50), ("¥1,234.50", None, 1234.50), ("1,234", None, 1234.0), ("(1,234.50)", None, -1234.50),
    ("1.234,50", ",", 1234.50), ("1 234,50", ",", 1234.50), ("12,50", ",", 12.50), ("-1.234,5 €", ",", -1234.5),
    ("1,234", ",", 1.234), ("1,234.50", ".", 1234.50),
])
def test_the_decimal_separator_setting_says_which(text, decimal, value):
    assert parse_amount(text, decimal) == value


@pytest.mark.parametrize("text, decimal", [("1,234.50", ","), ("12,50", "."), ("1,2,3", None), ("12.5.1", None)])
def test_text_that_fits_no_reading_is_not_a_number(text, decimal):
    with pytest.raises(ValueError) as exc:
        parse_amount(text, decimal)
    assert not isinstance(exc.value, AmbiguousNumber)


@given(st.integers(min_value=0, max_value=10**15 - 1))
def test_grouped_text_reads_the_same_under_both_settings(cents):
    major, minor = divmod(cents, 100)
    point = f"{major:,}.{minor:02d}"
    comma = point.replace(",", " ").replace(".", ",")
    assert parse_amount(point) == parse_amount(comma, ",") == float(f"{major}.{minor:02d}")


def test_minor_units_beyond_int64_raise_instead_of_wrapping():
    with pytest.raises(OverflowError):
        to_minor_array(np.array([9e18]), 2)
    assert to_minor_array(np.array([MAX_AMOUNT - 0.01]), 3)[0] == 9_999_999_999_999_990


def test_the_decimal_separator_and_late_fee_rates_are_checked_in_settings():
    s, issues = parse_settings({"DecimalSeparator": ("comma", "Settings!B9")}, LATE_FEE_POLICIES)
    assert s.decimal_separator == "," and issues == []
    _, issues = parse_settings({"DecimalSeparator": (";", "Settings!B9")}, LATE_FEE_POLICIES)
    assert [(i.where, i.message) for i in issues] == [("Settings!B9", 'decimal separator ";" must be "." or ","')]
    for policy, rate, ok in (("daily", 0.01, True), ("daily", 0.0101, False), ("annual", 1e300, False),
                             ("percent", 1.5, False), ("fixed", 500, True)):
        s, issues = parse_settings({"LateFeePolicy": (policy, "Settings!B7"), "LateFeeRate": (rate, "Settings!B8")},
                                   LATE_FEE_POLICIES)
        assert (issues == []) is ok, (policy, rate)
        if not ok:
            assert issues[0].where == "Settings!B8" and "beyond the sane range" in issues[0].message
            assert s.late_fee_rate is None
