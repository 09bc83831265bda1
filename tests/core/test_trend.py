"""The open amounts of past days in closed form (core/trend.py) against the allocation itself.

The reference is the plain rule: ``allocate_receipts`` run on the whole ledger as of each day,
which is what a refresh on that day computes. Both must agree to the minor unit on random
ledgers with credit notes naming invoices, receipts naming invoices (their own, another
customer's, one not yet issued, one that does not exist), write-offs, two currencies, events on
the same day, disputed invoices and both AutoApply modes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tables import INVOICES_HEAD, RECEIPTS_HEAD, invoice_row, ledger, raw_table, receipt_row

from xl_ar.core.allocation import allocate_receipts, credit_targets, named_targets
from xl_ar.core.fx import FxTable
from xl_ar.core.kpis import _Base, parse_kpi_settings, trend_month_ends
from xl_ar.core.ledger import validate_ledger
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings
from xl_ar.core.trend import OpenAmounts

BASE = dt.date(2025, 1, 1)
money = st.integers(min_value=1, max_value=5_000_000)


def closed_form(inv: pd.DataFrame, rec: pd.DataFrame, auto_apply: str) -> OpenAmounts:
    key = lambda f: f["customer_id"].astype(str) + "|" + f["currency"].astype(str)  # noqa: E731
    keys = pd.concat([key(inv), key(rec)], ignore_index=True)
    codes, uniq = pd.factorize(keys)
    return OpenAmounts(codes[: len(inv)], inv["invoice_date"].to_numpy(), inv["due_date"].to_numpy(),
                       inv["amount_minor"].to_numpy(dtype=np.int64), inv["disputed"].to_numpy(dtype=bool), credit_targets(inv),
                       codes[len(inv):], rec["receipt_date"].to_numpy(), rec["amount_minor"].to_numpy(dtype=np.int64),
                       named_targets(inv, rec), auto_apply, len(uniq))


@st.composite
def frames(draw):
    """Typed invoices and receipts as the allocation takes them (no validation in between)."""
    n_inv, n_rec = draw(st.integers(0, 14)), draw(st.integers(0, 12))
    cust, ccy = st.sampled_from(["C1", "C2", "C3"]), st.sampled_from(["CNY", "CNY", "USD"])
    day = lambda hi: BASE + dt.timedelta(days=draw(st.integers(0, hi)))  # noqa: E731 - few days: many ties
    nos = [f"I{i}" for i in range(n_inv)]
    amount = [draw(money) * draw(st.sampled_from([1, 1, 1, -1])) for _ in range(n_inv)]
    inv = pd.DataFrame({
        "customer_id": [draw(cust) for _ in range(n_inv)], "currency": [draw(ccy) for _ in range(n_inv)],
        "invoice_no": nos, "invoice_date": [day(60) for _ in range(n_inv)], "amount_minor": amount,
        "disputed": [draw(st.sampled_from([False, False, True])) for _ in range(n_inv)],
        "applies_to": [draw(st.sampled_from(["", *nos, "NOPE"])) if a < 0 else "" for a in amount],
    })
    # Due dates tie often (and some precede the invoice date): the order's later keys matter.
    inv["due_date"] = [x + dt.timedelta(days=draw(st.integers(-5, 20))) for x in inv["invoice_date"]]
    rec = pd.DataFrame({
        "customer_id": [draw(cust) for _ in range(n_rec)], "currency": [draw(ccy) for _ in range(n_rec)],
        "receipt_date": [day(70) for _ in range(n_rec)], "amount_minor": [draw(money) for _ in range(n_rec)],
        "invoice_no": [draw(st.sampled_from(["", "", *nos, "NOPE"])) for _ in range(n_rec)],
    })
    for f, cols in ((inv, ("invoice_date", "due_date")), (rec, ("receipt_date",))):
        for c in cols:
            f[c] = pd.to_datetime(f[c]).astype("datetime64[s]")
    return inv, rec, draw(st.sampled_from(["oldest", "none"]))


@settings(max_examples=250, deadline=None)
@given(frames())
def test_closed_form_is_the_allocation_on_every_day(book):
    inv, rec, auto_apply = book
    events = closed_form(inv, rec, auto_apply)
    for k in range(-1, 75, 4):
        day = BASE + dt.timedelta(days=k)
        want = allocate_receipts(inv, rec, day, auto_apply=auto_apply).open_minor
        assert events.at(day).tolist() == want.tolist(), day


# ----------------------------------------------------------------------------- through the KPIs


@st.composite
def books(draw):
    """Workbook tables: invoices, credit notes, receipts, write-offs on Activities, USD at a rate."""
    n = draw(st.integers(1, 12))
    inv = [INVOICES_HEAD + " AppliesTo |"]
    for i in range(n):
        day = BASE + dt.timedelta(days=draw(st.integers(0, 150)))
        amount = draw(st.integers(1, 2_000_000)) * draw(st.sampled_from([1, 1, 1, -1]))
        due = day + dt.timedelta(days=draw(st.integers(0, 60))) if amount > 0 else ""
        target = draw(st.sampled_from(["", f"I{draw(st.integers(0, n - 1))}"])) if amount < 0 else ""
        inv.append(invoice_row(i, draw(st.sampled_from(['C1', 'C2', 'C3'])), day, due, amount,
                               draw(st.sampled_from(['CNY', 'CNY', 'USD'])), draw(st.sampled_from(['', '', 'yes'])), target))
    rec = [RECEIPTS_HEAD]
    for r in range(draw(st.integers(0, 10))):
        day = BASE + dt.timedelta(days=draw(st.integers(0, 170)))
        named = draw(st.sampled_from(["", "", f"I{draw(st.integers(0, n - 1))}"]))
        rec.append(receipt_row(r, draw(st.sampled_from(['C1', 'C2', 'C3'])), day, draw(st.integers(1, 1_500_000)),
                               draw(st.sampled_from(['CNY', 'USD'])), named))
    act = ["| Date | CustomerID | InvoiceNo | Outcome | Amount |"]
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, n - 1))
        cust = inv[i + 1].split("|")[2].strip()
        day = BASE + dt.timedelta(days=draw(st.integers(0, 170)))
        amount = draw(st.sampled_from(["", "", f"{draw(st.integers(1, 500_000)) / 100:.2f}"]))
        act.append(f"| {day} | {cust} | I{i} | 核销坏账 | {amount} |")
    as_of = BASE + dt.timedelta(days=draw(st.integers(60, 200)))
    return "\n".join(inv), "\n".join(rec), "\n".join(act), as_of, draw(st.sampled_from(["oldest", "none"]))


FX = "| Date | Currency | Rate |\n| 2024-12-31 | USD | 7.1 |"
CUSTOMERS = "| CustomerID |\n| C1 |\n| C2 |\n| C3 |"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books(), st.booleans())
def test_open_amounts_of_past_days_are_a_refresh_on_each_day(book, with_usd):
    invoices, receipts, activities, as_of, auto_apply = book
    s = Settings(auto_apply=auto_apply)
    raw = {name: raw_table(name, text) for name, text in (
        ("Customers", CUSTOMERS), ("Invoices", invoices), ("Receipts", receipts), ("Activities", activities),
        ("FxRates", FX if with_usd else "| Date | Currency | Rate |"))}
    led, issues = validate_ledger(raw, s)
    assert not [i for i in issues if i.severity == "error"], issues
    result = refresh(led, s, as_of)
    kpi, _ = parse_kpi_settings({}, s)
    fx = FxTable.from_frame(s.base_currency, led.fx_rates)
    base = _Base(led, result, kpi, fx)
    days = trend_month_ends(as_of, 8) + [as_of - dt.timedelta(days=k) for k in (1, 17, 45, 90)]
    for day in days:
        want = allocate_receipts(led.invoices, led.receipts, day, writeoffs=led.writeoffs,
                                 auto_apply=auto_apply).open_minor[base.mask]
        assert base.open_at(day).tolist() == want.tolist(), day


def test_a_write_off_before_the_day_is_allocated_in_full():
    # I1 written off in part on 02-10; R1 (03-05) names it: pays what was left, then recovers.
    led = ledger("| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount |\n"
                 "| I1 | C1 | 2025-01-05 | 2025-02-04 | 1000.00 |\n| I2 | C1 | 2025-02-01 | 2025-03-03 | 500.00 |",
                 "| ReceiptNo | CustomerID | ReceiptDate | Amount | InvoiceNo |\n"
                 "| R1 | C1 | 2025-03-05 | 900.00 | I1 |\n| R2 | C1 | 2025-04-02 | 100.00 | |",
                 "| CustomerID |\n| C1 |",
                 activities="| Date | CustomerID | InvoiceNo | Outcome | Amount |\n| 2025-02-10 | C1 | I1 | 核销坏账 | 600.00 |")
    as_of = dt.date(2025, 4, 30)
    result = refresh(led, Settings(), as_of)
    kpi, _ = parse_kpi_settings({}, Settings())
    base = _Base(led, result, kpi)
    # Jan: nothing paid; Feb: I1 600 written off (400 left), I2 open; Mar: R1 pays I1's 400 and
    # recovers 500 of bad debt (not I2); Apr: R2 pays 100 of I2.
    assert [base.open_at(dt.date(2025, m, e)).tolist() for m, e in ((1, 31), (2, 28), (3, 31))] == [
        [100_000, 0], [40_000, 50_000], [0, 50_000]]
    assert base.open_at(as_of).tolist() == [0, 40_000]
    assert np.array_equal(base.open_at(dt.date(2025, 3, 31)),
                          allocate_receipts(led.invoices, led.receipts, dt.date(2025, 3, 31),
                                            writeoffs=led.writeoffs).open_minor)


_days = st.one_of(st.none(), st.integers(-40_000, 60_000))  # 1860 to 2134, or no date


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), _days, _days), max_size=40), st.sampled_from([1, 1 << 40, 1 << 60]))
def test_the_packed_order_is_the_four_key_sort(lines, scale):
    from xl_ar.core.trend import allocation_order

    g = np.array([k * scale for k, _, _ in lines], dtype=np.int64)  # large groups: no room to pack
    as_dates = lambda col: np.array([np.datetime64("NaT") if v is None else np.datetime64(v, "D")  # noqa: E731
                                     for v in col], dtype="datetime64[D]")
    due, issued = as_dates([d for _, d, _ in lines]), as_dates([i for _, _, i in lines])
    want = np.lexsort((np.arange(len(lines)), issued, due, g))
    assert allocation_order(g, due, issued).tolist() == want.tolist()
