"""Rules are validated on load: a mistake names the file, the key and the problem (exit code 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from automation.errors import RulesError
from automation.rules import default_rules_dir, load_rules
from tests.conftest import run_cli


def test_default_rules_load_with_every_kind(rules):
    assert set(rules.forms) == {"request", "tracking", "minutes", "execution", "weekly", "summary"}
    assert rules.departments.canonical("市场营销部") == "市场部"
    assert rules.departments.canonical("不存在的部门") is None
    assert {c.key for c in rules.clocks.clocks} >= {
        "registration",
        "evaluation_pass",
        "rejection_feedback",
        "meeting",
        "minutes",
        "dept_plan",
        "overall_plan",
        "approval",
        "daily_rows",
        "weekly_report",
        "archive",
    }


def _rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), target)
    return target


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


MISTAKES = {
    "unknown key": (
        "forms/request.yaml",
        lambda d: d["sections"][0]["fields"][0].update(colour="red"),
        "sections[0].fields[0].colour",
        "unknown key",
    ),
    "wrong type": (
        "forms/request.yaml",
        lambda d: d["sections"][0]["fields"][1].update(required="sometimes"),
        "sections[0].fields[1].required",
        "boolean",
    ),
    "alias used twice": (
        "departments.yaml",
        lambda d: d["departments"][1]["aliases"].append("市场营销部"),
        "departments",
        "市场营销部",
    ),
    "enum with no values": (
        "forms/request.yaml",
        lambda d: d["sections"][0]["fields"][4].update(allowed=[]),
        "sections[0].fields[4]",
        "no allowed values",
    ),
    "clock to unknown field": (
        "clocks.yaml",
        lambda d: d["clocks"][0].update(start="no_such_field"),
        "clocks[0].start",
        "no_such_field",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_malformed_rules_file_is_named_with_key_and_problem(tmp_path, mistake):
    relative, change, key, problem = MISTAKES[mistake]
    rules_dir = _rules_copy(tmp_path)
    _edit(rules_dir / relative, change)
    with pytest.raises(RulesError) as err:
        load_rules(rules_dir)
    assert err.value.file.endswith(relative)
    assert key in err.value.key
    assert problem in str(err.value)


def test_cli_reports_a_bad_rules_file_in_one_line_with_exit_code_2(tmp_path):
    rules_dir = _rules_copy(tmp_path)
    _edit(rules_dir / "clocks.yaml", lambda d: d["clocks"][0].update(start="no_such_field"))
    proc = run_cli("fields", "request", "--rules", str(rules_dir))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "clocks.yaml" in lines[0] and "clocks[0].start" in lines[0]


def test_yaml_syntax_error_names_the_line(tmp_path):
    rules_dir = _rules_copy(tmp_path)
    (rules_dir / "routing.yaml").write_text("routes: [\n  - key: x\n", encoding="utf-8")
    with pytest.raises(RulesError) as err:
        load_rules(rules_dir)
    assert "routing.yaml" in err.value.file and "line" in err.value.key


def test_a_drive_rules_file_overrides_the_default(tmp_path):
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    shutil.copy(default_rules_dir() / "drive.yaml", rules_dir / "drive.yaml")
    _edit(rules_dir / "drive.yaml", lambda d: d["item_ids"].update(prefix="PMO"))
    assert load_rules(rules_dir).drive.item_ids.format(2026, 7) == "PMO-2026-0007"
    assert load_rules().drive.item_ids.format(2026, 7) == "XT-2026-0007"
