"""Management KPIs, the collector's work list and the warning table, on ledgers small enough to
work out by hand (every expected figure below is derived in the comments next to it)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tables import INVOICES_HEAD, RECEIPTS_HEAD, d, invoice_row, ledger, receipt_row
from xl_ar.core.kpis import (
    KPI_SETTING_DEFAULTS, KpiSettings, aging_trend, collection_effectiveness, compute_kpis, dso_countback,
    dso_simple, months_back, parse_kpi_settings, period_start, trend_month_ends,
)
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings
from xl_ar.core.stages import assign_stages
from xl_ar.core.worklist import collections_worklist, warning_table

AS_OF = d("2025-03-31")
CUSTOMERS = """
| CustomerID | Name  | Class | Owner |
| C1         | Alpha | A     | 张三  |
| C2         | Beta  | B     | 李四  |
| C3         | Gamma | C     | 张三  |
| C4         | Delta |       |       |
"""
# At 2025-03-31 (CNY): I1 paid by R1; I2 20,000 - R2 5,000 = 15,000 open, 40 days late;
# I3 30,000 - credit note CN8 1,000 = 29,000, 28 days late; I4 8,000 due in 4 days;
# I5 4,000 written off, 101 days late; I6 150,000 due in 14 days; I7 3,000 disputed, 19 days
# late; I9 is in USD (left out of every money figure).
INVOICES = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount    | Currency | Disputed |
| I1        | C1         | 2024-12-15  | 2025-01-14 | 10000.00  |          |          |
| I2        | C1         | 2025-01-20  | 2025-02-19 | 20000.00  |          |          |
| I3        | C2         | 2025-02-01  | 2025-03-03 | 30000.00  |          |          |
| I4        | C2         | 2025-03-05  | 2025-04-04 | 8000.00   |          |          |
| I5        | C3         | 2024-11-20  | 2024-12-20 | 4000.00   |          |          |
| I6        | C3         | 2025-03-15  | 2025-04-14 | 150000.00 |          |          |
| I7        | C4         | 2025-02-10  | 2025-03-12 | 3000.00   |          | yes      |
| CN8       | C2         | 2025-03-20  |            | -1000.00  |          |          |
| I9        | C1         | 2025-03-01  | 2025-03-10 | 500.00    | USD      |          |
"""
RECEIPTS = """
| ReceiptNo | CustomerID | ReceiptDate | Amount   | InvoiceNo |
| R1        | C1         | 2025-01-20  | 10000.00 | I1        |
| R2        | C1         | 2025-03-10  | 5000.00  |           |
"""
# I1's promise was kept (R1 on 01-20), I3's broken (nothing by 03-10), I2's is pending.
ACTIVITIES = """
| Date       | CustomerID | InvoiceNo | PromiseDate | PromiseAmount | Outcome |
| 2025-01-10 | C1         | I1        | 2025-01-25  | 10000.00      |         |
| 2025-02-20 | C2         | I3        | 2025-03-10  | 30000.00      |         |
| 2025-03-25 | C1         | I2        | 2025-04-10  | 15000.00      |         |
| 2025-03-20 | C3         | I5        |             |               | 坏账    |
"""
KPI = KpiSettings(trend_months=3)


def run(as_of=AS_OF, invoices=INVOICES, receipts=RECEIPTS, activities=ACTIVITIES, customers=CUSTOMERS):
    led = ledger(invoices, receipts, customers, activities=activities)
    result = refresh(led, Settings(), as_of)
    return led, result, assign_stages(led, result, as_of)


@pytest.fixture(scope="module")
def case():
    led, result, stages = run()
    return led, result, stages, compute_kpis(led, result, stages, AS_OF, KPI)


def days(x: Fraction) -> float:
    return float(x)


# ----------------------------------------------------------------------------- the KPIs


def test_overdue_ratio_is_overdue_over_open_in_the_base_currency(case):
    *_, k = case
    # not due 8,000 + 150,000; 1-30: 29,000 + 3,000; 31-60: 15,000; >90: none (I5's 4,000 is written off)
    assert k.buckets == (15_800_000, 3_200_000, 1_500_000, 0, 0)
    assert (k.open_minor, k.overdue_minor, k.current_minor) == (20_500_000, 4_700_000, 15_800_000)
    assert k.overdue_ratio == pytest.approx(47_000 / 205_000, abs=1e-12)  # 22.93%
    assert k.meets_target is False and k.overdue_target == 0.05
    assert k.currency == "CNY" and k.foreign_open == {"USD": 50_000}


def test_dso_simple_best_possible_and_average_days_delinquent(case):
    *_, k = case
    # Sales of (2024-12-31, 2025-03-31]: I2 20,000 + I3 30,000 + I4 8,000 + I6 150,000 + I7 3,000
    # = 211,000 (the credit note is not netted; I1 and I5 are older).
    assert (k.dso_start, k.dso_days, k.credit_sales_minor) == (d("2024-12-31"), 90, 21_100_000)
    assert k.dso_simple == days(Fraction(205_000 * 90, 211_000))          # 87.44 days
    assert k.best_possible_dso == days(Fraction(158_000 * 90, 211_000))   # 67.39 days
    assert k.add == pytest.approx(days(Fraction(47_000 * 90, 211_000)), abs=1e-12)  # 20.05 days
    assert k.add == pytest.approx(k.dso_simple - k.best_possible_dso, abs=1e-12)


def test_dso_countback_exhausts_the_balance_month_by_month(case):
    *_, k = case
    # 205,000 - March 158,000 (31 days) = 47,000 - February 33,000 (28 days) = 14,000,
    # which is 14/20 of January's 20,000: 31 + 28 + 0.7 * 31 = 80.7 days
    assert k.dso_countback == pytest.approx(80.7, abs=1e-12)


def test_cei_over_the_last_three_months(case):
    *_, k = case
    # opening 2024-12-31: I1 10,000 + I5 4,000; I5's 4,000 written off in the period is not collected:
    # (14,000 + 211,000 - 205,000 - 4,000) / (14,000 + 211,000 - 158,000)
    assert (k.cei_start, k.cei_opening_minor, k.cei_sales_minor) == (d("2024-12-31"), 1_400_000, 21_100_000)
    assert k.cei == pytest.approx(16_000 / 67_000, abs=1e-12)  # 23.88%, a ratio like the others


def test_published_examples_of_the_formulas():
    # Countback, Credit Today's example: 212,000 against 100,000 / 80,000 / 70,000 (30-day months)
    assert dso_countback(212_000, [(100_000, 30), (80_000, 30), (70_000, 30)]) == pytest.approx(60 + 32 / 70 * 30)
    assert dso_countback(0, [(5, 31)]) == 0.0
    assert dso_countback(100, [(50, 31)]) is None  # history too short to use the balance up
    # CEI on creditguru's Jan-Mar sample with the period's sales (our definition):
    # (6,200 + 10,890 - 6,340) / (6,200 + 10,890 - 3,590) = 79.63%; with the monthly average
    # 10,890 / 3 instead (creditguru's own multi-month form) it gives their 55.9%
    assert round(collection_effectiveness(6_200, 10_890, 6_340, 3_590), 4) == 0.7963
    assert round(collection_effectiveness(6_200, 3_630, 6_340, 3_590), 3) == 0.559
    assert collection_effectiveness(0, 0, 0, 0) is None
    # simple DSO: 150,000 / 1,800,000 * 365 = 30.4 days
    assert round(dso_simple(150_000, 1_800_000, 365), 1) == 30.4
    assert dso_simple(5, 0, 90) is None


def test_promises_kept_and_bad_debt(case):
    *_, k = case
    assert (k.promises_kept_count, k.promises_broken_count, k.promises_pending_count) == (1, 1, 1)
    assert k.promises_kept == 0.5
    assert (k.bad_debt_minor, k.bad_debt_invoices) == (400_000, 1)
    assert k.stages == {"mild": 1, "moderate": 1, "promised": 1, "disputed": 1, "written_off": 1}


def test_per_owner_figures(case):
    *_, k = case
    o = k.owners
    assert o["owner"].tolist() == ["张三", "李四", ""]  # no owner last
    assert o["customers"].tolist() == [2, 1, 1]
    # 张三: C1 I2 15,000 overdue; C3 I6 150,000 (I5's 4,000 written off, no longer open)
    assert o["open_minor"].tolist() == [16_500_000, 3_700_000, 300_000]
    assert o["overdue_minor"].tolist() == [1_500_000, 2_900_000, 300_000]
    assert o["overdue_ratio"].tolist() == pytest.approx([15 / 165, 29 / 37, 1.0], abs=1e-12)
    assert o["broken_promises"].tolist() == [0, 1, 0]
    assert o["bad_debt_minor"].tolist() == [400_000, 0, 0]


def test_aging_trend_at_three_month_ends(case):
    led, result, _, k = case
    t = k.trend
    assert [str(x)[:10] for x in t["month_end"]] == ["2025-01-31", "2025-02-28", "2025-03-31"]
    # Jan 31: I1 paid by R1; I2 20,000 not due; I5 4,000 42 days late.
    # Feb 28: I2 9 days late; I3 30,000 and I7 3,000 not yet due; I5 70 days late.
    # Mar 31: I5 was written off on 03-20.
    assert t[["b0", "b1", "b2", "b3", "b4"]].values.tolist() == [
        [2_000_000, 0, 400_000, 0, 0],
        [3_300_000, 2_000_000, 0, 400_000, 0],
        [15_800_000, 3_200_000, 1_500_000, 0, 0],
    ]
    assert t["open_minor"].tolist() == [2_400_000, 5_700_000, 20_500_000]
    assert t["overdue_ratio"].tolist() == pytest.approx([1 / 6, 24 / 57, 47 / 205], abs=1e-12)
    pd.testing.assert_frame_equal(aging_trend(led, result, KPI), t)


def test_trend_month_ends_and_periods():
    assert trend_month_ends(d("2025-03-15"), 3) == [d("2024-12-31"), d("2025-01-31"), d("2025-02-28")]
    assert trend_month_ends(d("2024-02-29"), 2) == [d("2024-01-31"), d("2024-02-29")]
    assert months_back(d("2025-04-30"), 2) == d("2025-02-28")  # a month-end stays one
    assert months_back(d("2025-03-30"), 1) == d("2025-02-28")  # otherwise the day is clipped
    assert period_start((90, "d"), d("2025-03-31")) == d("2024-12-31")
    assert period_start((3, "m"), d("2025-05-15")) == d("2025-02-15")


def test_empty_ledger_gives_blank_measures_not_errors():
    inv = "| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount |"
    led, result, stages = run(invoices=inv, receipts="", activities="")
    k = compute_kpis(led, result, stages, AS_OF, KPI)
    assert (k.open_minor, k.overdue_ratio, k.dso_simple, k.dso_countback, k.cei, k.promises_kept) == (0, None, None, 0.0, None, None)
    assert k.as_json()["overdue_ratio"] is None
    assert collections_worklist(led, result, stages, AS_OF).empty


def test_as_json_gives_the_cli_figures(case):
    *_, k = case
    j = k.as_json()
    assert j["overdue_ratio"] == 0.2293 and j["meets_target"] is False
    assert j["dso"] == {"simple": 87.44, "countback": 80.7, "best_possible": 67.39, "period_days": 90}
    assert (j["cei"], j["add"]) == (0.2388, 20.05)
    assert j["promises_kept"] == {"ratio": 0.5, "kept": 1, "broken": 1, "pending": 1}
    assert j["bad_debt"] == {"amount": 4000.0, "invoices": 1}
    assert j["stages"]["moderate"] == 1
    assert j["owners"][0] == {"owner": "张三", "customers": 2, "open": 165000.0, "overdue": 15000.0,
                              "overdue_ratio": 0.0909, "broken_promises": 0, "bad_debt": 4000.0}
    assert j["trend"][0]["buckets"]["31-60天"] == 4000.0 and j["trend"][-1]["open"] == 205000.0


def test_the_trend_can_be_left_out(case):
    led, result, stages, k = case
    quick = compute_kpis(led, result, None if result.stages is None else stages, AS_OF, KPI, trend=False)
    assert quick.trend.empty and list(quick.trend.columns) == list(k.trend.columns)
    assert (quick.cei, quick.dso_countback, quick.overdue_ratio) == (k.cei, k.dso_countback, k.overdue_ratio)
    assert quick.as_json()["trend"] == []


def test_the_kpis_need_the_same_days_run():
    led, result, stages = run()
    with pytest.raises(ValueError, match="as of 2025-03-31"):
        compute_kpis(led, result, stages, d("2025-04-01"), KPI)
    with pytest.raises(ValueError, match="aging edges"):
        compute_kpis(led, result, stages, AS_OF, KpiSettings(aging_edges=(30, 60)))


# ----------------------------------------------------------------------------- the work list


def test_worklist_rows_content_and_order(case):
    led, result, stages, _ = case
    w = collections_worklist(led, result, stages, AS_OF, days_ahead=7)
    # I5 is written off and I6 (class C, 14 days ahead) has no reminder yet: neither is listed.
    assert list(zip(w["owner"], w["customer_id"], w["currency"])) == [
        ("account manager", "C4", "CNY"),  # owners in order; C4 has no Owner, so the role acts
        ("张三", "C1", "USD"),             # 张三's two rows: mild before promised
        ("张三", "C1", "CNY"),
        ("李四", "C2", "CNY"),
    ]
    c2 = w.iloc[3]
    # C2: I3 escalated to moderate by its broken promise; I4 (due in 4 days) is next: the
    # class-B reminder letter 3 days before its due date, by the account manager.
    assert (c2["stage"], c2["items"], c2["overdue_items"], c2["overdue_minor"], c2["due_soon_minor"]) == (
        "moderate", 2, 1, 2_900_000, 800_000)
    assert (c2["oldest_invoice"], c2["oldest_days_late"], c2["broken_promises"]) == ("I3", 28, 1)
    assert (str(c2["next_action_date"])[:10], c2["channel"], c2["owner_zh"]) == ("2025-04-01", "email", "李四")
    assert c2["next_action_zh"] == "发送友好提醒函并附最新对账单" and pd.isna(c2["promise_date"])
    assert c2["late_fee_minor"] == int(result.invoices["late_fee_minor"].iat[2])  # I3's; I4 has none
    c1 = w.iloc[2]
    assert (c1["stage"], c1["overdue_minor"], c1["oldest_days_late"]) == ("promised", 1_500_000, 40)
    assert (str(c1["promise_date"])[:10], c1["promise_minor"]) == ("2025-04-10", 1_500_000)
    assert (str(c1["next_action_date"])[:10], c1["name"], c1["class"], c1["account_manager"]) == (
        "2025-04-10", "Alpha", "A", "张三")
    c4 = w.iloc[0]
    assert (c4["stage"], c4["owner_zh"], str(c4["next_action_date"])[:10]) == ("disputed", "客户经理", "2025-04-02")
    assert w.iloc[1][["overdue_minor", "exp", "stage_label_zh"]].tolist() == [50_000, 2, "轻度"]


def test_worklist_days_ahead_and_reminder_stages():
    led, result, stages = run()
    w = collections_worklist(led, result, stages, AS_OF, days_ahead=14)
    # 14 days ahead reaches I6 (due 04-14): C3 joins, with no overdue amount
    c3 = w[w["customer_id"] == "C3"].iloc[0]
    assert (c3["items"], c3["overdue_minor"], c3["due_soon_minor"], c3["oldest_days_late"]) == (1, 0, 15_000_000, -14)
    # a class-C customer 10 days ahead is in its SMS reminder stage: listed with 0 days ahead
    led, result, stages = run(as_of=d("2025-04-04"))
    w = collections_worklist(led, result, stages, d("2025-04-04"), days_ahead=0)
    assert w[w["customer_id"] == "C3"]["stage"].tolist() == ["pre_due"]


# ----------------------------------------------------------------------------- the warning table


def test_warning_table_cells(case):
    led, result, *_ = case
    t = warning_table(led, result, AS_OF, KPI)
    bands = t.drop_duplicates("band")
    assert bands["band_label"].tolist() == [
        "Overdue >90 days", "Overdue 61-90 days", "Overdue 31-60 days", "Overdue 1-30 days", "Due today",
        "Due in 1-3 days", "Due in 4-7 days", "Due in 8-10 days", "Due in 11-30 days", "Due in >30 days"]
    assert bands["band_label_zh"].tolist()[:5] == ["逾期90天以上", "逾期61-90天", "逾期31-60天", "逾期1-30天", "今天到期"]
    assert t.drop_duplicates("amount_band")["amount_label"].tolist() == ["< 10,000", "10,000 - 100,000", "≥ 100,000"]
    assert len(t) == 10 * 3 * 3  # the full grid, classes A, B, C
    hit = t[t["count"] > 0]
    cells = list(zip(hit["band"], hit["amount_band"], hit["class"], hit["count"], hit["amount_minor"]))
    assert cells == [               # I5 is written off: not in the table
        (2, 1, "A", 1, 1_500_000),     # I2, 40 days late, 15,000
        (3, 0, "B", 1, 300_000),       # I7 (C4 has no class: B), 19 days late
        (3, 1, "B", 1, 2_900_000),     # I3, 28 days late
        (6, 0, "B", 1, 800_000),       # I4, due in 4 days
        (8, 2, "C", 1, 15_000_000),    # I6, due in 14 days, 150,000
    ]


def test_warning_band_edges():
    inv = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount    |
| J1        | C1         | 2025-03-01  | 2025-03-31 | 10000.00  |
| J2        | C1         | 2025-03-01  | 2025-04-03 | 9999.99   |
| J3        | C2         | 2025-03-01  | 2025-05-01 | 100000.00 |
| J4        | C2         | 2025-01-01  | 2025-03-01 | 1.00      |
"""
    led, result, _ = run(invoices=inv, receipts="", activities="")
    t = warning_table(led, result, AS_OF, KpiSettings(due_bands=(3, 7)))
    hit = t[t["count"] > 0]
    assert hit["band_label"].tolist() == ["Overdue 1-30 days", "Due in 0-3 days", "Due in 0-3 days", "Due in >7 days"]
    assert hit["amount_band"].tolist() == [0, 0, 1, 2]  # J4, J2, J1 (10,000.00: a lower edge belongs above), J3


# ----------------------------------------------------------------------------- settings


def test_parse_kpi_settings_in_english_and_chinese():
    run_settings = Settings(base_currency="USD", aging_edges=(30, 60, 90, 180), aging_basis="invoice")
    s, issues = parse_kpi_settings({
        "逾期率目标": ("3%", "Settings!B20"), "DsoPeriod": ("3m", "Settings!B21"), "cei_period": (60, "Settings!B22"),
        "预警金额分段": ("5000，50000", "Settings!B23"), "WarningDueBands": ("0,7", "Settings!B24"),
        "TrendMonths": 6, "Other": ("x", "Settings!B30"),
    }, run_settings)
    assert issues == []
    assert s == KpiSettings(overdue_target=0.03, dso_period=(3, "m"), cei_period=(60, "d"), trend_months=6,
                            amount_bands=(5000, 50000), due_bands=(0, 7), base_currency="USD",
                            aging_edges=(30, 60, 90, 180), aging_basis="invoice")
    assert [k for k, *_ in KPI_SETTING_DEFAULTS][:3] == ["OverdueRatioTarget", "DsoPeriod", "CeiPeriod"]


def test_bad_kpi_settings_are_issues_and_keep_the_default():
    s, issues = parse_kpi_settings({
        "OverdueRatioTarget": ("150%", "Settings!B20"), "DsoPeriod": ("soon", "Settings!B21"),
        "WarningAmountBands": ("100000,10000", "Settings!B23"), "TrendMonths": ("-1", "Settings!B25"),
    })
    assert s == KpiSettings()
    assert [i.where for i in issues] == ["Settings!B20", "Settings!B21", "Settings!B23", "Settings!B25"]
    # 0 month-ends is allowed: no trend, for very large ledgers
    assert parse_kpi_settings({"TrendMonths": ("0", "Settings!B25")})[0].trend_months == 0
    assert 'DsoPeriod "soon" must be days (90) or months (3m); the default "90" is kept' == issues[1].message
    assert all(i.severity == "error" for i in issues)


# ----------------------------------------------------------------------------- properties

BASE_DAY = dt.date(2024, 10, 1)


@st.composite
def random_ledgers(draw):
    rows = [INVOICES_HEAD]
    n = draw(st.integers(1, 12))
    for i in range(n):
        day = BASE_DAY + dt.timedelta(days=draw(st.integers(0, 180)))
        amount = draw(st.integers(1, 20_000_000)) * draw(st.sampled_from([1, 1, 1, -1]))
        due = day + dt.timedelta(days=draw(st.integers(0, 90))) if amount > 0 else ""
        rows.append(invoice_row(i, draw(st.sampled_from(['C1', 'C2', 'C3'])), day, due, amount,
                                draw(st.sampled_from(['CNY', 'CNY', 'USD'])), draw(st.sampled_from(['', '', 'yes']))))
    rec = [RECEIPTS_HEAD]
    for r in range(draw(st.integers(0, 8))):
        day = BASE_DAY + dt.timedelta(days=draw(st.integers(0, 200)))
        named = draw(st.sampled_from(["", f"I{draw(st.integers(0, n - 1))}"]))
        rec.append(receipt_row(r, draw(st.sampled_from(['C1', 'C2', 'C3'])), day, draw(st.integers(1, 15_000_000)),
                               draw(st.sampled_from(['CNY', 'USD'])), named))
    as_of = BASE_DAY + dt.timedelta(days=draw(st.integers(30, 240)))
    amounts = tuple(sorted(draw(st.sets(st.integers(1, 200_000), min_size=1, max_size=3))))
    return "\n".join(rows), "\n".join(rec), as_of, amounts


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_ledgers())
def test_warning_amounts_add_up_and_the_trend_is_a_refresh_at_each_month_end(book):
    invoices, receipts, as_of, amounts = book
    cust = "| CustomerID | Class |\n| C1 | A |\n| C2 | |\n| C3 | C |"
    led = ledger(invoices, receipts, cust)
    result = refresh(led, Settings(), as_of)
    kpi = KpiSettings(trend_months=4, amount_bands=amounts)
    t = warning_table(led, result, as_of, kpi)
    assert int(t["amount_minor"].sum()) == result.tieouts["CNY"].open
    trend = aging_trend(led, result, kpi)
    buckets = trend[[f"b{i}" for i in range(5)]].to_numpy()
    assert (buckets.sum(axis=1) == trend["open_minor"].to_numpy()).all()
    for m, row in zip(trend["month_end"], buckets):
        then = refresh(led, Settings(), pd.Timestamp(m).date()).tieouts["CNY"]
        assert tuple(int(x) for x in row) == then.buckets
