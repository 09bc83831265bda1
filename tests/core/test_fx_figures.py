"""Every base-currency decision figure converts at the as-of rate: KPIs, warning table, work
list, credit exposure and limits; a missing rate is named, never a silent zero."""

from decimal import Decimal

import pytest

from tables import d, raw_table
from xl_ar.core.kpis import parse_kpi_settings
from xl_ar.core.ledger import validate_ledger
from xl_ar.core.run import Policies, refresh
from xl_ar.core.settings import Settings

CUSTOMERS = """
| CustomerID | Name     | Class | CreditLimit |
| C1         | 华东商贸 | B     | 100000      |
| U1         | Acme Inc | A     | 50000       |
| G1         | Brit Ltd | B     | 20000       |
"""
INVOICES = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount  | Currency |
| I1        | C1         | 2025-02-01  | 2025-03-03 | 8000.00 |          |
| U-1       | U1         | 2025-02-10  | 2025-03-12 | 3000.00 | USD      |
| U-2       | U1         | 2025-03-20  | 2025-04-19 | 2500.00 | USD      |
| U-3       | U1         | 2025-01-05  | 2025-02-04 | 1000.00 | USD      |
| G-1       | G1         | 2025-03-01  | 2025-03-31 | 1200.00 | GBP      |
| C-U1      | C1         | 2025-03-25  | 2025-04-05 | 0.05    | USD      |
| C-U2      | C1         | 2025-03-26  | 2025-04-06 | 0.05    | USD      |
"""
RECEIPTS = """
| ReceiptNo | CustomerID | ReceiptDate | Amount  | Currency | InvoiceNo |
| R1        | U1         | 2025-02-20  | 1000.00 | USD      | U-3       |
"""
FX = """
| Date       | Currency | Rate   |
| 2025-02-28 | USD      | 7.2    |
| 2025-03-31 | USD      | 7.1    |
| 2025-04-30 | USD      | 7.3    |
"""
AS_OF = d("2025-03-31")


def run(fx=FX):
    settings = Settings()
    raw = {name: raw_table(name, text) for name, text in
           (("Customers", CUSTOMERS), ("Invoices", INVOICES), ("Receipts", RECEIPTS), ("FxRates", fx))}
    led, issues = validate_ledger(raw, settings)
    assert not [i for i in issues if i.severity == "error"], issues
    kpi, _ = parse_kpi_settings({}, settings)
    return led, refresh(led, settings, AS_OF, Policies(kpi=kpi))


def test_per_currency_tie_outs_stay_exact_in_their_own_currency():
    _, res = run()
    usd = res.tieouts["USD"]
    # 3,000.00 + 2,500.00 + 1,000.00 + 0.05 + 0.05 invoiced − 1,000.00 received = 5,500.10 open
    assert (usd.invoiced, usd.received_applied, usd.open) == (650_010, 100_000, 550_010)
    assert usd.holds and res.tieouts["GBP"].open == 120_000


def test_kpis_convert_each_line_at_the_as_of_rate_and_name_the_rate():
    _, res = run()
    k = res.kpis
    # U-1 3,000 × 7.1 = 21,300.00; U-2 2,500 × 7.1 = 17,750.00; C-U1 and C-U2 0.05 × 7.1 = 0.355
    # → 0.36 each (per line, half-up: 0.72, where converting their 0.10 total would give 0.71);
    # open = 8,000 + 21,300 + 17,750 + 0.72 = 47,050.72, the sum of converted lines.
    assert k.open_minor == 800_000 + 2_130_000 + 1_775_000 + 36 + 36 == 4_705_072
    # Overdue at 2025-03-31: I1 (28 days) and U-1 (19 days); U-2 and the 0.05s are not yet due.
    assert k.buckets == (1_775_072, 2_930_000, 0, 0, 0)
    assert k.overdue_minor == 2_930_000
    assert k.overdue_ratio == pytest.approx(2_930_000 / 4_705_072, abs=1e-12)
    # Credit sales of (2024-12-31, 2025-03-31]: 8,000 + 21,300 + 17,750 + 0.72 + U-3 7,100.00 = 54,150.72
    assert k.credit_sales_minor == 5_415_072
    assert k.fx_rates == {"USD": (Decimal("7.1"), d("2025-03-31"))}
    assert k.foreign_open == {"GBP": 120_000}  # GBP has no rate: left out, and said
    j = k.as_json()
    assert j["fx_rates"] == {"USD": {"rate": 7.1, "date": "2025-03-31"}}
    assert j["fx_excluded"] == {"GBP": 1200.0}


def test_a_missing_rate_is_a_warning_naming_the_currency():
    _, res = run()
    warn = [i for i in res.issues if i.where == "FxRates"]
    assert [i.message for i in warn] == [
        "no GBP rate on or before 2025-03-31: base-currency figures exclude GBP 1,200.00"]


def test_credit_exposure_of_a_usd_customer_is_in_the_base_currency():
    _, res = run()
    c = res.credit.set_index("customer_id")
    # Open U-1 + U-2 = USD 5,500.00 × 7.1 = 39,050.00 CNY against a 50,000.00 limit
    assert c.loc["U1", "open_minor"] == 3_905_000
    assert c.loc["U1", "exposure_minor"] == 3_905_000
    assert c.loc["C1", "exposure_minor"] == 800_072  # its own CNY and two USD 0.05 lines
    assert c.loc["U1", "available_minor"] == 5_000_000 - 3_905_000
    assert c.loc["U1", "foreign_open_count"] == 0 and c.loc["U1", "fx_excluded"] == ""
    # No GBP rate: not a silent zero exposure — the row says what it leaves out.
    assert c.loc["G1", "exposure_minor"] == 0 and c.loc["G1", "foreign_open_count"] == 1
    assert c.loc["G1", "fx_excluded"] == "excludes GBP 1,200.00: no rate"


def test_a_rate_makes_the_gbp_customer_count_too():
    _, res = run(FX + "| 2025-03-28 | GBP | 9.25 |\n")
    c = res.credit.set_index("customer_id")
    assert c.loc["G1", "exposure_minor"] == 1_110_000  # 1,200 × 9.25 = 11,100.00
    assert res.kpis.open_minor == 4_705_072 + 1_110_000 and res.kpis.foreign_open == {}
    assert not [i for i in res.issues if i.where == "FxRates"]


def test_the_warning_table_adds_up_to_the_converted_open_total():
    _, res = run()
    w = res.warning
    assert int(w["amount_minor"].sum()) == res.kpis.open_minor == 4_705_072
    assert int(w["count"].sum()) == 5  # the GBP invoice has no rate: not in the grid
    # U-1, USD 3,000 converted to 21,300.00, falls in the 10,000 - 100,000 band of class A, overdue 1-30
    cell = w[(w["class"] == "A") & (w["amount_band"] == 1) & (w["band_label"] == "Overdue 1-30 days")]
    assert cell["amount_minor"].tolist() == [2_130_000]


def test_the_work_list_carries_base_currency_amounts():
    _, res = run()
    wl = res.worklist.set_index(["customer_id", "currency"])
    u = wl.loc[("U1", "USD")]
    assert (u["overdue_minor"], u["overdue_base_minor"]) == (300_000, 2_130_000)
    assert wl.loc[("C1", "CNY"), "overdue_base_minor"] == 800_000
    assert wl.loc[("C1", "USD"), "due_soon_minor"] == 10 and wl.loc[("C1", "USD"), "due_soon_base_minor"] == 72
    wl = res.worklist.set_index("customer_id")
    assert wl.loc["G1", "overdue_minor"] == 0 and wl.loc["G1", "due_soon_minor"] == 120_000
    assert wl.loc["G1", "due_soon_base_minor"] is __import__("pandas").NA  # no rate: unknown, not 0
    assert set(wl["base_currency"]) == {"CNY"}


def test_the_dashboard_says_which_rate_it_used_and_what_it_left_out():
    from xl_ar.book.reports import dashboard_rows
    _, res = run()
    assert dashboard_rows(res.kpis, "en")[1] == ["Converted to CNY at USD 7.1000 (2025-03-31); "
                                                 "excludes GBP 1,200.00: no rate"]
    assert dashboard_rows(res.kpis, "zh")[1] == ["按汇率折算为 CNY：USD 7.1000 (2025-03-31)；不含 GBP 1,200.00：无汇率"]
