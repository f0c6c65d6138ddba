"""Shift calendars for the demo history: when, in UTC, a calendar's shifts run over the seeded window."""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mes.models import Calendar

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Shift:
    """One worked shift: its place in the calendar's shift list (0 = first shift of the day) and its span."""

    index: int
    start: datetime
    end: datetime


class WorkCalendar:
    """A calendar's shifts between two dates, precomputed so lookups are a bisection."""

    def __init__(self, calendar: Calendar, zone: ZoneInfo, first: date, last: date) -> None:
        self.name = calendar.name
        self.always = calendar.around_the_clock
        self.zone = zone
        self.shifts = [] if self.always else _shifts(calendar, zone, first, last)
        self._starts = [s.start for s in self.shifts]

    def shift_at(self, at: datetime) -> Shift | None:
        """The shift running at `at` (None between shifts; never used for an around-the-clock calendar)."""
        i = bisect_right(self._starts, at) - 1
        if i >= 0 and self.shifts[i].start <= at < self.shifts[i].end:
            return self.shifts[i]
        return None

    def next_shift(self, at: datetime) -> Shift | None:
        """The first shift that starts at or after `at`."""
        i = bisect_right(self._starts, at - timedelta(microseconds=1))
        return self.shifts[i] if i < len(self.shifts) else None

    def minutes_per_day(self) -> float:
        """Working minutes on an average calendar day of the window (for sizing capacity)."""
        if self.always or not self.shifts:
            return 1440.0 if self.always else 0.0
        span = (self.shifts[-1].end - self.shifts[0].start).total_seconds() / 86400 or 1.0
        return sum((s.end - s.start).total_seconds() / 60 for s in self.shifts) / span


def _shifts(calendar: Calendar, zone: ZoneInfo, first: date, last: date) -> list[Shift]:
    """Every shift starting on a working local day from `first` to `last`, in UTC, ordered by start."""
    days_off = {date.fromisoformat(d) for d in calendar.days_off}
    result = []
    day = first
    while day <= last:
        if day not in days_off:
            for index, shift in enumerate(calendar.shifts):
                if WEEKDAYS[day.weekday()] in shift["days"]:
                    result.append(_span(index, day, time.fromisoformat(shift["start"]),
                                        time.fromisoformat(shift["end"]), zone))
        day += timedelta(days=1)
    return sorted(result, key=lambda s: s.start)


def _span(index: int, day: date, start: time, end: time, zone: ZoneInfo) -> Shift:
    """A shift of `day` in UTC; an end at or before the start runs past midnight."""
    begin = datetime.combine(day, start, tzinfo=zone)
    finish = datetime.combine(day + timedelta(days=1) if end <= start else day, end, tzinfo=zone)
    return Shift(index, begin.astimezone(UTC), finish.astimezone(UTC))
