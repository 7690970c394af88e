"""Every file dropped in the inbox gets an answer: a template-format request is registered, an
attachment named in a request's 附件清单 goes to the item folder, anything else gets a note."""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from pathlib import Path

from intake_helpers import AS_OF, drop_request, request_values, tracking_rows

from automation.io.drive import drive_paths
from automation.process.cycle import run_cycle

TEMPLATE_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml"
SHEET_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


def run(drive: Path, as_of: dt.datetime = AS_OF):
    return run_cycle(drive, as_of=as_of, settle_s=0)


def _as_template(form: Path) -> Path:
    """The same form saved by Excel as a template (.xltx): another main content type."""
    target = form.with_suffix(".xltx")
    with zipfile.ZipFile(form) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "[Content_Types].xml":
                assert SHEET_TYPE in data
                data = data.replace(SHEET_TYPE, TEMPLATE_TYPE)
            out.writestr(info, data)
    os.utime(target, (form.stat().st_mtime, form.stat().st_mtime))
    form.unlink()
    return target


def test_a_request_saved_as_xltx_is_registered(drive, rules):
    template = _as_template(drop_request(drive, rules, "申请.xlsx", request_values()))
    report = run(drive)
    assert [(o.file, o.result) for o in report.intake] == [
        ("01_申请收件箱/申请.xltx", "registered")
    ]
    assert [r["item_id"] for r in tracking_rows(drive, rules)] == ["XT-2026-0001"]
    assert not template.exists()  # filed into the item folder
    folder = next(drive_paths(drive, rules).items.glob("XT-2026-0001*"))
    assert (folder / "申请.xltx").is_file()


def test_an_attachment_listed_in_the_request_ends_up_in_the_item_folder(drive, rules):
    paths = drive_paths(drive, rules)
    drop_request(
        drive, rules, "试产申请.xlsx", request_values(attachments="需求说明.docx、背景资料")
    )
    (paths.inbox / "需求说明.docx").write_bytes(b"PK\x03\x04 a word document")
    report = run(drive)
    results = {o.file: (o.result, o.item_id) for o in report.intake}
    assert results["01_申请收件箱/需求说明.docx"] == ("attachment", "XT-2026-0001")
    folder = next(paths.items.glob("XT-2026-0001*"))
    assert (folder / "需求说明.docx").read_bytes() == b"PK\x03\x04 a word document"
    assert not (paths.inbox / "需求说明.docx").exists()
    # an attachment dropped later, named by its stem only, follows the same request
    (paths.inbox / "背景资料.pdf").write_bytes(b"%PDF-1.7")
    report = run(drive, AS_OF + dt.timedelta(hours=1))
    assert [(o.file, o.result) for o in report.intake] == [
        ("01_申请收件箱/背景资料.pdf", "attachment")
    ]
    assert (folder / "背景资料.pdf").is_file()


def test_a_file_with_the_stem_of_the_form_is_its_attachment(drive, rules):
    paths = drive_paths(drive, rules)
    drop_request(drive, rules, "市场部申请.xlsx", request_values())
    (paths.inbox / "市场部申请.pdf").write_bytes(b"%PDF-1.7 scanned signature page")
    report = run(drive)
    results = {o.file: o.result for o in report.intake}
    assert results == {
        "01_申请收件箱/市场部申请.xlsx": "registered",
        "01_申请收件箱/市场部申请.pdf": "attachment",
    }
    folder = next(paths.items.glob("XT-2026-0001*"))
    assert sorted(p.name for p in folder.iterdir()) == ["市场部申请.pdf", "市场部申请.xlsx"]


def test_an_unrelated_pdf_gets_a_note_once(drive, rules):
    paths = drive_paths(drive, rules)
    (paths.inbox / "年度总结.pdf").write_bytes(b"%PDF-1.7")
    report = run(drive)
    [outcome] = report.intake
    assert outcome.result == "invalid" and "不是部门间工作协调申请表" in outcome.message
    note = paths.feedback / "年度总结_校验结果.txt"
    text = note.read_text(encoding="utf-8-sig")
    assert "年度总结.pdf" in text and "附件清单" in text
    assert (paths.inbox / "年度总结.pdf").exists()  # the requester's file is left alone
    # answered once: the next run does not report or rewrite it
    stamp = note.stat().st_mtime_ns
    assert run(drive, AS_OF + dt.timedelta(hours=1)).intake == []
    assert note.stat().st_mtime_ns == stamp


def test_a_legacy_workbook_and_an_empty_file_are_answered_not_ignored(drive, rules):
    paths = drive_paths(drive, rules)
    (paths.inbox / "旧格式.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    (paths.inbox / "空的.xlsx").write_bytes(b"")
    report = run(drive)
    results = {o.file: o.result for o in report.intake}
    assert results == {"01_申请收件箱/旧格式.xls": "invalid", "01_申请收件箱/空的.xlsx": "invalid"}
    assert (paths.feedback / "空的_校验结果.xlsx").exists() or (
        paths.feedback / "空的_校验结果.txt"
    ).exists()
