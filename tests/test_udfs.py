"""The worksheet functions: a cell or a whole column in, the same shape out, errors as text."""

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_ar.udfs import AR_BUCKET, AR_DAYSLATE, AR_LATEFEE

AS_OF = dt.datetime(2025, 3, 2)


def test_days_late_for_a_cell_and_a_column():
    assert AR_DAYSLATE(dt.datetime(2025, 1, 31), AS_OF) == 30
    assert AR_DAYSLATE([[dt.datetime(2025, 1, 31)], [dt.datetime(2025, 3, 10)], [None], ["2025-02-28"]], AS_OF) == [[30], [0], [""], [2]]
    # Excel hands an unformatted date over as its serial number
    assert AR_DAYSLATE(45688.0, AS_OF) == 30


def test_bucket_with_default_and_custom_edges():
    dues = [[dt.datetime(2025, 3, 5)], [dt.datetime(2025, 2, 1)], [dt.datetime(2024, 11, 1)]]
    assert AR_BUCKET(dues, AS_OF) == [["Not due"], ["1-30"], [">90"]]
    assert AR_BUCKET(dues, AS_OF, "30,60,90,180") == [["Not due"], ["1-30"], ["91-180"]]


def test_late_fee_default_policy_is_daily_five_per_ten_thousand():
    # 10,000.00 thirty days late at 0.05% per day = 150.00
    assert AR_LATEFEE(10000, dt.datetime(2025, 1, 31), AS_OF) == 150.0
    assert AR_LATEFEE([[10000], [2500.5], [None]], [[dt.datetime(2025, 1, 31)], [dt.datetime(2025, 2, 20)], [None]], AS_OF) == [
        [150.0], [12.5], [""]]  # 2,500.50 x 10 days x 0.0005 = 12.5025 -> 12.50


def test_late_fee_with_policy_rate_grace_and_cap():
    due = dt.datetime(2025, 1, 31)
    assert AR_LATEFEE(10000, due, AS_OF, "annual", 0.0365) == 30.0  # 0.01% a day for 30 days
    assert AR_LATEFEE(10000, due, AS_OF, "daily", 0.0005, 10) == 100.0  # 20 days after grace
    assert AR_LATEFEE(10000, due, AS_OF, "daily", 0.0005, 0, 0.01) == 100.0  # capped at 1%
    assert AR_LATEFEE(10000, due, AS_OF, "fixed", 200) == 200.0


def test_errors_come_back_as_readable_text_in_place():
    assert AR_DAYSLATE([["2025-13-01"], [dt.datetime(2025, 1, 31)]], AS_OF) == [
        ['error: due date "2025-13-01" is not a date'], [30]]
    assert AR_LATEFEE("abc", dt.datetime(2025, 1, 31), AS_OF) == 'error: amount "abc" is not a number'
    assert AR_LATEFEE(100, dt.datetime(2025, 1, 31), AS_OF, "weekly").startswith('error: policy "weekly" is unknown')
    assert AR_BUCKET(dt.datetime(2025, 1, 31), AS_OF, "60,30") == "error: edges \"60,30\" must be increasing day counts such as 30,60,90"
    assert AR_LATEFEE([[1], [2]], [[dt.datetime(2025, 1, 31)]] * 3, AS_OF) == "error: ranges have different sizes (2 and 3 cells)"


def test_stage_by_days_late_class_and_amount():
    from xl_ar.udfs import AR_STAGE

    assert AR_STAGE([[-8], [-7], [-1], [0], [1], [30], [31], [90], [91]], None, "A") == [
        [""], ["Reminder"], ["Reminder"], ["Due today"], ["Mild"], ["Mild"], ["Moderate"], ["Moderate"], ["Severe"]]
    assert AR_STAGE(-5, None, "B") == "" and AR_STAGE(-3, None, "B") == "Reminder"
    assert AR_STAGE(-10, None, "C") == "Reminder"
    assert AR_STAGE("x") == 'error: days late "x" is not a whole number'


def test_schedule_spills_milestones_that_sum_exactly():
    from xl_ar.udfs import AR_SCHEDULE

    rows = AR_SCHEDULE(1000.01, "30%@0,60%@acceptance+30,10%@365", dt.datetime(2025, 1, 1), "acceptance=2025-03-31")
    assert rows == [[dt.datetime(2025, 1, 1), 300.0, "30%@0"], [dt.datetime(2025, 4, 30), 600.01, "60%@acceptance+30"],
                    [dt.datetime(2026, 1, 1), 100.0, "10%@365"]]
    assert round(sum(r[1] for r in rows), 2) == 1000.01
    assert AR_SCHEDULE(100, "30%@0,60%@0", dt.datetime(2025, 1, 1)).startswith("error: payment terms")


def test_credit_limit_and_available():
    from xl_ar.udfs import AR_AVAILABLE, AR_CREDITLIMIT

    # grade A (score 85): 3 months of sales = 300,000, +15% for three early payments = 345,000
    assert AR_CREDITLIMIT(100000, 85, 3) == 345000.0
    assert AR_CREDITLIMIT(100000, "B") == 200000.0
    assert AR_CREDITLIMIT(100000, "A", 0, "是") == 90000.0  # negative news: x0.3
    assert AR_AVAILABLE([[100000], [5]], [[30000], [10]]) == [[70000.0], [-5.0]]


def _stages_table(lang: str, moderate_from: int = 31) -> list[list]:
    """The Stages sheet a new book gets (header first), with the mild/moderate edge moved."""
    from xl_ar.book.newbook import build_ledger_workbook
    from xl_ar.book.headers import sheet_label

    ws = build_ledger_workbook(lang)[sheet_label("Stages", lang)]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    for r in rows[1:]:
        if r[0] in ("mild", "轻度"):
            r[2] = moderate_from - 1
        if r[0] in ("moderate", "中度"):
            r[1] = moderate_from
    return rows


def test_stage_follows_a_stages_range_in_its_language():
    from xl_ar.udfs import AR_STAGE

    assert AR_STAGE([[20], [45]]) == [["Mild"], ["Moderate"]]  # the built-in rules
    assert AR_STAGE([[20], [45]], None, None, _stages_table("en", moderate_from=16)) == [["Moderate"], ["Moderate"]]
    assert AR_STAGE([[20], [-2], [100]], None, "B", _stages_table("zh", moderate_from=16)) == [
        ["中度"], ["到期前提醒"], ["严重"]]
    bad = _stages_table("en")
    bad[3][1] = "soon"
    assert AR_STAGE(5, None, None, bad) == 'error: Stages!B4: from day "soon" is not a whole number of days'
    assert AR_STAGE(5, None, None, [[1, 30], [31, 90]]).startswith("error: Stages: the Stages range has no header row")


def test_stage_reads_the_calling_books_stages_sheet_and_language(tmp_path):
    import fakexl
    from xl_ar.book.newbook import build_ledger_workbook
    from xl_ar.udfs import AR_STAGE

    wb = build_ledger_workbook("zh")
    ws = wb["催收阶段"]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "轻度":
            row[2].value = 10
        if row[0].value == "中度":
            row[1].value = 11
    wb.save(tmp_path / "台账.xlsx")
    book = fakexl.Book.from_file(tmp_path / "台账.xlsx")
    caller = book.sheets["发票"].range("M2")
    book.app.calls.clear()
    assert AR_STAGE([[5], [20], [0]], caller=caller) == [["轻度"], ["中度"], ["到期日提醒"]]
    assert {op for op, *_ in book.app.calls} == {"read"}  # a worksheet function only reads
    assert {sheet for _, sheet, _ in book.app.calls} == {"设置", "催收阶段"}  # not the whole ledger
    english = build_ledger_workbook("en")
    english.save(tmp_path / "ledger.xlsx")
    assert AR_STAGE(20, caller=fakexl.Book.from_file(tmp_path / "ledger.xlsx").sheets["Invoices"].range("M2")) == "Mild"


def test_credit_limit_takes_a_column_like_the_other_functions():
    from xl_ar.udfs import AR_CREDITLIMIT

    sales = [[100000], [100000], [None], ["abc"], [50000]]
    grades = [[85], ["B"], ["A"], ["A"], ["D"]]
    out = AR_CREDITLIMIT(sales, grades, [[3], [0], [0], [0], [0]], "")
    assert out[:3] == [[345000.0], [200000.0], [""]] and out[3] == ['error: average monthly sales "abc" is not an amount']
    assert out[4] == [float(AR_CREDITLIMIT(50000, "D"))]
    assert AR_CREDITLIMIT(sales, "B") == [[200000.0], [200000.0], [""], [out[3][0]], [100000.0]]
    assert AR_CREDITLIMIT([[1], [2]], [["A"], ["B"], ["C"]]) == "error: ranges have different sizes (2 and 3 cells)"
    assert AR_CREDITLIMIT(100000, "Z") == 'error: score "Z" must be a number from 0 to 100 or a grade A-D'
    assert AR_CREDITLIMIT(100000, None) == "error: the score is blank: give a number from 0 to 100 or a grade A-D"


def _latefee_cell_by_cell(amount, due, as_of):
    """The reference: AR_LATEFEE's rule for one cell, through the scalar parsers."""
    from xl_ar.core.convert import parse_amount, parse_date
    from xl_ar.core.fees import FeeTerms, late_fees
    from xl_ar.core.money import to_major, to_minor

    try:
        amt = parse_amount(amount)
    except ValueError:
        return f'error: amount "{amount}" is not a number'
    try:
        d = parse_date(due)
    except ValueError:
        return f'error: due date "{due}" is not a date'
    if amt is None or d is None:
        return ""
    items = pd.DataFrame({"principal_minor": np.array([to_minor(amt, 2)], np.int64),
                          "due_date": np.array([np.datetime64(d, "s")]), "currency": "CNY", "exp": 2})
    terms = FeeTerms("daily", None, 0, None)
    return float(to_major(int(late_fees(items, None, as_of, terms).fee_minor[0]), 2))


cells = st.one_of(st.none(), st.just(""), st.floats(-1e7, 1e7, allow_nan=False).map(lambda x: round(x, 2)),
                  st.integers(-10**6, 10**6), st.sampled_from(["1,234.50", "abc", "¥88", " 12 ", "--"]))
due_cells = st.one_of(st.none(), st.dates(dt.date(2024, 1, 1), dt.date(2027, 1, 1)),
                      st.dates(dt.date(2024, 1, 1), dt.date(2027, 1, 1)).map(
                          lambda d: dt.datetime(d.year, d.month, d.day, 13, 5)),
                      st.sampled_from(["2026-03-01", "not a date", ""]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cells, due_cells), min_size=1, max_size=30))
def test_latefee_over_a_column_equals_it_cell_by_cell(rows):
    """A whole column at once (converted and computed as arrays) gives, cell for cell, what the
    scalar rule gives: the fee to the cent, or the same error text."""
    as_of = dt.date(2026, 10, 31)
    got = AR_LATEFEE([[a] for a, _ in rows], [[d] for _, d in rows], dt.datetime(2026, 10, 31))
    want = [[_latefee_cell_by_cell(a, d, as_of)] for a, d in rows]
    assert got == want
