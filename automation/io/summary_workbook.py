"""The summary workbook (汇总) for leaders, generated fresh with xlsxwriter from the summary
model (``automation.core.summary``).

Sheets: 总览 (key figures, stage funnel chart, on-time rates), 部门 (per department, on-time
rate chart), 超期清单 (breached and at-risk clocks with a link to the item's folder or workbook),
趋势 (per ISO week, line chart, per-department sparklines), 事项 (one row per item, filterable).
Every text that comes from a person (titles, department names, routes) is written as text
(``write_string``, or an inline string in the two long sheets): it can never become a formula.
The workbook holds no cell formula at all. The data rows of 超期清单 and 事项 (thousands on a
large drive) are written as sheet XML and spliced in after xlsxwriter closes the workbook
(:mod:`automation.io.longsheet`); their header, widths, filters and formats are xlsxwriter's.
Returns bytes; the caller writes them through ``automation.io.safewrite``.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from automation.core.summary import PERIODS, OverdueRow, SummaryModel
from automation.io.files import RelativePaths
from automation.io.longsheet import LongRows, blocks_memory, restore_blocks, splice
from automation.rules import Rules

# Link targets: (item, department or None) → a file or folder on the drive.
Links = Mapping[tuple[str, str | None], Path]

SHEETS = ("总览", "部门", "超期清单", "趋势", "事项")
CHART_TITLES = {
    "stages": "各阶段在办事项",
    "departments": "各部门时限按时率",
    "trend": "每周时限按时率",
}
_HEAD = "#1F4E79"
_RED = "#F8CBAD"
_AMBER = "#FFE699"


class _Formats:
    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        base = {"font_name": "微软雅黑", "font_size": 10, "valign": "vcenter"}
        self.title = wb.add_format({**base, "bold": True, "font_size": 16, "font_color": _HEAD})
        self.note = wb.add_format({**base, "font_color": "#595959"})
        self.head = wb.add_format(
            {
                **base,
                "bold": True,
                "font_color": "white",
                "bg_color": _HEAD,
                "border": 1,
                "align": "center",
                "text_wrap": True,
            }
        )
        self.text = wb.add_format({**base, "border": 1, "text_wrap": True})
        self.num = wb.add_format({**base, "border": 1, "num_format": "0", "align": "center"})
        self.pct = wb.add_format({**base, "border": 1, "num_format": "0.0%", "align": "center"})
        self.big = wb.add_format(
            {**base, "border": 1, "bold": True, "font_size": 14, "align": "center"}
        )
        self.big_red = wb.add_format(
            {**base, "border": 1, "bold": True, "font_size": 14, "align": "center"}
        )
        self.big_red.set_font_color("#C00000")
        self.link = wb.add_format({**base, "border": 1, "font_color": "#0563C1", "underline": 1})
        self.red = wb.add_format({"bg_color": _RED})
        self.amber = wb.add_format({"bg_color": _AMBER})


def _page(ws: Any, rows: int, cols: int) -> None:
    """A4 landscape, one page wide, header row repeated."""
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.hide_gridlines(1)  # no gridlines on paper; the tables have borders
    ws.print_area(0, 0, max(rows, 1), max(cols, 1))


def _str(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    ws.write_string(row, col, "" if value is None else str(value), fmt)


def _num(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    else:
        ws.write_number(row, col, float(value), fmt)


def _link(
    rows: LongRows,
    col: int,
    text: str,
    target: Path | None,
    relative: RelativePaths,
    fmt: Any,
    plain: Any,
) -> None:
    """A hyperlink relative to the summary folder (the drive may be mounted anywhere)."""
    if target is None:
        rows.text(col, text, plain)
        return
    rel = relative(target)
    if "#" in rel or len(rel) > 250:  # Excel cannot link these; show the text only
        rows.text(col, text, plain)
        return
    rows.link(col, text, rel, rel, fmt, plain)


def _head(ws: Any, row: int, labels: list[str], fmt: Any) -> None:
    for col, label in enumerate(labels):
        ws.write_string(row, col, label, fmt)


def _title(ws: Any, f: _Formats, text: str, model: SummaryModel) -> None:
    ws.write_string(0, 0, text, f.title)
    ws.write_string(
        1, 0, f"统计截至 {model.as_of:%Y-%m-%d %H:%M}（系统自动生成，请勿手工修改）", f.note
    )


def _overview(wb: Any, f: _Formats, model: SummaryModel) -> None:
    ws = wb.add_worksheet("总览")
    ov = model.overview
    ws.set_column(0, 0, 22)
    ws.set_column(1, 4, 12)
    _title(ws, f, "跨部门协调事项汇总", model)
    figures = [
        ("在办事项", ov.open_items, f.big),
        ("已完成/已关闭事项", ov.closed_items, f.big),
        ("预警事项", ov.items_at_risk, f.big),
        ("超期事项", ov.items_breached, f.big_red),
        ("本周到期事项", ov.due_this_week, f.big),
        ("预警时限（个）", ov.clocks_at_risk, f.big),
        ("超期时限（个）", ov.clocks_breached, f.big_red),
    ]
    _head(ws, 3, ["关键指标", "数值"], f.head)
    for n, (label, value, fmt) in enumerate(figures):
        _str(ws, 4 + n, 0, label, f.text)
        _num(ws, 4 + n, 1, value, fmt)
    top = 4 + len(figures) + 1
    _head(ws, top, ["时限按时率", "按时", "逾期/超期", "按时率"], f.head)
    for n, (key, label) in enumerate(PERIODS):
        rate = ov.rates[key]
        _str(ws, top + 1 + n, 0, label, f.text)
        _num(ws, top + 1 + n, 1, rate.on_time, f.num)
        _num(ws, top + 1 + n, 2, rate.late, f.num)
        _num(ws, top + 1 + n, 3, rate.rate, f.pct)
    ws.conditional_format(
        top + 1, 3, top + len(PERIODS), 3, {"type": "data_bar", "bar_color": "#63BE7B"}
    )
    stage_top = top + len(PERIODS) + 2
    _head(ws, stage_top, ["阶段", "在办事项"], f.head)
    for n, (stage, count) in enumerate(ov.stages):
        _str(ws, stage_top + 1 + n, 0, stage, f.text)
        _num(ws, stage_top + 1 + n, 1, count, f.num)
    last = stage_top + len(ov.stages)
    chart = wb.add_chart({"type": "bar"})
    chart.add_series(
        {
            "name": "在办事项",
            "categories": ["总览", stage_top + 1, 0, last, 0],
            "values": ["总览", stage_top + 1, 1, last, 1],
            "fill": {"color": "#2E75B6"},
            "data_labels": {"value": True},
        }
    )
    chart.set_title({"name": CHART_TITLES["stages"]})
    chart.set_y_axis({"reverse": True})  # the funnel reads top-down, 需求发起 first
    chart.set_legend({"none": True})
    chart.set_size({"width": 520, "height": 320})
    ws.insert_chart(3, 5, chart)
    _page(ws, max(last, 20), 12)


_DEPT_HEAD = [
    "部门",
    "牵头事项",
    "配合事项",
    "按时完成时限",
    "逾期/超期时限",
    "按时率",
    "缺少每日进度（天）",
    "周报迟交（份）",
    "未关闭异常",
]


def _departments(wb: Any, f: _Formats, model: SummaryModel) -> None:
    ws = wb.add_worksheet("部门")
    _title(ws, f, "各部门协作情况", model)
    ws.set_column(0, 0, 12)
    ws.set_column(1, len(_DEPT_HEAD) - 1, 11)
    _head(ws, 3, _DEPT_HEAD, f.head)
    ws.set_row(3, 30)
    rows = model.departments
    for n, d in enumerate(rows, start=4):
        _str(ws, n, 0, d.name, f.text)
        for col, value in enumerate((d.led, d.cooperated, d.on_time, d.late), start=1):
            _num(ws, n, col, value, f.num)
        _num(ws, n, 5, d.rate, f.pct)
        _num(ws, n, 6, d.daily_missing, f.num)
        _num(ws, n, 7, d.weekly_late, f.num)
        _num(ws, n, 8, d.open_exceptions, f.num)
    last = 3 + len(rows)
    if rows:
        ws.conditional_format(4, 5, last, 5, {"type": "data_bar", "bar_color": "#63BE7B"})
        for col in (4, 6, 7, 8):
            ws.conditional_format(
                4, col, last, col, {"type": "cell", "criteria": ">", "value": 0, "format": f.red}
            )
    ws.freeze_panes(4, 1)
    chart = wb.add_chart({"type": "column"})
    chart.add_series(
        {
            "name": "按时率",
            "categories": ["部门", 4, 0, max(last, 4), 0],
            "values": ["部门", 4, 5, max(last, 4), 5],
            "fill": {"color": "#70AD47"},
        }
    )
    chart.set_title({"name": CHART_TITLES["departments"]})
    chart.set_y_axis({"min": 0, "max": 1, "num_format": "0%"})
    chart.set_legend({"none": True})
    chart.set_size({"width": 760, "height": 300})
    ws.insert_chart(last + 2, 0, chart)
    _page(ws, last + 18, len(_DEPT_HEAD) - 1)


_OVERDUE_HEAD = [
    "事项编号",
    "事项名称",
    "时限",
    "阶段",
    "状态",
    "责任部门",
    "截止时间",
    "超期工作日",
    "缺报（天/周）",
    "打开",
]


def _overdue(
    wb: Any, f: _Formats, model: SummaryModel, links: Links, relative: RelativePaths
) -> LongRows:
    ws = wb.add_worksheet("超期清单")
    _title(ws, f, "超期与预警清单（按超期工作日排序）", model)
    widths = [15, 26, 18, 10, 8, 16, 17, 9, 9, 30]
    for col, w in enumerate(widths):
        ws.set_column(col, col, w)
    _head(ws, 3, _OVERDUE_HEAD, f.head)
    rows = _rows("超期清单", f, relative)

    def fill(rows: LongRows, o: OverdueRow, target: Path | None) -> None:
        rows.text(0, o.item, f.text)
        rows.text(1, o.title, f.text)
        rows.text(2, o.label + (f"（{o.department}）" if o.department else ""), f.text)
        rows.text(3, o.stage, f.text)
        rows.text(4, o.state_zh, f.text)
        rows.text(5, o.responsible, f.text)
        rows.text(6, (o.due_at or "")[:16].replace("T", " "), f.text)
        rows.number(7, o.late_workdays, f.num)
        rows.number(8, o.missing, f.num)
        name = target.name if target is not None else ""
        _link(rows, 9, name, target, relative, f.link, f.text)

    keyed = []
    for o in model.overdue:
        target = links.get((o.item, o.department)) or links.get((o.item, None))
        keyed.append((f"{o.shown}\x00{_where(target)}", (o, target)))
    rows.keyed_rows(keyed, fill)
    last = 3 + len(model.overdue)
    if model.overdue:
        ws.conditional_format(4, 7, last, 7, {"type": "data_bar", "bar_color": "#FF7C80"})
        for word, fmt in (("超期", f.red), ("预警", f.amber)):
            ws.conditional_format(
                4,
                4,
                last,
                4,
                {"type": "text", "criteria": "containing", "value": word, "format": fmt},
            )
        ws.autofilter(3, 0, last, len(_OVERDUE_HEAD) - 1)
    else:
        ws.write_string(4, 0, "当前没有超期或预警的时限。", f.note)
    ws.freeze_panes(4, 1)
    ws.repeat_rows(3)
    _page(ws, max(last, 4), len(_OVERDUE_HEAD) - 1)
    return rows


def _trend(wb: Any, f: _Formats, model: SummaryModel) -> None:
    ws = wb.add_worksheet("趋势")
    _title(ws, f, "每周趋势（ISO 周）", model)
    ws.set_column(0, 0, 12)
    ws.set_column(1, 4, 10)
    _head(ws, 3, ["周", "新增事项", "完成事项", "超期时限", "按时率"], f.head)
    for n, t in enumerate(model.trend, start=4):
        _str(ws, n, 0, t.week, f.text)
        _num(ws, n, 1, t.opened, f.num)
        _num(ws, n, 2, t.completed, f.num)
        _num(ws, n, 3, t.breached, f.num)
        _num(ws, n, 4, t.rate.rate, f.pct)
    last = 3 + len(model.trend)
    chart = wb.add_chart({"type": "line"})
    chart.add_series(
        {
            "name": "按时率",
            "categories": ["趋势", 4, 0, last, 0],
            "values": ["趋势", 4, 4, last, 4],
            "marker": {"type": "circle"},
            "line": {"color": "#2E75B6", "width": 2.25},
        }
    )
    chart.set_title({"name": CHART_TITLES["trend"]})
    chart.set_y_axis({"min": 0, "max": 1, "num_format": "0%"})
    chart.set_legend({"none": True})
    chart.set_size({"width": 560, "height": 300})
    ws.insert_chart(3, 6, chart)
    # per-department sparklines: late clocks per week
    top = last + 3
    weeks = len(model.trend)
    ws.write_string(top - 1, 0, "各部门每周超期时限数（迷你图）", f.note)
    _head(ws, top, ["部门", "趋势", *[t.week[-3:] for t in model.trend]], f.head)
    ws.set_column(1, 1, 18)
    for n, (dept, counts) in enumerate(model.dept_trend.items(), start=top + 1):
        _str(ws, n, 0, dept, f.text)
        for k, value in enumerate(counts):
            _num(ws, n, 2 + k, value, f.num)
        if weeks:
            ws.add_sparkline(
                n,
                1,
                {
                    "range": f"'趋势'!{xl_rowcol_to_cell(n, 2)}:{xl_rowcol_to_cell(n, 1 + weeks)}",
                    "type": "column",
                    "series_color": "#C00000",
                },
            )
    end = top + len(model.dept_trend)
    _page(ws, end, max(1 + weeks, 14))


def _items(
    wb: Any, f: _Formats, model: SummaryModel, rules: Rules, links: Links, relative: RelativePaths
) -> LongRows:
    ws = wb.add_worksheet("事项")
    form = rules.form("summary")
    _title(ws, f, form.title, model)
    for col, c in enumerate(form.columns):
        ws.set_column(col, col, c.width or 12)
    _head(ws, 3, [c.label for c in form.columns], f.head)
    rows = _rows("事项", f, relative, form.columns)

    def fill(rows: LongRows, values: dict[str, Any], target: Path | None) -> None:
        for col, c in enumerate(form.columns):
            value = values.get(c.key)
            if c.key == "item_id":
                _link(rows, col, str(value), target, relative, f.link, f.text)
            elif c.type == "percent":
                rows.number(col, value, f.pct)
            elif c.type == "number":
                rows.number(col, value, f.num)
            else:
                rows.text(col, _plain(value), f.text)

    keyed = []
    for item in model.items:
        target = links.get((item.item, None))
        # None: built every time
        key = None if item.key is None else f"{item.shown}\x00{_where(target)}"
        keyed.append((key, (item.values, target)))
    rows.keyed_rows(keyed, fill)
    last = 3 + len(model.items)
    width = len(form.columns) - 1
    ws.autofilter(3, 0, max(last, 3), width)
    ws.freeze_panes(4, 1)
    state_col = next((i for i, c in enumerate(form.columns) if c.key == "clock_state"), None)
    if state_col is not None and model.items:
        col = xl_col_to_name(state_col)
        for word, fmt in (("超期", f.red), ("预警", f.amber)):
            ws.conditional_format(
                f"{col}5:{col}{last + 1}",
                {"type": "text", "criteria": "containing", "value": word, "format": fmt},
            )
    ws.repeat_rows(3)
    _page(ws, max(last, 4), width)
    return rows


# The long sheets' rows of the last workbook built in this process, for the next one: (sheet,
# formats, link base, columns) → LongRows.kept (a summary rebuilt after one item changed
# builds few of its rows again). One entry per sheet: the next workbook's replace it.
_KEPT: dict[str, tuple[Hashable, dict[Hashable, Any]]] = {}


def _where(target: Path | None) -> str:
    """A link target in a row's key: its path as text. A row's key is text (the row's values
    as shown, see ``OverdueRow.shown``, and its link): hashed once per drawing, compared
    quickly, and quick to read back from the local state (``automation.io.summary_memory``)."""
    return "" if target is None else os.fspath(target)


def rows_memory() -> dict[str, Any]:
    """What the next workbook takes from the last one built in this process: the long
    sheets' rows and their compressed blocks (plain data, picklable)."""
    return {"rows": dict(_KEPT), "blocks": dict(blocks_memory())}


def restore_rows(memory: dict[str, Any]) -> None:
    """Take ``memory`` (:func:`rows_memory` of an earlier process with the same code) as the
    last workbook's: its rows are still taken only where the sheet's formats, link base and
    columns are the same and a row's key is equal, so a stale memory only costs the rows built
    again."""
    _KEPT.clear()
    _KEPT.update(memory["rows"])
    restore_blocks(memory["blocks"])


def _rows(sheet: str, f: _Formats, relative: RelativePaths, columns: Any = ()) -> LongRows:
    styles = tuple(fmt._get_xf_index() for fmt in (f.text, f.num, f.pct, f.link))
    signature = (styles, os.fspath(relative.base), repr(columns))
    held = _KEPT.get(sheet)
    rows = LongRows(sheet, 4, held[1] if held is not None and held[0] == signature else None)
    _KEPT[sheet] = (signature, rows.kept)
    return rows


def _plain(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)


def summary_workbook_bytes(
    model: SummaryModel,
    rules: Rules,
    *,
    links: Links | None = None,
    base: Path | None = None,
    relative: RelativePaths | None = None,
) -> bytes:
    """The summary workbook as bytes. ``links`` point to item folders / workbooks; hyperlinks
    are written relative to ``base`` (the folder the workbook will be saved in), or by
    ``relative`` (relative to its folder) when the caller has one."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False})
    # fixed properties: the same model gives the same bytes
    stamp = dt.datetime.combine(model.as_of_date, dt.time())
    wb.set_properties({"title": "跨部门协调事项汇总", "author": "xietong", "created": stamp})
    f = _Formats(wb)
    links = links or {}
    relative = relative or RelativePaths(base or Path.cwd())
    _overview(wb, f, model)
    _departments(wb, f, model)
    overdue = _overdue(wb, f, model, links, relative)
    _trend(wb, f, model)
    items = _items(wb, f, model, rules, links, relative)
    wb.close()
    return splice(buf.getvalue(), [overdue, items])


__all__ = [
    "CHART_TITLES",
    "SHEETS",
    "Links",
    "restore_rows",
    "rows_memory",
    "summary_workbook_bytes",
]
