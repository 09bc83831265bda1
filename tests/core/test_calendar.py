"""Business days: deadlines and next action dates roll forward to a working day; due dates never move."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tables import ledger
from xl_ar.core.calendar import NO_CALENDAR, calendar_from_settings, parse_calendar
from xl_ar.core.run import refresh
from xl_ar.core.settings import Settings
from xl_ar.core.stages import assign_stages

D = dt.date


def test_china_national_day_week_and_adjusted_working_weekends():
    cn = parse_calendar("CN")
    # 2026-09-28 + 7 days = Monday 5 October, inside the National Day holiday (1-7 October)
    assert cn.deadline(D(2026, 9, 28), 7) == D(2026, 10, 8)
    assert [cn.roll(D(2026, 10, d)) for d in range(1, 8)] == [D(2026, 10, 8)] * 7
    # 调休: Saturday 10 October and Sunday 20 September 2026 are working days
    assert cn.is_working(D(2026, 10, 10)) and cn.roll(D(2026, 10, 10)) == D(2026, 10, 10)
    assert cn.is_working(D(2026, 9, 20))
    assert cn.roll(D(2026, 10, 11)) == D(2026, 10, 12)  # an ordinary Sunday
    # Spring Festival 2026 (15-23 February, with 14 and 28 February worked)
    assert cn.roll(D(2026, 2, 16)) == D(2026, 2, 24) and cn.is_working(D(2026, 2, 28))
    # a year the chinese-calendar package does not cover yet falls back to the holidays package
    assert cn.roll(D(2027, 10, 1)) > D(2027, 10, 1)


def test_other_countries_weekends_and_none():
    assert parse_calendar("GB").roll(D(2026, 12, 25)) == D(2026, 12, 29)  # Christmas, Boxing Day observed
    assert parse_calendar("GB-ENG").code == "GB-ENG"
    assert parse_calendar("de").roll(D(2026, 10, 3)) == D(2026, 10, 5)  # Tag der Deutschen Einheit, a Saturday
    assert parse_calendar("DE-BY").roll(D(2026, 1, 6)) == D(2026, 1, 7)  # Heilige Drei Könige in Bavaria
    assert parse_calendar("weekends").roll(D(2026, 10, 3)) == D(2026, 10, 5)
    assert parse_calendar("weekends").roll(D(2026, 10, 1)) == D(2026, 10, 1)  # no holidays
    assert parse_calendar("").roll(D(2026, 10, 3)) == D(2026, 10, 3) and not parse_calendar(None).adjusts
    with pytest.raises(ValueError, match='calendar "XX"'):
        parse_calendar("XX")
    with pytest.raises(ValueError, match="not CN, a country code"):
        parse_calendar("every other day")


def test_the_setting_names_its_cell():
    cal, problem, where = calendar_from_settings({"工作日历": ("CN", "设置!B12")})
    assert cal.code == "CN" and problem is None and where == "设置!B12"
    cal, problem, where = calendar_from_settings({"Calendar": ("Narnia", "Settings!B9")})
    assert cal == NO_CALENDAR and where == "Settings!B9" and 'calendar "Narnia"' in problem
    assert calendar_from_settings({})[0] == NO_CALENDAR


def test_roll_array_keeps_nat():
    cn = parse_calendar("CN")
    days = np.array(["2026-10-01", "NaT", "2026-10-10", "2026-10-01"], dtype="datetime64[D]")
    out = cn.roll_array(days)
    assert [str(x) for x in out] == ["2026-10-08", "NaT", "2026-10-10", "2026-10-08"]


def test_next_action_dates_roll_but_due_dates_never_move():
    # due 2026-09-30; mild starts the day after (1 October, a holiday); a pre-due class B
    # reminder 3 days before a due date of 2026-10-06 would fall on 3 October.
    invoices = """
| InvoiceNo | CustomerID | InvoiceDate | DueDate    | Amount  |
| I1        | CB         | 2026-08-31  | 2026-09-30 | 1000.00 |
| I2        | CB         | 2026-09-01  | 2026-10-06 | 1000.00 |
"""
    customers = """
| CustomerID | Name | Class |
| CB         | Beta | B     |
"""
    led = ledger(invoices, "", customers)
    as_of = D(2026, 9, 30)
    run = refresh(led, Settings(), as_of)
    plain = assign_stages(led, run, as_of)
    cn = assign_stages(led, run, as_of, calendar=parse_calendar("CN"))
    dates = lambda f: [pd.Timestamp(x).date() for x in f["next_action_date"]]  # noqa: E731
    assert dates(plain) == [D(2026, 9, 30), D(2026, 10, 3)]
    assert dates(cn) == [D(2026, 9, 30), D(2026, 10, 8)]
    assert list(cn["stage"]) == list(plain["stage"]) == ["due", ""]
    assert [x.date() for x in led.invoices["due_date"]] == [D(2026, 9, 30), D(2026, 10, 6)]
