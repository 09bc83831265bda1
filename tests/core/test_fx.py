"""Exchange rates: the FxRates sheet, the rate on a date, conversion per line, half-up, to the cent."""

from decimal import Decimal

import numpy as np
from hypothesis import given, strategies as st

from tables import d, raw_table
from xl_ar.core.fx import FxTable, missing_text, rate_lines
from xl_ar.core.ledger import validate_ledger
from xl_ar.core.money import convert_half_up
from xl_ar.core.settings import Settings

FX = """
| Date       | Currency | Rate   |
| 2025-02-28 | USD      | 7.2    |
| 2025-03-31 | USD      | 7.1    |
| 2025-04-30 | USD      | 7.3    |
| 2025-03-31 | JPY      | 0.0475 |
"""


def fx_ledger(fx_text: str, sheet: str = "FxRates"):
    raw = {"Customers": raw_table("Customers", "| CustomerID |"),
           "Invoices": raw_table("Invoices", "| InvoiceNo | CustomerID | InvoiceDate | Amount |"),
           "Receipts": raw_table("Receipts", "| ReceiptNo | CustomerID | ReceiptDate | Amount |"),
           "FxRates": raw_table("FxRates", fx_text)}
    return validate_ledger(raw, Settings())


def table(fx_text: str = FX) -> FxTable:
    led, issues = fx_ledger(fx_text)
    assert not [i for i in issues if i.severity == "error"], issues
    return FxTable.from_frame("CNY", led.fx_rates)


def test_the_latest_rate_on_or_before_the_date_is_used():
    t = table()
    assert t.rate_on("USD", d("2025-03-31")) == (Decimal("7.1"), d("2025-03-31"))
    assert t.rate_on("USD", d("2025-04-29")) == (Decimal("7.1"), d("2025-03-31"))
    assert t.rate_on("USD", d("2025-05-01")) == (Decimal("7.3"), d("2025-04-30"))
    assert t.rate_on("USD", d("2025-02-27")) is None  # no rate yet: never a silent zero
    assert t.rate_on("CNY", d("2000-01-01")) == (Decimal(1), None)
    assert t.rate_on("GBP", d("2025-03-31")) is None


def test_conversion_rounds_once_per_line_and_the_total_is_the_sum_of_lines():
    t = table()
    amounts = np.array([550_000, 5, 5, 100_000, 120_000, 1_999], np.int64)  # USD 5,500; 0.05 ×2; CNY; GBP; JPY 1,999
    ccy = np.array(["USD", "USD", "USD", "CNY", "GBP", "JPY"], object)
    c = t.convert_minor(amounts, ccy, d("2025-03-31"))
    # 5,500 × 7.1 = 39,050.00; 0.05 × 7.1 = 0.355 → 0.36 each (half-up per line, 0.72 not 0.71);
    # JPY 1,999 × 0.0475 = 94.9525 → 94.95; GBP has no rate: left out and named.
    assert c.minor.tolist() == [3_905_000, 36, 36, 100_000, 0, 9_495]
    assert c.known.tolist() == [True, True, True, True, False, True]
    assert c.total == 3_905_000 + 72 + 100_000 + 9_495 == 4_014_567
    assert c.missing == {"GBP": 120_000}
    assert missing_text(c.missing) == "excludes GBP 1,200.00: no rate"
    assert missing_text(c.missing, zh=True) == "不含 GBP 1,200.00：无汇率"
    assert rate_lines(c.used) == ["JPY 0.0475 (2025-03-31)", "USD 7.1000 (2025-03-31)"]


def test_negative_amounts_round_half_up_away_from_zero():
    assert convert_half_up(np.array([-5, 5]), 2, Decimal("7.1"), 2).tolist() == [-36, 36]


@given(st.lists(st.integers(-10**12, 10**12), min_size=1, max_size=20),
       st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1000"), places=4))
def test_each_line_is_the_exact_product_rounded_half_up(lines, rate):
    got = convert_half_up(np.array(lines, np.int64), 2, rate, 2)
    for a, g in zip(lines, got.tolist()):
        exact = Decimal(a) * rate
        assert abs(Decimal(g) - exact) <= Decimal("0.5")
        assert g == int(exact.copy_abs().quantize(Decimal(1), rounding="ROUND_HALF_UP")) * (1 if exact >= 0 else -1)


def test_bad_rates_are_errors_naming_their_cells():
    _, issues = fx_ledger("""
| Date       | Currency | Rate |
| 2025-03-31 | USD      | 7.1  |
| 2025-03-31 | USD      | 7.2  |
| 2025-03-31 | EUR      | 0    |
| 2025-03-31 | XYZ      | 1.5  |
| 2025-03-31 |          | 1.5  |
| 2025-03-31 | CNY      | 1    |
""")
    got = {(i.where, i.severity) for i in issues}
    assert ("FxRates!C3", "error") in got   # second USD rate on 2025-03-31
    assert ("FxRates!C4", "error") in got   # EUR rate 0
    assert ("FxRates!B5", "error") in got   # unknown currency
    assert ("FxRates!B6", "error") in got   # blank currency
    assert ("FxRates!B7", "warning") in got  # the base currency's own row
    dup = next(i for i in issues if i.where == "FxRates!C3")
    assert "second rate for USD on 2025-03-31" in dup.message and "row 2" in dup.message


def test_chinese_headers_and_sheet_name_are_read():
    from xl_ar.book.headers import field_for_header, sheet_for_name
    assert sheet_for_name("汇率") == "FxRates"
    assert [field_for_header("FxRates", h) for h in ("日期", "币种", "汇率")] == ["date", "currency", "rate"]


@given(st.lists(st.sampled_from(["CNY", "USD", "JPY", "GBP", "", None, float("nan")]), max_size=30),
       st.sampled_from(["2025-02-27", "2025-03-15", "2025-03-31", "2025-06-30"]))
def test_a_line_is_known_when_its_currency_has_a_rate_by_the_date(currencies, day):
    t = table()
    cells = np.array(currencies, dtype=object)
    got = t.known_currencies(cells, d(day))
    assert got.dtype == bool and got.tolist() == [t.rate_on(str(c), d(day)) is not None for c in currencies]
