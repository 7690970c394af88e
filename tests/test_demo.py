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
