"""Periods given on the command line (``--period YYYY-MM``): the FEC export and the
archive take a month of shop days."""

from __future__ import annotations

import calendar
import datetime as dt
import re


class PeriodError(ValueError):
    """The ``--period`` given is not a month that can be exported."""


def parse_period(text: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """A ``YYYY-MM`` month as its first and last days.

    Raises:
        PeriodError: not ``YYYY-MM``, not a month (13), before 2000, or later than the
            month of ``today`` (nothing can have been sold in it yet). The message says
            which.
    """
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
        raise PeriodError(f"period {_shown(text)} is not a month written YYYY-MM (e.g. {today:%Y-%m})")
    year, month = int(text[:4]), int(text[5:])
    if not 1 <= month <= 12:
        raise PeriodError(f"period {text}: there is no month {month:02d} (01 to 12)")
    if year < 2000:
        raise PeriodError(f"period {text} is before 2000: no till of this software sold then")
    if (year, month) > (today.year, today.month):
        raise PeriodError(f"period {text} has not begun (today is {today.isoformat()} in the shop)")
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _shown(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= 30 else shown[:20] + f"… ({len(str(text))} characters)"
