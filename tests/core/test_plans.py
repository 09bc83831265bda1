"""Payment plans: milestone terms that add up exactly, and instalments tracked like promises."""

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from tables import d, ledger
from xl_ar.core.plans import (
    Instalment, Milestone, ScheduledAmount, TermsError, check_promises, events_from_text, instalment_plan,
    milestone_invoices, milestone_schedule, parse_terms, plan_activities, split_by_shares,
)
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings
from xl_ar.core.stages import assign_stages


def test_terms_in_english():
    assert parse_terms("30%@0,60%@acceptance+30,10%@365") == [
        Milestone(Decimal("30"), None, 0, "30%@0"),
        Milestone(Decimal("60"), "acceptance", 30, "60%@acceptance+30"),
        Milestone(Decimal("10"), None, 365, "10%@365"),
    ]


def test_terms_in_chinese_with_full_width_forms():
    ms = parse_terms("30%@0，60%＠验收+30；10％@质保期满")
    assert [(m.share, m.event, m.offset_days) for m in ms] == [
        (Decimal("30"), None, 0), (Decimal("60"), "acceptance", 30), (Decimal("10"), "warranty", 0)]
    ms = parse_terms("50%@签约, 40%@发货+10天, 10%@交付-5")
    assert [(m.event, m.offset_days) for m in ms] == [(None, 0), ("delivery", 10), ("delivery", -5)]


def test_a_schedule_by_hand():
    s = milestone_schedule(100_000_01, "30%@0,60%@acceptance+30,10%@365", d("2025-01-01"),
                           events={"验收": "2025-03-01"})
    # 10,000,001 minor units: 3,000,000.3 / 6,000,000.6 / 1,000,000.1 -> the one unit left
    # goes to the largest remainder (0.6, the acceptance milestone)
    assert s == [
        ScheduledAmount(d("2025-01-01"), 3_000_000, "30%@0"),
        ScheduledAmount(d("2025-03-31"), 6_000_001, "60%@acceptance+30"),
        ScheduledAmount(d("2026-01-01"), 1_000_000, "10%@365"),
    ]


def test_thirds_split_exactly_with_ties_to_the_earlier_terms():
    assert split_by_shares(100, [Decimal(1)] * 3) == [34, 33, 33]
    assert split_by_shares(-100, [Decimal(1)] * 3) == [-34, -33, -33]
    assert [s.amount_minor for s in milestone_schedule(200, "33.33%@0,33.33%@30,33.34%@60", d("2025-01-01"))] == [67, 66, 67]


@pytest.mark.parametrize("terms,message", [
    ("30%@0,60%@30", 'payment terms "30%@0,60%@30": the shares add up to 90%, not 100%'),
    ("60%@0,60%@30", "the shares add up to 120%, not 100%"),
    ("50%@0,abc", 'term 2 "abc" is not SHARE%@DAYS or SHARE%@EVENT+DAYS'),
    ("50%@0,50%", 'term 2 "50%" is not SHARE%@DAYS'),
    ("100%@", 'term 1 "100%@" is not'),
    ("0%@0,100%@30", 'term 1 "0%@0": the share must be more than 0%'),
    ("", "payment terms are blank"),
])
def test_bad_terms_give_clear_messages(terms, message):
    with pytest.raises(TermsError, match=None) as e:
        milestone_schedule(10_000, terms, d("2025-01-01"))
    assert message in str(e.value)


def test_an_event_without_a_date_names_the_term():
    with pytest.raises(TermsError) as e:
        milestone_schedule(10_000, "30%@0，70%@验收+30", d("2025-01-01"), events={"delivery": d("2025-02-01")})
    assert str(e.value) == ('term 2 "70%@验收+30" counts from acceptance (验收), whose date is not given; '
                            'pass it, e.g. "acceptance=2025-03-31"')
    with pytest.raises(TermsError, match='term 1 "100%@installation" counts from installation'):
        milestone_schedule(10_000, "100%@installation", d("2025-01-01"))


def test_event_dates_from_one_cell():
    assert events_from_text("acceptance=2025-03-01; 质保 = 2026-03-01，交付：2025-02-01") == {
        "acceptance": d("2025-03-01"), "warranty": d("2026-03-01"), "delivery": d("2025-02-01")}
    with pytest.raises(TermsError, match="is not NAME=DATE"):
        events_from_text("acceptance")
    with pytest.raises(TermsError, match='date of acceptance "soon" is not a date'):
        events_from_text("acceptance=soon")


def test_milestone_invoices_rows():
    rows = milestone_invoices("HT-9", "C1", 1_000_000, "30%@0,70%@delivery+15", d("2025-01-10"),
                              {"delivery": d("2025-02-01")}, terms_days=30)
    assert [(r["invoice_no"], r["invoice_date"], r["due_date"], r["amount"]) for r in rows] == [
        ("HT-9-1", d("2025-01-10"), d("2025-02-09"), Decimal("3000.00")),
        ("HT-9-2", d("2025-02-16"), d("2025-03-18"), Decimal("7000.00"))]
    assert rows[1]["contract_no"] == "HT-9" and rows[1]["description"] == "70%@delivery+15"


@st.composite
def terms(draw):
    n = draw(st.integers(1, 8))
    cuts = sorted(draw(st.lists(st.integers(1, 9999), min_size=n - 1, max_size=n - 1, unique=True)))
    shares = [b - a for a, b in zip([0, *cuts], [*cuts, 10000])]  # hundredths of a percent
    return ",".join(f"{Decimal(s) / 100}%@{draw(st.integers(0, 400))}" for s in shares)


@given(st.integers(-10**12, 10**12), terms())
def test_schedule_amounts_sum_exactly_to_the_total(total, text):
    s = milestone_schedule(total, text, d("2025-01-01"))
    assert sum(x.amount_minor for x in s) == total
    for m, x in zip(parse_terms(text), s):  # and no share is off by a whole unit
        assert abs(Decimal(x.amount_minor) - Decimal(total) * m.share / 100) < 1


def test_three_instalments_at_one_percent_by_hand():
    plan = instalment_plan(3_000_000, 3, 30, d("2025-07-01"))  # 30,000.00 at 1% on the balance
    assert plan == [
        Instalment(d("2025-07-01"), 1_000_000, 30_000, 1_030_000),   # 1% of 30,000.00
        Instalment(d("2025-07-31"), 1_000_000, 20_000, 1_020_000),   # 1% of 20,000.00
        Instalment(d("2025-08-30"), 1_000_000, 10_000, 1_010_000),   # 1% of 10,000.00
    ]
    assert [i.interest_minor for i in instalment_plan(3_000_000, 3, 30, d("2025-07-01"), method="flat")] == [30_000] * 3
    assert [i.interest_minor for i in instalment_plan(3_000_000, 3, 30, d("2025-07-01"), method="instalment")] == [10_000] * 3


def test_instalment_odd_units_rounding_and_annual_rates():
    plan = instalment_plan(1_000, 3, 7, d("2025-07-01"), rate="1.5%")
    assert [i.principal_minor for i in plan] == [334, 333, 333]
    assert [i.interest_minor for i in plan] == [15, 10, 5]  # 15.0, 9.99 -> 10, 4.995 -> 5 (half-up)
    yearly = instalment_plan(3_650_000, 2, 73, d("2025-07-01"), annual_rate=0.05)  # 1% per 73 days
    assert [i.interest_minor for i in yearly] == [36_500, 18_250]
    assert instalment_plan(500, 1, 1, d("2025-07-01"), rate=0) == [Instalment(d("2025-07-01"), 500, 0, 500)]


@pytest.mark.parametrize("kwargs,message", [
    ({"count": 0}, "number of instalments"), ({"interval_days": 0}, "interval"),
    ({"principal_minor": 0}, "more than zero"), ({"rate": -0.01}, "must not be negative"),
    ({"method": "compound"}, 'interest method "compound" is unknown'), ({"rate": "abc"}, 'rate "abc" is not a number'),
])
def test_bad_instalment_plans(kwargs, message):
    args = {"principal_minor": 1000, "count": 3, "interval_days": 30, "first_date": d("2025-07-01"), **kwargs}
    with pytest.raises(ValueError, match=message):
        instalment_plan(**args)


@given(st.integers(1, 10**12), st.integers(1, 60), st.sampled_from(["balance", "flat", "instalment"]))
def test_instalment_principal_sums_exactly(principal, count, method):
    plan = instalment_plan(principal, count, 30, d("2025-01-01"), method=method)
    assert sum(i.principal_minor for i in plan) == principal
    assert max(i.principal_minor for i in plan) - min(i.principal_minor for i in plan) <= 1
    assert all(i.total_minor == i.principal_minor + i.interest_minor for i in plan)


def test_plan_activities_rows():
    plan = instalment_plan(3_000_000, 3, 30, d("2025-07-01"))
    rows = plan_activities("C1", "I1", plan, d("2025-06-20"), "李会计", lang="zh")
    assert rows[0]["outcome"] == "分期协议" and rows[0]["promise_date"] is None
    assert rows[0]["note"] == "分期还款协议：共3期，本金 30,000.00，利息 600.00，首期 2025-07-01"
    assert [(r["promise_date"], r["promise_amount"]) for r in rows[1:]] == [
        (d("2025-07-01"), Decimal("10300.00")), (d("2025-07-31"), Decimal("10200.00")), (d("2025-08-30"), Decimal("10100.00"))]
    assert all(r["date"] == d("2025-06-20") and r["invoice_no"] == "I1" and r["by"] == "李会计" for r in rows)
    assert plan_activities("C1", "", plan, d("2025-06-20"), "Li")[0]["outcome"] == "agreement"


def _activities_table(rows) -> str:
    head = "| Date | CustomerID | InvoiceNo | By | Note | PromiseDate | PromiseAmount | Outcome |"
    body = [f"| {r['date']} | {r['customer_id']} | {r['invoice_no']} | {r['by']} | {r['note'].replace('|', '/')} | "
            f"{r['promise_date'] or ''} | {r['promise_amount'] or ''} | {r['outcome']} |" for r in rows]
    return "\n".join([head, *body])


CUSTOMERS = """
| CustomerID | Name | Owner |
| C1         | Acme | 李四  |
"""
INVOICE = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount   |
| I1        | C1         | 2025-03-01  | 2025-04-30 | 30000.00 |
"""


def test_instalments_are_tracked_like_promises():
    plan = instalment_plan(3_000_000, 3, 30, d("2025-07-01"))
    acts = _activities_table(plan_activities("C1", "I1", plan, d("2025-06-20"), "Li"))
    first_paid = """
| ReceiptNo | CustomerID | ReceiptDate | Amount   |
| R1        | C1         | 2025-06-30  | 10300.00 |
"""

    def stage(as_of, receipts=""):
        led = ledger(INVOICE, receipts, CUSTOMERS, activities=acts)
        return assign_stages(led, refresh(led, Settings(), as_of), as_of).iloc[0]

    # the plan holds the invoice until the first instalment's date
    row = stage(d("2025-06-25"))
    assert (row["stage"], row["promise_state"], str(row["next_action_date"])[:10]) == ("promised", "promised", "2025-07-01")
    # first instalment paid: held until the second
    row = stage(d("2025-07-05"), first_paid)
    assert (row["stage"], str(row["next_action_date"])[:10], row["broken_promises"]) == ("promised", "2025-07-31", 0)
    # second instalment missed: broken, escalated from severe (92 days) ... severe stays
    row = stage(d("2025-08-01"), first_paid)
    assert (row["stage"], row["promise_state"], row["broken_promises"]) == ("severe", "broken", 1)
    # first instalment missed: broken at once, although later instalments are still ahead
    row = stage(d("2025-07-02"))
    assert (row["promise_state"], row["broken_promises"]) == ("broken", 1)
    # paid in full on time, interest included: every instalment kept
    all_paid = first_paid + "| R2 | C1 | 2025-07-30 | 10200.00 |\n| R3 | C1 | 2025-08-29 | 10100.00 |"
    row = stage(d("2025-09-30"), all_paid)
    assert (row["stage"], row["promise_state"], row["broken_promises"]) == ("", "kept", 0)


def test_a_customer_level_plan_catching_up_clears_the_escalation():
    inv = INVOICE.replace("2025-04-30", "2025-06-10")
    plan = instalment_plan(3_000_000, 3, 30, d("2025-07-01"), rate=0)
    acts = _activities_table(plan_activities("C1", "", plan, d("2025-06-20"), "Li"))
    late = """
| ReceiptNo | CustomerID | ReceiptDate | Amount   |
| R1        | C1         | 2025-07-03  | 20000.00 |
"""
    led = ledger(inv, late, CUSTOMERS, activities=acts)
    as_of = d("2025-08-05")
    row = assign_stages(led, refresh(led, Settings(), as_of), as_of).iloc[0]
    # instalment 1 (07-01) was missed, instalment 2 (07-31) kept by the catch-up payment
    assert (row["stage"], row["promise_state"], row["broken_promises"]) == ("promised", "promised", 1)
    assert str(row["next_action_date"])[:10] == "2025-08-30"


def test_check_promises_lists_every_promise_for_the_promises_kept_measure():
    plan = instalment_plan(3_000_000, 3, 30, d("2025-07-01"))
    acts = _activities_table(plan_activities("C1", "I1", plan, d("2025-06-20"), "Li"))
    paid = "| ReceiptNo | CustomerID | ReceiptDate | Amount |\n| R1 | C1 | 2025-06-30 | 10300.00 |"
    led = ledger(INVOICE, paid, CUSTOMERS, activities=acts)
    as_of = d("2025-08-01")
    check = check_promises(led, refresh(led, Settings(), as_of), as_of)
    p = check.promises
    assert p["row"].tolist() == [3, 4, 5]  # the agreement row (2) is not a promise
    assert p["state"].tolist() == ["kept", "broken", "promised"]
    assert p["promised_minor"].tolist() == [1_030_000, 2_050_000, 3_000_000]  # running total, capped at the open 30,000.00
    assert p["received_minor"].tolist() == [1_030_000, 1_030_000, 1_030_000]
    assert check.invoices[["promise_state", "broken_promises"]].values.tolist() == [["broken", 1]]
