"""Aging buckets at an as-of date; the edges are inclusive at their upper end."""

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tables import d
from xl_ar.core.aging import AgingEdges, age_open_items, aging_table


def dates(*texts):
    return np.array([np.datetime64(t, "s") for t in texts])


def test_labels_in_both_languages():
    assert AgingEdges().labels("en") == ["Not due", "1-30", "31-60", "61-90", ">90"]
    assert AgingEdges().labels("zh") == ["未到期", "1-30天", "31-60天", "61-90天", "90天以上"]
    assert AgingEdges.parse("30,60,90,180,365").labels("en")[-3:] == ["91-180", "181-365", ">365"]


@pytest.mark.parametrize("days_late,bucket", [(-5, 0), (0, 0), (1, 1), (30, 1), (31, 2), (60, 2), (61, 3), (90, 3), (91, 4), (4000, 4)])
def test_bucket_edges(days_late, bucket):
    due = np.datetime64("2025-06-30") - np.timedelta64(days_late, "D")
    late, b = age_open_items(np.array([due], dtype="datetime64[s]"), np.array([due], dtype="datetime64[s]"),
                             d("2025-06-30"), AgingEdges(), "due")
    assert late.tolist() == [days_late] and b.tolist() == [bucket]


def test_invoice_basis_ages_overdue_items_from_the_invoice_date():
    inv = dates("2025-04-01", "2025-06-20", "2025-06-01")
    due = dates("2025-05-01", "2025-07-20", "2025-06-25")
    late, b = age_open_items(due, inv, d("2025-06-30"), AgingEdges(), "invoice")
    # 60 days late by due date -> 90 days since the invoice: 61-90; not yet due stays "not due";
    # 5 days late, 29 days since the invoice: 1-30.
    assert late.tolist() == [60, -20, 5]
    assert b.tolist() == [3, 0, 1]


def test_bad_edges_are_refused():
    for bad in ((), (0, 30), (60, 30), (30, 30)):
        with pytest.raises(ValueError):
            AgingEdges(bad)


@given(st.lists(st.tuples(st.integers(-100, 1000), st.integers(0, 10**9), st.sampled_from(["C1", "C2", "C3"])), max_size=40),
       st.lists(st.integers(1, 400), min_size=1, max_size=6, unique=True))
def test_buckets_sum_to_the_open_balance(items, edges):
    edges = AgingEdges(tuple(sorted(edges)))
    as_of = dt.date(2025, 6, 30)
    due = np.array([np.datetime64(as_of) - np.timedelta64(x[0], "D") for x in items], dtype="datetime64[s]")
    open_minor = np.array([x[1] for x in items], dtype=np.int64)
    cust = np.array([x[2] for x in items], dtype=object)
    _, b = age_open_items(due, due, as_of, edges)
    table = aging_table(cust, np.full(len(items), "CNY", dtype=object), b, open_minor, len(edges.labels()))
    bcols = [f"b{i}" for i in range(len(edges.labels()))]
    assert int(table[bcols].to_numpy().sum()) == int(open_minor.sum())
    assert (table[bcols].sum(axis=1) == table["total"]).all()
    for c in set(cust):
        assert int(table.loc[table["customer_id"] == c, "total"].sum()) == int(open_minor[cust == c].sum())
