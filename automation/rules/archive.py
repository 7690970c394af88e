"""archive.yaml: what the acceptance checklist (验收清单) expects and how items are archived."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from automation.rules.base import Strict


class DocumentSpec(Strict):
    """One document the process expects in a finished item's folder."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    find: Literal["form", "file", "attachments"]
    kind: str | None = None  # find: form — the workbook kind (rules/forms)
    names: list[str] = []  # find: file — fragments of the file name
    per: Literal["item", "department"] = "item"
    field: str | None = None  # a tracking field that must be filled (request field: attachments)
    equals: str | None = None  # … and equal to this
    field_suffices: bool = False  # a filled field stands in for the file

    @model_validator(mode="after")
    def _check(self) -> DocumentSpec:
        if self.find == "form" and not self.kind:
            raise ValueError(f"document '{self.key}': find: form needs kind")
        if self.find == "file" and not self.names:
            raise ValueError(f"document '{self.key}': find: file needs names")
        if self.find == "attachments" and not self.field:
            raise ValueError(f"document '{self.key}': find: attachments needs field")
        if self.equals is not None and self.field is None:
            raise ValueError(f"document '{self.key}': equals needs field")
        return self


class SignatureSpec(Strict):
    """The minutes' sign-off table and its columns (rules/forms/minutes.yaml)."""

    table: str
    department: str
    sign: str
    date: str | None = None


class ArchiveRules(Strict):
    trigger_field: str = "completion_date"
    checklist_file: str = Field(pattern=r"\{item_id\}.*\.xlsx$")
    checklist_sheet: str = Field(min_length=1, max_length=31)
    weekly_folder: str = Field(min_length=1)
    title_length: int = Field(default=40, ge=0, le=120)
    max_path: int = Field(default=240, ge=80, le=32000)
    documents: list[DocumentSpec] = Field(min_length=1)
    signatures: SignatureSpec

    @model_validator(mode="after")
    def _unique(self) -> ArchiveRules:
        keys = [d.key for d in self.documents]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"document key '{dupes[0]}' is used twice")
        return self
