"""Validation of random raw tables of awkward cells gives exactly what the reference gives.

The reference (``validation_reference.py``) is validation as it was before it converted each
column once per distinct value; the program's must equal it: the same typed frames (values,
dtypes, index, column order) and the same issues, in the same order, with the same text.
"""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import pandas as pd
import pytest
import validation_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xl_ar.core.convert import CellError
from xl_ar.core.ledger import RawTable, validate_ledger
from xl_ar.core.schema import ACTIVITIES, CUSTOMERS, FX_RATES, INVOICES, ORDERS, RATES, RECEIPTS, Table
from xl_ar.core.settings import Settings

LONG = "长" * 20_000 + "x" * 20_000  # longer than an Excel cell holds

#: Cells any column may hold: blanks of every kind, stray types, errors.
ANY = st.sampled_from([
    None, "", " ", "\t", " \u3000", float("nan"), True, False, 0, 1, 1.0, -0.0, 2.5, -7, 1e300, -1e17,
    10**20, 45_000.0, 45_000, 3e6, CellError("#N/A"), CellError("formula"), "abc", "  padded  ",
    dt.date(2025, 1, 31), dt.datetime(2025, 2, 1, 13, 30), pd.NaT, LONG,
])
#: Customer and invoice references: few, so that rows name each other (and clash) often.
CUSTOMER_REFS = st.sampled_from(["C1", "C1", "C2", "C2", "C3", " C1 ", "c1", "Ｃ２", "华信贸易", "Harbor", "harbor ",
                                 1001, 1001.0, "1001", "-"])
INVOICE_REFS = st.sampled_from(["I1", "I1", "I2", "I2", " I1", "I3", "i1", 1001, "1001", "-"])
IDS = st.one_of(CUSTOMER_REFS, INVOICE_REFS, st.sampled_from(["R1", "R2", "R2 ", "x", "daily", "cn-sme", "Fee"]))
DATES = st.one_of(
    st.dates(dt.date(1990, 1, 1), dt.date(2040, 1, 1)),
    st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2040, 1, 1)),
    st.integers(30_000, 50_000), st.floats(30_000, 50_000),
    st.sampled_from(["2025-01-31", " 2025/2/1 ", "2025年3月3日", "20250131", "01/02/2025", "2025-13-01",
                     "2025-02-30", "yesterday", "2025-01-31T10:00", 0, -1, 2958466, 2958465.5, 1, 1.5]),
    st.sampled_from([dt.date(1, 1, 1), dt.date(1677, 9, 21), dt.date(2262, 4, 12), dt.date(9999, 12, 31),
                     dt.datetime(9999, 12, 31, 23, 59, 59, 999_999), dt.datetime(1, 1, 1, 0, 0, 1),
                     pd.Timestamp("2025-03-01 10:00")]),
)
AMOUNTS = st.one_of(
    st.integers(-10**6, 10**6), st.floats(-1e7, 1e7, allow_nan=False),
    st.integers(-10**6, 10**6).map(lambda c: f"{c / 100:,.2f}"),
    st.sampled_from(["1,234.50", "1.234,50", "12,50", "1 234,50", "(1,000)", "$1,000", "US$5.00", "¥300",
                     "€7.50", "£2", "1,000 RMB", "-5", "+5", "12%", "7.5%", "abc", "1e3", "0", "0.0001",
                     float("inf"), 1e15, 2**70, 3.7, -0.0]),
)
CURRENCIES = st.sampled_from(["CNY", "usd", " USD ", "JPY", "jpy", "EUR", "KWD", "XYZ", "US$", "", None, 1.0, "¥"])
FLAGS = st.sampled_from(["是", "否", "yes", "Y", "n", "x", "-", "maybe", "TRUE", 1, 0, 2.0, True, False, "争议"])
CHOICES = st.sampled_from(["A", "a", " b ", "C", "D", "d", "zh", "EN", "fr", "phone", "Email", "WeChat", "fax", "other"])
OUTCOMES = st.sampled_from(["核销坏账", "write-off", "Written off", "bad debt", "promised", "坏账", ""])
INTS = st.one_of(st.integers(-5, 400), st.sampled_from([30.0, 45.5, "60", "sixty", 1e16, -0.0, "1,000"]))

BY_KIND = {"date": DATES, "money": AMOUNTS, "number": AMOUNTS, "int": INTS, "bool": FLAGS,
           "currency": CURRENCIES, "text": IDS}


#: A customer's late-fee terms: never negative, else as awkward as any other number. (A negative
#: one stops validation in ``check_customer_terms``, which writes into a read-only array; the
#: program must then stop as the reference does, but such examples would check nothing else.)
FEE_TERMS = st.one_of(st.integers(0, 400), st.floats(0, 1e6), st.sampled_from(["8%", "1,000", "x", "", None, 1e16]))


def cells_for(table: Table, name: str) -> st.SearchStrategy:
    f = table.field(name)
    if name.startswith("late_fee_") and f.kind != "text":
        return FEE_TERMS
    own = (OUTCOMES if name == "outcome" else CHOICES if f.choices else CUSTOMER_REFS if name == "customer_id"
           else INVOICE_REFS if name in ("invoice_no", "applies_to") else BY_KIND[f.kind])
    return st.one_of(own, own, own, ANY)  # mostly what the column is for, sometimes anything


@st.composite
def raw_tables(draw, table: Table, max_rows: int = 12) -> RawTable:
    """A sheet as a reader hands it over: some of the table's columns, cells of every sort."""
    names = [f.name for f in table.fields
             if draw(st.sampled_from([True, True, True, False] if f.required else [True, False]))]
    n = draw(st.integers(0, max_rows))
    rows = 2 + np.arange(n) + np.cumsum(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
    data = {name: draw(st.lists(cells_for(table, name), min_size=n, max_size=n)) for name in names}
    if n and draw(st.integers(0, 4)) == 0:  # a long sheet: past every "the first rows" shortcut
        m = draw(st.integers(257, 400))
        data = {name: [cells[i % n] for i in range(m)] for name, cells in data.items()}
        rows = 2 + np.arange(m)
    data = {"row": rows.astype(np.int64), **data}
    frame = pd.DataFrame({k: _column(v) for k, v in data.items()})
    if draw(st.booleans()):  # as a test table builds it: pandas may infer text columns
        frame = pd.DataFrame({k: frame[k].to_list() if k != "row" else frame[k] for k in frame})
    letters = draw(st.permutations("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    columns = {name: letters[j] for j, name in enumerate(names)}
    if names and draw(st.integers(0, 5)) == 0:  # a column without its letter: its cells are named "?"
        del columns[draw(st.sampled_from(names))]
    return RawTable(table.sheet, draw(st.sampled_from([table.sheet, table.sheet, "发票", "Sheet 1"])), frame, columns)


def _column(cells) -> np.ndarray:
    if isinstance(cells, np.ndarray):
        return cells
    arr = np.empty(len(cells), dtype=object)
    arr[:] = cells
    return arr


@st.composite
def ledgers(draw) -> tuple[dict[str, RawTable], Settings]:
    raw: dict[str, RawTable] = {}
    for table in (CUSTOMERS, INVOICES, RECEIPTS, ACTIVITIES, RATES, FX_RATES, ORDERS):
        required = table in (INVOICES, RECEIPTS)
        if draw(st.sampled_from([True, True, True, not required])):
            raw[table.sheet] = draw(raw_tables(table))
    order = draw(st.permutations(list(raw)))
    cfg = Settings(base_currency=draw(st.sampled_from(["CNY", "CNY", "USD", "JPY", "XYZ"])),
                   auto_apply=draw(st.sampled_from(["oldest", "none"])),
                   decimal_separator=draw(st.sampled_from([None, ".", ","])))
    return {k: raw[k] for k in order}, cfg


FRAMES = ("customers", "invoices", "receipts", "activities", "rates", "orders", "writeoffs", "fx_rates")


def assert_same_validation(raw: dict[str, RawTable], cfg: Settings) -> None:
    try:
        want, want_issues = validation_reference.validate_ledger(copy.deepcopy(raw), cfg)
    except Exception as e:  # noqa: BLE001 - whatever stops the reference must stop the program too
        with pytest.raises(type(e)):
            validate_ledger(copy.deepcopy(raw), cfg)
        return
    for keep_codes in (False, True):  # (a refresh keeps the text codes, and reuses them)
        got, got_issues = validate_ledger(copy.deepcopy(raw), cfg, keep_codes=keep_codes)
        assert [(i.where, i.message, i.severity) for i in got_issues] == \
            [(i.where, i.message, i.severity) for i in want_issues]
        for name in FRAMES:
            g, w = getattr(got, name), getattr(want, name)
            if w is None:
                assert g is None, name
            else:
                pd.testing.assert_frame_equal(g, w, check_exact=True, obj=name)
        assert got.places == want.places


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ledgers())
def test_validation_is_the_reference_exactly(case):
    assert_same_validation(*case)


def _sheet(table: Table, columns: dict[str, list]) -> RawTable:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame({"row": np.arange(2, n + 2, dtype=np.int64), **{k: _column(v) for k, v in columns.items()}})
    return RawTable(table.sheet, table.sheet, frame, {k: chr(ord("A") + j) for j, k in enumerate(columns)})


@pytest.mark.parametrize("invoice_no", [["I1", "I1 ", " I1", "I2", "I2"], [1001, 1001.0, "1001", True, 1, "True"],
                                        [LONG, LONG[:-1] + "y", LONG, "", ""], [None, "", " ", float("nan"), "I1"]])
def test_duplicates_are_found_after_the_cells_read_as_text(invoice_no):
    """Cells equal only once read as text (stripped, a whole number without ".0") are duplicates."""
    n = len(invoice_no)
    raw = {"Invoices": _sheet(INVOICES, {"invoice_no": invoice_no, "customer_id": ["C1"] * n,
                                         "invoice_date": [dt.date(2025, 1, 1)] * n, "amount": [1.0] * n}),
           "Receipts": _sheet(RECEIPTS, {"receipt_no": ["R1"], "customer_id": ["C1"], "receipt_date": [dt.date(2025, 2, 1)],
                                         "amount": [1.0], "invoice_no": [invoice_no[0]]})}
    assert_same_validation(raw, Settings())


def test_a_long_clean_sheet_is_the_reference_exactly():
    """The shape a reader hands over for a real ledger: clean columns, repeated IDs, some blanks."""
    rng = np.random.default_rng(7)
    n = 3_000
    day = np.array([dt.date(2025, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 400, n)], dtype=object)
    customers = [f"C{i:03d}" for i in range(50)]
    raw = {
        "Customers": _sheet(CUSTOMERS, {"customer_id": customers, "name": [f"客户{i}" for i in range(50)],
                                        "class": list("ABC" * 16 + "ab"), "terms_days": [30.0] * 50}),
        "Invoices": _sheet(INVOICES, {
            "invoice_no": [f"INV{i:06d}" for i in range(n - 3)] + ["INV000001", "", "INV000002"],
            "customer_id": [customers[i] for i in rng.integers(0, 50, n)],
            "invoice_date": day, "due_date": [d + dt.timedelta(days=30) if i % 7 else "" for i, d in enumerate(day)],
            "amount": np.round(rng.uniform(-100, 10_000, n), 2).astype(object),
            "currency": rng.choice(np.array(["CNY", "USD", ""], dtype=object), n)}),
        "Receipts": _sheet(RECEIPTS, {
            "receipt_no": [f"R{i:06d}" for i in range(n)],
            "customer_id": [customers[i] for i in rng.integers(0, 50, n)],
            "receipt_date": day, "amount": np.round(rng.uniform(1, 5_000, n), 2).astype(object),
            "currency": rng.choice(np.array(["CNY", "USD"], dtype=object), n),
            "invoice_no": [f"INV{i:06d}" if i % 3 else "" for i in rng.integers(0, n + 50, n)]}),
    }
    assert_same_validation(raw, Settings())
