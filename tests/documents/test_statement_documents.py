"""The documents a statement source sorts (customer, currency, date, kind, row): sorted by integer
ranks of the texts, checked on random ledgers against the frame's own sort of the same rows,
with customer ids and currencies chosen to order differently from how they first appear."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from xl_ar.documents.statements import _KIND_RANK, _documents

IDS = ["C1", "c1", "C10", "C2", "客户甲", "客户乙", "Ärger", "a b", "", "C1 "]
CURRENCIES = ["CNY", "USD", "EUR", "JPY"]
DAY = dt.date(2026, 1, 1)
END = np.datetime64("2026-01-08", "s")


def day(k: int | tuple[int, int] | None) -> np.datetime64:
    """Day ``k`` of the test (or ``(k, seconds)``: a time of day too); None: no date."""
    if k is None:
        return np.datetime64("NaT", "s")
    k, s = k if isinstance(k, tuple) else (k, 0)
    return np.datetime64(dt.datetime.combine(DAY, dt.time()) + dt.timedelta(days=k, seconds=s), "s")


@st.composite
def ledgers(draw):
    n_inv, n_rec = draw(st.integers(0, 40)), draw(st.integers(0, 40))
    # few days: many ties, some after the end, some blank; in some ledgers times of day too
    timed = draw(st.booleans())
    days = st.one_of(st.none(), st.integers(0, 9), *([st.tuples(st.integers(0, 9), st.sampled_from([0, 18000]))]
                                                     if timed else []))

    def rows(n: int) -> list[int]:
        return draw(st.permutations(list(range(2, n + 2))))  # each sheet's own rows, in any order

    inv = pd.DataFrame({
        "customer_id": [draw(st.sampled_from(IDS)) for _ in range(n_inv)],
        "currency": [draw(st.sampled_from(CURRENCIES)) for _ in range(n_inv)],
        "invoice_date": np.array([day(draw(days)) for _ in range(n_inv)], dtype="datetime64[s]"),
        "due_date": np.array([day(draw(days)) for _ in range(n_inv)], dtype="datetime64[s]"),
        "amount_minor": np.array([draw(st.integers(-5, 5)) * 100 for _ in range(n_inv)], dtype=np.int64),
        "invoice_no": [f"I{k}" for k in range(n_inv)],
        "description": [draw(st.sampled_from(["", "货款", None])) for _ in range(n_inv)],
        "row": np.array(rows(n_inv), dtype=np.int64),
        "disputed": np.array([draw(st.booleans()) for _ in range(n_inv)], dtype=bool),
    })
    rec = pd.DataFrame({
        "customer_id": [draw(st.sampled_from(IDS)) for _ in range(n_rec)],
        "currency": [draw(st.sampled_from(CURRENCIES)) for _ in range(n_rec)],
        "receipt_date": np.array([day(draw(days)) for _ in range(n_rec)], dtype="datetime64[s]"),
        "amount_minor": np.array([draw(st.integers(1, 5)) * 100 for _ in range(n_rec)], dtype=np.int64),
        "receipt_no": [f"R{k}" for k in range(n_rec)],
        "invoice_no": [draw(st.sampled_from(["", "I0", "I1"])) for _ in range(n_rec)],
        "row": np.array(rows(n_rec), dtype=np.int64),
    })
    return SimpleNamespace(invoices=inv, receipts=rec)


def frame_sorted(ledger) -> list[tuple]:
    """The rows the documents should hold, in order, sorted the plain way: a frame's stable sort."""
    inv, rec = ledger.invoices, ledger.receipts
    rows = [(c, y, d, "credit" if a < 0 else "invoice", n, r, a) for c, y, d, a, n, r in zip(
        inv["customer_id"], inv["currency"], inv["invoice_date"], inv["amount_minor"], inv["invoice_no"], inv["row"])]
    rows += [(c, y, d, "receipt", n, r, -a) for c, y, d, a, n, r in zip(
        rec["customer_id"], rec["currency"], rec["receipt_date"], rec["amount_minor"], rec["receipt_no"], rec["row"])]
    frame = pd.DataFrame(rows, columns=["customer_id", "currency", "date", "kind", "doc_no", "row", "move"])
    frame = frame[frame["date"].notna() & (frame["date"] <= END) & (frame["customer_id"] != "")]
    frame = frame.assign(rank=frame["kind"].map(_KIND_RANK))
    frame = frame.sort_values(["customer_id", "currency", "date", "rank", "row"], kind="stable")
    return [tuple(r) for r in frame[["customer_id", "currency", "date", "kind", "doc_no", "row", "move"]].itertuples(index=False)]


def listed(docs: dict) -> list[tuple]:
    return list(zip(*(docs[k].tolist() if k != "date" else list(docs[k]) for k in
                      ("customer_id", "currency", "date", "kind", "doc_no", "row", "move"))))


@settings(max_examples=200, deadline=None)
@given(ledgers())
def test_the_documents_come_in_the_order_a_frame_sort_gives(ledger):
    docs = _documents(ledger, END)
    assert listed(docs) == frame_sorted(ledger)
    assert docs["rank"].tolist() == [_KIND_RANK[k] for k in docs["kind"]]
    assert len({len(v) for v in docs.values()}) == 1  # every column the same rows


def test_a_column_that_is_not_all_texts_is_sorted_as_a_frame_would():
    inv = pd.DataFrame({"customer_id": ["C2", 7, "C1"], "currency": ["CNY"] * 3,
                        "invoice_date": np.array([day(1)] * 3, dtype="datetime64[s]"),
                        "due_date": np.array([day(2)] * 3, dtype="datetime64[s]"),
                        "amount_minor": np.array([100, 200, 300], dtype=np.int64), "invoice_no": ["a", "b", "c"],
                        "description": ["", "", ""], "row": np.array([2, 3, 4], dtype=np.int64),
                        "disputed": np.zeros(3, dtype=bool)})
    rec = pd.DataFrame({k: [] for k in ("customer_id", "currency", "receipt_no", "invoice_no")} |
                       {"receipt_date": np.array([], dtype="datetime64[s]"), "amount_minor": np.array([], dtype=np.int64),
                        "row": np.array([], dtype=np.int64)})
    ledger = SimpleNamespace(invoices=inv, receipts=rec)
    try:
        expected = frame_sorted(ledger)
    except TypeError:  # the frame cannot sort them either: neither can the source
        expected = None
    if expected is None:
        try:
            _documents(ledger, END)
        except TypeError:
            return
        raise AssertionError("sorted what a frame cannot")
    assert listed(_documents(ledger, END)) == expected
