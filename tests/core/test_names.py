"""A customer named by its name on Invoices, Receipts and Activities is the same customer."""

import pandas as pd
import pytest

from tables import d, ledger, raw_table
from xl_ar.core.ledger import validate_ledger
from xl_ar.core.names import fold_name
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings

CUSTOMERS = """
| CustomerID | Name                 | Class | TermsDays | CreditLimit |
| C1         | 华信贸易有限公司     | A     | 30        | 50000       |
| C2         | Harbor Trading Ltd   | C     | 60        | 10000       |
| C3         | 华信贸易有限责任公司 | B     | 45        | 20000       |
"""
BY_CODE = """
| InvoiceNo | CustomerID | InvoiceDate | Amount   |
| I1        | C1         | 2025-01-01  | 10000.00 |
| I2        | C2         | 2025-01-05  | 7000.00  |
| I3        | C3         | 2025-02-01  | 3000.00  |
| I4        | C1         | 2025-03-01  | 2500.00  |
"""
# The same ledger keyed by name, typed as people type: full-width letters, other case, spaces.
BY_NAME = """
| InvoiceNo | 客户名称               | InvoiceDate | Amount   |
| I1        | 华信贸易有限公司       | 2025-01-01  | 10000.00 |
| I2        | ＨＡＲＢＯＲ trading  ltd | 2025-01-05  | 7000.00  |
| I3        | 华信贸易有限责任公司   | 2025-02-01  | 3000.00  |
| I4        | 华信贸易 有限公司      | 2025-03-01  | 2500.00  |
"""
RECEIPTS_BY_CODE = """
| ReceiptNo | CustomerID | ReceiptDate | Amount  |
| R1        | C1         | 2025-02-10  | 4000.00 |
| R2        | C2         | 2025-03-20  | 7000.00 |
"""
RECEIPTS_BY_NAME = """
| ReceiptNo | 付款单位           | ReceiptDate | Amount  |
| R1        | 华信贸易有限公司   | 2025-02-10  | 4000.00 |
| R2        | harbor trading ltd | 2025-03-20  | 7000.00 |
"""


def test_fold_name_folds_case_spaces_and_full_width_only():
    assert fold_name("ＨＡＲＢＯＲ  Trading\u3000Ltd") == "harbortradingltd"
    assert fold_name("华信贸易有限公司") != fold_name("华信贸易有限责任公司")


def test_a_name_keyed_ledger_gives_the_code_keyed_result():
    as_of = d("2025-04-30")
    by_code = refresh(ledger(BY_CODE, RECEIPTS_BY_CODE, CUSTOMERS), Settings(), as_of)
    by_name = refresh(ledger(BY_NAME, RECEIPTS_BY_NAME, CUSTOMERS), Settings(), as_of)
    pd.testing.assert_frame_equal(by_code.aging, by_name.aging)
    pd.testing.assert_frame_equal(by_code.invoices, by_name.invoices)
    pd.testing.assert_frame_equal(by_code.credit, by_name.credit)
    assert by_code.tieouts == by_name.tieouts
    # the terms came from the Customers sheet: I2 is due 60 days after 2025-01-05
    aging = by_name.aging.set_index("customer_id")
    assert aging.loc["C1", "total"] == 850_000  # 10,000 + 2,500 - 4,000
    assert aging.loc["C1", "name"] == "华信贸易有限公司"
    credit = by_name.credit.set_index("customer_id")
    assert credit.loc["C1", "exposure_minor"] == 850_000
    assert credit.loc["C3", "exposure_minor"] == 300_000


def _issues(invoices, customers=CUSTOMERS, keep_codes=False):
    raw = {"Customers": raw_table("Customers", customers), "Invoices": raw_table("Invoices", invoices),
           "Receipts": raw_table("Receipts", "| ReceiptNo | CustomerID | ReceiptDate | Amount |")}
    led, issues = validate_ledger(raw, Settings(), keep_codes=keep_codes)
    return led, [(i.where, i.message, i.severity) for i in issues]


@pytest.mark.parametrize("keep_codes", [False, True], ids=["codes dropped", "codes kept, as a refresh keeps them"])
def test_an_ambiguous_or_unknown_name_is_a_warning_naming_the_cell(keep_codes):
    customers = CUSTOMERS + "| C4 | harbor trading LTD | B | 30 | |\n"
    led, issues = _issues("""
| InvoiceNo | Customer           | InvoiceDate | Amount |
| I1        | Harbor Trading Ltd | 2025-01-01  | 100    |
| I2        | 华信贸易公司       | 2025-01-01  | 100    |
""", customers, keep_codes)
    assert ("Invoices!B2", 'customer "Harbor Trading Ltd" matches several customers (C2, C4); write the customer ID',
            "warning") in issues
    assert ("Invoices!B3", 'customer "华信贸易公司" is not on the Customers sheet', "warning") in issues
    # left as written, never guessed
    assert led.invoices["customer_id"].tolist() == ["Harbor Trading Ltd", "华信贸易公司"]


def test_a_code_wins_over_a_name_and_activities_resolve_too():
    led = ledger(BY_CODE, activities="""
| Date       | 客户名称         | Note     |
| 2025-03-01 | 华信贸易有限公司 | 已电话   |
""", customers=CUSTOMERS)
    assert led.activities["customer_id"].tolist() == ["C1"]
    assert led.invoices["customer_id"].tolist() == ["C1", "C2", "C3", "C1"]


def test_an_ambiguous_name_is_reported_once():
    customers = CUSTOMERS + "| C4 | harbor trading LTD | B | 30 | |\n"
    _, issues = _issues("""
| InvoiceNo | Customer           | InvoiceDate | Amount |
| I1        | Harbor Trading Ltd | 2025-01-01  | 100    |
""", customers)
    assert [w for w, *_ in issues if w == "Invoices!B2"] == ["Invoices!B2"]
