"""clocks.yaml: every deadline of the process, in working days, and the at-risk thresholds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from automation.rules.base import Strict


class ClockSpec(Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    stage: str  # the process stage it belongs to (接收评估 …)
    start: str  # tracking field (or item-workbook field) whose date starts the clock
    end: str  # field whose date stops it
    workdays: int = Field(ge=0, le=366)  # 0: due at close of business of the start day itself
    when_field: str | None = None  # the clock applies only when this field …
    when_equals: str | None = None  # … equals this value (or, without when_equals, is filled)
    applies_while_blank: bool = True  # … or while that field is still blank (not decided yet)
    per: Literal["item", "department", "department_day", "department_week"] = "item"
    # who answers for it in the summary (汇总): the coordination office, the item's lead
    # department or its approvers; a per-department clock always answers to its department
    responsible: Literal["office", "lead_dept", "approvers"] = "lead_dept"

    @model_validator(mode="after")
    def _condition(self) -> ClockSpec:
        if self.when_equals is not None and self.when_field is None:
            raise ValueError(f"clock '{self.key}': when_equals needs when_field")
        return self


class ClocksRules(Strict):
    at_risk: list[float] = [0.5, 0.75]
    departments_field: str = "coop_depts"  # tracking field listing the departments of an item
    clocks: list[ClockSpec] = Field(min_length=1)
    # the process stages in order, for the summary's funnel (汇总); empty: the clocks' stages
    stages: list[str] = []

    @property
    def stage_order(self) -> list[str]:
        """The stages in process order: ``stages``, else those of the clocks as they come."""
        out = list(self.stages)
        for spec in self.clocks:
            if spec.stage not in out:
                out.append(spec.stage)
        return out

    @model_validator(mode="after")
    def _check(self) -> ClocksRules:
        unknown = [c.stage for c in self.clocks if self.stages and c.stage not in self.stages]
        if unknown:
            raise ValueError(f"clock stage '{unknown[0]}' is not in stages")
        if any(not 0 < t < 1 for t in self.at_risk) or self.at_risk != sorted(set(self.at_risk)):
            raise ValueError("at_risk: thresholds must be increasing shares between 0 and 1")
        keys = [c.key for c in self.clocks]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise ValueError(f"clock key '{sorted(dupes)[0]}' is used twice")
        return self
