"""schedule.yaml: how the watcher service (``xietong serve``) looks at the share and which jobs
it runs when (times in the calendar's time zone, Asia/Shanghai; working days from the calendar).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from automation.rules.base import Strict

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _check_hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError(f"'{value}' is not a time of day HH:MM")
    return value


class Job(Strict):
    """One scheduled job: an operation of ``automation.api.OPERATIONS`` run at set times."""

    name: str = Field(min_length=1)
    # an OPERATIONS name ("run", "summary", "weekly", "notify", …); one not (yet) installed is
    # logged as "not available" and skipped
    operation: str = Field(min_length=1)
    every_minutes: int | None = Field(default=None, ge=1, le=1440)
    between: tuple[str, str] = ("00:00", "23:59")  # window of every_minutes, both ends included
    at: list[str] = []  # fixed times of day
    # workdays: the calendar's working days; every_day; week_due_day: the day the weekly
    # report is due (Friday, or the last working day before it when Friday is a holiday)
    days: Literal["workdays", "every_day", "week_due_day"] = "workdays"
    jitter_seconds: int = Field(default=0, ge=0, le=3600)
    after_change: bool = False  # also run after a cycle that wrote something

    @field_validator("at")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        return [_check_hhmm(v) for v in value]

    @field_validator("between")
    @classmethod
    def _window(cls, value: tuple[str, str]) -> tuple[str, str]:
        start, end = (_check_hhmm(v) for v in value)
        if start > end:
            raise ValueError(f"window starts ({start}) after it ends ({end})")
        return start, end

    @model_validator(mode="after")
    def _one_kind(self) -> Job:
        if (self.every_minutes is None) == (not self.at):
            raise ValueError("every_minutes: give either every_minutes or at, not both/neither")
        return self


class ScheduleRules(Strict):
    """The service's settings and jobs."""

    scan_interval_seconds: float = Field(default=30.0, gt=0, le=3600)  # the full rescan
    quiet_seconds: float = Field(default=2.0, ge=0, le=600)  # unchanged this long = saved
    heartbeat_seconds: float = Field(default=10.0, gt=0, le=600)
    status_file_seconds: float = Field(default=60.0, gt=0, le=3600)  # 服务状态.txt refresh
    quarantine_after: int = Field(default=3, ge=1, le=100)  # failures of one file
    # the later stages behind an answered save (weekly, archive, summary, notifications) wait
    # until no inbox file has been arriving for this long, but never longer than the maximum
    full_cycle_quiet_seconds: float = Field(default=5.0, ge=0, le=600)
    full_cycle_max_delay_seconds: float = Field(default=60.0, ge=0, le=3600)
    catch_up_missed: bool = True  # a slot missed while stopped or asleep: run once at start
    jobs: list[Job] = []

    @model_validator(mode="after")
    def _full_cycle_delay(self) -> ScheduleRules:
        if self.full_cycle_max_delay_seconds < self.full_cycle_quiet_seconds:
            raise ValueError(
                "full_cycle_max_delay_seconds: must not be shorter than full_cycle_quiet_seconds"
            )
        return self

    @model_validator(mode="after")
    def _unique(self) -> ScheduleRules:
        names = [j.name for j in self.jobs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"jobs: job name '{dup[0]}' is used twice")
        return self
