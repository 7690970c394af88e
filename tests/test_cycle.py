"""``run_cycle``: computed columns, idempotence, deferred writes, a killed write completed."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap

from intake_helpers import (
    AS_OF,
    drive_hashes,
    drop_request,
    office_edit,
    pass_evaluation,
    request_values,
    tracking_rows,
)

from automation.core.layout import layout
from automation.io.drive import drive_paths
from automation.io.ledger import open_ledger
from automation.io.xlsxpatch import CellEdit, patch_workbook
from automation.process.cycle import run_cycle
from tests.test_demo import assert_rows_describe_one_clock


def run(drive, as_of=AS_OF):
    return run_cycle(drive, as_of=as_of, settle_s=0)


def _office_lock(paths, user="张三"):
    """An Excel owner file next to the tracking table: ``user`` has it open."""
    ansi = user.encode("gbk")
    data = bytes([len(ansi)]) + ansi
    data += b" " * (55 - len(data)) + bytes([len(user), 0]) + user.encode("utf-16-le")
    lock = paths.tracking.with_name("~$" + paths.tracking.name)
    lock.write_bytes(data + b"\x00" * (165 - len(data)))
    return lock


def test_computed_columns_follow_the_clocks(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    pass_evaluation(drive, rules)
    report = run(drive, as_of=dt.datetime(2026, 3, 16, 10))  # meeting due 03-13 18:00, not held
    [row] = tracking_rows(drive, rules)
    assert row["current_stage"] == "沟通协商"
    assert row["current_deadline"] == "2026-03-13 18:00"
    assert row["clock_state"] == "已超期"
    assert row["late_workdays"] == 1
    assert row["current_clock"] == "召开协调会议"
    assert report.cells_updated >= 3


def test_every_row_names_the_clock_its_deadline_state_and_lateness_belong_to(drive, rules):
    for n in (1, 2, 3):
        drop_request(drive, rules, f"申请{n}.xlsx", request_values(n))
    run(drive)
    pass_evaluation(drive, rules, row=4)  # meeting not held: breached by 03-16
    pass_evaluation(drive, rules, row=5, evaluation_date=dt.date(2026, 3, 13))  # running
    as_of = dt.datetime(2026, 3, 16, 10)
    run(drive, as_of=as_of)
    states = {r["item_id"]: r["clock_state"] for r in tracking_rows(drive, rules)}
    assert states["XT-2026-0001"] == "已超期" and states["XT-2026-0002"] in ("进行中", "预警")
    assert_rows_describe_one_clock(drive, "2026-03-16T10:00:00")


def test_only_changed_cells_are_written_and_a_second_run_changes_no_file(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    drop_request(drive, rules, "坏.xlsx", request_values(2, title=None))
    run(drive)
    pass_evaluation(drive, rules)
    run(drive, as_of=dt.datetime(2026, 3, 12, 10))
    before = drive_hashes(drive)
    report = run(drive, as_of=dt.datetime(2026, 3, 12, 10))
    assert drive_hashes(drive) == before
    assert not report.tracking_written and report.cells_updated == 0 and report.created == []


def test_an_owner_lock_defers_the_write_and_it_lands_on_top_of_the_latest_edits(drive, rules):
    paths = drive_paths(drive, rules)
    drop_request(drive, rules, "申请.xlsx", request_values())
    lock = _office_lock(paths)
    table_before = paths.tracking.read_bytes()
    report = run(drive)
    assert paths.tracking.read_bytes() == table_before  # nothing written
    assert report.registered == 1 and report.rows_added == 0
    [deferred] = report.deferred
    assert deferred["code"] == "E_DEFERRED_LOCKED" and "张三" in deferred["holder"]
    assert any("推迟写入" in line and "张三" in line for line in report.summary_lines())
    with open_ledger(drive) as led:
        [pending] = led.pending()
        assert pending.holder == deferred["holder"] and pending.edits
    assert (paths.inbox / "申请.xlsx").exists()  # filed only once its row is written

    # the office keeps working: a note typed in row 4, then the file is closed
    lay = layout(rules.form("tracking"))
    edits = [
        CellEdit(f"{lay.columns['notes']}4", "先占位，待登记"),
        CellEdit(f"{lay.columns['notes']}9", "备忘"),
    ]
    paths.tracking.write_bytes(patch_workbook(paths.tracking.read_bytes(), "跟踪表", edits))
    lock.unlink()
    report = run(drive)
    assert report.deferred == [] and report.retried == ["跨部门协调事项跟踪表.xlsx"]
    rows = {r["_row"]: r for r in tracking_rows(drive, rules)}
    assert rows[4]["notes"] == "先占位，待登记" and rows[9]["notes"] == "备忘"
    # the new item goes after the last used row, the office's rows stay as they are
    assert rows[10]["item_id"] == "XT-2026-0001" and rows[10]["title"] == "新产品试产协调 1"
    assert not rows[4].get("item_id")
    assert not (paths.inbox / "申请.xlsx").exists()
    with open_ledger(drive) as led:
        assert led.pending() == []


def test_a_run_killed_between_temp_file_and_replace_leaves_the_original_and_completes_later(
    drive, rules, tmp_path
):
    paths = drive_paths(drive, rules)
    drop_request(drive, rules, "申请.xlsx", request_values())
    original = paths.tracking.read_bytes()
    script = textwrap.dedent(
        f"""
        import datetime as dt, os
        from automation.io import safewrite
        def die(tmp, target):
            if target.name.endswith("跟踪表.xlsx"):
                os._exit(9)
        safewrite._before_replace = die
        from automation.process.cycle import run_cycle
        run_cycle({str(drive)!r}, as_of=dt.datetime(2026, 3, 10, 10), settle_s=0)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 9, proc.stderr
    assert paths.tracking.read_bytes() == original
    leftovers = [p for p in paths.root.iterdir() if p.name.startswith(".xt-tmp-")]
    assert leftovers  # the half-done write's temporary file
    for p in leftovers:  # old enough to be cleaned up
        import os

        os.utime(p, (0, 0))
    report = run(drive)
    assert report.rows_added == 1
    assert [r["item_id"] for r in tracking_rows(drive, rules)] == ["XT-2026-0001"]
    assert not [p for p in paths.root.iterdir() if p.name.startswith(".xt-tmp-")]
    assert not (paths.inbox / "申请.xlsx").exists()


def test_a_temporary_file_left_in_an_item_folder_is_cleaned_up_by_the_next_run(drive, rules):
    paths = drive_paths(drive, rules)
    folder = paths.items / "XT-2026-0001 试产"
    folder.mkdir(parents=True)
    (folder / "链接").mkdir()
    left = folder / ".xt-tmp-0123456789ab.xlsx"
    left.write_bytes(b"half")
    kept = folder / "附件.txt"
    kept.write_text("x")
    os.utime(left, (0, 0))  # old enough: no writer is still at it
    run(drive)
    assert not left.exists()
    assert kept.exists()


def test_backups_of_the_tracking_table_are_kept_in_the_log_folder(drive, rules):
    paths = drive_paths(drive, rules)
    original = paths.tracking.read_bytes()
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    backups = list((paths.log / "备份").iterdir())
    assert len(backups) == 1 and backups[0].read_bytes() == original


def test_office_edits_in_other_cells_survive_every_write(drive, rules):
    drop_request(drive, rules, "申请1.xlsx", request_values(1))
    run(drive)
    office_edit(drive, rules, 4, {"notes": "=SUM(1,2) 不是公式", "evaluation_opinion": "待定"})
    drop_request(drive, rules, "申请2.xlsx", request_values(2))
    run(drive, as_of=dt.datetime(2026, 3, 11, 10))
    rows = tracking_rows(drive, rules)
    assert rows[0]["notes"] == "=SUM(1,2) 不是公式" and rows[0]["evaluation_opinion"] == "待定"
    assert [r["item_id"] for r in rows] == ["XT-2026-0001", "XT-2026-0002"]


def test_a_table_saved_by_the_office_during_the_run_is_reread_and_patched_at_once(
    drive, rules, monkeypatch
):
    import automation.process.cycle as cycle_mod

    drop_request(drive, rules, "申请.xlsx", request_values())
    real = cycle_mod.write_tracking
    calls = []

    def office_saves_first(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the office saves a note just before our replace
            office_edit(drive, rules, 20, {"notes": "办公室刚保存"})
        return real(*args, **kwargs)

    monkeypatch.setattr(cycle_mod, "write_tracking", office_saves_first)
    report = run(drive)
    assert len(calls) == 2 and report.deferred == [] and report.rows_added == 1
    rows = {r["_row"]: r for r in tracking_rows(drive, rules)}
    assert rows[20]["notes"] == "办公室刚保存"
    assert rows[21]["item_id"] == "XT-2026-0001"


def test_a_form_resaved_unchanged_while_its_row_waits_is_filed_once(drive, rules, tmp_path):
    import openpyxl

    paths = drive_paths(drive, rules)
    form = drop_request(drive, rules, "申请.xlsx", request_values())
    lock = _office_lock(paths)
    assert run(drive).deferred
    wb = openpyxl.load_workbook(form)
    wb.properties.lastModifiedBy = "张三"
    wb.save(form)  # the requester saves again, nothing changed in the form
    resaved = form.read_bytes()
    lock.unlink()
    report = run(drive)
    assert report.duplicates == 0 and report.rows_added == 1
    assert [o.result for o in report.filed] == ["filed"]
    assert not (paths.inbox / "申请.xlsx").exists()
    folder = next(paths.items.glob("XT-2026-0001*"))
    assert [p.name for p in folder.iterdir()] == ["申请.xlsx"]
    assert (folder / "申请.xlsx").read_bytes() == resaved
    assert [r["item_id"] for r in tracking_rows(drive, rules)] == ["XT-2026-0001"]


def test_an_unreadable_tracking_table_stops_the_run_without_writing(drive, rules):
    from automation.errors import XietongError

    paths = drive_paths(drive, rules)
    drop_request(drive, rules, "申请.xlsx", request_values())
    paths.tracking.write_bytes(b"PK\x03\x04 broken")
    before = drive_hashes(drive)
    try:
        run(drive)
    except XietongError as exc:
        assert exc.code == "E_NOT_TRACKING"
    else:
        raise AssertionError("expected E_NOT_TRACKING")
    assert drive_hashes(drive) == before


def test_office_typos_in_the_tracking_table_are_reported_not_touched(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    office_edit(drive, rules, 4, {"evaluation_date": "下周一"})
    report = run(drive, as_of=dt.datetime(2026, 3, 11, 10))
    assert any("跟踪表有 1 处填写问题" in w for w in report.warnings)
    lay = layout(rules.form("tracking"))
    import openpyxl

    ws = openpyxl.load_workbook(drive_paths(drive, rules).tracking)["跟踪表"]
    assert ws[f"{lay.columns['evaluation_date']}4"].value == "下周一"
