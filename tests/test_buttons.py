"""The Excel buttons' entry points, called as Python functions on real workbooks, do what the
CLI does: the same problems as ``xietong validate --json``, the same cycle as ``xietong run``,
the same copy into the inbox as ``xietong submit``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import openpyxl
import pytest
from conftest import run_cli
from intake_helpers import AS_OF, request_values, tracking_rows

from automation import api, buttons
from automation.errors import XietongError
from automation.io.drive import drive_paths
from automation.io.templates import write_workbook


@pytest.fixture
def form(tmp_path, rules):
    """A filled request form on the requester's desktop (not on the share)."""
    desk = tmp_path / "桌面"
    desk.mkdir()
    return write_workbook("request", rules, desk / "申请_研发部.xlsx", values=request_values())


@pytest.fixture
def bad_form(tmp_path, rules):
    desk = tmp_path / "桌面"
    desk.mkdir(exist_ok=True)
    values = request_values(requester="", expected_finish="下个月")
    return write_workbook("request", rules, desk / "申请_有错.xlsx", values=values)


def test_validate_button_lists_the_problems_the_cli_lists(bad_form):
    result = buttons.validate_workbook(bad_form)
    cli = run_cli("validate", str(bad_form), "--json")
    assert cli.returncode == 1
    assert result["problems"] == json.loads(cli.stdout)
    assert not result["ok"] and result["kind"] == "request"
    codes = {(p["cell"], p["code"]) for p in result["problems"]}
    assert any(code == "E_REQUIRED" for _, code in codes)


def test_validate_button_on_an_execution_workbook(drive, rules):
    workbook = drive_paths(drive).items / "执行跟踪表.xlsx"
    workbook.parent.mkdir(exist_ok=True)
    write_workbook("execution", rules, workbook, rows=[{"progress": "一半"}])
    result = buttons.validate_workbook(workbook)
    cli = run_cli("validate", str(workbook), "--json", "--drive", str(drive))
    assert result["kind"] == "execution"
    assert result["problems"] == json.loads(cli.stdout)
    assert result["problems"], "a progress of 一半 is not a percentage"


def test_submit_button_copies_a_valid_form_into_the_inbox_once(form, drive):
    receipt = buttons.submit_request(form, drive=drive)
    inbox = drive_paths(drive).inbox
    copied = inbox / form.name
    assert receipt["submitted"] and not receipt["already"]
    assert receipt["inbox_file"] == str(copied)
    assert copied.read_bytes() == form.read_bytes()
    again = buttons.submit_request(form, drive=drive)
    assert again["already"] and sorted(p.name for p in inbox.iterdir()) == [form.name]


def test_submit_button_and_cli_agree_and_the_cycle_registers_the_copy(
    form, drive, rules, monkeypatch
):
    monkeypatch.setenv(buttons.DRIVE_ENV, str(drive))  # the set-up guide's way for desktop forms
    receipt = buttons.submit_request(form)
    cli = run_cli("submit", str(form), "--drive", str(drive), "--json")
    assert cli.returncode == 0, cli.stderr
    from_cli = json.loads(cli.stdout)
    assert from_cli["already"] and "此前已提交过相同内容" in from_cli["message"]
    for key in ("submitted", "inbox_file", "problems"):
        assert from_cli[key] == receipt[key]
    report = api.run(drive, as_of=AS_OF)
    assert report.registered == 1
    assert [r["title"] for r in tracking_rows(drive, rules)] == ["新产品试产协调 1"]


def test_a_form_with_errors_is_not_submitted(bad_form, drive):
    receipt = buttons.submit_request(bad_form, drive=drive)
    assert not receipt["submitted"] and receipt["problems"]
    assert list(drive_paths(drive).inbox.iterdir()) == []
    cli = run_cli("submit", str(bad_form), "--drive", str(drive))
    assert cli.returncode == 1 and "未提交" in cli.stdout


def test_a_different_form_of_the_same_name_is_never_replaced(form, drive, rules, tmp_path):
    buttons.submit_request(form, drive=drive)
    other = tmp_path / "别处" / form.name
    other.parent.mkdir()
    write_workbook("request", rules, other, values=request_values(2))
    receipt = buttons.submit_request(other, drive=drive)
    assert receipt["inbox_file"].endswith("申请_研发部（2）.xlsx")
    assert (drive_paths(drive).inbox / form.name).read_bytes() == form.read_bytes()


def test_only_request_forms_can_be_submitted(drive, rules, tmp_path):
    first_text = next(f for f in api.list_fields("minutes") if f.type == "text")
    values = {first_text.key: "产品部"}
    minutes = write_workbook("minutes", rules, tmp_path / "纪要.xlsx", values=values)
    with pytest.raises(XietongError) as err:
        buttons.submit_request(minutes, drive=drive)
    assert err.value.code == "E_SUBMIT_KIND"


def test_refresh_button_runs_the_cycle_run_runs(form, drive, rules):
    api.submit(form, drive=drive)
    result = buttons.refresh_deadlines(drive_paths(drive).tracking, as_of=AS_OF)
    assert result["registered"] == 1
    again = buttons.refresh_deadlines(drive_paths(drive).tracking, as_of=AS_OF)
    cli = run_cli("run", str(drive), "--as-of", AS_OF.isoformat(), "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["registered"] == again["registered"] == 0
    assert len(tracking_rows(drive, rules)) == 1


def test_the_drive_of_a_workbook_on_the_share_is_found_from_its_folders(drive):
    tracking = drive_paths(drive).tracking
    assert buttons.find_drive(tracking) == drive.absolute()


def test_no_drive_is_a_clear_error(form, monkeypatch):
    monkeypatch.delenv(buttons.DRIVE_ENV, raising=False)
    with pytest.raises(XietongError) as err:
        buttons.submit_request(form)
    assert err.value.code == "E_BUTTON_NO_DRIVE"


@pytest.mark.skipif(hasattr(api, "weekly"), reason="api.weekly exists: its own tests apply")
def test_weekly_button_says_clearly_it_is_not_there_yet(drive, rules):
    workbook = drive_paths(drive).items / "执行跟踪表.xlsx"
    workbook.parent.mkdir(exist_ok=True)
    write_workbook("execution", rules, workbook)
    with pytest.raises(XietongError) as err:
        buttons.weekly_report(workbook)
    assert err.value.code == "E_BUTTON_UNAVAILABLE" and "周报" in err.value.message


@pytest.mark.skipif(hasattr(api, "summary"), reason="api.summary exists: its own tests apply")
def test_summary_button_says_clearly_it_is_not_there_yet(drive):
    with pytest.raises(XietongError) as err:
        buttons.refresh_summary(drive_paths(drive).summary_file)
    assert err.value.code == "E_BUTTON_UNAVAILABLE"


def test_without_a_service_the_hand_off_is_a_detached_process_that_runs_the_cycle(form, drive):
    """What 刷新时限 does in Excel, minus Excel: the detached process registers the request."""
    api.submit(form, drive=drive)
    tracking = drive_paths(drive).tracking
    assert not buttons.service_alive(drive)
    code = buttons._run_detached("run", str(drive), str(tracking))
    assert code == 0
    assert api.log(drive), "the cycle wrote the tracking table and journalled it"


def test_with_a_service_running_the_hand_off_is_a_request_file(form, drive, monkeypatch):
    """``automation.api.service_alive`` is the one heartbeat hook; here the service says yes."""
    monkeypatch.setattr(api, "service_alive", lambda d: True, raising=False)
    tracking = drive_paths(drive).tracking
    result = buttons.hand_off(drive, "run", tracking)
    request = json.loads(Path(result["request"]).read_text(encoding="utf-8"))
    assert result["handed_to"] == "service"
    assert Path(result["request"]).parent == drive_paths(drive).log / buttons.REQUESTS_FOLDER
    assert request == {"operation": "run", "workbook": str(tracking), "reopen": True}


@pytest.mark.skipif(os.name == "nt", reason="os.waitpid on a pid is POSIX")
def test_without_a_service_a_real_detached_process_runs_the_cycle(form, drive, rules):
    api.submit(form, drive=drive)
    result = buttons.hand_off(drive, "run", drive_paths(drive).tracking)
    assert result["handed_to"] == "process"
    _, status = os.waitpid(result["pid"], 0)  # the test waits; Excel would not
    assert os.waitstatus_to_exitcode(status) == 0
    assert [r["title"] for r in tracking_rows(drive, rules)] == ["新产品试产协调 1"]


def test_a_form_that_was_checked_in_excel_can_still_be_submitted(form, drive):
    """校验 in Excel adds a 校验结果 sheet; the saved form must still validate and submit."""
    book = openpyxl.load_workbook(form)  # a test copy, standing in for Excel saving it
    book.create_sheet(buttons.RESULT_SHEET).append(["级别", "工作表", "单元格"])
    book.save(form)
    receipt = buttons.submit_request(form, drive=drive)
    assert receipt["submitted"], receipt["problems"]
