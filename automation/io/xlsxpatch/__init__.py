"""Lossless write-back: patch the cells xietong owns in one sheet of a human workbook (无损回写).

openpyxl's load-and-save drops pictures, shapes, form controls, comments' layout, 2010
extensions and more. Here the workbook is never re-serialised: the sheet XML is scanned as bytes
and only the ``<c>`` elements being written (plus the ``<row>`` tags that receive new cells and
the ``<dimension>``) are spliced; every other byte of the sheet and every other package part is
carried over unchanged (raw zip entries, see :mod:`automation.io.xlsxpatch.package`).

- Strings are written as inline strings (``t="inlineStr"``), so ``sharedStrings.xml`` is not
  touched; a string starting with ``=`` stays text.
- Dates become serial numbers (1900 or 1904 system, as the workbook says); ``None`` clears.
- A cell keeps its ``s`` (style); a new one takes the style of ``style_from``, else the row's
  or the column's default style.
- A cell holding a formula is only overwritten when the edit says ``overwrite_formula=True``;
  a shared-formula master hands its formula on to the next cell of the group, and
  ``calcChain.xml`` forgets the cell (the only other part that may then change).
- An Excel table on the sheet whose last row is directly followed by written rows grows to
  include them (only the table part's ``ref`` and ``autoFilter ref`` change).

The package, along its seams (each module imports only those listed before it):

- ``errors``: :class:`XlsxPatchError` and the ``E_PATCH_*`` codes;
- ``package``: the zip package read and rebuilt with raw copies of untouched entries;
- ``refs``: cell references (:mod:`automation.core.cells`, errors as ``E_PATCH_CELL``);
- ``scan``: byte-level XML tags, the sheet model (rows, cells), byte splices;
- ``values``: the cell XML of a value, and values read back;
- ``parts``: workbook, sheet, relationships, shared strings, calcChain;
- ``formulas``: formulas in the way, shared-formula hand-over;
- ``tables``: listing and growing Excel tables;
- ``patch``: :func:`patch_workbook`.
"""

from __future__ import annotations

from automation.io.xlsxpatch.errors import (
    E_PATCH_CELL,
    E_PATCH_FORMAT,
    E_PATCH_FORMULA,
    E_PATCH_SHEET,
    E_PATCH_TABLE,
    E_PATCH_UNSUPPORTED,
    XlsxPatchError,
)
from automation.io.xlsxpatch.package import Package, PackageError
from automation.io.xlsxpatch.patch import patch_workbook
from automation.io.xlsxpatch.refs import MAX_COL, MAX_ROW, make_ref, parse_ref
from automation.io.xlsxpatch.tables import TableInfo, grow_table, sheet_tables
from automation.io.xlsxpatch.values import MAX_TEXT, CellEdit, CellValue

__all__ = [
    "E_PATCH_CELL",
    "E_PATCH_FORMAT",
    "E_PATCH_FORMULA",
    "E_PATCH_SHEET",
    "E_PATCH_TABLE",
    "E_PATCH_UNSUPPORTED",
    "MAX_COL",
    "MAX_ROW",
    "MAX_TEXT",
    "CellEdit",
    "CellValue",
    "Package",
    "PackageError",
    "TableInfo",
    "XlsxPatchError",
    "grow_table",
    "make_ref",
    "parse_ref",
    "patch_workbook",
    "sheet_tables",
]
