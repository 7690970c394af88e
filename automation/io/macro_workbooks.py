"""The ``.xlsm`` variants of the templates: the same workbook, plus Excel buttons (issue 15).

For every kind whose rules list ``buttons``, ``<file_name>.xlsm`` is the ``.xlsx`` template
with a VBA project (``automation.io.vbaproject``) and one form button per entry, wired to a
Sub that calls ``automation.buttons.<target>`` through xlwings ``RunPython``. The VBA comes
from jinja2 templates in ``workbooks/macros/`` and the xlwings standalone module of the
installed xlwings package (BSD core only), so the module's version is the installed one.
The generated modules are also written to ``workbooks/macros/`` for importing by hand.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from automation.core.cells import column_index
from automation.core.layout import TITLE_ROW, Layout
from automation.io.templates import write_workbook
from automation.io.vbaproject import WORKBOOK_BASE, WORKSHEET_BASE, Module, vba_project
from automation.rules import Rules, default_workbooks_dir
from automation.rules.forms import FormRules

MACROS = "macros"
BUTTONS_MODULE = "xietong_buttons"
XLWINGS_MODULE = "xlwings"
BUTTON_SIZE = {"width": 110, "height": 30}


def macros_source_dir() -> Path:
    """Where the jinja2 templates of the VBA live (``workbooks/macros``)."""
    return default_workbooks_dir() / MACROS


def xlwings_module_source() -> str:
    """The xlwings standalone VBA module (``xlwings.bas``) shipped with the installed xlwings."""
    import xlwings

    return (Path(xlwings.__file__).parent / "xlwings.bas").read_text(encoding="utf-8")


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(macros_source_dir()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def buttons_module_source(form: FormRules) -> str:
    """The VBA module with one Sub per button of ``form`` (``workbooks/macros/buttons.bas.j2``)."""
    template = _env().get_template("buttons.bas.j2")
    return template.render(kind=form.kind, version=form.version, buttons=form.buttons)


def vba_modules(form: FormRules, sheet_count: int) -> list[Module]:
    """Every module of the project: ThisWorkbook, one per sheet, xlwings, the buttons."""
    document = _env().get_template("document.cls.j2")
    modules = [
        Module("ThisWorkbook", document.render(name="ThisWorkbook", base=WORKBOOK_BASE), True)
    ]
    for i in range(1, sheet_count + 1):  # xlsxwriter's code names: Sheet1, Sheet2, …
        name = f"Sheet{i}"
        modules.append(Module(name, document.render(name=name, base=WORKSHEET_BASE), True))
    modules.append(Module(XLWINGS_MODULE, xlwings_module_source()))
    modules.append(Module(BUTTONS_MODULE, buttons_module_source(form)))
    return modules


def macro_file_name(form: FormRules) -> str:
    return str(Path(form.file_name).with_suffix(".xlsm"))


def _add_buttons(form: FormRules) -> object:
    def finish(wb: Workbook, ws: Worksheet, lay: Layout) -> None:
        import io

        data = vba_project(vba_modules(form, len(wb.worksheets())))
        wb.add_vba_project(io.BytesIO(data), is_stream=True)
        col = (
            column_index(lay.last_column) + 1
        )  # 0-based: right of the form / table, off the print area
        for i, button in enumerate(form.buttons):
            ws.insert_button(
                TITLE_ROW - 1 + 2 * i,
                col,
                {"macro": button.macro, "caption": button.caption, **BUTTON_SIZE},
            )

    return finish


def write_macro_workbook(kind: str, rules: Rules, path: str | Path) -> Path:
    """Write the ``.xlsm`` variant of ``kind`` (its rules must list buttons)."""
    form = rules.form(kind)
    if not form.buttons:
        raise ValueError(f"the {kind} workbook has no buttons")
    return write_workbook(kind, rules, path, finish=_add_buttons(form))  # type: ignore[arg-type]


def generate_macro_workbooks(rules: Rules, out_dir: str | Path) -> list[Path]:
    """The ``.xlsm`` variants and the ``.bas`` modules to import by hand, into ``out_dir``."""
    out = Path(out_dir)
    macros = out / MACROS
    macros.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, form in rules.forms.items():
        if not form.buttons:
            continue
        written.append(write_macro_workbook(kind, rules, out / macro_file_name(form)))
        bas = macros / f"{BUTTONS_MODULE}_{kind}.bas"
        bas.write_bytes(_crlf(buttons_module_source(form)))
        written.append(bas)
    xlwings_bas = macros / f"{XLWINGS_MODULE}.bas"
    xlwings_bas.write_bytes(_crlf(xlwings_module_source()))
    written.append(xlwings_bas)
    return written


def _crlf(text: str) -> bytes:
    """VBA editor files: CRLF line ends, ASCII (the VBA here is kept ASCII on purpose)."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")
