"""departments.yaml: the departments, their aliases, heads and e-mail, and the process roles."""

from __future__ import annotations

from pydantic import Field, model_validator

from automation.rules.base import Strict


class Department(Strict):
    name: str = Field(min_length=1)
    aliases: list[str] = []
    head: str = ""
    email: str = ""
    robot: str = ""  # id of its group robot (notify.yaml robots); none: the company robot
    mention: list[str] = []  # people to @ in robot messages (mobile numbers or user ids)


class Person(Strict):
    name: str = Field(min_length=1)
    title: str = ""
    email: str = ""
    departments: list[str] = []  # for leaders: the departments they are in charge of (分管)


class Roles(Strict):
    office: str  # the department acting as coordination office (协调管理办公室)
    office_name: str = "协调管理办公室"
    office_email: str = ""
    finance: str  # 财务部
    leaders: list[Person] = []  # 分管领导
    leader_role: str = "分管领导"  # how the leader role is named in approval routes
    gm_meeting: Person  # 总经理办公会


class DepartmentsRules(Strict):
    departments: list[Department] = Field(min_length=1)
    roles: Roles

    @model_validator(mode="after")
    def _names_unique(self) -> DepartmentsRules:
        seen: dict[str, str] = {}
        for i, dept in enumerate(self.departments):
            for name in [dept.name, *dept.aliases]:
                if name in seen:
                    raise ValueError(
                        f"departments[{i}]: name or alias '{name}' is used twice"
                        f" ({seen[name]} and {dept.name})"
                    )
                seen[name] = dept.name
        known = {d.name for d in self.departments}
        for role in ("office", "finance"):
            value = getattr(self.roles, role)
            if value not in known:
                raise ValueError(f"roles.{role}: '{value}' is not a listed department")
        for i, leader in enumerate(self.roles.leaders):
            for d in leader.departments:
                if d not in known:
                    raise ValueError(
                        f"roles.leaders[{i}].departments: '{d}' is not a listed department"
                    )
        return self

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.departments]

    def canonical(self, name: str) -> str | None:
        """The department a name or alias stands for, or None when unknown."""
        name = name.strip()
        for dept in self.departments:
            if name == dept.name or name in dept.aliases:
                return dept.name
        return None

    def get(self, name: str) -> Department | None:
        canonical = self.canonical(name)
        return next((d for d in self.departments if d.name == canonical), None)
