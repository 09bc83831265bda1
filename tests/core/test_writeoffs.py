"""Write-offs on Activities close the debt: tie-out, fees, hold, bad debt, recovery."""


from tables import d, ledger, raw_table
from xl_ar.core.kpis import KpiSettings, compute_kpis
from xl_ar.core.ledger import validate_ledger
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings
from xl_ar.core.stages import assign_stages

CUSTOMERS = """
| CustomerID | Name  | Class | CreditLimit |
| C1         | Alpha | A     | 50000       |
"""
INVOICES = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount   |
| I1        | C1         | 2025-01-01  | 2025-01-31 | 10000.00 |
| I2        | C1         | 2025-04-20  | 2025-05-20 | 5000.00  |
"""
RECEIPTS = """
| ReceiptNo | CustomerID | ReceiptDate | Amount  | InvoiceNo |
| R1        | C1         | 2025-02-15  | 2000.00 |           |
"""
# Blank amount: what is open that day (10,000 - 2,000).
WRITE_OFF = """
| Date       | CustomerID | InvoiceNo | Outcome  | Amount | Note                 |
| 2025-03-31 | C1         | I1        | 核销坏账 |        | 客户破产，法院裁定终结 |
"""
SETTINGS = Settings(late_fee_policy="daily", late_fee_rate=0.0005)


def run(as_of, receipts=RECEIPTS, activities=WRITE_OFF):
    led = ledger(INVOICES, receipts, CUSTOMERS, settings=SETTINGS, activities=activities)
    return led, refresh(led, SETTINGS, as_of)


def test_a_write_off_is_a_line_of_the_tie_out():
    led, res = run(d("2025-05-31"))
    assert led.writeoffs[["invoice", "amount_minor", "reason"]].values.tolist() == [[0, 800_000, "客户破产，法院裁定终结"]]
    t = res.tieouts["CNY"]
    # 15,000 invoiced − 2,000 received − 8,000 written off = 5,000 open = buckets
    assert (t.invoiced, t.credit_applied, t.received_applied, t.written_off, t.open) == (
        1_500_000, 0, 200_000, 800_000, 500_000)
    assert sum(t.buckets) == 500_000 and t.holds
    assert res.invoices["open_minor"].tolist() == [0, 500_000]
    assert res.invoices["written_off_minor"].tolist() == [800_000, 0]
    assert res.invoices["paid_minor"].tolist() == [200_000, 0]
    row = res.aging.set_index("customer_id").loc["C1"]
    assert (row["total"], row["written_off"], row["recovered"]) == (500_000, 800_000, 0)


def test_fees_stop_at_the_write_off():
    # Feb 1-15 on 10,000 (R1's day bears interest) + Feb 16-Mar 31 (44 days) on 8,000:
    # 10,000 × 0.0005 × 15 + 8,000 × 0.0005 × 44 = 75 + 176 = 251.00
    for as_of in ("2025-03-31", "2025-04-30", "2025-05-10"):
        _, res = run(d(as_of))
        assert res.invoices["late_fee_minor"].tolist()[0] == 25_100, as_of
    _, before = run(d("2025-03-30"))
    assert before.invoices["late_fee_minor"].tolist()[0] == 25_100 - 400  # one day less on 8,000


def test_the_hold_lifts_and_the_stage_says_written_off():
    _, before = run(d("2025-03-30"))
    assert bool(before.credit.set_index("customer_id").loc["C1", "hold"])
    led, after = run(d("2025-03-31"))
    c1 = after.credit.set_index("customer_id").loc["C1"]
    assert not c1["hold"] and c1["exposure_minor"] == 0
    stages = assign_stages(led, after, d("2025-03-31"))
    assert stages["stage"].tolist()[0] == "written_off"
    assert stages["bad_debt_minor"].tolist() == [800_000, 0]


def test_bad_debt_on_the_dashboard_and_out_of_the_overdue_ratio():
    led, res = run(d("2025-03-31"))
    k = compute_kpis(led, res, assign_stages(led, res, d("2025-03-31")), d("2025-03-31"), KpiSettings(trend_months=0))
    assert (k.bad_debt_minor, k.bad_debt_invoices) == (800_000, 1)
    assert (k.open_minor, k.overdue_minor) == (0, 0)


def test_a_later_receipt_on_it_is_recovered_bad_debt():
    receipts = RECEIPTS + "| R2 | C1 | 2025-04-15 | 3000.00 | I1 |\n"
    _, res = run(d("2025-05-31"), receipts)
    t = res.tieouts["CNY"]
    assert (t.received_applied, t.written_off, t.recovered, t.unapplied_cash, t.open) == (
        200_000, 800_000, 300_000, 0, 500_000)
    assert t.holds
    assert res.invoices["open_minor"].tolist() == [0, 500_000]  # not pushed onto I2
    rec = res.allocation.recovered
    assert rec[["receipt", "invoice", "amount_minor"]].values.tolist() == [[1, 0, 300_000]]
    assert res.aging.set_index("customer_id").loc["C1", "recovered"] == 300_000


def test_a_recovery_beyond_the_write_off_is_ordinary_cash():
    receipts = RECEIPTS + "| R2 | C1 | 2025-04-25 | 9000.00 | I1 |\n"
    _, res = run(d("2025-05-31"), receipts)
    t = res.tieouts["CNY"]
    # 8,000 recovers the bad debt; 1,000 goes oldest first to I2
    assert (t.recovered, t.received_applied, t.open) == (800_000, 300_000, 400_000)


def test_a_partial_write_off_with_an_amount():
    acts = WRITE_OFF.replace("|        | 客户", "| 1,500.00 | 客户")
    _, res = run(d("2025-05-31"), activities=acts)
    assert res.invoices["open_minor"].tolist() == [650_000, 500_000]
    assert res.tieouts["CNY"].written_off == 150_000 and res.tieouts["CNY"].holds


def test_a_write_off_before_the_as_of_date_only():
    _, res = run(d("2025-03-30"))
    assert res.tieouts["CNY"].written_off == 0 and res.invoices["open_minor"].tolist() == [800_000, 0]


def test_a_customer_level_write_off_closes_what_was_issued_by_then():
    acts = """
| Date       | CustomerID | InvoiceNo | Outcome   | Note     |
| 2025-03-31 | C1         |           | write-off | bankrupt |
"""
    _, res = run(d("2025-05-31"), activities=acts)
    assert res.invoices["written_off_minor"].tolist() == [800_000, 0]  # I2 came later


def _issues(acts):
    raw = {n: raw_table(n, t) for n, t in (("Customers", CUSTOMERS), ("Invoices", INVOICES), ("Receipts", RECEIPTS),
                                           ("Activities", acts))}
    return [(i.where, i.message, i.severity) for i in validate_ledger(raw, SETTINGS)[1]]


def test_bad_write_offs_are_warnings_naming_the_cell():
    issues = _issues("""
| Date       | CustomerID | InvoiceNo | Outcome | Amount    |
| 2025-03-31 | C1         | I9        | 坏账    |           |
| 2025-03-31 | C1         |           | 坏账    | 100       |
| 2025-03-31 | C1         | I1        | 坏账    | 9,000.00  |
""")
    assert issues == [
        ("Activities!C2", 'write-off names invoice "I9", which is not on the Invoices sheet; nothing is written off', "warning"),
        ("Activities!C3", "a write-off with an amount must name its invoice (InvoiceNo); nothing is written off", "warning"),
        ("Activities!E4", 'write-off of 9,000.00 is more than the 8,000.00 open on invoice "I1" that day; only what is '
         "open is written off", "warning"),
    ]


from hypothesis import given, settings as hyp_settings, strategies as st  # noqa: E402


@hyp_settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 60), st.integers(1, 500)), min_size=1, max_size=4),
       st.lists(st.tuples(st.integers(1, 90), st.integers(1, 800), st.integers(-1, 3)), max_size=5),
       st.lists(st.tuples(st.integers(1, 90), st.integers(0, 3), st.integers(0, 300)), max_size=3),
       st.integers(1, 120))
def test_every_ledger_with_write_offs_ties_out(invs, recs, wos, as_of_day):
    base = d("2025-01-01")
    day = lambda n: f"{base.fromordinal(base.toordinal() + n):%Y-%m-%d}"  # noqa: E731
    inv = "| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount |\n" + "".join(
        f"| I{k} | C1 | {day(t)} | {day(t + 30)} | {a} |\n" for k, (t, a) in enumerate(invs))
    rec = "| ReceiptNo | CustomerID | ReceiptDate | Amount | InvoiceNo |\n" + "".join(
        f"| R{k} | C1 | {day(t)} | {a} | {f'I{n}' if 0 <= n < len(invs) else ''} |\n" for k, (t, a, n) in enumerate(recs))
    act = "| Date | CustomerID | InvoiceNo | Outcome | Amount |\n" + "".join(
        f"| {day(t)} | C1 | I{n % len(invs)} | 坏账 | {a or ''} |\n" for t, n, a in wos)
    led = ledger(inv, rec, "| CustomerID |\n| C1 |", activities=act)
    res = refresh(led, Settings(), base.fromordinal(base.toordinal() + as_of_day))
    t = res.tieouts["CNY"]
    assert t.holds
    received = sum(a * 100 for tt, a, _ in recs if tt <= as_of_day)
    # money is conserved: every receipt is applied, unapplied or a recovery
    assert t.received_applied + t.unapplied_cash + t.recovered == received
    assert (res.invoices["open_minor"] >= 0).all() and t.recovered <= t.written_off
