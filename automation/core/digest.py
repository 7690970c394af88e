"""What the later stages of a run take from one validated workbook, worked out once per file.

A cold run over a large drive reads thousands of execution workbooks and weekly reports. The
rollup, the clocks, the exceptions and the submitted-report check each used to walk every
row again in the main process. The two per-file results here are pure functions of one
workbook's typed rows:

- an execution workbook's daily rows (:func:`daily_rows`);
- a weekly report's counted rows (:func:`counted_weekly_rows`): every required column people
  fill is filled and the week is readable.

:func:`report_digest` works them out on first use and keeps them on the report
(``FileReport.digest``), so the clocks, the rollup and the submitted-report check share one
pass over the rows. They are not made in the prefetch workers: shipping them to the main
process (pickled named tuples) costs more than making them there. No file or network access
here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from automation.core.calendar import week_text
from automation.core.clocks import as_date
from automation.core.normalize import is_blank
from automation.core.rollup import DailyRow


class CountedRow(NamedTuple):
    """A row of a weekly report that counts as a report, with the values its readers use."""

    week: str  # ISO week label (2026-W41)
    item: Any  # the raw values, as typed (readers normalise them their own way)
    department: Any
    submitted: dt.date | None


def text(value: Any) -> str:
    """A cell value as stripped text; a list (multi-select) joined with 、."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    return str(value).strip()


def _progress(value: Any) -> float | None:
    if value.__class__ is float:
        return value
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def _day(value: Any) -> dt.date | None:
    if value.__class__ is dt.datetime:
        return value.date()
    if value.__class__ is dt.date:
        return value
    return as_date(value)


def daily_row(row: dict[str, Any]) -> DailyRow | None:
    """One execution row as a daily row; None when it has no date."""
    get = row.get
    day = _day(get("date"))
    if day is None:
        return None
    # text() inlined for plain text: a cold run makes half a million of these
    a, b, c, d = get("task"), get("status"), get("problems"), get("needs_coordination")
    return DailyRow(
        day,
        a.strip() if a.__class__ is str else text(a),
        _progress(get("progress")),
        b.strip() if b.__class__ is str else text(b),
        c.strip() if c.__class__ is str else text(c),
        d.strip() if d.__class__ is str else text(d),
    )


def daily_rows(rows: Iterable[dict[str, Any]]) -> tuple[DailyRow, ...]:
    """The dated rows of an execution workbook, in order."""
    return tuple(r for r in map(daily_row, rows) if r is not None)


def counted_weekly_rows(
    rows: Iterable[dict[str, Any]], needed: Sequence[str]
) -> tuple[CountedRow, ...]:
    """The rows of a weekly report that count: every column in ``needed`` filled (the weekly
    form's required columns people fill), and a readable week."""
    out = []
    for row in rows:
        get = row.get
        for key in needed:
            if is_blank(get(key)):
                break
        else:
            week = week_text(get("week"))
            if week is not None:
                out.append(
                    CountedRow(week, get("item_id"), get("department"), _day(get("submitted_date")))
                )
    return tuple(out)


def weekly_needed(columns: Iterable[Any]) -> tuple[str, ...]:
    """The weekly form's columns a row must have filled to count (required, not computed)."""
    return tuple(c.key for c in columns if c.required and not c.computed)


def make_digest(kind: str | None, rows: list[dict[str, Any]], needed: Sequence[str]) -> dict:
    """The per-file results of a report of ``kind`` (empty for other kinds)."""
    if kind == "execution":
        return {"daily": daily_rows(rows)}
    if kind == "weekly":
        return {"needed": tuple(needed), "counted": counted_weekly_rows(rows, needed)}
    return {}


def report_digest(report: Any, needed: Sequence[str]) -> dict:
    """``report.digest``, worked out now (and kept on the report) when it came without one or
    with one made for other weekly columns."""
    held = getattr(report, "digest", None)
    if held is not None and (report.kind != "weekly" or held.get("needed") == tuple(needed)):
        return held
    made = make_digest(report.kind, report.rows, needed)
    with contextlib.suppress(AttributeError):  # a report type without the slot: per call
        report.digest = made
    return made


__all__ = [
    "CountedRow",
    "counted_weekly_rows",
    "daily_row",
    "daily_rows",
    "make_digest",
    "report_digest",
    "text",
    "week_text",
    "weekly_needed",
]
