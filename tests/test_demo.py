"""`xietong demo`: the README's first command builds a drive with a realistic sample year."""

from __future__ import annotations

import json

import openpyxl

from automation.core.cells import column_index
from automation.core.layout import layout
from tests.conftest import run_cli


def test_the_demo_plays_the_sample_year_and_leaves_a_drive_worth_looking_at(tmp_path, rules):
    root = tmp_path / "xietong-demo"
    proc = run_cli("demo", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    assert "登记 XT-2026-0003 第2版" in out  # the returned request came back as a revision
    assert "已超期的时限" in out and "去哪里看" in out

    paths = json.loads(run_cli("paths", str(root), "--json").stdout)
    # three forms with mistakes: not registered, feedback written, originals untouched in the inbox
    feedback = sorted(p.name for p in (root / "06_校验反馈").glob("*_校验结果.xlsx"))
    assert len(feedback) == 3
    assert len(list((root / "01_申请收件箱").glob("*.xlsx"))) == 3

    form = rules.form("tracking")
    cols = layout(form).columns
    ws = openpyxl.load_workbook(paths["tracking"], read_only=True)[form.sheet]
    rows = [
        {key: row[column_index(col) - 1] for key, col in cols.items()}
        for row in ws.iter_rows(min_row=layout(form).first_data_row, values_only=True)
        if row[0]
    ]
    ids = [(r["item_id"], r["revision"]) for r in rows]
    assert len(ids) == len(set(ids)) == 8  # 7 items, one of them in two revisions
    states = {r["clock_state"] for r in rows}
    assert {"已超期", "预警"} <= states
    assert all(r["current_stage"] for r in rows)

    # a second full cycle with nothing new leaves every file as it was
    before = {p: p.read_bytes() for p in root.rglob("*.xlsx")}
    again = run_cli("run", str(root), "--as-of", "2026-10-21T10:00:00+08:00", "--json")
    assert again.returncode == 0, again.stderr
    assert {p: p.read_bytes() for p in root.rglob("*.xlsx")} == before

    assert_rows_describe_one_clock(root, "2026-10-21T10:00:00+08:00")

    # a run with nothing new on the demo drive parses the rules once (was four to five times)
    from automation import rules as rules_module
    from automation.api import run

    rules_module._LOADED.clear()
    loads = rules_module.LOAD_COUNT
    report = run(root, as_of="2026-10-21T10:00:00+08:00")
    assert not report.tracking_written and report.registered == 0
    assert rules_module.LOAD_COUNT - loads == 1


def assert_rows_describe_one_clock(root, as_of: str) -> None:
    """Every tracking row's deadline, state and days late belong to the one clock it names,
    as ``xietong clocks --item`` shows it (checked for every row of the drive)."""
    import datetime as dt

    from automation.api import explain_clocks
    from automation.process.context import open_context
    from automation.process.tracking import read_tracking

    with open_context(root, as_of=as_of, with_ledger=False) as ctx:
        rows = read_tracking(ctx).rows
        moment = ctx.as_of
    checked = 0
    for row in rows:
        state = row.get("clock_state")
        if state not in ("已超期", "预警", "进行中"):
            continue
        deadline = dt.datetime.strptime(row["current_deadline"], "%Y-%m-%d %H:%M")
        deadline = deadline.replace(tzinfo=moment.tzinfo)
        if state == "已超期":
            assert deadline < moment, row
        else:
            assert deadline > moment, row
        explained = explain_clocks(root, row["item_id"], as_of=as_of)
        cycle = next(c for c in explained["cycles"] if c["cycle"] == int(row["revision"]))
        assert cycle["clock"] == row["current_clock"]
        named = [
            c
            for c in cycle["clocks"]
            if (f"{c['label']} · {c['department']}" if c["department"] else c["label"])
            == row["current_clock"]
        ]
        assert len(named) == 1, row["current_clock"]
        assert named[0]["state_zh"] == state
        assert named[0]["due_at"][:16].replace("T", " ") == row["current_deadline"]
        assert named[0]["late_workdays"] == int(row["late_workdays"] or 0)
        checked += 1
    assert checked > 0
