"""A hostile (or merely unlucky) user against the drive: stale saves, lost state, links, long
names, bad IDs, dates at the end of time. Each case ends with the drive consistent."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from intake_helpers import AS_OF, drop_request, pass_evaluation, request_values, tracking_rows

from automation.core.layout import layout
from automation.io.drive import drive_paths
from automation.io.journal import read_journal
from automation.io.ledger import open_ledger, state_path
from automation.io.names import clean_component, fit_name
from automation.io.xlsxpatch import CellEdit, patch_workbook
from automation.process import intake as intake_module
from automation.process.cycle import run_cycle
from tests.conftest import run_cli


def run(drive: Path, as_of: dt.datetime = AS_OF):
    return run_cycle(drive, as_of=as_of, settle_s=0)


def command(drive: Path, as_of: dt.datetime = AS_OF) -> SimpleNamespace:
    """``xietong run DRIVE --as-of … --json``, the real command in its own process."""
    proc = run_cli("run", str(drive), "--as-of", as_of.isoformat(), "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    out = json.loads(proc.stdout)
    return SimpleNamespace(
        registered=out["registered"],
        errors=out["errors"],
        restored=out["rows_restored"],
        warnings=out["warnings"],
        intake=[SimpleNamespace(**o) for o in out["intake"]],
        summary_lines=lambda: out["summary"],
    )


@pytest.fixture(autouse=True)
def _no_settle(monkeypatch):
    monkeypatch.setenv("XIETONG_SETTLE_SECONDS", "0")  # the command's processes too


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def assert_consistent(drive: Path, rules, outside: Path | None = None, before=None) -> None:
    """Every registered revision has exactly one row, every ID is unique, every workbook on the
    drive opens as a zip, nothing outside the drive changed."""
    rows = tracking_rows(drive, rules)
    keys = [(r["item_id"], int(r.get("revision") or 1)) for r in rows if r.get("item_id")]
    assert len(keys) == len(set(keys)), keys
    with open_ledger(drive) as ledger:
        registered = {(r.item_id, r.revision) for r in ledger.registrations()}
    assert registered <= set(keys), registered - set(keys)
    for book in drive.rglob("*.xls[xm]"):
        if not book.name.startswith(("~$", ".~")):
            with zipfile.ZipFile(book) as z:
                assert z.testzip() is None, book
    if outside is not None:
        assert _tree_hashes(outside) == before


def _forget_state(drive: Path) -> None:
    db = state_path(drive.absolute())
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


def _clear_row(drive: Path, rules, row: int) -> None:
    """Someone selects a whole row of the tracking table and presses Delete."""
    paths = drive_paths(drive, rules)
    form = rules.form("tracking")
    edits = [CellEdit(f"{col}{row}", None) for col in layout(form).columns.values()]
    paths.tracking.write_bytes(patch_workbook(paths.tracking.read_bytes(), form.sheet, edits))


# -- data lost or corrupted ----------------------------------------------------------------------


def test_a_stale_save_of_the_tracking_table_loses_no_registered_row(drive, rules):
    paths = drive_paths(drive, rules)
    drop_request(drive, rules, "申请1.xlsx", request_values(1))
    command(drive)
    stale = paths.tracking.read_bytes()  # opened by the office before the next run
    for n in (2, 3, 4):
        drop_request(drive, rules, f"申请{n}.xlsx", request_values(n))
    report = command(drive)
    assert report.registered == 3
    # the office saves its old copy with one edit of its own: rows 0002..0004 vanish
    form = rules.form("tracking")
    note = f"{layout(form).columns['notes']}4"
    paths.tracking.write_bytes(patch_workbook(stale, form.sheet, [CellEdit(note, "已电话联系")]))
    report = command(drive, AS_OF + dt.timedelta(hours=1))
    assert sorted(report.restored) == [
        "XT-2026-0002 第1版",
        "XT-2026-0003 第1版",
        "XT-2026-0004 第1版",
    ]
    rows = {r["item_id"]: r for r in tracking_rows(drive, rules)}
    assert sorted(rows) == ["XT-2026-0001", "XT-2026-0002", "XT-2026-0003", "XT-2026-0004"]
    assert rows["XT-2026-0001"]["notes"] == "已电话联系"  # the person's newer cell is kept
    assert rows["XT-2026-0003"]["title"] == "新产品试产协调 3"
    restored = [e for e in read_journal(paths.log) if e["action"] == "restore_row"]
    assert {e["item"] for e in restored} == {"XT-2026-0002", "XT-2026-0003", "XT-2026-0004"}
    assert any("恢复" in line for line in report.summary_lines())
    # and a later run neither restores again nor fails on them
    again = command(drive, AS_OF + dt.timedelta(hours=2))
    assert again.restored == [] and not again.warnings
    assert_consistent(drive, rules)


def test_a_withdrawn_row_stays_and_its_clocks_stop(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    pass_evaluation(drive, rules, withdrawn="是")
    run(drive, as_of=dt.datetime(2026, 3, 20, 10))
    [row] = tracking_rows(drive, rules)
    assert row["current_stage"] == "已撤销"
    assert not row.get("clock_state") and not row.get("current_deadline")
    assert not list(drive_paths(drive, rules).items.glob("XT-2026-0001*/会议纪要*"))


def test_an_id_is_never_issued_twice_even_after_the_state_is_lost(drive, rules, tmp_path):
    paths = drive_paths(drive, rules)
    for n in (1, 2):
        drop_request(drive, rules, f"申请{n}.xlsx", request_values(n))
    command(drive)
    # state lost, the last row cleared, its item folder moved away
    _forget_state(drive)
    _clear_row(drive, rules, 5)
    shutil.move(str(next(paths.items.glob("XT-2026-0002*"))), str(tmp_path / "moved-away"))
    drop_request(drive, rules, "申请3.xlsx", request_values(3))
    report = command(drive, AS_OF + dt.timedelta(hours=1))
    assert [o.item_id for o in report.intake if o.result == "registered"] == ["XT-2026-0003"]
    ids = [r["item_id"] for r in tracking_rows(drive, rules)]
    assert ids.count("XT-2026-0002") == 0 and "XT-2026-0003" in ids
    assert_consistent(drive, rules)


def test_state_lost_after_the_last_row_was_cleared_does_not_stop_the_run(drive, rules):
    for n in (1, 2):
        drop_request(drive, rules, f"申请{n}.xlsx", request_values(n))
    command(drive)
    _clear_row(drive, rules, 5)
    _forget_state(drive)
    drop_request(drive, rules, "申请3.xlsx", request_values(3))
    report = command(drive, AS_OF + dt.timedelta(hours=1))
    assert [o.item_id for o in report.intake if o.result == "registered"] == ["XT-2026-0003"]
    # the cleared row of a filed request is put back from the form in its folder
    assert report.restored == ["XT-2026-0002 第1版"]
    ids = sorted(r["item_id"] for r in tracking_rows(drive, rules))
    assert ids == ["XT-2026-0001", "XT-2026-0002", "XT-2026-0003"]
    assert_consistent(drive, rules)


def test_a_link_in_the_inbox_is_refused_and_nothing_is_copied_in(drive, rules, tmp_path):
    paths = drive_paths(drive, rules)
    secret_dir = tmp_path / "server"
    secret_dir.mkdir()
    form = drop_request(drive, rules, "真实申请.xlsx", request_values())
    shutil.move(str(form), str(secret_dir / "secret.xlsx"))
    before = _tree_hashes(secret_dir)
    (paths.inbox / "link.xlsx").symlink_to(secret_dir / "secret.xlsx")
    report = run(drive)
    [outcome] = report.intake
    assert outcome.result == "invalid" and "E_LINK" in outcome.message
    assert tracking_rows(drive, rules) == []
    copied = [
        p
        for p in drive.rglob("*")
        if p.is_file()
        and not p.is_symlink()
        and p.read_bytes() == (secret_dir / "secret.xlsx").read_bytes()
    ]
    assert copied == []
    assert "链接" in (paths.feedback / "link_校验结果.txt").read_text(encoding="utf-8-sig")
    assert_consistent(drive, rules, secret_dir, before)


# -- every run stops -----------------------------------------------------------------------------


def test_a_very_long_file_name_is_registered_and_blocks_nothing(drive, rules):
    long_name = "关于" + "跨部门新产品试产协调与资源调配" * 5 + "的申请.xlsx"
    assert 235 < len(long_name.encode("utf-8")) <= 255
    drop_request(drive, rules, long_name, request_values(1))
    drop_request(drive, rules, "普通申请.xlsx", request_values(2))
    report = command(drive)
    assert report.registered == 2 and report.errors == 0
    paths = drive_paths(drive, rules)
    receipts = list(paths.feedback.glob("*_登记回执.txt"))
    assert len(receipts) == 2
    assert all(len(p.name.encode("utf-8")) <= 255 for p in drive.rglob("*"))
    assert list(paths.inbox.glob("*.xlsx")) == []  # both filed
    assert_consistent(drive, rules)


def test_a_bad_item_id_in_a_passed_row_is_reported_and_the_others_go_on(drive, rules):
    for n in (1, 2):
        drop_request(drive, rules, f"申请{n}.xlsx", request_values(n))
    command(drive)
    pass_evaluation(drive, rules, row=4)
    pass_evaluation(drive, rules, row=5)
    paths = drive_paths(drive, rules)
    form = rules.form("tracking")
    cell = f"{layout(form).columns['item_id']}4"
    paths.tracking.write_bytes(
        patch_workbook(paths.tracking.read_bytes(), form.sheet, [CellEdit(cell, "../../x")])
    )
    report = command(drive, dt.datetime(2026, 3, 12, 10))
    assert any("E_BAD_ITEM_ID" in w for w in report.warnings)
    # the good row got its workbooks; nothing was created outside the items folder
    assert list(paths.items.glob("XT-2026-0002*/*会议纪要*"))
    assert not (drive.parent / "x").exists() and not (paths.root / "x").exists()


def test_claims_of_a_dead_process_are_released_at_once(drive, rules):
    form = drop_request(drive, rules, "申请.xlsx", request_values())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    rel = form.relative_to(drive).as_posix()
    with open_ledger(drive) as ledger, ledger.transaction() as c:
        c.execute(
            "INSERT INTO files (path, size, mtime_ns, sha256, result, claim, claimed_at, updated)"
            " VALUES (?, 1, 1, 'x', 'claimed', ?, ?, 'now')",
            (rel, f"{socket.gethostname()}:{dead.pid}:token", time.time()),
        )
    report = run(drive)
    assert report.registered == 1


def test_a_run_killed_before_the_receipt_writes_it_next_time(drive, rules, monkeypatch):
    paths = drive_paths(drive, rules)
    drop_request(drive, rules, "申请.xlsx", request_values())
    real = intake_module._write_receipt

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies between filing and the receipt

    monkeypatch.setattr(intake_module, "_write_receipt", killed)
    with pytest.raises(KeyboardInterrupt):
        run(drive)
    assert not (paths.feedback / "申请_登记回执.txt").exists()
    monkeypatch.setattr(intake_module, "_write_receipt", real)
    run(drive, AS_OF + dt.timedelta(hours=1))
    text = (paths.feedback / "申请_登记回执.txt").read_text(encoding="utf-8-sig")
    assert "XT-2026-0001" in text
    assert_consistent(drive, rules)


def test_temporary_files_of_a_killed_run_are_cleaned_in_the_backup_folder(drive, rules):
    backups = drive_paths(drive, rules).log / "备份"
    backups.mkdir(parents=True, exist_ok=True)
    leftover = backups / ".xt-tmp-0123456789ab.模板二.xlsx"
    leftover.write_bytes(b"half")
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    run(drive)
    assert not leftover.exists()


# -- smaller, same family ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("市场活动" * 9 + "策划.", "市场活动" * 9 + "策划"),  # cut at 40, no trailing dot
        ("产品" * 19 + "a.b", "产品" * 19 + "a"),
        ("abc\u202etxt.exe", "abctxt.exe"),  # a right-to-left override is dropped
        ("CON", "_CON"),
        ('a<b>:"c"|?*', "a_b___c____"),
    ],
)
def test_folder_names_are_valid_on_windows_and_show_what_they_are(title, expected):
    assert clean_component(title) == expected
    assert not clean_component(title).endswith((".", " "))


def test_a_long_name_is_cut_with_a_tag_that_keeps_two_names_apart(tmp_path):
    a = fit_name(tmp_path, "甲" * 120 + "一", "_登记回执.txt")
    b = fit_name(tmp_path, "甲" * 120 + "二", "_登记回执.txt")
    assert a != b
    assert all(len(p.name.encode("utf-8")) <= 255 for p in (a, b))
    assert a.name.endswith("_登记回执.txt")


def test_an_item_title_with_a_bidi_override_makes_a_plain_folder(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values(title="试产\u202e协调"))
    run(drive)
    [folder] = drive_paths(drive, rules).items.iterdir()
    assert "\u202e" not in folder.name and folder.name.startswith("XT-2026-0001 ")


def test_a_run_in_an_uncovered_year_warns_that_the_calendar_is_provisional(drive, rules):
    report = run(drive, dt.datetime(2030, 3, 1, 10))
    assert any("推算" in w for w in report.warnings)


def test_paths_of_a_missing_folder_is_a_coded_error(tmp_path):
    proc = run_cli("paths", str(tmp_path / "没有这个盘"), "--json")
    assert proc.returncode == 2
    assert "E_NO_DRIVE" in proc.stderr and "Traceback" not in proc.stderr


def test_as_of_at_the_end_of_time_is_refused_and_nothing_is_written(drive, rules):
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    before = _tree_hashes(drive)
    for text in ("9999-12-31", "0001-01-01", "2100-01-01"):
        proc = run_cli("run", str(drive), "--as-of", text)
        assert proc.returncode == 2 and "E_AS_OF_RANGE" in proc.stderr, proc.stderr
    assert _tree_hashes(drive) == before


def test_clocks_far_in_the_future_are_counted_not_walked(drive, rules):
    """The last supported year: every clock is computed from prefix counts (no per-day walk per
    clock), with the right number of working days late."""
    drop_request(drive, rules, "申请.xlsx", request_values())
    run(drive)
    pass_evaluation(drive, rules)
    report = run(drive, dt.datetime(2099, 12, 31, 10))
    [row] = tracking_rows(drive, rules)
    assert row["clock_state"] == "已超期" and int(row["late_workdays"]) > 15000
    assert report.errors == 0


def test_on_windows_the_whole_path_stays_within_260_characters(tmp_path, monkeypatch):
    """Windows counts the whole path (MAX_PATH); the same rule is switched on here by
    ``XIETONG_WINDOWS_PATHS`` since the suite runs on Linux."""
    monkeypatch.setenv("XIETONG_WINDOWS_PATHS", "1")
    folder = tmp_path / ("深" * 60)
    stem = "request-" * 25  # 200 ASCII characters: within 255 bytes, beyond MAX_PATH here
    target = fit_name(folder, stem, "_登记回执.txt")
    assert len(str(target)) <= 259
    assert target.name.endswith("_登记回执.txt")
    monkeypatch.delenv("XIETONG_WINDOWS_PATHS")
    assert len(str(fit_name(folder, stem, "_登记回执.txt"))) > 259  # Linux: bytes only
