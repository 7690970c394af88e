"""Scheduled jobs of the watcher service: working days from the calendar, the weekly due day,
jitter, missed slots run once at start, operations not installed reported as not available."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from service_helpers import running, wait_until

from automation.core.calendar import WorkCalendar
from automation.errors import RulesError
from automation.io.drive import drive_paths
from automation.rules.base import parse_model
from automation.rules.schedule import Job, ScheduleRules
from automation.service import health
from automation.service.schedule import jitter, last_due, next_due, slots_of_day

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def calendar(rules) -> WorkCalendar:
    return WorkCalendar.from_rules(rules.calendar)


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def test_clocks_every_15_minutes_in_working_hours_on_working_days_only(calendar):
    job = Job(name="clocks", operation="run", every_minutes=15, between=("08:00", "19:00"))
    assert len(slots_of_day(job, calendar, dt.date(2026, 9, 29), SH)) == 45  # a Tuesday
    assert slots_of_day(job, calendar, dt.date(2026, 10, 2), SH) == []  # National Day
    makeup = slots_of_day(job, calendar, dt.date(2026, 10, 10), SH)  # Saturday, 调休 workday
    assert makeup[0] == at(2026, 10, 10, 8, 0) and makeup[-1] == at(2026, 10, 10, 19, 0)


def test_the_weekly_job_runs_on_the_weeks_due_day_when_friday_is_a_holiday(calendar):
    job = Job(name="weekly", operation="weekly", at=["18:30"], days="week_due_day")
    # week 40 of 2026: 1-2 October are holidays, the weekly report is due Wednesday 30 September
    assert next_due(job, calendar, now=at(2026, 9, 28, 9, 0)) == at(2026, 9, 30, 18, 30)
    assert next_due(job, calendar, now=at(2026, 9, 30, 18, 31)) == at(2026, 10, 9, 18, 30)


def test_missed_slots_while_asleep_make_one_run_the_latest(calendar):
    job = Job(name="daily", operation="daily-check", at=["09:00"])
    since, now = at(2026, 9, 25, 19, 0), at(2026, 10, 12, 10, 0)
    assert last_due(job, calendar, since=since, now=now) == at(2026, 10, 12, 9, 0)
    assert last_due(job, calendar, since=now, now=now + dt.timedelta(hours=1)) is None


@given(st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 31)))
def test_jitter_is_stable_and_bounded(moment):
    job = Job(name="weekly", operation="weekly", at=["18:30"], jitter_seconds=120)
    slot = moment.replace(tzinfo=SH)
    assert jitter(job, slot) == jitter(job, slot)
    assert dt.timedelta(0) <= jitter(job, slot) <= dt.timedelta(seconds=120)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"jobs": [{"name": "a", "operation": "run", "at": ["09:00"], "colour": "red"}]}, "colour"),
        ({"jobs": [{"name": "a", "operation": "run", "at": ["25:00"]}]}, "at"),
        ({"jobs": [{"name": "a", "operation": "run", "at": ["09:00"], "every_minutes": 5}]}, ""),
        ({"jobs": [{"name": "a", "operation": "run"}]}, ""),
        ({"scan_interval": 5}, "scan_interval"),
        ({"full_cycle_quiet_seconds": -1}, "full_cycle_quiet_seconds"),
        ({"full_cycle_quiet_seconds": 30, "full_cycle_max_delay_seconds": 10}, "full_cycle"),
    ],
)
def test_schedule_rules_are_strict(data, key):
    with pytest.raises(RulesError) as err:
        parse_model(ScheduleRules, data, "schedule.yaml")
    assert key in err.value.key


def test_the_shipped_schedule_names_the_issues_jobs(rules):
    jobs = {j.name: j for j in rules.schedule.jobs}
    assert jobs["clocks"].every_minutes == 15 and jobs["clocks"].operation == "run"
    assert jobs["missing-daily-rows"].at == ["09:00"]
    assert jobs["summary"].at == ["08:30"] and jobs["summary"].after_change
    assert jobs["weekly"].days == "week_due_day" and jobs["weekly"].jitter_seconds > 0


def test_a_missed_job_runs_once_at_start_and_a_missing_operation_is_not_available(drive, rules):
    paths = drive_paths(drive, rules)
    schedule = {
        "jobs": [
            {"name": "drive-paths", "operation": "paths", "at": ["00:00"], "days": "every_day"},
            {"name": "rollup", "operation": "no-such-op", "at": ["00:00"], "days": "every_day"},
            {"name": "fresh", "operation": "paths", "at": ["00:00"], "days": "every_day"},
        ]
    }
    (paths.rules / "schedule.yaml").write_text(yaml.safe_dump(schedule), "utf-8")
    two_days_ago = (dt.datetime.now(SH) - dt.timedelta(days=2)).isoformat()
    earlier = {"drive-paths": {"last_run": two_days_ago}, "rollup": {"last_run": two_days_ago}}
    health.write_status(drive, {"jobs": earlier})  # as an earlier service left it
    with running(drive, interval=0.5) as service:
        wait_until(lambda: service.jobs.get("rollup", {}).get("last_result"))
        wait_until(lambda: service.jobs.get("drive-paths", {}).get("last_result"))
        jobs = service.status()["jobs"]
        assert jobs["drive-paths"]["last_result"] == "ok"
        assert jobs["rollup"]["last_result"] == "not available"
        assert jobs["fresh"]["last_result"] is None  # never ran before: no catch-up
        assert jobs["fresh"]["next_run"].endswith("T00:00:00+08:00")
