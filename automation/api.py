"""Every operation of xietong as a Python function; the CLI calls exactly these."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automation.core.layout import field_cell
from automation.errors import XietongError
from automation.rules import KINDS, Rules, load_rules


def _rules(rules_dir: str | Path | None) -> Rules:
    return load_rules(rules_dir)


def list_fields(kind: str, *, rules_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """The fields of one workbook kind: key, label, type, required, allowed values, cell."""
    if kind not in KINDS:
        raise XietongError(
            f"未知的工作簿类型 '{kind}'，可选：{', '.join(KINDS)}", code="E_UNKNOWN_KIND", exit_code=2
        )
    rules = _rules(rules_dir)
    form = rules.form(kind)
    out = []
    for f in form.all_fields:
        if f.type == "yes_no":
            allowed = ["是", "否"]
        elif f.type in ("department", "departments"):
            allowed = rules.departments.names
        else:
            allowed = list(f.allowed)
        out.append(
            {
                "key": f.key,
                "label": f.label,
                "type": f.type,
                "required": f.required,
                "allowed": allowed,
                "cell": field_cell(form, f.key),
                "computed": f.computed,
                "help": f.help,
            }
        )
    return out
