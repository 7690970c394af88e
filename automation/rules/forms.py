"""forms/*.yaml: every workbook's fields, their Chinese labels, types and checks."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field as PydField
from pydantic import field_validator, model_validator

from automation.rules.base import Strict

KINDS = ("request", "tracking", "minutes", "execution", "weekly", "summary")
Kind = Literal["request", "tracking", "minutes", "execution", "weekly", "summary"]
FieldType = Literal[
    "text",
    "long_text",
    "date",
    "number",
    "money",
    "percent",
    "enum",
    "department",
    "departments",
    "yes_no",
]
CLOSED_TYPES = ("enum", "department", "departments", "yes_no")
YES_NO = ["是", "否"]


class FieldSpec(Strict):
    key: str = PydField(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = PydField(min_length=1)
    type: FieldType
    required: bool = False
    computed: bool = False  # filled by the automation, locked for people
    allowed: list[str] = []  # enum values
    help: str = ""
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    not_before: str | None = None  # key of a date field this date may not precede
    workday: bool = False  # the date must be a working day
    width: int | None = None  # column width in tables

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from None
        return value

    @model_validator(mode="after")
    def _enum_has_values(self) -> FieldSpec:
        if self.type == "enum" and not self.allowed:
            raise ValueError(f"field '{self.key}' is an enum with no allowed values")
        if self.type != "enum" and self.allowed:
            raise ValueError(f"field '{self.key}': allowed values are only for type enum")
        if len(set(self.allowed)) != len(self.allowed):
            raise ValueError(f"field '{self.key}': an allowed value is listed twice")
        return self

    @property
    def closed(self) -> bool:
        return self.type in CLOSED_TYPES


class Section(Strict):
    title: str
    fields: list[FieldSpec] = PydField(min_length=1)


class TableSpec(Strict):
    """A repeated group inside a form (attendees per department, milestones)."""

    key: str = PydField(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    rows: int = PydField(ge=1, le=200)
    columns: list[FieldSpec] = PydField(min_length=1)


class CrossRule(Strict):
    """When ``when`` is filled (or equals ``equals``), the ``require`` fields become required."""

    when: str
    equals: str | None = None
    require: list[str] = PydField(min_length=1)
    message: str = ""


class ButtonSpec(Strict):
    """An Excel button of the ``.xlsm`` variant (issue 15) and its macro-free equivalent."""

    caption: str = PydField(min_length=1, max_length=20)
    target: str = PydField(pattern=r"^[a-z][a-z0-9_]*$")  # a function of automation.buttons
    closes: bool = False  # the macro closes the workbook: the hand-off writes it and reopens it
    without_macros: str = PydField(min_length=1)  # 填写说明: the same by saving on the share

    @property
    def macro(self) -> str:
        """The VBA Sub the button calls."""
        return f"xt_{self.target}"


class PrintSpec(Strict):
    orientation: Literal["portrait", "landscape"] = "portrait"
    fit_width: bool = True


class FormRules(Strict):
    kind: Kind
    template: str  # 模板一 …
    title: str
    version: int = PydField(ge=1)
    layout: Literal["form", "table"]
    file_name: str
    sheet: str = PydField(min_length=1, max_length=31)
    sections: list[Section] = []  # form fields (for tables: the header fields above the table)
    tables: list[TableSpec] = []  # repeated groups inside a form
    columns: list[FieldSpec] = []  # the columns of a tabular workbook
    table_rows: int = PydField(default=200, ge=1, le=5000)  # pre-sized rows of the Excel table
    rules: list[CrossRule] = []
    instructions: list[str] = []
    buttons: list[ButtonSpec] = []  # Excel buttons of the .xlsm variant (issue 15)
    print: PrintSpec = PrintSpec()

    @model_validator(mode="after")
    def _consistent(self) -> FormRules:
        if self.layout == "table" and not self.columns:
            raise ValueError("a table workbook needs columns")
        if self.layout == "form" and (self.columns or not self.sections):
            raise ValueError("a form workbook needs sections and no columns")
        keys: set[str] = set()
        for f in self.all_fields:
            if f.key in keys:
                raise ValueError(f"field key '{f.key}' is used twice")
            keys.add(f.key)
        for t in self.tables:
            if t.key in keys:
                raise ValueError(f"table key '{t.key}' clashes with a field key")
        for f in self.all_fields:
            if f.not_before and f.not_before not in keys:
                raise ValueError(
                    f"field '{f.key}': not_before names unknown field '{f.not_before}'"
                )
        targets = [b.target for b in self.buttons]
        if len(set(targets)) != len(targets):
            raise ValueError("buttons: two buttons call the same function")
        for i, rule in enumerate(self.rules):
            for ref in [rule.when, *rule.require]:
                if ref not in keys:
                    raise ValueError(f"rules[{i}]: unknown field '{ref}'")
        return self

    @property
    def form_fields(self) -> list[FieldSpec]:
        return [f for s in self.sections for f in s.fields]

    @property
    def all_fields(self) -> list[FieldSpec]:
        """Every field: form fields, then table columns, then the columns of inner tables."""
        inner = [c for t in self.tables for c in t.columns]
        return [*self.form_fields, *self.columns, *inner]

    def field(self, key: str) -> FieldSpec:
        for f in self.all_fields:
            if f.key == key:
                return f
        raise KeyError(key)
