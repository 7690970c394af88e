"""Where every field of a workbook sits, derived from the order of the fields in ``rules/forms``.

One function decides the layout; the template generator, the reader and ``xietong fields`` all
use it, so a cell address is never written down twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from automation.core.cells import column_index, column_letter
from automation.rules.forms import FormRules

TITLE_ROW = 1
HINT_ROW = 2
FIRST_ROW = 3
VALUE_COLUMN = "B"
FORM_LAST_COLUMN = "F"  # form values are merged B:F so long text has room


@dataclass(frozen=True)
class InnerTable:
    key: str
    title_row: int
    header_row: int
    first_row: int
    last_row: int
    columns: dict[str, str]  # field key → column letter


@dataclass(frozen=True)
class Layout:
    """1-based rows, A1-style cells."""

    section_rows: dict[str, int] = field(default_factory=dict)  # section title → row
    cells: dict[str, str] = field(default_factory=dict)  # form field key → value cell
    header_row: int | None = None  # tabular workbooks: the header row of the Excel table
    columns: dict[str, str] = field(default_factory=dict)  # table field key → column letter
    first_data_row: int | None = None
    last_data_row: int | None = None
    tables: dict[str, InnerTable] = field(default_factory=dict)
    last_row: int = 0

    @property
    def last_column(self) -> str:
        if self.columns:
            return column_letter(len(self.columns))
        widest = max((len(t.columns) for t in self.tables.values()), default=0)
        return column_letter(max(column_index(FORM_LAST_COLUMN), widest, 1))  # by index, not text


def layout(form: FormRules) -> Layout:
    """The cell of every form field and the column of every table field."""
    row = FIRST_ROW
    section_rows: dict[str, int] = {}
    cells: dict[str, str] = {}
    for section in form.sections:
        section_rows[section.title] = row
        row += 1
        for f in section.fields:
            cells[f.key] = f"{VALUE_COLUMN}{row}"
            row += 1
    tables: dict[str, InnerTable] = {}
    for t in form.tables:
        title_row = row
        header = row + 1
        first, last = header + 1, header + t.rows
        cols = {c.key: column_letter(i) for i, c in enumerate(t.columns, 1)}
        tables[t.key] = InnerTable(t.key, title_row, header, first, last, cols)
        row = last + 1
    if form.layout == "form":
        return Layout(section_rows, cells, tables=tables, last_row=row - 1)
    if form.sections:
        row += 1  # a blank row between the header fields and the table
    columns = {c.key: column_letter(i) for i, c in enumerate(form.columns, 1)}
    return Layout(
        section_rows,
        cells,
        header_row=row,
        columns=columns,
        first_data_row=row + 1,
        last_data_row=row + form.table_rows,
        tables=tables,
        last_row=row + form.table_rows,
    )


def field_cell(form: FormRules, key: str) -> str:
    """The value cell (``B4``) of a form field or the column letter (``C``) of a table field."""
    lay = layout(form)
    if key in lay.cells:
        return lay.cells[key]
    if key in lay.columns:
        return lay.columns[key]
    for t in lay.tables.values():
        if key in t.columns:
            return t.columns[key]
    raise KeyError(key)
