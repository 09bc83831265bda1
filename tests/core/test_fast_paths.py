"""The column-at-once paths of validation give exactly what the plain per-cell rules give.

Each fast path is compared with a small reference: the per-cell function applied to every cell
of random columns of mixed reader values (text with spaces, blanks, numbers, dates, booleans).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_ar.core.convert import (
    CellError,
    amounts_column,
    bools_column,
    cell_errors,
    convert_column,
    dates_column,
    fresh_texts,
    parse_amount,
    parse_bool,
    parse_date,
    parse_number,
    parse_text,
    text_column,
    text_positions,
)

CELLS = st.one_of(
    st.none(),
    st.just(""),
    st.text(alphabet=" \t客户ABCxyz0123-", max_size=8),
    st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=False, width=64),
    st.booleans(),
    st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(CELLS, max_size=40))
def test_text_column_is_parse_text_per_cell(cells):
    arr = np.empty(len(cells), dtype=object)
    arr[:] = cells
    assert text_column(arr).tolist() == [parse_text(v) for v in cells]


def test_text_column_of_a_missing_column_is_blank_text():
    arr = np.full(5, None, dtype=object)
    assert text_column(arr).tolist() == [""] * 5


def test_text_column_keeps_equal_values_of_different_types_apart():
    # 1, 1.0 and True are equal keys in a dict; each must still read as its own text.
    arr = np.array([1, 1.0, True, 0, 0.0, False, -0.0], dtype=object)
    assert text_column(arr).tolist() == [parse_text(v) for v in arr]


def _column(cells):
    arr = np.empty(len(cells), dtype=object)
    arr[:] = cells
    return arr


DATES = st.one_of(st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
                  st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.lists(DATES, max_size=80), st.lists(st.one_of(DATES, CELLS), max_size=40)))
def test_dates_column_is_parse_date_per_cell(cells):
    got, bad = dates_column(_column(cells))
    ref, ref_bad = convert_column(_column(cells), parse_date)
    assert [b[0] for b in bad] == [b[0] for b in ref_bad]
    want = [None if r is None else np.datetime64(r, "D") for r in ref]
    assert [None if np.isnat(v) else np.datetime64(v, "D") for v in got.to_numpy()] == want


AMOUNTS = st.one_of(st.integers(-10**9, 10**9), st.floats(-1e9, 1e9, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.lists(AMOUNTS, max_size=80), st.lists(st.one_of(AMOUNTS, CELLS), max_size=40)))
def test_amounts_column_is_parse_amount_per_cell(cells):
    got, bad = amounts_column(_column(cells))
    ref, ref_bad = convert_column(_column(cells), parse_amount)
    assert [b[0] for b in bad] == [b[0] for b in ref_bad]
    assert [None if np.isnan(v) else v for v in got.tolist()] == ref


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.lists(AMOUNTS, max_size=80),
                 st.lists(st.one_of(AMOUNTS, CELLS, st.sampled_from(["7.5%", " 12 % ", "1,5%", "%"])), max_size=40)))
def test_a_number_column_reads_percentages_as_parse_number_per_cell(cells):
    got, bad = amounts_column(_column(cells), percent=True)
    ref, ref_bad = convert_column(_column(cells), parse_number)
    assert [b[0] for b in bad] == [b[0] for b in ref_bad]
    assert [None if np.isnan(v) else v for v in got.tolist()] == ref


FLAGS = st.sampled_from(["是", "否", " yes ", "Y", "n", "x", "-", "maybe", "TRUE", "1", 1, 0, 2.0, -0.0, True, False])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(FLAGS, CELLS), max_size=40))
def test_bools_column_is_parse_bool_per_cell(cells):
    got, bad = bools_column(_column(cells))
    ref, ref_bad = convert_column(_column(cells), parse_bool)
    assert bad == ref_bad
    assert got.tolist() == [bool(r) for r in ref]


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.lists(AMOUNTS, max_size=40), st.lists(CELLS, max_size=40)))
def test_text_positions_are_the_text_cells(cells):
    assert text_positions(_column(cells)).tolist() == [i for i, v in enumerate(cells) if isinstance(v, str)]


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.lists(st.one_of(CELLS, st.text(max_size=6)), max_size=20), st.lists(st.text(max_size=6), max_size=20)))
def test_fresh_texts_are_new_equal_strings(cells):
    """Texts holding the separator the copies are made with are copied one by one; a column of
    texts alone (a text column's distinct values) is copied whole."""
    arr = _column(cells)
    out = fresh_texts(arr)
    for before, after in zip(arr, out):
        if isinstance(before, str):
            assert after == before and type(after) is str
            assert after is not before or len(before) < 2  # (CPython shares "" and one-letter strings)
        else:
            assert after is before


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(CELLS, st.sampled_from(["#N/A", "#REF!", "formula"]).map(CellError)), max_size=40))
def test_cell_errors_finds_every_error_cell(cells):
    assert cell_errors(_column(cells)).tolist() == [i for i, v in enumerate(cells) if isinstance(v, CellError)]


@settings(max_examples=60, deadline=None)
@given(st.lists(CELLS, min_size=1, max_size=12), st.integers(257, 600))
def test_a_long_text_column_shares_one_object_per_distinct_text(cells, n):
    """Past 256 cells the column holds one object per distinct text: the same values."""
    arr = np.empty(n, dtype=object)
    arr[:] = [cells[i % len(cells)] for i in range(n)]
    out = text_column(arr)
    assert out.tolist() == [parse_text(v) for v in arr]
    assert len({id(v) for v in out}) == len(set(out.tolist()))


def test_compact_text_keeps_every_value_and_dtype():
    import pandas as pd

    from xl_ar.core.ledger import Ledger, compact_text

    inv = pd.DataFrame({"invoice_no": pd.Series(["A1", "A2", "A1"], dtype="str"),
                        "note": np.array(["x", None, "客户"], dtype=object), "amount_minor": [1, 2, 3]})
    before = {c: inv[c].tolist() for c in inv}
    dtypes = inv.dtypes.tolist()
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype="str")})
    ledger = Ledger(empty, inv, empty.copy(), empty.copy())
    compact_text(ledger)
    after = {c: ledger.invoices[c].tolist() for c in ledger.invoices}
    assert after.keys() == before.keys()
    for c in before:
        assert [None if v is None or v != v else v for v in after[c]] == \
            [None if v is None or v != v else v for v in before[c]]
    assert ledger.invoices.dtypes.tolist() == dtypes
    assert ledger.invoices["invoice_no"].iat[0] is ledger.invoices["invoice_no"].iat[2]


def test_compact_text_reuses_validations_codes_and_codes_a_changed_column_again():
    import pandas as pd
    from tables import raw_table

    from xl_ar.core.ledger import compact_text, validate_ledger
    from xl_ar.core.settings import Settings

    raw = {"Customers": raw_table("Customers", "| CustomerID | Name |\n| C1 | 甲公司 |\n| C2 | Beta Ltd |"),
           "Invoices": raw_table("Invoices", "| InvoiceNo | CustomerID | InvoiceDate | Amount | Currency |\n"
                                 "| I1 | 甲公司 | 2026-01-05 | 10.00 | usd |\n| I2 | C2 | 2026-01-06 | 5.00 | USD |\n"
                                 "|  I3  | C1 | 2026-01-07 | 7.00 | |"),
           "Receipts": raw_table("Receipts", "| ReceiptNo | CustomerID | ReceiptDate | Amount | InvoiceNo |\n"
                                 "| R1 | C1 | 2026-02-01 | 10.00 | I1 |")}
    ledger, issues = validate_ledger(raw, Settings(), keep_codes=True)
    assert not [i for i in issues if i.severity == "error"], issues
    assert ("invoices", "invoice_no") in ledger.text_codes and ("invoices", "customer_id") in ledger.text_codes
    # A column changed after validation no longer matches its codes: it is coded again.
    ledger.receipts["invoice_no"] = pd.Series(["I2"], dtype=ledger.receipts["invoice_no"].dtype)
    before = {t: getattr(ledger, t).copy() for t in ("customers", "invoices", "receipts")}
    compact_text(ledger)
    assert ledger.text_codes == {}
    for t, frame in before.items():
        pd.testing.assert_frame_equal(getattr(ledger, t), frame, check_exact=True)
    assert ledger.invoices["customer_id"].tolist() == ["C1", "C2", "C1"]
    assert ledger.invoices["currency"].tolist() == ["USD", "USD", "CNY"]
    assert ledger.invoices["invoice_no"].tolist() == ["I1", "I2", "I3"]
    assert ledger.receipts["invoice_no"].tolist() == ["I2"]
    assert validate_ledger(raw, Settings())[0].text_codes == {}  # kept only when asked for
