"""Health of the watcher service: ``xietong status``, a killed worker restarted, a clean stop on
SIGTERM, one service per drive, the status text on the share."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from service_helpers import (
    excel_save,
    form_bytes,
    registrations,
    running,
    today_values,
    wait_until,
)

from automation.cli import xietong
from automation.io.drive import drive_paths
from automation.service import health
from automation.service.runner import cycle_handler

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _settle_zero(monkeypatch):
    monkeypatch.setenv("XIETONG_SETTLE_SECONDS", "0")


def status_json(drive: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(xietong, ["status", str(drive), "--json"])
    return result.exit_code, json.loads(result.output)


def test_status_of_a_drive_never_served_says_so(drive):
    code, status = status_json(drive)
    assert code == 1
    assert status["running"] is False and status["state"] == "never"


def test_a_killed_worker_is_reported_at_the_next_heartbeat_and_restarted(drive, rules, tmp_path):
    inbox = drive_paths(drive, rules).inbox
    killed = threading.Event()

    def killer(root: Path, files):
        if files and not killed.is_set():
            killed.set()
            raise SystemExit("worker killed by the test")  # not an Exception: the thread dies
        return cycle_handler(root, files)

    with running(drive, handler=killer, heartbeat=0.5) as service:
        code, status = status_json(drive)
        assert code == 0 and status["running"] and status["threads"]["worker"]["alive"]
        excel_save(inbox / "一.xlsx", form_bytes(rules, tmp_path / "w", today_values(1)))
        wait_until(killed.is_set)
        beats_at_death = service.beats
        # the first heartbeat that starts after the death reports it
        wait_until(lambda: (health.read_status(drive) or {}).get("beats", 0) >= beats_at_death + 2)
        code, status = status_json(drive)
        worker = status["threads"]["worker"]
        assert code == 0 and status["running"]
        assert worker["restarts"] == 1 and "SystemExit" in worker["last_death"]["reason"]
        assert any("worker" in e["error"] for e in status["errors"])
        # the restarted worker does the work: the form whose job died is taken again
        wait_until(lambda: len(registrations(drive)) == 1)
        excel_save(inbox / "二.xlsx", form_bytes(rules, tmp_path / "w", today_values(2)))
        wait_until(lambda: len(registrations(drive)) == 2)
    code, status = status_json(drive)
    assert code == 1 and status["state"] == "stopped"
    text = (drive / health.SHARE_STATUS_FILE).read_text("utf-8")
    assert "状态：已停止" in text


def test_status_shows_a_pending_write_and_who_holds_the_table(drive, rules, tmp_path):
    paths = drive_paths(drive, rules)
    from test_locks import excel_owner_file

    owner = paths.tracking.with_name("~$" + paths.tracking.name)
    owner.write_bytes(excel_owner_file("王芳"))
    with running(drive, interval=0.5):
        excel_save(paths.inbox / "等表.xlsx", form_bytes(rules, tmp_path / "w", today_values(3)))
        wait_until(lambda: status_json(drive)[1]["pending_writes"])
        code, status = status_json(drive)
        assert "王芳" in status["pending_writes"][0]["holder"]
        owner.unlink()  # closed: the pending write is retried at the next scan interval
        wait_until(lambda: not status_json(drive)[1]["pending_writes"])


def test_a_heartbeat_older_than_three_periods_is_not_running():
    now = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)
    beat = {"state": "running", "pid": os.getpid(), "heartbeat_seconds": 10}
    fresh = health.judge({**beat, "heartbeat": (now - dt.timedelta(seconds=25)).isoformat()}, now)
    stale = health.judge({**beat, "heartbeat": (now - dt.timedelta(seconds=31)).isoformat()}, now)
    assert fresh["running"] and fresh["heartbeat_age_s"] == 25
    assert not stale["running"] and stale["state"] == "dead"


def test_serve_stops_cleanly_on_sigterm_and_a_second_service_is_refused(drive, rules, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "XIETONG_SETTLE_SECONDS": "0"}
    cmd = [sys.executable, "-m", "automation", "serve", str(drive), "--interval", "0.5"]
    proc = subprocess.Popen(
        [*cmd, "--quiet", "0.3"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: status_json(drive)[0] == 0, timeout=30)
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 4 and "E_SERVICE_RUNNING" in second.stderr
        inbox = drive_paths(drive, rules).inbox
        excel_save(inbox / "命令行.xlsx", form_bytes(rules, tmp_path / "w", today_values(4)))
        wait_until(lambda: len(registrations(drive)) == 1, timeout=30)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert "已停止" in out.decode()
    code, status = status_json(drive)
    assert code == 1 and status["state"] == "stopped" and status["files_taken"] >= 1


def test_operation_error_codes_and_their_documentation_agree():
    import re

    from automation.core.problems import CATALOGUE, OPERATION_ERRORS

    text = (REPO / "docs" / "errors.md").read_text("utf-8")
    table = text.split("## Operation errors", 1)[1]
    documented: dict[str, int] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[1].isdigit():
            for code in re.findall(r"`(E_[A-Z_]+)`", cells[0]):
                if code not in CATALOGUE:  # a problem code also named there (archive --verify)
                    documented[code] = int(cells[1])
    assert documented == {code: e.exit_code for code, e in OPERATION_ERRORS.items()}
