"""Business days: which days a deadline or a next action may fall on.

A payment deadline ("pay within 7 days") and a collector's next action date must fall on a
working day; a contract's due dates are the contract's and are never moved (aging, days late
and late fees count from them as written).

The ``Calendar`` setting picks the calendar from :data:`CALENDARS`:

* ``none`` (the default, and a blank cell): every day counts — the behaviour before
  calendars existed, so an existing workbook's dates do not change until its owner opts in;
* ``weekends``: Monday to Friday;
* ``CN``: mainland China's official calendar from ``chinese-calendar`` (the State Council's
  yearly notice, with adjusted working weekends 调休); years it does not yet cover fall back to
  the ``holidays`` package's China calendar, which also lists the adjusted working weekends;
* any other ISO country code, optionally with a subdivision (``GB``, ``GB-ENG``, ``DE``,
  ``DE-BY``, ``US-NY``, ``HK``...): that country's public holidays from ``holidays``, plus
  its weekend.

Both packages are data only (no I/O at run time), so this module stays pure.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from xl_ar.core import registry

#: The longest run of non-working days a calendar may have (Spring Festival plus weekends
#: is about 10); a longer one means a broken calendar, not a holiday.
MAX_CLOSED_RUN = 45

#: The ``Calendar`` setting (see ``xl_ar.core.registry``) and the names accepted for it.
_SETTING = registry.BY_KEY["Calendar"]
CALENDAR_SETTING: tuple[str, Any, str, str] = (_SETTING.key, _SETTING.default, _SETTING.note_en, _SETTING.note_zh)
CALENDAR_ALIASES = ("Calendar", *_SETTING.aliases)


@dataclass(frozen=True)
class BusinessCalendar:
    """A working-day calendar.

    Attributes:
        code: the setting's value, canonical (``none``, ``weekends``, ``CN``, ``GB-ENG``...).
        is_working: ``date -> bool``.
    """

    code: str = "none"
    is_working: Callable[[dt.date], bool] = field(default=lambda d: True, compare=False, repr=False)

    @property
    def adjusts(self) -> bool:
        """False for ``none``: every day is a working day."""
        return self.code != "none"

    def roll(self, day: dt.date) -> dt.date:
        """The day itself when it is a working day, else the next working day.

        Args:
            day: any date.

        Returns:
            The first working day on or after ``day``.

        Raises:
            ValueError: no working day within :data:`MAX_CLOSED_RUN` days.
        """
        d = day
        for _ in range(MAX_CLOSED_RUN + 1):
            if self.is_working(d):
                return d
            d += dt.timedelta(days=1)
        raise ValueError(f"calendar {self.code}: no working day in the {MAX_CLOSED_RUN} days from {day}")

    def deadline(self, start: dt.date, days: int) -> dt.date:
        """``days`` calendar days after ``start``, moved forward to a working day.

        Args:
            start: the letter's date.
            days: the period the letter gives (e.g. 7).

        Returns:
            The deadline.
        """
        return self.roll(start + dt.timedelta(days=int(days)))

    def roll_array(self, days: np.ndarray) -> np.ndarray:
        """:meth:`roll` over a ``datetime64[D]`` array (NaT stays NaT)."""
        out = np.asarray(days, dtype="datetime64[D]").copy()
        if not self.adjusts or not len(out):
            return out
        ok = ~np.isnat(out)
        uniq = np.unique(out[ok])
        rolled = np.array([np.datetime64(self.roll(d.astype(dt.date)), "D") for d in uniq], dtype="datetime64[D]")
        out[ok] = rolled[np.searchsorted(uniq, out[ok])]
        return out


def _weekdays(d: dt.date) -> bool:
    return d.weekday() < 5


@lru_cache(maxsize=32)
def _holidays_calendar(country: str, subdiv: str | None) -> Callable[[dt.date], bool]:
    import holidays

    try:
        h = holidays.country_holidays(country, subdiv=subdiv)
    except (NotImplementedError, KeyError) as exc:  # the package's own words name what is unknown
        raise ValueError(str(exc).strip("'\"")) from None
    return h.is_working_day


@lru_cache(maxsize=1)
def _china() -> Callable[[dt.date], bool]:
    import chinese_calendar

    fallback = _holidays_calendar("CN", None)

    def is_working(d: dt.date) -> bool:
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:  # a year the State Council has not announced in this package yet
            return fallback(d)

    return is_working


#: Calendar code -> how to build it; other codes are ISO countries for ``holidays``.
CALENDARS: dict[str, Callable[[], Callable[[dt.date], bool]]] = {
    "none": lambda: (lambda d: True),
    "weekends": lambda: _weekdays,
    "CN": _china,
}
_WORDS = {"": "none", "none": "none", "无": "none", "不调整": "none", "calendar": "none", "weekends": "weekends",
          "weekend": "weekends", "周末": "weekends", "cn": "CN", "china": "CN", "中国": "CN", "中国大陆": "CN"}


def parse_calendar(raw: Any) -> BusinessCalendar:
    """The calendar a ``Calendar`` cell names.

    Args:
        raw: the cell's value (None or blank = ``none``).

    Returns:
        The calendar.

    Raises:
        ValueError: an unknown calendar, with the message to show.
    """
    text = "" if raw is None else str(raw).strip()
    key = _WORDS.get(text.lower())
    if key is not None:
        return BusinessCalendar(key, CALENDARS[key]())
    m = re.fullmatch(r"([A-Za-z]{2,3})(?:[-_/ ]([A-Za-z0-9]{1,4}))?", text)
    if not m:
        raise ValueError(f'calendar "{text}" is not CN, a country code such as GB or DE-BY, weekends or none')
    country, subdiv = m.group(1).upper(), (m.group(2) or "").upper() or None
    if country == "CN" and subdiv is None:
        return BusinessCalendar("CN", _china())
    try:
        fn = _holidays_calendar(country, subdiv)
    except ValueError as exc:
        raise ValueError(f'calendar "{text}": {exc}') from None
    return BusinessCalendar(country + (f"-{subdiv}" if subdiv else ""), fn)


def calendar_from_settings(extra: dict[str, Any] | Any) -> tuple[BusinessCalendar, str | None, str | None]:
    """The ``Calendar`` setting from ``Settings.extra``.

    Args:
        extra: key -> (raw value, place) as ``Settings.extra`` holds.

    Returns:
        (calendar, problem or None, place of the cell or None); a bad value gives ``none``.
    """
    wanted = {re.sub(r"[\s_-]", "", a).lower() for a in CALENDAR_ALIASES}
    for key, pair in extra.items():
        if re.sub(r"[\s_-]", "", str(key)).lower() in wanted:
            raw, where = pair if isinstance(pair, tuple) else (pair, "Settings")
            try:
                return parse_calendar(raw), None, where
            except ValueError as exc:
                return BusinessCalendar(), f"{exc}; every day counts", where
    return BusinessCalendar(), None, None


NO_CALENDAR = BusinessCalendar()

__all__ = ["CALENDARS", "CALENDAR_SETTING", "BusinessCalendar", "NO_CALENDAR", "calendar_from_settings",
           "parse_calendar"]
