"""Who has a workbook open: Office/WPS owner files, LibreOffice locks, POSIX record locks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.io.locks import _parse_office_owner, is_temporary, lock_holder


def excel_owner_file(user: str) -> bytes:
    """A 165-byte owner file laid out as Excel writes it (see automation.io.locks)."""
    ansi = user.encode("gbk", errors="replace")[:52]
    data = bytes([len(user)]) + ansi
    data += b" " * (55 - len(data))
    data += len(user).to_bytes(2, "little") + user.encode("utf-16-le")
    while len(data) < 165:
        data += b" \x00"
    return data[:165]


def word_owner_file(user: str) -> bytes:
    """A 162-byte owner file laid out as Word writes it (zeros to 54, then UTF-16)."""
    ansi = user.encode("cp1252", errors="replace")[:52]
    data = bytes([len(user)]) + ansi
    data += b"\x00" * (54 - len(data))
    data += len(user).to_bytes(2, "little") + user.encode("utf-16-le")
    return data + b"\x00" * (162 - len(data))


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    path = tmp_path / "模板二_跨部门协调事项跟踪表.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    return path


def test_nobody_holds_a_file_without_lock_files(workbook: Path) -> None:
    assert lock_holder(workbook) is None
    assert lock_holder(workbook.with_name("不存在.xlsx")) is None


def test_an_excel_owner_file_names_the_person(workbook: Path) -> None:
    owner = workbook.with_name("~$" + workbook.name)
    owner.write_bytes(excel_owner_file("张三"))
    holder = lock_holder(workbook)
    assert holder == f"张三（Excel/WPS 锁文件 ~${workbook.name}）"


def test_a_word_owner_file_is_parsed_at_its_own_offset() -> None:
    assert _parse_office_owner(word_owner_file("Li Si")) == "Li Si"
    assert _parse_office_owner(excel_owner_file("Li Si")) == "Li Si"


@given(
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x9FFF), min_size=1, max_size=52
    )
)
def test_any_owner_name_up_to_52_characters_is_read_back(user: str) -> None:
    name = user.strip()
    if not name or "\ufffd" in name:
        return
    assert _parse_office_owner(excel_owner_file(name)) == name


def test_an_unreadable_owner_file_still_locks(workbook: Path) -> None:
    workbook.with_name("~$" + workbook.name).write_bytes(b"")
    assert lock_holder(workbook) == f"未知用户（Excel/WPS 锁文件 ~${workbook.name}）"


def test_a_libreoffice_lock_names_the_user_and_host(workbook: Path) -> None:
    lock = workbook.with_name(f".~lock.{workbook.name}#")
    lock.write_text("王五,wangwu,pc-07,27.11.2026 10:05,file:///home/wangwu/.config/lo/4;", "utf-8")
    assert lock_holder(workbook) == f"王五（LibreOffice 锁文件 {lock.name}，计算机 pc-07）"
    lock.write_text(",wangwu,pc-07,27.11.2026 10:05,file:///x;", "utf-8")
    assert lock_holder(workbook).startswith("wangwu（LibreOffice")
    lock.write_text(r"Zhao\, Liu,zl,host\;1,01.01.2026 08:00,u;", "utf-8")
    assert lock_holder(workbook) == f"Zhao, Liu（LibreOffice 锁文件 {lock.name}，计算机 host;1）"


def test_a_wps_linux_lock_counts(workbook: Path) -> None:
    workbook.with_name(".~" + workbook.name).write_bytes(b"")
    assert "WPS 锁文件" in lock_holder(workbook)


def test_a_shortened_wps_lock_counts_only_when_no_other_file_owns_it(tmp_path: Path) -> None:
    doc = tmp_path / "abcdef.xlsx"
    doc.write_bytes(b"x")
    lock = tmp_path / ".~cdef.xlsx"
    lock.write_bytes(b"")
    assert lock_holder(doc) is not None
    (tmp_path / "cdef.xlsx").write_bytes(b"x")  # now the lock belongs to that file
    assert lock_holder(doc) is None
    assert lock_holder(tmp_path / "cdef.xlsx") is not None


def test_word_drops_leading_characters_of_long_names(tmp_path: Path) -> None:
    doc = tmp_path / "document.docx"
    doc.write_bytes(b"x")
    (tmp_path / "~$cument.docx").write_bytes(word_owner_file("Li Si"))
    assert lock_holder(doc).startswith("Li Si（")


def test_a_record_lock_held_by_another_process_counts(workbook: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("POSIX record locks")
    script = textwrap.dedent(
        f"""
        import fcntl, os, sys, time
        fd = os.open({str(workbook)!r}, os.O_RDWR)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        print("locked", flush=True)
        sys.stdin.readline()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert lock_holder(workbook) == "其他用户或程序（文件正被占用，无法独占打开）"
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(10)
    assert lock_holder(workbook) is None


@pytest.mark.parametrize(
    "name",
    [
        "~$跟踪表.xlsx",
        ".~lock.跟踪表.xlsx#",
        ".~跟踪表.xlsx",
        "3B2A0C00",
        "cedd4100",
        "跟踪表.xlsx.tmp",
        "~WRL0001.tmp",
        ".xt-tmp-0123456789ab.跟踪表.xlsx",
        "report.xlsx.part",
        "._跟踪表.xlsx",
    ],
)
def test_lock_and_temporary_files_are_never_input(name: str) -> None:
    assert is_temporary(name)
    assert is_temporary(Path("/共享盘/收件箱") / name)


@pytest.mark.parametrize(
    "name", ["跟踪表.xlsx", "XT-2026-0001_需求申请表.xlsx", "3B2A0C00.xlsx", "a~$b.xlsx", "notes"]
)
def test_ordinary_workbooks_are_not_temporary(name: str) -> None:
    assert not is_temporary(name)
