"""Each customer on its own late-fee terms; AR_LATEFEE with the amount's currency."""

from tables import d, ledger, raw_table
from xl_ar.core.ledger import validate_ledger
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings
from xl_ar.udfs import AR_LATEFEE

CUSTOMERS = """
| CustomerID | Name            | LateFeePolicy   | LateFeeRate | 宽限天数 | LateFeeCap |
| CN         | 华东机电        | cn-sme          |             | 10       |            |
| UK         | Harbor Ltd      | uk-late-payment |             |          |            |
| DE         | Rhein GmbH      | de-bgb-288      |             |          |            |
| XX         | Default Co      |                 |             |          |            |
| CAP        | Capped Co       |                 | 0.002       |          | 0.01       |
"""
INVOICES = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount   | Currency |
| I1        | CN         | 2024-01-01  | 2024-01-31 | 10000.00 | CNY      |
| I2        | UK         | 2024-01-01  | 2024-01-31 | 5000.00  | GBP      |
| I3        | DE         | 2024-01-01  | 2024-01-31 | 10000.00 | EUR      |
| I4        | XX         | 2024-01-01  | 2024-01-31 | 10000.00 | CNY      |
| I5        | CAP        | 2024-01-01  | 2024-01-31 | 10000.00 | CNY      |
| I6        | UK         | 2024-01-01  | 2024-01-31 | 1000.00  | CNY      |
"""
SETTINGS = Settings(late_fee_policy="daily", late_fee_rate=0.001)


def test_three_customers_on_three_policies_and_one_on_the_settings():
    led = ledger(INVOICES, customers=CUSTOMERS, settings=SETTINGS)
    res = refresh(led, SETTINGS, d("2024-03-01"))
    fees = dict(zip(led.invoices["invoice_no"], res.invoices["late_fee_minor"]))
    # cn-sme 0.05%/day after 10 days' grace: Feb 11 - Mar 1 = 20 days: 10,000 × 0.0005 × 20 = 100.00
    assert fees["I1"] == 10_000
    # uk-late-payment: 5,000 × (5.25% + 8%) × 30 / 365 = 54.45, plus GBP 70 (debt 1,000-9,999.99)
    assert fees["I2"] == 12_445
    # de-bgb-288: Basiszinssatz 3.62% + 9 = 12.62%: 10,000 × 12.62% × 30 / 365 = 103.73, plus EUR 40
    assert fees["I3"] == 14_373
    # no terms of its own: the Settings sheet's daily 0.1%: 10,000 × 0.001 × 30 = 300.00
    assert fees["I4"] == 30_000
    # its own rate and cap on the Settings policy: 10,000 × 0.002 × 30 = 600 capped at 1% = 100.00
    assert fees["I5"] == 10_000
    # a CNY invoice of the British customer: interest, no GBP compensation
    assert fees["I6"] == round(1000 * 0.1325 * 30 / 365 * 100)


def test_an_unknown_policy_on_a_customer_is_a_warning_and_the_settings_apply():
    customers = "| CustomerID | LateFeePolicy |\n| C1 | weekly |"
    raw = {"Customers": raw_table("Customers", customers),
           "Invoices": raw_table("Invoices", "| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount |\n"
                                             "| I1 | C1 | 2024-01-01 | 2024-01-31 | 100 |"),
           "Receipts": raw_table("Receipts", "| ReceiptNo | CustomerID | ReceiptDate | Amount |")}
    led, issues = validate_ledger(raw, SETTINGS)
    assert [(i.where, i.severity) for i in issues] == [("Customers!B2", "warning")]
    assert 'late-fee policy "weekly" is unknown' in issues[0].message
    res = refresh(led, SETTINGS, d("2024-03-01"))
    assert res.invoices["late_fee_minor"].tolist() == [300]  # 100 × 0.001 × 30 = 3.00


def test_negative_terms_on_a_customer_are_warnings_and_the_settings_apply():
    customers = ("| CustomerID | LateFeeRate | LateFeeGraceDays | LateFeeCap |\n"
                 "| C1 | -0.002 | -5 | -0.1 |\n| C2 | 0.002 | 0 | |")
    raw = {"Customers": raw_table("Customers", customers),
           "Invoices": raw_table("Invoices", "| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount |\n"
                                             "| I1 | C1 | 2024-01-01 | 2024-01-31 | 100 |\n"
                                             "| I2 | C2 | 2024-01-01 | 2024-01-31 | 100 |"),
           "Receipts": raw_table("Receipts", "| ReceiptNo | CustomerID | ReceiptDate | Amount |")}
    led, issues = validate_ledger(raw, SETTINGS)
    assert [(i.where, i.severity) for i in issues] == [("Customers!B2", "warning"), ("Customers!C2", "warning"),
                                                       ("Customers!D2", "warning")]
    assert "late fee rate must not be negative" in issues[0].message
    res = refresh(led, SETTINGS, d("2024-03-01"))
    # C1 on the Settings sheet's daily 0.1%: 100 × 0.001 × 30 = 3.00; C2 on its own 0.2%: 6.00
    assert res.invoices["late_fee_minor"].tolist() == [300, 600]


def test_ar_latefee_adds_statutory_compensation_in_the_statute_currency():
    due, as_of = d("2024-01-31"), d("2024-03-01")
    assert AR_LATEFEE(5000, due, as_of, "uk-late-payment", None, None, None, "GBP") == 124.45
    # the same amount in CNY: interest only (the statute's compensation is in pounds)
    assert AR_LATEFEE(5000, due, as_of, "uk-late-payment") == 54.45
    assert AR_LATEFEE(10000, due, as_of, "de-bgb-288", None, None, None, "eur") == 143.73
    assert AR_LATEFEE(10000, due, as_of, "eu-late-payment", None, None, None, "EUR") == AR_LATEFEE(
        10000, due, as_of, "eu-late-payment") + 40
    assert AR_LATEFEE(1000, due, as_of, "daily", 0.001, None, None, "JPY") == 30.0  # no minor unit
    assert AR_LATEFEE(1000, due, as_of, None, None, None, None, "XYZ") == 'error: currency "XYZ" is not a known ISO currency code'
