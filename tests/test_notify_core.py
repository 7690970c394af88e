"""Deciding what to tell whom (automation.core.notify): pure functions, "now" passed in."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.core import notify as core
from automation.core.calendar import WorkCalendar
from automation.core.clocks import ClockResult
from automation.errors import RulesError
from automation.rules.process import NotifyRules

TZ = ZoneInfo("Asia/Shanghai")
ROW = {
    "item_id": "XT-2026-0007",
    "revision": 1,
    "title": "渠道铺货数据对接",
    "requesting_dept": "销售部",
    "requester": "孙丽",
    "registered_date": dt.date(2026, 10, 12),
    "evaluation_result": "通过",
    "evaluation_date": dt.date(2026, 10, 13),
    "lead_dept": "IT部",
    "coop_depts": "销售部、客服部",
}


def clock(state: str, *, clock_key="meeting", dept=None, level=0, missing=(), due=(2026, 10, 15)):
    return ClockResult(
        item="XT-2026-0007",
        cycle=1,
        clock=clock_key,
        label={"meeting": "召开协调会议", "daily_rows": "每日进度更新"}.get(clock_key, clock_key),
        stage="沟通协商",
        department=dept,
        start=dt.date(2026, 10, 13),
        due_at=dt.datetime(*due, 18, tzinfo=TZ),
        end=None,
        state=state,
        used=0.8,
        late_workdays=1 if state == "breached" else 0,
        provisional=False,
        derivation={},
        at_risk_level=level,
        missing=tuple(missing),
    )


def test_registration_rejection_and_assignment_events_of_recent_rows(rules):
    rejected = {**ROW, "item_id": "XT-2026-0008", "evaluation_result": "不通过"}
    events = core.row_events(
        [ROW, rejected],
        [clock("running")],
        as_of=dt.datetime(2026, 10, 13, 10, tzinfo=TZ),
        catch_up_days=7,
    )
    kinds = sorted((e.kind, e.item) for e in events)
    assert kinds == [
        ("assigned", "XT-2026-0007"),
        ("registered", "XT-2026-0007"),
        ("registered", "XT-2026-0008"),
        ("rejected", "XT-2026-0008"),
    ]
    [assigned] = [e for e in events if e.kind == "assigned"]
    assert assigned.roles["coop_depts"] == ("销售部", "客服部")
    assert assigned.data["deadlines"][0]["due_at"] == "2026-10-15 18:00"


def test_old_rows_do_not_flood_a_drive_that_starts_notifying(rules):
    events = core.row_events(
        [ROW], [], as_of=dt.datetime(2026, 12, 1, 10, tzinfo=TZ), catch_up_days=7
    )
    assert events == []


def test_each_at_risk_level_and_each_missing_day_is_its_own_event(rules):
    events = core.clock_events(
        [
            clock("at_risk", level=1),
            clock("at_risk", level=2),
            clock(
                "breached",
                clock_key="daily_rows",
                dept="客服部",
                missing=["2026-10-14", "2026-10-15"],
            ),
        ],
        [ROW],
        rules.notify,
    )
    keys = [e.key for e in events]
    assert len(keys) == len(set(keys)) == 4
    assert [e.kind for e in events] == ["at_risk", "at_risk", "daily_missing", "daily_missing"]
    assert events[2].roles["responsible_dept"] == ("客服部",)
    # the meeting is the lead department's (notify.yaml responsible: meeting: lead_dept)
    assert events[0].roles["responsible_dept"] == ("IT部",)


def test_the_same_event_found_again_has_the_same_key(rules):
    a = core.clock_events([clock("breached")], [ROW], rules.notify)
    b = core.clock_events([clock("breached")], [dict(ROW)], rules.notify)
    assert [e.key for e in a] == [e.key for e in b]
    assert core.Event.from_dict(a[0].as_dict()) == a[0]


def test_recipients_mail_and_a_company_robot_get_an_event_once(rules):
    notify = NotifyRules.model_validate(
        {
            **rules.notify.model_dump(),
            "robots": {"company": {"platform": "wecom"}},
            "company_robot": "company",
        }
    )
    [event] = core.clock_events([clock("breached")], [ROW], notify)
    found = core.notifications([event], rules.departments, notify)
    targets = sorted(n.target.key for n in found)
    # the lead department and the office by mail; the one company group once, not twice
    assert targets == ["mail:it@example.com", "mail:pmo@example.com", "robot:company"]
    [robot] = [n for n in found if n.target.channel == "robot"]
    assert set(robot.recipients) == {"IT部", "协调管理办公室"}


def test_many_events_for_one_target_are_one_digest_split_at_the_limit(rules):
    events = [
        core.Event(
            "breached", f"XT-2026-{i:04d}", 1, "meeting", roles={"responsible_dept": ("IT部",)}
        )
        for i in range(1, 51)
    ]
    found = core.notifications(events, rules.departments, rules.notify)
    digests = core.digests(found, max_events=30)
    assert sorted(len(d.notifications) for d in digests) == [
        20,
        20,
        30,
        30,
    ]  # 2 targets × 50 events
    assert len({d.id for d in digests}) == 4
    again = core.digests(list(reversed(found)), max_events=30)
    assert {d.id for d in again} == {d.id for d in digests}  # ids from the keys, not the order


def test_send_hours_follow_the_calendar_and_breaches_go_at_any_hour(rules):
    cal = WorkCalendar.from_rules(rules.calendar)
    notify = rules.notify
    assert core.may_send("registered", dt.datetime(2026, 10, 12, 10, tzinfo=TZ), cal, notify)
    assert not core.may_send("registered", dt.datetime(2026, 10, 12, 21, tzinfo=TZ), cal, notify)
    assert not core.may_send(
        "registered", dt.datetime(2026, 10, 3, 10, tzinfo=TZ), cal, notify
    )  # 国庆
    assert core.may_send(
        "registered", dt.datetime(2026, 10, 10, 10, tzinfo=TZ), cal, notify
    )  # 调休
    assert core.may_send("breached", dt.datetime(2026, 10, 3, 23, tzinfo=TZ), cal, notify)


@given(st.integers(min_value=0, max_value=60))
def test_backoff_doubles_and_is_capped(attempts):
    wait = core.backoff_seconds(attempts, 60, 3600)
    assert 0 <= wait <= 3600
    if 1 <= attempts < 6:
        assert core.backoff_seconds(attempts + 1, 60, 3600) == 2 * wait


def test_digest_subjects_name_one_event_or_count_by_kind(rules):
    subjects = {k: v.subject for k, v in rules.notify.events.items()}
    [event] = core.clock_events([clock("breached")], [ROW], rules.notify)
    target = core.Target("mail", "it@example.com")
    one = core.Digest(target, (core.Notification(event, target, ("IT部",)),))
    assert core.digest_subject(one, subjects) == "【协同】已超期：XT-2026-0007 召开协调会议"
    two = core.Digest(target, one.notifications * 2)
    assert core.digest_subject(two, subjects) == "【协同】通知汇总（2 条）：已超期 2"


def test_notify_rules_are_strict(rules):
    from automation.rules import load_rules

    with pytest.raises(Exception, match="company_robot"):
        NotifyRules.model_validate({"company_robot": "nope"})
    with pytest.raises(Exception, match="robot id"):
        NotifyRules.model_validate({"robots": {"研发群": {"platform": "wecom"}}})
    with pytest.raises(Exception, match="extra|unknown|Extra"):
        NotifyRules.model_validate({"robots": {"rd": {"platform": "wecom", "webhook": "x"}}})
    assert isinstance(load_rules().notify, NotifyRules)
    assert RulesError  # the loader reports a model error as E_RULES naming file and key


def test_the_notify_yaml_example_in_the_docs_is_valid():
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).parent.parent / "docs" / "notify.md").read_text(encoding="utf-8")
    [example] = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "# notify.yaml" in b]
    rules = NotifyRules.model_validate(yaml.safe_load(example))
    assert rules.robots["rd"].platform == "dingtalk" and rules.company_robot == "company"


def test_days_missed_long_before_notifications_started_are_not_announced(rules):
    missed = clock(
        "breached", clock_key="daily_rows", dept="客服部", missing=["2026-08-03", "2026-10-14"]
    )
    events = core.clock_events(
        [missed],
        [ROW],
        rules.notify,
        as_of=dt.datetime(2026, 10, 15, 9, tzinfo=TZ),
        catch_up_days=7,
    )
    assert [e.step for e in events] == ["2026-10-14"]


def test_a_company_robot_mentions_the_people_of_every_department_in_one_message(rules):
    depts = rules.departments.model_dump()
    for d in depts["departments"]:
        d["mention"] = {"IT部": ["13900000001"], "销售部": ["13900000002"]}.get(d["name"], [])
    from automation.rules.departments import DepartmentsRules

    departments = DepartmentsRules.model_validate(depts)
    notify = NotifyRules.model_validate(
        {
            **rules.notify.model_dump(),
            "robots": {"all": {"platform": "dingtalk"}},
            "company_robot": "all",
        }
    )
    events = core.row_events(
        [ROW], [], as_of=dt.datetime(2026, 10, 13, 10, tzinfo=TZ), catch_up_days=7
    )
    found = core.notifications(events, departments, notify)
    robot = [d for d in core.digests(found, 30) if d.target.channel == "robot"]
    assert len(robot) == 1
    assert set(robot[0].target.mention) == {"13900000001", "13900000002"}


def test_an_event_going_to_several_targets_is_rendered_once_and_reads_the_same(monkeypatch):
    import datetime as dt

    from automation.io.render import Renderer, Section

    renderer = Renderer()
    calls: list[str] = []
    real = renderer._macro
    monkeypatch.setattr(renderer, "_macro", lambda t, name: calls.append(name) or real(t, name))
    values = {"item_id": "XT-2026-0001", "title": "新产品试产协调", "requesting_dept": "研发部"}
    common = {"recipients": "研发部", "office": "PMO", "sent": "2026-03-10 10:00"}
    first = renderer.render("主题", [Section("registered.j2", values)], **common)
    again = renderer.render("主题", [Section("registered.j2", dict(values))], **common)
    assert again == first and calls == ["text", "html", "md"]
    # other values (a date is not its text) are rendered on their own
    day = renderer.render(
        "主题", [Section("registered.j2", {**values, "d": dt.date(2026, 3, 9)})], **common
    )
    text = renderer.render(
        "主题", [Section("registered.j2", {**values, "d": "2026-03-09"})], **common
    )
    assert calls == ["text", "html", "md"] * 3
    assert day.text == text.text  # (this template does not show it)
