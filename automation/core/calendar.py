"""The working-day calendar (工作日历): official Chinese holidays, makeup working days (调休) and
company days off, with the arithmetic every deadline of the process is counted in.

Where a day's status comes from, first match wins:

1. ``company_days_off`` in ``rules/calendar.yaml`` (always off);
2. a date listed under ``years: {YYYY: {holidays, workdays}}`` in ``rules/calendar.yaml``;
3. the first installed source (``chinese_calendar``, ``holidays``) whose official data covers the year;
4. a year defined under ``years`` but not listing the date: a plain weekday or weekend;
5. otherwise weekends plus ``fixed_holidays``, flagged **provisional**: nobody has published that
   year's arrangement to us, so the result is a guess and says so.

Pure: no file, network or wall-clock access. "Now" is always passed in.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from automation.errors import XietongError

if TYPE_CHECKING:
    from automation.rules.calendar import CalendarRules

Kind = Literal["workday", "weekend", "holiday", "makeup"]
WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
MAX_SPAN_DAYS = 3660  # no arithmetic walks further than this: a calendar without working days


@dataclass(frozen=True)
class DayInfo:
    """What kind of day a date is, by name (元旦, 国庆节调休上班 …) and how sure we are."""

    date: dt.date
    workday: bool
    kind: Kind
    name: str
    provisional: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(),
            "workday": self.workday,
            "kind": self.kind,
            "name": self.name,
            "provisional": self.provisional,
        }


@dataclass(frozen=True)
class Derivation:
    """How a due date was reached: N working days after ``start`` (``start`` not counted)."""

    start: dt.date
    n: int
    due: dt.date
    counted: tuple[dt.date, ...]  # the working days counted, ending with ``due``
    skipped: tuple[tuple[dt.date, str, str], ...]  # (date, kind, name) of days off passed over
    provisional: bool
    makeup: tuple[tuple[dt.date, str], ...] = ()  # (date, name) of counted makeup days (调休上班)

    def as_dict(self) -> dict[str, object]:
        # built field by field (``dataclasses.asdict`` deep-copies every tuple first)
        return {
            "start": self.start.isoformat(),
            "n": self.n,
            "due": self.due.isoformat(),
            "counted": [d.isoformat() for d in self.counted],
            "skipped": [
                {"date": d.isoformat(), "kind": kind, "name": name}
                for d, kind, name in self.skipped
            ],
            "provisional": self.provisional,
            "makeup": [{"date": d.isoformat(), "name": name} for d, name in self.makeup],
        }


@dataclass(frozen=True)
class WeekInfo:
    """An ISO week: its working days and when its weekly report is due."""

    week: str  # 2026-W41
    workdays: tuple[dt.date, ...]
    due_at: dt.datetime | None
    provisional: bool


class _Source(Protocol):
    def covers(self, year: int) -> bool: ...
    def day(self, d: dt.date) -> tuple[Kind, str]: ...


def _weekend(d: dt.date) -> bool:
    return d.weekday() >= 5


# chinesecalendar's Chinese names are short (清明, 端午, 中秋); users read the full names.
_FULL_NAMES = {"清明": "清明节", "端午": "端午节", "中秋": "中秋节"}


class _ChineseCalendarSource:
    """The ``chinesecalendar`` package (official notices 2004 onwards, as far as its release goes)."""

    def __init__(self) -> None:
        from chinese_calendar import constants

        self._holidays = constants.holidays
        self._workdays = constants.workdays
        self._years = {d.year for d in constants.holidays} | {d.year for d in constants.workdays}
        self._zh = {h.value: _FULL_NAMES.get(h.chinese, h.chinese) for h in constants.Holiday}

    def covers(self, year: int) -> bool:
        return year in self._years

    def day(self, d: dt.date) -> tuple[Kind, str]:
        if d in self._workdays:
            return "makeup", f"{self._zh.get(self._workdays[d], self._workdays[d])}调休上班"
        if d in self._holidays:
            return "holiday", self._zh.get(self._holidays[d], self._holidays[d])
        return ("weekend", WEEKDAY_ZH[d.weekday()]) if _weekend(d) else ("workday", "")


class _HolidaysSource:
    """The ``holidays`` package (``holidays.China``), official only for years with 调休 data."""

    def __init__(self) -> None:
        import holidays
        from holidays.countries import china

        static = getattr(china, "ChinaStaticHolidays", None)
        self._official = set(getattr(static, "special_public_holidays", {}) or {})
        self._module = holidays
        self._cache: dict[int, tuple[dict[dt.date, str], set[dt.date]]] = {}

    def _year(self, year: int) -> tuple[dict[dt.date, str], set[dt.date]]:
        if year not in self._cache:
            cal = self._module.China(years=year, language="zh_CN")
            days = {d: str(name) for d, name in cal.items() if d.year == year}
            workdays = {d for d in getattr(cal, "weekend_workdays", set()) if d.year == year}
            self._cache[year] = (days, workdays)
        return self._cache[year]

    def covers(self, year: int) -> bool:
        if self._official:
            return year in self._official
        return bool(self._year(year)[1])  # older releases: a year with 调休 data is official

    def day(self, d: dt.date) -> tuple[Kind, str]:
        days, workdays = self._year(d.year)
        if d in workdays:
            return "makeup", "调休上班"
        if d in days:
            return "holiday", days[d]
        return ("weekend", WEEKDAY_ZH[d.weekday()]) if _weekend(d) else ("workday", "")


_SOURCES = {"chinese_calendar": _ChineseCalendarSource, "holidays": _HolidaysSource}
_SOURCE_CACHE: dict[str, _Source] = {}


def _source(name: str) -> _Source:
    if name not in _SOURCE_CACHE:
        _SOURCE_CACHE[name] = _SOURCES[name]()
    return _SOURCE_CACHE[name]


class _LazySource:
    """A calendar source loaded on first use: the ``holidays`` package (a tenth of a second to
    import) is only needed for years the first source does not cover."""

    def __init__(self, name: str) -> None:
        self.name = name

    def covers(self, year: int) -> bool:
        return _source(self.name).covers(year)

    def day(self, d: dt.date) -> tuple[Kind, str]:
        return _source(self.name).day(d)


_MAX_SPANS = 20_000  # spans kept by WorkCalendar.week_dues


class WorkCalendar:
    """Working days, due times and weekly deadlines under one set of calendar rules."""

    # attributes that only memoise answers: two calendars that differ in these are the same
    MEMOS = (
        "_cache",
        "_work",
        "_prefix",
        "_starts",
        "_origin",
        "_derived",
        "_week_due",
        "_week_dues",
        "_year_days",
        "_among",
        "_upto",
    )

    def __init__(
        self,
        *,
        tz: dt.tzinfo,
        start_of_business: dt.time,
        close_of_business: dt.time,
        sources: list[_Source],
        fixed_holidays: dict[tuple[int, int], str],
        override_years: set[int],
        override_days: dict[dt.date, tuple[Kind, str]],
        company_days_off: dict[dt.date, str],
    ) -> None:
        self.tz = tz
        self.start_of_business = start_of_business
        self.close_of_business = close_of_business
        self._sources = sources
        self._fixed = fixed_holidays
        self._override_years = override_years
        self._override_days = override_days
        self._company = company_days_off
        # memos (see MEMOS): worked out on first use, never part of what the calendar is
        self._cache: dict[dt.date, DayInfo] = {}
        self._work: dict[dt.date, bool] = {}
        self._prefix: dict[int, tuple[list[int], list[int]]] = {}
        self._starts: dict[tuple[int, int], int] = {}
        self._origin: int | None = None
        self._derived: dict[tuple[dt.date, int], Derivation] = {}
        self._week_due: dict[tuple[int, int], dt.date | None] = {}
        self._week_dues: dict[tuple[dt.date, dt.date], tuple[tuple[str, dt.date], ...]] = {}
        self._year_days: dict[int, tuple[list[int], list[dt.date]]] = {}
        self._upto: dict[tuple[dt.date, int], int] = {}
        self._among: dict[tuple[frozenset[dt.date], dt.date, dt.date], tuple[dt.date, ...]] = {}

    @classmethod
    def from_rules(cls, rules: CalendarRules) -> WorkCalendar:
        override_days: dict[dt.date, tuple[Kind, str]] = {}
        for override in rules.years.values():
            for entry in override.holidays:
                override_days[entry.date] = ("holiday", entry.name or "节假日")
            for entry in override.workdays:
                kind: Kind = "makeup" if _weekend(entry.date) else "workday"
                override_days[entry.date] = (kind, entry.name or "调休上班")
        return cls(
            tz=rules.tzinfo(),
            start_of_business=rules.start_of_business,
            close_of_business=rules.close_of_business,
            sources=[_LazySource(name) for name in rules.sources],
            fixed_holidays={(h.month, h.day): h.name for h in rules.fixed_holidays},
            override_years=set(rules.years),
            override_days=override_days,
            company_days_off={e.date: e.name or "公司休息日" for e in rules.company_days_off},
        )

    # -- single days -------------------------------------------------------------------------

    def day_info(self, d: dt.date) -> DayInfo:
        """Working day or not, of which kind, by which name, and whether only provisionally."""
        if isinstance(d, dt.datetime):
            d = d.date()
        info = self._cache.get(d)
        if info is None:
            info = self._cache[d] = self._classify(d)
        return info

    def _classify(self, d: dt.date) -> DayInfo:
        if d in self._company:
            return DayInfo(d, False, "holiday", self._company[d], False)
        if d in self._override_days:
            kind, name = self._override_days[d]
            return DayInfo(d, kind in ("workday", "makeup"), kind, name, False)
        for source in self._sources:
            if source.covers(d.year):
                kind, name = source.day(d)
                return DayInfo(d, kind in ("workday", "makeup"), kind, name, False)
        provisional = d.year not in self._override_years
        fixed = self._fixed.get((d.month, d.day)) if provisional else None
        if fixed is not None:
            return DayInfo(d, False, "holiday", fixed, True)
        if _weekend(d):
            return DayInfo(d, False, "weekend", WEEKDAY_ZH[d.weekday()], provisional)
        return DayInfo(d, True, "workday", "", provisional)

    def is_workday(self, d: dt.date) -> bool:
        work = self._work.get(d)
        if work is None:
            work = self._work[d] = self.day_info(d).workday
        return work

    def is_provisional(self, d: dt.date) -> bool:
        return self.day_info(d).provisional

    # -- arithmetic --------------------------------------------------------------------------

    def add_workdays_explained(self, d: dt.date, n: int) -> Derivation:
        """The N-th working day after ``d`` (``d`` not counted) and how it was reached.

        ``n == 0`` gives ``d`` itself when it is a working day, else the next working day.
        """
        if n < 0:
            raise ValueError("n must be 0 or more")
        found = self._derived.get((d, n))
        if found is None:
            found = self._derived[(d, n)] = self._add_workdays(d, n)
        return found

    def _add_workdays(self, d: dt.date, n: int) -> Derivation:
        counted: list[dt.date] = []
        skipped: list[tuple[dt.date, str, str]] = []
        makeup: list[tuple[dt.date, str]] = []
        provisional = False
        day = d if n == 0 else d + dt.timedelta(days=1)
        need = max(n, 1)
        for _ in range(MAX_SPAN_DAYS + n):
            info = self.day_info(day)
            provisional = provisional or info.provisional
            if info.workday:
                counted.append(day)
                if info.kind == "makeup":
                    makeup.append((day, info.name))
                if len(counted) == need:
                    return Derivation(
                        d, n, day, tuple(counted), tuple(skipped), provisional, tuple(makeup)
                    )
            else:
                skipped.append((day, info.kind, info.name))
            day += dt.timedelta(days=1)
        raise XietongError(
            f"{d} 之后 {MAX_SPAN_DAYS} 天内找不到工作日，请检查日历规则",
            code="E_CALENDAR",
            exit_code=2,
        )

    def add_workdays(self, d: dt.date, n: int) -> dt.date:
        return self.add_workdays_explained(d, n).due

    def next_workday(self, d: dt.date) -> dt.date:
        """``d`` itself when it is a working day, else the next one."""
        return self.add_workdays(d, 0)

    def workdays_in(self, a: dt.date, b: dt.date) -> list[dt.date]:
        """The working days in (a, b], oldest first; empty when b <= a."""
        out: list[dt.date] = []
        lo, hi = a.toordinal(), b.toordinal()
        for year in range(a.year, b.year + 1):
            ordinals, days = self._year_workdays(year)
            out += days[bisect.bisect_right(ordinals, lo) : bisect.bisect_right(ordinals, hi)]
        return out

    def _year_workdays(self, year: int) -> tuple[list[int], list[dt.date]]:
        """The working days of ``year`` (ordinals, dates), listed once per year."""
        found = self._year_days.get(year)
        if found is None:
            first = dt.date(year, 1, 1).toordinal()
            last = dt.date(year, 12, 31).toordinal()
            days = [
                day
                for day in map(dt.date.fromordinal, range(first, last + 1))
                if self.is_workday(day)
            ]
            found = self._year_days[year] = ([day.toordinal() for day in days], days)
        return found

    def _year_counts(self, year: int) -> tuple[list[int], list[int]]:
        """Per day of ``year``: working days and provisional days from 1 January up to and
        including that day (computed once per year, so spans cost the same however long)."""
        found = self._prefix.get(year)
        if found is None:
            work, prov = [0], [0]
            first = dt.date(year, 1, 1).toordinal()
            for ordinal in range(first, dt.date(year, 12, 31).toordinal() + 1):
                info = self.day_info(dt.date.fromordinal(ordinal))
                work.append(work[-1] + info.workday)
                prov.append(prov[-1] + info.provisional)
            found = self._prefix[year] = (work, prov)
        return found

    def _year_start(self, year: int, which: int) -> int:
        """Working (which=0) or provisional (1) days from the origin year up to ``year``. The
        origin is the first year asked for, so only the years between those a run uses are
        ever classified."""
        found = self._starts.get((year, which))
        if found is not None:
            return found
        if self._origin is None:
            self._origin = year
        step = 1 if year > self._origin else -1
        y, total = self._origin, 0
        while y != year:  # walks once per year and kind; every year on the way is kept
            if step > 0:
                total += self._year_counts(y)[which][-1]
            else:
                total -= self._year_counts(y - 1)[which][-1]
            y += step
            self._starts[(y, which)] = total
        self._starts[(year, which)] = total
        return total

    def _count_upto(self, d: dt.date, which: int) -> int:
        """Days of a kind up to and including ``d``, from an origin only differences are taken
        of (working days: which=0, provisional days: which=1)."""
        key = (d, which)
        held = self._upto.get(key)
        if held is None:  # the clocks of a drive ask of the same few hundred days
            held = self._upto[key] = (
                self._year_start(d.year, which)
                + self._year_counts(d.year)[which][d.timetuple().tm_yday]
            )
        return held

    def workdays_among(
        self, days: Collection[dt.date], first: dt.date, last: dt.date
    ) -> tuple[dt.date, ...]:
        """The working days of ``days`` in [first, last], in no particular order. Kept per
        frozen set and span: the daily clocks ask it of every department's rows at every
        moment, and rows and span stay the same through a day."""
        key = (days, first, last) if isinstance(days, frozenset) else None
        held = None if key is None else self._among.get(key)
        if held is None:
            is_workday = self.is_workday
            held = tuple(d for d in days if first <= d <= last and is_workday(d))
            if key is not None:
                if len(self._among) >= _MAX_SPANS:
                    self._among.clear()
                self._among[key] = held
        return held

    def workdays_between(self, a: dt.date, b: dt.date) -> int:
        """Working days in (a, b]; negative (the count in (b, a]) when b is before a."""
        return self._count_upto(b, 0) - self._count_upto(a, 0)

    def span_provisional(self, a: dt.date, b: dt.date) -> bool:
        """Whether any day in [a, b] is only provisionally known."""
        lo, hi = min(a, b), max(a, b)
        return self._count_upto(hi, 1) - self._count_upto(lo, 1) + self.is_provisional(lo) > 0

    def time_used(self, after: dt.date, moment: dt.datetime) -> float:
        """Working days of business time passed in (after, moment]: whole days before the
        moment's day, and the share of that day's business hours (constant cost)."""
        moment = self.local(moment)
        today = moment.date()
        if today <= after:
            return 0.0
        whole = self.workdays_between(after, today - dt.timedelta(days=1))
        return whole + (self.day_share_used(today, moment) if self.is_workday(today) else 0.0)

    # -- times -------------------------------------------------------------------------------

    def close_at(self, d: dt.date) -> dt.datetime:
        """Close of business on ``d`` (aware, in the rules' time zone)."""
        return dt.datetime.combine(d, self.close_of_business, tzinfo=self.tz)

    def open_at(self, d: dt.date) -> dt.datetime:
        return dt.datetime.combine(d, self.start_of_business, tzinfo=self.tz)

    def due_at(self, d: dt.date, n: int) -> dt.datetime:
        """Close of business on the N-th working day after ``d``."""
        return self.close_at(self.add_workdays(d, n))

    def local(self, moment: dt.datetime) -> dt.datetime:
        """A moment in the rules' time zone; a naive moment is taken to be local already."""
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.tz)
        return moment.astimezone(self.tz)

    def quiet_until(self, moment: dt.datetime) -> dt.datetime | None:
        """The end of the quiet span around ``moment``: no business time passes in it and the
        day does not change, so every rule that reads "now" through this calendar (the share
        of a day used, a close or opening passed, today's date) reads any moment of the span
        as it reads ``moment``. Spans: a working day before its opening (until the opening),
        after its close (until midnight), a day off (until midnight); None during business
        hours and at the opening or close itself, where the next instant reads differently."""
        local = self.local(moment)
        day = local.date()
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=self.tz)
        if not self.is_workday(day):
            return midnight
        if local < self.open_at(day):
            return self.open_at(day)
        if local > self.close_at(day):
            return midnight
        return None

    def day_share_used(self, d: dt.date, moment: dt.datetime) -> float:
        """Share (0..1) of working day ``d``'s business hours that has passed at ``moment``."""
        opened, closed = self.open_at(d), self.close_at(d)
        moment = self.local(moment)
        if moment <= opened:
            return 0.0
        if moment >= closed:
            return 1.0
        return (moment - opened) / (closed - opened)

    # -- weeks -------------------------------------------------------------------------------

    def week_days(self, iso_year: int, iso_week: int) -> list[dt.date]:
        monday = dt.date.fromisocalendar(iso_year, iso_week, 1)
        return [monday + dt.timedelta(days=i) for i in range(7)]

    def week_workdays(self, iso_year: int, iso_week: int) -> list[dt.date]:
        return [d for d in self.week_days(iso_year, iso_week) if self.is_workday(d)]

    def week_due_date(self, iso_year: int, iso_week: int) -> dt.date | None:
        """Friday; when Friday is off, the last working day before it in that week; when the
        whole of Monday–Friday is off but a makeup weekend day is on, the last such day; None
        for a week without working days."""
        key = (iso_year, iso_week)
        if key not in self._week_due:
            self._week_due[key] = self._find_week_due(iso_year, iso_week)
        return self._week_due[key]

    def week_dues(self, first: dt.date, last: dt.date) -> tuple[tuple[str, dt.date], ...]:
        """(ISO week label, due date) of each week from the one of ``first`` to the one of
        ``last`` whose due date (:meth:`week_due_date`) is on or after ``first``; worked out
        once per span (every weekly clock of a drive asks, most for the same few spans)."""
        key = (first, last)
        held = self._week_dues.get(key)
        if held is None:
            if len(self._week_dues) >= _MAX_SPANS:  # a long-running process: days move on
                self._week_dues.clear()
            out = []
            day = first - dt.timedelta(days=first.weekday())
            while day <= last:
                y, w, _ = day.isocalendar()
                due = self.week_due_date(y, w)
                if due is not None and due >= first:
                    out.append((week_label(y, w), due))
                day += dt.timedelta(days=7)
            held = self._week_dues[key] = tuple(out)
        return held

    def _find_week_due(self, iso_year: int, iso_week: int) -> dt.date | None:
        days = self.week_days(iso_year, iso_week)
        friday = days[4]
        if self.is_workday(friday):
            return friday
        before = [d for d in days[:4] if self.is_workday(d)]
        if before:
            return before[-1]
        after = [d for d in days[5:] if self.is_workday(d)]
        return after[-1] if after else None

    def week_due(self, iso_year: int, iso_week: int) -> dt.datetime | None:
        due = self.week_due_date(iso_year, iso_week)
        return None if due is None else self.close_at(due)

    def week_info(self, iso_year: int, iso_week: int) -> WeekInfo:
        days = self.week_days(iso_year, iso_week)
        return WeekInfo(
            week=week_label(iso_year, iso_week),
            workdays=tuple(d for d in days if self.is_workday(d)),
            due_at=self.week_due(iso_year, iso_week),
            provisional=any(self.is_provisional(d) for d in days),
        )


# -- parsing and the plain operations the CLI calls ----------------------------------------------

_DATE_RE = re.compile(r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*$")
_WEEK_RE = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


def parse_date(text: str) -> dt.date:
    """A date typed by a person: 2026-10-09, 2026/10/9, 2026.10.9 or 2026年10月9日."""
    match = _DATE_RE.match(str(text))
    if match:
        year, month, day = (int(g) for g in match.groups())
        if 1900 <= year <= 2999:
            try:
                return dt.date(year, month, day)
            except ValueError:
                pass
    raise XietongError(
        f"无法识别的日期 '{text}'，请使用 2026-10-09 的格式", code="E_BAD_DATE", exit_code=2
    )


def week_label(iso_year: int, iso_week: int) -> str:
    return f"{iso_year}-W{iso_week:02d}"


def week_of(d: dt.date) -> str:
    """The ISO week label of a date (2026-W41)."""
    year, week, _ = d.isocalendar()
    return week_label(year, week)


def parse_week(text: str) -> tuple[int, int]:
    """An ISO week ``YYYY-Www`` (2026-W41) as (year, week)."""
    match = _WEEK_RE.match(str(text))
    if match:
        year, week = int(match.group(1)), int(match.group(2))
        if 1900 <= year <= 2999:
            try:
                dt.date.fromisocalendar(year, week, 1)
                return year, week
            except ValueError:
                pass
    raise XietongError(
        f"无法识别的周次 '{text}'，请使用 2026-W41 的格式（ISO 周）", code="E_BAD_WEEK", exit_code=2
    )


def week_text(value: object) -> str | None:
    """The ISO week label of a cell value (``2026-W41``), None when it is not one; worked out
    once per text (a drive's reports repeat a few dozen week labels thousands of times)."""
    return _week_text(str(value))


@functools.lru_cache(maxsize=4096)
def _week_text(text: str) -> str | None:
    try:
        return week_label(*parse_week(text))
    except XietongError:
        return None


def check_day(calendar: WorkCalendar, text: str) -> dict[str, object]:
    """``xietong calendar check DATE``."""
    return calendar.day_info(parse_date(text)).as_dict()


def add_days(calendar: WorkCalendar, text: str, n: int) -> dict[str, object]:
    """``xietong calendar add DATE N``: the N-th working day after DATE and its due time."""
    start = parse_date(text)
    if not 0 <= n <= MAX_SPAN_DAYS:
        raise XietongError(
            f"工作日数 {n} 超出范围（0 至 {MAX_SPAN_DAYS}）", code="E_BAD_NUMBER", exit_code=2
        )
    der = calendar.add_workdays_explained(start, n)
    return {
        "start": start.isoformat(),
        "n": n,
        "due": der.due.isoformat(),
        "due_at": calendar.close_at(der.due).isoformat(),
        "provisional": der.provisional,
        "counted": [d.isoformat() for d in der.counted],
        "skipped": der.as_dict()["skipped"],
        "makeup": der.as_dict()["makeup"],
    }


def week_summary(calendar: WorkCalendar, text: str) -> dict[str, object]:
    """``xietong calendar week YYYY-Www``."""
    info = calendar.week_info(*parse_week(text))
    return {
        "week": info.week,
        "workdays": [d.isoformat() for d in info.workdays],
        "due_at": info.due_at.isoformat() if info.due_at else None,
        "provisional": info.provisional,
    }
