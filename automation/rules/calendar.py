"""calendar.yaml: time zone, close of business, calendar sources and yearly overrides."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from automation.rules.base import Strict


class NamedDate(Strict):
    date: dt.date
    name: str = ""


class FixedHoliday(Strict):
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    name: str


class YearOverride(Strict):
    holidays: list[NamedDate] = []
    workdays: list[NamedDate] = []  # makeup working days (调休上班)


class CalendarRules(Strict):
    timezone: str = "Asia/Shanghai"
    close_of_business: dt.time = dt.time(18, 0)
    sources: list[Literal["chinese_calendar", "holidays"]] = ["chinese_calendar"]
    fixed_holidays: list[FixedHoliday] = []
    years: dict[int, YearOverride] = {}
    company_days_off: list[NamedDate] = []

    @model_validator(mode="after")
    def _no_contradictions(self) -> CalendarRules:
        for year, override in self.years.items():
            seen: dict[dt.date, str] = {}
            for kind, dates in (("holidays", override.holidays), ("workdays", override.workdays)):
                for entry in dates:
                    if entry.date.year != year:
                        raise ValueError(f"years.{year}.{kind}: {entry.date} is not in {year}")
                    if entry.date in seen:
                        what = "twice" if seen[entry.date] == kind else "both a holiday and a workday"
                        raise ValueError(f"years.{year}.{kind}: {entry.date} is listed {what}")
                    seen[entry.date] = kind
        return self
