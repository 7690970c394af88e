"""`xietong fields`, `init` and `paths`: what a script or an Excel button relies on."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import run_cli

SPEC_REQUEST_FIELDS = {
    "requesting_dept": "发起部门",
    "requester": "申请人",
    "contact": "联系方式",
    "request_date": "申请日期",
    "collab_type": "协作类型",
    "title": "事项名称",
    "goal": "工作目标",
    "task_content": "任务内容",
    "milestones": "里程碑及时间节点",
    "resource_people": "人员需求",
    "budget_amount": "预算金额（元）",
    "resource_equipment": "设备需求",
    "resource_venue": "场地需求",
    "expected_results": "预期成果",
    "suggested_depts": "建议配合部门",
    "urgency": "紧急程度",
    "is_major": "是否重大事项",
    "attachments": "附件清单",
    "dept_head": "部门负责人",
}


def test_fields_request_json_lists_every_field_of_the_request_form():
    proc = run_cli("fields", "request", "--json")
    assert proc.returncode == 0, proc.stderr
    fields = {f["key"]: f for f in json.loads(proc.stdout)}
    for key, label in SPEC_REQUEST_FIELDS.items():
        assert fields[key]["label"] == label
    for f in fields.values():
        assert {"key", "label", "type", "required", "allowed", "cell"} <= set(f)
    assert fields["collab_type"]["allowed"] == [
        "跨部门项目",
        "资源共享与调配",
        "业务流程衔接",
        "应急事务处理",
    ]
    assert fields["requesting_dept"]["cell"] == "B4"
    assert "市场部" in fields["requesting_dept"]["allowed"]
    assert fields["title"]["allowed"] == []


def test_fields_of_a_table_give_column_letters():
    proc = run_cli("fields", "tracking", "--json")
    fields = {f["key"]: f for f in json.loads(proc.stdout)}
    assert fields["item_id"]["cell"] == "A"
    assert all(f["cell"].isalpha() for f in fields.values())


def test_fields_of_an_unknown_kind_is_a_clear_error():
    proc = run_cli("fields", "invoice")
    assert proc.returncode == 2
    assert "E_UNKNOWN_KIND" in proc.stderr and "Traceback" not in proc.stderr


def _state(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in sorted(root.rglob("*"))
    }


def test_init_on_an_existing_drive_changes_nothing(tmp_path):
    root = tmp_path / "盘"
    first = run_cli("init", str(root))
    assert first.returncode == 0, first.stderr
    before = _state(root)
    second = run_cli("init", str(root), "--json")
    assert second.returncode == 0
    assert json.loads(second.stdout)["created"] == []
    assert _state(root) == before


def test_init_keeps_a_persons_edits_and_restores_only_what_is_missing(tmp_path):
    root = tmp_path / "盘"
    run_cli("init", str(root))
    paths = json.loads(run_cli("paths", str(root), "--json").stdout)
    tracking = Path(paths["tracking"])
    tracking.write_bytes(b"someone's edited workbook")
    (Path(paths["rules"]) / "routing.yaml").unlink()
    report = json.loads(run_cli("init", str(root), "--json").stdout)
    assert report["created"] == [str(Path(paths["rules"]) / "routing.yaml")]
    assert tracking.read_bytes() == b"someone's edited workbook"


def test_paths_json_names_every_part_of_the_drive(drive):
    proc = run_cli("paths", str(drive), "--json")
    paths = json.loads(proc.stdout)
    assert set(paths) == {
        "inbox",
        "tracking",
        "items",
        "weekly",
        "summary",
        "archive",
        "feedback",
        "outbox",
        "log",
        "templates",
        "rules",
    }
    for key, value in paths.items():
        assert Path(value).exists(), key
    assert Path(paths["tracking"]).suffix == ".xlsx"
    guide = drive / "使用说明.md"
    assert "01_申请收件箱" in guide.read_text(encoding="utf-8")
    assert os.path.isfile(Path(paths["templates"]) / "模板一_部门间工作协调申请表.xlsx")


def test_a_drive_laid_out_again_at_the_same_path_starts_with_fresh_state(tmp_path, rules):
    import datetime as dt
    import shutil
    from zoneinfo import ZoneInfo

    from automation.api import init_drive
    from automation.demo_data import SAMPLE_REQUESTS
    from automation.io.templates import write_workbook
    from automation.process.cycle import run_cycle

    as_of = dt.datetime(2026, 9, 1, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    request = SAMPLE_REQUESTS[0]
    root = tmp_path / "盘"
    outcomes = []
    for _ in range(2):
        init_drive(root)
        write_workbook(
            "request", rules, root / "01_申请收件箱" / request.name, values=request.values
        )
        report = run_cycle(root, as_of=as_of, settle_s=0)
        outcomes.append([(o.result, o.item_id) for o in report.intake])
        shutil.rmtree(root)
    assert outcomes == [[("registered", "XT-2026-0001")]] * 2


def test_a_drive_that_cannot_be_created_is_a_coded_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    proc = run_cli("init", str(blocker / "盘"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("错误 [E_FILE_SYSTEM]") and "Traceback" not in proc.stderr
