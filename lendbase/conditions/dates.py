"""Relative dates against an injected clock: the windows of ``in_last``, ``in_next``,
``more_than_ago`` and ``in_period``.

Nothing here reads the system time: every function takes ``now`` (a timezone-aware datetime)
and the business time zone ``tz``; "today" is ``now``'s date in ``tz``.

Units are ``day``, ``week`` (ISO weeks, starting on Monday), ``month``, ``quarter`` (starting in
January, April, July, October) and ``year``. Month arithmetic is clamped to the month end:
31 January + 1 month = 28 (or 29) February; 29 February + 1 year = 28 February.

Windows, with ``n`` units, ``N`` = now, ``T`` = today and ``S`` = the first day of the current
period (``period_start(T, unit)``):

================  ==============================  ==============================================
op                ``include_current`` true         ``include_current`` false (whole periods only)
                  (the default: rolling)
================  ==============================  ==============================================
``in_last``       datetime: N - n units .. N       S - n units <= x < S (the n complete periods
                  date: T - n units .. T           before the current one)
``in_next``       datetime: N .. N + n units       S + 1 unit <= x < S + (n + 1) units
                  date: T .. T + n units
``more_than_ago`` datetime: x < N - n units        x < S - n units
                  date: x < T - n units
================  ==============================  ==============================================

(``..`` includes both ends.) ``more_than_ago`` is everything before the matching ``in_last``
window, so the two never overlap and together cover the whole past.

``in_period`` names one whole period: ``S + offset units <= x < S + (offset + 1) units`` ("this
month" is offset 0, "last month" offset -1); with ``to_date`` it ends at the same point of that
period as now (datetime: N + offset units, date: T + offset units, included): "month to date".

Date fields compare with dates; date-time fields with instants: a date bound is the start of
that day in ``tz`` (its midnight), a rolling bound keeps now's time of day.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

UNITS = ("day", "week", "month", "quarter", "year")
#: Other spellings accepted for a unit (``DATE_ADD`` / ``DATEDIF`` use the letters).
UNIT_ALIASES = {
    "d": "day", "days": "day", "today": "day", "w": "week", "weeks": "week", "m": "month",
    "months": "month", "q": "quarter", "quarters": "quarter", "y": "year", "years": "year",
}
_MONTHS = {"month": 1, "quarter": 3, "year": 12}
RELATIVE_OPS = frozenset({"in_last", "in_next", "more_than_ago", "in_period"})


def unit_name(text: object) -> str | None:
    """The canonical unit for ``text`` (``"M"``, ``"months"``...), or None."""
    if not isinstance(text, str):
        return None
    lowered = text.strip().lower()
    return lowered if lowered in UNITS else UNIT_ALIASES.get(lowered)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the end of the target month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def add_units(day: date, n: int, unit: str) -> date:
    """``day`` moved by ``n`` units (raises ``OverflowError``/``ValueError`` out of range)."""
    if unit == "day":
        return day + timedelta(days=n)
    if unit == "week":
        return day + timedelta(weeks=n)
    return add_months(day, n * _MONTHS[unit])


def add_units_at(moment: datetime, n: int, unit: str, tz: tzinfo) -> datetime:
    """An instant moved by ``n`` units on the wall clock of ``tz`` (so "1 month before
    31 March 10:00" is 29 February 10:00 local time), returned in UTC."""
    local = moment.astimezone(tz)
    moved = add_units(local.date(), n, unit)
    return datetime.combine(moved, local.timetz()).astimezone(UTC)


def period_start(day: date, unit: str) -> date:
    """The first day of the day / week / month / quarter / year holding ``day``."""
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, 1, 1)


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The instant a day starts in ``tz``, in UTC."""
    return datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)


def today_in(now: datetime, tz: tzinfo) -> date:
    return now.astimezone(tz).date()


@dataclass(frozen=True)
class Window:
    """``low <= x <= high`` with either end open (None) or exclusive."""

    low: date | None = None
    high: date | None = None
    low_exclusive: bool = False
    high_exclusive: bool = False


def relative_window(op: str, amount: int, unit: str, *, kind: str, now: datetime,
                    tz: tzinfo, include_current: bool = True, offset: int = 0,
                    to_date: bool = False) -> Window:
    """The window of a relative-date operator for a ``date`` or ``datetime`` field (see the
    module docstring). Raises ``OverflowError`` / ``ValueError`` when it leaves the calendar."""
    today = today_in(now, tz)
    start = period_start(today, unit)
    instants = kind == "datetime"

    def day_bound(day: date) -> date:
        return local_midnight(day, tz) if instants else day

    def rolling(n: int) -> date:
        return add_units_at(now, n, unit, tz) if instants else add_units(today, n, unit)

    if op == "in_period":
        low = day_bound(add_units(start, offset, unit))
        if to_date:
            return Window(low, rolling(offset))
        return Window(low, day_bound(add_units(start, offset + 1, unit)), high_exclusive=True)
    if op == "in_last":
        if include_current:
            return Window(rolling(-amount), rolling(0))
        return Window(day_bound(add_units(start, -amount, unit)), day_bound(start),
                      high_exclusive=True)
    if op == "in_next":
        if include_current:
            return Window(rolling(0), rolling(amount))
        return Window(day_bound(add_units(start, 1, unit)),
                      day_bound(add_units(start, amount + 1, unit)), high_exclusive=True)
    if op == "more_than_ago":
        if include_current:
            return Window(high=rolling(-amount), high_exclusive=True)
        return Window(high=day_bound(add_units(start, -amount, unit)), high_exclusive=True)
    raise ValueError(f"not a relative date operator: {op}")


def whole_months(start: date, end: date) -> int:
    """Complete months from ``start`` to a later ``end``: a month is complete when ``end``'s
    day of month has reached ``start``'s (31 January to 28 February is 0 months)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if end.day < start.day else months


def date_difference(start: date, end: date, unit: str) -> int:
    """``DATEDIF``: whole days, months or years from ``start`` to ``end``; negative when
    ``end`` is before ``start`` (the difference the other way round, negated)."""
    if unit == "day":
        return (end - start).days
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    months = whole_months(start, end)
    return sign * (months if unit == "month" else months // 12)
