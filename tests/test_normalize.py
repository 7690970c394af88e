"""Reading what people type: dates, numbers, money, percent, departments, yes/no, text."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.core import normalize as nz
from automation.rules import load_rules

D = dt.date(2026, 3, 10)


@pytest.fixture(scope="module")
def lookup() -> nz.DepartmentLookup:
    rules = load_rules()
    return nz.DepartmentLookup.build((d.name, d.aliases) for d in rules.departments.departments)


@pytest.mark.parametrize(
    "typed",
    [
        D,
        dt.datetime(2026, 3, 10, 14, 30),
        46091,  # Excel serial
        46091.75,
        "2026-03-10",
        "2026-3-10",
        "2026/3/10",
        "2026.3.10",
        "2026年3月10日",
        "2026 年 3 月 10 日",
        "20260310",
        20260310,
        "２０２６－０３－１０",
        "2026。3。10",
        " 2026/03/10 ",
        "2026-03-10 09:30",
        "2026-03-10（周二）",
        "2026年3月10日 星期二",
    ],
)
def test_dates_people_type_are_read(typed):
    assert nz.parse_date(typed, default_year=2026) == D


def test_a_month_and_day_take_the_year_given():
    assert nz.parse_date("3月10日", default_year=2026) == D
    assert nz.parse_date("3/10", default_year=2027) == dt.date(2027, 3, 10)
    with pytest.raises(nz.ParseError):
        nz.parse_date("3月10日")  # no year from the context: the caller must give one


@pytest.mark.parametrize(
    "bad", ["2026-02-30", "明天", "2026-13-01", "10/3/26", True, dt.time(9, 0), "", 60]
)
def test_impossible_dates_are_rejected_with_a_code(bad):
    with pytest.raises(nz.ParseError) as exc:
        nz.parse_date(bad, default_year=2026)
    assert exc.value.code == "E_DATE_FORMAT"


@given(st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_any_date_round_trips_through_every_text_form(day):
    forms = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month}.{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%Y%m%d"),
        f"{day.month}月{day.day}日",
    ]
    for text in forms:
        assert nz.parse_date(text, default_year=day.year) == day
        assert nz.parse_date(nz.halfwidth(text).translate(_FULLWIDTH), default_year=day.year) == day


_FULLWIDTH = str.maketrans("0123456789-/.", "０１２３４５６７８９－／．")


@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)))
def test_excel_serials_match_the_calendar(day):
    serial = (day - dt.date(1899, 12, 30)).days
    assert nz.parse_date(serial) == day
    assert nz.parse_date(serial + 0.25) == day


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (50000, 50000),
        (50000.0, 50000),
        ("50000", 50000),
        ("50,000", 50000),
        ("５０，０００", 50000),
        (" 1 234 ", 1234),
        ("1,234.5", 1234.5),
        ("-3", -3),
        ("1e3", 1000),
    ],
)
def test_numbers(typed, expected):
    assert nz.parse_number(typed) == expected


@pytest.mark.parametrize("bad", ["五万", "12,34", "1.2.3", "", True, float("nan"), "abc"])
def test_not_numbers(bad):
    with pytest.raises(nz.ParseError) as exc:
        nz.parse_number(bad)
    assert exc.value.code == "E_NUMBER_FORMAT"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (50000, 50000.0),
        ("50000元", 50000.0),
        ("¥50,000.00", 50000.0),
        ("￥50000", 50000.0),
        ("5万", 50000.0),
        ("5万元", 50000.0),
        ("５万元", 50000.0),
        ("1.5万元", 15000.0),
        ("20千元", 20000.0),
        ("0.5亿", 50000000.0),
        ("人民币3000元整", 3000.0),
    ],
)
def test_money_in_yuan(typed, expected):
    assert nz.parse_money(typed) == expected


@given(st.integers(min_value=0, max_value=10**12))
def test_grouped_amounts_read_back(amount):
    assert nz.parse_money(f"{amount:,}") == amount
    assert nz.parse_money(f"{amount:,}元") == amount
    assert nz.parse_number(f"{amount:,}") == amount


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_numbers_as_text_read_as_the_number(x):
    assert nz.parse_number(repr(x)) == pytest.approx(x)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (0.6, 0.6),
        (60, 0.6),
        ("60%", 0.6),
        ("６０％", 0.6),
        ("60", 0.6),
        ("0.6", 0.6),
        (1, 1.0),
        ("100%", 1.0),
        ("1%", 0.01),
        (0, 0),
    ],
)
def test_percent_as_share(typed, expected):
    assert nz.parse_percent(typed) == pytest.approx(expected)


@given(st.integers(min_value=2, max_value=100))
def test_percent_points_and_shares_agree(points):
    assert nz.parse_percent(points) == pytest.approx(nz.parse_percent(f"{points}%"))
    assert nz.parse_percent(points) == pytest.approx(nz.parse_percent(points / 100))


def test_departments_by_name_alias_width_and_spacing(lookup):
    assert nz.parse_department("研发部", lookup) == "研发部"
    assert nz.parse_department(" 技术部 ", lookup) == "研发部"
    assert nz.parse_department("ＩＴ部", lookup) == "IT部"
    assert nz.parse_department("it 部", lookup) == "IT部"
    assert nz.parse_department("研发", lookup) == "研发部"
    with pytest.raises(nz.ParseError) as exc:
        nz.parse_department("宣传部", lookup)
    assert exc.value.code == "E_NOT_IN_LIST"


def test_several_departments(lookup):
    assert nz.parse_departments("研发部、生产部", lookup) == ["研发部", "生产部"]
    assert nz.parse_departments("技术部,生产部；IT部 /人事部", lookup) == [
        "研发部",
        "生产部",
        "IT部",
        "人力资源部",
    ]
    assert nz.parse_departments("研发部、技术部", lookup) == [
        "研发部"
    ]  # an alias twice is one dept
    with pytest.raises(nz.ParseError) as exc:
        nz.parse_departments("研发部、宣传部", lookup)
    assert exc.value.params["unknown"] == "宣传部"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("是", "是"),
        ("否", "否"),
        ("Y", "是"),
        ("no", "否"),
        ("√", "是"),
        ("×", "否"),
        (True, "是"),
        (" 是 ", "是"),
    ],
)
def test_yes_no(typed, expected):
    assert nz.parse_yes_no(typed) == expected


def test_choice_ignores_spaces_and_width():
    allowed = ["线下", "线上", "线上线下结合"]
    assert nz.parse_choice(" 线上 线下结合 ", allowed) == "线上线下结合"
    with pytest.raises(nz.ParseError):
        nz.parse_choice("电话", allowed)


def test_text_cleaning_keeps_ids_and_meaning():
    assert nz.clean_text("  张\u3000三  ") == "张 三"
    assert nz.clean_text("00123") == "00123"  # a text ID keeps its leading zeros
    assert nz.clean_text(13800138000.0) == "13800138000"  # a phone typed as a number
    assert nz.clean_text("a\u200bb") == "ab"
    assert nz.clean_text("第一行  \r\n  第二行", multiline=True) == "第一行\n第二行"
    assert nz.clean_text("=1+1") == "=1+1"  # text that looks like a formula stays text


def test_excel_errors_are_not_blanks():
    assert nz.as_cell_error("#N/A") == nz.CellError("#N/A")
    assert nz.as_cell_error(nz.CellError("#REF!")).text == "#REF!"
    assert nz.as_cell_error("N/A") is None
    assert not nz.is_blank(nz.CellError("#N/A"))
    assert nz.is_blank(" \u3000")
