from decimal import Decimal

import numpy as np
from hypothesis import given, strategies as st

from xl_ar.core.money import round_half_up, to_major, to_major_array, to_minor, to_minor_array


def test_half_cents_round_up_on_the_typed_decimal():
    # 1.005 is stored as 1.00499999999999989...; an accountant typed 1.005 and expects 1.01.
    assert to_minor(1.005) == 101
    assert to_minor(2.675) == 268
    assert to_minor(-1.005) == -101  # half away from zero
    assert to_minor(0.125, 2) == 13
    assert to_minor(1234.5, 0) == 1235
    assert to_minor("0.0005", 3) == 1


def test_vectorised_rounding_equals_the_scalar_rule():
    values = np.array([1.005, 2.675, -1.005, 0.125, 10.0, 1e9 + 0.005, 0.0, 19.999, 0.285])
    assert to_minor_array(values).tolist() == [to_minor(float(v)) for v in values]


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_minor_units_round_trip_through_float(minor):
    major = to_major_array(np.array([minor]), 2)[0]
    assert to_minor_array(np.array([major]))[0] == minor
    assert to_major(minor, 2) == Decimal(minor) / 100


@given(st.integers(min_value=-10**9, max_value=10**9))
def test_half_up_on_fractional_minor_units(n):
    assert round_half_up(np.array([n + 0.5]))[0] == (n + 1 if n >= 0 else n)  # away from zero
    assert round_half_up(np.array([n + 0.49]))[0] == n
