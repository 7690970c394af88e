"""The one error type of the patcher and its stable codes (see docs/errors.md)."""

from __future__ import annotations

from automation.errors import XietongError

E_PATCH_SHEET = "E_PATCH_SHEET"
E_PATCH_CELL = "E_PATCH_CELL"
E_PATCH_FORMULA = "E_PATCH_FORMULA"
E_PATCH_UNSUPPORTED = "E_PATCH_UNSUPPORTED"
E_PATCH_TABLE = "E_PATCH_TABLE"
E_PATCH_FORMAT = "E_PATCH_FORMAT"


class XlsxPatchError(XietongError):
    """A workbook that cannot be patched as asked (stable ``code``, Chinese message)."""

    code = "E_PATCH"
