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
    workdays: int = Field(ge=0)  # 0: due at close of business of the start day itself
    when_field: str | None = None  # the clock applies only when this field …
    when_equals: str | None = None  # … equals this value
    per: Literal["item", "department", "department_day", "department_week"] = "item"


class ClocksRules(Strict):
    at_risk: list[float] = [0.5, 0.75]
    clocks: list[ClockSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ClocksRules:
        if any(not 0 < t < 1 for t in self.at_risk) or self.at_risk != sorted(self.at_risk):
            raise ValueError("at_risk: thresholds must be increasing shares between 0 and 1")
        keys = [c.key for c in self.clocks]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise ValueError(f"clock key '{sorted(dupes)[0]}' is used twice")
        return self
