"""The work list equals, exactly, the one it replaced (kept in tests/worklist_reference.py) on
random ledgers: several owners and classes, two currencies with and without a rate, disputed and
written-off invoices, credit notes, promises pending, kept and broken, ties of days and stages."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import worklist_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tables import INVOICES_HEAD, RECEIPTS_HEAD, invoice_row, raw_table, receipt_row
from test_kpis import CUSTOMERS  # the customers of the work list's worked examples

from xl_ar.core.fx import FxTable
from xl_ar.core.ledger import validate_ledger
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings
from xl_ar.core.stages import assign_stages
from xl_ar.core.worklist import collections_worklist

BASE = dt.date(2025, 1, 1)
IDS = ["C1", "C2", "C3", "C4"]


@st.composite
def cases(draw):
    n = draw(st.integers(1, 16))
    inv = [INVOICES_HEAD]
    for i in range(n):
        day = BASE + dt.timedelta(days=draw(st.integers(0, 120)))
        amount = draw(st.integers(1, 3_000_000)) * draw(st.sampled_from([1, 1, 1, 1, -1]))
        due = day + dt.timedelta(days=draw(st.sampled_from([0, 10, 30, 30, 60]))) if amount > 0 else ""
        inv.append(invoice_row(i, draw(st.sampled_from(IDS)), day, due, amount, draw(st.sampled_from(['CNY', 'CNY', 'USD'])),
                               draw(st.sampled_from(['', '', '', 'yes']))))
    rec = [RECEIPTS_HEAD]
    for r in range(draw(st.integers(0, 8))):
        day = BASE + dt.timedelta(days=draw(st.integers(0, 150)))
        named = draw(st.sampled_from(["", f"I{draw(st.integers(0, n - 1))}"]))
        rec.append(receipt_row(r, draw(st.sampled_from(IDS)), day, draw(st.integers(1, 2_000_000)),
                               draw(st.sampled_from(['CNY', 'USD'])), named))
    act = ["| Date | CustomerID | InvoiceNo | PromiseDate | PromiseAmount | Outcome |"]
    for _ in range(draw(st.integers(0, 5))):
        i = draw(st.integers(0, n - 1))
        cust = inv[i + 1].split("|")[2].strip()
        day = BASE + dt.timedelta(days=draw(st.integers(0, 150)))
        if draw(st.integers(0, 4)) == 0:
            act.append(f"| {day} | {cust} | I{i} | | | 核销坏账 |")
        else:
            number = draw(st.sampled_from([f"I{i}", ""]))
            act.append(f"| {day} | {cust} | {number} | {day + dt.timedelta(days=draw(st.integers(1, 30)))} | "
                       f"{draw(st.integers(1, 1_000_000)) / 100:.2f} | |")
    as_of = BASE + dt.timedelta(days=draw(st.integers(20, 200)))
    return "\n".join(inv), "\n".join(rec), "\n".join(act), as_of, draw(st.booleans()), draw(st.integers(0, 14))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_work_list_is_the_reference_exactly(case):
    invoices, receipts, activities, as_of, with_usd, ahead = case
    fx_text = "| Date | Currency | Rate |\n| 2024-12-31 | USD | 7.1 |" if with_usd else "| Date | Currency | Rate |"
    raw = {name: raw_table(name, text) for name, text in (
        ("Customers", CUSTOMERS), ("Invoices", invoices), ("Receipts", receipts), ("Activities", activities),
        ("FxRates", fx_text))}
    led, issues = validate_ledger(raw, Settings())
    assert not [i for i in issues if i.severity == "error"], issues
    result = refresh(led, Settings(), as_of)
    stages = assign_stages(led, result, as_of)
    fx = FxTable.from_frame("CNY", led.fx_rates)
    got = collections_worklist(led, result, stages, as_of, ahead, fx=fx)
    want = worklist_reference.collections_worklist(led, result, stages, as_of, ahead, fx=fx)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
