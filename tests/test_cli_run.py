"""``xietong run`` and ``xietong log`` as a user runs them."""

from __future__ import annotations

import json

from conftest import run_cli
from intake_helpers import drop_request, request_values


def test_run_prints_a_summary_and_json(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    drop_request(drive, rules, "申请 - 副本.xlsx", request_values())
    proc = run_cli("run", str(drive), "--as-of", "2026-03-10T10:00", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["registered"], report["duplicates"], report["invalid"]) == (1, 1, 0)
    assert report["rows_added"] == 1 and report["deferred"] == []
    assert report["as_of"].startswith("2026-03-10T10:00:00+08:00")
    proc = run_cli("run", str(drive), "--as-of", "2026-03-10")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("登记 0（其中新版次 0），重复 0，未通过校验 0")


def test_log_shows_the_writes_of_one_item(drive, rules):
    drop_request(drive, rules, "申请1.xlsx", request_values(1))
    drop_request(drive, rules, "申请2.xlsx", request_values(2))
    assert run_cli("run", str(drive), "--as-of", "2026-03-10T10:00").returncode == 0
    proc = run_cli("log", str(drive), "--item", "XT-2026-0002", "--json")
    assert proc.returncode == 0, proc.stderr
    entries = json.loads(proc.stdout)
    assert entries and {e["item"] for e in entries} == {"XT-2026-0002"}
    register = next(e for e in entries if e["action"] == "register")
    assert register["after"]["A5"] == "XT-2026-0002" and register["before"]["A5"] is None
    assert register["sheet"] == "跟踪表" and register["input_hash"]
    proc = run_cli("log", str(drive), "--item", "XT-2026-0001")
    assert "登记新申请" in proc.stdout and "A4: （空） → XT-2026-0001" in proc.stdout


def test_bad_input_is_a_clear_error(drive, tmp_path):
    proc = run_cli("run", str(drive), "--as-of", "明天")
    assert proc.returncode == 2 and "E_BAD_DATE" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("run", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "E_NO_DRIVE" in proc.stderr
    proc = run_cli("log", str(tmp_path))
    assert proc.returncode == 2 and "E_NO_DRIVE" in proc.stderr


def test_help_documents_both_commands():
    for cmd in ("run", "log"):
        proc = run_cli(cmd, "--help")
        assert proc.returncode == 0 and "DRIVE" in proc.stdout
