"""The deployment files shipped in docs/deploy are well-formed, start the right command on a UNC
path (Windows) or the system mount (Linux), stop gently, and are documented."""

from __future__ import annotations

import configparser
import xml.etree.ElementTree as ET
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
DEPLOY = DOCS / "deploy"
TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / name, encoding="utf-8")
    return parser


def test_the_systemd_unit_serves_and_stops_with_sigterm_after_the_current_cycle():
    service = unit("xietong.service")["Service"]
    assert service["ExecStart"].split()[1:3] == ["serve", "/mnt/xietong/协同"]
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) >= 300
    assert service["Restart"] == "always"
    assert "XIETONG_STATE_DIR=/var/lib/xietong" in service["Environment"]


def test_the_timer_variant_runs_one_cycle_and_catches_up_after_sleep():
    assert unit("xietong-run.service")["Service"]["ExecStart"].split()[1] == "run"
    timer = unit("xietong-run.timer")["Timer"]
    assert timer["Persistent"] == "true" and "OnCalendar" in timer


def test_the_winsw_service_uses_a_unc_path_and_waits_for_the_cycle_on_stop():
    root = ET.parse(DEPLOY / "xietong-winsw.xml").getroot()
    args = root.findtext("arguments") or ""
    assert args.startswith("serve ") and '"\\\\' in args  # serve "\\server\share"
    assert root.findtext("stoptimeout", "").startswith("600")
    assert root.find("serviceaccount/username") is not None
    assert root.find("env[@name='XIETONG_STATE_DIR']") is not None


def test_the_scheduled_task_runs_one_cycle_on_a_unc_path_as_the_service_account():
    root = ET.parse(DEPLOY / "xietong-run-task.xml").getroot()
    exec_ = root.find("t:Actions/t:Exec", TASK_NS)
    assert exec_ is not None
    args = exec_.findtext("t:Arguments", "", TASK_NS)
    assert args.startswith("run ") and '"\\\\' in args
    trigger = root.find("t:Triggers/t:CalendarTrigger", TASK_NS)
    assert (
        trigger is not None and trigger.findtext("t:Repetition/t:Interval", "", TASK_NS) == "PT15M"
    )
    principal = root.find("t:Principals/t:Principal", TASK_NS)
    assert principal is not None and principal.findtext("t:LogonType", "", TASK_NS) == "Password"


def test_every_deployment_file_is_documented():
    text = (DOCS / "service.md").read_text("utf-8")
    for path in DEPLOY.iterdir():
        assert f"`{path.name}`" in text, path.name
    assert "UNC" in text and "Log on as a service" in text
