"""One run's context (运行上下文): the drive, its rules, the calendar, "now" and the local state.

Every command opens one :class:`RunContext` and passes it down, instead of threading ``paths``,
``rules``, ``calendar``, ``as_of`` and ``ledger`` through every signature. The rules are loaded
once per process (``automation.rules.load_rules`` keeps them while the files are unchanged) and
``as_of`` is normalised here and nowhere else.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core.calendar import WorkCalendar, parse_date
from automation.errors import XietongError
from automation.io.cache import ValidationCache
from automation.io.drive import DrivePaths, drive_paths, drive_rules, require_drive
from automation.io.journal import append_entries
from automation.io.ledger import Ledger, open_ledger
from automation.rules import Rules, load_rules

# The span of dates the clocks are defined for: the calendar sources know no earlier year, and
# a later one is a typing mistake (and would make every clock meaningless).
AS_OF_MIN = dt.date(2000, 1, 1)
AS_OF_MAX = dt.date(2099, 12, 31)


@dataclass
class RunContext:
    """What one command works on. ``ledger`` is None for read-only commands."""

    paths: DrivePaths
    rules: Rules
    calendar: WorkCalendar
    as_of: dt.datetime  # aware, in the rules' time zone
    ledger: Ledger | None = None
    cache: ValidationCache = field(init=False)
    warnings: list[str] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)  # what one run read once, by content

    def __post_init__(self) -> None:
        self.cache = ValidationCache(self.ledger, self.rules, self.calendar)

    @property
    def tz(self) -> dt.tzinfo:
        return self.calendar.tz

    @property
    def today(self) -> dt.date:
        return self.as_of.date()

    @functools.cached_property
    def moment(self) -> dt.datetime:
        """``as_of`` as the calendar tells moments apart: out of business hours, the end of the
        quiet span it falls in (``WorkCalendar.quiet_until``), the same for every moment of
        that span; else ``as_of`` itself. What depends on "now" only through the calendar (the
        clocks, the rollups) is keyed on it: a service's cycles of an evening reuse it."""
        return self.calendar.quiet_until(self.as_of) or self.as_of

    def rel(self, path: str | Path) -> str:
        """A path as shown to people and stored in the journal: relative to the drive."""
        try:
            return Path(path).relative_to(self.paths.root).as_posix()
        except ValueError:
            return str(path)

    def journal(self, entries: list[dict[str, Any]]) -> None:
        """Append audit-trail entries (the drive's journal and the local mirror)."""
        if entries:
            append_entries(self.paths.log, self.ledger, entries, tz=self.rules.calendar.timezone)

    def need_ledger(self) -> Ledger:
        if self.ledger is None:  # pragma: no cover - a programming error, not a user's
            raise XietongError("internal: this operation needs the local state", code="E_INTERNAL")
        return self.ledger


def rules_for(drive: str | Path | None = None, rules_dir: str | Path | None = None) -> Rules:
    """The rules in force: an explicit rules folder, else the drive's, else the package defaults."""
    if rules_dir is not None:
        return load_rules(rules_dir)
    if drive is not None:
        root = Path(drive)
        if not root.is_dir():
            raise XietongError(f"共享盘目录不存在：{root}", code="E_NO_DRIVE", exit_code=2)
        return drive_rules(root)
    return load_rules()


def calendar_of(rules: Rules) -> WorkCalendar:
    return WorkCalendar.from_rules(rules.calendar)


def parse_as_of(value: str | dt.datetime | dt.date | None, rules: Rules) -> dt.datetime:
    """``--as-of``: the one place "now" is decided and normalised.

    None or blank: the wall clock. An ISO date-time: naive means the rules' time zone. A bare
    date: its close of business. Outside 2000-01-01 … 2099-12-31: ``E_AS_OF_RANGE``.
    """
    tz = rules.calendar.tzinfo()
    cob = rules.calendar.close_of_business
    if value is None or (isinstance(value, str) and not value.strip()):
        moment = dt.datetime.now(tz)
    elif isinstance(value, dt.datetime):
        moment = value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, cob, tzinfo=tz)
    else:
        raw = str(value).strip()
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            moment = dt.datetime.combine(_date(raw), cob, tzinfo=tz)
        else:
            if len(raw) <= 10:  # a bare date
                moment = dt.datetime.combine(parsed.date(), cob, tzinfo=tz)
            elif parsed.tzinfo is None:
                moment = parsed.replace(tzinfo=tz)
            else:
                moment = _in_zone(parsed, tz, raw)
    if not AS_OF_MIN <= moment.date() <= AS_OF_MAX:
        raise XietongError(
            f"时点 {moment.date().isoformat()} 超出支持范围"
            f"（{AS_OF_MIN.isoformat()} 至 {AS_OF_MAX.isoformat()}）",
            code="E_AS_OF_RANGE",
            exit_code=2,
        )
    return moment


def _date(raw: str) -> dt.date:
    try:
        return parse_date(raw)  # E_BAD_DATE when it is not a date either
    except OverflowError:
        raise XietongError(f"无法识别的时点：{raw}", code="E_BAD_DATE", exit_code=2) from None


def _in_zone(moment: dt.datetime, tz: dt.tzinfo, raw: str) -> dt.datetime:
    try:
        return moment.astimezone(tz)
    except OverflowError:  # 9999-12-31T23:00-05:00 and the like
        raise XietongError(
            f"时点 {raw} 超出支持范围（{AS_OF_MIN.isoformat()} 至 {AS_OF_MAX.isoformat()}）",
            code="E_AS_OF_RANGE",
            exit_code=2,
        ) from None


def new_context(
    paths: DrivePaths,
    rules: Rules,
    *,
    as_of: str | dt.datetime | dt.date | None = None,
    ledger: Ledger | None = None,
) -> RunContext:
    """A context from parts already at hand (tests, the demo)."""
    return RunContext(paths, rules, calendar_of(rules), parse_as_of(as_of, rules), ledger)


@contextlib.contextmanager
def open_context(
    drive: str | Path,
    *,
    as_of: str | dt.datetime | dt.date | None = None,
    with_ledger: bool = True,
    rules_dir: str | Path | None = None,
) -> Iterator[RunContext]:
    """Open an initialised drive for one command: rules once, calendar once, ledger once."""
    paths = require_drive(drive)
    rules = rules_for(drive, rules_dir)
    if rules_dir is not None:
        paths = drive_paths(paths.root, rules)
    moment = parse_as_of(as_of, rules)
    if not with_ledger:
        with _released(RunContext(paths, rules, calendar_of(rules), moment)) as ctx:
            yield ctx
        return
    with (
        open_ledger(paths.root) as ledger,
        _released(RunContext(paths, rules, calendar_of(rules), moment, ledger)) as ctx,
    ):
        yield ctx


@contextlib.contextmanager
def _released(ctx: RunContext) -> Iterator[RunContext]:
    """The run's own memos dropped when it ends (what the process keeps for later runs stays):
    a long-lived process freezes what is alive after a cycle (``process.heap``), and a
    context caught in a reference cycle would otherwise hold a whole run's reads until the
    next full collection."""
    try:
        yield ctx
    finally:
        ctx.memo.clear()
        ctx.cache.memory.clear()
