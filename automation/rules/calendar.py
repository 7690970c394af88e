"""calendar.yaml: time zone, business hours, calendar sources and yearly overrides."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from automation.rules.base import Strict

# Zones of mainland China, Hong Kong, Macau and Taiwan have had no daylight saving time since
# 1991: when the IANA database is missing (Windows without the ``tzdata`` package) a fixed
# UTC+8 offset is exact for every date the process deals with.
_UTC8_ZONES = {
    "Asia/Shanghai",
    "Asia/Chongqing",
    "Asia/Chungking",
    "Asia/Harbin",
    "PRC",
    "Asia/Hong_Kong",
    "Asia/Macau",
    "Asia/Taipei",
}


def resolve_timezone(name: str) -> dt.tzinfo:
    """The tzinfo of an IANA zone name; a ValueError names a zone that cannot be found."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        if name in _UTC8_ZONES:
            return dt.timezone(dt.timedelta(hours=8), name)
        raise ValueError(f"unknown time zone '{name}'") from None


class NamedDate(Strict):
    date: dt.date
    name: str = ""


class FixedHoliday(Strict):
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    name: str

    @model_validator(mode="after")
    def _real_day(self) -> FixedHoliday:
        try:
            dt.date(2000, self.month, self.day)  # a leap year: 02-29 is allowed
        except ValueError:
            raise ValueError(f"{self.month}-{self.day} is not a day of the year") from None
        return self


class YearOverride(Strict):
    holidays: list[NamedDate] = []
    workdays: list[NamedDate] = []  # makeup working days (调休上班)


class CalendarRules(Strict):
    timezone: str = "Asia/Shanghai"
    start_of_business: dt.time = dt.time(9, 0)  # only for the share of working time used
    close_of_business: dt.time = dt.time(18, 0)
    sources: list[Literal["chinese_calendar", "holidays"]] = ["chinese_calendar"]
    fixed_holidays: list[FixedHoliday] = []
    years: dict[int, YearOverride] = {}
    company_days_off: list[NamedDate] = []

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        resolve_timezone(value)
        return value

    @field_validator("sources")
    @classmethod
    def _sources_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a source is listed twice")
        return value

    @model_validator(mode="after")
    def _no_contradictions(self) -> CalendarRules:
        if self.start_of_business >= self.close_of_business:
            raise ValueError("start_of_business: must be before close_of_business")
        for year, override in self.years.items():
            if not 1900 <= year <= 2999:
                raise ValueError(f"years[{year}]: not a plausible year")
            seen: dict[dt.date, str] = {}
            for kind, dates in (("holidays", override.holidays), ("workdays", override.workdays)):
                for i, entry in enumerate(dates):
                    key = f"years[{year}].{kind}[{i}]"
                    if entry.date.year != year:
                        raise ValueError(f"{key}: {entry.date} is not in {year}")
                    if entry.date in seen:
                        what = (
                            "twice" if seen[entry.date] == kind else "both a holiday and a workday"
                        )
                        raise ValueError(f"{key}: {entry.date} is listed {what}")
                    seen[entry.date] = kind
        days_off: set[dt.date] = set()
        for i, entry in enumerate(self.company_days_off):
            if entry.date in days_off:
                raise ValueError(f"company_days_off[{i}]: {entry.date} is listed twice")
            days_off.add(entry.date)
        return self

    def tzinfo(self) -> dt.tzinfo:
        return resolve_timezone(self.timezone)
