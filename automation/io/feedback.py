"""Feedback for the submitter, in the drive's feedback folder (06_校验反馈).

Two files per submission, the submitted file itself never touched:

- ``<name>_校验结果.xlsx``: every problem (level, sheet, cell, field, value seen, how to fix,
  code) with a hyperlink to the cell in the highlighted copy. Written with xlsxwriter; every
  piece of text that came from the submission goes through ``write_string``, so it can never
  become a live formula or hyperlink.
- ``<name>_标注.xlsx`` (or .xlsm): a copy of the submission with the cells to fix filled red
  (errors) or yellow (warnings) and a comment carrying the message. It is made with openpyxl
  from a copy, so features openpyxl does not keep (charts, images) may be missing from this
  copy only. Not made for .xls/.xlsb/.ods submissions or files that could not be read; the
  copy of a template (.xltx/.xltm) is an ordinary .xlsx/.xlsm.

Both are built in memory and written through :func:`automation.io.safewrite.safe_write`, the
one safe writer: atomic, and a feedback file someone has open is never replaced under them
(:class:`~automation.io.safewrite.WriteDeferred`).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import xlsxwriter

from automation.core.problems import CATALOGUE, Problem
from automation.io.safewrite import WriteDeferred, safe_write
from automation.io.validation import FileReport

RESULT_SUFFIX = "_校验结果.xlsx"
MARKED_SUFFIX = "_标注"
ERROR_FILL = "FFC7CE"
WARNING_FILL = "FFEB9C"
MAX_TEXT = 32000  # Excel's cell limit is 32,767 characters
# The highlighted copy of a template (.xltx/.xltm) is an ordinary workbook: opening it must show
# the copy itself, not start a new workbook from it.
_MARKED_SUFFIXES = {".xlsx": ".xlsx", ".xlsm": ".xlsm", ".xltx": ".xlsx", ".xltm": ".xlsm"}
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def _text(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _stem(path: Path) -> str:
    return _UNSAFE_NAME.sub("_", path.stem)[:120] or "workbook"


def write_feedback(
    report: FileReport, feedback_dir: str | Path, submitted_path: str | Path
) -> list[Path]:
    """Write the 校验结果 workbook (and the highlighted copy when possible); return their paths."""
    out_dir = Path(feedback_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    submitted = Path(submitted_path)
    written: list[Path] = []
    marked: Path | None = None
    suffix = _MARKED_SUFFIXES.get(submitted.suffix.lower())
    if report.readable and report.problems and suffix is not None:
        marked = out_dir / f"{_stem(submitted)}{MARKED_SUFFIX}{suffix}"
        try:
            safe_write(marked, _marked_bytes(submitted, report.problems), expected=None)
            written.append(marked)
        except WriteDeferred:
            raise  # the previous copy is open: the whole feedback waits, as for the result
        except Exception:  # the list of problems matters more than the highlighted copy
            marked = None
    result = out_dir / f"{_stem(submitted)}{RESULT_SUFFIX}"
    safe_write(result, _result_bytes(report, submitted, marked), expected=None)
    written.insert(0, result)
    return written


def _result_bytes(report: FileReport, submitted: Path, marked: Path | None) -> bytes:
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    ws = wb.add_worksheet("校验结果")
    base = {"font_name": "等线", "font_size": 11, "valign": "top"}
    title = wb.add_format({**base, "bold": True, "font_size": 14})
    head = wb.add_format({**base, "bold": True, "bg_color": "#BDD7EE", "border": 1})
    text = wb.add_format({**base, "text_wrap": True, "border": 1})
    err = wb.add_format({**base, "border": 1, "bg_color": "#" + ERROR_FILL, "bold": True})
    warn = wb.add_format({**base, "border": 1, "bg_color": "#" + WARNING_FILL})
    link = wb.add_format({**base, "border": 1, "font_color": "blue", "underline": 1})
    ws.write_string(0, 0, "校验结果", title)
    ws.write_string(1, 0, "文件")
    ws.write_string(1, 1, _text(submitted.name))
    ws.write_string(2, 0, "结论")
    errors, warnings = len(report.errors), len(report.warnings)
    if not report.problems:
        verdict = "校验通过，没有发现问题。"
    elif errors:
        verdict = (
            f"有 {errors} 个错误需要修改"
            + (f"，另有 {warnings} 个提醒" if warnings else "")
            + "。修改后请重新提交。"
        )
    else:
        verdict = f"校验通过，有 {warnings} 个提醒，请留意。"
    ws.write_string(2, 1, verdict)
    if marked is not None:
        ws.write_string(3, 0, "标注副本")
        ws.write_string(
            3, 1, _text(marked.name) + "（出错的单元格已标红并附批注；请在原文件中修改）"
        )
    headers = ["序号", "级别", "工作表", "单元格", "项目", "填写的值", "问题与修改方法", "代码"]
    widths = [6, 8, 14, 10, 18, 24, 60, 20]
    row = 5
    for col, (name, width) in enumerate(zip(headers, widths, strict=True)):
        ws.write_string(row, col, name, head)
        ws.set_column(col, col, width)
    for i, p in enumerate(report.problems, 1):
        row += 1
        level = "错误" if p.is_error else "提醒"
        ws.write_number(row, 0, i, text)
        ws.write_string(row, 1, level, err if p.is_error else warn)
        ws.write_string(row, 2, _text(p.sheet), text)
        if marked is not None and p.sheet and p.cell:
            sheet = p.sheet.replace("'", "''")
            url = f"external:{marked.name}#'{sheet}'!{p.cell}"
            if len(url) <= 2000:
                ws.write_url(row, 3, url, link, string=p.cell, tip="打开标注副本中的这个单元格")
            else:
                ws.write_string(row, 3, p.cell, text)
        else:
            ws.write_string(row, 3, _text(p.cell), text)
        ws.write_string(row, 4, _text(p.label), text)
        ws.write_string(row, 5, _text(p.value), text)
        ws.write_string(row, 6, _text(p.message), text)
        ws.write_string(row, 7, p.code + " " + CATALOGUE[p.code].title, text)
    ws.freeze_panes(6, 0)
    ws.set_row(0, 24)
    ws.set_paper(9)  # A4 landscape, one page wide: the submitter may print it beside the form
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(5)
    if report.problems:
        ws.autofilter(5, 0, row, len(headers) - 1)
    ws.activate()
    wb.close()
    return buffer.getvalue()


def _marked_bytes(submitted: Path, problems: list[Problem]) -> bytes:
    """Highlight and comment the problem cells in a copy of the submission (never the original)."""
    from openpyxl import load_workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    keep_vba = submitted.suffix.lower() in (".xlsm", ".xltm")
    # Read from a copy of the bytes: the submitted file itself is only ever read.
    wb = load_workbook(io.BytesIO(submitted.read_bytes()), keep_vba=keep_vba, rich_text=False)
    wb.template = False
    fills = {
        "error": PatternFill("solid", fgColor=ERROR_FILL),
        "warning": PatternFill("solid", fgColor=WARNING_FILL),
    }
    notes: dict[tuple[str, str], list[Problem]] = {}
    for p in problems:
        if p.sheet in wb.sheetnames and p.cell:
            notes.setdefault((p.sheet, p.cell), []).append(p)
    for (sheet, cell), items in notes.items():
        ws = wb[sheet]
        ws.protection.sheet = False  # the copy is for reading; the original keeps its protection
        target_cell = ws[cell]
        if type(target_cell).__name__ == "MergedCell":
            continue
        worst = "error" if any(p.is_error for p in items) else "warning"
        target_cell.fill = fills[worst]
        text = "\n".join(f"[{p.code}] {p.message}" for p in items)
        comment = Comment(_text(text)[:30000], "xietong 校验")
        comment.width, comment.height = 320, 120
        target_cell.comment = comment
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
