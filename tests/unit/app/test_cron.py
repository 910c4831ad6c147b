"""Cron schedules of ReloadConfig: OpsML's six/seven-field form and classic crontab."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsml.app import CronSchedule
from opsml.errors import InvalidArgumentError
from opsml.scouter.types import CommonCrons

MOMENT = datetime(2026, 12, 4, 7, 30, 15, 500_000, tzinfo=UTC)  # a Friday


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        (CommonCrons.Every1Minute.cron, datetime(2026, 12, 4, 7, 31, 0, tzinfo=UTC)),
        (CommonCrons.Every15Minutes.cron, datetime(2026, 12, 4, 7, 45, 0, tzinfo=UTC)),
        (CommonCrons.Every6Hours.cron, datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)),
        (CommonCrons.EveryDay.cron, datetime(2026, 12, 5, 0, 0, 0, tzinfo=UTC)),
        (CommonCrons.EveryWeek.cron, datetime(2026, 12, 6, 0, 0, 0, tzinfo=UTC)),  # Sunday
        ("*/20 * * * * *", datetime(2026, 12, 4, 7, 30, 20, tzinfo=UTC)),
        ("0 0 9 * * 2-6", datetime(2026, 12, 4, 9, 0, 0, tzinfo=UTC)),  # Mon-Fri: today
        ("0 0 9 * * MON", datetime(2026, 12, 7, 9, 0, 0, tzinfo=UTC)),  # next Monday
        ("0 0 0 1 JAN * 2028", datetime(2028, 1, 1, 0, 0, 0, tzinfo=UTC)),
        ("30 8 * * 1-5", datetime(2026, 12, 4, 8, 30, 0, tzinfo=UTC)),  # crontab: Mon-Fri
        ("0 0 * * 0", datetime(2026, 12, 6, 0, 0, 0, tzinfo=UTC)),  # crontab: Sunday
        ("0 0 13 * 5", datetime(2026, 12, 11, 0, 0, 0, tzinfo=UTC)),  # the 13th or a Friday
    ],
)
def test_next_after(cron: str, expected: datetime) -> None:
    assert CronSchedule.parse(cron).next_after(MOMENT) == expected


def test_a_schedule_that_never_fires_again() -> None:
    assert CronSchedule.parse("0 0 0 1 1 * 2020").next_after(MOMENT) is None


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("* * * *", "4 fields"),
        ("61 * * * * *", "outside 0-59"),
        ("0 0 25 * * *", "outside 0-23"),
        ("*/0 * * * * *", "step '0'"),
        ("0 0 0 * FOO *", "'FOO' is not a number or a name"),
        ("0 0 0 * * 0", "outside 1-7"),  # OpsML's form counts Sunday as 1
    ],
)
def test_malformed_expressions_are_refused(cron: str, why: str) -> None:
    with pytest.raises(InvalidArgumentError, match=why):
        CronSchedule.parse(cron)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
    st.sampled_from(["*/7 * * * * *", "0 */13 * * * *", "0 0 3 * * 2,4", "15 4 1-7 * *"]),
)
def test_the_next_time_is_later_and_matches(moment: datetime, cron: str) -> None:
    schedule = CronSchedule.parse(cron)
    found = schedule.next_after(moment)
    assert found is not None
    assert found > moment.replace(tzinfo=UTC)
    assert (found.second, found.minute, found.hour) in {
        (s, m, h) for s in schedule.seconds for m in schedule.minutes for h in schedule.hours
    }
    step = found - timedelta(seconds=1)
    assert schedule.next_after(step) == found  # nothing earlier in between
