"""One rule for file names: what is a workbook, what is never input (automation.io.files)."""

from __future__ import annotations

import contextlib
import os
import sys
import zipfile
from pathlib import Path

import pytest

from automation.io import locks, validation
from automation.io.files import (
    LEGACY_SUFFIXES,
    WORKBOOK_SUFFIXES,
    is_legacy_name,
    is_temporary,
    is_workbook_name,
)
from automation.io.validation import validate_file, validate_paths

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "validation"))
from filling import fill_form  # noqa: E402
from test_validation import GOOD_REQUEST, TODAY  # noqa: E402

NAMES = [
    # (name, temporary?) — the cases the two old rules disagreed on come first
    (".hidden.xlsx", True),  # a dot-file is hidden: never a form someone meant to submit
    ("3B2A0C00", True),  # Excel's temporary save name: 8 hex digits, no suffix
    ("cedd4100", True),
    ("a.xlsx.part", True),  # a download still running
    ("~$跟踪表.xlsx", True),  # Office / WPS owner file
    (".~lock.跟踪表.xlsx#", True),  # LibreOffice lock
    (".~跟踪表.xlsx", True),  # WPS on Linux
    ("._跟踪表.xlsx", True),  # macOS AppleDouble
    ("~WRL0001.tmp", True),
    ("~ar3A1.TMP", True),
    ("跟踪表.xlsx.tmp", True),
    ("跟踪表.temp", True),
    ("申请.xlsx.crdownload", True),
    ("申请.xlsx.partial", True),
    ("申请.xlsx~", True),  # editor backup
    (".xt-tmp-0123456789ab.跟踪表.xlsx", True),  # ours
    ("跟踪表.xlsx", False),
    ("XT-2026-0001_需求申请表.xlsx", False),
    ("3B2A0C00.xlsx", False),  # hex stem, but a real suffix
    ("3B2A0C0", False),  # 7 digits
    ("3B2A0C00G", False),
    ("a~$b.xlsx", False),
    ("~草稿.xlsx", False),  # a tilde alone does not make a temporary file
    ("notes", False),
    ("报告.part.xlsx", False),
    ("", False),
]


@pytest.mark.parametrize(("name", "temporary"), NAMES)
def test_one_rule_decides_which_names_are_temporary(name: str, temporary: bool) -> None:
    assert is_temporary(name) is temporary
    if name:
        assert is_temporary(Path("/共享盘/01_收件箱") / name) is temporary
    # the old names are the same rule, not a second one
    assert locks.is_temporary(name) is temporary
    assert validation.is_temporary(Path(name)) is temporary


@pytest.mark.parametrize(
    ("name", "workbook", "legacy"),
    [
        ("申请.xlsx", True, False),
        ("申请.XLSM", True, False),
        ("申请.xltx", True, False),
        ("申请.xltm", True, False),
        ("申请.xls", True, True),
        ("申请.xlsb", True, True),
        ("申请.ods", True, True),
        ("申请.et", True, True),
        ("附件.docx", False, False),
        ("附件.pdf", False, False),
        ("~$申请.xlsx", False, False),
        (".~lock.申请.xls#", False, False),
        ("申请.xlsx.part", False, False),
    ],
)
def test_one_list_of_workbook_suffixes(name: str, workbook: bool, legacy: bool) -> None:
    assert is_workbook_name(name) is workbook
    assert is_workbook_name(name, legacy=False) is (workbook and not legacy)
    assert is_legacy_name(name) is legacy or is_temporary(name)


def test_the_lists_do_not_overlap() -> None:
    assert not set(WORKBOOK_SUFFIXES) & set(LEGACY_SUFFIXES)
    assert validation.WORKBOOK_SUFFIXES == WORKBOOK_SUFFIXES + LEGACY_SUFFIXES


def _as_template(src: Path, dst: Path) -> Path:
    """``src`` saved as an Excel template: only the main part's content type changes."""
    with zipfile.ZipFile(src) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    types = parts["[Content_Types].xml"].decode("utf-8")
    assert "spreadsheetml.sheet.main+xml" in types
    types = types.replace("spreadsheetml.sheet.main+xml", "spreadsheetml.template.main+xml")
    parts["[Content_Types].xml"] = types.encode("utf-8")
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return dst


def test_a_request_saved_as_a_template_validates_like_the_xlsx(tmp_path: Path, rules) -> None:
    folder = tmp_path / "收件箱"
    good = fill_form(rules, "request", folder / "申请.xlsx", GOOD_REQUEST)
    bad = fill_form(rules, "request", tmp_path / "错.xlsx", {**GOOD_REQUEST, "title": None})
    _as_template(good, folder / "申请模板.xltx")
    _as_template(bad, folder / "错模板.xltx")
    bad.unlink()
    reports = {r.path.name: r for r in validate_paths([folder], rules, today=TODAY)}
    assert set(reports) == {"申请.xlsx", "申请模板.xltx", "错模板.xltx"}
    xlsx, xltx = reports["申请.xlsx"], reports["申请模板.xltx"]
    assert xltx.kind == xlsx.kind == "request" and xltx.problems == xlsx.problems == []
    assert xltx.fields == xlsx.fields
    assert [p.code for p in reports["错模板.xltx"].problems] == ["E_REQUIRED"]
    assert validate_file(folder / "申请模板.xltx", rules, today=TODAY).fields == xlsx.fields


def test_a_template_gets_its_highlighted_copy_as_an_ordinary_workbook(
    tmp_path: Path, rules
) -> None:
    import python_calamine as pc

    from automation.io.feedback import write_feedback

    bad = fill_form(rules, "request", tmp_path / "错.xlsx", {**GOOD_REQUEST, "title": None})
    submitted = _as_template(bad, tmp_path / "错.xltx")
    report = validate_file(submitted, rules, today=TODAY)
    result, marked = write_feedback(report, tmp_path / "fb", submitted)
    assert marked.name == "错_标注.xlsx"
    types = zipfile.ZipFile(marked).read("[Content_Types].xml").decode("utf-8")
    assert "sheet.main+xml" in types and "template.main+xml" not in types
    with pc.load_workbook(result) as wb:
        assert "E_REQUIRED" in str(wb.get_sheet_by_name("校验结果").to_python())


def test_relative_paths_agree_with_relpath(tmp_path):
    from automation.io.files import RelativePaths

    base = tmp_path / "共享盘" / "04_领导汇总"
    relative = RelativePaths(base)
    targets = [
        tmp_path
        / "共享盘"
        / "02_协调事项"
        / "XT-2026-0001 事项"
        / "模板四_XT-2026-0001_生产部.xlsx",
        tmp_path
        / "共享盘"
        / "02_协调事项"
        / "XT-2026-0001 事项"
        / "模板四_XT-2026-0001_市场部.xlsx",
        tmp_path / "共享盘" / "02_协调事项" / "XT-2026-0001 事项",
        base / "汇总.xlsx",
        base,
        tmp_path / "别处.xlsx",
    ]
    for target in targets * 2:  # the second round from the remembered folders
        assert relative(target) == os.path.relpath(target, base)


def test_list_files_walks_like_os_walk_and_sees_a_new_file(tmp_path, monkeypatch):
    from automation.io import files

    monkeypatch.setattr(files, "LISTING_UNSETTLED_NS", 0)  # every listing kept at once
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    for name in ("z.pdf", "a.xlsx", "~$a.xlsx", ".~lock.a.xlsx#", "b/x.docx", "a/y.txt"):
        (tmp_path / name).write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    # (no symlinks on Windows without the right: nothing to leave out there)
    with contextlib.suppress(OSError):
        (tmp_path / "link").symlink_to(outside, target_is_directory=True)

    def walked() -> list[str]:
        out = []
        for base, dirs, names in os.walk(tmp_path):
            dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(base, d)))
            out += [
                os.path.join(base, n)
                for n in sorted(names)
                if not files.is_temporary(n) and not os.path.islink(os.path.join(base, n))
            ]
        return out

    assert [str(p) for p in files.list_files(tmp_path)] == walked()
    assert [p.name for p in files.list_files(tmp_path)] == ["a.xlsx", "z.pdf", "y.txt", "x.docx"]
    (tmp_path / "b" / "w.pdf").write_text("x")  # the folder's time moves: listed again
    os.utime(tmp_path / "b", ns=(1, 1))
    assert [str(p) for p in files.list_files(tmp_path)] == walked()
    assert "w.pdf" in [p.name for p in files.list_files(tmp_path)]
