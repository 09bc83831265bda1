"""Sorting rows by several keys packed into one integer (:mod:`xl_ar.core.order`): the order of
a stable sort key by key, whatever the keys and however many bits they need."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from xl_ar.core.order import key_ranks, lex_order, sort_order, text_ranks


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(0, 2), st.integers(0, 10**6)),
                max_size=200), st.booleans())
def test_packed_keys_sort_as_a_stable_sort_key_by_key(rows, wide):
    a, b, c, d = (np.array([r[k] for r in rows], dtype=np.int64) for k in range(4))
    bound_b = 2**40 if wide else 41  # a bound too wide to pack: sorted key by key instead
    got = sort_order([(a, 4), (b, bound_b), (c, 3), (d, 10**6 + 1)]).tolist()
    assert got == sorted(range(len(rows)), key=lambda i: rows[i])


@given(st.lists(st.sampled_from(["C1", "c1", "C10", "C2", "客户甲", "客户乙", "Ärger", "a b", "", "C1 "]), max_size=60))
def test_texts_rank_as_python_orders_them(values):
    ranks, n = text_ranks(np.array(values, dtype=object))
    assert n == len(set(values))
    assert [sorted(set(values))[r] for r in ranks.tolist()] == values


def test_anything_but_texts_has_no_ranks():
    assert text_ranks(np.array(["C1", 7], dtype=object)) is None
    assert text_ranks(np.array(["C1", None], dtype=object)) is None
    ranks, n = text_ranks(np.array([], dtype=object))
    assert n == 0 and ranks.tolist() == []


# Keys as the run sorts by them: groups, days with NaT, days late as floats with NaN (negated),
# flags; each drawn from a small range so that ties are common.
_DAY0 = np.datetime64("2024-01-01", "D")


def _key(kind: str, values: list[int], unit: str) -> np.ndarray:
    v = np.array(values, dtype=np.int64)
    if kind == "int":
        return v - 3
    if kind == "bool":
        return v % 2 == 0
    if kind == "days":  # 0: a missing date
        d = (_DAY0 + v).astype(f"datetime64[{unit}]")
        d[v == 0] = np.datetime64("NaT")
        return d
    f = -v.astype(np.float64)  # (days late, most first)
    f[v == 0] = np.nan
    return f


@given(st.lists(st.tuples(*[st.integers(0, 5)] * 3), max_size=120),
       st.lists(st.sampled_from(["int", "bool", "days", "float"]), min_size=1, max_size=3),
       st.sampled_from(["D", "s"]))
def test_lex_order_is_numpys_lexsort(rows, kinds, unit):
    keys = [_key(kind, [r[j] for r in rows], unit) for j, kind in enumerate(kinds)]
    assert lex_order(*keys).tolist() == np.lexsort(keys[::-1]).tolist()


@given(st.lists(st.integers(0, 50), max_size=80), st.integers(0, 3))
def test_keys_it_cannot_pack_are_sorted_by_lexsort(values, which):
    v = np.array(values, dtype=np.int64)
    other = [v + 0.5,  # a fraction
             np.where(v == 7, np.inf, v.astype(float)),  # an infinite number
             np.array([str(x) for x in values], dtype=object),  # texts
             v.astype("datetime64[s]") + 1]  # seconds that are not whole days
    keys = [v % 3, other[which]]
    assert lex_order(*keys).tolist() == np.lexsort(keys[::-1]).tolist()


def test_key_ranks_keep_the_order_and_put_the_missing_last():
    d = np.array(["2026-01-03T00:00:00", "NaT", "2026-01-01T00:00:00"], dtype="datetime64[s]")
    assert key_ranks(d)[0].tolist() == [2, 3, 0] and key_ranks(d)[1] == 4  # ranked by day
    assert key_ranks(np.array([2.0, np.nan, -1.0]))[0].tolist() == [3, 4, 0]
    assert key_ranks(np.array([0.5])) is None
    assert key_ranks(np.array([0, 2**62 - 1], dtype=np.int64))[1] == 2**62
    assert key_ranks(np.array([-(2**62), 2**62], dtype=np.int64)) is None  # too wide
    assert key_ranks(np.zeros(0))[0].tolist() == []


def test_packed_keys_too_wide_for_the_positions_are_sorted_stably():
    # The keys fill 62 bits: no room for the positions below them, one stable sort instead.
    a = np.array([3, 1, 3, 0, 1], dtype=np.int64)
    assert sort_order([(a, 2**62)]).tolist() == [3, 1, 4, 0, 2]
    assert lex_order(np.array([2**61, 0, 2**61, 5])).tolist() == [1, 3, 0, 2]
