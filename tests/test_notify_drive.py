"""Notifications of a real drive: each event once across runs and crashes, digests within the
robots' rate limits, send hours, retries, and no secret on the share."""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import subprocess
import sys
import textwrap
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from intake_helpers import AS_OF, drop_request, office_edit, pass_evaluation, request_values
from notify_servers import RobotServer, max_in_window

from automation.core import notify as core
from automation.core.clocks import ClockResult
from automation.io.drive import drive_paths
from automation.process.context import open_context
from automation.process.cycle import run_cycle
from automation.process.notify import notify_drive as notify_in_context
from automation.process.notify import notify_status
from tests.conftest import run_cli

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _no_home_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("XIETONG_SECRETS_FILE", str(tmp_path / "no-secrets.yaml"))
    for name in [n for n in os.environ if n.startswith("XIETONG_ROBOT_")]:
        monkeypatch.delenv(name)


def notify_drive(drive, *, as_of, **options):
    """``xietong notify`` on a drive: its own run context, the notify step in it."""
    with open_context(drive, as_of=as_of) as ctx:
        return notify_in_context(ctx, **options)


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TZ)


def edit_rules(drive: Path, name: str, change) -> None:
    path = drive_paths(drive).rules / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def mails(drive: Path) -> dict[str, email.message.EmailMessage]:
    outbox = drive_paths(drive).outbox
    return {
        p.name: email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(outbox.glob("*.eml"))
    }


def plain(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def registered(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    return run_cycle(drive, as_of=AS_OF, settle_s=0)


def test_a_registration_receipt_goes_out_once_however_often_the_cycle_runs(drive, rules):
    registered(drive, rules)
    first = mails(drive)
    assert {m["To"] for m in first.values()} == {"rd@example.com", "pmo@example.com"}
    for msg in first.values():
        assert msg["Subject"] == "【协同】申请已登记：XT-2026-0001 新产品试产协调 1"
        assert "申请已登记：XT-2026-0001" in plain(msg) and "申请人：张三" in plain(msg)
        assert "XT-2026-0001" in msg.get_body(("html",)).get_content()
    outbox = drive_paths(drive).outbox
    before = {p.name: p.read_bytes() for p in outbox.iterdir()}
    run_cycle(drive, as_of=AS_OF + dt.timedelta(hours=2), settle_s=0)
    report = notify_drive(drive, as_of=at(2026, 3, 10, 15))
    assert report.new == [] and report.messages == []
    assert {p.name: p.read_bytes() for p in outbox.iterdir()} == before


def test_a_rejection_tells_the_requester_the_offices_reasons(drive, rules):
    registered(drive, rules)
    office_edit(
        drive,
        rules,
        4,
        {
            "evaluation_result": "不通过",
            "evaluation_date": dt.date(2026, 3, 11),
            "evaluation_opinion": "预算来源不明确，请补充预算明细后重新提交",
        },
    )
    report = notify_drive(drive, as_of=at(2026, 3, 11, 10))
    [sent] = [m for m in report.messages if m["status"] == "sent"]
    assert sent["target"] == "mail:rd@example.com"
    [msg] = [m for m in mails(drive).values() if "未通过" in m["Subject"]]
    assert "预算来源不明确，请补充预算明细后重新提交" in plain(msg)


def test_an_assignment_tells_lead_and_cooperating_departments_the_next_deadline(drive, rules):
    registered(drive, rules)
    pass_evaluation(drive, rules)  # 2026-03-11, lead 生产部, cooperating 市场部
    notify_drive(drive, as_of=at(2026, 3, 11, 10))
    assigned = [m for m in mails(drive).values() if "协调任务分派" in m["Subject"]]
    assert {m["To"] for m in assigned} == {
        "production@example.com",
        "market@example.com",
        "rd@example.com",
    }
    body = plain(assigned[0])
    assert "牵头部门：生产部" in body and "配合部门：市场部" in body
    assert "召开协调会议：2026-03-13 18:00 前" in body  # 2 working days after the evaluation


def test_outside_working_hours_only_breaches_leave_the_rest_waits_for_monday(drive, rules):
    registered(drive, rules)
    pass_evaluation(drive, rules)
    # Saturday: the meeting (due Friday 18:00) is breached; the assignment waits
    saturday = notify_drive(drive, as_of=at(2026, 3, 14, 10))
    kinds = {k.split("|")[0] for m in saturday.messages for k in _keys(drive, m["id"])}
    assert kinds == {"breached"}
    assert saturday.held > 0
    assert notify_status(drive)["events_held"] == saturday.held
    monday = notify_drive(drive, as_of=at(2026, 3, 16, 9, 30))
    kinds = {k.split("|")[0] for m in monday.messages for k in _keys(drive, m["id"])}
    assert "assigned" in kinds and "breached" not in kinds
    assert notify_status(drive)["events_held"] == 0


def _keys(drive: Path, msg_id: str) -> list[str]:
    from automation.io.ledger import open_ledger
    from automation.io.notify_queue import NotifyQueue

    with open_ledger(drive) as ledger:
        NotifyQueue(ledger)
        row = ledger.conn.execute(
            "SELECT payload FROM notify_messages WHERE id = ?", (msg_id,)
        ).fetchone()
    return json.loads(row["payload"])["events"]


def test_killed_between_sending_and_marking_the_outbox_gets_no_second_copy(drive, rules, tmp_path):
    registered(drive, rules)
    pass_evaluation(drive, rules)
    script = textwrap.dedent(
        f"""
        import datetime as dt, os, sys
        from zoneinfo import ZoneInfo
        from automation.io.notify_queue import NotifyQueue
        from automation.api import notify
        # killed when the sends are to be marked (the outbox marks them in batches: after the
        # batch was written)
        NotifyQueue.mark_sent_many = lambda self, sends: sends and os._exit(9)
        notify({str(drive)!r}, as_of=dt.datetime(2026, 3, 11, 10, tzinfo=ZoneInfo("Asia/Shanghai")))
        sys.exit(0)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    outbox = drive_paths(drive).outbox
    after_crash = {p.name: p.read_bytes() for p in outbox.glob("*.eml")}
    assert len(after_crash) >= 1
    report = notify_drive(drive, as_of=at(2026, 3, 11, 10, 5))
    assert report.new == []  # every notification was recorded before the crash
    final = {p.name: p.read_bytes() for p in outbox.glob("*.eml")}
    for name, data in after_crash.items():
        assert final[name] == data  # written again under the same name with the same bytes
    status = notify_status(drive)
    assert status["messages_queued"] == 0
    assert len(final) == status["messages_sent"]  # one file per message, none twice
    seen: list[str] = []
    for msg in mails(drive).values():
        msg_id = msg["Message-ID"].strip("<>").split("@")[0]
        seen += _keys(drive, msg_id)
    assert len(seen) == len(set(seen))


def test_a_password_in_the_shares_notify_yaml_stops_the_command_naming_file_and_key(drive):
    edit_rules(drive, "notify.yaml", lambda d: d["smtp"].update(password="Exmail2026!"))
    for command in (["notify", str(drive)], ["run", str(drive)]):
        proc = run_cli(*command)
        assert proc.returncode == 2
        assert "E_SECRET_ON_SHARE" in proc.stderr and "Traceback" not in proc.stderr
        assert "notify.yaml" in proc.stderr and "smtp.password" in proc.stderr
        assert "Exmail2026!" not in proc.stderr  # the secret itself is not repeated


def test_a_robot_webhook_in_departments_yaml_is_refused_too(drive):
    def add(d):
        d["departments"][0]["robot_url"] = (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0"
        )

    edit_rules(drive, "departments.yaml", add)
    proc = run_cli("notify", str(drive), "--dry-run")
    assert proc.returncode == 2 and "E_SECRET_ON_SHARE" in proc.stderr
    assert "departments[0].robot_url" in proc.stderr


def _company_robot(drive: Path, platform: str, digest_max: int = 30) -> None:
    def notify(d):
        d["mode"] = "smtp"
        d["robots"] = {"company": {"platform": platform, "label": "协同通知群"}}
        d["company_robot"] = "company"
        d["digest_max_events"] = digest_max

    def departments(d):  # robots only: no mailboxes in this company
        for dept in d["departments"]:
            dept["email"] = ""
        d["roles"]["office_email"] = ""

    edit_rules(drive, "notify.yaml", notify)
    edit_rules(drive, "departments.yaml", departments)


def _breaches(n: int, rules) -> list[core.Event]:
    depts = ["生产部", "市场部", "研发部", "销售部", "IT部"]
    results = [
        ClockResult(
            item=f"XT-2026-{i:04d}",
            cycle=1,
            clock="dept_plan",
            label="部门实施方案",
            stage="方案审批",
            department=depts[i % len(depts)],
            start=dt.date(2026, 3, 2),
            due_at=at(2026, 3, 5, 18),
            end=None,
            state="breached",
            used=1.5,
            late_workdays=3,
            provisional=False,
            derivation={},
        )
        for i in range(1, n + 1)
    ]
    return core.clock_events(results, [], rules.notify)


def test_fifty_breaches_reach_the_company_robot_as_a_handful_of_digests(drive, rules, monkeypatch):
    _company_robot(drive, "wecom")
    with RobotServer("wecom", secret="") as robot, httpx.Client(timeout=5) as client:
        monkeypatch.setenv("XIETONG_ROBOT_COMPANY_WEBHOOK", robot.webhook)
        report = notify_drive(
            drive, as_of=at(2026, 3, 10, 20), extra_events=_breaches(50, rules), client=client
        )
    assert robot.rejected == []
    assert 2 <= len(robot.accepted) <= 5  # merged, and split only by the 4096-byte limit
    assert max_in_window(robot.times, 60.0) <= 20
    text = "\n".join(robot.markdown_of(d) for d in robot.accepted)
    assert all(f"XT-2026-{i:04d}" in text for i in range(1, 51))
    assert all(m["status"] == "sent" for m in report.messages)


def test_feishu_messages_keep_within_five_a_second(drive, rules, monkeypatch):
    _company_robot(drive, "feishu", digest_max=2)
    with RobotServer("feishu", secret="SECfeishu0123456789") as robot, httpx.Client() as client:
        monkeypatch.setenv("XIETONG_ROBOT_COMPANY_WEBHOOK", robot.webhook)
        monkeypatch.setenv("XIETONG_ROBOT_COMPANY_SECRET", robot.secret)
        notify_drive(
            drive, as_of=at(2026, 3, 10, 10), extra_events=_breaches(14, rules), client=client
        )
    assert robot.rejected == [] and len(robot.accepted) == 7
    assert max_in_window(robot.times, 1.0) <= 5


def test_a_failing_robot_is_retried_with_backoff_and_counted_in_the_status(
    drive, rules, monkeypatch
):
    _company_robot(drive, "dingtalk")
    now = [1_900_000_000.0]
    events = _breaches(3, rules)
    with RobotServer("dingtalk", secret="SECding") as robot, httpx.Client(timeout=5) as client:
        monkeypatch.setenv("XIETONG_ROBOT_COMPANY_WEBHOOK", robot.webhook)
        monkeypatch.setenv("XIETONG_ROBOT_COMPANY_SECRET", "SECwrong")  # IT typed it wrong
        first = notify_drive(
            drive,
            as_of=at(2026, 3, 10, 10),
            extra_events=events,
            client=client,
            clock=lambda: now[0],
        )
        assert [m["status"] for m in first.messages] == ["failed"]
        status = notify_status(drive)
        assert status["messages_failing"] == 1 and status["failures"][0]["attempts"] == 1
        assert "钉钉" in status["failures"][0]["last_error"]
        monkeypatch.setenv("XIETONG_ROBOT_COMPANY_SECRET", "SECding")  # fixed
        now[0] += 30  # before the backoff (60 s) is over: not tried again
        again = notify_drive(
            drive,
            as_of=at(2026, 3, 10, 10),
            extra_events=events,
            client=client,
            clock=lambda: now[0],
        )
        assert again.messages == [] and len(robot.accepted) == 0
        now[0] += 31
        later = notify_drive(
            drive,
            as_of=at(2026, 3, 10, 10),
            extra_events=events,
            client=client,
            clock=lambda: now[0],
        )
    assert [m["status"] for m in later.messages] == ["sent"]
    assert len(robot.accepted) == 1  # the same digest, sent once it could be
    assert notify_status(drive)["messages_failing"] == 0


def test_escalations_and_the_weekly_digest_from_other_stages_reach_leaders(drive, rules):
    escalation = core.escalated_event(
        item="XT-2026-0001",
        cycle=1,
        exception_id="EX-1",
        level=3,
        to="leader",
        department="生产部",
        lead_dept="生产部",
        title="新产品试产协调",
        label="分管领导",
        description="试产设备未到位，进度滞后 3 个工作日",
        reported="2026-03-09",
    )
    weekly = core.weekly_digest_event(
        week="2026-W11",
        html="<table><tr><td>按时完成率</td><td>87%</td></tr></table>",
        text="按时完成率 87%",
    )
    notify_drive(drive, as_of=at(2026, 3, 13, 16), extra_events=[escalation, weekly])
    by_to: dict[str, list] = {}
    for m in mails(drive).values():
        by_to.setdefault(m["To"], []).append(m)
    # 生产部 is in 杨帆's charge: the escalation reaches him (and the lead department)
    [yang] = by_to["yang.fan@example.com"]
    assert "试产设备未到位" in plain(yang) and "按时完成率 87%" in plain(yang)
    assert "<td>87%</td>" in yang.get_body(("html",)).get_content()
    assert "试产设备未到位" in plain(by_to["production@example.com"][0])
    # the weekly digest goes to every leader and the office; the escalation only to its leader
    assert "试产设备未到位" not in plain(by_to["li.ming@example.com"][0])
    assert "2026-W11" in by_to["pmo@example.com"][0]["Subject"]
    again = notify_drive(drive, as_of=at(2026, 3, 13, 17), extra_events=[escalation, weekly])
    assert again.new == []


def test_a_template_in_the_drives_rules_folder_replaces_the_shipped_one(drive, rules):
    folder = drive_paths(drive).rules / "notify"
    folder.mkdir()
    (folder / "registered.j2").write_text(
        "{% macro text(e) %}本公司回执：{{ e.item_id }}，请留存。{% endmacro %}"
        "{% macro html(e) %}<p>本公司回执：{{ e.item_id }}</p>{% endmacro %}"
        "{% macro md(e) %}回执 {{ e.item_id }}{% endmacro %}",
        encoding="utf-8",
    )
    registered(drive, rules)
    bodies = [plain(m) for m in mails(drive).values()]
    assert bodies and all("本公司回执：XT-2026-0001，请留存。" in b for b in bodies)


def test_dry_run_shows_what_would_be_sent_and_records_nothing(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    edit_rules(drive, "notify.yaml", lambda d: d.update(mode="outbox"))
    from automation.api import notify

    run_cycle(drive, as_of=AS_OF, settle_s=0)  # registers and notifies
    office_edit(
        drive, rules, 4, {"evaluation_result": "不通过", "evaluation_date": dt.date(2026, 3, 11)}
    )
    before = sorted(p.name for p in drive_paths(drive).outbox.iterdir())
    dry = notify(drive, as_of="2026-03-11T10:00:00", dry_run=True)
    assert [m["status"] for m in dry.messages] == ["would_send"]
    assert sorted(p.name for p in drive_paths(drive).outbox.iterdir()) == before
    real = notify(drive, as_of="2026-03-11T10:00:00")
    assert [m["status"] for m in real.messages] == ["sent"]


def test_the_command_sends_a_test_message_and_names_an_unknown_channel(drive):
    proc = run_cli("notify", str(drive), "--test", "mail", "--json")
    assert proc.returncode == 0, proc.stderr
    [eml] = list(drive_paths(drive).outbox.glob("*.eml"))
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "【协同】通知渠道测试" and msg["To"] == "pmo@example.com"
    bad = run_cli("notify", str(drive), "--test", "wechat")
    assert bad.returncode == 2 and "E_NOTIFY_CHANNEL" in bad.stderr and "mail" in bad.stderr
    listed = run_cli("notify", str(drive), "--as-of", "2026-03-10T10:00:00", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"new": []' in listed.stdout


def test_an_outbox_that_cannot_be_written_is_a_warning_of_the_run_and_retried(drive, rules):
    outbox = drive_paths(drive).outbox
    outbox.rmdir()
    outbox.write_text("not a folder", encoding="utf-8")  # IT replaced it by mistake
    report = registered(drive, rules)
    assert any("通知发送失败" in w for w in report.warnings)
    assert report.registered == 1  # the cycle itself did its work
    status = notify_status(drive)
    assert status["messages_failing"] == 2 and "待发邮件目录" in status["failures"][0]["last_error"]


def test_an_exception_climbing_the_ladder_is_told_once_per_step(drive, rules):
    """执行反馈 → 通知: a 受阻 row in an execution workbook climbs escalation.yaml's ladder; each
    step reached is one escalation event, told once across runs."""
    from automation.io.templates import write_workbook
    from automation.process.notify import stage_events

    registered(drive, rules)
    pass_evaluation(drive, rules, approval_date=dt.date(2026, 3, 12))
    run_cycle(drive, as_of=at(2026, 3, 12, 17), settle_s=0)  # the item workbooks are created
    folder = next(drive_paths(drive).items.glob("XT-2026-0001*"))
    book = next(folder.glob("模板四*市场部*.xlsx"))
    book.unlink()
    write_workbook(
        "execution",
        rules,
        book,
        values={"item_id": "XT-2026-0001", "department": "市场部", "exec_lead_dept": "生产部"},
        rows=[
            {
                "date": dt.date(2026, 3, 13),
                "task": "场地协调",
                "owner": "李四",
                "progress": 0.2,
                "status": "受阻",
                "problems": "场地未落实",
                "updated_by": "李四",
            }
        ],
    )
    with open_context(drive, as_of=at(2026, 3, 17, 10)) as ctx:
        from automation.process.tracking import read_tracking

        events = [e for e in stage_events(ctx, read_tracking(ctx).rows) if e.kind == "escalated"]
    # reported Friday 03-13: lead that day, office 03-16, leader 03-17
    assert sorted(e.step for e in events) == ["1", "2", "3"]
    assert {e.department for e in events} == {"市场部"}
    first = notify_drive(drive, as_of=at(2026, 3, 17, 10), extra_events=events)
    assert {n["kind"] for n in first.new} >= {"escalated"}
    again = notify_drive(drive, as_of=at(2026, 3, 17, 11), extra_events=events)
    assert [n for n in again.new if n["kind"] == "escalated"] == []


def test_status_reports_the_notification_queue(drive, rules):
    """``xietong status`` shows the notification queue next to the service's health."""
    registered(drive, rules)
    notify_drive(drive, as_of=at(2026, 3, 10, 15))
    proc = run_cli("status", str(drive), "--json")
    status = json.loads(proc.stdout)
    assert status["notifications"]["messages_sent"] >= 1
    assert status["notifications"]["messages_failing"] == 0


def test_events_as_they_were_a_minute_before_are_the_same_object(drive, rules):
    """A cycle a minute after the last works the clocks out again (the share of working time
    used moved); an item whose events did not change keeps the very list, so its
    notifications are not made again — and one whose events changed gets the new ones."""
    from automation.process.notify import drive_event_parts

    registered(drive, rules)
    with open_context(drive, as_of=AS_OF) as ctx:
        first = dict(drive_event_parts(ctx))
    with open_context(drive, as_of=AS_OF + dt.timedelta(minutes=1)) as ctx:
        again = dict(drive_event_parts(ctx))
    assert first and first.keys() == again.keys()
    assert all(again[item] is first[item] for item in first)
    # days later the registration is no longer news and clocks have moved on
    with open_context(drive, as_of=AS_OF + dt.timedelta(days=20)) as ctx:
        later = dict(drive_event_parts(ctx))
    assert any(later[item] != first[item] for item in first)
    assert all(later[item] is not first[item] for item in first if later[item] != first[item])


def test_a_new_state_database_is_sent_what_this_process_queued_in_the_old_one(drive, rules):
    """This process remembers that an item's notifications are queued (the same events are not
    gone through again each cycle) — for the state database they were queued in: a new one
    (the old lost or deleted) gets them queued again, though the events did not change."""
    from automation.io.ledger import open_ledger, state_path
    from automation.io.notify_queue import NotifyQueue

    registered(drive, rules)
    notify_drive(drive, as_of=AS_OF)
    with open_ledger(drive) as ledger:
        queued = NotifyQueue(ledger).all_keys()
    assert queued
    for part in state_path(drive).parent.glob(state_path(drive).name + "*"):
        part.unlink()  # the state database lost, the process goes on
    run_cycle(drive, as_of=AS_OF, settle_s=0)  # a new database, built again from the share
    with open_ledger(drive) as ledger:
        assert NotifyQueue(ledger).all_keys() >= queued


def test_a_new_state_database_whose_queue_grew_as_far_is_not_taken_for_the_old_one(drive, rules):
    """This process remembers which keys the queue holds while the queue's last id stays
    where it was; a new state database (the old one lost) whose queue happens to have reached
    the same id holds other keys: this run's notifications are queued in it all the same."""
    from automation.io.ledger import open_ledger, state_path
    from automation.io.notify_queue import NotifyQueue

    registered(drive, rules)
    notify_drive(drive, as_of=AS_OF)
    with open_ledger(drive) as ledger:
        queue = NotifyQueue(ledger)
        queued, last = queue.all_keys(), queue.last_added()
    assert queued and last
    for part in state_path(drive).parent.glob(state_path(drive).name + "*"):
        part.unlink()  # the state database lost, the process goes on
    with open_ledger(drive) as ledger:  # a new one, whose queue reached the same last id
        others = [
            {
                "key": f"other-{n}",
                "kind": "breached",
                "target": "office",
                "event": {},
                "recipients": [],
            }
            for n in range(last)
        ]
        NotifyQueue(ledger).add(others, AS_OF.isoformat())
        with ledger.transaction() as c:  # long sent: nothing of them to compose
            c.execute("UPDATE notify_items SET status = 'sent'")
        assert NotifyQueue(ledger).last_added() == last
    notify_drive(drive, as_of=AS_OF)
    with open_ledger(drive) as ledger:
        assert NotifyQueue(ledger).all_keys() >= queued


def test_the_waiting_items_are_counted_and_read_by_kind_from_the_index(drive):
    """Every run counts the items waiting by kind, and reads those of the kinds due: tens of
    thousands wait for a daily mail on a large drive, so both are answered from the index on
    (status, kind), not by a pass over the waiting items; a ledger made before it has it
    after its first open."""
    from automation.io.ledger import open_ledger
    from automation.io.notify_queue import NotifyQueue

    with open_ledger(drive) as ledger:
        ledger.conn.executescript(
            "CREATE TABLE notify_items (key TEXT PRIMARY KEY, kind TEXT NOT NULL, target TEXT "
            "NOT NULL, event TEXT NOT NULL, recipients TEXT NOT NULL, status TEXT NOT NULL, "
            "message TEXT, created TEXT NOT NULL);"
            "CREATE INDEX notify_items_status ON notify_items (status);"
        )
    with open_ledger(drive) as ledger:
        queue = NotifyQueue(ledger)
        items = [
            {"key": f"k{n}", "kind": kind, "target": "office", "event": {}, "recipients": []}
            for n, kind in enumerate(["daily_missing"] * 30 + ["breached"] * 2)
        ]
        queue.add(items, "2026-10-30T10:00:00+08:00")
        assert queue.new_kinds() == {"daily_missing": 30, "breached": 2}
        assert [i["key"] for i in queue.new_items(["breached"])] == ["k30", "k31"]

        def plan(sql: str) -> str:
            return " ".join(r[3] for r in ledger.conn.execute("EXPLAIN QUERY PLAN " + sql))

        counted = plan("SELECT kind, COUNT(*) FROM notify_items WHERE status = 'new' GROUP BY kind")
        assert "COVERING INDEX notify_items_status_kind" in counted
        read = plan("SELECT * FROM notify_items WHERE status = 'new' AND kind IN ('breached')")
        assert "notify_items_status_kind (status=? AND kind=?)" in read


def test_the_messages_due_and_the_queue_growing_are_told_without_a_pass_over_the_queue(drive):
    """Every run asks which messages are due and whether the queue grew; a queue keeps every
    message ever composed (a large drive's thousands, payloads with whole pages), so the due
    ones come from an index on (status, next_try) and growth from the last row's id."""
    from automation.io.ledger import open_ledger
    from automation.io.notify_queue import NotifyQueue

    with open_ledger(drive) as ledger:
        queue = NotifyQueue(ledger)
        assert queue.last_added() == 0
        items = [
            {"key": f"k{n}", "kind": "breached", "target": "office", "event": {}, "recipients": []}
            for n in range(3)
        ]
        queue.add(items, "2026-10-30T10:00:00+08:00")
        grown = queue.last_added()
        assert grown >= 3
        queue.add(items[:1], "2026-10-30T11:00:00+08:00")  # known: the queue did not grow
        assert queue.last_added() == grown
        queue.add([{**items[0], "key": "k9"}], "2026-10-30T11:00:00+08:00")
        assert queue.last_added() > grown
        due = " ".join(
            r[3]
            for r in ledger.conn.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM notify_messages WHERE status = 'queued' "
                "AND next_try <= 1 ORDER BY created, id"
            )
        )
        assert "INDEX notify_messages_due (status=? AND next_try<?)" in due
