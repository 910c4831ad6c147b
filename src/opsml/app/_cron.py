"""Cron schedules for :class:`~opsml.app.ReloadConfig`: pure code, no I/O.

Two forms are accepted:

- OpsML's (and scouter's ``CommonCrons``): six or seven fields, ``second minute hour
  day-of-month month day-of-week [year]``, days of the week ``1``-``7`` meaning Sunday to
  Saturday (``"0 * * * * * *"`` is every minute);
- the classic crontab: five fields, ``minute hour day-of-month month day-of-week``, days
  ``0``-``7`` with both ``0`` and ``7`` meaning Sunday; the second is then ``0``.

Each field takes ``*``, a value, a range ``a-b``, a step ``*/n`` or ``a-b/n`` or ``a/n``,
and lists of these separated by commas; months and days of the week also take their
three-letter English names (``JAN``, ``SUN``). When both day fields are restricted, a day
matches if either does, as in crontab.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opsml.errors import InvalidArgumentError

__all__ = ["CronSchedule"]

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_SEARCH_YEARS = 5
"""How far ahead :meth:`CronSchedule.next_after` looks before deciding nothing matches."""


def _value(text: str, low: int, names: tuple[str, ...], name_base: int) -> int:
    upper = text.upper()
    if upper in names:
        return names.index(upper) + name_base
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a number{' or a name' if names else ''}")
    return int(text)


def _field(
    text: str, low: int, high: int, names: tuple[str, ...] = (), name_base: int = 0
) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"step {step_text!r} must be a positive number")
            step = int(step_text)
        if base in ("*", "?"):
            start, stop = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, stop = _value(first, low, names, name_base), _value(last, low, names, name_base)
        else:
            start = _value(base, low, names, name_base)
            stop = high if step_text else start
        if not low <= start <= stop <= high:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, stop + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression; :meth:`next_after` gives the next time it fires (UTC)."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """Python's numbering: Monday is 0, Sunday 6."""
    years: frozenset[int] | None
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Parse a five-, six- or seven-field cron expression (see the module docstring).

        Raises:
            InvalidArgumentError: The expression is malformed (the message says why).
        """
        fields = str(expression).split()
        try:
            if len(fields) == 5:
                fields = ["0", *fields]
                raw_days = _field(fields[5], 0, 7, _DAYS, 0)
                sundays = {0, 7}
            elif len(fields) in (6, 7):
                raw_days = _field(fields[5], 1, 7, _DAYS, 1)
                sundays = {1}
            else:
                raise ValueError(f"it has {len(fields)} fields, not 5, 6 or 7")
            weekdays = frozenset(
                6 if day in sundays else day - (1 if sundays == {0, 7} else 2) for day in raw_days
            )
            return cls(
                expression=str(expression),
                seconds=_field(fields[0], 0, 59),
                minutes=_field(fields[1], 0, 59),
                hours=_field(fields[2], 0, 23),
                days=_field(fields[3], 1, 31),
                months=_field(fields[4], 1, 12, _MONTHS, 1),
                weekdays=weekdays,
                years=_field(fields[6], 1970, 2199) if len(fields) == 7 else None,
                any_day=fields[3] in ("*", "?"),
                any_weekday=fields[5] in ("*", "?"),
            )
        except ValueError as exc:
            raise InvalidArgumentError(f"invalid cron expression {expression!r}: {exc}") from None

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        in_month = day.day in self.days
        in_week = day.weekday() in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def next_after(self, moment: datetime) -> datetime | None:
        """The first time strictly after ``moment`` that the schedule fires, in UTC (``None``
        when it never fires again within five years, e.g. a past year)."""
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        day = start.replace(hour=0, minute=0, second=0)
        for _ in range(366 * _SEARCH_YEARS):
            if self._day_matches(day):
                first = day.date() == start.date()
                for hour in sorted(self.hours):
                    if first and hour < start.hour:
                        continue
                    same_hour = first and hour == start.hour
                    for minute in sorted(self.minutes):
                        if same_hour and minute < start.minute:
                            continue
                        same_minute = same_hour and minute == start.minute
                        for second in sorted(self.seconds):
                            if same_minute and second < start.second:
                                continue
                            return day.replace(hour=hour, minute=minute, second=second)
            day += timedelta(days=1)
        return None
