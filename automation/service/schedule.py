"""When the service's scheduled jobs are due (定时任务): pure functions, "now" passed in.

A job (``rules/schedule.yaml``) has *slots*: fixed times of day (``at``) or every N minutes in a
window (``every_minutes`` + ``between``), on the calendar's working days, every day, or on the
day the weekly report is due. A slot may be shifted by a small jitter (the same for the same job
and slot, so a restart does not move it). A job is due when a slot fell between its last run and
now; several missed slots (the machine asleep) make one run, not a flood.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator

from automation.core.calendar import WorkCalendar
from automation.rules.schedule import Job

MAX_LOOKBACK_DAYS = 31  # missed slots older than this are not caught up


def _hhmm(text: str) -> dt.time:
    hour, minute = text.split(":")
    return dt.time(int(hour), int(minute))


def runs_on(job: Job, calendar: WorkCalendar, day: dt.date) -> bool:
    """Is ``day`` one of the job's days?"""
    if job.days == "every_day":
        return True
    if job.days == "week_due_day":
        year, week, _ = day.isocalendar()
        return calendar.week_due_date(year, week) == day
    return calendar.is_workday(day)


def jitter(job: Job, slot: dt.datetime) -> dt.timedelta:
    """The job's shift of one slot: stable per job and slot, at most ``jitter_seconds``."""
    if not job.jitter_seconds:
        return dt.timedelta(0)
    digest = hashlib.sha256(f"{job.name}|{slot.isoformat()}".encode()).digest()
    return dt.timedelta(seconds=int.from_bytes(digest[:4], "big") % (job.jitter_seconds + 1))


def slots_of_day(
    job: Job, calendar: WorkCalendar, day: dt.date, tz: dt.tzinfo
) -> list[dt.datetime]:
    """The job's run times on ``day`` (jitter included), in ``tz``, in order."""
    if not runs_on(job, calendar, day):
        return []
    if job.at:
        times = sorted({_hhmm(t) for t in job.at})
    else:
        assert job.every_minutes is not None
        start, end = (_hhmm(t) for t in job.between)
        first = start.hour * 60 + start.minute
        last = end.hour * 60 + end.minute
        times = [dt.time(m // 60, m % 60) for m in range(first, last + 1, job.every_minutes)]
    out = []
    for t in times:
        slot = dt.datetime.combine(day, t, tzinfo=tz)
        out.append(slot + jitter(job, slot))
    return sorted(out)


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def last_due(
    job: Job, calendar: WorkCalendar, *, since: dt.datetime, now: dt.datetime
) -> dt.datetime | None:
    """The latest slot after ``since`` and not after ``now`` (None: nothing due)."""
    tz = now.tzinfo
    assert tz is not None, "now must carry its time zone"
    since = max(since.astimezone(tz), now - dt.timedelta(days=MAX_LOOKBACK_DAYS))
    # a jitter may push a slot of the day before past midnight: start one day early
    for day in reversed(list(_days(since.date() - dt.timedelta(days=1), now.date()))):
        for slot in reversed(slots_of_day(job, calendar, day, tz)):
            if since < slot <= now:
                return slot
            if slot <= since:
                return None
    return None


def next_due(job: Job, calendar: WorkCalendar, *, now: dt.datetime) -> dt.datetime | None:
    """The first slot after ``now`` within a year (None: the job never runs)."""
    tz = now.tzinfo
    assert tz is not None, "now must carry its time zone"
    for day in _days(now.date() - dt.timedelta(days=1), now.date() + dt.timedelta(days=366)):
        for slot in slots_of_day(job, calendar, day, tz):
            if slot > now:
                return slot
    return None
