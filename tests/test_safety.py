"""Hostile and broken files end in a coded error within seconds, with the process intact."""

from __future__ import annotations

import os
import resource
import sys
import time
import zipfile
from pathlib import Path

import pytest

from automation.core.columns import decode_column
from automation.io.reader import ReaderPool, read_workbook
from automation.io.safety import FileRejected, check_file
from automation.io.validation import validate_file
from automation.rules.validation import ValidationRules

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "validation"))
import hostile  # noqa: E402

LIMITS = ValidationRules()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (hostile.billion_laughs, "E_UNSAFE_XML"),
        (hostile.external_entity, "E_UNSAFE_XML"),
        (lambda d: hostile.zip_bomb(d, 32), "E_ZIP_BOMB"),
        (hostile.huge_dimension, "E_TOO_LARGE"),
        (hostile.far_cell, "E_TOO_LARGE"),
        (hostile.huge_shared_strings, "E_TOO_LARGE"),
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "zip-bomb",
        "XFD1048576",
        "far-cell",
        "shared-strings",
    ],
)
def test_hostile_workbook_is_rejected_quickly_in_bounded_memory(tmp_path, rules, make, code):
    path = make(tmp_path)
    before = _rss_mb()
    start = time.monotonic()
    report = validate_file(path, rules)
    assert time.monotonic() - start < 5
    assert _rss_mb() - before < 200
    assert [p.code for p in report.problems] == [code]
    assert not report.readable and not report.ok
    assert report.problems[0].message  # a Chinese explanation, not a traceback


def test_a_zip_over_the_unpacked_limit_is_too_large(tmp_path):
    path = hostile.zip_bomb(tmp_path, 8)
    limits = LIMITS.model_copy(update={"max_uncompressed_mb": 4})
    with pytest.raises(FileRejected) as exc:
        check_file(path, limits)
    assert exc.value.code == "E_TOO_LARGE"


def test_a_file_over_the_size_limit_is_rejected_before_opening(tmp_path):
    path = hostile.base_workbook(tmp_path / "a.xlsx")
    limits = LIMITS.model_copy(update={"max_file_mb": 0.001})
    with pytest.raises(FileRejected) as exc:
        check_file(path, limits)
    assert exc.value.code == "E_TOO_LARGE"


def test_calamine_aborting_on_a_crafted_file_does_not_take_the_process_down(tmp_path):
    """Without the pre-parse checks, calamine aborts on these files; the worker absorbs it."""
    pool = ReaderPool(memory_mb=512)
    try:
        for make in (hostile.far_cell, hostile.huge_shared_strings):
            with pytest.raises(FileRejected) as exc:
                pool.read(make(tmp_path), {}, 30)
            assert exc.value.code == "E_READER_CRASH"
        # the next file is read by a fresh worker
        book = pool.read(hostile.base_workbook(tmp_path / "ok.xlsx"), {}, 30)
        first_row = [decode_column(c)[0] for c in book["sheets"]["Sheet1"]["columns"]]
        assert first_row == ["hello"]
    finally:
        pool.close()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe to make the reader hang")
def test_a_reader_that_hangs_is_stopped_by_the_timeout(tmp_path):
    fifo = tmp_path / "hang.xlsx"
    os.mkfifo(fifo)  # opening it for reading blocks forever: no writer
    pool = ReaderPool(memory_mb=512)
    try:
        start = time.monotonic()
        with pytest.raises(FileRejected) as exc:
            pool.read(fifo, {}, 1.0)
        assert exc.value.code == "E_READ_TIMEOUT"
        assert time.monotonic() - start < 10
        assert pool.read(hostile.base_workbook(tmp_path / "ok.xlsx"), {}, 30)["names"] == ["Sheet1"]
    finally:
        pool.close()


_INLINE_CHILD = """
import os, sys, time
from pathlib import Path
from automation.io import reader
reader.parse_here(512)
ok, fifo, timeout = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
book = reader._INLINE.read(ok, {}, timeout)
assert book["names"] == ["Sheet1"]
if fifo == "-":  # the chunk is done: the watchdog let go, the worker may wait for long
    reader.parsing_done()
    time.sleep(3 * timeout)
    print("still here", flush=True)
    sys.exit(0)
time.sleep(0.5 * timeout)  # a parse soon after keeps the watchdog it found
print("parsing", flush=True)
reader._INLINE.read(Path(fifo), {}, timeout)  # opening it blocks: no writer
print("not stopped", flush=True)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe to make the reader hang")
def test_a_prefetch_worker_whose_parse_hangs_ends_between_one_and_two_timeouts(tmp_path):
    """A prefetch worker parses in its own process under ``faulthandler``'s watchdog, set for
    twice the timeout and set again only when a parse starts a timeout or more after it was
    set: a hanging parse ends the process, never before the timeout, at the latest after
    twice it; between chunks the watchdog is let go."""
    import subprocess

    ok = hostile.base_workbook(tmp_path / "ok.xlsx")
    fifo = tmp_path / "hang.xlsx"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    timeout = 2.0
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _INLINE_CHILD, str(ok), str(fifo), str(timeout)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    took = time.monotonic() - start
    assert proc.stdout.split() == ["parsing"] and proc.returncode != 0
    # set before the first parse (after the import), so at most 2 timeouts after that
    assert 1.5 * timeout <= took < 2 * timeout + 8
    idle = subprocess.run(
        [sys.executable, "-c", _INLINE_CHILD, str(ok), "-", "0.5"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert idle.returncode == 0 and idle.stdout.split() == ["still", "here"]


def test_encrypted_and_password_protected_files(tmp_path):
    ole = tmp_path / "secret.xlsx"  # what Excel writes for "encrypt with password"
    ole.write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500 + "EncryptionInfo".encode("utf-16-le")
    )
    with pytest.raises(FileRejected) as exc:
        check_file(ole, LIMITS)
    assert exc.value.code == "E_ENCRYPTED"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "E_EMPTY"),
        (b"<html><table><tr><td>1</td></tr></table></html>", "E_LEGACY_FORMAT"),
        (
            b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>',
            "E_LEGACY_FORMAT",
        ),
        ("部门,金额\n研发部,100\n".encode(), "E_LEGACY_FORMAT"),
        (b"\x09\x00\x04\x00\x00\x00\x10\x00", "E_LEGACY_FORMAT"),  # Excel 2.x BIFF2
        (b"\x00\x01\x02\x03garbage\xff\xfe", "E_CORRUPT"),
        (b"PK\x03\x04 truncated zip", "E_CORRUPT"),
    ],
    ids=["empty", "html-as-xls", "excel-2003-xml", "csv", "biff2", "garbage", "truncated-zip"],
)
def test_files_that_are_not_workbooks(tmp_path, rules, content, code):
    path = tmp_path / "申请表.xls"
    path.write_bytes(content)
    report = validate_file(path, rules)
    assert [p.code for p in report.problems] == [code]
    assert not report.readable


def test_a_word_document_renamed_to_xlsx(tmp_path):
    path = tmp_path / "note.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(FileRejected) as exc:
        check_file(path, LIMITS)
    assert exc.value.code == "E_LEGACY_FORMAT"


def test_a_missing_file(tmp_path, rules):
    with pytest.raises(FileRejected) as exc:
        read_workbook(tmp_path / "gone.xlsx", rules)
    assert exc.value.code == "E_FILE_UNREADABLE"
    assert exc.value.exit_code == 2


def test_error_cells_are_found_by_the_scan(tmp_path):
    path = tmp_path / "err.xlsx"
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_formula("B2", "=NA()", None, "#N/A")
    wb.close()
    info = check_file(path, LIMITS)
    assert info.error_parts == ("xl/worksheets/sheet1.xml",)


def _rewrite(src: Path, dst: Path, change) -> None:
    """A copy of the zip ``src`` with ``change(name, data) -> data`` applied to each part."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, change(info.filename, zin.read(info)))


def _small_book(path: Path) -> Path:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet().write("A1", "甲")
    wb.close()
    return path


def test_a_small_part_read_from_memory_is_scanned_like_a_streamed_one(tmp_path):
    src = _small_book(tmp_path / "a.xlsx")
    bad = tmp_path / "doctype.xlsx"
    _rewrite(
        src,
        bad,
        lambda name, data: (
            data.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "b">]>', 1)
            if name == "xl/styles.xml"
            else data
        ),
    )
    with pytest.raises(FileRejected) as exc:
        check_file(bad, LIMITS)
    assert exc.value.code == "E_UNSAFE_XML" and "xl/styles.xml" in str(exc.value)
    far = tmp_path / "far.xlsx"
    _rewrite(
        src,
        far,
        lambda name, data: (
            data.replace(b'r="A1"', b'r="A9999999"') if name == "xl/worksheets/sheet1.xml" else data
        ),
    )
    with pytest.raises(FileRejected) as exc:
        check_file(far, LIMITS)
    assert exc.value.code == "E_TOO_LARGE"


def test_a_part_whose_bytes_disagree_with_the_directory_is_corrupt(tmp_path):
    """A flipped byte in a deflated part: the CRC disagrees, the part is read through zipfile,
    which reports it (as before the parts were read from memory)."""
    path = _small_book(tmp_path / "a.xlsx")
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
        at = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        size = info.compress_size
    data = bytearray(path.read_bytes())
    data[at + size // 2] ^= 0x55
    path.write_bytes(bytes(data))
    with pytest.raises(FileRejected) as exc:
        check_file(path, LIMITS)
    assert exc.value.code == "E_CORRUPT"
