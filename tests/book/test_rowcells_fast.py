"""The computed cells rendered by blocks of arrays are, byte for byte, the cells rendered one by one.

The reference is the renderer as it was (kept in tests/book/rowcells_reference.py): an f-string
per cell, ``repr`` per number. It is compared with :class:`xl_ar.book.rowcells.RenderedRows` on
random columns of every kind (numbers of any magnitude, dates, labels that need escaping, values
that are not strings in a text column), both namespace prefixes, styles, row numbers up to the
last row, blocks of every size and targets read in any order.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
import rowcells_reference as reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xl_ar.book import rowcells
from xl_ar.book.rowbytes import digits_matrix, number_matrix, squeeze
from xl_ar.book.rowcells import LONG_CELL, RenderedRows, prepare_column
from xl_ar.book.sheetxml import MAX_COL, MAX_ROW, OutColumn

SLOW = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- values

#: Numbers that sit on an edge of the fast path: repr's switch to exponents (1e-4, 1e16), 2**53,
#: the largest 15-digit decimals, a sum that is not the decimal it looks like, subnormals; and
#: 16-digit decimals of four places that share their double with another (....0008 and ....0009).
EDGES = [0.0, -0.0, 0.1 + 0.2, 0.3, 1 / 3, 2 / 3, 0.8333333333333334, 1e-4, -1e-4, 9.9999e-5, 1e-5, 0.00012,
         0.0001234, 1e15, 1e15 + 0.5, 1e16, -1e16, 1e16 - 2, 1e17, 2.0**53, 2.0**53 + 2, 9007199254740993.0,
         99999999999.9999, 99999999999.99991, 100000000000.0001, 123456789012.3456, 999999999999999.9,
         5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308, 1234.56, -1234.56,
         0.5, -0.5, 0.05, 0.005, 0.0005, 1.0005, 45306.75, 45306.333333333336, 1e22, 123e300,
         977708663345.0009, -922466167218.0009, 99999999999.99999, 549755813888.0001]

amounts = st.builds(lambda m, k: m / 10**k, st.integers(-10**12, 10**12), st.integers(0, 4))
big_decimals = st.builds(lambda m, k: m / 10**k, st.integers(-10**16, 10**16), st.integers(0, 6))
numbers = st.one_of(
    st.integers(-10**6, 10**6).map(float),
    amounts,
    big_decimals,
    st.sampled_from(EDGES),
    st.floats(1e15, 1e17),
    st.floats(-1e-3, 1e-3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just(math.nan),
)

day_times = st.one_of(
    st.dates(date(1900, 1, 1), date(9999, 12, 31)),
    st.datetimes(datetime(1900, 1, 1), datetime(9999, 12, 31)),
    st.builds(lambda d, h: datetime(d.year, d.month, d.day) + timedelta(hours=h),
              st.dates(date(1900, 1, 1), date(2100, 1, 1)), st.sampled_from([0, 6, 8, 12, 18])),
    st.none(),
)

LABELS = ["Current", "1-30", "31-60", "90+", "Final notice", "催收", "A & B", "<x>", 'say "hi"', "it's",
          " leading", "trailing ", " ", "", "_x0041_", "tab\there", "line\nbreak", "bell\x07", "nul\x00",
          "\ud800 lone", "𝄞 clef", "x" * (LONG_CELL + 1), "&" * (LONG_CELL // 4)]


class Shown:
    """A value that is not a string, shown as a label that needs escaping."""

    def __str__(self) -> str:
        return "<shown & told>"


class Unseen:
    """A value that is not a string and shows as nothing: a blank."""

    def __str__(self) -> str:
        return ""


texts = st.one_of(
    st.sampled_from(LABELS),
    st.text(st.sampled_from("ab &<>\"'_x0041中文 \t\r\n\x01"), max_size=12),
    st.none(),
    st.sampled_from([math.nan, np.nan, float("nan"), pd.NA, pd.NaT, None]),
    st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from([np.float64(1.5), np.int64(7), date(2024, 1, 15), Shown(), Shown(), Unseen()]),
)


@st.composite
def columns(draw, n: int) -> tuple[list[OutColumn], list]:
    """1 to 4 computed columns (distinct, ascending indices) and their ``n`` values each."""
    idx = sorted(draw(st.sets(st.one_of(st.integers(1, 30), st.integers(1, MAX_COL)), min_size=1, max_size=4)))
    cols, values = [], []
    for i in idx:
        kind = draw(st.sampled_from(["number", "date", "text"]))
        style = draw(st.sampled_from([0, 0, 1, 7, 123]))
        cols.append(OutColumn(i, f"H{i}", style=style, kind=kind))
        if kind == "number":
            # Often a column of one sort (whole numbers, amounts), else anything.
            sort = draw(st.sampled_from([numbers, amounts, st.integers(-400, 400).map(float)]))
            values.append(np.array(draw(st.lists(st.one_of(sort, st.just(math.nan)), min_size=n, max_size=n)),
                                   dtype=np.float64))
        elif kind == "date":
            values.append(draw(st.lists(day_times, min_size=n, max_size=n)))
        else:
            values.append(draw(st.lists(texts, min_size=n, max_size=n)))
    return cols, values


@st.composite
def cases(draw) -> tuple[list[OutColumn], list[int], list, str]:
    n = draw(st.integers(0, 40))
    rows = sorted(draw(st.sets(st.one_of(st.integers(2, 120), st.integers(2, MAX_ROW)), min_size=n, max_size=n)))
    cols, values = draw(columns(n))
    return cols, rows, values, draw(st.sampled_from(["", "x:"]))


# --------------------------------------------------------------------------- helpers

def both(cols: list[OutColumn], rows: list[int], values: list, p: str) -> tuple[RenderedRows, list[bytes]]:
    """The new renderer, and every target as the reference renders it (walked in order)."""
    prepared = [prepare_column(c, v, len(rows)) for c, v in zip(cols, values)]
    header = f"<{p}c/></{p}row>".encode()
    old = reference.RenderedRows(header, cols, rows, prepared, p)
    return RenderedRows(header, cols, rows, prepared, p), [old[j] for j in range(len(old))]


@contextmanager
def blocks_of(size: int):
    """The new renderer rendering ``size`` rows at a time."""
    saved, rowcells.BLOCK_ROWS = rowcells.BLOCK_ROWS, size
    try:
        yield
    finally:
        rowcells.BLOCK_ROWS = saved


# --------------------------------------------------------------------------- tests

def test_an_example_gives_these_bytes():
    cols = [OutColumn(3, "Amount", style=2), OutColumn(4, "Stage", kind="text"),
            OutColumn(5, "Due", style=4, kind="date"), OutColumn(16384, "Note", style=9, kind="text")]
    values = [[1234.5, math.nan, -0.0, 0.1 + 0.2], ["A & B", None, " x", 7],
              [date(2024, 1, 15), None, datetime(2024, 1, 15, 18), date(1900, 1, 1)], ["", "<b>", math.nan, "中"]]
    new, old = both(cols, [2, 10, 1_000_000, MAX_ROW], values, "x:")
    want = [
        b"<x:c/></x:row>",
        (b'<x:c r="C2" s="2"><x:v>1234.5</x:v></x:c><x:c r="D2" t="inlineStr"><x:is><x:t>A &amp; B</x:t></x:is>'
         b'</x:c><x:c r="E2" s="4"><x:v>45306</x:v></x:c></x:row>'),
        b'<x:c r="XFD10" s="9" t="inlineStr"><x:is><x:t>&lt;b&gt;</x:t></x:is></x:c></x:row>',
        (b'<x:c r="C1000000" s="2"><x:v>0</x:v></x:c><x:c r="D1000000" t="inlineStr"><x:is>'
         b'<x:t xml:space="preserve"> x</x:t></x:is></x:c><x:c r="E1000000" s="4"><x:v>45306.75</x:v></x:c></x:row>'),
        (b'<x:c r="C1048576" s="2"><x:v>0.30000000000000004</x:v></x:c><x:c r="D1048576" t="inlineStr"><x:is>'
         b'<x:t>7</x:t></x:is></x:c><x:c r="E1048576" s="4"><x:v>1</x:v></x:c><x:c r="XFD1048576" s="9" '
         b't="inlineStr"><x:is><x:t>\xe4\xb8\xad</x:t></x:is></x:c></x:row>'),
    ]
    assert old == want
    assert [new[j] for j in range(len(new))] == want


@SLOW
@given(cases(), st.integers(1, 9), st.data())
def test_blocks_render_the_bytes_of_the_cell_by_cell_renderer(case, size, data):
    """Any columns, in blocks of any size (so that every border is crossed), read in order and
    then in any order (going back re-renders a block)."""
    new, want = both(*case)
    order = data.draw(st.lists(st.integers(0, len(want) - 1), max_size=30))
    with blocks_of(size):
        assert len(new) == len(want)
        assert [new[j] for j in range(len(new))] == want
        assert [new[j] for j in order] == [want[j] for j in order]
        with pytest.raises(IndexError):
            new[len(want)]


@pytest.mark.parametrize("blocks, extra", [(0, 1), (1, -1), (1, 0), (1, 1), (2, 1)])
def test_whole_blocks_and_their_borders(blocks, extra):
    """Blocks of the real size: the last one full, short by one or holding one row."""
    n = blocks * rowcells.BLOCK_ROWS + extra
    rng = np.random.default_rng(n)
    rows = np.sort(rng.choice(np.arange(2, MAX_ROW + 1), n, replace=False)).tolist()
    money = np.round(rng.uniform(-5000, 2_000_000, n), 2)
    money[rng.random(n) < 0.2] = math.nan
    money[rng.random(n) < 0.01] = 1 / 3
    days = rng.integers(-30, 4000, n).astype(float)
    due = (np.datetime64("1900-01-01") + rng.integers(0, 60_000, n).astype("timedelta64[D]")).astype("datetime64[ns]")
    due[rng.random(n) < 0.1] = np.datetime64("NaT")
    labels = np.array(["Current", "1-30", "", "A & B", " x", "x" * (LONG_CELL + 5)], dtype=object)
    stage = labels[rng.integers(0, len(labels), n)].tolist()
    cols = [OutColumn(7, "Money", style=3), OutColumn(8, "Days"), OutColumn(9, "Due", style=4, kind="date"),
            OutColumn(10, "Stage", style=5, kind="text")]
    new, want = both(cols, rows, [money, days, due, stage], "")
    assert [new[j] for j in range(len(new))] == want
    assert (new[n], new[1], new[n]) == (want[n], want[1], want[n])  # back to the first block, and on


@settings(max_examples=3000, deadline=None)
@given(st.lists(numbers.filter(lambda x: not math.isnan(x)), min_size=1, max_size=20))
def test_numbers_are_written_as_repr_writes_them(xs):
    x = np.array(xs)
    mat, count = number_matrix(x)
    data, offsets = squeeze(mat, count)
    got = [data[a:b].decode() for a, b in pairwise(offsets)]
    assert got == [t.removesuffix(".0") for t in map(repr, (x + 0.0).tolist())]


@given(st.lists(st.one_of(st.integers(0, 10**4), st.integers(0, 2**63 - 1)), min_size=1, max_size=20))
def test_digits_of_integers(vs):
    mat, count = digits_matrix(np.array(vs, dtype=np.int64))
    data, offsets = squeeze(mat, count)
    assert [data[a:b] for a, b in pairwise(offsets)] == [str(v).encode() for v in vs]


def test_an_infinite_number_is_refused_before_anything_is_rendered():
    with pytest.raises(ValueError, match="infinite"):
        prepare_column(OutColumn(3, "Amount"), [1.0, -math.inf], 2)
