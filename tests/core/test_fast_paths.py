"""The column-at-once paths of validation give exactly what the plain per-cell rules give.

Each fast path is compared with a small reference: the per-cell function applied to every cell
of random columns of mixed reader values (text with spaces, blanks, numbers, dates, booleans).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_ar.core.convert import parse_text, text_column

CELLS = st.one_of(
    st.none(),
    st.just(""),
    st.text(alphabet=" \t客户ABCxyz0123-", max_size=8),
    st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=False, width=64),
    st.booleans(),
    st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(CELLS, max_size=40))
def test_text_column_is_parse_text_per_cell(cells):
    arr = np.empty(len(cells), dtype=object)
    arr[:] = cells
    assert text_column(arr).tolist() == [parse_text(v) for v in cells]


def test_text_column_of_a_missing_column_is_blank_text():
    arr = np.full(5, None, dtype=object)
    assert text_column(arr).tolist() == [""] * 5


def test_text_column_keeps_equal_values_of_different_types_apart():
    # 1, 1.0 and True are equal keys in a dict; each must still read as its own text.
    arr = np.array([1, 1.0, True, 0, 0.0, False, -0.0], dtype=object)
    assert text_column(arr).tolist() == [parse_text(v) for v in arr]
