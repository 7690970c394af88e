"""Generating the workbooks departments fill (模板一 … 模板四, 周进度报告, 汇总) from the rules.

Positions come from ``automation.core.layout``; labels, lists and checks from ``rules/forms``.
Every string is written as a string (never a formula or a hyperlink), so text copied from a
submission into a generated workbook stays inert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.workbook import Format, Workbook
from xlsxwriter.worksheet import Worksheet

from automation.core.cells import column_index, column_letter
from automation.core.layout import (
    FORM_LAST_COLUMN,
    HINT_ROW,
    TITLE_ROW,
    Layout,
    layout,
)
from automation.rules import Rules
from automation.rules.forms import YES_NO, FieldSpec, FormRules

MARKER_SHEET = "_xietong"
MARKER_TAG = "xietong"
LISTS_SHEET = "_lists"
INSTRUCTIONS_SHEET = "填写说明"
BUTTONS_NOTE = (
    "带按钮的 .xlsm 版本（需启用宏）中的按钮只是方便操作；使用 WPS、LibreOffice 或宏被禁用时，"
    "每个按钮的操作都可以不用宏、只在共享盘上保存文件完成："
)
FIXED_TIME = dt.datetime(2026, 1, 1, 0, 0, 0)  # document dates fixed: regenerating is reproducible

TYPE_NAMES = {
    "text": "文本",
    "long_text": "长文本",
    "date": "日期（如 2026-03-10）",
    "number": "数字",
    "money": "金额（元）",
    "percent": "百分比（如 60%）",
    "enum": "下拉选择",
    "department": "部门（下拉选择）",
    "departments": "部门（可多个，用顿号“、”分隔）",
    "yes_no": "是/否",
}
STATE_COLOURS = {  # clock state → fill colour of the cell (conditional format)
    "已超期": "#F8CBAD",
    "预警": "#FFE699",
    "进行中": "#DDEBF7",
    "按时完成": "#C6EFCE",
    "逾期完成": "#FCE4D6",
}
NUMBER_FORMATS = {"date": "yyyy-mm-dd", "percent": "0%", "money": "#,##0.00", "number": "General"}
ROW_COUNT_VALIDATED = 1  # tables: validations cover the pre-sized rows exactly

WORKBOOK_OPTIONS = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "constant_memory": False,
}


class _Formats:
    """The handful of cell formats every template uses."""

    def __init__(self, wb: Workbook):
        base = {"font_name": "等线", "font_size": 11, "valign": "vcenter"}
        self.title = wb.add_format({**base, "bold": True, "font_size": 16, "align": "center"})
        self.hint = wb.add_format({**base, "font_color": "#7F7F7F", "font_size": 9})
        self.section = wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "border": 1})
        self.label = wb.add_format({**base, "bold": True, "border": 1, "text_wrap": True})
        self.header = wb.add_format(
            {
                **base,
                "bold": True,
                "border": 1,
                "text_wrap": True,
                "bg_color": "#BDD7EE",
                "align": "center",
            }
        )
        self.header_computed = wb.add_format(
            {
                **base,
                "bold": True,
                "border": 1,
                "text_wrap": True,
                "bg_color": "#D9D9D9",
                "font_color": "#595959",
                "align": "center",
            }
        )
        self.text = wb.add_format(base)
        self.wrap = wb.add_format({**base, "text_wrap": True})
        self._wb, self._base = wb, base
        self._cache: dict[tuple[str, bool, bool], Format] = {}
        for key, colour in STATE_COLOURS.items():
            setattr(self, f"state_{key}", wb.add_format({"bg_color": colour}))

    def value(self, f: FieldSpec, *, border: bool) -> Format:
        """The format of a value cell: unlocked for input, grey and locked when computed."""
        key = (f.type, f.computed, border)
        if key not in self._cache:
            props: dict[str, Any] = dict(self._base)
            if f.type in NUMBER_FORMATS:
                props["num_format"] = NUMBER_FORMATS[f.type]
            if f.type == "long_text":
                props["text_wrap"] = True
                props["valign"] = "top"
            if border:
                props["border"] = 1
            if f.computed:
                props["bg_color"] = "#F2F2F2"
                props["font_color"] = "#404040"
            else:
                props["locked"] = False
            self._cache[key] = self._wb.add_format(props)
        return self._cache[key]


def _abs(sheet: str, cell: str) -> str:
    """='Sheet'!$B$4 style reference."""
    col = "".join(c for c in cell if c.isalpha())
    row = "".join(c for c in cell if c.isdigit())
    return f"='{sheet}'!${col}${row}"


def _list_values(f: FieldSpec, rules: Rules) -> list[str]:
    if f.type == "yes_no":
        return list(YES_NO)
    if f.type in ("department", "departments"):
        return rules.departments.names
    return list(f.allowed)


def _list_name(f: FieldSpec) -> str:
    if f.type in ("department", "departments"):
        return "xt_list_departments"
    if f.type == "yes_no":
        return "xt_list_yes_no"
    return f"xt_list_{f.key}"


class _Builder:
    def __init__(self, wb: Workbook, form: FormRules, rules: Rules):
        self.wb, self.form, self.rules = wb, form, rules
        self.fmt = _Formats(wb)
        self.lay: Layout = layout(form)
        self.ws: Worksheet = wb.add_worksheet(form.sheet)
        self.lists_ws: Worksheet | None = None
        self.lists: dict[str, str] = {}  # list name → absolute range

    # -- closed lists --------------------------------------------------------------------------
    def list_source(self, f: FieldSpec) -> str:
        name = _list_name(f)
        if name not in self.lists:
            if self.lists_ws is None:
                self.lists_ws = self.wb.add_worksheet(LISTS_SHEET)
                self.lists_ws.hide()
            col = len(self.lists)
            values = _list_values(f, self.rules)
            self.lists_ws.write_string(0, col, name.removeprefix("xt_list_"))
            for i, v in enumerate(values):
                self.lists_ws.write_string(i + 1, col, v)
            letter = column_letter(col + 1)
            ref = f"='{LISTS_SHEET}'!${letter}$2:${letter}${len(values) + 1}"
            self.wb.define_name(name, ref)
            self.lists[name] = ref
        return f"={name}"

    def validation(self, f: FieldSpec, first_row: int, col: int, last_row: int) -> None:
        """Dropdown or type check on the input cells of one field (0-based rows/cols)."""
        if f.computed:
            return
        opts: dict[str, Any] = {"error_title": f.label[:32], "ignore_blank": True}
        if f.help:
            opts.update(input_title=f.label[:32], input_message=f.help[:255])
        if f.closed:
            opts.update(validate="list", source=self.list_source(f))
            multi = f.type == "departments"
            opts["error_type"] = "warning" if multi else "stop"
            opts["error_message"] = (
                "可从列表选择一个部门，多个部门用顿号“、”分隔" if multi else "请从下拉列表中选择"
            )
        elif f.type == "date":
            opts.update(
                validate="date",
                criteria="between",
                minimum=dt.date(2000, 1, 1),
                maximum=dt.date(2099, 12, 31),
                error_type="warning",
                error_message="请填写日期，格式如 2026-03-10",
            )
        elif f.type in ("number", "money", "percent"):
            lo = f.min if f.min is not None else (0 if f.type != "number" else -1e15)
            hi = f.max if f.max is not None else 1e15
            opts.update(
                validate="decimal",
                criteria="between",
                minimum=lo,
                maximum=hi,
                error_type="warning",
                error_message="请填写数字" + ("（如 60%）" if f.type == "percent" else ""),
            )
        elif f.max_length:
            opts.update(
                validate="length",
                criteria="<=",
                value=f.max_length,
                error_type="warning",
                error_message=f"不超过 {f.max_length} 个字",
            )
        else:
            if not f.help:
                return
            opts.update(validate="any")
        self.ws.data_validation(first_row, col, last_row, col, opts)

    # -- form layout ---------------------------------------------------------------------------
    def title(self, last_col: int) -> None:
        ws, form = self.ws, self.form
        ws.merge_range(TITLE_ROW - 1, 0, TITLE_ROW - 1, last_col, form.title, self.fmt.title)
        ws.set_row(TITLE_ROW - 1, 30)
        hint = f"{form.template} · 版本 {form.version} · 带 * 为必填项，灰色为系统自动填写，填写说明见“{INSTRUCTIONS_SHEET}”"
        ws.write_string(HINT_ROW - 1, 0, hint, self.fmt.hint)

    def form_fields(self, last_col: int) -> None:
        ws = self.ws
        for section in self.form.sections:
            row = self.lay.section_rows[section.title] - 1
            ws.merge_range(row, 0, row, last_col, section.title, self.fmt.section)
            for f in section.fields:
                cell = self.lay.cells[f.key]
                r = int(cell[1:]) - 1
                ws.write_string(r, 0, f.label + (" *" if f.required else ""), self.fmt.label)
                fmt = self.fmt.value(f, border=True)
                ws.merge_range(r, 1, r, last_col, "", fmt)
                ws.set_row(r, 48 if f.type == "long_text" else 20)
                self.wb.define_name(f"xt_{f.key}", _abs(self.form.sheet, cell))
                self.validation(f, r, 1, r)

    def inner_tables(self, last_col: int) -> None:
        ws = self.ws
        for spec in self.form.tables:
            t = self.lay.tables[spec.key]
            ws.merge_range(
                t.title_row - 1, 0, t.title_row - 1, last_col, spec.label, self.fmt.section
            )
            for i, c in enumerate(spec.columns):
                ws.write_string(t.header_row - 1, i, c.label, self.fmt.header)
                for r in range(t.first_row - 1, t.last_row):
                    ws.write_blank(r, i, None, self.fmt.value(c, border=True))
                self.validation(c, t.first_row - 1, i, t.last_row - 1)
            last = column_letter(len(spec.columns))
            self.wb.define_name(
                f"xt_{spec.key}", f"='{self.form.sheet}'!$A${t.first_row}:${last}${t.last_row}"
            )

    # -- table layout --------------------------------------------------------------------------
    def table(self) -> None:
        ws, form, lay = self.ws, self.form, self.lay
        header = lay.header_row - 1
        first, last = lay.first_data_row - 1, lay.last_data_row - 1
        columns = []
        for i, c in enumerate(form.columns):
            columns.append(
                {
                    "header": c.label,
                    "header_format": self.fmt.header_computed if c.computed else self.fmt.header,
                    "format": self.fmt.value(c, border=False),
                }
            )
            cell_format = self.fmt.value(c, border=False)
            width = c.width or 12
            if i == 0 and form.sections:  # column A also carries the labels of the header fields
                width = max(width, 22)
            ws.set_column(i, i, width, cell_format)
            for r in range(first, last + 1):  # explicit cells: every reader sees the lock state
                ws.write_blank(r, i, None, cell_format)
            if c.computed:
                ws.write_comment(header, i, "系统自动填写，请勿修改", {"author": "xietong"})
            self.validation(c, first, i, last)
        ws.add_table(
            header,
            0,
            last,
            len(form.columns) - 1,
            {
                "name": f"xt_{form.kind}",
                "columns": columns,
                "style": "Table Style Light 9",
                "autofilter": True,
            },
        )
        ws.set_row(header, 32)
        ws.freeze_panes(header + 1, 0)
        ws.repeat_rows(header)
        if "clock_state" in lay.columns:
            col = column_index(lay.columns["clock_state"]) - 1
            for value in STATE_COLOURS:
                ws.conditional_format(
                    first,
                    col,
                    last,
                    col,
                    {
                        "type": "cell",
                        "criteria": "==",
                        "value": f'"{value}"',
                        "format": getattr(self.fmt, f"state_{value}"),
                    },
                )

    # -- common parts --------------------------------------------------------------------------
    def page_setup(self, last_col: int) -> None:
        ws, form = self.ws, self.form
        ws.set_paper(9)  # A4
        if form.print.orientation == "landscape":
            ws.set_landscape()
        else:
            ws.set_portrait()
        if form.print.fit_width:
            ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
        ws.set_header(f"&C&12{form.title}")
        ws.set_footer("&L" + form.template + f" 版本 {form.version}" + "&R第 &P 页，共 &N 页")
        if form.layout == "form":  # tables print their used rows, not the empty pre-sized ones
            ws.print_area(0, 0, self.lay.last_row - 1, last_col)
        ws.protect(
            "",
            {
                "autofilter": True,
                "sort": True,
                "format_columns": True,
                "format_rows": True,
                "select_locked_cells": True,
                "select_unlocked_cells": True,
            },
        )
        ws.activate()

    def instructions(self) -> None:
        ws = self.wb.add_worksheet(INSTRUCTIONS_SHEET)
        fmt = self.fmt
        ws.set_column(0, 0, 22)
        ws.set_column(1, 1, 10)
        ws.set_column(2, 2, 24)
        ws.set_column(3, 3, 60)
        ws.merge_range(0, 0, 0, 3, f"{self.form.title} 填写说明", fmt.title)
        row = 2
        lines = [f"{i}. {line}" for i, line in enumerate(self.form.instructions, 1)]
        if self.form.buttons:  # issue 15: every button's operation also works without macros
            lines.append(f"{len(lines) + 1}. {BUTTONS_NOTE}")
            lines += [f"    “{b.caption}”：{b.without_macros}" for b in self.form.buttons]
        for line in lines:
            ws.merge_range(row, 0, row, 3, line, fmt.wrap)
            ws.set_row(row, 30)
            row += 1
        row += 1
        for i, head in enumerate(["项目", "是否必填", "类型", "说明 / 可选值"]):
            ws.write_string(row, i, head, fmt.header)
        for f in self.form.all_fields:
            row += 1
            note = f.help
            if f.closed:
                values = "、".join(_list_values(f, self.rules))
                note = f"{note}；可选：{values}" if note else f"可选：{values}"
            if f.computed:
                note = "系统自动填写" + (f"；{note}" if note else "")
            ws.write_string(row, 0, f.label, fmt.label)
            ws.write_string(row, 1, "必填" if f.required else "", fmt.text)
            ws.write_string(row, 2, TYPE_NAMES[f.type], fmt.text)
            ws.write_string(row, 3, note, fmt.wrap)
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)

    def marker(self) -> None:
        ws = self.wb.add_worksheet(MARKER_SHEET)
        ws.write_string(0, 0, MARKER_TAG)
        ws.write_string(0, 1, self.form.kind)
        ws.write_number(0, 2, self.form.version)
        ws.write_string(0, 3, self.form.template)
        ws.very_hidden()
        self.wb.set_custom_property("xietong_kind", self.form.kind)
        self.wb.set_custom_property("xietong_version", self.form.version)

    def build(self) -> None:
        form = self.form
        last_col = column_index(self.lay.last_column) - 1
        self.title(last_col)
        if form.layout == "form":
            self.ws.set_column(0, 0, 22)
            self.ws.set_column(1, last_col, 14)
            self.ws.freeze_panes(HINT_ROW, 0)
            for spec in form.tables:
                for i, c in enumerate(spec.columns):
                    if i > 0 and c.width:
                        self.ws.set_column(i, i, max(14, c.width))
        self.form_fields(column_index(FORM_LAST_COLUMN) - 1)
        self.inner_tables(last_col)
        if form.layout == "table":
            self.table()
        self.page_setup(last_col)
        self.instructions()
        self.marker()


def _write_value(ws: Worksheet, row: int, col: int, f: FieldSpec, value: Any, fmt: Format) -> None:
    """Write one value with its type; text always as a string (never a formula)."""
    if value is None or value == "":
        return
    if isinstance(value, dt.datetime):
        ws.write_datetime(row, col, value, fmt)
    elif isinstance(value, dt.date):
        ws.write_datetime(row, col, dt.datetime(value.year, value.month, value.day), fmt)
    elif isinstance(value, bool):
        ws.write_string(row, col, "是" if value else "否", fmt)
    elif isinstance(value, int | float) and f.type in ("number", "money", "percent"):
        ws.write_number(row, col, value, fmt)
    elif isinstance(value, list | tuple):
        ws.write_string(row, col, "、".join(str(v) for v in value), fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def write_workbook(
    kind: str,
    rules: Rules,
    path: str | Path,
    *,
    values: Mapping[str, Any] | None = None,
    rows: Iterable[Mapping[str, Any]] | None = None,
    tables: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    finish: Callable[[Workbook, Worksheet, Layout], None] | None = None,
) -> Path:
    """Write a workbook of ``kind``, optionally pre-filled with form values and table rows.

    ``finish`` runs last, before the file is written (the ``.xlsm`` variants add their VBA
    project and buttons there: ``automation.io.macro_workbooks``).
    """
    form = rules.form(kind)
    path = Path(path)
    wb = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
    wb.set_properties(
        {
            "title": form.title,
            "subject": form.template,
            "author": "xietong",
            "company": "",
            "created": FIXED_TIME,
            "comments": f"xietong {kind} v{form.version}",
        }
    )
    builder = _Builder(wb, form, rules)
    builder.build()
    lay, ws, fmt = builder.lay, builder.ws, builder.fmt
    for key, value in (values or {}).items():
        f = form.field(key)
        cell = lay.cells[key]
        _write_value(ws, int(cell[1:]) - 1, 1, f, value, fmt.value(f, border=True))
    for i, row in enumerate(rows or []):
        r = lay.first_data_row - 1 + i
        if r > lay.last_data_row - 1:
            raise ValueError(f"more rows than the {form.table_rows} pre-sized rows of {kind}")
        for key, value in row.items():
            f = form.field(key)
            _write_value(
                ws, r, column_index(lay.columns[key]) - 1, f, value, fmt.value(f, border=False)
            )
    for tkey, trows in (tables or {}).items():
        t = lay.tables[tkey]
        spec = next(s for s in form.tables if s.key == tkey)
        for i, row in enumerate(trows):
            for key, value in row.items():
                f = next(c for c in spec.columns if c.key == key)
                col = column_index(t.columns[key]) - 1
                _write_value(ws, t.first_row - 1 + i, col, f, value, fmt.value(f, border=True))
    if finish is not None:
        finish(wb, ws, lay)
    wb.close()
    return path


def generate_templates(rules: Rules, out_dir: str | Path) -> list[Path]:
    """Write the blank workbook of every kind into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [write_workbook(kind, rules, out / form.file_name) for kind, form in rules.forms.items()]
