"""The worksheet functions: a cell or a whole column in, the same shape out, errors as text."""

import datetime as dt

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
