"""xietong validate: readable table or JSON, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from click.testing import CliRunner

from automation.cli.app import xietong

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "validation"))
from filling import fill_form  # noqa: E402
from test_validation import GOOD_REQUEST  # noqa: E402

KEYS = {"file", "sheet", "cell", "field", "label", "code", "severity", "value", "message"}


def run(*args: str):
    return CliRunner().invoke(xietong, ["validate", *args])


def test_a_valid_file_exits_0(tmp_path, rules):
    path = fill_form(rules, "request", tmp_path / "a.xlsx", GOOD_REQUEST)
    result = run(str(path))
    assert result.exit_code == 0, result.output
    assert "通过" in result.output


def test_errors_exit_1_with_json_problems(tmp_path, rules):
    path = fill_form(rules, "request", tmp_path / "a.xlsx", {**GOOD_REQUEST, "title": None})
    result = run(str(path), "--json")
    assert result.exit_code == 1
    problems = json.loads(result.output)
    assert [p["code"] for p in problems] == ["E_REQUIRED"]
    assert set(problems[0]) == KEYS and problems[0]["label"] == "事项名称"


def test_an_unreadable_file_exits_2_with_its_code(tmp_path, rules):
    good = fill_form(rules, "request", tmp_path / "a.xlsx", {**GOOD_REQUEST, "title": None})
    bad = tmp_path / "b.xlsx"
    bad.write_bytes(b"")
    result = run(str(good), str(bad), "--json")
    assert result.exit_code == 2
    assert {p["code"] for p in json.loads(result.output)} == {"E_REQUIRED", "E_EMPTY"}
    table = run(str(bad))
    assert table.exit_code == 2 and "E_EMPTY" in table.output


def test_a_folder_with_a_drive_and_feedback(tmp_path, rules):
    from automation.api import init_drive

    drive = tmp_path / "盘"
    init_drive(drive)
    fill_form(
        rules, "request", drive / "01_申请收件箱" / "x.xlsx", {**GOOD_REQUEST, "urgency": "很急"}
    )
    result = run(
        str(drive / "01_申请收件箱"), "--drive", str(drive), "--feedback", str(tmp_path / "fb")
    )
    assert result.exit_code == 1 and "E_NOT_IN_LIST" in result.output
    assert (tmp_path / "fb" / "x_校验结果.xlsx").is_file()


def test_the_real_command_line(tmp_path):
    from conftest import run_cli

    bad = tmp_path / "c.xlsx"
    bad.write_bytes(b"\x00garbage")
    proc = run_cli("validate", str(bad), "--json")
    assert proc.returncode == 2, proc.stderr
    assert json.loads(proc.stdout)[0]["code"] == "E_CORRUPT"
    assert "Traceback" not in proc.stderr
