"""The working-day calendar against the State Council notices, and its arithmetic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automation.core.calendar import WorkCalendar, parse_date, parse_week
from automation.errors import RulesError, XietongError
from automation.rules import load_rules

D = dt.date

# 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号, 2024-11-12):
#   元旦 1月1日; 春节 1月28日至2月4日, 1月26日(周日)、2月8日(周六)上班; 清明 4月4日至6日;
#   劳动节 5月1日至5日, 4月27日(周日)上班; 端午 5月31日至6月2日;
#   国庆节、中秋节 10月1日至8日, 9月28日(周日)、10月11日(周六)上班.
# 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04):
#   元旦 1月1日至3日, 1月4日(周日)上班; 春节 2月15日至23日, 2月14日(周六)、2月28日(周六)上班;
#   清明 4月4日至6日; 劳动节 5月1日至5日, 5月9日(周六)上班; 端午 6月19日至21日;
#   中秋 9月25日至27日; 国庆 10月1日至7日, 9月20日(周日)、10月10日(周六)上班.
OFFICIAL_HOLIDAYS = {
    2025: [
        (D(2025, 1, 1), D(2025, 1, 1)),
        (D(2025, 1, 28), D(2025, 2, 4)),
        (D(2025, 4, 4), D(2025, 4, 6)),
        (D(2025, 5, 1), D(2025, 5, 5)),
        (D(2025, 5, 31), D(2025, 6, 2)),
        (D(2025, 10, 1), D(2025, 10, 8)),
    ],
    2026: [
        (D(2026, 1, 1), D(2026, 1, 3)),
        (D(2026, 2, 15), D(2026, 2, 23)),
        (D(2026, 4, 4), D(2026, 4, 6)),
        (D(2026, 5, 1), D(2026, 5, 5)),
        (D(2026, 6, 19), D(2026, 6, 21)),
        (D(2026, 9, 25), D(2026, 9, 27)),
        (D(2026, 10, 1), D(2026, 10, 7)),
    ],
}
OFFICIAL_MAKEUP = {
    2025: [D(2025, 1, 26), D(2025, 2, 8), D(2025, 4, 27), D(2025, 9, 28), D(2025, 10, 11)],
    2026: [
        D(2026, 1, 4),
        D(2026, 2, 14),
        D(2026, 2, 28),
        D(2026, 5, 9),
        D(2026, 9, 20),
        D(2026, 10, 10),
    ],
}


def official_kind(d: dt.date) -> str:
    if d in OFFICIAL_MAKEUP[d.year]:
        return "makeup"
    if any(a <= d <= b for a, b in OFFICIAL_HOLIDAYS[d.year]):
        return "holiday"
    return "weekend" if d.weekday() >= 5 else "workday"


def every_day(year: int) -> list[dt.date]:
    first = D(year, 1, 1)
    return [first + dt.timedelta(days=i) for i in range((D(year + 1, 1, 1) - first).days)]


def write_rules(tmp_path: Path, calendar_yaml: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "calendar.yaml").write_text(calendar_yaml, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.from_rules(load_rules().calendar)


def calendar_with_source(tmp_path: Path, source: str) -> WorkCalendar:
    folder = write_rules(tmp_path, f"sources: [{source}]\n")
    return WorkCalendar.from_rules(load_rules(folder).calendar)


# -- every day of 2025 and 2026 against the notices ----------------------------------------------


@pytest.mark.parametrize("year", [2025, 2026])
def test_every_day_matches_the_state_council_notice(cal: WorkCalendar, year: int) -> None:
    wrong = []
    for d in every_day(year):
        info = cal.day_info(d)
        expected = official_kind(d)
        expected_workday = expected in ("workday", "makeup")
        # a weekend inside a holiday block may be reported as "weekend" or "holiday"
        kind_ok = info.kind == expected or (expected == "holiday" and info.kind == "weekend")
        if info.workday != expected_workday or not kind_ok or info.provisional:
            wrong.append((d, info.kind, expected))
    assert wrong == []


@pytest.mark.parametrize("source", ["chinese_calendar", "holidays"])
@pytest.mark.parametrize("year", [2025, 2026])
def test_each_source_alone_agrees_with_the_notice(tmp_path: Path, source: str, year: int) -> None:
    cal = calendar_with_source(tmp_path, source)
    wrong = [
        d
        for d in every_day(year)
        if cal.is_workday(d) != (official_kind(d) in ("workday", "makeup")) or cal.is_provisional(d)
    ]
    assert wrong == []
    assert all(cal.day_info(d).kind == "makeup" for d in OFFICIAL_MAKEUP[year])


def test_the_2026_makeup_saturdays_and_sundays_are_working_days(cal: WorkCalendar) -> None:
    for d in (D(2026, 2, 14), D(2026, 9, 20), D(2026, 10, 10), D(2026, 1, 4)):
        info = cal.day_info(d)
        assert info.workday and info.kind == "makeup" and not info.provisional
    assert cal.day_info(D(2026, 10, 10)).name == "国庆节调休上班"


def test_golden_week_2026_is_off(cal: WorkCalendar) -> None:
    for day in range(1, 8):
        info = cal.day_info(D(2026, 10, day))
        assert not info.workday and info.name == "国庆节"
    assert cal.is_workday(D(2026, 10, 8))


# -- hand-checked deadlines around each 2026 holiday ------------------------------------------


def test_a_request_registered_on_2026_09_30_is_due_for_evaluation_on_2026_10_09(cal) -> None:
    assert cal.add_workdays(D(2026, 9, 30), 2) == D(2026, 10, 9)
    assert cal.due_at(D(2026, 9, 30), 2).isoformat() == "2026-10-09T18:00:00+08:00"


def test_a_request_submitted_on_new_years_eve_2025_is_registered_on_sunday_2026_01_04(cal) -> None:
    # 1月1日至3日放假, 1月4日(周日)上班
    assert cal.add_workdays(D(2025, 12, 31), 1) == D(2026, 1, 4)


def test_a_meeting_due_two_working_days_after_2026_02_13_falls_after_spring_festival(cal) -> None:
    # 2月14日(周六)上班, 2月15日至23日放假: the 1st working day is the Saturday, the 2nd 2月24日
    der = cal.add_workdays_explained(D(2026, 2, 13), 2)
    assert der.counted == (D(2026, 2, 14), D(2026, 2, 24))
    assert der.makeup == ((D(2026, 2, 14), "春节调休上班"),)
    assert [d for d, _, _ in der.skipped] == [D(2026, 2, 15) + dt.timedelta(i) for i in range(9)]


def test_minutes_due_one_working_day_after_a_meeting_on_friday_2026_02_27(cal) -> None:
    assert cal.add_workdays(D(2026, 2, 27), 1) == D(2026, 2, 28)  # makeup Saturday


def test_a_department_plan_due_three_working_days_after_qingming_eve(cal) -> None:
    # 4月3日(周五); 4月4日至6日放假 → 4月7日, 8日, 9日
    assert cal.add_workdays(D(2026, 4, 3), 3) == D(2026, 4, 9)


def test_labour_day_2026_and_the_makeup_saturday(cal) -> None:
    # 4月30日(周四) + 2: 5月1日至5日放假 → 5月6日, 7日
    assert cal.add_workdays(D(2026, 4, 30), 2) == D(2026, 5, 7)
    # 5月8日(周五) + 1 → 5月9日(周六)上班
    assert cal.add_workdays(D(2026, 5, 8), 1) == D(2026, 5, 9)


def test_dragon_boat_and_mid_autumn_2026(cal) -> None:
    assert cal.add_workdays(D(2026, 6, 18), 1) == D(2026, 6, 22)  # 6月19日至21日放假
    assert cal.add_workdays(D(2026, 9, 24), 1) == D(2026, 9, 28)  # 9月25日至27日放假


def test_national_day_2026_makeup_sunday_before(cal) -> None:
    # 9月19日(周六) + 1 → 9月20日(周日)上班
    assert cal.add_workdays(D(2026, 9, 19), 1) == D(2026, 9, 20)
    # an archive 3 working days after completion on 9月30日: 10月8日, 9日, 10日(周六)上班
    assert cal.add_workdays(D(2026, 9, 30), 3) == D(2026, 10, 10)


def test_zero_working_days_is_the_day_itself_or_the_next_working_day(cal) -> None:
    assert cal.add_workdays(D(2026, 10, 9), 0) == D(2026, 10, 9)
    assert cal.add_workdays(D(2026, 10, 1), 0) == D(2026, 10, 8)
    assert cal.add_workdays(D(2026, 10, 11), 0) == D(2026, 10, 12)


def test_a_start_on_a_day_off_counts_from_the_next_working_day(cal) -> None:
    assert cal.add_workdays(D(2026, 10, 3), 1) == D(2026, 10, 8)


def test_working_days_between(cal) -> None:
    assert cal.workdays_between(D(2026, 9, 30), D(2026, 10, 10)) == 3
    assert cal.workdays_between(D(2026, 10, 10), D(2026, 9, 30)) == -3
    assert cal.workdays_between(D(2026, 10, 9), D(2026, 10, 9)) == 0


# -- weekly due times ------------------------------------------------------------------------


def test_weekly_report_due_friday_at_close_of_business(cal) -> None:
    assert cal.week_due(2026, 41).isoformat() == "2026-10-09T18:00:00+08:00"


def test_a_friday_holiday_moves_the_weekly_deadline_to_the_last_working_day_before_it(cal) -> None:
    # 2026-W40: 10月2日(周五) is 国庆节 → Wednesday 9月30日
    assert cal.week_due(2026, 40).isoformat() == "2026-09-30T18:00:00+08:00"
    # 2026-W14: 4月3日(周五) is a working day, 4月4日 holiday → Friday
    assert cal.week_due(2026, 14).date() == D(2026, 4, 3)
    # 2026-W01: 1月2日(周五) is 元旦 → Wednesday 2025-12-31
    assert cal.week_due(2026, 1).date() == D(2025, 12, 31)
    # 2026-W25: 6月19日(周五) is 端午 → Thursday 6月18日
    assert cal.week_due(2026, 25).date() == D(2026, 6, 18)
    # 2026-W39: 9月25日(周五) is 中秋 → Thursday 9月24日
    assert cal.week_due(2026, 39).date() == D(2026, 9, 24)
    # 2026-W18: 5月1日(周五) is 劳动节 → Thursday 4月30日
    assert cal.week_due(2026, 18).date() == D(2026, 4, 30)


def test_a_week_without_working_days_has_no_weekly_report(cal) -> None:
    assert cal.week_workdays(2026, 8) == []  # 2月16日至22日, all 春节
    assert cal.week_due(2026, 8) is None


def test_a_week_with_a_makeup_saturday_lists_it(cal) -> None:
    assert D(2026, 10, 10) in cal.week_workdays(2026, 41)
    assert D(2026, 2, 14) in cal.week_workdays(2026, 7)


# -- provisional years and overrides ---------------------------------------------------------


def test_a_2027_date_without_override_is_provisional(cal) -> None:
    info = cal.day_info(D(2027, 3, 10))
    assert info.workday and info.provisional
    assert cal.day_info(D(2027, 10, 1)).name == "国庆节"
    der = cal.add_workdays_explained(D(2026, 12, 30), 2)
    assert der.due == D(2027, 1, 4) and der.provisional  # 2027-01-01 元旦 by fixed holiday
    assert not cal.add_workdays_explained(D(2026, 12, 28), 2).provisional
    assert cal.week_info(2027, 5).provisional


OVERRIDE_2027 = """
years:
  2027:
    holidays:
      - {date: 2027-02-08, name: 春节}
      - {date: 2027-03-10, name: 测试假日}
    workdays:
      - {date: 2027-02-20, name: 春节调休上班}
      - {date: 2027-01-01}
company_days_off:
  - {date: 2026-12-31, name: 公司年会}
"""


def test_with_an_override_2027_is_not_provisional_and_the_override_wins(tmp_path) -> None:
    cal = WorkCalendar.from_rules(load_rules(write_rules(tmp_path, OVERRIDE_2027)).calendar)
    info = cal.day_info(D(2027, 3, 10))
    assert not info.workday and info.kind == "holiday" and info.name == "测试假日"
    assert not info.provisional
    saturday = cal.day_info(D(2027, 2, 20))
    assert saturday.workday and saturday.kind == "makeup" and not saturday.provisional
    assert cal.day_info(D(2027, 1, 1)).workday  # the override wins over the fixed 元旦
    assert not cal.day_info(D(2027, 3, 11)).provisional  # a plain day of a defined year
    assert not cal.day_info(D(2027, 10, 1)).provisional  # the guess of fixed holidays is gone
    assert cal.day_info(D(2027, 10, 1)).workday
    company = cal.day_info(D(2026, 12, 31))
    assert not company.workday and company.name == "公司年会"
    assert cal.add_workdays(D(2026, 12, 30), 1) == D(2027, 1, 1)


def test_an_override_can_correct_a_year_a_source_covers(tmp_path) -> None:
    folder = write_rules(
        tmp_path, "years:\n  2026:\n    holidays:\n      - {date: 2026-10-08, name: 延长假期}\n"
    )
    cal = WorkCalendar.from_rules(load_rules(folder).calendar)
    assert not cal.is_workday(D(2026, 10, 8))
    assert cal.add_workdays(D(2026, 9, 30), 2) == D(2026, 10, 10)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (
            "years:\n  2027:\n    holidays:\n      - {date: 2027-02-08}\n      - {date: 2027-02-08}\n",
            "years[2027].holidays[1]",
        ),
        (
            "years:\n  2027:\n    holidays:\n      - {date: 2027-02-08}\n"
            "    workdays:\n      - {date: 2027-02-08}\n",
            "years[2027].workdays[0]",
        ),
        ("years:\n  2027:\n    holidays:\n      - {date: 2026-02-08}\n", "years[2027].holidays[0]"),
        (
            "years:\n  2027:\n    holidays:\n      - {date: tomorrow}\n",
            "years[2027].holidays[0].date",
        ),
        (
            "years:\n  2027:\n    holidays:\n      - {date: 2027-2-8}\n",
            "years[2027].holidays[0].date",
        ),
        (
            "company_days_off:\n  - {date: 2026-12-31}\n  - {date: 2026-12-31}\n",
            "company_days_off[1]",
        ),
        ("timezone: Mars/Olympus\n", "timezone"),
        ("sources: [outlook]\n", "sources"),
    ],
)
def test_malformed_overrides_are_reported_with_file_and_key(tmp_path, body, key) -> None:
    folder = write_rules(tmp_path, body)
    with pytest.raises(RulesError) as err:
        load_rules(folder)
    text = str(err.value)
    assert "calendar.yaml" in text
    assert key in text
    assert err.value.exit_code == 2


def test_an_impossible_date_is_reported_with_file_and_key(tmp_path) -> None:
    folder = write_rules(tmp_path, "years:\n  2027:\n    holidays:\n      - {date: 2027-02-30}\n")
    with pytest.raises(RulesError) as err:
        load_rules(folder)
    assert "calendar.yaml" in str(err.value)
    assert "years[2027].holidays[0].date" in str(err.value)


# -- parsing ---------------------------------------------------------------------------------


def test_parse_date_accepts_the_usual_spellings() -> None:
    for text in ("2026-10-09", "2026/10/9", "2026.10.09", "2026年10月9日", " 2026-10-09 "):
        assert parse_date(text) == D(2026, 10, 9)


@pytest.mark.parametrize("text", ["2026-02-30", "tomorrow", "", "10/9/2026", "0001-01-01"])
def test_parse_date_rejects_bad_dates_with_a_code(text) -> None:
    with pytest.raises(XietongError) as err:
        parse_date(text)
    assert err.value.code == "E_BAD_DATE" and err.value.exit_code == 2


def test_parse_week() -> None:
    assert parse_week("2026-W41") == (2026, 41)
    assert parse_week("2026-w01") == (2026, 1)
    for bad in ("2026-W54", "2025-W53", "2026-41", "W41", "2026-W00"):
        with pytest.raises(XietongError) as err:
            parse_week(bad)
        assert err.value.code == "E_BAD_WEEK"
    assert parse_week("2026-W53") == (2026, 53)


# -- properties (hypothesis) -----------------------------------------------------------------

dates = st.dates(min_value=D(2024, 1, 1), max_value=D(2027, 6, 30))
counts = st.integers(min_value=0, max_value=40)


@settings(max_examples=300, deadline=None)
@given(d=dates, n=counts)
def test_the_result_is_always_a_working_day(cal, d, n) -> None:
    assert cal.is_workday(cal.add_workdays(d, n))


@settings(max_examples=300, deadline=None)
@given(d=dates, n=st.integers(min_value=1, max_value=40))
def test_adding_then_counting_gives_back_n(cal, d, n) -> None:
    assert cal.workdays_between(d, cal.add_workdays(d, n)) == n


@settings(max_examples=300, deadline=None)
@given(a=dates, b=dates, n=counts)
def test_adding_is_monotonic(cal, a, b, n) -> None:
    lo, hi = min(a, b), max(a, b)
    assert cal.add_workdays(lo, n) <= cal.add_workdays(hi, n)
    assert cal.add_workdays(lo, n) <= cal.add_workdays(lo, n + 1)


@settings(max_examples=200, deadline=None)
@given(makeup=st.sampled_from(OFFICIAL_MAKEUP[2025] + OFFICIAL_MAKEUP[2026]))
def test_makeup_days_are_honoured(cal, makeup) -> None:
    before = makeup - dt.timedelta(days=1)
    assert cal.add_workdays(before, 1) == makeup
    assert cal.add_workdays(makeup, 0) == makeup
    assert makeup in cal.workdays_in(before - dt.timedelta(days=10), makeup)


@settings(max_examples=200, deadline=None)
@given(d=dates, n=counts)
def test_the_explanation_adds_up(cal, d, n) -> None:
    der = cal.add_workdays_explained(d, n)
    assert len(der.counted) == max(n, 1)
    assert der.counted[-1] == der.due
    assert all(cal.is_workday(x) for x in der.counted)
    assert all(not cal.is_workday(x) for x, _, _ in der.skipped)
    assert der.provisional == any(
        cal.is_provisional(x) for x in [*der.counted] + [x for x, _, _ in der.skipped]
    )


def test_the_quiet_spans_out_of_business_hours(cal: WorkCalendar) -> None:
    """Out of business hours "now" can move without any rule of the calendar reading it
    differently: until the opening on a working morning, until midnight after the close and
    on a day off; never during business hours or at the opening or close itself."""
    tz = cal.tz

    def at(d: int, h: int, m: int = 0, month: int = 10) -> dt.datetime:
        return dt.datetime(2026, month, d, h, m, tzinfo=tz)

    assert cal.quiet_until(at(21, 7)) == at(21, 9)  # Wednesday before opening
    assert cal.quiet_until(at(21, 20)) == at(22, 0)  # after the close: until midnight
    assert cal.quiet_until(at(21, 23, 59)) == at(22, 0)
    assert cal.quiet_until(at(21, 10)) is None  # business hours
    assert cal.quiet_until(at(21, 9)) is None and cal.quiet_until(at(21, 18)) is None
    assert cal.quiet_until(at(3, 11)) == at(4, 0)  # National Day: a day off all day
    assert cal.quiet_until(at(10, 8)) == at(10, 9)  # Saturday 10-10 is a makeup working day
    utc = at(21, 20).astimezone(dt.UTC)  # a moment in another zone: read in the calendar's
    assert cal.quiet_until(utc) == at(22, 0)
    # within a span, every share of a day used and every close passed reads the same
    for d in (dt.date(2026, 10, 20), dt.date(2026, 10, 21)):
        assert cal.day_share_used(d, at(21, 18, 1)) == cal.day_share_used(d, at(21, 23, 59))
    assert cal.time_used(dt.date(2026, 10, 19), at(21, 18, 1)) == cal.time_used(
        dt.date(2026, 10, 19), at(21, 23, 59)
    )
