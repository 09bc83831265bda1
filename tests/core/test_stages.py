"""Collection stages: the rules of docs/domain.md sections 3-4, promises, disputes and write-offs,
all computed from the ledger at the as-of date with no state between runs."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tables import d, ledger
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings
from xl_ar.core.stages import (
    DEFAULT_STAGE_RULES, DEFAULT_STAGES_ROWS, STAGE_TABLE_COLUMNS, StageRule, assign_stages,
    owners_from_settings, per_stage_counts, stage_for, stage_rules_from_table,
)

AS_OF = d("2025-06-30")
CUSTOMERS = """
| CustomerID | Name  | Class | Owner |
| CA         | Alpha | A     | 张三  |
| CB         | Beta  | B     | 李四  |
| CC         | Gamma | C     |       |
| CX         | Xeno  |       | 王五  |
"""


def day(offset: int) -> dt.date:
    return AS_OF + dt.timedelta(days=offset)


def stages(invoices, receipts="", activities="", as_of=AS_OF, rules=DEFAULT_STAGE_RULES, owners=None):
    led = ledger(invoices, receipts, CUSTOMERS, activities=activities)
    return assign_stages(led, refresh(led, Settings(), as_of), as_of, rules, owners)


def one(days_late, cust="CB", amount="1000.00", rules=DEFAULT_STAGE_RULES, owners=None, **kw):
    due = day(-days_late)
    inv = f"""
| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount   |
| I1        | {cust}     | {due - dt.timedelta(days=200)} | {due} | {amount} |
"""
    return stages(inv, rules=rules, owners=owners, **kw).iloc[0]


def as_date(value) -> dt.date | None:
    return None if pd.isna(value) else pd.Timestamp(value).date()


# (days late, class) -> stage, channel, owner, next action's stage, next action date (days from as-of)
@pytest.mark.parametrize("days_late,cust,stage,channel,owner,next_from,next_in", [
    # class A: the sales director personally, from 7 days before the due date
    (-8, "CA", "", "phone", "sales director", "A", 1),
    (-7, "CA", "pre_due", "phone", "sales director", "A", 0),
    (-6, "CA", "pre_due", "email", "张三", "due", 6),  # next: the due-date reminder
    # class B: the account manager (the customer's Owner) e-mails a letter, 3 days before
    (-4, "CB", "", "email", "李四", "B", 1),
    (-3, "CB", "pre_due", "email", "李四", "B", 0),
    (-1, "CB", "pre_due", "email", "李四", "due", 1),
    # class C: an automatic SMS 10 days before
    (-11, "CC", "", "sms", "customer service", "C", 1),
    (-10, "CC", "pre_due", "sms", "customer service", "C", 0),
    # no class: treated as B (ordinary)
    (-3, "CX", "pre_due", "email", "王五", "B", 0),
    # the due date, then mild (sales = the customer's owner), moderate (finance), severe
    (0, "CB", "due", "email", "李四", "due", 0),
    (1, "CB", "mild", "phone", "李四", "mild", 0),
    (2, "CB", "mild", "phone", "李四", "mild", 6),      # weekly from day 1: day 8
    (30, "CB", "mild", "letter", "finance", "moderate", 1),  # moderate starts tomorrow
    (31, "CB", "moderate", "letter", "finance", "moderate", 0),
    (45, "CB", "moderate", "letter", "finance", "moderate", 0),  # every 14 days from day 31
    (46, "CB", "moderate", "letter", "finance", "moderate", 13),
    (90, "CB", "moderate", "legal", "management/legal", "severe", 1),
    (91, "CB", "severe", "legal", "management/legal", "severe", 0),
    (400, "CB", "severe", "legal", "management/legal", "severe", 21),  # monthly from day 91: 421
])
def test_default_stage_boundaries(days_late, cust, stage, channel, owner, next_from, next_in):
    row = one(days_late, cust)
    assert row["stage"] == stage
    assert row["channel"] == channel
    assert row["owner"] == owner
    expected = {"A": DEFAULT_STAGE_RULES[0], "B": DEFAULT_STAGE_RULES[1], "C": DEFAULT_STAGE_RULES[2]}.get(
        next_from) or next(r for r in DEFAULT_STAGE_RULES if r.stage == next_from)
    assert row["next_action"] == expected.action and row["next_action_zh"] == expected.action_zh
    assert as_date(row["next_action_date"]) == day(next_in)


def test_labels_in_both_languages():
    row = one(45)
    assert (row["stage_label"], row["stage_label_zh"]) == ("Moderate", "中度")
    assert row["owner_zh"] == "财务"
    assert one(1)["stage_label_zh"] == "轻度" and one(91)["stage_label_zh"] == "严重"


def test_owners_mapping_names_people_for_roles():
    owners = {"finance": "王会计", "管理层/法务": "赵律师"}
    assert one(45, owners=owners)["owner"] == "王会计"
    assert one(100, owners=owners)["owner_zh"] == "赵律师"
    assert one(5, owners=owners)["owner"] == "李四"  # the customer's own owner comes first
    assert one(5, "CC", owners={"sales": "客服小陈"})["owner"] == "客服小陈"  # CC has no owner
    assert one(5, "CC")["owner"] == "sales"
    assert owners_from_settings({"Owner.finance": "王会计", "负责人：法务": "赵律师", "Other": "x"}) == {
        "finance": "王会计", "management/legal": "赵律师"}


CUSTOM = [
    StageRule("mild", 1, 30, owner_role="account manager", channel="phone"),
    StageRule("big", 1, 30, min_amount_minor=10_000_000, owner_role="finance", channel="visit"),
    StageRule("vip", 1, 30, classes=("A",), owner_role="sales director", channel="visit"),
    StageRule("late", 31, None, owner_role="collector", channel="letter", follow_up_days=10),
]


@pytest.mark.parametrize("cust,amount,stage", [
    ("CB", "1000.00", "mild"), ("CB", "99999.99", "mild"), ("CB", "100000.00", "big"), ("CB", "250000.00", "big"),
    ("CA", "1000.00", "vip"), ("CA", "250000.00", "vip"),  # a class filter is more specific than an amount
])
def test_custom_rules_amount_threshold_and_class(cust, amount, stage):
    assert one(5, cust, amount, rules=CUSTOM)["stage"] == stage
    assert stage_for(5, int(float(amount) * 100), cust[1], CUSTOM).stage == stage


def test_custom_rules_leave_not_due_items_alone_and_use_their_cadence():
    assert one(-5, rules=CUSTOM)["stage"] == ""
    row = one(35, rules=CUSTOM)
    assert (row["stage"], row["owner"]) == ("late", "collector")
    assert as_date(row["next_action_date"]) == day(6)  # every 10 days from day 31: day 41


def test_a_gap_in_user_rules_falls_back_to_an_owned_overdue_stage():
    rules = [StageRule("mild", 1, 30)]
    row = one(40, rules=rules)
    # weekly from day 1: day 43
    assert row["stage"] == "overdue" and row["owner"] == "李四" and as_date(row["next_action_date"]) == day(3)


def test_stage_for_scalar():
    assert stage_for(-7, None, "A").stage == "pre_due"
    assert stage_for(-7, None, "B") is None
    assert stage_for(-3, None, None).channel == "email"  # no class: B
    assert [stage_for(n).stage for n in (0, 1, 30, 31, 90, 91, 5000)] == [
        "due", "mild", "mild", "moderate", "moderate", "severe", "severe"]
    assert stage_for(5, None, "B", CUSTOM).stage == "mild"  # unknown amount: no threshold rule


INVOICE = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount   |
| I1        | CB         | 2025-04-01  | 2025-06-05 | 10000.00 |
"""
PROMISE = """
| Date       | CustomerID | InvoiceNo | PromiseDate | PromiseAmount |
| 2025-06-10 | CB         | I1        | 2025-06-20  | 5000.00       |
"""


def test_a_pending_promise_holds_the_invoice_until_its_date():
    for as_of in (d("2025-06-10"), d("2025-06-20")):  # inclusive
        row = stages(INVOICE, activities=PROMISE, as_of=as_of).iloc[0]
        assert (row["stage"], row["promise_state"]) == ("promised", "promised")
        assert as_date(row["next_action_date"]) == d("2025-06-20")
        assert row["owner"] == "李四" and row["broken_promises"] == 0
    # a promise logged after the as-of date does not exist yet
    assert stages(INVOICE, activities=PROMISE, as_of=d("2025-06-09")).iloc[0]["stage"] == "mild"


def test_a_kept_promise():
    paid = """
| ReceiptNo | CustomerID | ReceiptDate | Amount  |
| R1        | CB         | 2025-06-18  | 5000.00 |
"""
    row = stages(INVOICE, paid, PROMISE, as_of=d("2025-06-25")).iloc[0]
    assert (row["stage"], row["promise_state"], row["broken_promises"]) == ("mild", "kept", 0)


@pytest.mark.parametrize("receipts", [
    "",  # nothing paid
    "| ReceiptNo | CustomerID | ReceiptDate | Amount |\n| R1 | CB | 2025-06-18 | 4999.99 |",  # too little
    "| ReceiptNo | CustomerID | ReceiptDate | Amount |\n| R1 | CB | 2025-06-21 | 5000.00 |",  # too late
])
def test_a_broken_promise_escalates_one_stage_and_is_counted(receipts):
    row = stages(INVOICE, receipts, PROMISE, as_of=d("2025-06-25")).iloc[0]
    # 20 days late is mild by the calendar; the broken promise makes it moderate, acted on
    # from the day after the promise date, every 14 days: 06-21, then 07-05 (after as-of)...
    assert (row["stage"], row["promise_state"], row["broken_promises"]) == ("moderate", "broken", 1)
    assert row["owner"] == "finance"
    # ...but on 07-06 (day 31) the calendar says moderate, so the item becomes severe first
    assert as_date(row["next_action_date"]) == d("2025-07-05")
    assert as_date(row["promise_date"]) == d("2025-06-20")
    on_day_31 = stages(INVOICE, receipts, PROMISE, as_of=d("2025-07-06")).iloc[0]
    assert on_day_31["stage"] == "severe"
    assert stages(INVOICE, receipts, PROMISE, as_of=d("2025-06-21")).iloc[0]["next_action_date"] == pd.Timestamp("2025-06-21")


def test_severe_stays_severe_when_a_promise_breaks():
    inv = INVOICE.replace("2025-06-05", "2025-02-01").replace("2025-04-01", "2025-01-01")
    row = stages(inv, activities=PROMISE, as_of=d("2025-06-25")).iloc[0]
    assert (row["stage"], row["broken_promises"]) == ("severe", 1)


def test_a_new_promise_after_a_broken_one_holds_again_but_the_break_is_counted():
    acts = PROMISE + "| 2025-06-26 | CB | I1 | 2025-07-05 | 5000.00 |\n"
    row = stages(INVOICE, activities=acts, as_of=d("2025-06-30")).iloc[0]
    assert (row["stage"], row["promise_state"], row["broken_promises"]) == ("promised", "promised", 1)
    assert as_date(row["next_action_date"]) == d("2025-07-05")


CUSTOMER_INVOICES = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount  |
| I1        | CB         | 2025-03-01  | 2025-04-30 | 2000.00 |
| I2        | CB         | 2025-04-01  | 2025-05-31 | 3000.00 |
| I3        | CB         | 2025-05-01  | 2025-06-20 | 5000.00 |
"""
CUSTOMER_PROMISE = """
| Date       | CustomerID | InvoiceNo | PromiseDate | PromiseAmount |
| 2025-06-01 | CB         |           | 2025-06-15  | 4000.00       |
"""


def test_a_customer_promise_covers_the_oldest_overdue_invoices_its_amount_reaches():
    s = stages(CUSTOMER_INVOICES, activities=CUSTOMER_PROMISE, as_of=d("2025-06-10"))
    # 4,000 reaches I1 (2,000) and I2 (running total 5,000): both held; I3 is not covered
    assert s["stage"].tolist() == ["promised", "promised", ""]
    assert s["promise_state"].tolist() == ["promised", "promised", ""]


def test_a_customer_promise_kept_by_any_receipt_of_the_customer():
    paid = """
| ReceiptNo | CustomerID | ReceiptDate | Amount  |
| R1        | CB         | 2025-06-14  | 4000.00 |
"""
    s = stages(CUSTOMER_INVOICES, paid, CUSTOMER_PROMISE, as_of=d("2025-06-30"))
    assert s["promise_state"].tolist() == ["kept", "kept", ""]
    assert s["stage"].tolist() == ["", "mild", "mild"]  # I1 paid; I2 30 days and I3 10 days late


def test_a_broken_customer_promise_escalates_every_invoice_it_covered():
    s = stages(CUSTOMER_INVOICES, activities=CUSTOMER_PROMISE, as_of=d("2025-06-30"))
    assert s["stage"].tolist() == ["severe", "moderate", "mild"]  # 61 -> severe, 30 -> moderate
    assert s["broken_promises"].tolist() == [1, 1, 0]


def test_a_disputed_invoice_is_not_dunned_but_stays_in_the_aging():
    inv = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount  | Disputed |
| I1        | CB         | 2025-04-01  | 2025-05-16 | 1000.00 | 是       |
"""
    led = ledger(inv, customers=CUSTOMERS)
    res = refresh(led, Settings(), AS_OF)
    row = assign_stages(led, res, AS_OF).iloc[0]
    assert (row["stage"], row["stage_label_zh"]) == ("disputed", "争议中")
    assert row["next_action"].startswith("Resolve the dispute") and row["owner"] == "李四"
    # reviewed weekly on the due date's weekday: 45 days late -> in 4 days (day 49)
    assert as_date(row["next_action_date"]) == day(4)
    assert res.invoices["open_minor"].iat[0] == 100_000 and res.aging["disputed"].iat[0] == 100_000


@pytest.mark.parametrize("outcome", ["write-off", "Written Off", "WRITEOFF", "核销", "坏账", "坏账核销"])
def test_a_write_off_ends_dunning_and_reports_bad_debt(outcome):
    paid = """
| ReceiptNo | CustomerID | ReceiptDate | Amount |
| R1        | CB         | 2025-06-01  | 300.00 |
"""
    acts = f"""
| Date       | CustomerID | InvoiceNo | Outcome    |
| 2025-06-20 | CB         | I1        | {outcome}  |
"""
    row = stages(INVOICE, paid, acts).iloc[0]
    assert (row["stage"], row["written_off"], row["bad_debt_minor"]) == ("written_off", True, 970_000)
    assert row["next_action"] == "" and pd.isna(row["next_action_date"])
    before = stages(INVOICE, paid, acts, as_of=d("2025-06-19")).iloc[0]
    assert (before["stage"], before["written_off"], before["bad_debt_minor"]) == ("mild", False, 0)


def test_a_customer_write_off_covers_its_invoices_existing_then():
    acts = """
| Date       | CustomerID | InvoiceNo | Outcome |
| 2025-04-15 | CB         |           | 坏账    |
"""
    s = stages(CUSTOMER_INVOICES, activities=acts)
    assert s["stage"].tolist() == ["written_off", "written_off", "mild"]
    assert s["bad_debt_minor"].tolist() == [200_000, 300_000, 0]


def test_paid_credit_and_future_items_have_no_stage():
    inv = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount   |
| I1        | CB         | 2025-04-01  | 2025-05-01 | 100.00   |
| CN1       | CB         | 2025-04-02  |            | -50.00   |
| I2        | CB         | 2025-07-05  | 2025-08-04 | 100.00   |
"""
    paid = "| ReceiptNo | CustomerID | ReceiptDate | Amount |\n| R1 | CB | 2025-05-02 | 50.00 |"
    s = stages(inv, paid)
    assert s["stage"].tolist() == ["", "", ""] and s["next_action_date"].isna().all()
    assert per_stage_counts(s) == {}


MONTH_INVOICES = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount   | Disputed |
| I1        | CA         | 2025-04-01  | 2025-06-10 | 1000.00  |          |
| I2        | CB         | 2025-03-01  | 2025-05-20 | 2000.00  |          |
| I3        | CC         | 2025-01-01  | 2025-03-15 | 3000.00  |          |
| I4        | CX         | 2025-05-01  | 2025-06-25 | 4000.00  | 是       |
| I5        | CB         | 2025-06-01  | 2025-06-30 | 5000.00  |          |
| I6        | CC         | 2025-06-05  | 2025-07-10 | 600.00   |          |
"""
MONTH_RECEIPTS = """
| ReceiptNo | CustomerID | ReceiptDate | Amount  | InvoiceNo |
| R1        | CB         | 2025-06-12  | 1000.00 | I2        |
| R2        | CA         | 2025-06-20  | 300.00  |           |
"""
MONTH_ACTIVITIES = """
| Date       | CustomerID | InvoiceNo | PromiseDate | PromiseAmount | Outcome |
| 2025-06-05 | CB         | I2        | 2025-06-15  | 2000.00       |         |
| 2025-06-08 | CC         | I3        |             |               | 坏账    |
| 2025-06-15 | CA         |           | 2025-06-25  | 300.00        |         |
"""


def test_refreshing_daily_or_once_gives_the_same_stages():
    led = ledger(MONTH_INVOICES, MONTH_RECEIPTS, CUSTOMERS, activities=MONTH_ACTIVITIES)

    def on(as_of):
        return assign_stages(led, refresh(led, Settings(), as_of), as_of)

    days = [dt.date(2025, 6, 1) + dt.timedelta(days=k) for k in range(30)]
    daily = [on(x) for x in days]
    backwards = {x: on(x) for x in reversed(days)}  # no day depends on the day before it
    weekly = {x: on(x) for x in days[::7] + [days[-1]]}
    for x, s in zip(days, daily):
        pd.testing.assert_frame_equal(s, backwards[x])
        if x in weekly:
            pd.testing.assert_frame_equal(s, weekly[x])
    pd.testing.assert_frame_equal(daily[-1], on(days[-1]))
    # and the month did go through stages on the way
    assert {s["stage"].iat[1] for s in daily} >= {"promised", "moderate"}
    assert daily[-1]["stage"].tolist() == ["mild", "severe", "written_off", "disputed", "due", "pre_due"]


@st.composite
def random_books(draw):
    base = dt.date(2025, 1, 1)
    n_inv = draw(st.integers(1, 8))
    cust = st.sampled_from(["CA", "CB", "CC", "CX", "CZ"])
    inv = ["| InvoiceNo | CustomerID | InvoiceDate | DueDate | Amount | Disputed |"]
    for i in range(n_inv):
        issued = base + dt.timedelta(days=draw(st.integers(0, 200)))
        due = issued + dt.timedelta(days=draw(st.integers(0, 90)))
        amount = draw(st.integers(1, 10**7)) * draw(st.sampled_from([1, 1, 1, -1]))
        inv.append(f"| I{i} | {draw(cust)} | {issued} | {due} | {amount / 100:.2f} | {draw(st.sampled_from(['', '', '是']))} |")
    rec = ["| ReceiptNo | CustomerID | ReceiptDate | Amount | InvoiceNo |"]
    for j in range(draw(st.integers(0, 5))):
        rec.append(f"| R{j} | {draw(cust)} | {base + dt.timedelta(days=draw(st.integers(0, 300)))} | "
                   f"{draw(st.integers(1, 10**7)) / 100:.2f} | {draw(st.sampled_from(['', f'I{j % n_inv}']))} |")
    act = ["| Date | CustomerID | InvoiceNo | PromiseDate | PromiseAmount | Outcome |"]
    for k in range(draw(st.integers(0, 5))):
        logged = base + dt.timedelta(days=draw(st.integers(0, 300)))
        promise = logged + dt.timedelta(days=draw(st.integers(0, 40)))
        kind = draw(st.sampled_from(["promise", "promise", "blank-amount", "write-off", "note"]))
        amount = f"{draw(st.integers(1, 10**7)) / 100:.2f}" if kind == "promise" else ""
        act.append(f"| {logged} | {draw(cust)} | {draw(st.sampled_from(['', f'I{k % n_inv}']))} | "
                   f"{promise if 'promise' in kind or kind == 'blank-amount' else ''} | {amount} | "
                   f"{'坏账' if kind == 'write-off' else ''} |")
    as_of = base + dt.timedelta(days=draw(st.integers(0, 330)))
    return "\n".join(inv), "\n".join(rec), "\n".join(act), as_of


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_books())
def test_every_overdue_item_has_an_owner_and_a_next_date(book):
    inv, rec, act, as_of = book
    led = ledger(inv, rec, CUSTOMERS, activities=act)
    res = refresh(led, Settings(), as_of)
    s = assign_stages(led, res, as_of)
    assert len(s) == len(led.invoices)
    due = led.invoices["due_date"]
    is_open = res.invoices["open_minor"].to_numpy() > 0
    overdue = is_open & (due < pd.Timestamp(as_of)).to_numpy() & ~s["written_off"].to_numpy()
    assert (s["owner"][overdue] != "").all()
    assert s["next_action_date"][overdue].notna().all()
    assert (s["next_action_date"][overdue] >= pd.Timestamp(as_of)).all()
    assert (s["stage"][overdue] != "").all()
    # a written-off invoice is closed, and its stage says it was written off
    assert (s["stage"][~is_open & ~s["written_off"].to_numpy()] == "").all()
    assert (s["stage"][s["written_off"].to_numpy()] == "written_off").all()
    assert (s["bad_debt_minor"] == res.invoices["written_off_minor"]).all()
    assert sum(per_stage_counts(s).values()) == int((s["stage"] != "").sum())


def raw_stages(rows, header=None):
    header = header or [f.name for f in STAGE_TABLE_COLUMNS.fields]
    frame = pd.DataFrame([list(r) + [None] * (len(header) - len(r)) for r in rows], columns=header, dtype=object)
    frame.insert(0, "row", np.arange(2, len(rows) + 2))
    places = {name: chr(ord("A") + j) for j, name in enumerate(header)}
    return frame, places


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_default_stages_sheet_reads_back_as_the_default_rules(lang):
    rules, issues = stage_rules_from_table(*raw_stages(DEFAULT_STAGES_ROWS[lang]))
    assert issues == []
    assert rules == list(DEFAULT_STAGE_RULES)


def test_a_user_stages_sheet_with_defaults_filled_in():
    rules, issues = stage_rules_from_table(*raw_stages([
        ["轻度", 1, 30, None, None, None, None, None, None],
        ["Big debt", "1", "30", "A, B", "100,000.00", "Visit the customer", "上门", "财务", 5],
        ["中度", 31, None, None, None, "发律师函", "律师函", "法务", None],
    ]), sheet="催收阶段")
    assert issues == []
    mild, big, late = rules
    assert mild == DEFAULT_STAGE_RULES[4]
    assert (big.stage, big.classes, big.min_amount_minor, big.channel, big.owner_role, big.follow_up_days) == (
        "Big debt", ("A", "B"), 10_000_000, "visit", "finance", 5)
    assert (big.label_zh, big.action_zh) == ("Big debt", "Visit the customer")
    assert (late.stage, late.max_days, late.action, late.channel, late.owner_role, late.follow_up_days) == (
        "moderate", None, "发律师函", "legal", "management/legal", 14)


def test_bad_cells_in_the_stages_sheet_are_issues_naming_their_place():
    rules, issues = stage_rules_from_table(*raw_stages([
        ["mild", 1, 30, None, None, None, None, None, None],
        ["moderate", "thirty", 90, None, None, None, None, None, None],
        ["severe", 91, 80, None, None, None, None, None, None],
        ["promised", 1, 5, None, None, None, None, None, None],
        ["x", 1, 5, None, "lots", None, "pigeon", None, 0],
        [None, None, None, None, None, None, None, None, None],  # a blank row is skipped
        ["y", None, 5, None, None, None, None, None, None],
        ["z", 1, 5, None, None, None, None, None, "weekly"],
    ]), sheet="Stages")
    got = [(i.where, i.severity) for i in issues]
    assert ("Stages!B3", "error") in got and 'from day "thirty" is not a whole number of days' in str(issues)
    assert ("Stages!C4", "error") in got and "to day 80 is before from day 91" in str(issues)
    assert ("Stages!A5", "error") in got
    assert ("Stages!E6", "error") in got and ("Stages!I6", "error") in got and ("Stages!G6", "warning") in got
    assert ("Stages!B8", "error") in got
    assert ("Stages!I9", "error") in got and 'follow-up days "weekly" is not a whole number of days' in str(issues)
    assert [r.stage for r in rules] == ["mild"]
    assert any(i.where == "Stages" and "from 31 days past due" in i.message for i in issues)


def test_an_empty_stages_sheet_gives_the_defaults_with_a_warning():
    rules, issues = stage_rules_from_table(*raw_stages([]))
    assert rules == list(DEFAULT_STAGE_RULES)
    assert [(i.where, i.severity) for i in issues] == [("Stages", "warning")]


def test_per_stage_counts_in_stage_order():
    led = ledger(MONTH_INVOICES, MONTH_RECEIPTS, CUSTOMERS, activities=MONTH_ACTIVITIES)
    s = assign_stages(led, refresh(led, Settings(), AS_OF), AS_OF)
    assert per_stage_counts(s) == {"pre_due": 1, "due": 1, "mild": 1, "severe": 1, "disputed": 1, "written_off": 1}


def test_many_invoices_are_staged_without_a_loop_per_invoice():
    n = 200_000
    rng = np.random.default_rng(1)
    due = (np.datetime64("2025-06-30") - rng.integers(-30, 200, n).astype("timedelta64[D]")).astype("datetime64[s]")
    inv = pd.DataFrame({
        "row": np.arange(2, n + 2), "invoice_no": [f"I{i}" for i in range(n)],
        "customer_id": np.array(["CA", "CB", "CC", "CX"], dtype=object)[rng.integers(0, 4, n)],
        "invoice_date": due - np.timedelta64(30 * 86400, "s"), "due_date": due,
        "amount_minor": rng.integers(1, 10**8, n), "currency": "CNY", "disputed": rng.random(n) < 0.01, "exp": 2,
    })
    small = ledger("", customers=CUSTOMERS)
    led = type(small)(small.customers, inv, small.receipts, small.activities)
    res = refresh(led, Settings(), AS_OF)
    import time
    t = time.perf_counter()
    s = assign_stages(led, res, AS_OF)
    assert time.perf_counter() - t < 20
    overdue = (inv["due_date"] < pd.Timestamp(AS_OF)).to_numpy()
    assert s["next_action_date"][overdue].notna().all()
