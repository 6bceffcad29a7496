"""Working hours, for the out-of-hours access report (issue 4, item 7).

Three settings say when the hospital works: `audit_working_hours`
(`07:00-20:00`: start included, end excluded, local time), `audit_working_days`
(`mon-fri`, or a list of days and ranges such as `mon-fri,sat`; a range may
wrap past Sunday) and `audit_timezone` (an IANA name). Local time follows the
zone's rules on each date, daylight saving included. Public holidays are not
known here: an access on a holiday that falls on a working day counts as
within hours.

The settings are checked with this module's parser when they are read, so a
value the report could not use stops the start, not the report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WorkingHours:
    """When accesses are within hours: `start` <= local time < `end`, on `days`."""

    start: dt.time
    #: None for the end of the day (`24:00`).
    end: dt.time | None
    #: Weekdays as `datetime.weekday()` numbers (Monday = 0).
    days: frozenset[int]
    zone: ZoneInfo

    def contains(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(self.zone)
        if local.weekday() not in self.days:
            return False
        clock = local.time().replace(tzinfo=None)
        return self.start <= clock and (self.end is None or clock < self.end)

    def describe(self) -> dict[str, str]:
        """The settings in force, as the report states them."""
        end = "24:00" if self.end is None else self.end.strftime("%H:%M")
        return {
            "hours": f"{self.start.strftime('%H:%M')}-{end}",
            "days": ",".join(DAYS[day] for day in sorted(self.days)),
            "timezone": self.zone.key,
        }


def parse(hours: str, days: str, zone: str) -> WorkingHours:
    """The working hours the three settings describe; ValueError says what is wrong."""
    start, end = parse_hours(hours)
    return WorkingHours(start=start, end=end, days=parse_days(days), zone=parse_zone(zone))


def parse_hours(value: str) -> tuple[dt.time, dt.time | None]:
    first, sep, second = value.strip().partition("-")
    try:
        start = dt.time.fromisoformat(first)
        end = None if second == "24:00" else dt.time.fromisoformat(second)
    except ValueError:
        raise ValueError(f"{value!r} is not HH:MM-HH:MM (for example 07:00-20:00)") from None
    if not sep or (end is not None and end <= start):
        raise ValueError(
            f"{value!r} is not HH:MM-HH:MM with the start first (for example 07:00-20:00)"
        )
    return start, end


def parse_days(value: str) -> frozenset[int]:
    found: set[int] = set()
    for part in value.strip().lower().split(","):
        first, _, last = part.strip().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(
                f"{value!r} is not a list of days and ranges of mon, tue, wed, thu, fri, sat, "
                "sun (for example mon-fri)"
            )
        begin = DAYS.index(first)
        length = (DAYS.index(last) - begin) % len(DAYS) if last else 0
        found.update((begin + step) % len(DAYS) for step in range(length + 1))
    return frozenset(found)


def parse_zone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a known time zone: give an IANA name such as Europe/Paris"
        ) from None


def check(field: str, value: str) -> None:
    """Raise ValueError when `value` is not a valid value of the setting `field`."""
    parsers = {
        "audit_working_hours": parse_hours,
        "audit_working_days": parse_days,
        "audit_timezone": parse_zone,
    }
    parsers[field](value)
