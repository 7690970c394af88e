"""The lossless patcher is a package split along its seams, without import cycles."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import automation.io.xlsxpatch as xp

PACKAGE = Path(xp.__file__).parent
# Each module may import only the modules before it (and nothing from the workflow).
ORDER = ["errors", "package", "refs", "scan", "values", "parts", "formulas", "tables", "patch"]
PUBLIC = [
    "CellEdit",
    "TableInfo",
    "patch_workbook",
    "sheet_tables",
    "grow_table",
    "XlsxPatchError",
    "E_PATCH_SHEET",
    "E_PATCH_CELL",
    "E_PATCH_FORMULA",
    "E_PATCH_UNSUPPORTED",
    "E_PATCH_TABLE",
    "E_PATCH_FORMAT",
]


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_every_module_of_the_package_is_in_the_layer_order() -> None:
    on_disk = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert on_disk == set(ORDER)


@pytest.mark.parametrize("module", ORDER)
def test_a_module_imports_only_the_seams_below_it(module: str) -> None:
    allowed = {f"automation.io.xlsxpatch.{m}" for m in ORDER[: ORDER.index(module)]}
    ours = {m for m in _imports(module) if m.startswith("automation.")}
    inside = {m for m in ours if m.startswith("automation.io.xlsxpatch")}
    assert inside <= allowed, f"{module} imports {sorted(inside - allowed)}"
    outside = ours - inside
    assert outside <= {"automation.errors", "automation.core", "automation.core.cells"}


@pytest.mark.parametrize("module", ORDER)
def test_each_module_imports_on_its_own(module: str) -> None:
    # a fresh interpreter: an import cycle shows up as an ImportError here
    code = f"import automation.io.xlsxpatch.{module}"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_public_api_is_re_exported() -> None:
    for name in PUBLIC:
        assert getattr(xp, name) is not None
        assert name in xp.__all__
    from automation.io.xlsxpatch import CellEdit, patch_workbook  # noqa: F401

    assert (
        importlib.import_module("automation.io.xlsxpatch.patch").patch_workbook is xp.patch_workbook
    )
    assert xp.XlsxPatchError.__module__ == "automation.io.xlsxpatch.errors"
    assert issubclass(xp.PackageError, xp.XlsxPatchError)
