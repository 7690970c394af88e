"""Intake (接收登记): request forms in the inbox become tracking rows, exactly once."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import time

import openpyxl
import pytest
from intake_helpers import (
    AS_OF,
    drop_request,
    office_edit,
    pass_evaluation,
    request_values,
    tracking_rows,
)

from automation.errors import XietongError
from automation.io.drive import drive_paths
from automation.io.journal import read_journal
from automation.io.ledger import state_path
from automation.process.context import new_context, open_context
from automation.process.cycle import run_cycle
from automation.process.intake import scan_inbox
from automation.process.recovery import rebuild_state


def run(drive, as_of=AS_OF, **kw):
    return run_cycle(drive, as_of=as_of, settle_s=0, **kw)


def test_a_valid_request_is_registered_filed_and_receipted(drive, rules):
    paths = drive_paths(drive, rules)
    drop_request(
        drive, rules, "研发部申请.xlsx", request_values(), mtime=dt.datetime(2026, 3, 9, 23, 30)
    )
    report = run(drive)
    assert report.registered == 1 and report.rows_added == 1
    [row] = tracking_rows(drive, rules)
    assert row["item_id"] == "XT-2026-0001" and row["revision"] == 1
    assert row["_row"] == 4
    assert row["requesting_dept"] == "研发部" and row["requester"] == "张三"
    assert row["title"] == "新产品试产协调 1" and row["collab_type"] == "跨部门项目"
    # 23:30 UTC is the next morning in Shanghai
    assert row["submitted_date"] == dt.date(2026, 3, 10)
    assert row["registered_date"] == dt.date(2026, 3, 10)
    assert row["current_stage"] == "接收评估" and row["clock_state"] in ("进行中", "预警")
    assert not list(paths.inbox.iterdir())
    filed = list(paths.items.glob("XT-2026-0001 新产品试产协调 1/研发部申请.xlsx"))
    assert len(filed) == 1
    receipt = (paths.feedback / "研发部申请_登记回执.txt").read_text(encoding="utf-8-sig")
    assert "XT-2026-0001" in receipt and "已登记" in receipt
    actions = [e["action"] for e in read_journal(paths.log, item="XT-2026-0001")]
    assert {"register", "computed", "file_form", "receipt"} <= set(actions)


def test_ids_follow_the_rules_format_and_sequence(drive, rules):
    for n in range(1, 4):
        drop_request(drive, rules, f"申请{n}.xlsx", request_values(n))
    run(drive)
    drop_request(drive, rules, "申请4.xlsx", request_values(4))
    run(drive)
    ids = [r["item_id"] for r in tracking_rows(drive, rules)]
    assert ids == ["XT-2026-0001", "XT-2026-0002", "XT-2026-0003", "XT-2026-0004"]


def test_same_form_dropped_three_times_and_resaved_twice_is_one_row(drive, rules, tmp_path):
    paths = drive_paths(drive, rules)
    first = drop_request(drive, rules, "申请.xlsx", request_values())
    original = first.read_bytes()
    shutil.copy(first, paths.inbox / "申请 - 副本.xlsx")
    shutil.copy(first, paths.inbox / "申请 - 副本 (2).xlsx")
    report = run(drive)
    assert (report.registered, report.duplicates) == (1, 2)
    # the requester re-saves the form twice (other bytes, same content), in the inbox again
    for i in range(2):
        resaved = tmp_path / f"resave{i}.xlsx"
        resaved.write_bytes(original)
        wb = openpyxl.load_workbook(resaved)
        wb.properties.lastModifiedBy = f"张三{i}"
        wb.save(resaved)
        assert resaved.read_bytes() != original
        shutil.copy(resaved, paths.inbox / "申请.xlsx")
        report = run(drive)
        assert report.registered == 0 and report.duplicates == 1
    assert [r["item_id"] for r in tracking_rows(drive, rules)] == ["XT-2026-0001"]
    dup = (paths.feedback / "申请 - 副本_登记回执.txt").read_text(encoding="utf-8-sig")
    assert "未重复登记" in dup and "XT-2026-0001" in dup
    # the duplicates stay where they are, and are not looked at again
    assert run(drive).duplicates == 0


def test_an_invalid_form_is_not_registered_and_feedback_says_why(drive, rules):
    paths = drive_paths(drive, rules)
    drop_request(
        drive, rules, "不完整.xlsx", request_values(title=None, requesting_dept="不存在部")
    )
    report = run(drive)
    assert report.invalid == 1 and report.registered == 0
    assert tracking_rows(drive, rules) == []
    assert (paths.inbox / "不完整.xlsx").exists()
    assert any(p.name.startswith("不完整") for p in paths.feedback.iterdir())
    before = {p.name: p.read_bytes() for p in paths.feedback.iterdir()}
    assert run(drive).invalid == 0  # not looked at again until it is corrected
    assert {p.name: p.read_bytes() for p in paths.feedback.iterdir()} == before


def feedback_journalled(drive, rules, stem: str) -> list[str]:
    log = drive_paths(drive, rules).log
    return [e["file"] for e in read_journal(log) if e["action"] == "feedback" and stem in e["file"]]


@pytest.mark.parametrize("while_away", ["inbox gone", "inbox recreated empty"])
def test_an_inbox_moved_away_and_restored_is_not_answered_twice(drive, rules, while_away):
    """A cycle that runs while the inbox is moved away (or already recreated, before its files
    are back) must not forget what it answered: the restored files are the same files."""
    paths = drive_paths(drive, rules)
    drop_request(drive, rules, "错误申请.xlsx", request_values(title=None))
    assert run(drive).invalid == 1
    answered = feedback_journalled(drive, rules, "错误申请")
    assert answered
    aside = drive / "收件箱搬走了"
    shutil.move(paths.inbox, aside)
    if while_away == "inbox gone":
        with pytest.raises(XietongError, match="E_NO_DRIVE"):
            run(drive)
    else:
        paths.inbox.mkdir()
        run(drive)
    paths.inbox.mkdir(exist_ok=True)
    for f in aside.iterdir():
        os.replace(f, paths.inbox / f.name)
    assert run(drive).invalid == 0
    assert feedback_journalled(drive, rules, "错误申请") == answered


def test_a_form_gone_for_a_while_and_dropped_again_is_looked_at_again(drive, rules):
    from automation.process import intake

    form = drop_request(drive, rules, "错误申请.xlsx", request_values(title=None))
    data, stat = form.read_bytes(), form.stat()
    assert run(drive).invalid == 1
    answered = feedback_journalled(drive, rules, "错误申请")
    form.unlink()
    run(drive)  # seen gone: remembered as gone, not yet forgotten
    with open_context(drive, as_of=AS_OF) as ctx:
        rel = ctx.rel(form)
        assert list(ctx.need_ledger().vanished_since([rel])) == [rel]
        ctx.need_ledger().conn.execute(  # as if that run was long ago
            "UPDATE vanished SET since = since - ?", (intake.VANISHED_GRACE_S + 1,)
        )
    run(drive)  # gone long enough: forgotten
    form.write_bytes(data)
    os.utime(form, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert run(drive).invalid == 1  # the same file dropped again is answered again
    assert feedback_journalled(drive, rules, "错误申请") == answered * 2


def test_a_file_that_is_not_a_request_is_refused_with_a_note(drive, rules, tmp_path):
    paths = drive_paths(drive, rules)
    from automation.io.templates import write_workbook

    write_workbook("execution", rules, paths.inbox / "执行表.xlsx")
    (paths.inbox / "坏文件.xlsx").write_bytes(b"not a zip at all")
    report = run(drive)
    assert report.invalid == 2 and tracking_rows(drive, rules) == []
    notes = sorted(p.name for p in paths.feedback.iterdir())
    assert any(n.startswith("执行表") for n in notes) and any(n.startswith("坏文件") for n in notes)


def test_corrected_resubmission_of_a_returned_request_is_a_new_revision(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    office_edit(
        drive,
        rules,
        4,
        {
            "evaluation_result": "不通过",
            "evaluation_date": dt.date(2026, 3, 11),
            "evaluation_opinion": "目标不清",
        },
    )
    drop_request(
        drive, rules, "申请（修改后）.xlsx", request_values(goal="3月底前完成试产并交付报告")
    )
    report = run(drive, as_of=dt.datetime(2026, 3, 12, 10))
    assert report.registered == 1 and report.revisions == 1
    rows = tracking_rows(drive, rules)
    assert [(r["item_id"], r["revision"]) for r in rows] == [
        ("XT-2026-0001", 1),
        ("XT-2026-0001", 2),
    ]
    assert rows[0]["evaluation_result"] == "不通过"  # the office's edit is kept
    paths = drive_paths(drive, rules)
    folder = next(paths.items.glob("XT-2026-0001*"))
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".xlsx") == [
        "申请.xlsx",
        "第2版_申请（修改后）.xlsx",
    ]


def test_a_resubmission_carrying_the_item_id_is_a_revision(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    office_edit(
        drive, rules, 4, {"evaluation_result": "不通过", "evaluation_date": dt.date(2026, 3, 11)}
    )
    drop_request(
        drive, rules, "XT-2026-0001 重新提交.xlsx", request_values(title="试产协调（调整范围）")
    )
    report = run(drive, as_of=dt.datetime(2026, 3, 12, 10))
    assert report.revisions == 1
    assert [r["revision"] for r in tracking_rows(drive, rules)] == [1, 2]


def test_same_title_of_a_passed_item_is_a_new_item(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    office_edit(
        drive, rules, 4, {"evaluation_result": "通过", "evaluation_date": dt.date(2026, 3, 11)}
    )
    drop_request(drive, rules, "再次申请.xlsx", request_values(goal="第二阶段"))
    run(drive, as_of=dt.datetime(2026, 3, 12, 10))
    assert [r["item_id"] for r in tracking_rows(drive, rules)] == ["XT-2026-0001", "XT-2026-0002"]


def test_lock_and_temporary_files_are_never_read(drive, rules):
    paths = drive_paths(drive, rules)
    form = drop_request(drive, rules, "申请.xlsx", request_values())
    shutil.copy(form, paths.inbox / "~$申请.xlsx")
    shutil.copy(form, paths.inbox / ".~lock.申请.xlsx#")
    shutil.copy(form, paths.inbox / "3B2A0C00")
    shutil.copy(form, paths.inbox / ".xt-tmp-0123456789ab.申请.xlsx")
    (paths.inbox / "说明.pdf").write_bytes(b"%PDF")
    ctx = new_context(paths, rules)
    assert scan_inbox(ctx, settle_s=0).forms == [form]
    report = run(drive)
    outcomes = {o.file: o.result for o in report.intake}
    # the lock and temporary files are never read; the stray PDF is answered with a note
    assert report.registered == 1
    assert outcomes == {
        "01_申请收件箱/申请.xlsx": "registered",
        "01_申请收件箱/说明.pdf": "invalid",
    }


def test_a_file_still_being_written_is_left_for_the_next_run(drive, rules):
    paths = drive_paths(drive, rules)
    form = drop_request(drive, rules, "申请.xlsx", request_values())

    def still_saving():
        time.sleep(0.1)
        later = time.time()
        os.utime(form, (later, later))

    writer = threading.Thread(target=still_saving)
    writer.start()
    ctx = new_context(paths, rules)
    assert scan_inbox(ctx, settle_s=0.5).forms == []
    writer.join()
    assert scan_inbox(ctx, settle_s=0.2).forms == [form]


def test_state_rebuilt_from_the_workbooks_never_reuses_an_id(drive, rules):
    for n in (1, 2):
        drop_request(drive, rules, f"申请{n}.xlsx", request_values(n))
    run(drive)
    for suffix in ("", "-wal", "-shm"):
        db = state_path(drive.absolute())
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    # the same content dropped again is still recognised (fingerprints from the filed forms)
    drop_request(drive, rules, "申请1 再次.xlsx", request_values(1))
    drop_request(drive, rules, "申请3.xlsx", request_values(3))
    report = run(drive)
    assert (report.registered, report.duplicates) == (1, 1)
    assert [r["item_id"] for r in tracking_rows(drive, rules)] == [
        "XT-2026-0001",
        "XT-2026-0002",
        "XT-2026-0003",
    ]


def test_rebuild_state_takes_the_highest_id_of_the_table(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    from automation.io.ledger import open_ledger

    with open_ledger(drive) as led:
        led.conn.execute("DELETE FROM id_counter")
    with open_context(drive) as ctx:
        assert rebuild_state(ctx)["years"] == 1
    with open_ledger(drive) as led:
        assert led.last_seq(2026) == 1


@pytest.mark.parametrize("year", [2026, 2027])
def test_the_id_year_is_the_registration_year(drive, rules, year):
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive, as_of=dt.datetime(year, 1, 5, 10))
    assert tracking_rows(drive, rules)[0]["item_id"] == f"XT-{year}-0001"


def test_a_receipt_that_cannot_be_written_now_is_written_next_run(drive, rules):
    paths = drive_paths(drive, rules)
    form = drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    shutil.copy(
        paths.items / "XT-2026-0001 新产品试产协调 1" / "申请.xlsx", paths.inbox / "又一份.xlsx"
    )
    receipt = paths.feedback / "又一份_登记回执.txt"
    lock = paths.feedback / f".~lock.{receipt.name}#"
    lock.write_text("王芳,wangf,PC-07,27.11.2026 10:00,file:///x;", encoding="utf-8")
    report = run(drive)
    assert [o.result for o in report.intake] == ["awaiting"] and not receipt.exists()
    lock.unlink()
    report = run(drive)
    assert report.duplicates == 1 and receipt.exists()
    assert not form.exists()


def test_rebuilt_state_remembers_the_journal_and_the_workbooks_created(drive, rules):
    from automation.io.ledger import open_ledger

    paths = drive_paths(drive, rules)
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    pass_evaluation(drive, rules)
    run(drive, as_of=dt.datetime(2026, 3, 11, 17))
    folder = next(paths.items.glob("XT-2026-0001*"))
    next(folder.glob("模板四*")).unlink()  # removed on purpose
    for suffix in ("", "-wal", "-shm"):
        db = state_path(drive.absolute())
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    report = run(drive, as_of=dt.datetime(2026, 3, 11, 17))
    assert report.created == []
    with open_ledger(drive) as led:
        assert len(led.journal_entries()) == len(read_journal(paths.log))


def test_an_id_appended_to_the_journal_raises_the_counter_in_a_running_process(drive, rules):
    """The journal is read once and then only what was appended to it (the watcher service
    runs for weeks); a file replaced by a shorter one is read again from its start."""
    from automation.io.journal import JOURNAL_GLOB
    from automation.io.ledger import open_ledger
    from automation.process.recovery import raise_counters
    from automation.process.tracking import read_tracking

    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    journal = next(drive_paths(drive, rules).log.glob(JOURNAL_GLOB))

    def counter_after(line: str | None = None, *, replace: bool = False) -> int:
        if line is not None:
            text = "" if replace else journal.read_text(encoding="utf-8")
            journal.write_text(text + json.dumps({"item": line}) + "\n", encoding="utf-8")
        with open_context(drive) as ctx:
            raise_counters(ctx, read_tracking(ctx))
        with open_ledger(drive) as led:
            return led.last_seq(2026)

    assert counter_after() == 1
    assert counter_after("XT-2026-0040") == 40
    assert counter_after("XT-2026-0041") == 41
    assert counter_after("XT-2026-0077", replace=True) == 77


def test_the_id_sources_are_read_again_only_where_something_changed(drive, rules, monkeypatch):
    """A running process raises the counters every cycle: a group of texts that may name an ID
    (item folders, archive, feedback, journal, table, registrations) is scanned again only when
    it changed — and a new folder naming a higher ID still raises the counter."""
    from automation.io.ledger import open_ledger
    from automation.process import recovery
    from automation.process.tracking import read_tracking

    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    scanned: list[str] = []
    real = recovery._names
    monkeypatch.setattr(
        recovery, "_names", lambda folder, **kw: scanned.append(folder.name) or real(folder, **kw)
    )
    paths = drive_paths(drive, rules)

    def raise_now() -> int:
        scanned.clear()
        with open_context(drive) as ctx:
            recovery.raise_counters(ctx, read_tracking(ctx))
        with open_ledger(drive) as led:
            return led.last_seq(2026)

    first = raise_now()
    assert raise_now() == first and scanned == []
    folder = paths.items / "XT-2026-0050 手工建的文件夹"
    folder.mkdir()
    old = time.time() - 60  # a folder time that is settled
    os.utime(paths.items, (old, old))
    assert raise_now() == 50
    assert scanned[0] == paths.items.name  # (and each folder in it, one level down)
    assert paths.archive.name not in scanned
