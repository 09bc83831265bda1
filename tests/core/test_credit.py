"""Credit control: payment behaviour, exposure, the source documents' limit and hold rules."""

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pandas as pd
from hypothesis import given, settings as hyp_settings, strategies as st

from tables import d, ledger
from xl_ar.core.credit import (
    CREDIT_SETTING_DEFAULTS, CreditSettings, assess_credit, available_credit, credit_limit, credit_score,
    grade_for, parse_credit_settings,
)
from xl_ar.core.issues import Issue
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings


def assess(led, as_of, cs=CreditSettings(), orders=None):
    return assess_credit(led, refresh(led, Settings(), as_of), as_of, cs, orders).set_index("customer_id")


def with_customer_columns(led, **cols):
    """The optional Customers columns, typed as validation will type them."""
    c = led.customers.copy()
    for name, values in cols.items():
        if name == "last_review":
            values = pd.to_datetime(pd.Series(values, dtype=object)).astype("datetime64[s]").to_numpy()
        c[name] = values
    return replace(led, customers=c)


def day(frame_value) -> str:
    return pd.Timestamp(frame_value).strftime("%Y-%m-%d")


# ----------------------------------------------------------------------------- behaviour

BEHAVIOUR = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount  |
| I1        | C1         | 2025-01-01  | 2025-01-31 | 1000.00 |
| I2        | C1         | 2025-01-10  | 2025-02-09 | 1000.00 |
| I3        | C1         | 2025-02-01  | 2025-03-03 | 1000.00 |
| I4        | C1         | 2025-03-01  | 2025-03-31 | 1000.00 |
"""
BEHAVIOUR_PAID = """
| ReceiptNo | CustomerID | ReceiptDate | Amount  | InvoiceNo |
| R1        | C1         | 2025-01-31  | 1000.00 | I1        |
| R2        | C1         | 2025-02-19  | 1000.00 | I2        |
| R3        | C1         | 2025-03-23  | 1000.00 | I3        |
"""
CUSTOMERS = """
| CustomerID | Name  | TermsDays | CreditLimit |
| C1         | Alpha | 30        | 100000      |
| C2         | Beta  | 30        | 5000        |
| C3         | Gamma | 30        |             |
"""


def test_average_days_late_and_on_time_rate_by_hand():
    out = assess(ledger(BEHAVIOUR, BEHAVIOUR_PAID, CUSTOMERS), d("2025-04-10"))
    c1 = out.loc["C1"]
    # I1 paid on its due date (0), I2 10 days late, I3 20 days late; I4 is open, 10 days late
    # so far, and counts too: (0 + 10 + 20 + 10) / 4
    assert c1["paid_count"] == 3 and c1["overdue_open_count"] == 1
    assert c1["avg_days_late"] == 10.0
    assert c1["on_time_rate"] == 1 / 4  # only I1, paid on the due date, was on time
    assert c1["early_streak"] == 0  # on the due date is on time, not early
    # customers without a paid invoice have no average, not zero
    assert np.isnan(out.loc["C2", "avg_days_late"]) and np.isnan(out.loc["C2", "on_time_rate"])
    assert out.loc["C2", "paid_count"] == 0
    assert out.index.tolist() == ["C1", "C2", "C3"]  # the Customers sheet's order


def test_the_as_of_date_decides_what_is_paid():
    out = assess(ledger(BEHAVIOUR, BEHAVIOUR_PAID, CUSTOMERS), d("2025-03-01"))
    # R3 (2025-03-23) does not exist yet: only I1 and I2 are paid
    assert out.loc["C1", "paid_count"] == 2 and out.loc["C1", "avg_days_late"] == 5.0


def test_exposure_available_and_over_limit():
    led = ledger("""
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount  | Currency | Disputed |
| B1        | C2         | 2025-03-01  | 2025-03-31 | 6000.00 |          | 是       |
| B2        | C2         | 2025-03-01  | 2025-03-31 | 100.00  | USD      |          |
| A1        | C1         | 2025-03-01  | 2025-03-31 | 1000.00 |          |          |
""", """
| ReceiptNo | CustomerID | ReceiptDate | Amount |
| R1        | C2         | 2025-03-05  | 500.00 |
""", CUSTOMERS)
    orders = pd.DataFrame({
        "customer_id": ["C2", "C2", "C2", "C1"],
        "amount_minor": [100_000, 200_000, 300_000, 50_000],
        "status": ["open", "Shipped", "已取消", ""],
    })
    out = assess(led, d("2025-04-10"), orders=orders)
    c2 = out.loc["C2"]
    # 6,000 open (disputed, so the receipt stays unapplied) - 500 unapplied + 1,000 open order;
    # the USD invoice is not converted: it is only counted aside.
    assert (c2["open_minor"], c2["unapplied_minor"], c2["orders_minor"]) == (600_000, 50_000, 100_000)
    assert c2["foreign_open_count"] == 1
    assert c2["exposure_minor"] == 650_000
    assert (c2["limit_minor"], c2["limit_source"]) == (500_000, "sheet")
    assert c2["available_minor"] == -150_000 and c2["over_limit"]
    c1 = out.loc["C1"]
    assert c1["exposure_minor"] == 150_000 and c1["available_minor"] == 10_000_000 - 150_000
    assert not c1["over_limit"]
    # with no orders frame at all, exposure is the open balance net of unapplied cash
    assert assess(led, d("2025-04-10")).loc["C2", "exposure_minor"] == 550_000


def test_orders_in_another_currency_or_after_the_as_of_date_do_not_count():
    led = ledger(customers=CUSTOMERS)
    orders = pd.DataFrame({"customer_id": ["C1", "C1", "C1"], "amount": [100.0, 200.0, 400.0],
                           "status": ["", "", "open"], "currency": ["USD", "", "CNY"],
                           "order_date": [d("2025-04-01"), d("2025-05-01"), None]})
    assert assess(led, d("2025-04-10"), orders=orders).loc["C1", "orders_minor"] == 40_000


# ----------------------------------------------------------------------------- limits

def streak_ledger(paid_on: list[str], customers: str = """
| CustomerID | Name  |
| C3         | Gamma |
"""):
    due = ["2024-07-01", "2024-07-31", "2024-08-31", "2024-10-01"]
    inv = "| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount |\n" + "\n".join(
        f"| E{i + 1} | C3 | {dt.date.fromisoformat(x) - dt.timedelta(days=30)} | {x} | 30000.00 |" for i, x in enumerate(due))
    rec = "| ReceiptNo | CustomerID | ReceiptDate | Amount | InvoiceNo |\n" + "\n".join(
        f"| R{i + 1} | C3 | {x} | 30000.00 | E{i + 1} |" for i, x in enumerate(paid_on))
    return ledger(inv, rec, customers)


EARLY = ["2024-06-25", "2024-07-20", "2024-08-30", "2024-09-15"]


def test_three_early_payments_in_a_row_raise_the_suggested_limit_by_15_percent():
    c3 = assess(streak_ledger(EARLY), d("2025-03-31")).loc["C3"]
    assert c3["early_streak"] == 4 and c3["avg_days_late"] == 0.0 and c3["on_time_rate"] == 1.0
    # score: days late 35 + on time 25 + disputes 10 + tenure 10*303/1095 + volume
    # 10*log(1+120000)/log(1+1000000) + utilisation (no limit: no data) 10*0.5 = 86.23
    assert (c3["score"], c3["grade"], c3["suggested_terms_days"]) == (86, "A", 90)
    # 120,000 over 12 months = 10,000 a month; grade A = 3 months = 30,000; +15% = 34,500;
    # rounded down to a multiple of 1,000
    assert c3["avg_monthly_sales_minor"] == 1_000_000
    assert c3["suggested_limit_minor"] == 3_400_000
    assert (c3["limit_minor"], c3["limit_source"]) == (3_400_000, "suggested")
    assert credit_limit(Decimal("10000"), 86, early_streak=4) == Decimal(34000)


def test_a_late_payment_breaks_the_streak():
    def c3(paid_on):  # grade A fixed by hand, so only the streak moves the limit
        led = with_customer_columns(streak_ledger(paid_on), manual_grade=["A"])
        return assess(led, d("2025-03-31")).loc["C3"]

    last_late = c3(EARLY[:3] + ["2024-10-05"])
    assert last_late["early_streak"] == 0 and last_late["suggested_limit_minor"] == 3_000_000
    middle_late = c3([EARLY[0], "2024-08-05", *EARLY[2:]])
    assert middle_late["early_streak"] == 2 and middle_late["suggested_limit_minor"] == 3_000_000
    # the streak counts in the order invoices were cleared, not the order they were issued:
    # E1 cleared last (late), so the three early ones before it do not count
    assert c3(["2024-10-20", *EARLY[1:]])["early_streak"] == 0
    # and a late payment costs grade A its place: 1 day late on average, 3 of 4 on time
    assert assess(streak_ledger(EARLY[:3] + ["2024-10-05"]), d("2025-03-31")).loc["C3", "grade"] == "B"


def test_the_streak_threshold_is_a_setting():
    cs = CreditSettings(early_streak=5)
    assert assess(streak_ledger(EARLY), d("2025-03-31"), cs).loc["C3", "suggested_limit_minor"] == 3_000_000


def test_average_monthly_sales_are_net_base_currency_and_within_the_window():
    led = ledger("""
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount    | Currency |
| OLD       | C3         | 2024-03-31  | 2024-04-30 | 99000.00  |          |
| S1        | C3         | 2024-04-01  | 2024-05-01 | 13000.00  |          |
| CN1       | C3         | 2024-05-01  |            | -1000.00  |          |
| U1        | C3         | 2024-06-01  | 2024-07-01 | 50000.00  | USD      |
| LATER     | C3         | 2025-04-01  | 2025-05-01 | 50000.00  |          |
""", customers=CUSTOMERS)
    # the window is (2024-03-31, 2025-03-31]: 13,000 - 1,000 = 12,000 = 1,000 a month
    assert assess(led, d("2025-03-31")).loc["C3", "avg_monthly_sales_minor"] == 100_000


def test_manual_overrides_win():
    led = with_customer_columns(ledger(BEHAVIOUR, BEHAVIOUR_PAID, CUSTOMERS),
                                manual_limit=[7000.0, np.nan, np.nan], manual_grade=["d", "", "X"])
    out = assess(led, d("2025-04-10"))
    assert (out.loc["C1", "limit_minor"], out.loc["C1", "limit_source"]) == (700_000, "manual")
    assert out.loc["C1", "available_minor"] == 700_000 - 100_000
    assert (out.loc["C1", "grade"], out.loc["C1", "suggested_terms_days"]) == ("D", 0)
    assert out.loc["C2", "limit_source"] == "sheet"
    assert out.loc["C3", "grade"] == grade_for(out.loc["C3", "score"])  # "X" is not a grade: ignored


def test_negative_news_lowers_the_limit_at_once():
    customers = """
| CustomerID | Name  | CreditLimit |
| N1         | Big   | 1000000     |
| N2         | Kept  | 1000000     |
| C3         | Gamma |             |
"""
    led = with_customer_columns(streak_ledger(EARLY, customers), negative_news=[True, True, "是"],
                                manual_limit=[np.nan, 800000.0, np.nan])
    out = assess(led, d("2025-03-31"))
    assert out.loc["N1", "limit_minor"] == 30_000_000  # 1,000,000 -> 300,000 (docs/domain.md)
    assert out.loc["N2", "limit_minor"] == 80_000_000  # a manual limit is the controller's decision
    # 30,000 x 1.15 x 0.3 = 10,350, rounded down
    assert out.loc["C3", "suggested_limit_minor"] == 1_000_000
    assert credit_limit(10000, "A", early_streak=3, negative_news=True) == Decimal(10000)
    factor = CreditSettings(negative_news_factor=Decimal("0.5"))
    assert assess(led, d("2025-03-31"), factor).loc["N1", "limit_minor"] == 50_000_000


# ----------------------------------------------------------------------------- hold

HOLD = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount  | Disputed |
| H1        | C1         | 2025-03-01  | 2025-03-31 | 1000.00 |          |
| H2        | C2         | 2025-03-01  | 2025-03-31 | 1000.00 |          |
| H3        | C2         | 2025-03-01  | 2025-03-20 | 1000.00 |          |
| H4        | C3         | 2025-03-01  | 2025-03-01 | 1000.00 | yes      |
"""


def test_an_invoice_more_than_15_days_overdue_holds_the_customer():
    out = assess(ledger(HOLD, customers=CUSTOMERS), d("2025-04-16"))
    assert out.loc["C1", "hold"]
    assert out.loc["C1", "hold_reason"] == "H1 overdue 16 days > 15"
    assert out.loc["C1", "hold_reason_zh"] == "H1 逾期 16 天，超过 15 天"
    # the reason names the worst invoice
    assert out.loc["C2", "hold_reason"] == "H3 overdue 27 days > 15 (and 1 more)"
    assert out.loc["C2", "hold_reason_zh"] == "H3 逾期 27 天，超过 15 天（另有 1 张逾期发票）"
    # a disputed invoice does not hold the customer unless the setting says so
    assert not out.loc["C3", "hold"] and out.loc["C3", "hold_reason"] == ""
    held = assess(ledger(HOLD, customers=CUSTOMERS), d("2025-04-16"), CreditSettings(hold_includes_disputed=True))
    assert held.loc["C3", "hold_reason"] == "H4 overdue 46 days > 15"


def test_15_days_overdue_is_not_yet_a_hold():
    out = assess(ledger(HOLD, customers=CUSTOMERS), d("2025-04-15"))
    assert not out.loc["C1", "hold"] and out.loc["C1", "hold_reason"] == ""
    assert assess(ledger(HOLD, customers=CUSTOMERS), d("2025-04-15"), CreditSettings(hold_days=14)).loc["C1", "hold"]


def test_the_hold_lasts_until_the_invoice_is_paid():
    part = ledger(HOLD, """
| ReceiptNo | CustomerID | ReceiptDate | Amount  | InvoiceNo |
| R1        | C1         | 2025-04-18  | 400.00  | H1        |
| R2        | C1         | 2025-04-25  | 600.00  | H1        |
""", CUSTOMERS)
    assert assess(part, d("2025-04-20")).loc["C1", "hold"]  # part-paid is still unpaid
    assert not assess(part, d("2025-04-25")).loc["C1", "hold"]


def test_manual_hold_no_lifts_and_yes_forces():
    led = with_customer_columns(ledger(HOLD, customers=CUSTOMERS), manual_hold=["no", "", "是"])
    out = assess(led, d("2025-04-16"))
    assert not out.loc["C1", "hold"] and out.loc["C1", "hold_reason"] == ""
    assert out.loc["C2", "hold"]  # blank: the automatic rule
    assert out.loc["C3", "hold"] and out.loc["C3", "hold_reason"] == "manual hold (ManualHold = yes)"
    assert out.loc["C3", "hold_reason_zh"] == "人工冻结（ManualHold = 是）"
    # a yes/no column typed as bool cannot hold a blank: False must not lift a hold
    typed = with_customer_columns(ledger(HOLD, customers=CUSTOMERS), manual_hold=np.array([False, False, True]))
    assert assess(typed, d("2025-04-16"))["hold"].tolist() == [True, True, True]


# ----------------------------------------------------------------------------- review

def test_next_review_is_a_quarter_after_the_last_review():
    led = with_customer_columns(ledger(customers=CUSTOMERS),
                                last_review=[d("2024-11-30"), d("2025-01-31"), None])
    out = assess(led, d("2025-03-15"))
    assert day(out.loc["C1", "next_review"]) == "2025-02-28"  # the day is clipped to the month's end
    assert out.loc["C1", "review_due"]
    assert day(out.loc["C2", "next_review"]) == "2025-04-30" and not out.loc["C2", "review_due"]
    # never reviewed: due at the as-of date
    assert day(out.loc["C3", "next_review"]) == "2025-03-15" and out.loc["C3", "review_due"]
    half = assess(led, d("2025-03-15"), CreditSettings(review_months=6))
    assert day(half.loc["C2", "next_review"]) == "2025-07-31"


def test_optional_customer_columns_may_be_absent():
    out = assess(ledger(BEHAVIOUR, BEHAVIOUR_PAID, "| CustomerID |\n| C1 |"), d("2025-04-10"))
    assert out.loc["C1", "limit_source"] == "suggested" and not out.loc["C1", "hold"]


# ----------------------------------------------------------------------------- settings

def test_settings_are_read_from_the_settings_sheet():
    cs, issues = parse_credit_settings({
        "CreditHoldDays": (20, "Settings!B12"),
        "CreditEarlyRaise": ("abc", "Settings!B13"),
        "信用等级分数线": ("A=90, B=70, C=40", "Settings!B14"),
        "credit review months": (6, "Settings!B15"),
        "CreditScoreWeights": ("days_late=50；volume=0", "Settings!B16"),
        "CreditTermsByGrade": ("D=7", "Settings!B17"),
        "CreditNegativeNewsFactor": ("30%", "Settings!B18"),
        "CreditLimitMonths": ("", "Settings!B19"),
        "MyOwnNote": ("anything", "Settings!B20"),
    })
    assert issues == [Issue("Settings!B13", 'CreditEarlyRaise "abc" is not a number; the default "0.15" is kept')]
    assert cs.hold_days == 20 and cs.early_raise == Decimal("0.15") and cs.review_months == 6
    assert cs.grade_cutoffs == {"A": 90.0, "B": 70.0, "C": 40.0}
    assert cs.weights["days_late"] == 50 and cs.weights["volume"] == 0 and cs.weights["on_time"] == 25
    assert cs.terms_days == {"A": 90, "B": 60, "C": 30, "D": 7}
    assert cs.negative_news_factor == Decimal("0.3")
    assert cs.limit_months == CreditSettings().limit_months  # blank keeps the default


def test_bad_settings_name_their_place_and_keep_the_default():
    cs, issues = parse_credit_settings({
        "CreditGradeCutoffs": ("A=50,B=60,C=40", "Settings!B3"),
        "CreditScoreWeights": ("speed=10", "Settings!B4"),
        "CreditHoldDays": (2.5, "Settings!B5"),
        "CreditLimitRounding": (0, "Settings!B6"),
    })
    assert [i.where for i in issues] == ["Settings!B3", "Settings!B4", "Settings!B5", "Settings!B6"]
    assert all(i.severity == "error" for i in issues)
    assert "100 >= A > B > C >= 0" in issues[0].message and '"speed=10"' in issues[1].message
    assert cs == CreditSettings()


def test_the_defaults_table_parses_to_the_default_settings():
    pairs = {k: (v, f"Settings!B{i}") for i, (k, v, *_) in enumerate(CREDIT_SETTING_DEFAULTS, 2)}
    cs, issues = parse_credit_settings(pairs)
    assert issues == [] and cs == CreditSettings()
    # bare values, as Settings.extra holds them, are accepted too
    cs, issues = parse_credit_settings({"CreditHoldDays": "30", "CreditLimitFixed": "A=500000,D=0"})
    assert cs.hold_days == 30 and cs.limit_fixed["A"] == 500000 and cs.limit_fixed["B"] == 0 and not issues
    assert credit_limit(0, "A", settings=cs) == Decimal(500000)


# ----------------------------------------------------------------------------- score and UDFs

def test_score_formula_and_grades_by_hand():
    # factors: late 30/60 -> 0.5; on time 0.5; no disputes 1; tenure 1.5 of 3 years 0.5;
    # no volume 0; utilisation 75% between 50% and 100% -> 0.5
    # 35*0.5 + 25*0.5 + 10*1 + 10*0.5 + 10*0 + 10*0.5 = 50
    assert credit_score(30, 0.5, 0.0, 365 * 1.5, 0, 0.75) == 50
    assert grade_for(50) == "C" and grade_for(49) == "D" and grade_for(80) == "A" and grade_for(79) == "B"
    assert credit_score(0, 1.0, 0.0, 3650, 10**9, 0.1) == 100
    assert credit_score(365, 0.0, 1.0, 0, 0, 5.0) == 0


def test_udf_functions_are_exact():
    assert credit_limit(12345.67, 70) == Decimal(24000)  # grade B: 2 x 12,345.67 = 24,691.34
    assert credit_limit("12345.67", 10) == Decimal(0)  # grade D: cash only
    assert available_credit(100000, 123456.78) == Decimal("-23456.78")
    assert available_credit(0.1, 0.2) == Decimal("-0.1")


late = st.floats(0, 400, allow_nan=False)
share = st.floats(0, 1, allow_nan=False)
maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731


@hyp_settings(max_examples=300, deadline=None)
@given(late, late, maybe(share), maybe(share), st.floats(0, 5000), st.floats(0, 1e8), maybe(st.floats(0, 3)))
def test_more_days_late_never_raises_the_score(a, b, on_time, disputes, tenure, volume, util):
    lo, hi = sorted((a, b))
    assert credit_score(hi, on_time, disputes, tenure, volume, util) <= credit_score(lo, on_time, disputes, tenure, volume, util)


@hyp_settings(max_examples=300, deadline=None)
@given(share, share, maybe(late), maybe(share), st.floats(0, 5000), st.floats(0, 1e8), maybe(st.floats(0, 3)))
def test_a_higher_on_time_share_never_lowers_the_score(a, b, avg_late, disputes, tenure, volume, util):
    lo, hi = sorted((a, b))
    assert credit_score(avg_late, hi, disputes, tenure, volume, util) >= credit_score(avg_late, lo, disputes, tenure, volume, util)


@hyp_settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-20, 40), min_size=1, max_size=4), st.integers(0, 3), st.integers(1, 30))
def test_paying_later_never_raises_the_score(offsets, which, delay):
    """Delaying one receipt makes nothing paid earlier: the score cannot go up."""
    which %= len(offsets)
    due = [dt.date(2024, 7, 1) + dt.timedelta(days=30 * i) for i in range(len(offsets))]
    paid = [x + dt.timedelta(days=o) for x, o in zip(due, offsets)]
    later = [p + dt.timedelta(days=delay) if i == which else p for i, p in enumerate(paid)]
    scores = []
    for dates in (paid, later):
        inv = "| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount |\n" + "\n".join(
            f"| E{i} | C3 | {x - dt.timedelta(days=30)} | {x} | 1000.00 |" for i, x in enumerate(due))
        rec = "| ReceiptNo | CustomerID | ReceiptDate | Amount |\n" + "\n".join(
            f"| R{i} | C3 | {p} | 1000.00 |" for i, p in enumerate(dates))
        scores.append(assess(ledger(inv, rec, "| CustomerID |\n| C3 |"), d("2025-06-30")).loc["C3", "score"])
    assert scores[1] <= scores[0]


# ----------------------------------------------------------------------------- as the sources say

STREAK3 = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount  |
| E1        | C1         | 2025-01-01  | 2025-01-31 | 4000.00 |
| E2        | C1         | 2025-02-01  | 2025-03-03 | 4000.00 |
| E3        | C1         | 2025-03-01  | 2025-03-31 | 3000.00 |
"""
STREAK_PAID = """
| ReceiptNo | CustomerID | ReceiptDate | Amount  | InvoiceNo |
| R1        | C1         | 2025-01-20  | 4000.00 | E1        |
| R2        | C1         | 2025-02-20  | 4000.00 | E2        |
| R3        | C1         | 2025-03-20  | 3000.00 | E3        |
"""


def test_three_early_payments_raise_the_granted_limit_by_15_percent():
    customers = "| CustomerID | CreditLimit |\n| C1 | 50000 |\n| C2 | |"
    c1 = assess(ledger(STREAK3, STREAK_PAID, customers), d("2025-04-10")).loc["C1"]
    assert c1["early_streak"] == 3
    # 50,000 × 1.15 = 57,500.00 exactly (not the grade's 11,000 from 11,000 of sales a year)
    assert c1["suggested_limit_minor"] == 5_750_000
    assert c1["limit_reason"] == "3 invoices paid early in a row: granted limit +15%"
    assert c1["limit_reason_zh"] == "连续 3 张发票提前付款：核定额度上调 15%"
    assert c1["limit_minor"] == 5_000_000  # the granted limit stays in force until someone raises it


def test_the_proposal_keeps_the_granted_limit_unless_a_rule_cuts_it():
    customers = "| CustomerID | CreditLimit |\n| C1 | 50000 |"
    late_paid = STREAK_PAID.replace("2025-01-20", "2025-02-05")  # E1 paid late: no streak of 3
    c1 = assess(ledger(STREAK3, late_paid, customers), d("2025-04-10")).loc["C1"]
    # the grade's limit is far lower, but nothing says to cut: the granted limit is proposed
    assert (c1["suggested_limit_minor"], c1["limit_reason"]) == (5_000_000, "granted limit kept")
    led = with_customer_columns(ledger(STREAK3, late_paid, customers), negative_news=[True])
    c1 = assess(led, d("2025-04-10")).loc["C1"]
    assert (c1["suggested_limit_minor"], c1["limit_reason"]) == (1_500_000, "negative news: × 0.3")


def test_a_hold_cuts_the_proposal_to_the_grade_limit_with_its_reason():
    invoices = STREAK3 + "| E4 | C1 | 2025-03-01 | 2025-03-10 | 2000.00 |\n"
    customers = "| CustomerID | CreditLimit |\n| C1 | 50000 |"
    c1 = assess(ledger(invoices, STREAK_PAID, customers), d("2025-04-10")).loc["C1"]
    assert c1["hold"]  # E4 31 days overdue
    assert c1["suggested_limit_minor"] < 5_000_000
    assert c1["limit_reason"].endswith(f"on hold: cut to the grade {c1['grade']} limit")


def test_open_overdue_items_and_write_offs_lower_the_score():
    customers = "| CustomerID |\n| C1 |"
    paid = assess(ledger(STREAK3, STREAK_PAID, customers), d("2025-06-30")).loc["C1"]
    # the same customer with E3 never paid: 91 days late at the as-of date
    unpaid = assess(ledger(STREAK3, STREAK_PAID.replace("| R3        | C1         | 2025-03-20  | 3000.00 | E3        |", ""),
                           customers), d("2025-06-30")).loc["C1"]
    assert (unpaid["overdue_open_count"], unpaid["avg_days_late"], unpaid["on_time_rate"]) == (1, 91 / 3, 2 / 3)
    assert unpaid["score"] < paid["score"]
    # written off on 2025-05-30 (60 days late then): closed, no longer overdue, still counted
    acts = "| Date | CustomerID | InvoiceNo | Outcome |\n| 2025-05-30 | C1 | E3 | 坏账 |"
    led = ledger(STREAK3, STREAK_PAID.replace("| R3        | C1         | 2025-03-20  | 3000.00 | E3        |", ""),
                 customers, activities=acts)
    wo = assess(led, d("2025-06-30")).loc["C1"]
    assert (wo["overdue_open_count"], wo["written_off_count"], wo["avg_days_late"], wo["on_time_rate"]) == (
        0, 1, 60 / 3, 2 / 3)
    assert wo["score"] < paid["score"] and wo["open_minor"] == 0
