"""The ``.xlsm`` variants: their VBA parsed back by independent readers (oletools, olefile,
LibreOffice), every button wired to a macro that exists and calls a real function, and the
VBA project and buttons unchanged after the cycle writes into the workbook."""

from __future__ import annotations

import importlib
import re
import subprocess
import zipfile
from pathlib import Path

import olefile
import openpyxl
import pytest
import xlwings
from hypothesis import given, settings
from hypothesis import strategies as st
from intake_helpers import AS_OF, request_values, tracking_rows
from oletools.olevba import VBA_Parser, decompress_stream

from automation import api, buttons
from automation.core.layout import field_cell
from automation.io.drive import drive_paths, drive_rules
from automation.io.macro_workbooks import (
    BUTTONS_MODULE,
    XLWINGS_MODULE,
    generate_macro_workbooks,
    macro_file_name,
)
from automation.io.templates import BUTTONS_NOTE, INSTRUCTIONS_SHEET, write_workbook
from automation.io.vbaproject import _Entry, compound_file, compress
from automation.io.xlsxpatch import CellEdit, patch_workbook
from automation.rules import default_workbooks_dir

WORKBOOKS = default_workbooks_dir()
RUN_PYTHON = re.compile(r'RunPython "import automation\.buttons; automation\.buttons\.(\w+)\(\)"')
SUB = re.compile(r"^Public Sub (\w+)\(\)", re.M)


def _macro_kinds(rules):
    return [kind for kind, form in rules.forms.items() if form.buttons]


def _modules(xlsm: Path) -> dict[str, str]:
    """VBA module name → source, read back with oletools from the workbook's vbaProject.bin."""
    parser = VBA_Parser(str(xlsm))
    try:
        return {Path(name).stem: code for _, _, name, code in parser.extract_macros()}
    finally:
        parser.close()


def _button_macros(xlsm: Path) -> dict[str, str]:
    """Caption → macro of every form button in the workbook's drawings."""
    with zipfile.ZipFile(xlsm) as z:
        vml = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".vml"))
    captions = re.findall(r"<font[^>]*>([^<]+)</font>", vml)
    macros = re.findall(r"<x:FmlaMacro>\[0\]!(\w+)</x:FmlaMacro>", vml)
    return dict(zip(captions, macros, strict=True))


def test_every_kind_with_buttons_has_an_xlsm_and_the_rest_only_xlsx(rules):
    kinds = _macro_kinds(rules)
    assert set(kinds) == {"request", "execution", "tracking", "summary"}
    for kind, form in rules.forms.items():
        assert (WORKBOOKS / form.file_name).is_file()
        assert (WORKBOOKS / macro_file_name(form)).is_file() == (kind in kinds)


@pytest.mark.parametrize("kind", ["request", "execution", "tracking", "summary"])
def test_every_button_calls_a_macro_that_calls_a_function_of_the_package(rules, kind):
    form = rules.form(kind)
    xlsm = WORKBOOKS / macro_file_name(form)
    modules = _modules(xlsm)
    buttons_vba = modules[BUTTONS_MODULE]
    subs = SUB.findall(buttons_vba)
    wired = _button_macros(xlsm)
    assert wired == {b.caption: b.macro for b in form.buttons}
    assert set(wired.values()) <= set(subs)
    targets = RUN_PYTHON.findall(buttons_vba)
    assert len(targets) == len(subs) == len(form.buttons)
    package = importlib.import_module("automation.buttons")
    for target in targets:
        assert callable(getattr(package, target, None)), target


def test_the_xlwings_module_is_the_installed_xlwings_version(rules):
    for kind in _macro_kinds(rules):
        source = _modules(WORKBOOKS / macro_file_name(rules.form(kind)))[XLWINGS_MODULE]
        version = re.search(r'XLWINGS_VERSION As String = "([^"]+)"', source).group(1)
        assert version == xlwings.__version__
        assert "BSD 3-clause" in source  # the open-source core, its licence kept


def test_the_bas_files_to_import_by_hand_are_the_modules_in_the_workbooks(rules):
    macros = WORKBOOKS / "macros"
    for kind in _macro_kinds(rules):
        modules = _modules(WORKBOOKS / macro_file_name(rules.form(kind)))
        bas = (macros / f"{BUTTONS_MODULE}_{kind}.bas").read_bytes().decode("ascii")
        assert bas == modules[BUTTONS_MODULE]
    xlwings_bas = (macros / f"{XLWINGS_MODULE}.bas").read_bytes().decode("ascii")
    assert xlwings_bas == modules[XLWINGS_MODULE]


def test_the_project_has_a_document_module_per_sheet_and_compiles_from_source(rules):
    xlsm = WORKBOOKS / macro_file_name(rules.form("request"))
    with zipfile.ZipFile(xlsm) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        workbook_xml = z.read("xl/workbook.xml").decode("utf-8")
        types = z.read("[Content_Types].xml").decode("utf-8")
        ole = olefile.OleFileIO(z.read("xl/vbaProject.bin"))
    assert 'codeName="ThisWorkbook"' in workbook_xml
    assert "application/vnd.ms-excel.sheet.macroEnabled.main+xml" in types
    modules = _modules(xlsm)
    assert {f"Sheet{i}" for i in range(1, len(sheets) + 1)} | {"ThisWorkbook"} <= set(modules)
    # version 0xFFFF: no compiled cache, Office compiles the source when the file opens
    assert ole.openstream("VBA/_VBA_PROJECT").read()[2:4] == b"\xff\xff"
    project = ole.openstream("PROJECT").read().decode("cp1252")
    assert f"Module={BUTTONS_MODULE}" in project and "Document=ThisWorkbook/&H00000000" in project


def test_regenerating_gives_the_same_bytes(rules, tmp_path):
    first = generate_macro_workbooks(rules, tmp_path / "a")
    second = generate_macro_workbooks(rules, tmp_path / "b")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_vba_project_and_buttons_survive_the_cycle_writing_into_the_tracking_table(
    drive, rules, tmp_path
):
    """The office chooses the .xlsm tracking table (drive.yaml, then ``xietong init`` again); a
    cycle registers a request into it through the lossless patcher, and every part but the
    ones of the sheet it wrote stays byte-identical."""
    form = rules.form("tracking")
    drive_yaml = drive_paths(drive).rules / "drive.yaml"
    text = drive_yaml.read_text(encoding="utf-8")
    old_name = rules.drive.tracking_file
    drive_yaml.write_text(
        text.replace(old_name, str(Path(old_name).with_suffix(".xlsm"))), encoding="utf-8"
    )
    api.init_drive(drive)
    tracking = api.drive_paths(drive).tracking
    assert tracking.suffix == ".xlsm"
    blank = _parts(WORKBOOKS / macro_file_name(form))
    assert _parts(Path(tracking))["xl/vbaProject.bin"] == blank["xl/vbaProject.bin"]
    for kind in _macro_kinds(rules):
        if kind != "summary":  # the drive's blank templates carry the variants with buttons
            assert (drive_paths(drive).templates / macro_file_name(rules.form(kind))).is_file()
    before = _parts(Path(tracking))
    staging = tmp_path / "staging"
    staging.mkdir()
    form_file = write_workbook("request", rules, staging / "申请.xlsx", values=request_values())
    api.submit(form_file, drive=drive)
    assert api.run(drive, as_of=AS_OF).registered == 1
    after = _parts(Path(tracking))
    rows = tracking_rows(drive, drive_rules(drive))  # the drive's rules: the .xlsm table
    assert [r["title"] for r in rows] == ["新产品试产协调 1"]
    changed = {name for name in before if before[name] != after.get(name)}
    assert changed == {"xl/worksheets/sheet1.xml"}  # the table's sheet; VBA, buttons untouched
    assert set(after) == set(before)


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.mark.libreoffice
def test_libreoffice_opens_every_xlsm_and_sees_the_macros_behind_the_buttons(
    rules, soffice, tmp_path
):
    src = tmp_path / "src"
    src.mkdir()
    files = []
    for kind in _macro_kinds(rules):
        target = src / f"{kind}.xlsm"
        target.write_bytes((WORKBOOKS / macro_file_name(rules.form(kind))).read_bytes())
        files.append(str(target))
    out = tmp_path / "out"
    profile = f"-env:UserInstallation=file://{tmp_path / 'profile'}"
    common = [soffice, profile, "--headless", "--norestore", "--convert-to"]
    where = ["--outdir", str(out), *files]
    subprocess.run([*common, "pdf", *where], check=True, timeout=300, capture_output=True)
    for kind in _macro_kinds(rules):
        pdf = out / f"{kind}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    subprocess.run([*common, "ods", *where], check=True, timeout=300, capture_output=True)
    for kind in _macro_kinds(rules):
        form = rules.form(kind)
        with zipfile.ZipFile(out / f"{kind}.ods") as z:
            basic = z.read(f"Basic/VBAProject/{BUTTONS_MODULE}.xml").decode("utf-8")
            content = z.read("content.xml").decode("utf-8")
        for b in form.buttons:
            assert f"Public Sub {b.macro}()" in basic
            assert f'form:label="{b.caption}"' in content
            assert f"VBAProject.{BUTTONS_MODULE}.{b.macro}?language=Basic" in content


# -- the writer itself, against independent readers ----------------------------------------------

VBA_TEXT = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABC _=()\"'.,\r\n0123456789")),
    max_size=20000,
)


@settings(max_examples=40, deadline=None)
@given(VBA_TEXT)
def test_compressed_text_decompresses_to_itself_with_oletools(text):
    data = text.encode("ascii")
    assert bytes(decompress_stream(bytearray(compress(data)))) == data


@settings(max_examples=20, deadline=None)
@given(
    st.dictionaries(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_abc0123456789", min_size=1, max_size=31),
        st.binary(max_size=9000),
        min_size=1,
        max_size=12,
    )
)
def test_olefile_reads_back_every_stream_of_a_compound_file(streams):
    names = {}
    for name, data in streams.items():  # CFB names are case-insensitive
        names.setdefault(name.upper(), (name, data))
    inner = [_Entry(name, 2, data) for name, data in names.values()]
    root = _Entry("Root Entry", 5, children=[_Entry("VBA", 1, children=inner)])
    ole = olefile.OleFileIO(compound_file(root))
    for name, data in names.values():
        assert ole.openstream(f"VBA/{name}").read() == data


def test_a_filled_xlsm_form_is_checked_submitted_and_registered_with_its_macros(
    drive, rules, tmp_path
):
    """The requester fills the .xlsm (here through the lossless patcher, as Excel keeps the
    VBA), presses 提交, and the cycle registers the copy the button put in the inbox."""
    form = rules.form("request")
    blank = (WORKBOOKS / macro_file_name(form)).read_bytes()
    edits = [CellEdit(field_cell(form, k), v) for k, v in request_values().items()]
    filled = tmp_path / macro_file_name(form)
    filled.write_bytes(patch_workbook(blank, form.sheet, edits))
    assert buttons.validate_workbook(filled)["ok"]
    receipt = buttons.submit_request(filled, drive=drive)
    assert receipt["submitted"] and receipt["inbox_file"].endswith(".xlsm")
    assert (
        _parts(Path(receipt["inbox_file"]))["xl/vbaProject.bin"]
        == _parts(WORKBOOKS / macro_file_name(form))["xl/vbaProject.bin"]
    )
    assert api.run(drive, as_of=AS_OF).registered == 1
    assert [r["title"] for r in tracking_rows(drive, rules)] == ["新产品试产协调 1"]


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
def test_the_instructions_sheet_gives_every_button_its_macro_free_way(rules, suffix):
    for kind in _macro_kinds(rules):
        form = rules.form(kind)
        path = WORKBOOKS / Path(form.file_name).with_suffix(suffix)
        book = openpyxl.load_workbook(path, read_only=True)
        text = "\n".join(
            str(c) for row in book[INSTRUCTIONS_SHEET].iter_rows(values_only=True) for c in row if c
        )
        book.close()
        assert BUTTONS_NOTE in text
        for b in form.buttons:
            assert f"“{b.caption}”：{b.without_macros}" in text
