"""Reading what people really type into Excel, the way a patient colleague would.

Pure functions from one raw cell value (as the reader returns it: str, int, float, bool, date,
datetime, time, or a :class:`CellError`) to one typed value. A value that cannot be understood
raises :class:`ParseError` carrying the catalogue code (``automation.core.problems``) to report.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

EXCEL_EPOCH = dt.date(1899, 12, 30)  # serial 0 of the 1900 date system (after Excel's 1900 bug)
EXCEL_ERRORS = frozenset(
    {
        "#N/A",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#NULL!",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#GETTING_DATA",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
    }
)


@dataclass(frozen=True)
class CellError:
    """An Excel error value (``#N/A``, ``#REF!`` …) in a cell: not a blank, not text."""

    text: str

    def __str__(self) -> str:
        return self.text


class ParseError(ValueError):
    """A value that cannot be read as its field type; ``code`` is a catalogue code."""

    def __init__(self, code: str, **params: object):
        super().__init__(code)
        self.code = code
        self.params = params


# -- text ---------------------------------------------------------------------------------------

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_SPACES = re.compile(r"[ \t\u00a0\u3000\u2000-\u200a\u202f\u205f]+")
_ALL_SPACE = re.compile(r"\s+")
# anything clean_text would change: edge or doubled spaces, other whitespace, invisible characters
_UNTIDY = re.compile(r"^\s|\s$|\s\s|[^\S ]|[\u200b-\u200d\u2060\ufeff\u00ad]")
UNTIDY = _UNTIDY  # public: checks that take text as typed when this finds nothing
# the same over many texts joined by NUL (which no cell holds), plus a leading # (Excel errors)
_UNTIDY_JOINED = re.compile(
    r"(?:^|\x00)[\s#]|\s(?:\x00|$)|\s\s|[^\S ]|[\u200b-\u200d\u2060\ufeff\u00ad]"
)
# punctuation NFKC leaves alone but people use in numbers and dates
_EXTRA = str.maketrans({"。": ".", "－": "-", "—": "-", "–": "-", "−": "-", "～": "-", "〜": "-"})


def halfwidth(text: str) -> str:
    """Full-width digits, letters and punctuation as their ASCII forms (ＸＴ－２０２６ → XT-2026)."""
    return unicodedata.normalize("NFKC", text).translate(_EXTRA)


def is_blank(value: object) -> bool:
    """Nothing typed (未填写): the one blank rule of xietong.

    Blank: None, text of only spaces or invisible characters, an empty list or tuple. Not
    blank: 0, 0.0, False (a typed zero or 否 is an answer) and an Excel error.
    """
    if value is None:
        return True
    if value.__class__ is str:  # most cells: text starting with something typed
        return not value or (value[0] in _BLANK_START and _blank_text(value))
    if isinstance(value, str):
        return _blank_text(value)
    if isinstance(value, (list, tuple)):
        return not value
    return False


def _blank_text(value: str) -> bool:
    return not value.translate(_ZERO_WIDTH).strip(" \t\r\n\u00a0\u3000")


# the characters a blank text is made of (what is_blank strips or drops): text that starts
# with anything else is not blank
_BLANK_START = frozenset(" \t\r\n\u00a0\u3000\u200b\u200c\u200d\u2060\ufeff\u00ad")


def blank_positions(values: Sequence[object]) -> set[int]:
    """The positions of the blank values (:func:`is_blank`) among ``values``."""
    start = _BLANK_START
    return {
        i
        for i, v in enumerate(values)
        if v is None or (v.__class__ is str and (not v or (v[0] in start and is_blank(v))))
    }


def as_cell_error(value: object) -> CellError | None:
    """The Excel error a cell holds, whether the reader gave it as an error or as its text."""
    if isinstance(value, CellError):
        return value
    if isinstance(value, str) and value.strip().upper() in EXCEL_ERRORS:
        return CellError(value.strip().upper())
    return None


def clean_text(value: object, *, multiline: bool = False) -> str:
    """Text as typed, without surrounding spaces, doubled inner spaces or invisible characters.

    Numbers come back without a spurious ``.0`` (a phone number typed as a number); text keeps
    leading zeros because the reader gives text cells as text.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if value.__class__ is str and not _UNTIDY.search(value):
        return value  # the common case: nothing to tidy
    text = str(value).translate(_ZERO_WIDTH).replace("\r\n", "\n").replace("\r", "\n")
    if multiline:
        lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
        return "\n".join(lines).strip("\n")
    return _SPACES.sub(" ", text.replace("\n", " ")).strip()


def all_tidy(values: Iterable[object], max_length: int | None = None) -> bool:
    """Whether every non-empty text among ``values`` is kept exactly as typed by :func:`clean_text`,
    starts with no ``#`` (an Excel error typed as text) and is at most ``max_length`` long.

    One regular-expression scan over all texts at once: a column of 100,000 distinct task
    descriptions is cleared in milliseconds.
    """
    texts = [v for v in values if v.__class__ is str and v]
    if not texts:
        return True
    joined = "\x00".join(texts)  # type: ignore[arg-type]
    if joined.count("\x00") != len(texts) - 1 or _UNTIDY_JOINED.search(joined):
        return False
    return max_length is None or max(map(len, texts)) <= max_length


def compact(value: object) -> str:
    """Half-width, no whitespace at all, case-folded: the key for comparing closed-list entries."""
    return _ALL_SPACE.sub("", halfwidth(clean_text(value))).casefold()


# -- dates --------------------------------------------------------------------------------------

_WEEKDAY = re.compile(r"[(（]?\s*(?:周|星期|礼拜)[一二三四五六日天]\s*[)）]?$")
_TIME = r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_YMD = re.compile(r"(\d{4})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{1,2})" + _TIME)
_CN_YMD = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?" + _TIME)
_CN_MD = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")
_MD = re.compile(r"(\d{1,2})\s*[-/.]\s*(\d{1,2})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


def _make_date(year: int, month: int, day: int, value: object) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ParseError("E_DATE_FORMAT", value=value) from None


def excel_serial_date(serial: float) -> dt.date:
    """The date of an Excel serial number (1900 date system; the time of day is dropped)."""
    if not math.isfinite(serial) or serial < 1 or serial >= 2958466:
        raise ParseError("E_DATE_FORMAT", value=serial)
    days = int(serial)
    if days == 60:  # 1900-02-29, a day that never was (Lotus 1-2-3 compatibility)
        raise ParseError("E_DATE_FORMAT", value=serial)
    if days < 60:
        days += 1
    return EXCEL_EPOCH + dt.timedelta(days=days)


def parse_date(value: object, *, default_year: int | None = None) -> dt.date:
    """A date from an Excel date, a serial number or text in the ways people type dates.

    Accepts 2026-03-10, 2026/3/10, 2026.3.10, 2026年3月10日, 20260310, a trailing time or
    weekday, full-width digits; 3月10日 and 3/10 take ``default_year`` (the form's own year or
    the current year, passed in by the caller).
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool) or value is None:
        raise ParseError("E_DATE_FORMAT", value=value)
    if isinstance(value, int | float):
        if float(value).is_integer() and 19000101 <= value <= 99991231:
            digits = str(int(value))
            return _make_date(int(digits[:4]), int(digits[4:6]), int(digits[6:]), value)
        return excel_serial_date(float(value))
    if not isinstance(value, str):
        raise ParseError("E_DATE_FORMAT", value=value)
    text = _WEEKDAY.sub("", halfwidth(clean_text(value))).strip()
    if m := _YMD.fullmatch(text):
        return _make_date(int(m[1]), int(m[3]), int(m[4]), value)
    if m := _CN_YMD.fullmatch(text):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), value)
    if m := _COMPACT.fullmatch(text):
        return _make_date(int(m[1]), int(m[2]), int(m[3]), value)
    if default_year is not None and ((m := _CN_MD.fullmatch(text)) or (m := _MD.fullmatch(text))):
        return _make_date(default_year, int(m[1]), int(m[2]), value)
    raise ParseError("E_DATE_FORMAT", value=value)


# -- numbers ------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
# longest first: 万元 before 元, 百万 before 万
_UNITS = [
    ("亿元", 1e8),
    ("亿", 1e8),
    ("百万元", 1e6),
    ("百万", 1e6),
    ("万元", 1e4),
    ("万", 1e4),
    ("千元", 1e3),
    ("千", 1e3),
    ("元整", 1),
    ("元", 1),
    ("rmb", 1),
    ("cny", 1),
]
_CURRENCY_PREFIXES = ("¥", "￥", "rmb", "cny", "人民币")


def _number_text(text: str) -> float:
    """A number from cleaned half-width text; thousands separators only in groups of three."""
    text = text.replace(" ", "")
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not _PLAIN.fullmatch(text):
        raise ValueError(text)
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def _tidy(number: float) -> int | float:
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def parse_number(value: object) -> int | float:
    """A number typed as a number or as text (full-width digits, 1,234.5, spaces)."""
    if isinstance(value, bool) or value is None:
        raise ParseError("E_NUMBER_FORMAT", value=value)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ParseError("E_NUMBER_FORMAT", value=value)
        return _tidy(float(value)) if isinstance(value, float) else value
    if not isinstance(value, str):
        raise ParseError("E_NUMBER_FORMAT", value=value)
    try:
        return _tidy(_number_text(halfwidth(clean_text(value))))
    except ValueError:
        raise ParseError("E_NUMBER_FORMAT", value=value) from None


def parse_money(value: object) -> float:
    """An amount in 元 from 50000, 50,000.00, ¥50000, 5万, 5万元, 50000元, 0.5亿."""
    if isinstance(value, bool) or value is None:
        raise ParseError("E_NUMBER_FORMAT", value=value)
    if isinstance(value, int | float):
        return float(parse_number(value))
    if not isinstance(value, str):
        raise ParseError("E_NUMBER_FORMAT", value=value)
    text = halfwidth(clean_text(value)).replace(" ", "").lower()
    for prefix in _CURRENCY_PREFIXES:
        text = text.removeprefix(prefix)
    factor = 1.0
    for unit, unit_factor in _UNITS:
        if text.endswith(unit) and len(text) > len(unit):
            text, factor = text[: -len(unit)], unit_factor
            break
    try:
        return round(_number_text(text) * factor, 6)
    except ValueError:
        raise ParseError("E_NUMBER_FORMAT", value=value) from None


def parse_percent(value: object) -> float:
    """A share 0..1 from 0.6, 60, 60% or ６０％ (a number above 1 is read as percent points)."""
    if isinstance(value, bool) or value is None:
        raise ParseError("E_PERCENT_FORMAT", value=value)
    if isinstance(value, str):
        text = halfwidth(clean_text(value)).replace(" ", "")
        explicit = text.endswith("%")
        try:
            number = _number_text(text.removesuffix("%"))
        except ValueError:
            raise ParseError("E_PERCENT_FORMAT", value=value) from None
        if explicit:
            return number / 100
    elif isinstance(value, int | float) and math.isfinite(value):
        number = float(value)
    else:
        raise ParseError("E_PERCENT_FORMAT", value=value)
    return number if number <= 1 else number / 100


# -- closed lists -------------------------------------------------------------------------------

_YES = {"是", "y", "yes", "true", "1", "√", "✓", "✔", "对"}
_NO = {"否", "n", "no", "false", "0", "×", "✗", "✘", "不是"}


def parse_yes_no(value: object) -> str:
    """是 or 否, from 是/否, Y/N, yes/no, √/×, TRUE/FALSE, 1/0."""
    if isinstance(value, bool):
        return "是" if value else "否"
    key = compact(value)
    if key in _YES:
        return "是"
    if key in _NO:
        return "否"
    raise ParseError("E_NOT_IN_LIST", value=value, allowed=("是", "否"))


def parse_choice(value: object, allowed: Iterable[str]) -> str:
    """One of the allowed values, matched without regard to spaces, width or case."""
    options = list(allowed)
    text = clean_text(value)
    if text in options:
        return text
    key = compact(value)
    for option in options:
        if compact(option) == key:
            return option
    raise ParseError("E_NOT_IN_LIST", value=value, allowed=tuple(options))


@dataclass(frozen=True)
class DepartmentLookup:
    """Every name and alias of every department, keyed for forgiving comparison."""

    names: tuple[str, ...]
    keys: Mapping[str, str] = field(default_factory=dict)  # compact(name or alias) → canonical

    @classmethod
    def build(cls, departments: Iterable[tuple[str, Iterable[str]]]) -> DepartmentLookup:
        """From (canonical name, aliases) pairs, in the order of the rules."""
        names: list[str] = []
        keys: dict[str, str] = {}
        for name, aliases in departments:
            names.append(name)
            for alias in [name, *aliases]:
                keys.setdefault(compact(alias), name)
        return cls(tuple(names), keys)

    def find(self, text: str) -> str | None:
        key = compact(text)
        if key in self.keys:
            return self.keys[key]
        # "研发" for 研发部: accept a name typed without its last character 部
        return self.keys.get(key + "部")


def parse_department(value: object, lookup: DepartmentLookup) -> str:
    """The canonical department name for a name or alias (技术部 → 研发部)."""
    found = lookup.find(clean_text(value))
    if found is None:
        raise ParseError("E_NOT_IN_LIST", value=value, allowed=lookup.names)
    return found


_DEPT_SEPARATORS = re.compile(r"[、,，;；/／|｜\s]+")


def parse_departments(value: object, lookup: DepartmentLookup) -> list[str]:
    """Several departments separated by 、 , ； / or spaces; canonical names, duplicates dropped."""
    parts = [p for p in _DEPT_SEPARATORS.split(clean_text(value, multiline=True)) if p]
    out: list[str] = []
    unknown: list[str] = []
    for part in parts:
        found = lookup.find(part)
        if found is None:
            unknown.append(part)
        elif found not in out:
            out.append(found)
    if unknown or not out:
        raise ParseError(
            "E_NOT_IN_LIST", value=value, unknown="、".join(unknown), allowed=lookup.names
        )
    return out
