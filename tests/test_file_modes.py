"""Files written on the share can be read by colleagues (issue 9, item 4), and every writer is
the one safe writer: mode of the replaced file, else the default under the umask; locks honoured.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.io import safewrite
from automation.io.drive_init import create_new, init_drive
from automation.io.feedback import write_feedback
from automation.io.safewrite import (
    E_DEFERRED_CHANGED,
    E_DEFERRED_LOCKED,
    WriteDeferred,
    safe_write,
    snapshot,
)
from automation.io.validation import validate_file

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "validation"))
from filling import fill_form  # noqa: E402
from test_validation import GOOD_REQUEST  # noqa: E402

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes; a no-op on Windows")


@pytest.fixture(params=[0o022, 0o002], ids=["umask022", "umask002"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_a_new_file_gets_the_default_mode_under_the_umask(tmp_path: Path, umask: int) -> None:
    made = safe_write(tmp_path / "new.xlsx", b"x", expected=None).path
    assert _mode(made) == 0o666 & ~umask
    created = tmp_path / "created.xlsx"
    safe_write(created, b"x", expected=snapshot(created))
    assert _mode(created) == 0o666 & ~umask


@posix_only
def test_a_replaced_file_keeps_its_mode_and_its_backup_is_readable(
    tmp_path: Path, umask: int
) -> None:
    target = tmp_path / "跟踪表.xlsx"
    target.write_bytes(b"v1")
    target.chmod(0o640)
    result = safe_write(target, b"v2", expected=None, backup_dir=tmp_path / "备份")
    assert _mode(target) == 0o640 and target.read_bytes() == b"v2"
    assert result.backup is not None and _mode(result.backup) == 0o666 & ~umask


@posix_only
def test_init_creates_files_colleagues_can_read(tmp_path: Path, umask: int) -> None:
    report = init_drive(tmp_path / "盘")
    files = [p for p in report.created if p.is_file()]
    assert len(files) > 5  # rules, templates, tracking table, guide, drive id
    assert {p.name: _mode(p) for p in files} == {p.name: 0o666 & ~umask for p in files}
    assert not list((tmp_path / "盘").rglob(".xt-tmp-*"))


@posix_only
def test_feedback_files_are_readable_by_colleagues(tmp_path: Path, rules, umask: int) -> None:
    submitted = fill_form(rules, "request", tmp_path / "申请.xlsx", {**GOOD_REQUEST, "title": None})
    report = validate_file(submitted, rules)
    written = write_feedback(report, tmp_path / "fb", submitted)
    assert len(written) == 2
    assert [_mode(p) for p in written] == [0o666 & ~umask] * 2


def test_an_open_feedback_file_is_not_replaced(tmp_path: Path, rules) -> None:
    submitted = fill_form(rules, "request", tmp_path / "申请.xlsx", {**GOOD_REQUEST, "title": None})
    report = validate_file(submitted, rules)
    result, marked = write_feedback(report, tmp_path / "fb", submitted)
    before = {p: p.read_bytes() for p in (result, marked)}
    # the submitter has last time's result open in Excel (an owner file names them)
    (result.parent / f"~${result.name}").write_bytes(b"\x04zhao" + b" " * 60)
    with pytest.raises(WriteDeferred) as err:
        write_feedback(report, tmp_path / "fb", submitted)
    assert err.value.reason_code == E_DEFERRED_LOCKED and "zhao" in str(err.value)
    assert result.read_bytes() == before[result]


def test_a_file_created_meanwhile_is_never_overwritten(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "模板一.xlsx"

    def someone_saves_first(tmp: Path, dst: Path) -> None:
        dst.write_bytes(b"theirs")

    monkeypatch.setattr(safewrite, "_before_replace", someone_saves_first)
    with pytest.raises(WriteDeferred) as err:
        safe_write(target, b"ours", expected=snapshot(target))
    assert err.value.reason_code == E_DEFERRED_CHANGED
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left


def test_init_keeps_a_file_that_appeared_while_it_was_writing(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "使用说明.md"
    monkeypatch.setattr(safewrite, "_before_replace", lambda tmp, dst: dst.write_text("theirs"))
    assert create_new(target, b"ours") is False
    assert target.read_text() == "theirs"
    monkeypatch.setattr(safewrite, "_before_replace", None)
    assert create_new(target, b"again") is False
    other = tmp_path / "new.txt"
    assert create_new(other, b"ours") is True and other.read_bytes() == b"ours"
