"""The watcher service with real observers, real files and a real drive: every valid form is
registered exactly once, every invalid one answered once, and the service stays alive."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from service_helpers import (
    answered_once,
    answers,
    excel_save,
    form_bytes,
    invalid_values,
    libreoffice_save,
    registrations,
    running,
    today_values,
    tracking_rows,
    wait_until,
)

from automation.io.drive import drive_paths
from automation.service.runner import cycle_handler

pytestmark = pytest.mark.usefixtures("_settle_zero")


@pytest.fixture
def _settle_zero(monkeypatch):
    monkeypatch.setenv("XIETONG_SETTLE_SECONDS", "0")


def alive(service) -> bool:
    return all(p["alive"] for p in service.status()["threads"].values())


def test_an_excel_save_is_registered_once_after_the_owner_file_goes(drive, rules, tmp_path):
    inbox = drive_paths(drive, rules).inbox
    data = form_bytes(rules, tmp_path / "w", today_values(1))
    with running(drive) as service:
        lock = excel_save(inbox / "申请A.xlsx", data, owner="张三")
        # saved and rested, but still open in Excel: held, not read
        wait_until(lambda: "01_申请收件箱/申请A.xlsx" in service.status()["held_files"])
        assert "张三" in service.status()["held_files"]["01_申请收件箱/申请A.xlsx"]
        assert registrations(drive) == []
        assert lock is not None
        excel_save(inbox / "申请A.xlsx", data)  # saved again, then closed
        lock.unlink()
        wait_until(lambda: len(tracking_rows(drive, rules)) == 1)
        time.sleep(1.5)  # more looks and cycles: nothing more happens
        assert len(registrations(drive)) == 1
        assert len(tracking_rows(drive, rules)) == 1
        assert alive(service)


def test_a_libreoffice_save_and_an_invalid_form_are_each_answered_once(drive, rules, tmp_path):
    inbox = drive_paths(drive, rules).inbox
    good = form_bytes(rules, tmp_path / "w", today_values(2))
    bad = form_bytes(rules, tmp_path / "w", invalid_values(3))
    with running(drive) as service:
        lock = libreoffice_save(inbox / "申请B.xlsx", good)
        libreoffice_save(inbox / "错误申请.xlsx", bad, user="赵六").unlink()
        wait_until(lambda: answers(drive, "错误申请"))
        assert registrations(drive) == []  # B is still open in LibreOffice
        lock.unlink()
        wait_until(lambda: len(tracking_rows(drive, rules)) == 1)
        time.sleep(1.5)
        assert answered_once(drive, "错误申请")
        assert len(registrations(drive)) == 1
        assert alive(service)


def test_a_slow_writer_is_read_only_when_the_file_is_complete(drive, rules, tmp_path):
    inbox = drive_paths(drive, rules).inbox
    data = form_bytes(rules, tmp_path / "w", today_values(4))
    with running(drive) as service:
        chunks = [
            data[i : i + len(data) // 15 + 1] for i in range(0, len(data), len(data) // 15 + 1)
        ]
        with open(inbox / "慢慢保存.xlsx", "wb") as f:
            for chunk in chunks:  # about 3 s of growing, a write every 0.2 s (< quiet window)
                f.write(chunk)
                f.flush()
                time.sleep(0.2)
        wait_until(lambda: len(tracking_rows(drive, rules)) == 1)
        assert answers(drive, "慢慢保存") == []  # never answered as a broken file
        assert len(registrations(drive)) == 1
        assert alive(service)


def test_a_burst_of_200_saves_of_50_files_is_one_registration_per_form(drive, rules, tmp_path):
    inbox = drive_paths(drive, rules).inbox
    n_files, saves = 50, 4
    versions = {  # two contents per file, saved alternately: the last save is version 1
        i: [
            form_bytes(
                rules,
                tmp_path / "w",
                invalid_values(i) if i % 10 == 0 else today_values(i, goal=f"第{k}版目标"),
            )
            for k in range(2)
        ]
        for i in range(n_files)
    }
    with running(drive, interval=2.0) as service:
        for i in range(n_files):
            for k in range(saves):
                excel_save(inbox / f"申请{i:02d}.xlsx", versions[i][k % 2])
        valid = [i for i in range(n_files) if i % 10]
        wait_until(lambda: len(tracking_rows(drive, rules)) == len(valid), timeout=60)
        wait_until(lambda: all(answers(drive, f"申请{i:02d}") for i in range(0, n_files, 10)))
        time.sleep(1.5)
        regs = registrations(drive)
        assert len(regs) == len(valid)
        assert sorted(r.request_fields["title"] for r in regs) == sorted(
            today_values(i)["title"] for i in valid
        )
        # the last save of each file is what was registered
        assert {r.request_fields["goal"] for r in regs} == {"第1版目标"}
        for i in range(0, n_files, 10):
            assert answered_once(drive, f"申请{i:02d}")
        assert alive(service)


def test_a_form_held_open_waits_and_others_go_on(drive, rules, tmp_path):
    inbox = drive_paths(drive, rules).inbox
    held = form_bytes(rules, tmp_path / "w", today_values(5))
    other = form_bytes(rules, tmp_path / "w", today_values(6))
    with running(drive) as service:
        lock = excel_save(inbox / "打开着.xlsx", held, owner="李四")
        excel_save(inbox / "另一个.xlsx", other)
        wait_until(lambda: len(tracking_rows(drive, rules)) == 1)
        time.sleep(3)  # held for a while (2 minutes in the field; seconds here)
        assert len(registrations(drive)) == 1
        assert "李四" in str(service.status()["held_files"])
        assert lock is not None
        lock.unlink()
        wait_until(lambda: len(tracking_rows(drive, rules)) == 2)
        assert len(registrations(drive)) == 2
        assert alive(service)


def test_an_inbox_removed_and_recreated_is_unavailable_not_deleted(drive, rules, tmp_path):
    paths = drive_paths(drive, rules)
    first = form_bytes(rules, tmp_path / "w", today_values(7))
    second = form_bytes(rules, tmp_path / "w", today_values(8))
    with running(drive, interval=0.5) as service:
        excel_save(paths.inbox / "先.xlsx", first)
        wait_until(lambda: len(tracking_rows(drive, rules)) == 1)
        shutil.move(paths.inbox, drive / "收件箱搬走了")
        wait_until(lambda: service.status()["state"] == "unavailable")
        assert "收件箱" in service.status()["unavailable"]
        wait_until(lambda: "暂时无法访问" in (drive / "服务状态.txt").read_text("utf-8"))
        paths.inbox.mkdir()
        excel_save(paths.inbox / "后.xlsx", second)
        wait_until(lambda: len(tracking_rows(drive, rules)) == 2)
        assert service.status()["state"] == "running"
        assert len(registrations(drive)) == 2
        assert alive(service)


def test_a_raising_handler_is_retried_then_the_file_is_quarantined_until_it_changes(
    drive, rules, tmp_path
):
    paths = drive_paths(drive, rules)
    calls: dict[str, int] = {}

    def flaky(root: Path, files):
        for f in files:
            calls[f.path.name] = calls.get(f.path.name, 0) + 1
            if f.path.name == "偶尔失败.xlsx" and calls[f.path.name] <= 2:
                raise RuntimeError("模拟的一次失败")
            if f.path.name == "总是失败.xlsx" and f.path.read_bytes() == poison:
                raise RuntimeError("模拟的处理程序错误")
        return cycle_handler(root, files)

    good = form_bytes(rules, tmp_path / "w", today_values(9))
    shaky = form_bytes(rules, tmp_path / "w", today_values(10))
    poison = form_bytes(rules, tmp_path / "w", today_values(11))
    with running(drive, handler=flaky, quarantine_after=3, interval=0.5) as service:
        excel_save(paths.inbox / "正常.xlsx", good)
        excel_save(paths.inbox / "偶尔失败.xlsx", shaky)
        excel_save(paths.inbox / "总是失败.xlsx", poison)
        note = paths.feedback / "总是失败_处理失败.txt"
        wait_until(note.exists)
        wait_until(lambda: len(tracking_rows(drive, rules)) == 2)
        status = service.status()
        assert [q["file"] for q in status["quarantined"]] == ["01_申请收件箱/总是失败.xlsx"]
        assert "模拟的处理程序错误" in note.read_text("utf-8")
        tries = calls["总是失败.xlsx"]
        time.sleep(1.5)
        assert calls["总是失败.xlsx"] == tries  # skipped while unchanged
        assert status["errors"] and alive(service)
        # saved again with other content: looked at afresh, and this time it goes through
        excel_save(
            paths.inbox / "总是失败.xlsx", form_bytes(rules, tmp_path / "w", today_values(12))
        )
        wait_until(lambda: len(tracking_rows(drive, rules)) == 3)
        assert service.status()["quarantined"] == []
        assert len(registrations(drive)) == 3


def test_polling_only_reaches_the_same_end_state(drive, rules, tmp_path):
    inbox = drive_paths(drive, rules).inbox
    good = form_bytes(rules, tmp_path / "w", today_values(13))
    bad = form_bytes(rules, tmp_path / "w", invalid_values(14))
    with running(drive, poll_only=True, interval=0.5) as service:
        assert "observer" not in service.supervisor.parts
        lock = excel_save(inbox / "轮询.xlsx", good, owner="张三")
        libreoffice_save(inbox / "轮询错误.xlsx", bad).unlink()
        wait_until(lambda: answers(drive, "轮询错误"))
        assert lock is not None
        lock.unlink()
        wait_until(lambda: len(tracking_rows(drive, rules)) == 1)
        time.sleep(1.5)
        assert len(registrations(drive)) == 1
        assert answered_once(drive, "轮询错误")
        assert alive(service)


def test_the_tracking_table_saved_by_the_office_asks_for_a_cycle(drive, rules, tmp_path):
    paths = drive_paths(drive, rules)
    with running(drive, interval=0.5) as service:
        wait_until(lambda: service.scanner._drive_seen is not None)
        before = service.cycles
        data = paths.tracking.read_bytes()
        os.utime(paths.tracking)  # saved (unchanged content is enough to look)
        assert paths.tracking.read_bytes() == data
        wait_until(lambda: service.cycles > before)


def test_a_share_that_lists_empty_or_vanishes_is_unavailable_not_deleted(drive, rules, tmp_path):
    from automation.service.scanner import Scanner

    paths = drive_paths(drive, rules)
    excel_save(paths.inbox / "在.xlsx", form_bytes(rules, tmp_path / "w", today_values(20)))
    scanner = Scanner(paths, quiet_s=0)
    assert [f.rel for f in scanner.look().waiting] == ["01_申请收件箱/在.xlsx"]
    hidden = tmp_path / "挂载点下的原内容"
    shutil.move(drive, hidden)
    assert "无法访问" in (scanner.look().unavailable or "")  # unmounted: the folder is gone
    drive.mkdir()
    assert "列表为空" in (scanner.look().unavailable or "")  # an empty mount point
    drive.rmdir()
    shutil.move(hidden, drive)
    # back: the file is still known and judged as before (ready at this look, quiet 0)
    assert [f.rel for f in scanner.look().ready] == ["01_申请收件箱/在.xlsx"]


def test_broken_rules_never_stop_the_service_and_fixed_rules_resume_it(drive, rules, tmp_path):
    paths = drive_paths(drive, rules)
    schedule = paths.rules / "schedule.yaml"
    good = schedule.read_text("utf-8")
    schedule.write_text(good + "\nno_such_key: 1\n", "utf-8")
    with running(drive, interval=0.5) as service:
        excel_save(
            paths.inbox / "规则坏了.xlsx", form_bytes(rules, tmp_path / "w", today_values(21))
        )
        wait_until(lambda: any("E_RULES" in e["error"] for e in service.status()["errors"][1:]))
        assert registrations(drive) == [] and service.status()["quarantined"] == []
        assert alive(service)
        schedule.write_text(good, "utf-8")  # IT fixes the file
        wait_until(lambda: len(tracking_rows(drive, rules)) == 1)
        assert alive(service)
