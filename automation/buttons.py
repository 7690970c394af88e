"""Entry points of the Excel buttons (xlwings ``RunPython``): thin adapters over ``automation.api``.

Each function takes the workbook it was called from. Pressed in Excel, ``path`` is None: the
workbook is ``xlwings.Book.caller()``, it is saved first (the automation reads files, not the
open window), and the result is shown in Excel (a message box, a 校验结果 sheet, highlighted
cells). Called from Python or the tests with a path, the same function returns the same result
as the CLI and touches no Excel.

Which drive: the ``drive`` argument, else the first folder above the workbook that is a drive
laid out by ``xietong init`` (files on the share), else the ``XIETONG_DRIVE`` environment
variable (a request form filled on the desktop). See ``docs/buttons.zh.md``.

Which button sits on which workbook, its caption and the function it calls are rules
(``buttons`` in ``rules/forms/*.yaml``); ``workbooks/macros/`` turns them into VBA.

Long work never blocks Excel: 刷新时限 drops a request file for the service when one runs
(``automation.api.service_alive(drive)``, the one heartbeat hook buttons know; absent means no
service), else starts one detached ``python -m automation.buttons refresh`` process that runs a
cycle once the button's workbook is closed and reopens it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from automation import api
from automation.errors import XietongError
from automation.io.locks import lock_holder

DRIVE_ENV = "XIETONG_DRIVE"
RESULT_SHEET = "校验结果"
REQUESTS_FOLDER = "requests"  # inside the drive's log folder: hand-offs to the service
REOPEN_WAIT_SECONDS = 120  # the detached refresh waits this long for Excel to close the book


# -- where things are ----------------------------------------------------------------------------


def find_drive(workbook: str | Path, drive: str | Path | None = None) -> Path:
    """The drive a button works on (see the module docstring for the order)."""
    if drive is not None:
        return Path(drive)
    for folder in Path(workbook).absolute().parents:
        paths = api.drive_paths(folder)
        if paths.inbox.is_dir() and paths.tracking.is_file():
            return folder
    if os.environ.get(DRIVE_ENV):
        return Path(os.environ[DRIVE_ENV])
    raise XietongError(
        f"找不到协同共享盘：{Path(workbook).name} 不在共享盘上，也没有设置环境变量 {DRIVE_ENV}",
        code="E_BUTTON_NO_DRIVE",
        exit_code=2,
    )


def _caller(path: str | Path | None) -> tuple[Path, Any]:
    """The workbook path, and the xlwings Book when pressed in Excel (saved first)."""
    if path is not None:
        return Path(path), None
    import xlwings as xw  # only in Excel: Book.caller() needs the running Excel

    book = xw.Book.caller()
    book.save()
    return Path(book.fullname), book


def _alert(book: Any, message: str, title: str = "协同") -> None:
    if book is not None:
        book.app.alert(message, title=title)


# -- request form and execution workbook: 校验 -----------------------------------------------------


def validate_workbook(path: str | Path | None = None, *, drive: str | Path | None = None) -> dict:
    """校验: the problems of this workbook, as ``xietong validate --json`` lists them.

    Returns ``{ok, kind, problems}``; in Excel also writes the 校验结果 sheet and colours the cells.
    """
    file, book = _caller(path)
    try:
        drive_dir = find_drive(file, drive)
    except XietongError:
        drive_dir = None  # validating needs no drive: the package rules apply
    report = api.validate(file, drive=drive_dir)[0]
    result = {
        "ok": report.ok,
        "kind": report.kind,
        "problems": [p.as_dict() for p in report.problems],
    }
    if book is not None:
        _show_problems(book, result["problems"])
        errors = sum(1 for p in report.problems if p.is_error)
        _alert(
            book, "校验通过" if report.ok else f"发现 {errors} 处错误，详见“{RESULT_SHEET}”工作表"
        )
    return result


def _show_problems(book: Any, problems: list[dict]) -> None:
    """Excel only: a fresh 校验结果 sheet and the problem cells filled red / yellow."""
    if RESULT_SHEET in [s.name for s in book.sheets]:
        book.sheets[RESULT_SHEET].delete()
    sheet = book.sheets.add(RESULT_SHEET, after=book.sheets[-1])
    rows = [["级别", "工作表", "单元格", "项目", "代码", "说明"]]
    for p in problems:
        level = "错误" if p["severity"] == "error" else "提醒"
        rows.append([level, p["sheet"], p["cell"], p["label"], p["code"], p["message"]])
    sheet.range("A1").value = rows
    for p in problems:
        if p["sheet"] and p["cell"]:
            target = book.sheets[p["sheet"]]
            try:  # protected sheets: unprotect (empty password of the templates), colour, protect
                target.api.Unprotect("")
                target.range(p["cell"]).color = (
                    (255, 199, 206) if p["severity"] == "error" else (255, 235, 156)
                )
                target.api.Protect("", UserInterfaceOnly=True)
            except Exception:  # a sheet protected with a password: the 校验结果 sheet suffices
                pass


# -- request form: 提交 ----------------------------------------------------------------------------


def submit_request(path: str | Path | None = None, *, drive: str | Path | None = None) -> dict:
    """提交: ``xietong submit``: check the form and copy it into the inbox; the receipt."""
    file, book = _caller(path)
    receipt = api.submit(file, drive=find_drive(file, drive))
    if book is not None:
        if receipt["problems"]:
            _show_problems(book, receipt["problems"])
        _alert(book, receipt["message"], "提交")
    return receipt


# -- execution workbook: 生成本周周报 ------------------------------------------------------------------


def weekly_report(path: str | Path | None = None, *, drive: str | Path | None = None) -> dict:
    """生成本周周报: ``automation.api.weekly`` for the drive of this execution workbook.

    Until that operation exists (another issue builds it) this raises ``E_BUTTON_UNAVAILABLE``
    with a message saying so, and the weekly report is filled by hand as today.
    """
    file, book = _caller(path)
    weekly = getattr(api, "weekly", None)
    if weekly is None:
        error = XietongError(
            "本版本尚未提供“生成本周周报”功能，请在“周进度报告”模板中手工填写本周周报。",
            code="E_BUTTON_UNAVAILABLE",
            exit_code=2,
        )
        if book is None:
            raise error
        _alert(book, error.message, "生成本周周报")  # in Excel: a message, not a Python traceback
        return {"error": error.code, "message": error.message}
    result = weekly(find_drive(file, drive))
    if book is not None:
        _alert(book, "已生成本周周报", "生成本周周报")
    return {"result": result}


# -- tracking table: 刷新时限 ------------------------------------------------------------------------


def service_alive(drive: str | Path) -> bool:
    """Is the watcher service running on ``drive``? Asks ``automation.api.service_alive``."""
    probe = getattr(api, "service_alive", None)
    return bool(probe(drive)) if probe is not None else False


def refresh_deadlines(
    path: str | Path | None = None, *, drive: str | Path | None = None, as_of: Any = None
) -> dict:
    """刷新时限: one cycle on the drive (``xietong run``), handed off when pressed in Excel.

    From Python: runs the cycle now and returns ``CycleReport.as_dict()``, as ``run --json``.
    From Excel: hands off (request file for the service, or a detached process) and returns
    ``{handed_to, request}`` at once; the button's macro then closes the workbook, which the
    cycle may have to write, and the hand-off reopens it.
    """
    file, book = _caller(path)
    drive_dir = find_drive(file, drive)
    if book is None:
        return api.run(drive_dir, as_of=as_of).as_dict()
    result = hand_off(drive_dir, "run", file)
    _alert(
        book,
        "正在刷新时限：本表将关闭，刷新完成后自动重新打开（约 1 分钟）。",
        "刷新时限",
    )
    return result


def hand_off(drive: str | Path, operation: str, workbook: Path) -> dict:
    """Give long work away: a request file when the service runs, else a detached process."""
    if service_alive(drive):
        folder = api.drive_paths(drive).log / REQUESTS_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        request = folder / f"{operation}-{stamp}.json"
        body = {"operation": operation, "workbook": str(workbook), "reopen": True}
        request.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        return {"handed_to": "service", "request": str(request)}
    command = [sys.executable, "-m", "automation.buttons", operation, str(drive), str(workbook)]
    flags = {}
    if os.name == "nt":  # no console window, not killed with Excel
        flags["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        flags["start_new_session"] = True
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        **flags,
    )
    return {"handed_to": "process", "request": " ".join(command), "pid": process.pid}


def _run_detached(operation: str, drive: str, workbook: str) -> int:
    """The detached half of a hand-off: wait for Excel to close the book, run, reopen it."""
    book = Path(workbook)
    deadline = time.monotonic() + REOPEN_WAIT_SECONDS
    while lock_holder(book) and time.monotonic() < deadline:
        time.sleep(1)
    if operation == "run":
        api.run(drive)
    elif operation == "summary":
        api.summary(drive)  # type: ignore[attr-defined]  # only handed off when it exists
    try:
        import xlwings as xw

        xw.Book(str(book))
    except Exception:  # no Excel (a server, LibreOffice): nothing to reopen
        return 0
    return 0


# -- summary: 刷新汇总 -------------------------------------------------------------------------------


def refresh_summary(path: str | Path | None = None, *, drive: str | Path | None = None) -> dict:
    """刷新汇总: rebuild the summary through ``automation.api.summary``, handed off in Excel.

    Until that operation exists this raises ``E_BUTTON_UNAVAILABLE``: the summary is then
    rebuilt by the service's schedule only.
    """
    file, book = _caller(path)
    summary = getattr(api, "summary", None)
    if summary is None:
        error = XietongError(
            "本版本尚未提供“刷新汇总”功能，汇总由系统定时重建。",
            code="E_BUTTON_UNAVAILABLE",
            exit_code=2,
        )
        if book is None:
            raise error
        _alert(book, error.message, "刷新汇总")  # in Excel: a message, not a Python traceback
        return {"error": error.code, "message": error.message}
    drive_dir = find_drive(file, drive)
    if book is None:
        return {"result": summary(drive_dir)}
    result = hand_off(drive_dir, "summary", file)
    _alert(book, "正在刷新汇总：本表将关闭，完成后自动重新打开。", "刷新汇总")
    return result


if __name__ == "__main__":  # python -m automation.buttons OPERATION DRIVE WORKBOOK (hand-offs)
    sys.exit(_run_detached(*sys.argv[1:4]))
