"""The run's keys, made once, give what each step computed on its own: the invoice a receipt or
credit note names, within any subset of the invoices (as the KPIs' base-currency view takes),
and a Customers column per invoice."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_ar.core.allocation import credit_targets, named_targets
from xl_ar.core.keys import LedgerKeys
from xl_ar.core.ledger import Ledger

NUMBERS = ["I1", "I2", "I3", "I4", ""]


@st.composite
def ledgers(draw):
    unique = draw(st.booleans())
    n = draw(st.integers(0, 4 if unique else 8))
    numbers = draw(st.lists(st.sampled_from(NUMBERS[:-1]), min_size=n, max_size=n, unique=unique))
    inv = pd.DataFrame({
        "invoice_no": pd.Series(numbers, dtype=object),
        "customer_id": draw(st.lists(st.sampled_from(["C1", "C2", "C9"]), min_size=n, max_size=n)),
        "currency": draw(st.lists(st.sampled_from(["CNY", "USD"]), min_size=n, max_size=n)),
        "applies_to": draw(st.lists(st.sampled_from(NUMBERS), min_size=n, max_size=n)),
    })
    m = draw(st.integers(0, 6))
    rec = pd.DataFrame({
        "invoice_no": draw(st.lists(st.sampled_from(NUMBERS), min_size=m, max_size=m)),
        "customer_id": draw(st.lists(st.sampled_from(["C1", "C2"]), min_size=m, max_size=m)),
        "currency": draw(st.lists(st.sampled_from(["CNY", "USD"]), min_size=m, max_size=m)),
    })
    customers = pd.DataFrame({"customer_id": ["C2", "C1", "C2"], "class": [" a", "b", "C"], "owner": ["王", "", "李"]})
    ledger = Ledger(customers, inv, rec, pd.DataFrame({"customer_id": []}))
    return ledger, np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool), \
        np.array(draw(st.lists(st.booleans(), min_size=m, max_size=m)), dtype=bool)


@settings(max_examples=300, deadline=None)
@given(ledgers())
def test_named_invoices_in_a_subset_are_those_the_subset_finds(case):
    ledger, inv_mask, rec_mask = case
    keys = LedgerKeys(ledger)
    inv, rec = ledger.invoices, ledger.receipts
    assert keys.named.tolist() == named_targets(inv, rec).tolist()
    assert keys.applies.tolist() == credit_targets(inv).tolist()
    named, applies = keys.named_in(inv_mask, rec_mask), keys.applies_in(inv_mask)
    if not keys.numbers_unique:  # only a search of the subset finds what it would
        assert named is None and applies is None
        return
    sub_inv, sub_rec = inv[inv_mask].reset_index(drop=True), rec[rec_mask].reset_index(drop=True)
    assert named.tolist() == named_targets(sub_inv, sub_rec).tolist()
    assert applies.tolist() == credit_targets(sub_inv).tolist()


@settings(max_examples=100, deadline=None)
@given(ledgers())
def test_a_customers_column_per_invoice_takes_the_first_row_of_each_id(case):
    ledger, _, _ = case
    keys = LedgerKeys(ledger)
    first = {"C2": (" a", "王"), "C1": ("b", "")}
    ids = ledger.invoices["customer_id"].tolist()
    assert keys.customer_column("owner").tolist() == [first.get(c, ("", ""))[1] for c in ids]
    assert keys.customer_column("class", fold=lambda v: v.strip().upper()).tolist() == \
        [first[c][0].strip().upper() if c in first else "" for c in ids]
    assert keys.customer_column("no such column").tolist() == [""] * len(ids)
    groups = keys.inv_group.tolist() + keys.rec_group.tolist()
    pairs = list(zip(ledger.invoices["customer_id"], ledger.invoices["currency"])) + \
        list(zip(ledger.receipts["customer_id"], ledger.receipts["currency"]))
    assert groups == [sorted(set(pairs)).index(p) for p in pairs]  # numbered in the pairs' sorted order
    assert keys.groups == len(set(pairs))


@settings(max_examples=100, deadline=None)
@given(ledgers())
def test_keys_over_a_view_share_what_was_made_and_make_the_rest_from_the_view(case):
    from xl_ar.core.beside import detached

    ledger, _, _ = case
    keys = LedgerKeys(ledger)
    named = keys.named  # made before the view: shared, not made again
    view, over = detached((ledger, keys))
    assert over.named is named and over._ledger is view  # the very view the call gets
    assert view is not ledger and view.invoices is not ledger.invoices
    assert "inv_customer" not in over.__dict__  # not made yet: made from the view when asked
    assert over.inv_customer.tolist() == LedgerKeys(ledger).inv_customer.tolist()
    assert "inv_customer" not in keys.__dict__  # the first keys are left as they were
    assert over.customer_column("owner").tolist() == keys.customer_column("owner").tolist()


@settings(max_examples=300, deadline=None)
@given(ledgers())
def test_the_named_invoices_validation_found_are_those_the_keys_find(case):
    from dataclasses import replace

    from xl_ar.core.named import NamedInvoices

    ledger, inv_mask, _ = case
    found = NamedInvoices(ledger.invoices, ledger.receipts)
    kept = replace(ledger, named=found.kept())
    alone, shared = LedgerKeys(ledger), LedgerKeys(kept)
    assert shared.named.tolist() == alone.named.tolist() == found.first.tolist()
    assert shared.applies.tolist() == alone.applies.tolist() == found.applies.tolist()
    assert shared.numbers_unique == alone.numbers_unique == found.unique
    assert shared.named is found.first  # taken, not found again
    # Other frames (a part of the ledger, or the same rows copied) are looked up again.
    part = replace(kept, invoices=kept.invoices[inv_mask].reset_index(drop=True))
    assert LedgerKeys(part).named.tolist() == named_targets(part.invoices, part.receipts).tolist()
    assert kept.named.of(kept.invoices.copy(), kept.receipts) is None


TEXTS = st.sampled_from(["C1", "C2", "C10", "c1", "客户", "", "USD", "CNY"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(TEXTS, TEXTS), max_size=12), st.booleans()), min_size=1, max_size=3))
def test_groups_from_validations_codes_are_the_groups_hashed_again(frames):
    """Whatever codes validation gave (texts repeated among them, as names resolve to one ID,
    or listed but unused), the groups are those ``group_codes`` makes of the columns."""
    from xl_ar.core.allocation import group_codes
    from xl_ar.core.named import coded_groups

    columns, coded = [], []
    for rows, spare in frames:
        cust = np.array([c for c, _ in rows], dtype=object)
        ccy = np.array([k for _, k in rows], dtype=object)
        columns.append((pd.Series(cust, dtype=object), pd.Series(ccy, dtype=object)))
        per = []
        for col in (cust, ccy):
            codes, texts = pd.factorize(col)
            if spare and len(texts):  # the first text listed twice (its rows coded to the second), one no row has
                texts = np.append(texts, np.array([texts[0], "never"], dtype=object))
                codes = np.where(codes == 0, len(texts) - 2, codes)
            per.append((codes, texts))
        coded.append(tuple(per))
    for c, (cc, ct), (kc, kt) in zip(columns, *zip(*coded)):
        assert ct[cc].tolist() == c[0].tolist() and kt[kc].tolist() == c[1].tolist()
    assert [g.tolist() for g in coded_groups(*coded)] == [g.tolist() for g in group_codes(*columns)]


def test_the_run_takes_the_groups_validation_made_of_its_codes():
    from xl_ar.core.ledger import validate_ledger
    from xl_ar.core.settings import Settings
    from tables import raw_table

    raw = {"Customers": raw_table("Customers", "| CustomerID | Name |\n| C2 | 华信 |\n| C1 | Harbor |"),
           "Invoices": raw_table("Invoices", "| InvoiceNo | Customer | InvoiceDate | Amount | Currency |\n"
                                             "| I1 | C2 | 2025-01-01 | 100 | usd |\n| I2 | Harbor | 2025-01-01 | 100 | |\n"
                                             "| I3 | 华信 | 2025-01-01 | 100 | CNY |"),
           "Receipts": raw_table("Receipts", "| ReceiptNo | CustomerID | ReceiptDate | Amount |\n| R1 | C1 | 2025-02-01 | 50 |")}
    kept, _ = validate_ledger(raw, Settings(), keep_codes=True)
    plain, _ = validate_ledger(raw, Settings())
    assert plain.groups is None
    keys = LedgerKeys(kept)
    assert keys.inv_group is kept.groups.inv  # taken, not made again
    assert keys.inv_group.tolist() == LedgerKeys(plain).inv_group.tolist() == [2, 0, 1]  # (C1,CNY) (C2,CNY) (C2,USD)
    assert keys.rec_group.tolist() == LedgerKeys(plain).rec_group.tolist() == [0]
    assert kept.groups.of(kept.invoices.copy(), kept.receipts) is None


@settings(max_examples=200, deadline=None)
@given(ledgers(), st.data())
def test_group_sums_by_the_keys_are_the_group_by_of_the_rows(case, data):
    """The run's per-(customer, currency) sums of fees, disputes, write-offs, unapplied money and
    recovered debt, made from the keys, are the group-by of those rows' texts it replaced."""
    from xl_ar.core.run import _group_sums

    ledger, _, _ = case
    inv, rec = ledger.invoices, ledger.receipts
    n, m = len(inv), len(rec)
    money = st.integers(-10**9, 10**9)
    per_invoice = {name: np.array(data.draw(st.lists(money, min_size=n, max_size=n)), dtype=np.int64)
                   for name in ("late_fee", "disputed", "written_off")}
    payers = [("receipt", p) for p in range(m)] + [("credit", p) for p in range(n)]
    un_rows = data.draw(st.lists(st.sampled_from(payers), max_size=6)) if payers else []
    un = pd.DataFrame({"payer_kind": pd.Series([k for k, _ in un_rows], dtype=object),
                       "payer": np.array([p for _, p in un_rows], dtype=np.int64),
                       "amount_minor": np.array(data.draw(st.lists(money, min_size=len(un_rows), max_size=len(un_rows))),
                                                dtype=np.int64)})
    un["customer_id"] = [(rec if k == "receipt" else inv)["customer_id"].iat[p] for k, p in un_rows]
    un["currency"] = [(rec if k == "receipt" else inv)["currency"].iat[p] for k, p in un_rows]
    rc_inv = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=4)) if n else [], dtype=np.int64)
    rc = pd.DataFrame({"invoice": rc_inv,
                       "amount_minor": np.array(data.draw(st.lists(money, min_size=len(rc_inv), max_size=len(rc_inv))),
                                                dtype=np.int64)})
    cust, ccy = inv["customer_id"].to_numpy(dtype=object), inv["currency"].to_numpy(dtype=object)
    got = _group_sums(LedgerKeys(ledger), rec, cust, ccy, un, rc, per_invoice)

    rows = pd.concat([pd.DataFrame({"customer_id": cust, "currency": ccy, **per_invoice}),
                      pd.DataFrame({"customer_id": un["customer_id"], "currency": un["currency"], "unapplied": un["amount_minor"]}),
                      pd.DataFrame({"customer_id": cust[rc_inv], "currency": ccy[rc_inv], "recovered": rc["amount_minor"]})],
                     ignore_index=True)
    sums = ["late_fee", "disputed", "unapplied", "written_off", "recovered"]
    want = rows.reindex(columns=["customer_id", "currency", *sums]).fillna(0) \
        .groupby(["customer_id", "currency"], as_index=False)[sums].sum()
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    assert got["currency"].tolist() == want["currency"].tolist()
    for name in sums:
        assert got[name].astype(np.int64).tolist() == want[name].astype(np.int64).tolist(), name
