"""结果归档: a finished item gets an acceptance checklist, then a BagIt bag that can prove later
that it is complete and unaltered; a file someone has open defers the whole archive."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import bagit
import pytest
from conftest import run_cli
from intake_helpers import (
    AS_OF,
    drive_hashes,
    drop_request,
    office_edit,
    pass_evaluation,
    request_values,
    tracking_rows,
)
from test_locks import excel_owner_file

from automation.api import archive
from automation.io.drive import drive_paths
from automation.io.journal import read_journal
from automation.io.reader import read_workbook
from automation.io.templates import write_workbook
from automation.process.archive import verify_archive
from automation.process.cycle import run_cycle

ITEM = "XT-2026-0001"
EVALUATED = dt.datetime(2026, 3, 11, 17, 0)
FINISHED = dt.datetime(2026, 4, 13, 10, 0)
# the market department's weekly report row about the item
MARKET_WEEKLY = {
    "week": "2026-W13",
    "department": "市场部",
    "item_id": ITEM,
    "done": "完成市场调研",
    "submitted_by": "周敏",
    "submitted_date": dt.date(2026, 3, 27),
}
MINUTES = f"模板三_跨部门协调会议纪要_{ITEM}.xlsx"
EXECUTION = f"模板四_跨部门任务执行跟踪表_{ITEM}_市场部.xlsx"


def archive_items(drive, *, as_of, item=None):
    """``xietong archive`` as the office runs it (its own context and the drive lock)."""
    return archive(drive, item=item, as_of=as_of)


def _save(rules, kind: str, target: Path, **content) -> None:
    """A person saves a filled workbook into the item folder (written elsewhere, moved in)."""
    tmp = write_workbook(kind, rules, target.parent.parent / f"staging-{target.name}", **content)
    tmp.replace(target)


def _minutes(rules, folder: Path, *, market_signed: bool) -> None:
    _save(
        rules,
        "minutes",
        folder / MINUTES,
        values={
            "item_id": ITEM,
            "item_title": "新产品试产协调 1",
            "meeting_time": dt.date(2026, 3, 12),
            "meeting_form": "线下",
            "chair": "王强",
            "lead_dept": "生产部",
            "recorder": "李梅",
            "goals": "按期完成试产",
            "deliverables": "试产报告",
            "communication": "每周五下午召开进度同步会",
        },
        tables={
            "attendees": [
                {"att_dept": "生产部", "att_people": "王强", "att_sign": "王强"},
                {
                    "att_dept": "市场部",
                    "att_people": "周敏",
                    "att_sign": "周敏" if market_signed else None,
                },
            ]
        },
    )


def _finished_item(drive: Path, rules, *, market_signed: bool = False) -> Path:
    """An item carried through every stage: request with an attachment, evaluation, minutes,
    plans, approval, daily rows and a weekly report of 市场部, completion on 2026-04-10."""
    drop_request(drive, rules, "申请.xlsx", request_values(attachments="需求说明.pdf"))
    run_cycle(drive, as_of=AS_OF, settle_s=0)
    pass_evaluation(drive, rules, coop="市场部", evaluation_opinion="需求合理，同意立项")
    run_cycle(drive, as_of=EVALUATED, settle_s=0)
    paths = drive_paths(drive, rules)
    folder = next(paths.items.glob(f"{ITEM}*"))
    _minutes(rules, folder, market_signed=market_signed)
    rows = [
        {
            "date": day,
            "task": "市场调研",
            "owner": "周敏",
            "progress": share,
            "status": "进行中" if share < 1 else "已完成",
            "updated_by": "周敏",
        }
        for day, share in [(dt.date(2026, 3, 23), 0.5), (dt.date(2026, 4, 10), 1.0)]
    ]
    _save(
        rules,
        "execution",
        folder / EXECUTION,
        values={
            "item_id": ITEM,
            "department": "市场部",
            "exec_lead_dept": "生产部",
            "plan_submitted_date": dt.date(2026, 3, 16),
        },
        rows=rows,
    )
    _save(
        rules,
        "weekly",
        paths.weekly / "周进度报告_市场部.xlsx",
        rows=[MARKET_WEEKLY],
    )
    for name in (
        "部门实施方案_市场部.docx",
        "跨部门协作总体方案.pdf",
        "方案审批结果.pdf",
        "需求说明.pdf",
    ):
        (folder / name).write_bytes(f"{name} 内容".encode())
    office_edit(
        drive,
        rules,
        4,
        {
            "meeting_date": dt.date(2026, 3, 12),
            "minutes_date": dt.date(2026, 3, 13),
            "plan_date": dt.date(2026, 3, 18),
            "approval_result": "通过",
            "approval_date": dt.date(2026, 3, 20),
            "completion_date": dt.date(2026, 4, 10),
        },
    )
    return folder


def _checklist_text(path: Path, rules) -> str:
    """Every cell of the generated checklist, read back by the real reader (calamine)."""
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    cells = wb.get_sheet_by_name(rules.archive.checklist_sheet).to_python()
    return "\n".join(" | ".join(str(c) for c in row) for row in cells)


def test_a_missing_signature_is_named_then_the_item_is_archived_once(drive, rules):
    folder = _finished_item(drive, rules, market_signed=False)
    paths = drive_paths(drive, rules)

    first = archive_items(drive, as_of=FINISHED)
    [waiting] = first.items
    assert waiting.result == "waiting"
    assert any("缺少签字：市场部负责人" in g for g in waiting.gaps), waiting.gaps
    assert len(waiting.gaps) == 1  # everything else the process expects is there
    checklist = folder / f"验收清单_{ITEM}.xlsx"
    text = _checklist_text(checklist, rules)
    assert "市场部负责人" in text and "缺 1 项" in text
    assert folder.is_dir() and not any(paths.archive.rglob("bagit.txt"))

    _minutes(rules, folder, market_signed=True)  # the head of 市场部 signs
    report = archive_items(drive, as_of=FINISHED)
    [done] = report.items
    assert done.result == "archived", done.message
    bag_dir = drive / done.bag
    assert bag_dir.parent.name == "2026" and bag_dir.name.startswith(f"{ITEM} 新产品试产协调 1")
    bag = bagit.Bag(str(bag_dir))
    bag.validate()
    assert set(bag.algorithms) == {"sha256", "sha512"}
    assert bag.info["External-Identifier"] == ITEM
    assert bag.info["Xietong-Lead-Department"] == "生产部"
    assert bag.info["Xietong-Date-Completed"] == "2026-04-10"
    assert bag.info["Xietong-Checklist"] == "complete"
    assert any(line.startswith("验收归档") for line in bag.info["Xietong-Clock"])
    payload = {Path(p).as_posix() for p in bag.payload_files()}
    for name in (MINUTES, EXECUTION, "申请.xlsx", "需求说明.pdf", f"验收清单_{ITEM}.xlsx"):
        assert f"data/{name}" in payload
    assert "data/周进度报告/周进度报告_市场部.xlsx" in payload  # the shared report, copied
    assert (paths.weekly / "周进度报告_市场部.xlsx").is_file()  # … and left in place
    complete = _checklist_text(bag_dir / "data" / f"验收清单_{ITEM}.xlsx", rules)
    assert "齐全，可以归档" in complete

    assert not folder.exists()
    [row] = tracking_rows(drive, rules)
    assert row["archive_date"] == FINISHED.date()
    assert "archive" in [e["action"] for e in read_journal(paths.log, item=ITEM)]

    before = drive_hashes(drive)
    again = archive_items(drive, as_of=FINISHED + dt.timedelta(days=1))
    assert again.items == [] and again.checklists == []
    assert drive_hashes(drive) == before
    explicit = archive_items(drive, as_of=FINISHED, item=ITEM)
    assert [o.result for o in explicit.items] == ["already"]
    assert drive_hashes(drive) == before


def test_one_byte_changed_in_an_archived_file_is_reported_with_its_code(drive, rules):
    _finished_item(drive, rules, market_signed=True)
    [done] = archive_items(drive, as_of=FINISHED).items
    assert done.result == "archived", done.message
    assert verify_archive(drive).ok

    target = drive / done.bag / "data" / "跨部门协作总体方案.pdf"
    data = bytearray(target.read_bytes())
    data[3] ^= 0x01
    target.write_bytes(bytes(data))
    (drive / done.bag / "data" / "需求说明.pdf").unlink()

    checked = verify_archive(drive, item=ITEM)
    found = {(p.code, Path(p.file).name) for p in checked.problems}
    assert found == {
        ("E_ARCHIVE_CHANGED", "跨部门协作总体方案.pdf"),
        ("E_ARCHIVE_MISSING", "需求说明.pdf"),
    }
    proc = run_cli("archive", "--verify", str(drive), "--json")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    codes = {(p["code"], Path(p["file"]).name) for b in out["bags"] for p in b["problems"]}
    assert ("E_ARCHIVE_CHANGED", "跨部门协作总体方案.pdf") in codes


def test_a_file_open_in_excel_defers_the_whole_archive_to_the_next_run(drive, rules):
    folder = _finished_item(drive, rules, market_signed=True)
    paths = drive_paths(drive, rules)
    owner = folder / f"~${EXECUTION}"
    owner.write_bytes(excel_owner_file("周敏"))  # 周敏 has the workbook open in Excel

    report = archive_items(drive, as_of=FINISHED)
    [deferred] = report.items
    assert deferred.result == "deferred" and deferred.code == "E_ARCHIVE_DEFERRED"
    assert EXECUTION in deferred.message and "周敏" in (deferred.holder or "")
    assert folder.is_dir() and (folder / EXECUTION).is_file()
    assert not any(p.is_dir() for p in paths.archive.glob("*/*"))  # nothing moved, no staging
    assert tracking_rows(drive, rules)[0]["archive_date"] is None
    proc = run_cli("archive", str(drive), "--as-of", FINISHED.isoformat())
    assert proc.returncode == 3 and "正被" in proc.stdout, proc.stdout + proc.stderr

    owner.unlink()  # Excel closed
    cycle = run_cycle(drive, as_of=FINISHED + dt.timedelta(hours=1), settle_s=0)
    assert any(w.startswith(f"归档 {ITEM}：已归档到") for w in cycle.warnings), cycle.warnings
    assert not folder.exists()
    assert bagit.Bag(str(next(paths.archive.glob(f"2026/{ITEM}*")))).is_valid()
    assert tracking_rows(drive, rules)[0]["archive_date"] == FINISHED.date()


def test_explicit_archive_keeps_the_gaps_in_the_bag(drive, rules):
    folder = _finished_item(drive, rules, market_signed=False)
    (folder / "方案审批结果.pdf").unlink()
    report = archive_items(drive, as_of=FINISHED, item=ITEM.lower())
    [done] = report.items
    assert done.result == "archived" and len(done.gaps) == 2
    bag = bagit.Bag(str(drive / done.bag))
    assert bag.info["Xietong-Archive-Mode"] == "explicit"
    gaps = bag.info["Xietong-Checklist-Gap"]
    assert any("市场部负责人" in g for g in gaps) and any("审批" in g for g in gaps)
    with pytest.raises(Exception, match="E_UNKNOWN_ITEM"):
        archive_items(drive, as_of=FINISHED, item="XT-2026-0999")


def test_checklist_workbook_is_only_rewritten_when_it_changes(drive, rules):
    folder = _finished_item(drive, rules, market_signed=False)
    first = archive_items(drive, as_of=FINISHED)
    assert first.checklists == [f"{folder.relative_to(drive).as_posix()}/验收清单_{ITEM}.xlsx"]
    checklist = folder / f"验收清单_{ITEM}.xlsx"
    assert read_workbook is not None and checklist.is_file()
    assert archive_items(drive, as_of=FINISHED + dt.timedelta(days=1)).checklists == []


def test_the_clocks_of_an_archived_item_can_still_read_its_execution_workbooks(drive, rules):
    """After archiving, the execution workbooks live in the bag; the clock engine's reader given
    the bags' payload folders sees the same departments as before (plan date, daily rows)."""
    from automation.io.drive import archived_item_folders
    from automation.process.clocks import department_records
    from automation.process.context import new_context

    _finished_item(drive, rules, market_signed=True)
    paths = drive_paths(drive, rules)
    ctx = new_context(paths, rules)
    before = department_records(ctx, ITEM)
    [done] = archive_items(drive, as_of=FINISHED).items
    assert done.result == "archived"
    assert department_records(ctx, ITEM) != before  # the item folder is gone
    after = department_records(ctx, ITEM, folders=archived_item_folders(paths))
    assert after == before and after["市场部"].daily_dates


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("CON", "XT-2026-0001 _CON"),
        ("年度预算. ", "XT-2026-0001 年度预算"),
        ('a<b>:c"d/e\\f|g?h*', "XT-2026-0001 a_b__c_d_e_f_g_h_"),
        ("lpt1.txt", "XT-2026-0001 _lpt1.txt"),
        ("", "XT-2026-0001"),
    ],
)
def test_archive_folder_names_are_safe_on_windows(title, name):
    from automation.core.archive import bag_folder_name

    assert bag_folder_name(ITEM, title) == name


def test_checklist_counts_revisions_and_attachments(rules):
    from automation.core.archive import FolderFile, build_checklist

    row = {"item_id": ITEM, "title": "t", "lead_dept": "生产部", "coop_depts": "市场部"}
    files = [FolderFile("申请.xlsx", "request", {"attachments": "说明.pdf、背景资料.docx"})]
    files.append(FolderFile("附件/说明.pdf"))
    checklist = build_checklist(rules.archive, row, files, departments=["市场部"], revisions=2)
    by_key = {e.key: e for e in checklist.entries if e.department is None}
    assert by_key["request"].status == "incomplete" and "共 2 版" in by_key["request"].note
    assert by_key["attachments"].status == "incomplete"
    assert by_key["attachments"].files == ("附件/说明.pdf",)
    assert "背景资料.docx" in by_key["attachments"].note
    assert by_key["minutes"].status == "missing"
    assert by_key["evaluation"].status == "missing"
    row["evaluation_opinion"] = "同意"  # typed into the tracking table: stands in for a file
    again = build_checklist(rules.archive, row, files, departments=["市场部"], revisions=2)
    assert next(e for e in again.entries if e.key == "evaluation").status == "found"


def test_archive_date_is_the_only_change_to_a_decorated_tracking_table(drive, rules):
    """归档日期 goes in through the lossless patcher: every other part and cell keeps its bytes,
    value and style, even in a table the office saved with a chart and a comment."""
    import openpyxl
    from openpyxl.chart import BarChart, Reference
    from openpyxl.comments import Comment
    from test_xlsxpatch_helpers import assert_cells_kept, changed_parts

    from automation.core.layout import layout
    from automation.io.xlsxpatch.package import Package

    folder = _finished_item(drive, rules, market_signed=True)
    (folder / "草稿.tmp").write_bytes(b"a temporary file is not archived, so it is not deleted")
    paths = drive_paths(drive, rules)
    wb = openpyxl.load_workbook(paths.tracking)
    ws = wb["跟踪表"]
    ws["AD4"].comment = Comment("王芳：验收后归档", "协调办")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=29, min_row=3, max_row=10), titles_from_data=True)
    ws.add_chart(chart, "AF4")
    wb.save(paths.tracking)

    before = paths.tracking.read_bytes()
    [done] = archive_items(drive, as_of=FINISHED).items
    assert done.result == "archived" and "草稿.tmp" in done.message
    assert sorted(p.name for p in folder.iterdir()) == ["草稿.tmp"]
    after = paths.tracking.read_bytes()
    sheet_parts = {e.part for e in Package(before).entries if "worksheets/sheet1" in e.part}
    assert changed_parts(before, after) <= sheet_parts
    cell = f"{layout(rules.form('tracking')).columns['archive_date']}4"
    assert_cells_kept(before, after, "跟踪表", {cell: FINISHED.date()})
    again = archive_items(drive, as_of=FINISHED)
    assert any("草稿.tmp" in w for w in again.warnings) and folder.is_dir()


def _age(*paths: Path) -> None:
    """The files (every file under a folder) saved an hour ago: the caches trust only
    settled files."""
    import os
    import time

    old = time.time() - 3600
    for path in paths:
        for p in [path] if path.is_file() else path.rglob("*"):
            if p.is_file():
                os.utime(p, (old, old))


def test_a_checklist_is_not_built_again_for_another_items_weekly_rows(drive, rules, monkeypatch):
    """A department's weekly report names every item: a row about another item changes nothing
    in this item's checklist, a row about this item does."""
    import automation.process.archive as archiving

    built: list[str] = []
    real = archiving._build_checklist

    def counting(run, row, *args, **kw):
        built.append(str(row["item_id"]))
        return real(run, row, *args, **kw)

    monkeypatch.setattr(archiving, "_build_checklist", counting)
    _finished_item(drive, rules, market_signed=False)
    archive_items(drive, as_of=FINISHED)  # writes the checklist
    _age(drive)
    archive_items(drive, as_of=FINISHED)  # every file settled: the checklist is kept
    built.clear()
    weekly = drive_paths(drive, rules).weekly / "周进度报告_市场部.xlsx"

    def report(*items: str) -> None:
        rows = [
            {
                "week": "2026-W13",
                "department": "市场部",
                "item_id": item,
                "done": "完成市场调研",
                "submitted_by": "周敏",
                "submitted_date": dt.date(2026, 3, 27),
            }
            for item in items
        ]
        _save(rules, "weekly", weekly, rows=rows)
        _age(weekly)

    report(ITEM, "XT-2026-0099")
    archive_items(drive, as_of=FINISHED)
    assert built == []
    report(ITEM, "XT-2026-0099", ITEM)
    archive_items(drive, as_of=FINISHED)
    assert built == [ITEM]

    # the checklist is carried to the next process (cron, a button's refresh): not built
    # again there while nothing it reads changed; a file of other code is not taken
    from automation.io import cache
    from automation.io.ledger import state_path

    _age(drive)
    archive_items(drive, as_of=FINISHED)  # made from the settled versions
    cache.save_carried()
    carried = cache.carry_path(state_path(drive))
    good = carried.read_bytes()
    for kept, expected in ((good, []), (b"torn", [ITEM])):
        carried.write_bytes(kept)
        cache.forget_kept_reports()  # a new process
        built.clear()
        archive_items(drive, as_of=FINISHED)
        assert built == expected


def test_a_weekly_report_is_cut_by_item_again_only_when_it_changed(drive, rules, monkeypatch):
    import automation.process.archive as archiving

    cut: list[str] = []
    real = archiving._cut
    monkeypatch.setattr(archiving, "_cut", lambda f: cut.append(f.name) or real(f))
    _finished_item(drive, rules, market_signed=False)
    weekly = drive_paths(drive, rules).weekly / "周进度报告_市场部.xlsx"
    row = MARKET_WEEKLY
    _save(rules, "weekly", weekly, rows=[row])
    _age(drive)
    archive_items(drive, as_of=FINISHED)
    assert weekly.name in cut
    cut.clear()
    archive_items(drive, as_of=FINISHED)
    assert cut == []
    _save(rules, "weekly", weekly, rows=[row, {**row, "done": "补充调研"}])
    _age(weekly)
    archive_items(drive, as_of=FINISHED)
    assert cut == [weekly.name]  # that report only
