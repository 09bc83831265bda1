"""Credit notes naming the invoice they correct, and AutoApply oldest vs none (open items)."""

from tables import d, ledger, raw_table
from xl_ar.core.kpis import parse_kpi_settings
from xl_ar.core.ledger import validate_ledger
from xl_ar.core.run import Policies, refresh
from xl_ar.core.settings import Settings, parse_settings

INVOICES = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount   | AppliesTo |
| I1        | C1         | 2025-01-10  | 2025-02-09 | 10000.00 |           |
| I2        | C1         | 2025-02-15  | 2025-03-17 | 6000.00  |           |
| I3        | C1         | 2025-03-10  | 2025-04-09 | 4000.00  |           |
| CN1       | C1         | 2025-03-12  | 2025-03-12 | -1500.00 | I3        |
| CN2       | C1         | 2025-03-20  | 2025-03-20 | -500.00  |           |
"""
RECEIPTS = """
| ReceiptNo | CustomerID | ReceiptDate | Amount  | InvoiceNo |
| R1        | C1         | 2025-02-20  | 7000.00 |           |
| R2        | C1         | 2025-03-25  | 2000.00 | I2        |
"""
AS_OF = d("2025-03-31")


def run(mode):
    settings = Settings(auto_apply=mode)
    led = ledger(INVOICES, RECEIPTS, "| CustomerID |\n| C1 |", settings=settings)
    kpi, _ = parse_kpi_settings({}, settings)
    return led, refresh(led, settings, AS_OF, Policies(kpi=kpi))


def test_a_credit_note_naming_its_invoice_applies_there_first_in_both_modes():
    for mode in ("oldest", "none"):
        _, res = run(mode)
        app = res.allocation.applications
        cn1 = app[(app["payer_kind"] == "credit") & (app["payer"] == 3)]
        assert cn1[["invoice", "amount_minor"]].values.tolist() == [[2, 150_000]], mode  # I3, not the oldest I1


def test_oldest_first_applies_unreferenced_money_to_the_oldest_invoices():
    _, res = run("oldest")
    # R1 7,000 → I1; R2 2,000 names I2; CN2 500 → I1 (oldest still open): I1 2,500, I2 4,000, I3 2,500
    assert res.invoices["open_minor"].tolist() == [250_000, 400_000, 250_000, 0, 0]
    t = res.tieouts["CNY"]
    assert (t.invoiced, t.credit_applied, t.received_applied, t.written_off, t.open) == (
        2_000_000, 200_000, 900_000, 0, 900_000)
    assert (t.unapplied_cash, t.unapplied_credit) == (0, 0)
    # I1 49 days late (31-60), I2 14 days (1-30), I3 not due
    assert t.buckets == (250_000, 400_000, 250_000, 0, 0) and t.holds
    assert res.unapplied.empty


def test_open_items_leave_unreferenced_money_unapplied_and_age_it_as_negative_items():
    _, res = run("none")
    # Only CN1 (→ I3) and R2 (→ I2) name an invoice: I1 10,000, I2 4,000, I3 2,500 stay open.
    assert res.invoices["open_minor"].tolist() == [1_000_000, 400_000, 250_000, 0, 0]
    t = res.tieouts["CNY"]
    assert (t.invoiced, t.credit_applied, t.received_applied, t.open) == (2_000_000, 150_000, 200_000, 1_650_000)
    assert (t.unapplied_cash, t.unapplied_credit) == (700_000, 50_000)
    # R1 (2025-02-20, 39 days) is −7,000 in 31-60; CN2 (2025-03-20, 11 days) −500 in 1-30.
    # Not due 2,500; 1-30: I2 4,000 − 500; 31-60: I1 10,000 − 7,000.
    assert t.buckets == (250_000, 350_000, 300_000, 0, 0)
    # invoiced − every credit note − every receipt − written off = open − unapplied = buckets
    assert 2_000_000 - 200_000 - 900_000 - 0 == t.net_balance == sum(t.buckets) == 900_000
    assert t.holds
    un = res.unapplied.sort_values("ref")
    assert un[["ref", "payer_kind", "amount_minor"]].values.tolist() == [["CN2", "credit", 50_000],
                                                                          ["R1", "receipt", 700_000]]
    row = res.aging.set_index("customer_id").loc["C1"]
    assert [row[f"b{i}"] for i in range(5)] == [250_000, 350_000, 300_000, 0, 0]
    assert (row["total"], row["unapplied"]) == (900_000, 750_000)


def test_both_modes_owe_the_same_net_balance():
    nets = {m: run(m)[1].tieouts["CNY"].net_balance for m in ("oldest", "none")}
    assert nets == {"oldest": 900_000, "none": 900_000}


def test_the_setting_is_read_in_english_and_chinese_and_checked():
    from xl_ar.book.headers import SETTING_LOOKUP, normalise
    assert SETTING_LOOKUP[normalise("自动核销")] == SETTING_LOOKUP[normalise("Auto Apply")] == "AutoApply"
    assert parse_settings({})[0].auto_apply == "oldest"
    assert parse_settings({"AutoApply": ("None", "Settings!B9")})[0].auto_apply == "none"
    s, issues = parse_settings({"AutoApply": ("fifo", "Settings!B9")})
    assert s.auto_apply == "oldest"
    assert [(i.where, i.message) for i in issues] == [("Settings!B9", 'AutoApply "fifo" must be oldest or none')]


def test_a_bad_reference_is_a_warning_naming_the_cell():
    raw = {"Invoices": raw_table("Invoices", """
| InvoiceNo | CustomerID | InvoiceDate | Amount  | AppliesTo |
| I1        | C1         | 2025-01-10  | 100.00  |           |
| I2        | C2         | 2025-01-10  | 100.00  |           |
| CN1       | C1         | 2025-01-11  | -10.00  | I9        |
| CN2       | C1         | 2025-01-11  | -10.00  | I2        |
| I3        | C1         | 2025-01-11  | 10.00   | I1        |
"""), "Customers": raw_table("Customers", "| CustomerID |\n| C1 |\n| C2 |"),
        "Receipts": raw_table("Receipts", "| ReceiptNo | CustomerID | ReceiptDate | Amount |")}
    _, issues = validate_ledger(raw, Settings())
    got = {i.where: (i.severity, i.message) for i in issues}
    assert got["Invoices!E4"] == ("warning", 'invoice "I9" is not on the Invoices sheet; it is applied oldest first')
    assert got["Invoices!E5"][0] == "warning" and 'of customer "C2"' in got["Invoices!E5"][1]
    assert got["Invoices!E6"][0] == "warning" and "only a credit note" in got["Invoices!E6"][1]


def test_chinese_reference_headers():
    from xl_ar.book.headers import field_for_header
    assert {field_for_header("Invoices", h) for h in ("对应发票", "原发票号", "AppliesTo")} == {"applies_to"}
