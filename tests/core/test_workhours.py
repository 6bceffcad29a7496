"""Working hours of the out-of-hours access report, and the settings that give them."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from egide.core import workhours
from egide.core.config import Settings

PARIS = workhours.parse("07:00-20:00", "mon-fri", "Europe/Paris")


def utc(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("moment", "within"),
    [
        (utc(2026, 3, 2, 6, 0), True),  # Monday 07:00 in Paris (UTC+1): the start is in
        (utc(2026, 3, 2, 5, 59), False),
        (utc(2026, 3, 2, 18, 59), True),
        (utc(2026, 3, 2, 19, 0), False),  # 20:00 in Paris: the end is out
        (utc(2026, 3, 7, 10, 0), False),  # Saturday
        (utc(2026, 6, 1, 5, 30), True),  # Monday 07:30 in summer time (UTC+2)
        (utc(2026, 6, 1, 18, 30), False),  # 20:30 in summer time
        (utc(2026, 3, 6, 23, 30), False),  # Saturday 00:30 in Paris, Friday in UTC
    ],
)
def test_local_time_decides(moment: dt.datetime, within: bool) -> None:
    assert PARIS.contains(moment) is within


def test_days_take_lists_and_wrapping_ranges() -> None:
    assert workhours.parse_days("mon-fri") == frozenset(range(5))
    assert workhours.parse_days("fri-mon") == frozenset({4, 5, 6, 0})
    assert workhours.parse_days("mon,wed-thu,sun") == frozenset({0, 2, 3, 6})


def test_a_day_may_end_at_midnight() -> None:
    hours = workhours.parse("00:00-24:00", "sat", "UTC")
    assert hours.contains(utc(2026, 3, 7, 23, 59))
    assert hours.describe() == {"hours": "00:00-24:00", "days": "sat", "timezone": "UTC"}


def test_the_defaults_describe_themselves() -> None:
    settings = Settings()
    hours = workhours.parse(
        settings.audit_working_hours, settings.audit_working_days, settings.audit_timezone
    )
    assert hours.describe() == {
        "hours": "07:00-20:00",
        "days": "mon,tue,wed,thu,fri",
        "timezone": "Europe/Paris",
    }


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("audit_working_hours", "20:00-07:00", "start first"),
        ("audit_working_hours", "7h-20h", "String should match pattern"),
        ("audit_working_days", "lundi-vendredi", "String should match pattern"),
        ("audit_working_days", "mon-fry", "list of days"),
        ("audit_timezone", "Europe/Lutece", "not a known time zone"),
    ],
)
def test_a_setting_the_report_cannot_read_stops_the_start(
    field: str, value: str, says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        Settings.model_validate({field: value})
