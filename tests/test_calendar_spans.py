"""Working days over a span are counted from per-year prefix sums: the same answers as walking
the calendar day by day, at a cost that does not grow with the span."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from automation.core.calendar import WorkCalendar
from automation.io.cache import _calendar_key
from automation.rules import load_rules

CAL = WorkCalendar.from_rules(load_rules().calendar)
DAYS = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2060, 12, 31))


def _walked(a: dt.date, b: dt.date) -> int:
    lo, hi, sign = (a, b, 1) if a <= b else (b, a, -1)
    count, day = 0, lo + dt.timedelta(days=1)
    while day <= hi:
        count += CAL.is_workday(day)
        day += dt.timedelta(days=1)
    return sign * count


@settings(max_examples=80, deadline=None)
@given(DAYS, st.integers(min_value=-800, max_value=800))
def test_working_days_between_agree_with_a_walk(a, span):
    b = a + dt.timedelta(days=span)
    assert CAL.workdays_between(a, b) == _walked(a, b)


@settings(max_examples=60, deadline=None)
@given(DAYS, st.integers(min_value=0, max_value=400))
def test_a_span_is_provisional_when_any_of_its_days_is(a, span):
    b = a + dt.timedelta(days=span)
    days = [a + dt.timedelta(days=i) for i in range(span + 1)]
    assert CAL.span_provisional(b, a) == any(CAL.is_provisional(d) for d in days)


@settings(max_examples=60, deadline=None)
@given(DAYS, st.integers(min_value=0, max_value=60), st.integers(min_value=0, max_value=23))
def test_business_time_used_is_whole_days_plus_the_share_of_today(after, span, hour):
    moment = dt.datetime.combine(after + dt.timedelta(days=span), dt.time(hour), tzinfo=CAL.tz)
    days = [after + dt.timedelta(days=i) for i in range(1, span + 1)]
    expected = sum(CAL.day_share_used(d, moment) for d in days if CAL.is_workday(d))
    assert abs(CAL.time_used(after, moment) - expected) < 1e-9


@settings(max_examples=60, deadline=None)
@given(
    st.dates(min_value=dt.date(2000, 1, 3), max_value=dt.date(2050, 12, 31)), st.integers(0, 500)
)
def test_the_weeks_due_in_a_span_are_each_weeks_due_date_on_or_after_its_first_day(first, span):
    last = first + dt.timedelta(days=span)
    walked = {}
    day = first
    while day <= last or day.isocalendar()[:2] == last.isocalendar()[:2]:
        y, w, _ = day.isocalendar()
        due = CAL.week_due_date(y, w)
        if due is not None and due >= first:
            walked[f"{y}-W{w:02d}"] = due
        day += dt.timedelta(days=1)
    got = CAL.week_dues(first, last)
    assert dict(got) == walked and list(dict(got)) == sorted(walked)
    assert CAL.week_dues(first, last) is got  # worked out once per span


def test_the_ends_of_the_calendar_are_counted_without_overflow():
    for year in (1, 9999):  # a date typed at either end of what Python's dates can hold
        first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        assert 250 <= CAL.workdays_between(first, last) <= 262
        assert CAL.workdays_between(last, first) == -CAL.workdays_between(first, last)


def test_memoised_spans_do_not_change_what_the_calendar_is():
    """The validation cache keys results on the calendar: counting spans (which fills the
    calendar's memos) must not make every stored result look stale."""
    fresh = WorkCalendar.from_rules(load_rules().calendar)
    before = _calendar_key(fresh)
    fresh.workdays_between(dt.date(2020, 1, 1), dt.date(2030, 1, 1))
    fresh.week_dues(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert _calendar_key(fresh) == before
