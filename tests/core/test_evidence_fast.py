"""The evidence checklist found by grouping each case's rows once equals, exactly, the checklist
as first written (one scan of the whole ledger per case, kept in tests/evidence_reference.py), on
random ledgers with severe cases, contracts, delivery notes, disputes, statements sent and
confirmed, the tool's own messages and broken promises."""

from __future__ import annotations

import datetime as dt

import evidence_reference
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tables import raw_table

import xl_ar.core.run as run
from xl_ar.core.ledger import validate_ledger
from xl_ar.core.settings import Settings

BASE = dt.date(2025, 1, 1)
IDS = ["C1", "C2", "C3", "C4"]


@st.composite
def ledgers(draw):
    inv = ["| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount | ContractNo | DeliveryNote | Disputed "
           "| DisputeReason |"]
    for i in range(draw(st.integers(0, 16))):
        day = BASE + dt.timedelta(days=draw(st.integers(0, 150)))
        due = day + dt.timedelta(days=draw(st.integers(0, 30)))
        inv.append(f"| I{i} | {draw(st.sampled_from(IDS))} | {day} | {due} | {draw(st.integers(1, 900_000)) / 100:.2f} "
                   f"| {draw(st.sampled_from(['', 'HT-1', 'HT-2']))} | {draw(st.sampled_from(['', 'SD-9']))} "
                   f"| {draw(st.sampled_from(['', '', 'yes']))} | {draw(st.sampled_from(['', 'short']))} |")
    act = ["| Date | CustomerID | Channel | Outcome | Note | PromiseDate | PromiseAmount |"]
    for _ in range(draw(st.integers(0, 10))):
        day = BASE + dt.timedelta(days=draw(st.integers(0, 400)))
        promise = draw(st.sampled_from(["", str(day + dt.timedelta(days=5))]))
        act.append(f"| {day} | {draw(st.sampled_from(IDS))} | {draw(st.sampled_from(['statement', 'email', 'phone']))} "
                   f"| {draw(st.sampled_from(['', 'confirmed', '已确认']))} "
                   f"| {draw(st.sampled_from(['', 'sent [xlar-ab12cd34ef]', 'called']))} | {promise} "
                   f"| {'100.00' if promise else ''} |")
    return "\n".join(inv), "\n".join(act), BASE + dt.timedelta(days=draw(st.integers(100, 420)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_grouped_checklist_is_the_reference_exactly(case):
    invoices, activities, as_of = case
    raw = {name: raw_table(name, text) for name, text in (
        ("Customers", "| CustomerID | Name |\n" + "\n".join(f"| {c} | 客户{c} |" for c in IDS)),
        ("Invoices", invoices), ("Receipts", "| ReceiptNo | CustomerID | ReceiptDate | Amount |"),
        ("Activities", activities))}
    led, issues = validate_ledger(raw, Settings())
    assert not [i for i in issues if i.severity == "error"], issues
    calls = []
    real = run.evidence_checklist

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    run.evidence_checklist = spy
    try:
        run.refresh(led, Settings(), as_of)
    finally:
        run.evidence_checklist = real
    for args, kwargs in calls:
        pd.testing.assert_frame_equal(real(*args, **kwargs), evidence_reference.evidence_checklist(*args, **kwargs),
                                      check_exact=True)
