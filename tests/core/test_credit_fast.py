"""The vectorised credit assessment equals, column by column and exactly, the assessment it
replaced (pandas group-bys and per-customer Fractions, kept in tests/credit_reference.py), on
random ledgers: paid, late, open, disputed and written-off invoices, credit notes, named and
unnamed receipts, unapplied cash, two currencies with and without a rate, open orders, and every
optional Customers column (limits, manual limit, grade and hold, negative news, last review)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import credit_reference
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tables import INVOICES_HEAD, RECEIPTS_HEAD, invoice_row, raw_table, receipt_row

from xl_ar.core.credit import CreditSettings, assess_credit
from xl_ar.core.fx import FxTable
from xl_ar.core.ledger import validate_ledger
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings

BASE = dt.date(2025, 1, 1)
IDS = ["C1", "C2", "C3", "C4"]


@st.composite
def cases(draw):
    n = draw(st.integers(0, 14))
    inv = [INVOICES_HEAD]
    for i in range(n):
        day = BASE + dt.timedelta(days=draw(st.integers(0, 200)))
        amount = draw(st.integers(1, 3_000_000)) * draw(st.sampled_from([1, 1, 1, 1, -1]))
        due = day + dt.timedelta(days=draw(st.integers(0, 60))) if amount > 0 and draw(st.integers(0, 9)) else ""
        inv.append(invoice_row(i, draw(st.sampled_from(IDS)), day, due, amount,
                               draw(st.sampled_from(['CNY', 'CNY', 'CNY', 'USD'])), draw(st.sampled_from(['', '', 'yes']))))
    rec = [RECEIPTS_HEAD]
    for r in range(draw(st.integers(0, 12))):
        day = BASE + dt.timedelta(days=draw(st.integers(0, 230)))
        named = draw(st.sampled_from(["", f"I{draw(st.integers(0, max(n - 1, 0)))}"])) if n else ""
        rec.append(receipt_row(r, draw(st.sampled_from(IDS)), day, draw(st.integers(1, 2_000_000)),
                               draw(st.sampled_from(['CNY', 'CNY', 'USD'])), named))
    act = ["| Date | CustomerID | InvoiceNo | Outcome | Amount |"]
    for _ in range(draw(st.integers(0, 2)) if n else 0):
        i = draw(st.integers(0, n - 1))
        act.append(f"| {BASE + dt.timedelta(days=draw(st.integers(0, 230)))} | {inv[i + 1].split('|')[2].strip()} | I{i} "
                   f"| 核销坏账 | |")
    maybe = lambda values: [draw(st.sampled_from(values)) for _ in IDS]  # noqa: E731
    customers = {
        "credit_limit": maybe([np.nan, 0.0, 5000.0, 20000.0, 123456.78]),
        "manual_limit": maybe([np.nan, np.nan, 1000.0, 30000.0]),
        "manual_grade": maybe(["", "", "a", "D", "x"]),
        "manual_hold": maybe([None, "", "yes", "no", "maybe", "是"]),
        "negative_news": maybe([False, False, True]),
        "last_review": maybe([None, "2024-06-30", "2025-05-31"]),
    }
    orders = pd.DataFrame({"customer_id": [draw(st.sampled_from(IDS + ["C9"])) for _ in range(3)],
                           "amount": [draw(st.integers(0, 100_000)) / 100 for _ in range(3)],
                           "status": [draw(st.sampled_from(["open", "closed", ""])) for _ in range(3)],
                           "currency": [draw(st.sampled_from(["", "CNY", "USD"])) for _ in range(3)]})
    as_of = BASE + dt.timedelta(days=draw(st.integers(30, 260)))
    cs = CreditSettings(hold_includes_disputed=draw(st.booleans()),
                        limit_fixed=draw(st.sampled_from([None, None, {"A": 100000, "B": 50000, "C": 20000, "D": 0}])))
    return "\n".join(inv), "\n".join(rec), "\n".join(act), customers, orders, as_of, cs, draw(st.booleans())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_the_vectorised_assessment_is_the_reference_exactly(case):
    invoices, receipts, activities, cols, orders, as_of, cs, with_usd = case
    fx_text = "| Date | Currency | Rate |\n| 2024-12-31 | USD | 7.1 |" if with_usd else "| Date | Currency | Rate |"
    raw = {name: raw_table(name, text) for name, text in (
        ("Customers", "| CustomerID |\n" + "\n".join(f"| {c} |" for c in IDS)), ("Invoices", invoices),
        ("Receipts", receipts), ("Activities", activities), ("FxRates", fx_text))}
    led, issues = validate_ledger(raw, Settings())
    assert not [i for i in issues if i.severity == "error"], issues
    c = led.customers.copy()
    for name, values in cols.items():
        c[name] = pd.to_datetime(pd.Series(values, dtype=object)).astype("datetime64[s]").to_numpy() \
            if name == "last_review" else values
    led = replace(led, customers=c)
    result = refresh(led, Settings(), as_of)
    fx = FxTable.from_frame("CNY", led.fx_rates)
    got = assess_credit(led, result, as_of, cs, orders, fx=fx)
    want = credit_reference.assess_credit(led, result, as_of, cs, orders, fx=fx)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
