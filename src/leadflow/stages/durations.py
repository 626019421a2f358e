"""Durations and calendar intervals written by people: ``"48h"``, ``"7 days"``, ``"6 months"``.

Exact durations (snoozes, holds, aging) are :class:`~datetime.timedelta`;
calendar intervals (a follow-up "in 6 months") are
:class:`~dateutil.relativedelta.relativedelta`, so that "in 1 month" from
31 January is 28 or 29 February, as a person means it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from fractions import Fraction

from dateutil.relativedelta import relativedelta

from leadflow.errors import FieldError, ValidationError

__all__ = ["format_duration", "parse_duration", "parse_interval", "scale_interval"]

_UNITS = {
    "s": "seconds",
    "sec": "seconds",
    "secs": "seconds",
    "second": "seconds",
    "seconds": "seconds",
    "m": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "h": "hours",
    "hr": "hours",
    "hrs": "hours",
    "hour": "hours",
    "hours": "hours",
    "d": "days",
    "day": "days",
    "days": "days",
    "w": "weeks",
    "week": "weeks",
    "weeks": "weeks",
}
_CALENDAR_UNITS = {
    **_UNITS,
    "mo": "months",
    "month": "months",
    "months": "months",
    "y": "years",
    "yr": "years",
    "year": "years",
    "years": "years",
}
_PART = re.compile(r"\s*(\d+)\s*([a-z]+)\s*,?")


def _parts(text: str, units: dict[str, str], field: str) -> dict[str, int]:
    folded = text.strip().lower()
    totals: dict[str, int] = {}
    position = 0
    while position < len(folded):
        match = _PART.match(folded, position)
        if match is None or match.group(2) not in units:
            allowed = "minutes, hours, days, weeks" + (
                ", months, years" if "months" in units.values() else ""
            )
            raise ValidationError(
                [
                    FieldError(
                        field, text, f"is not a duration: write e.g. '48h' or '7 days' ({allowed})"
                    )
                ]
            )
        unit = units[match.group(2)]
        totals[unit] = totals.get(unit, 0) + int(match.group(1))
        position = match.end()
    if not totals:
        raise ValidationError([FieldError(field, text, "is not a duration: it is empty")])
    return totals


def parse_duration(text: str, *, field: str = "duration") -> timedelta:
    """An exact duration: ``"1h"``, ``"48 hours"``, ``"7d"``, ``"1 day 12 hours"``, ``"15m"``."""
    return timedelta(**_parts(text, _UNITS, field))


def parse_interval(text: str, *, field: str = "interval") -> relativedelta:
    """A calendar interval: ``"6 months"``, ``"2 weeks"``, ``"1 year"``, ``"3 days"``."""
    return relativedelta(**_parts(text, _CALENDAR_UNITS, field)).normalized()  # type: ignore[arg-type]


def format_duration(value: timedelta) -> str:
    """An exact spelling: hours below 3 days (``1h``, ``48h``), else days (``7d``, ``3d 12h``)."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0m"
    if seconds < 3 * 86400 and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    if seconds:
        parts.append(f"{seconds}s")
    return " ".join(parts)


def scale_interval(interval: relativedelta, factor: Fraction) -> relativedelta:
    """``interval`` times ``factor``, kept in calendar units where it can be.

    Whole months stay months ("6 months" halved is 3 months); a fraction of a
    month becomes days at 30 days a month ("7 months" halved is 3 months and
    15 days); days, hours and minutes scale exactly to the minute.
    """
    months = Fraction(interval.years * 12 + interval.months) * factor
    whole_months = int(months)
    minutes = (months - whole_months) * 30 * 24 * 60 + Fraction(
        interval.days * 24 * 60 + interval.hours * 60 + interval.minutes
    ) * factor
    return relativedelta(months=whole_months, minutes=int(minutes)).normalized()
