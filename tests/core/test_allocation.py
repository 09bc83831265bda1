"""Receipt allocation: by reference first, then oldest due date first; money is conserved."""

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from tables import d, ledger
from xl_ar.core.allocation import allocate_receipts

INVOICES = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount    | Disputed |
| I1        | C1         | 2025-01-01  | 2025-01-31 | 10000.00  |          |
| I2        | C1         | 2025-02-01  | 2025-03-03 | 20000.00  |          |
| CN3       | C1         | 2025-03-01  |            | -3000.00  |          |
| I4        | C2         | 2025-01-05  | 2025-02-04 | 5000.00   |          |
| I5        | C2         | 2025-01-06  | 2025-01-20 | 700.00    | 是       |
| I6        | C1         | 2025-05-01  | 2025-05-31 | 999.99    |          |
"""
RECEIPTS = """
| ReceiptNo | CustomerID | ReceiptDate | Amount   | InvoiceNo |
| R1        | C1         | 2025-02-10  | 4000.00  | I2        |
| R2        | C1         | 2025-03-05  | 15000.00 |           |
| R3        | C2         | 2025-02-01  | 9000.00  |           |
| R4        | C1         | 2025-06-01  | 50.00    |           |
"""


def test_named_invoice_first_then_oldest_due_first():
    led = ledger(INVOICES, RECEIPTS)
    a = allocate_receipts(led.invoices, led.receipts, d("2025-03-31"))
    # C1: R1 names I2 (4,000). Then in date order: CN3 (3,000 on 03-01) and R2 (15,000 on
    # 03-05) pay I1 (due first) 10,000, then I2 8,000 of its remaining 16,000.
    assert a.paid_minor.tolist() == [1_000_000, 1_200_000, 0, 500_000, 0, 0]
    assert a.open_minor.tolist() == [0, 800_000, 0, 0, 70_000, 0]
    apps = a.applications.sort_values(["invoice", "date"]).reset_index(drop=True)
    assert apps[["invoice", "payer_kind", "amount_minor"]].values.tolist() == [
        [0, "credit", 300_000], [0, "receipt", 700_000], [1, "receipt", 400_000], [1, "receipt", 800_000],
        [3, "receipt", 500_000]]
    assert apps["date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-03-01", "2025-03-05", "2025-02-10", "2025-03-05", "2025-02-01"]
    # C2 paid 9,000 against 5,000 open (the disputed I5 is not taken): 4,000 unapplied cash.
    assert a.unapplied[["customer_id", "payer_kind", "amount_minor"]].values.tolist() == [["C2", "receipt", 400_000]]
    assert str(a.cleared_date[0])[:10] == "2025-03-05"
    assert np.isnat(a.cleared_date[1])


def test_documents_after_the_as_of_date_do_not_exist():
    led = ledger(INVOICES, RECEIPTS)
    a = allocate_receipts(led.invoices, led.receipts, d("2025-02-28"))
    # R2 and CN3 are in March: only R1 (named I2) and R3 exist.
    assert a.paid_minor.tolist() == [0, 400_000, 0, 500_000, 0, 0]
    assert a.open_minor.tolist() == [1_000_000, 1_600_000, 0, 0, 70_000, 0]


def test_cash_received_before_an_invoice_pays_it_on_its_issue_date():
    led = ledger("""
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount |
| I7        | C3         | 2025-05-01  | 2025-05-31 | 999.99 |
""", """
| ReceiptNo | CustomerID | ReceiptDate | Amount |
| R5        | C3         | 2025-04-01  | 50.00  |
""")
    a = allocate_receipts(led.invoices, led.receipts, d("2025-06-30"))
    assert a.applications["amount_minor"].tolist() == [5_000]
    assert str(a.applications["date"].iloc[0])[:10] == "2025-05-01"
    assert a.open_minor.tolist() == [94_999]
    # before the invoice exists the cash is unapplied
    b = allocate_receipts(led.invoices, led.receipts, d("2025-04-30"))
    assert b.unapplied["amount_minor"].tolist() == [5_000]


def test_a_named_disputed_invoice_is_paid():
    led = ledger(INVOICES, """
| ReceiptNo | CustomerID | ReceiptDate | Amount | InvoiceNo |
| R9        | C2         | 2025-02-01  | 700.00 | I5        |
""")
    a = allocate_receipts(led.invoices, led.receipts, d("2025-03-31"))
    assert a.paid_minor[4] == 70_000 and a.open_minor[4] == 0


def test_receipt_naming_another_customers_invoice_is_applied_oldest_first():
    led = ledger(INVOICES, """
| ReceiptNo | CustomerID | ReceiptDate | Amount  | InvoiceNo |
| R9        | C1         | 2025-02-01  | 1000.00 | I4        |
""")
    a = allocate_receipts(led.invoices, led.receipts, d("2025-03-31"))
    assert a.paid_minor[3] == 0 and a.paid_minor[0] == 100_000 + 300_000  # plus CN3


def test_currencies_are_kept_apart():
    led = ledger("""
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount | Currency |
| U1        | C1         | 2025-01-01  | 2025-01-31 | 100.00 | USD      |
| Y1        | C1         | 2025-01-01  | 2025-01-31 | 500.00 | CNY      |
""", """
| ReceiptNo | CustomerID | ReceiptDate | Amount | Currency |
| R1        | C1         | 2025-02-01  | 300.00 | CNY      |
""")
    a = allocate_receipts(led.invoices, led.receipts, d("2025-03-31"))
    assert a.open_minor.tolist() == [10_000, 20_000]


money = st.integers(min_value=1, max_value=5_000_000)


@st.composite
def random_books(draw):
    n_inv = draw(st.integers(0, 12))
    n_rec = draw(st.integers(0, 10))
    base = dt.date(2025, 1, 1)
    cust = st.sampled_from(["C1", "C2", "C3"])
    inv = pd.DataFrame({
        "customer_id": [draw(cust) for _ in range(n_inv)],
        "currency": [draw(st.sampled_from(["CNY", "USD"])) for _ in range(n_inv)],
        "invoice_no": [f"I{i}" for i in range(n_inv)],
        "invoice_date": [base + dt.timedelta(days=draw(st.integers(0, 90))) for _ in range(n_inv)],
        "amount_minor": [draw(money) * draw(st.sampled_from([1, 1, 1, -1])) for _ in range(n_inv)],
        "disputed": [draw(st.booleans()) for _ in range(n_inv)],
    })
    inv["due_date"] = [x + dt.timedelta(days=draw(st.integers(0, 60))) for x in inv["invoice_date"]]
    rec = pd.DataFrame({
        "customer_id": [draw(cust) for _ in range(n_rec)],
        "currency": [draw(st.sampled_from(["CNY", "USD"])) for _ in range(n_rec)],
        "receipt_date": [base + dt.timedelta(days=draw(st.integers(0, 120))) for _ in range(n_rec)],
        "amount_minor": [draw(money) for _ in range(n_rec)],
        "invoice_no": [draw(st.sampled_from(["", "", *inv["invoice_no"], "NOPE"])) if n_inv else "" for _ in range(n_rec)],
    })
    for f in (inv, rec):
        for c in ("invoice_date", "due_date", "receipt_date"):
            if c in f:
                f[c] = pd.to_datetime(f[c]).astype("datetime64[s]")
    as_of = base + dt.timedelta(days=draw(st.integers(0, 150)))
    return inv, rec, as_of


@settings(max_examples=300, deadline=None)
@given(random_books())
def test_money_is_conserved(book):
    inv, rec, as_of = book
    a = allocate_receipts(inv, rec, as_of)
    ts = pd.Timestamp(as_of)
    exists = inv["invoice_date"] <= ts
    keys = set(zip(inv["customer_id"], inv["currency"])) | set(zip(rec["customer_id"], rec["currency"]))
    for c, k in keys:
        im = ((inv["customer_id"] == c) & (inv["currency"] == k) & exists).to_numpy()
        rm = ((rec["customer_id"] == c) & (rec["currency"] == k) & (rec["receipt_date"] <= ts)).to_numpy()
        received = int(rec["amount_minor"][rm].sum())
        credits = int(-inv["amount_minor"][im & (inv["amount_minor"] < 0).to_numpy()].sum())
        invoiced = int(inv["amount_minor"][im & (inv["amount_minor"] > 0).to_numpy()].sum())
        um = ((a.unapplied["customer_id"] == c) & (a.unapplied["currency"] == k)).to_numpy()
        unapplied = int(a.unapplied["amount_minor"][um].sum())
        applied = int(a.paid_minor[im].sum())
        # every unit of money paid in is either applied to an invoice or unapplied
        assert received + credits == applied + unapplied
        # and invoices = paid + open, never overpaid
        assert invoiced == applied + int(a.open_minor[im].sum())
    assert (a.open_minor >= 0).all() and (a.paid_minor >= 0).all()
    assert (a.applications["amount_minor"] > 0).all()
    # unapplied money is left only where nothing it could pay is still open
    for c, k in set(zip(a.unapplied["customer_id"], a.unapplied["currency"])):
        im = ((inv["customer_id"] == c) & (inv["currency"] == k) & exists & ~inv["disputed"]).to_numpy()
        assert int(a.open_minor[im].sum()) == 0
