"""通知 (notifications): find the events of a drive, queue each once, merge, render and send.

``xietong notify DRIVE`` and the end of ``xietong run`` call :func:`notify_drive`:

1. the tracking table and the clocks give the events (``automation.core.notify``); events of
   other stages (exceptions escalated, the weekly digest) come in as ``extra_events``;
2. every (event, target) notification not seen before is recorded in the local queue
   (``automation.io.notify_queue``) — a key once recorded is never queued again;
3. the recorded notifications that may leave now (send hours; breaches at any hour) are merged
   into one digest per target, rendered (``automation.io.render``) and stored as messages;
4. due messages are delivered (outbox files, SMTP, robots) within each robot's rate limit and
   marked sent only after the channel accepted them; a failure is retried with backoff.

A crash between delivering and marking re-delivers the same message on the next run: to the
outbox that is the same file name with the same bytes (nothing new), to SMTP the same
Message-ID.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core import notify as core
from automation.core.calendar import WorkCalendar, week_label
from automation.core.clocks import ClockResult, ItemCycle
from automation.core.exceptions import escalation_events
from automation.core.intake import from_json_values, latest_revisions
from automation.errors import XietongError
from automation.io.channels import ChannelError
from automation.io.channels.mail import build_mail, mail_date, send_smtp, write_outbox
from automation.io.channels.robots import PLATFORMS, send_robot
from automation.io.drive import (
    DrivePaths,
    require_drive,
)
from automation.io.ledger import Ledger, open_ledger
from automation.io.notify_queue import NotifyQueue, QueuedMessage, stored_json
from automation.io.render import Renderer, Section
from automation.io.secrets import Secrets, load_secrets
from automation.process.clocks import (
    clock_results_by_cycle,
    item_cycles,
    read_inputs,
    steady_views,
)
from automation.process.context import RunContext
from automation.process.execution import drive_exceptions
from automation.rules import Rules

MAX_RATE_WAIT_S = 3.0  # wait this long at most for a robot's rate window; else the next run
SEND_BATCH = 200  # composed messages stored, and outbox sends marked, per transaction
E_NOTIFY_CHANNEL = "E_NOTIFY_CHANNEL"


@dataclass
class NotifyReport:
    """What one notify run found and did (``--json``; the summary lines)."""

    drive: str
    as_of: str
    dry_run: bool
    new: list[dict[str, Any]] = field(default_factory=list)  # notifications first seen now
    held: int = 0  # recorded, waiting for the send hours
    messages: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "drive": self.drive,
            "as_of": self.as_of,
            "dry_run": self.dry_run,
            "new": self.new,
            "held": self.held,
            "messages": self.messages,
            "warnings": self.warnings,
        }

    def summary_lines(self) -> list[str]:
        verb = "将发送" if self.dry_run else "已处理"
        sent = sum(1 for m in self.messages if m["status"] == "sent")
        failed = [m for m in self.messages if m["status"] == "failed"]
        lines = [
            f"新通知 {len(self.new)} 条；{verb}消息 {len(self.messages)} 封"
            f"（成功 {sent}，失败 {len(failed)}）；等待发送时段 {self.held} 条"
        ]
        for m in self.messages:
            lines.append(f"  {m['status']:<8} {m['target']}：{m['subject']}（{m['events']} 条）")
            if m.get("error"):
                lines.append(f"           {m['error']}")
        lines += [f"  注意：{w}" for w in self.warnings]
        return lines


# -- events ---------------------------------------------------------------------------------------


def drive_events(ctx: RunContext, rows: list[dict[str, Any]] | None = None) -> list[core.Event]:
    """The events of the tracking table and the clocks of a drive as of the context's moment.

    ``rows``: the tracking rows the caller already read (the cycle), so the table is not read
    again; None reads it here.
    """
    return [e for _item, events in drive_event_parts(ctx, rows) for e in events]


def drive_event_parts(
    ctx: RunContext, rows: list[dict[str, Any]] | None = None
) -> list[tuple[str, list[core.Event]]]:
    """:func:`drive_events` by item; an item whose rows and clocks did not change since this
    process last looked gets the very list object it got then."""
    warnings: list[str] = []
    cycles = read_inputs(ctx).cycles if rows is None else item_cycles(ctx, rows, warnings)
    parts = clock_results_by_cycle(ctx, cycles)
    views = steady_views(ctx, cycles, parts)
    by_item: dict[str, list[tuple[ItemCycle, list[ClockResult], Any]]] = {}
    for c, part, view in zip(cycles, parts, views, strict=True):
        by_item.setdefault(c.item_id, []).append((c, part, view))
    out: list[tuple[str, list[core.Event]]] = []
    for item, triples in by_item.items():
        # an item whose cycles (rows and records: the very objects while they stay, see
        # process.clocks.item_cycles) and clocks are those of the last run: the same events.
        # The moment counts by its day only (how far back events are caught up); of the
        # clocks, all but the share of time used, which only the data of an at-risk event
        # shows — an event queued once, when its clock reached that level (a new view)
        key = (tuple(c for c, _p, _v in triples), ctx.as_of.date())
        clocks = [p for _c, p, _v in triples]
        shown = tuple(v for _c, _p, v in triples)
        held = ctx.cache.recall("events", item, key)
        if held is not None and held[0] == shown:
            out.append((item, held[1]))
            continue
        events = _item_events(ctx, [dict(c.fields) for c, _p, _v in triples], clocks)
        before = ctx.cache.last("events", item)
        if before is not None and before[1] == events:
            # the clocks were worked out again at a new moment (a minute later) and the
            # events are what they were: the same object, so are the notifications made of it
            events = before[1]
        ctx.cache.keep("events", item, key, (shown, events))
        out.append((item, events))
    return out


def _item_events(
    ctx: RunContext, rows: list[dict[str, Any]], clocks: list[list[ClockResult]]
) -> list[core.Event]:
    rules, as_of = ctx.rules, ctx.as_of
    results = [r for part in clocks for r in part]
    daily = {c.key for c in rules.clocks.clocks if c.per == "department_day"}
    return [
        *core.row_events(rows, results, as_of=as_of, catch_up_days=rules.notify.catch_up_days),
        *core.clock_events(
            results,
            rows,
            rules.notify,
            daily_clocks=daily,
            as_of=as_of,
            catch_up_days=rules.notify.catch_up_days,
        ),
    ]


def cycle_rows(rules: Rules, ledger: Ledger, table_rows: list[dict[str, Any]]) -> list[dict]:
    """The tracking rows as the cycle left them: the table's rows and the registrations of
    this run not yet in it."""
    form = rules.form("tracking")
    have = {(str(r.get("item_id") or "").strip(), int(r.get("revision") or 1)) for r in table_rows}
    rows = list(table_rows)
    for reg in ledger.registrations():
        if (reg.item_id, reg.revision) not in have:
            rows.append(from_json_values(reg.row_values, form))
    return rows


# -- composing ------------------------------------------------------------------------------------


def _target(key: str, mention: list[str]) -> core.Target:
    channel, _, address = key.partition(":")
    return core.Target(channel, address, tuple(mention))


def _stored(item: dict[str, Any]) -> core.Notification:
    rec = item["recipients"]
    return core.Notification(
        core.Event.from_dict(item["event"]),
        _target(item["target"], rec.get("mention", [])),
        tuple(rec.get("names", [])),
    )


def _sections(digest: core.Digest, rules: Rules) -> list[Section]:
    out = []
    for e in digest.events:
        spec = rules.notify.events[e.kind]
        values = {**e.data, "kind": e.kind, "item": e.item, "cycle": e.cycle}
        out.append(Section(spec.template, values))
    return out


def _compose(
    digest: core.Digest, rules: Rules, renderer: Renderer, as_of: dt.datetime
) -> list[tuple[core.Digest, dict[str, Any]]]:
    """Render a digest; a robot message over its platform's size limit is split in halves."""
    subjects = {k: v.subject for k, v in rules.notify.events.items()}
    subject = core.digest_subject(digest, subjects)
    names = "、".join(dict.fromkeys(n for x in digest.notifications for n in x.recipients))
    target = digest.target
    mention = ""
    platform = ""
    if target.channel == "robot":
        robot = rules.notify.robots.get(target.address)
        platform = robot.platform if robot else ""
        if platform == "wecom":
            mention = " ".join(f"<@{m}>" for m in target.mention)
    rendered = renderer.render(
        subject,
        _sections(digest, rules),
        recipients=names or "各位同事",
        office=rules.departments.roles.office_name,
        sent=as_of.strftime("%Y-%m-%d %H:%M"),
    )
    if platform in PLATFORMS and len(digest.notifications) > 1:
        limit = PLATFORMS[platform].max_bytes - len(mention.encode()) - 200
        if len(rendered.markdown.encode()) > limit:
            return [
                part
                for half in core.split(digest)
                for part in _compose(half, rules, renderer, as_of)
            ]
    payload = {
        "channel": target.channel,
        "address": target.address,
        "platform": platform,
        "mention": list(target.mention),
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "markdown": rendered.markdown,
        "date": mail_date(as_of),
        "stamp": as_of.strftime("%Y%m%d-%H%M"),
        "events": [n.key for n in digest.notifications],
    }
    return [(digest, payload)]


# -- delivering -----------------------------------------------------------------------------------


@dataclass
class Channels:
    """How messages leave: the outbox folder (mode: outbox) or SMTP and the robots."""

    paths: DrivePaths
    rules: Rules
    secrets: Secrets
    client: Any = None  # an httpx.Client (tests pass one; default a new one per message)

    def deliver(self, msg_id: str, payload: dict[str, Any]) -> str:
        """Deliver one message; where it went. Raises ChannelError when refused."""
        notify = self.rules.notify
        channel = payload["channel"]
        if channel == "mail":
            data = build_mail(
                msg_id=msg_id,
                sender=notify.smtp.sender,
                to=payload["address"],
                subject=payload["subject"],
                text=payload["text"],
                html=payload["html"],
                date=payload["date"],
            )
            if notify.mode == "outbox":
                name = f"{payload['stamp']}_{msg_id}.eml"
                return str(write_outbox(self.paths.outbox, name, data))
            send_smtp(
                notify.smtp,
                self.secrets.smtp_password,
                notify.smtp.sender,
                payload["address"],
                data,
            )
            return f"smtp:{payload['address']}"
        if channel == "robot":
            rid, platform = payload["address"], payload["platform"]
            if platform not in PLATFORMS:
                raise ChannelError(f"notify.yaml 中没有机器人 {rid}")
            if notify.mode == "outbox":
                name = f"{payload['stamp']}_{msg_id}.{platform}.md"
                return str(write_outbox(self.paths.outbox, name, payload["markdown"].encode()))
            secret = self.secrets.robot(rid)
            send_robot(
                platform,
                secret.webhook,
                secret.secret,
                title=payload["subject"],
                markdown=payload["markdown"],
                mention=payload["mention"],
                client=self.client,
            )
            return f"robot:{rid}"
        raise ChannelError(f"未知的通知渠道：{channel}")

    def rate(self, payload: dict[str, Any]) -> tuple[int, float] | None:
        """The rate limit of the message's target: (count, seconds), or None."""
        if payload["channel"] != "robot" or self.rules.notify.mode == "outbox":
            return None
        p = PLATFORMS.get(payload["platform"])
        return None if p is None else (p.rate_count, p.rate_seconds)


def _deliver_due(
    queue: NotifyQueue,
    channels: Channels,
    rules: Rules,
    report: NotifyReport,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    limited: set[str] = set()
    # written into the outbox, a message delivered again after a crash finds its file as it
    # wrote it (write_outbox): their sends are marked in batches; a mail or robot sent out is
    # marked at once
    batched = rules.notify.mode == "outbox"
    sent: list[tuple[str, str, float, str]] = []
    try:
        _deliver_each(queue, channels, rules, report, limited, sent, batched, clock, sleep)
    finally:
        queue.mark_sent_many(sent)


def _deliver_each(
    queue: NotifyQueue,
    channels: Channels,
    rules: Rules,
    report: NotifyReport,
    limited: set[str],
    sent: list[tuple[str, str, float, str]],
    batched: bool,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    for msg in queue.due(clock()):
        if msg.target in limited:
            continue
        entry = _entry(msg)
        rate = channels.rate(msg.payload)
        if rate is not None:
            count, window = rate
            recent = queue.sends_since(msg.target, clock() - window)
            if len(recent) >= count:
                wait = recent[-count] + window - clock()
                if wait > MAX_RATE_WAIT_S:
                    limited.add(msg.target)
                    report.messages.append(
                        {**entry, "status": "deferred", "error": "达到机器人频率上限，下次运行发送"}
                    )
                    continue
                sleep(max(wait, 0.0) + 0.01)
        try:
            where = channels.deliver(msg.id, msg.payload)
        except ChannelError as exc:
            wait = core.backoff_seconds(
                msg.attempts + 1, rules.notify.retry.base_seconds, rules.notify.retry.max_seconds
            )
            attempts = queue.mark_failed(msg.id, exc.message, clock() + wait)
            report.messages.append(
                {**entry, "status": "failed", "error": exc.message, "attempts": attempts}
            )
            continue
        sent.append(
            (
                msg.id,
                msg.target,
                clock(),
                dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            )
        )
        if not batched or len(sent) >= SEND_BATCH:
            queue.mark_sent_many(sent)
            sent.clear()
        report.messages.append({**entry, "status": "sent", "to": where})


def _entry(msg: QueuedMessage) -> dict[str, Any]:
    return {
        "id": msg.id,
        "target": msg.target,
        "subject": msg.payload["subject"],
        "events": len(msg.payload["events"]),
    }


# -- the operation --------------------------------------------------------------------------------


def notify_drive(
    ctx: RunContext,
    *,
    dry_run: bool = False,
    extra_events: Iterable[core.Event] = (),
    rows: list[dict[str, Any]] | None = None,
    client: Any = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    deliver: bool = True,
) -> NotifyReport:
    """Find, queue once, merge and send the notifications of the context's drive.

    ``rows``: tracking rows already read (the cycle passes its own, with this run's new
    registrations); None reads the tracking table. ``deliver=False`` queues and composes
    only; :func:`deliver_queued` sends what is due.
    """
    paths, rules, calendar, as_of = ctx.paths, ctx.rules, ctx.calendar, ctx.as_of
    report = NotifyReport(str(paths.root), as_of.isoformat(), dry_run)
    seen: dict[str, core.Notification] = {}
    made: list[tuple[str, list[core.Event], list[core.Notification]]] = []
    # the local state database these notifications were queued in (set once, when it is made)
    state = ctx.need_ledger().get_meta("rebuilt") or ""
    for item, events in drive_event_parts(ctx, rows):
        held = ctx.cache.recall("notifications", item, "")
        if held is not None and held[0] is events:  # the same events: the same notifications
            if held[2] == state:  # every one of them queued in this database: nothing new
                continue
            mine = held[1]
        else:
            mine = core.notifications(events, rules.departments, rules.notify)
        made.append((item, events, mine))
        for n in mine:
            seen.setdefault(n.key, n)
    for n in core.notifications(extra_events, rules.departments, rules.notify):
        seen.setdefault(n.key, n)
    found = list(seen.values())
    ledger = ctx.need_ledger()
    queue = NotifyQueue(ledger)
    known = _known_keys(ctx, queue, state, found)
    _run(paths, rules, ledger, found, known, as_of, calendar, report)
    if not dry_run and deliver:
        _deliver(paths, rules, ledger, report, client, clock, sleep)
    for item, events, mine in made:  # queued above unless a dry run (the queue only grows)
        ctx.cache.keep("notifications", item, "", (events, mine, None if dry_run else state))
    if not dry_run:  # what is queued now is known next run without asking the database
        _queued_keys(ctx, queue, state).update(seen)  # the set kept, updated in place
    return report


def _queued_keys(ctx: RunContext, queue: NotifyQueue, state: str) -> set[str]:
    """Every key in the queue. The queue only grows: the set this process holds is used while
    the queue's last id says nothing else was added to it in the same database (``state``, its
    ``rebuilt`` mark: one made again starts its ids afresh), else read again."""
    key = (state, queue.last_added())
    held = ctx.cache.recall("notify_known", "", key)
    if held is None:
        held = queue.all_keys()
        ctx.cache.keep("notify_known", "", key, held)
    return held


def _known_keys(
    ctx: RunContext, queue: NotifyQueue, state: str, found: list[core.Notification]
) -> set[str]:
    """The keys of ``found`` already in the queue."""
    queued = _queued_keys(ctx, queue, state)
    return {n.key for n in found if n.key in queued}


def _run(
    paths: DrivePaths,
    rules: Rules,
    ledger: Ledger,
    found: list[core.Notification],
    known: set[str],
    as_of: dt.datetime,
    calendar: WorkCalendar,
    report: NotifyReport,
) -> None:
    queue = NotifyQueue(ledger)
    fresh = [n for n in found if n.key not in known]
    report.new = [
        {
            "key": n.key,
            "kind": n.event.kind,
            "item": n.event.item,
            "target": n.target.key,
            "recipients": list(n.recipients),
        }
        for n in fresh
    ]
    # an event's JSON made once for all its targets (they come one after the other), a
    # recipient list's once for all its events
    last_event: core.Event | None = None
    last_text = ""
    lists: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}

    def event_text(n: core.Notification) -> str:
        nonlocal last_event, last_text
        if n.event is not last_event:
            last_event, last_text = n.event, stored_json(n.event.as_dict())
        return last_text

    def recipients_text(n: core.Notification) -> str:
        key = (tuple(n.recipients), tuple(n.target.mention))
        text = lists.get(key)
        if text is None:
            text = lists[key] = stored_json({"names": list(key[0]), "mention": list(key[1])})
        return text

    records = (  # made one at a time as they are stored: a first run queues tens of thousands
        {
            "key": n.key,
            "kind": n.event.kind,
            "target": n.target.key,
            "event": event_text(n),
            "recipients": recipients_text(n),
        }
        for n in fresh
    )
    renderer = Renderer(paths.rules / "notify")
    if dry_run := report.dry_run:
        waiting = [_stored(i) for i in queue.new_items()] + fresh
        sendable = [
            n for n in waiting if core.may_send(n.event.kind, as_of, calendar, rules.notify)
        ]
        report.held = len(waiting) - len(sendable)
    else:
        queue.add(records, as_of.isoformat())
        # only the kinds that may leave now are loaded: the held ones are merely counted
        counts = queue.new_kinds()
        now = {k for k in counts if core.may_send(k, as_of, calendar, rules.notify)}
        sendable = [_stored(i) for i in queue.new_items(now)]
        report.held = sum(n for k, n in counts.items() if k not in now)
    composed: list[tuple[str, str, dict[str, Any], list[str]]] = []
    for digest in core.digests(sendable, rules.notify.digest_max_events):
        for part, payload in _compose(digest, rules, renderer, as_of):
            if dry_run:
                report.messages.append(
                    {
                        "id": part.id,
                        "target": part.target.key,
                        "subject": payload["subject"],
                        "events": len(part.notifications),
                        "status": "would_send",
                    }
                )
            else:  # stored in batches, each message with its items (all or nothing)
                composed.append((part.id, part.target.key, payload, payload["events"]))
                if len(composed) >= SEND_BATCH:
                    queue.compose_many(composed, as_of.isoformat())
                    composed.clear()
    queue.compose_many(composed, as_of.isoformat())


def _deliver(
    paths: DrivePaths,
    rules: Rules,
    ledger: Ledger,
    report: NotifyReport,
    client: Any,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    secrets = load_secrets(rules.notify.smtp.password_env, share=paths.root)
    channels = Channels(paths, rules, secrets, client)
    _deliver_due(NotifyQueue(ledger), channels, rules, report, clock=clock, sleep=sleep)


def stage_events(ctx: RunContext, rows: list[dict[str, Any]]) -> list[core.Event]:
    """Events of the later stages: each step an exception climbs on the escalation ladder
    (执行反馈), and the leaders' weekly digest — the summary's page — once the week's report
    deadline has passed (汇总)."""
    latest = latest_revisions(rows)
    cases, _warnings = drive_exceptions(ctx)
    out = []
    for step in escalation_events(cases):
        row = latest.get(step["item"]) or {}
        out.append(
            core.escalated_event(
                item=str(step["item"]),
                cycle=int(row.get("revision") or 1),
                exception_id=str(step["key"]).rsplit("|", 1)[0],
                level=int(step["level"]),
                to=str(step["to"]),
                department=str(step["department"]),
                lead_dept=str(row.get("lead_dept") or ""),
                title=str(row.get("title") or ""),
                label=str(step["label"]),
                description=str(step["reason"]),
                reported=str(step["date"]),
            )
        )
    digest = _weekly_digest(ctx)
    return out + ([digest] if digest is not None else [])


def _weekly_digest(ctx: RunContext) -> core.Event | None:
    """The week's digest, due once the week's report deadline (Friday 18:00, or the last
    working day before it) has passed and the summary page exists."""
    year, week, _ = ctx.today.isocalendar()
    due = ctx.calendar.week_due(year, week)
    page = ctx.paths.summary / Path(ctx.rules.drive.summary_file).with_suffix(".html").name
    if due is None or ctx.as_of < due or not page.is_file():
        return None
    html = page.read_text(encoding="utf-8", errors="replace")
    label = week_label(year, week)
    text = f"{label} 跨部门协调周报：请打开附带的汇总页面查看（{page.name}）。"
    return core.weekly_digest_event(week=label, html=html, text=text)


def notify_after_cycle(
    ctx: RunContext,
    table_rows: list[dict[str, Any]],
    warnings: list[str],
    *,
    deliver: bool = True,
) -> NotifyReport | None:
    """The notify step at the end of ``xietong run``: a failure is a warning, never a failed run.

    The cycle's own tracking rows are used (the table is not read again); the department
    workbooks come through the cycle's validation cache. ``deliver=False``: queued and
    composed only (the cycle does that while it holds the drive lock, then sends with
    :func:`deliver_after_cycle` once it let go: a robot may make it wait).
    """
    try:
        rows = cycle_rows(ctx.rules, ctx.need_ledger(), table_rows)
        report = notify_drive(ctx, rows=rows, extra_events=stage_events(ctx, rows), deliver=deliver)
    except XietongError as exc:
        warnings.append(f"通知未能处理：[{exc.code}] {exc.message}")
        return None
    if deliver:
        _failed_warning(report, warnings)
    return report


def deliver_after_cycle(
    ctx: RunContext, report: NotifyReport | None, warnings: list[str]
) -> NotifyReport | None:
    """Send what is due after :func:`notify_after_cycle` composed it with ``deliver=False``
    (a failure is a warning, never a failed run)."""
    if report is None:
        return None
    try:
        deliver_queued(ctx, report)
    except XietongError as exc:
        warnings.append(f"通知未能处理：[{exc.code}] {exc.message}")
        return None
    _failed_warning(report, warnings)
    return report


def deliver_queued(
    ctx: RunContext,
    report: NotifyReport,
    *,
    client: Any = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifyReport:
    """Send the queued messages that are due; what happened is added to ``report``."""
    _deliver(ctx.paths, ctx.rules, ctx.need_ledger(), report, client, clock, sleep)
    return report


def _failed_warning(report: NotifyReport, warnings: list[str]) -> None:
    failed = [m for m in report.messages if m["status"] == "failed"]
    if failed:
        warnings.append(f"{len(failed)} 封通知发送失败，将稍后重试（xietong notify 查看）")


def notify_status(root: str | Path) -> dict[str, Any]:
    """Counts of the notification queue of a drive (held, queued, sent, failing with errors)."""
    paths = require_drive(root)
    with open_ledger(paths.root) as ledger:
        return NotifyQueue(ledger).status()


def send_test(ctx: RunContext, channel: str, *, client: Any = None) -> dict[str, Any]:
    """``xietong notify --test CHANNEL``: one test message through ``mail`` or a robot id,
    straight to the channel (not queued)."""
    paths, rules, as_of = ctx.paths, ctx.rules, ctx.as_of
    office = rules.departments.roles
    if channel == "mail":
        target = core.Target("mail", office.office_email or rules.notify.smtp.sender)
    elif channel in rules.notify.robots:
        target = core.Target("robot", channel)
    else:
        choices = ", ".join(["mail", *rules.notify.robots])
        raise XietongError(
            f"未知的通知渠道 '{channel}'，可选：{choices}", code=E_NOTIFY_CHANNEL, exit_code=2
        )
    event = core.Event(
        "registered",
        "TEST",
        0,
        "test",
        step=as_of.isoformat(),
        data={
            "item_id": "XT-TEST",
            "title": "协同系统通知测试",
            "requesting_dept": office.office_name,
        },
    )
    digest = core.Digest(target, (core.Notification(event, target, (office.office_name,)),))
    payload = _compose(digest, rules, Renderer(paths.rules / "notify"), as_of)[0][1]
    payload["subject"] = "【协同】通知渠道测试"
    secrets = load_secrets(rules.notify.smtp.password_env, share=paths.root)
    where = Channels(paths, rules, secrets, client).deliver(f"test-{int(time.time())}", payload)
    return {"channel": channel, "target": target.key, "delivered": where}
