"""Reference rates: the packaged history, lookups on or before a date, half-year fixings, overrides."""

import datetime as dt
import io
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from xl_ar.core.rates import PACKAGED_KNOWN_THROUGH, RateTable, fixing_dates, to_days


def days(*texts):
    return np.array(texts, dtype="datetime64[D]")


@pytest.fixture(scope="module")
def table():
    return RateTable.default()


def test_packaged_table_holds_the_three_series(table):
    assert table.series == ("boe-base", "de-basiszins", "ecb-mro")
    assert set(PACKAGED_KNOWN_THROUGH) == set(table.series)


def test_packaged_csv_is_well_formed():
    text = resources.files("xl_ar.core").joinpath("data").joinpath("reference_rates.csv").read_text("utf-8")
    frame = pd.read_csv(io.StringIO(text))
    assert list(frame.columns) == ["series", "effective_from", "rate_percent", "source"]
    assert frame["source"].str.contains("checked 2026-11-24").all()
    for _, group in frame.groupby("series"):
        dates = pd.to_datetime(group["effective_from"])
        assert dates.is_monotonic_increasing and dates.is_unique


@pytest.mark.parametrize("series,date,percent", [
    ("boe-base", "2015-06-30", 0.50),
    ("boe-base", "2016-08-03", 0.50),   # the day before a change keeps the old rate
    ("boe-base", "2016-08-04", 0.25),   # a change is in force on its own date
    ("boe-base", "2020-03-19", 0.10),
    ("boe-base", "2023-12-31", 5.25),
    ("boe-base", "2024-08-01", 5.00),
    ("boe-base", "2025-08-07", 4.00),
    ("boe-base", "2025-12-18", 3.75),
    ("ecb-mro", "2015-01-01", 0.05),
    ("ecb-mro", "2020-01-01", 0.00),
    ("ecb-mro", "2024-01-01", 4.50),
    ("ecb-mro", "2024-07-01", 4.25),
    ("ecb-mro", "2024-09-18", 3.65),
    ("ecb-mro", "2025-06-11", 2.15),
    ("de-basiszins", "2015-01-01", -0.83),
    ("de-basiszins", "2020-12-31", -0.88),
    ("de-basiszins", "2023-01-01", 1.62),
    ("de-basiszins", "2024-01-01", 3.62),
    ("de-basiszins", "2024-07-01", 3.37),
    ("de-basiszins", "2025-01-01", 2.27),
    ("de-basiszins", "2025-07-01", 1.27),
    ("de-basiszins", "2026-01-01", 1.27),
])
def test_rate_in_force_on_a_date(table, series, date, percent):
    assert table.rate_on(series, days(date)).tolist() == [percent]


def test_basiszins_follows_the_ecb_rate_as_bgb_247_says(table):
    # § 247 BGB: the Basiszinssatz moves each 1 January / 1 July by what the ECB's MRO rate
    # moved since its last change. Both series were typed in separately; since 2009 the gap
    # has stayed at -0.88 points, which cross-checks every row of both.
    starts = np.arange(np.datetime64("2009-07"), np.datetime64("2026-02"), 6).astype("datetime64[D]")
    basis = table.rate_on("de-basiszins", starts)
    mro_before = table.rate_on("ecb-mro", starts - np.timedelta64(1, "D"))
    assert np.allclose(basis - mro_before, -0.88)


def test_lookup_is_vectorised_and_keeps_nat(table):
    out = table.rate_on("boe-base", days("2023-01-01", "NaT", "2024-11-07"))
    assert out[0] == 3.50 and np.isnan(out[1]) and out[2] == 4.75


def test_date_before_the_first_change_names_series_and_date(table):
    with pytest.raises(ValueError, match=r"ecb-mro.*2008-01-01.*Rates sheet"):
        table.rate_on("ecb-mro", days("2015-01-01", "2008-01-01"))


def test_unknown_series(table):
    with pytest.raises(KeyError, match="us-prime"):
        table.rate_on("us-prime", days("2025-01-01"))


def test_fixing_dates():
    d = days("2024-01-01", "2024-06-30", "2024-07-01", "2024-12-31", "NaT")
    assert fixing_dates(d, "start").astype(str).tolist() == [
        "2024-01-01", "2024-01-01", "2024-07-01", "2024-07-01", "NaT"]
    assert fixing_dates(d, "uk").astype(str).tolist() == [
        "2023-12-31", "2023-12-31", "2024-06-30", "2024-06-30", "NaT"]
    with pytest.raises(ValueError):
        fixing_dates(d, "end")


def test_half_year_reference(table):
    # UK: a debt late in February 2024 takes Bank Rate of 31 December 2023 (5.25), one late
    # in August 2024 that of 30 June 2024 (5.25, the cut came on 1 August), one late in
    # January 2025 that of 31 December 2024 (4.75).
    assert table.half_year_reference("boe-base", days("2024-02-01", "2024-08-15", "2025-01-02"), "uk").tolist() == [
        5.25, 5.25, 4.75]
    # EU: the MRO rate in force on 1 January / 1 July.
    assert table.half_year_reference("ecb-mro", days("2024-06-30", "2024-07-01", "2025-07-01")).tolist() == [
        4.50, 4.25, 2.15]


def test_to_days_accepts_common_forms():
    expected = days("2025-01-31")
    assert to_days(dt.date(2025, 1, 31)).tolist() == expected.tolist()
    assert to_days(["2025-01-31"]).tolist() == expected.tolist()
    assert to_days(pd.Series(pd.to_datetime(["2025-01-31 00:00"]))).tolist() == expected.tolist()
    assert to_days(np.array(["2025-01-31T00:00:00"], dtype="datetime64[s]")).tolist() == expected.tolist()


def test_overrides_replace_same_date_and_add_new_rows(table):
    user = pd.DataFrame({
        "series": ["ECB-MRO", "ecb-mro", "us-prime"],
        "effective_from": pd.to_datetime(["2025-06-11", "2026-03-11", "2020-01-01"]),
        "rate_percent": [2.20, 2.40, 4.75],
    })
    new = table.with_overrides(user)
    assert new.rate_on("ecb-mro", days("2025-07-01", "2026-04-01", "2024-01-01")).tolist() == [2.20, 2.40, 4.50]
    assert new.rate_on("us-prime", days("2021-01-01")).tolist() == [4.75]
    assert new.known_through("ecb-mro") == np.datetime64("2026-03-11")
    assert new.known_through("us-prime") is None
    src = new.frame.set_index(["series", "effective_from"]).loc[("ecb-mro", pd.Timestamp("2026-03-11")), "source"]
    assert src == "user: Rates sheet"
    # the packaged table is untouched
    assert table.rate_on("ecb-mro", days("2025-07-01")).tolist() == [2.15]
    assert table.known_through("ecb-mro") == np.datetime64("2026-02-05")


def test_override_of_a_half_yearly_series_is_known_to_the_half_year_end(table):
    user = pd.DataFrame({"series": ["de-basiszins"], "effective_from": pd.to_datetime(["2026-07-01"]),
                         "rate_percent": [1.02]})
    new = table.with_overrides(user)
    assert new.known_through("de-basiszins") == np.datetime64("2026-12-31")
    assert new.rate_on("de-basiszins", days("2026-12-31")).tolist() == [1.02]


def test_override_errors_are_one_line_messages(table):
    with pytest.raises(ValueError, match="missing column"):
        table.with_overrides(pd.DataFrame({"series": ["boe-base"], "rate_percent": [4.0]}))
    with pytest.raises(ValueError, match="row 2"):
        table.with_overrides(pd.DataFrame({"series": ["boe-base", "boe-base"],
                                           "effective_from": pd.to_datetime(["2026-03-19", "2026-05-07"]),
                                           "rate_percent": [3.5, None]}))
