"""Sorting rows by several keys packed into one integer (:mod:`xl_ar.core.order`): the order of
a stable sort key by key, whatever the keys and however many bits they need."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from xl_ar.core.order import sort_order, text_ranks


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
