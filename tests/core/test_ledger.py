"""Validation names sheet, row and column for every problem; errors stop the run."""

from tables import raw_table
from xl_ar.core.ledger import validate_ledger
from xl_ar.core.settings import Settings

CUSTOMERS = """
| CustomerID | Name     | Class | TermsDays |
| C1         | 华信贸易 | A     | 30        |
| C2         | Harbor   | b     | 60        |
"""


def check(invoices, receipts="| ReceiptNo | CustomerID | ReceiptDate | Amount |", customers=CUSTOMERS):
    raw = {"Customers": raw_table("Customers", customers), "Invoices": raw_table("Invoices", invoices),
           "Receipts": raw_table("Receipts", receipts)}
    led, issues = validate_ledger(raw, Settings())
    return led, [(i.where, i.message, i.severity) for i in issues]


def test_a_clean_ledger_has_no_issues():
    led, issues = check("""
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount    | Currency |
| I1        | C1         | 2025-01-01  | 2025-01-31 | 1,234.56  |          |
| I2        | C2         | 2025/2/1    | 2025年3月3日 | US$20,000 | usd    |
""")
    assert issues == []
    assert led.invoices["amount_minor"].tolist() == [123_456, 2_000_000]
    assert led.invoices["currency"].tolist() == ["CNY", "USD"]
    assert led.invoices["due_date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-01-31", "2025-03-03"]
    assert led.customers["class"].tolist() == ["A", "B"]  # "b" normalised


def test_bad_cells_are_named_by_sheet_row_and_column():
    _, issues = check("""
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount | Currency |
| I1        | C1         | 2025-01-01  | 2025-13-01 | 100    |          |
| I2        | C1         | 2025-01-01  | 2025-01-31 | abc    |          |
| I1        | C1         | 2025-01-05  | 2025-02-04 | 100    |          |
| I4        | C1         | 2025-03-01  | 2025-02-01 | 100    |          |
| I5        | C1         | 2025-03-01  | 2025-04-01 | 100    | XYZ      |
| I6        |            | 2025-03-01  | 2025-04-01 | 100    |          |
""")
    assert issues == [
        ("Invoices!D2", 'due date "2025-13-01" is not a date', "error"),
        ("Invoices!E3", 'amount "abc" is not a number', "error"),
        ("Invoices!A4", 'invoice number "I1" is a duplicate of row 2', "error"),
        ("Invoices!D5", "due date 2025-02-01 is before the invoice date 2025-03-01", "error"),
        ("Invoices!F6", 'currency "XYZ" is not a known ISO currency code', "error"),
        ("Invoices!B7", "customer ID is blank", "error"),
    ]


def test_missing_required_column_is_an_error_naming_the_sheet():
    _, issues = check("""
| InvoiceNo | CustomerID | DueDate    |
| I1        | C1         | 2025-01-31 |
""")
    assert ("Invoices", 'required column "InvoiceDate" is missing', "error") in issues
    assert ("Invoices", 'required column "Amount" is missing', "error") in issues


def test_warnings_do_not_stop_the_run():
    led, issues = check("""
| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount |
| I1        | C1         | 2025-01-01  |         | 100    |
| I2        | C9         | 2025-01-01  | 2025-01-31 | 0   |
""", """
| ReceiptNo | CustomerID | ReceiptDate | Amount | InvoiceNo |
| R1        | C7         | 2025-01-10  | 50     |           |
| R2        | C1         | 2025-01-10  | 50     | NOPE      |
| R3        | C1         | 2025-01-10  | 50     | I2        |
""")
    assert issues == [
        ("Invoices!D2", "due date is blank; using invoice date + 30 days of terms", "warning"),
        ("Invoices!B3", 'customer "C9" is not on the Customers sheet', "warning"),
        ("Invoices!E3", "amount is zero", "warning"),
        ("Receipts!B2", 'customer "C7" is not on the Customers sheet', "warning"),
        ("Receipts!E3", 'invoice "NOPE" is not on the Invoices sheet; the receipt is applied oldest first', "warning"),
        ("Receipts!E4", 'invoice "I2" belongs to customer "C9", not "C1"; the receipt is applied oldest first', "warning"),
    ]
    assert led.invoices["due_date"].dt.strftime("%Y-%m-%d").tolist()[0] == "2025-01-31"


def test_receipts_must_be_positive_and_dated():
    _, issues = check("| InvoiceNo | CustomerID | InvoiceDate | Amount |", """
| ReceiptNo | CustomerID | ReceiptDate | Amount |
| R1        | C1         | yesterday   | 50     |
| R2        | C1         | 2025-01-10  | -5     |
| R2        | C1         | 2025-01-10  | 5      |
""")
    assert issues == [
        ("Receipts!C2", 'receipt date "yesterday" is not a date', "error"),
        ("Receipts!D3", "receipt amount must be positive (record a refund as a negative invoice line)", "error"),
        ("Receipts!A4", 'receipt number "R2" is a duplicate of row 3', "error"),
    ]


def test_a_missing_invoice_sheet_is_an_error_the_others_are_warnings():
    _, issues = validate_ledger({"Customers": raw_table("Customers", CUSTOMERS)}, Settings())
    assert [(i.where, i.message, i.severity) for i in issues] == [
        ("Invoices", 'sheet "Invoices" (发票) is missing', "error"),
        ("Receipts", 'sheet "Receipts" (收款) is missing: no receipts are applied', "warning")]
    _, issues = validate_ledger({"Invoices": raw_table("Invoices", "| InvoiceNo | CustomerID | InvoiceDate | Amount |")},
                                Settings())
    assert [i.where for i in issues] == ["Receipts", "Customers"] and all(i.severity == "warning" for i in issues)


def test_a_currency_sign_that_disagrees_with_the_currency_cell_is_a_warning_naming_both():
    led, issues = check("""
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount      | Currency |
| I1        | C1         | 2025-01-01  | 2025-01-31 | $1,000.00   | CNY      |
| I2        | C1         | 2025-01-01  | 2025-01-31 | US$5.00     |          |
| I3        | C2         | 2025-01-01  | 2025-01-31 | €7.50       | USD      |
| I4        | C2         | 2025-01-01  | 2025-01-31 | £2.00       | GBP      |
| I5        | C2         | 2025-01-01  | 2025-01-31 | ¥300        | JPY      |
| I6        | C2         | 2025-01-01  | 2025-01-31 | ¥8.00       | USD      |
| I7        | C2         | 2025-01-01  | 2025-01-31 | $9.00       | HKD      |
| I8        | C2         | 2025-01-01  | 2025-01-31 | 1,000 RMB   | CNY      |
""")
    assert issues == [
        ("Invoices!E2", 'amount "$1,000.00" is written with "$" but its currency (Invoices!F2) is CNY; the amount '
                        "is taken in CNY: check which is right", "warning"),
        ("Invoices!E3", 'amount "US$5.00" is written with "US$" but its currency (Invoices!F3) is CNY; the amount '
                        "is taken in CNY: check which is right", "warning"),  # blank = the base currency
        ("Invoices!E4", 'amount "€7.50" is written with "€" but its currency (Invoices!F4) is USD; the amount '
                        "is taken in USD: check which is right", "warning"),
        ("Invoices!E7", 'amount "¥8.00" is written with "¥" but its currency (Invoices!F7) is USD; the amount '
                        "is taken in USD: check which is right", "warning"),
    ]
    assert led.invoices["amount_minor"].tolist() == [100_000, 500, 750, 200, 300, 800, 900, 100_000]


def test_a_receipt_naming_an_invoice_in_another_currency_is_a_warning_naming_both_cells():
    _, issues = check("""
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount | Currency |
| I1        | C1         | 2025-01-01  | 2025-01-31 | 100    | CNY      |
| I2        | C1         | 2025-01-01  | 2025-01-31 | 100    | USD      |
""", """
| ReceiptNo | CustomerID | ReceiptDate | Amount | Currency | InvoiceNo |
| R1        | C1         | 2025-02-01  | 50     | USD      | I1        |
| R2        | C1         | 2025-02-01  | 50     | USD      | I2        |
| R3        | C1         | 2025-02-01  | 50     |          | I2        |
""")
    assert issues == [
        ("Receipts!E2", 'receipt in USD names invoice "I1" in CNY (Invoices!F2); it does not pay that invoice: it '
                        "goes to the customer's open USD invoices oldest first, or stays unapplied (correct the "
                        "currency, or record the receipt converted)", "warning"),
        ("Receipts!E4", 'receipt in CNY names invoice "I2" in USD (Invoices!F3); it does not pay that invoice: it '
                        "goes to the customer's open CNY invoices oldest first, or stays unapplied (correct the "
                        "currency, or record the receipt converted)", "warning"),
    ]
