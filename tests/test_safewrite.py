"""Safe writes: never over a person's edit, never while the file is open, never half-written."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from automation.errors import XietongError
from automation.io import safewrite
from automation.io.locks import is_temporary
from automation.io.safewrite import (
    WriteDeferred,
    cleanup_temp,
    read_with_snapshot,
    safe_write,
    safe_write_text,
    snapshot,
)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "share" / "跟踪表.xlsx"
    path.parent.mkdir()
    path.write_bytes(b"version 1")
    return path


def excel_owner_file(user: str) -> bytes:
    """Excel's 165-byte owner file: length, ANSI name, spaces to 55, length, UTF-16 name."""
    data = bytes([len(user)]) + user.encode("gbk")
    data += b" " * (55 - len(data)) + len(user).to_bytes(2, "little") + user.encode("utf-16-le")
    return (data + b" \x00" * 60)[:165]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if is_temporary(p))


def test_a_write_replaces_the_file_and_returns_the_new_snapshot(target: Path) -> None:
    before = snapshot(target)
    result = safe_write(target, b"version 2", expected=before)
    assert target.read_bytes() == b"version 2"
    assert result.snapshot == snapshot(target)
    assert result.attempts == 1 and result.backup is None
    assert leftovers(target.parent) == []
    # the returned snapshot is good for the next write
    safe_write(target, b"version 3", expected=result.snapshot)
    assert target.read_bytes() == b"version 3"


def test_a_file_changed_since_it_was_read_is_not_written(target: Path) -> None:
    data, seen = read_with_snapshot(target)
    target.write_bytes("version 1, edited by 张三".encode())
    with pytest.raises(WriteDeferred) as err:
        safe_write(target, data + b" + ours", expected=seen)
    assert err.value.code == err.value.reason_code == "E_DEFERRED_CHANGED"
    assert isinstance(err.value, XietongError)
    assert target.read_bytes() == "version 1, edited by 张三".encode()
    assert leftovers(target.parent) == []


def test_a_same_size_edit_within_the_same_second_is_still_seen(target: Path) -> None:
    seen = snapshot(target)
    target.write_bytes(b"version X")  # same size
    os.utime(target, ns=(seen.mtime_ns, seen.mtime_ns))  # and the same mtime (coarse SMB clock)
    with pytest.raises(WriteDeferred, match="被修改"):
        safe_write(target, b"ours", expected=seen)


def test_a_touch_without_change_does_not_block(target: Path) -> None:
    seen = snapshot(target)
    os.utime(target, ns=(seen.mtime_ns + 5_000_000_000, seen.mtime_ns + 5_000_000_000))
    safe_write(target, b"version 2", expected=seen)
    assert target.read_bytes() == b"version 2"


def test_creating_a_file_refuses_one_that_appeared_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "回执.txt"
    absent = snapshot(path)
    assert not absent.exists
    path.write_text("someone else's", "utf-8")
    with pytest.raises(WriteDeferred):
        safe_write_text(path, "ours", expected=absent)
    path.unlink()
    safe_write_text(path, "ours", expected=absent)
    assert path.read_text("utf-8") == "ours"


def test_an_owner_file_defers_the_write_until_it_is_gone(target: Path) -> None:
    owner = target.with_name("~$" + target.name)
    owner.write_bytes(excel_owner_file("张三"))
    seen = snapshot(target)
    with pytest.raises(WriteDeferred) as err:
        safe_write(target, b"version 2", expected=seen)
    assert err.value.code == "E_DEFERRED_LOCKED"
    assert err.value.holder == f"张三（Excel/WPS 锁文件 ~${target.name}）"
    assert "张三" in err.value.message_zh
    assert target.read_bytes() == b"version 1"
    assert leftovers(target.parent) == [owner.name]
    owner.unlink()
    safe_write(target, b"version 2", expected=seen)
    assert target.read_bytes() == b"version 2"


def test_a_libreoffice_lock_defers_the_write(target: Path) -> None:
    lock = target.with_name(f".~lock.{target.name}#")
    lock.write_text("李四,lisi,pc-02,27.11.2026 09:00,file:///x;", "utf-8")
    with pytest.raises(WriteDeferred) as err:
        safe_write(target, b"v2", expected=None)
    assert err.value.holder.startswith("李四（LibreOffice")


def test_backups_keep_the_newest_previous_versions(target: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backup"
    for n in range(2, 8):
        result = safe_write(
            target, f"version {n}".encode(), expected=None, backup_dir=backups, keep=3
        )
        assert result.backup is not None
        assert result.backup.read_bytes() == f"version {n - 1}".encode()
    kept = sorted(backups.iterdir())
    assert [p.read_bytes() for p in kept] == [b"version 4", b"version 5", b"version 6"]
    assert all(p.suffix == ".xlsx" and p.name.startswith("跟踪表.") for p in kept)


def test_a_backup_is_the_replaced_file_itself_unless_another_name_holds_it(
    target: Path, tmp_path: Path
) -> None:
    """The version replaced goes to the backups by a hard link (its bytes not written again):
    after the write the backup is its own file, the new version another. A file another name
    also holds (a hard link someone made) is copied instead: that name keeps the live file."""
    backups = tmp_path / "backup"
    before = os.stat(target)
    result = safe_write(target, b"version 2", expected=None, backup_dir=backups)
    assert result.backup is not None and result.backup.read_bytes() == b"version 1"
    assert os.stat(result.backup).st_ino == before.st_ino  # the very file, not a copy
    assert os.stat(result.backup).st_nlink == 1 and not os.path.samefile(result.backup, target)
    other = tmp_path / "other-name.xlsx"
    os.link(target, other)
    result = safe_write(target, b"version 3", expected=None, backup_dir=backups)
    assert result.backup is not None and result.backup.read_bytes() == b"version 2"
    assert not os.path.samefile(result.backup, other)  # a copy: the other name is not a backup
    assert other.read_bytes() == b"version 2" and target.read_bytes() == b"version 3"


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges there")
def test_a_file_behind_a_symbolic_link_is_backed_up_by_a_copy(tmp_path: Path) -> None:
    real = tmp_path / "real.xlsx"
    real.write_bytes(b"version 1")
    link = tmp_path / "跟踪表.xlsx"
    link.symlink_to(real)
    result = safe_write(link, b"version 2", expected=None, backup_dir=tmp_path / "bk")
    assert result.backup is not None and not result.backup.is_symlink()
    assert result.backup.read_bytes() == b"version 1" and real.read_bytes() == b"version 1"
    assert os.stat(result.backup).st_ino != os.stat(real).st_ino


def test_a_file_changed_in_place_while_backed_up_leaves_no_linked_backup(
    target: Path, tmp_path: Path, monkeypatch
) -> None:
    """Someone writes into the file between its backup and the replace: the write waits, and
    the backup that was a second name of the live file is taken away again."""
    from automation.io import safewrite as sw

    backups = tmp_path / "backup"
    real = sw._backup

    def then_edited(path, *args):
        made = real(path, *args)
        with open(path, "ab") as fh:  # in place: the same file, a new size
            fh.write(b" and more")
        return made

    monkeypatch.setattr(sw, "_backup", then_edited)
    with pytest.raises(WriteDeferred) as err:
        safe_write(target, b"version 2", expected=None, backup_dir=backups)
    assert err.value.code == "E_DEFERRED_CHANGED"
    assert target.read_bytes() == b"version 1 and more"
    assert list(backups.iterdir()) == []


def test_a_write_deferred_after_the_backup_leaves_no_linked_backup(
    target: Path, tmp_path: Path, monkeypatch
) -> None:
    """Someone opens the file between its backup and the replace: nothing is replaced, so no
    backup stays (it would be a second name of the live file)."""
    from automation.io import safewrite as sw

    backups = tmp_path / "backup"
    real = sw._backup

    def then_opened(path, *args):
        made = real(path, *args)
        path.with_name(f"~${path.name}").write_bytes(b"\x04zhao" + b" " * 60)  # Excel's owner file
        return made

    monkeypatch.setattr(sw, "_backup", then_opened)
    with pytest.raises(WriteDeferred) as err:
        safe_write(target, b"version 2", expected=None, backup_dir=backups)
    assert err.value.code == "E_DEFERRED_LOCKED"
    assert target.read_bytes() == b"version 1" and list(backups.iterdir()) == []


def test_a_new_file_has_no_backup(tmp_path: Path) -> None:
    result = safe_write(tmp_path / "new.xlsx", b"x", expected=None, backup_dir=tmp_path / "bk")
    assert result.backup is None


def test_a_sharing_violation_at_replace_is_retried(target: Path, monkeypatch) -> None:
    # Windows only: a person opens the file between our check and os.replace. The real thing
    # cannot happen on Linux, so os.replace is made to fail like Windows does.
    real_replace = os.replace
    failures = iter([True, True])

    def flaky_replace(src, dst):
        if next(failures, False):
            raise PermissionError(13, "The process cannot access the file")
        real_replace(src, dst)

    monkeypatch.setattr(safewrite, "REPLACE_PAUSE_S", 0.0)
    monkeypatch.setattr(safewrite.os, "replace", flaky_replace)
    result = safe_write(target, b"version 2", expected=None)
    assert result.attempts == 3
    assert target.read_bytes() == b"version 2"


def test_a_replace_that_keeps_failing_is_deferred_and_leaves_no_temp(
    target: Path, monkeypatch
) -> None:
    def always_denied(src, dst):
        raise PermissionError(13, "The process cannot access the file")

    monkeypatch.setattr(safewrite, "REPLACE_PAUSE_S", 0.0)
    monkeypatch.setattr(safewrite.os, "replace", always_denied)
    with pytest.raises(WriteDeferred) as err:
        safe_write(target, b"version 2", expected=None)
    assert err.value.code == "E_DEFERRED_LOCKED"
    assert target.read_bytes() == b"version 1"
    assert leftovers(target.parent) == []


KILLER = textwrap.dedent(
    """
    import os, sys
    from automation.io import safewrite
    safewrite._before_replace = lambda tmp, dst: os._exit(9)
    safewrite.safe_write(sys.argv[1], b"version 2 " * 100000, expected=None)
    """
)


def test_a_process_killed_before_the_replace_leaves_the_original_intact(target: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(target)], cwd=REPO, capture_output=True, timeout=60
    )
    assert proc.returncode == 9, proc.stderr
    assert target.read_bytes() == b"version 1"
    temps = leftovers(target.parent)
    assert len(temps) == 1 and temps[0].startswith(".xt-tmp-") and temps[0].endswith(target.name)
    assert (target.parent / temps[0]).stat().st_size == len(b"version 2 " * 100000)
    # a young temp file may belong to a write in progress: left alone
    assert cleanup_temp(target.parent) == []
    removed = cleanup_temp(target.parent, older_than_s=0)
    assert [p.name for p in removed] == temps
    assert leftovers(target.parent) == []
    # the next run completes the work
    safe_write(target, b"version 2", expected=snapshot(target))
    assert target.read_bytes() == b"version 2"


def test_cleanup_touches_only_our_own_temp_names(tmp_path: Path) -> None:
    for name in ["~$a.xlsx", ".~lock.a.xlsx#", "3B2A0C00", "a.tmp", ".xt-tmp-nothex.a.xlsx"]:
        (tmp_path / name).write_bytes(b"x")
    ours = tmp_path / ".xt-tmp-0123456789ab.a.xlsx"
    ours.write_bytes(b"x")
    assert cleanup_temp(tmp_path, older_than_s=0) == [ours]
    assert len(list(tmp_path.iterdir())) == 5
    assert cleanup_temp(tmp_path / "missing") == []


def test_file_mode_is_kept(target: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("POSIX modes")
    target.chmod(0o640)
    safe_write(target, b"version 2", expected=None)
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_folder_that_cannot_be_written_gives_a_coded_error(tmp_path: Path) -> None:
    with pytest.raises(XietongError) as err:
        safe_write(tmp_path / "no" / "such" / "folder.xlsx", b"x", expected=None)
    assert err.value.code == "E_WRITE_FAILED"
