"""The acceptance checklist workbook (验收清单): generated with xlsxwriter, one row per document.

The bytes depend only on the checklist (the document's creation time is fixed to the item's
trigger date), so regenerating an unchanged checklist gives the same bytes and nothing is written.
Every text cell is written as a string: a file name that starts with ``=`` stays text.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from xlsxwriter import Workbook

from automation.core.archive import STATUS_ZH, Checklist, split_list

_HEADER = ("序号", "应归档文件", "部门", "状态", "找到的文件", "说明")
_WIDTHS = (6, 34, 10, 8, 48, 48)
_STATUS_COLOURS = {
    "found": "#E2EFDA",
    "missing": "#F8CBAD",
    "incomplete": "#FFE699",
    "na": "#EDEDED",
}


def checklist_bytes(
    checklist: Checklist, row: dict[str, Any], *, sheet: str, created: dt.date
) -> bytes:
    """The 验收清单 workbook of one item."""
    buf = io.BytesIO()
    wb = Workbook(buf, {"in_memory": True})
    wb.set_properties(
        {
            "title": f"验收清单 {checklist.item_id}",
            "author": "xietong",
            "created": dt.datetime.combine(created, dt.time(0, 0)),
        }
    )
    ws = wb.add_worksheet(sheet)
    title = wb.add_format({"bold": True, "font_size": 14})
    label = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1})
    text = wb.add_format({"text_wrap": True, "valign": "top", "border": 1})
    head = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True})
    status = {
        k: wb.add_format({"bg_color": c, "border": 1, "valign": "top"})
        for k, c in _STATUS_COLOURS.items()
    }
    ws.write_string(0, 0, f"验收清单　{checklist.item_id}　{checklist.title}", title)
    verdict = "齐全，可以归档" if checklist.complete else f"缺 {len(checklist.gaps)} 项，见下表"
    info = [
        ("事项编号", checklist.item_id),
        ("事项名称", checklist.title),
        ("牵头部门", "、".join(split_list(row.get("lead_dept")))),
        ("配合部门", "、".join(split_list(row.get("coop_depts")))),
        ("完成日期", _date(row.get("completion_date"))),
        ("结论", verdict),
    ]
    for i, (name, value) in enumerate(info, start=2):
        ws.write_string(i, 0, name, label)
        ws.merge_range(i, 1, i, 5, "", text)
        ws.write_string(i, 1, value, text)
    first = len(info) + 3
    for c, (name, width) in enumerate(zip(_HEADER, _WIDTHS, strict=True)):
        ws.write_string(first, c, name, head)
        ws.set_column(c, c, width)
    for n, e in enumerate(checklist.entries, start=1):
        r = first + n
        ws.write_number(r, 0, n, text)
        ws.write_string(r, 1, e.label, text)
        ws.write_string(r, 2, e.department or "", text)
        ws.write_string(r, 3, STATUS_ZH[e.status], status[e.status])
        ws.write_string(r, 4, "\n".join(e.files), text)
        ws.write_string(r, 5, e.note, text)
    ws.freeze_panes(first + 1, 0)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(first)
    note = wb.add_worksheet("填写说明")
    lines = [
        "本清单由系统根据事项文件夹自动生成，归档前每次运行都会重新生成，请勿在此表中修改。",
        "状态为“缺失”或“不完整”的文件，请补齐后放入事项文件夹（会议纪要须各部门负责人签字）。",
        "清单齐全后系统自动归档；协调管理办公室也可运行 xietong archive 共享盘 --item 编号 决定带缺项归档。",
    ]
    note.set_column(0, 0, 100)
    for i, line in enumerate(lines):
        note.write_string(i, 0, line)
    wb.close()
    return buf.getvalue()


def _date(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)
