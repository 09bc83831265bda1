"""Reference interest rates for the statutory late-payment presets.

Three series ship with xl-ar in ``xl_ar/core/data/reference_rates.csv``
(columns ``series,effective_from,rate_percent,source``), one row per change:

================ ============================================== ========================
series           what                                           packaged rows
================ ============================================== ========================
``boe-base``     Bank of England Bank Rate, from the day a      2009-03-05 .. 2025-12-18
                 change takes effect (UK Late Payment Act)
``ecb-mro``      ECB main refinancing operations fixed rate,    2009-05-13 .. 2025-06-11
                 from its date of effect (Directive 2011/7/EU)
``de-basiszins`` German Basiszinssatz (§ 247 BGB), one row per  2009-07-01 .. 2026-01-01
                 half-year, unchanged values included
================ ============================================== ========================

Together they cover every accrual day from 1 July 2009. The history was checked on
2026-11-24 against the central banks' published tables and press reports of each decision;
the last decisions confirmed were the 5 February 2026 meetings of the Bank of England (hold
at 3.75%) and of the ECB (hold at 2.15%), and the Basiszinssatz of 1 January 2026 (1.27%,
valid to 30 June 2026). :data:`PACKAGED_KNOWN_THROUGH` records these dates: a lookup after
them assumes no change, and the late-fee policies say so in a note. The user keeps the table
current with a ``Rates`` sheet (``Series``, ``EffectiveFrom``, ``RatePercent``), applied with
:meth:`RateTable.with_overrides`.

Lookups are vectorised: ``np.searchsorted`` over the change dates of one series.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from importlib import resources
from typing import Literal, Mapping

import numpy as np
import pandas as pd

#: The series the packaged table holds, with a one-line description.
SERIES: dict[str, str] = {
    "boe-base": "Bank of England Bank Rate (official dealing rate), % a year",
    "ecb-mro": "ECB main refinancing operations fixed rate, % a year",
    "de-basiszins": "German Basiszinssatz (§ 247 BGB), % a year, set each 1 January and 1 July",
}

#: Series whose value is fixed for a whole half-year: a row for 1 July says what holds to
#: 31 December, so the table is known to the end of the half-year of its last row.
HALF_YEARLY_SERIES: frozenset[str] = frozenset({"de-basiszins"})

#: The last day each packaged series is known to be right (see the module docstring).
PACKAGED_KNOWN_THROUGH: dict[str, dt.date] = {
    "boe-base": dt.date(2026, 2, 5),
    "ecb-mro": dt.date(2026, 2, 5),
    "de-basiszins": dt.date(2026, 6, 30),
}

Fixing = Literal["start", "uk"]

_COLUMNS = ("series", "effective_from", "rate_percent", "source")


def to_days(dates: object) -> np.ndarray:
    """Convert dates of any common form to a ``datetime64[D]`` array (NaT kept).

    Args:
        dates: a numpy datetime64 array (any unit), a pandas Series or Index, a list of
            ``date``/``datetime``/strings, or a single date.

    Returns:
        1-d ``datetime64[D]`` array.
    """
    if isinstance(dates, (pd.Series, pd.Index)):
        dates = dates.to_numpy()
    arr = np.asarray(dates)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.dtype.kind != "M":
        arr = pd.to_datetime(arr).to_numpy()
    return arr.astype("datetime64[D]")


def fixing_dates(dates: object, fixing: Fixing = "start") -> np.ndarray:
    """The date whose rate sets a half-year's reference rate, for each date.

    Args:
        dates: the dates (see :func:`to_days`).
        fixing: ``"start"``: 1 January for dates in January-June, 1 July for July-December
            (Directive 2011/7/EU Art. 3(2), § 247 BGB); ``"uk"``: 31 December before for
            January-June, 30 June for July-December (Late Payment of Commercial Debts (Rate
            of Interest) (No. 3) Order 2002, art. 4).

    Returns:
        ``datetime64[D]`` array (NaT where the date is NaT).
    """
    days = to_days(dates)
    months = days.astype("datetime64[M]")
    year_start = days.astype("datetime64[Y]").astype("datetime64[M]")
    second_half = (months - year_start).astype(np.int64) >= 6
    half_start = np.where(second_half, year_start + 6, year_start).astype("datetime64[D]")
    if fixing == "start":
        out = half_start
    elif fixing == "uk":
        out = half_start - np.timedelta64(1, "D")
    else:
        raise ValueError(f'fixing must be "start" or "uk", not "{fixing}"')
    return np.where(np.isnat(days), np.datetime64("NaT"), out).astype("datetime64[D]")


class RateTable:
    """Published rate changes per series, with vectorised lookups.

    Build one with :meth:`default` (the shipped CSV) and :meth:`with_overrides` (the user's
    ``Rates`` sheet). Instances are immutable: ``with_overrides`` returns a new table.
    """

    def __init__(self, frame: pd.DataFrame, known_through: Mapping[str, dt.date] | None = None):
        """Create a table from rows of changes.

        Args:
            frame: columns ``series``, ``effective_from`` (dates), ``rate_percent`` (float)
                and optionally ``source``. At most one row per series and date.
            known_through: per series, the last date the rows are known to be right.

        Raises:
            ValueError: a column is missing, a value is blank or not a number, or a series
                has two rows for one date.
        """
        frame = _normalise(frame)
        dup = frame.duplicated(["series", "effective_from"], keep=False)
        if dup.any():
            row = frame[dup].iloc[0]
            raise ValueError(
                f"rates: series {row['series']} has two rows for {row['effective_from'].date()}"
            )
        self._frame = frame.sort_values(["series", "effective_from"], ignore_index=True)
        self._series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, group in self._frame.groupby("series", sort=True):
            days = group["effective_from"].to_numpy().astype("datetime64[D]")
            self._series[str(name)] = (days, group["rate_percent"].to_numpy(np.float64))
        self._known = dict(known_through or {})

    @staticmethod
    def default() -> "RateTable":
        """Return the table shipped with xl-ar (read once, then cached).

        Returns:
            The packaged :class:`RateTable`.
        """
        return _packaged_table()

    @property
    def frame(self) -> pd.DataFrame:
        """A copy of all rows, sorted by series and date."""
        return self._frame.copy()

    @property
    def series(self) -> tuple[str, ...]:
        """The series names the table holds."""
        return tuple(self._series)

    def changes(self, series: str) -> tuple[np.ndarray, np.ndarray]:
        """Return one series' change dates (``datetime64[D]``, increasing) and rates (%).

        Raises:
            KeyError: the series is not in the table.
        """
        if series not in self._series:
            raise KeyError(f'rates: unknown series "{series}"; known: {", ".join(self._series)}')
        days, pct = self._series[series]
        return days.copy(), pct.copy()

    def known_through(self, series: str) -> np.datetime64 | None:
        """The last date the series is known to be right, or None when not recorded."""
        d = self._known.get(series)
        return None if d is None else np.datetime64(d, "D")

    def with_overrides(self, overrides: pd.DataFrame) -> "RateTable":
        """Apply the user's rows: same series and date replaces, anything else is added.

        A row the user adds also says the series is known up to its date (to the end of
        that half-year for :data:`HALF_YEARLY_SERIES`).

        Args:
            overrides: columns ``series``, ``effective_from`` (datetime64),
                ``rate_percent`` (float), optionally ``source``.

        Returns:
            A new :class:`RateTable`.

        Raises:
            ValueError: a column is missing or a value is blank or not a number.
        """
        user = _normalise(overrides, default_source="user: Rates sheet")
        user = user.drop_duplicates(["series", "effective_from"], keep="last")
        key = ["series", "effective_from"]
        merged = self._frame.merge(user[key], on=key, how="left", indicator=True)
        kept = self._frame[(merged["_merge"] == "left_only").to_numpy()]
        frame = pd.concat([kept, user], ignore_index=True)
        known = dict(self._known)
        for name, group in user.groupby("series"):
            last = group["effective_from"].max().date()
            if name in HALF_YEARLY_SERIES:
                last = dt.date(last.year, 6, 30) if last.month <= 6 else dt.date(last.year, 12, 31)
            if name in known or name in SERIES:
                known[str(name)] = max(known.get(str(name), last), last)
        return RateTable(frame, known)

    def rate_on(self, series: str, dates: object) -> np.ndarray:
        """The rate in force on each date: the last change on or before it.

        Args:
            series: e.g. ``"boe-base"``.
            dates: the dates (see :func:`to_days`).

        Returns:
            float64 array of percent a year (NaN where the date is NaT).

        Raises:
            KeyError: the series is unknown.
            ValueError: a date is before the series' first known change.
        """
        change_days, pct = self.changes(series)
        days = to_days(dates)
        nat = np.isnat(days)
        idx = np.searchsorted(change_days, days, side="right") - 1
        early = (idx < 0) & ~nat
        if early.any():
            first_bad = days[early].min()
            raise ValueError(
                f"rates: no {series} rate for {first_bad}: the first known change is "
                f"{change_days[0]}; add earlier rows to the Rates sheet"
            )
        out = pct[np.clip(idx, 0, None)]
        out[nat] = np.nan
        return out

    def half_year_reference(self, series: str, dates: object, fixing: Fixing = "start") -> np.ndarray:
        """The reference rate of each date's half-year, read on its fixing date.

        Args:
            series: e.g. ``"ecb-mro"``.
            dates: the dates (see :func:`to_days`).
            fixing: see :func:`fixing_dates`.

        Returns:
            float64 array of percent a year (NaN where the date is NaT).
        """
        return self.rate_on(series, fixing_dates(dates, fixing))


def _normalise(frame: pd.DataFrame, default_source: str = "") -> pd.DataFrame:
    missing = [c for c in _COLUMNS[:3] if c not in frame.columns]
    if missing:
        raise ValueError(f"rates: missing column(s) {', '.join(missing)}")
    series = frame["series"].astype("string").str.strip().str.lower()
    when = pd.to_datetime(frame["effective_from"], errors="coerce")
    pct = pd.to_numeric(frame["rate_percent"], errors="coerce")
    finite = np.isfinite(pct.to_numpy(np.float64, na_value=np.nan))
    bad = series.isna() | (series == "") | when.isna() | ~finite
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"rates: row {pos + 1} needs a series, a date and a rate in percent")
    source = frame["source"] if "source" in frame.columns else pd.Series(default_source, index=frame.index)
    return pd.DataFrame(
        {
            "series": series.astype(object).to_numpy(),
            "effective_from": when.to_numpy().astype("datetime64[ns]"),
            "rate_percent": pct.to_numpy(np.float64),
            "source": source.fillna(default_source).astype(str).to_numpy(dtype=object),
        }
    )


@lru_cache(maxsize=1)
def _packaged_table() -> RateTable:
    # importlib.resources reads the CSV from the installed package (wheel or zip alike).
    text = resources.files("xl_ar.core").joinpath("data").joinpath("reference_rates.csv").read_text("utf-8")
    from io import StringIO

    frame = pd.read_csv(StringIO(text), dtype={"series": str, "source": str})
    return RateTable(frame, PACKAGED_KNOWN_THROUGH)

