"""drive.yaml, routing.yaml, escalation.yaml and notify.yaml: the drive layout and process routing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from automation.rules.base import Strict

FOLDER_KEYS = (
    "inbox",
    "items",
    "weekly",
    "summary",
    "archive",
    "feedback",
    "outbox",
    "log",
    "templates",
    "rules",
)


class Folders(Strict):
    inbox: str
    items: str
    weekly: str
    summary: str
    archive: str
    feedback: str
    outbox: str
    log: str
    templates: str
    rules: str

    @field_validator("*")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value or any(c in value for c in '/\\:*?"<>|') or value in (".", ".."):
            raise ValueError(f"'{value}' is not a plain folder name")
        return value


class ItemIds(Strict):
    prefix: str = Field(default="XT", pattern=r"^[A-Z][A-Z0-9]{0,9}$")
    digits: int = Field(default=4, ge=3, le=8)

    def format(self, year: int, seq: int) -> str:
        return f"{self.prefix}-{year}-{seq:0{self.digits}d}"


class DriveRules(Strict):
    folders: Folders
    tracking_file: str
    summary_file: str
    user_guide_file: str = "使用说明.md"
    item_ids: ItemIds = ItemIds()
    backups_kept: int = Field(default=10, ge=1, le=1000)
    # a saved file must rest this long before it is read (never a half-saved file)
    settle_seconds: float = Field(default=2.0, ge=0, le=600)


class Route(Strict):
    key: str
    label: str
    when_filled: list[str] = []  # any of these request fields filled
    when_equals: dict[str, str] = {}  # field: value
    approvers: list[Literal["finance", "leader", "gm_meeting"]] = Field(min_length=1)


class RoutingRules(Strict):
    routes: list[Route] = Field(min_length=1)
    default_approvers: list[Literal["finance", "leader", "gm_meeting"]] = ["leader"]


class EscalationStep(Strict):
    level: int = Field(ge=1)
    to: Literal["lead_dept", "office", "leader", "gm_meeting"]
    after_workdays: int = Field(ge=0)
    label: str = ""


class EscalationRules(Strict):
    ladder: list[EscalationStep] = Field(min_length=1)
    # a daily row with one of these statuses (状态) opens an exception (异常) ...
    open_statuses: list[str] = ["滞后", "受阻"]
    # ... as does text in 需协调事项, unless this is false
    open_on_coordination: bool = True
    # a later row with one of these statuses and no coordination need resolves it
    resolve_statuses: list[str] = ["进行中", "已完成"]
    # the office marks an exception resolved in the tracking table's 备注 (notes) column with a
    # line "<marker>：<部门> <日期>" (see docs/execution.md)
    office_marker: str = Field(default="异常已解决", min_length=1)

    @field_validator("ladder")
    @classmethod
    def _ordered(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        levels = [s.level for s in steps]
        days = [s.after_workdays for s in steps]
        if levels != list(range(1, len(steps) + 1)):
            raise ValueError("ladder: levels must be 1, 2, 3 ... in order")
        if days != sorted(days):
            raise ValueError("ladder: after_workdays must not decrease from one level to the next")
        return steps


class Smtp(Strict):
    host: str = ""
    port: int = Field(default=25, ge=1, le=65535)
    ssl: bool = False  # implicit TLS from the first byte (port 465, e.g. Tencent Exmail)
    starttls: bool = False  # plain connection upgraded with STARTTLS (port 587)
    username: str = ""
    password_env: str = "XIETONG_SMTP_PASSWORD"  # the password itself never lives on the share
    sender: str = "xietong@example.com"
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)


class NotifyEvent(Strict):
    subject: str
    template: str  # a file of automation/templates/notify (or the drive's rules/notify folder)
    to: list[str] = Field(min_length=1)


ROBOT_PLATFORMS = ("wecom", "dingtalk", "feishu")


class Robot(Strict):
    """A group robot; its webhook URL and signing secret come from the local secrets."""

    platform: Literal["wecom", "dingtalk", "feishu"]
    label: str = ""


class SendHours(Strict):
    """When messages may leave: working days between these times (default: business hours)."""

    workdays_only: bool = True
    start: dt.time | None = None  # default: calendar.yaml start_of_business
    end: dt.time | None = None  # default: calendar.yaml close_of_business
    urgent: list[str] = ["breached"]  # event kinds sent at any hour


class Retry(Strict):
    base_seconds: float = Field(default=60.0, ge=0)
    max_seconds: float = Field(default=3600.0, ge=0)


class NotifyRules(Strict):
    mode: Literal["outbox", "smtp"] = "outbox"
    smtp: Smtp = Smtp()
    robots: dict[str, Robot] = {}
    company_robot: str = ""  # the robot of every department that names none
    hours: SendHours = SendHours()
    catch_up_days: int = Field(default=7, ge=0, le=3650)
    digest_max_events: int = Field(default=30, ge=1, le=500)
    responsible: dict[str, Literal["office", "lead_dept", "requesting_dept"]] = {}
    retry: Retry = Retry()
    events: dict[str, NotifyEvent] = {}

    @field_validator("robots")
    @classmethod
    def _robot_ids(cls, value: dict[str, Robot]) -> dict[str, Robot]:
        for rid in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", rid):
                raise ValueError(
                    f"robot id '{rid}' must be lower-case letters, digits and _ (it names "
                    "the environment variables of its webhook and secret)"
                )
        return value

    @model_validator(mode="after")
    def _known_robot(self) -> NotifyRules:
        if self.company_robot and self.company_robot not in self.robots:
            raise ValueError(f"company_robot: '{self.company_robot}' is not one of robots")
        return self
