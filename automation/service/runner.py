"""The watcher service (``xietong serve``, 监控服务): scanner, queue, worker, schedule, health.

Threads, each supervised (a dead one is restarted at the next heartbeat):

- **scanner**: looks at the share (:mod:`automation.service.scanner`) every scan interval, or
  sooner when a file event woke it or a file is still resting; queues ready inbox files by path
  and asks for a cycle when the tracking table or item folders changed, or a write is pending;
- **worker**: takes everything queued and runs the same code as ``xietong run``
  (:func:`automation.process.cycle.cycle`), limited to the inbox files judged ready: the first
  part of the cycle answers them at once; the full cycle (later stages) is owed and runs once
  the inbox has been quiet ``full_cycle_quiet_seconds``, at the latest after
  ``full_cycle_max_delay_seconds``, a save queued meanwhile going first. It never raises: a failure is logged and counted, blamed on the drive when a cycle without those files
  fails too, else on each file alone; a file failing ``quarantine_after`` times is set aside
  with a note in the feedback folder until it changes;
- **scheduler**: runs the jobs of ``rules/schedule.yaml`` (:mod:`automation.service.schedule`);
  an operation not installed is logged as "not available";
- **observer** (unless ``--poll-only``): watchdog events, a hint that wakes the scanner.

The main thread is the heartbeat: it checks the threads, writes the status file and, now and
then, ``服务状态.txt`` on the share. ``stop()`` (SIGTERM, Ctrl-C, a Windows service stop) lets
the worker finish the current cycle — its writes are atomic — and returns.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from automation.core.calendar import WorkCalendar
from automation.errors import RulesError, XietongError
from automation.io.drive import DrivePaths, drive_paths, drive_rules, require_drive
from automation.io.ledger import drive_key, named_lock, open_ledger
from automation.io.safewrite import WriteDeferred, safe_write_text
from automation.process.context import open_context
from automation.process.cycle import cycle
from automation.rules import Rules, load_rules
from automation.service import health
from automation.service.queue import CYCLE, JobQueue
from automation.service.scanner import Scanner, SeenFile, Signature
from automation.service.schedule import last_due, next_due
from automation.service.supervisor import Supervisor

log = logging.getLogger("xietong.service")

ERROR_WINDOW = dt.timedelta(days=1)
QUARANTINE_SUFFIX = "_处理失败.txt"
ANSWERED_MAX = 10_000  # answered (file, signature) pairs remembered; then forgotten at once

# handler(root, files): one cycle on the drive taking only ``files`` from the inbox
Handler = Callable[[Path, list[SeenFile]], Any]


def cycle_handler(root: Path, files: list[SeenFile]) -> Any:
    """The job: the same cycle as ``xietong run``, reading only the inbox files given."""
    taken = {(f.rel, f.size, f.mtime_ns) for f in files}
    with open_context(root) as ctx:
        return cycle(
            ctx,
            settle_s=0,  # readiness was judged by the scanner
            hold_back=lambda rel, size, mtime_ns: (rel, size, mtime_ns) not in taken,
            # a save is answered at once; the weekly rollup, archive, summary and notifications
            # follow in a full cycle the service runs once the inbox is quiet
            later_stages=not files,
        )


def _report_summary(report: Any) -> dict[str, Any]:
    if report is None or not hasattr(report, "summary_lines"):
        return {"summary": ""}
    return {
        "summary": report.summary_lines()[0],
        "registered": report.registered,
        "invalid": report.invalid,
        "duplicates": report.duplicates,
        "tracking_written": report.tracking_written,
        "deferred": len(report.deferred),
    }


class Service:
    """One watcher service on one drive; ``run()`` blocks until ``stop()``."""

    def __init__(
        self,
        root: str | Path,
        *,
        interval: float | None = None,
        quiet: float | None = None,
        heartbeat: float | None = None,
        poll_only: bool = False,
        handler: Handler | None = None,
        quarantine_after: int | None = None,
        full_quiet: float | None = None,
        full_max_delay: float | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        operations: Mapping[str, Callable[..., Any]] | None = None,
    ):
        # the scheduled jobs call operations by name (``automation.api.OPERATIONS``, handed in
        # by ``api.serve``: the service never imports the API it is a front end of)
        self.operations = dict(operations or {})
        try:
            self.paths: DrivePaths = require_drive(root)
        except RulesError:  # the drive's rules do not load: serve with the default layout and
            self.paths = drive_paths(root)  # report the error; cycles resume once IT fixes them
            if not self.paths.inbox.is_dir():
                raise
        self.root = self.paths.root
        self.rules, rules_error = self._load_rules()
        sched = self.rules.schedule
        self.interval = float(interval if interval is not None else sched.scan_interval_seconds)
        self.quiet = float(quiet if quiet is not None else sched.quiet_seconds)
        self.heartbeat = float(heartbeat if heartbeat is not None else sched.heartbeat_seconds)
        self.quarantine_after = quarantine_after or sched.quarantine_after
        self.full_quiet = float(
            full_quiet if full_quiet is not None else sched.full_cycle_quiet_seconds
        )
        self.full_max_delay = max(
            self.full_quiet,
            float(
                full_max_delay if full_max_delay is not None else sched.full_cycle_max_delay_seconds
            ),
        )
        self.poll_only = poll_only
        self.handler = handler or cycle_handler
        self.tz = ZoneInfo(self.rules.calendar.timezone)
        self._clock = clock or (lambda: dt.datetime.now(self.tz))
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.queue = JobQueue()
        self.scanner = Scanner(
            self.paths, self.quiet, broken_grace_s=max(10 * self.quiet, self.interval)
        )
        self.supervisor = Supervisor()
        self.lock = threading.RLock()
        self.started = self.now()
        self.state = "starting"
        self.unavailable: str | None = None
        self.held: dict[str, str] = {}
        self.waiting = 0
        self.in_flight: set[tuple[str, Signature]] = set()
        # files answered by a cycle, as they were then: a look that began before the answer
        # (its ledger check done while the file was in flight) does not queue them again
        self.answered: set[tuple[str, Signature]] = set()
        self.failures: dict[str, tuple[Signature, int, str]] = {}
        self.quarantined: dict[str, dict[str, Any]] = {}
        self.errors: collections.deque[dict[str, str]] = collections.deque(maxlen=500)
        self.last_cycle: dict[str, Any] | None = None
        self.last_cycle_mono = 0.0
        # a full cycle asked for and not yet run (monotonic time of the first ask), and the last
        # time an inbox file was arriving or answered: the full cycle waits for a quiet inbox
        self.full_owed: float | None = None
        self.full_running = False
        self.inbox_active = float("-inf")  # files already there are seen by the first look
        self.cycles = 0
        self.beats = 0  # heartbeats written
        self.files_taken = 0
        self.notification_failures = 0
        self.changed = threading.Event()  # a cycle wrote something: after_change jobs run
        self.jobs: dict[str, dict[str, Any]] = {}
        self.final_status: dict[str, Any] | None = None
        if rules_error:
            self._error("rules", rules_error)

    # -- small helpers ---------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return self._clock()

    def _load_rules(self) -> tuple[Rules, str | None]:
        try:
            return drive_rules(self.root), None
        except RulesError as exc:  # the service still starts: default schedule, error shown
            return load_rules(), f"[{exc.code}] {exc.message}"

    def _error(self, where: str, message: str) -> None:
        log.error("%s: %s", where, message)
        with self.lock:
            self.errors.append(
                {"time": self.now().isoformat(timespec="seconds"), "where": where, "error": message}
            )

    # -- scanner ---------------------------------------------------------------------------

    def _scan_loop(self) -> None:
        while not self.stop_event.is_set():
            self.wake.clear()
            look = self.scanner.look()
            with self.lock:
                if look.unavailable != self.unavailable:
                    if look.unavailable:
                        log.warning("share unavailable: %s", look.unavailable)
                    else:
                        log.info("share available again")
                self.unavailable = look.unavailable
                self.held = dict(look.held)
                self.waiting = len(look.waiting) + len(look.broken)
                if look.waiting or look.broken:
                    self.inbox_active = time.monotonic()
            if look.unavailable is None:
                self._queue_ready(look.ready)
                if look.drive_changed:
                    self.queue.put(CYCLE)
            resting = look.waiting or look.broken
            timeout = max(self.quiet, 0.05) if resting else self.interval
            self.wake.wait(min(timeout, self.interval))
            time.sleep(0.02)  # a storm of events must not turn into a busy loop

    def _queue_ready(self, ready: list[SeenFile]) -> None:
        with open_ledger(self.root) as ledger:
            known = {f.rel for f in ready if ledger.known_unchanged(f.rel, f.size, f.mtime_ns)}
            pending = bool(ledger.pending())
        for f in ready:
            if f.rel in known:
                continue
            with self.lock:
                if (f.rel, f.signature) in self.in_flight or (f.rel, f.signature) in self.answered:
                    continue
                q = self.quarantined.get(f.rel)
                if q is not None:
                    if tuple(q["signature"]) == f.signature:
                        continue
                    del self.quarantined[f.rel]  # saved again: looked at afresh
                    self.failures.pop(f.rel, None)
            with self.lock:
                self.inbox_active = time.monotonic()
            self.queue.put(f.rel, f)
        # a write deferred (someone had the table open): retried every scan interval
        if pending and time.monotonic() - self.last_cycle_mono >= self.interval:
            self.queue.put(CYCLE)

    # -- worker ----------------------------------------------------------------------------

    def _work_loop(self) -> None:
        while not self.stop_event.is_set():
            jobs = self.queue.take_all(timeout=self._full_wait())
            with self.lock:
                if self.full_owed is None and any(j.key == CYCLE for j in jobs):
                    self.full_owed = time.monotonic()
            if self.unavailable:
                continue  # files dropped (queued again once the share is back); a cycle owed
            files = [j.file for j in jobs if j.file is not None]
            if files:  # a save goes first: it pre-empts a full cycle not yet started
                self._process(files)
            elif self._full_due():
                with self.lock:
                    self.full_owed, self.full_running = None, True
                try:
                    self._process([])
                finally:
                    with self.lock:
                        self.full_running = False

    def _full_wait(self) -> float:
        """How long the worker may wait for a job before it looks at the owed full cycle."""
        with self.lock:
            if self.full_owed is None or self.unavailable:
                return 0.5
            now = time.monotonic()
            due = min(self.inbox_active + self.full_quiet, self.full_owed + self.full_max_delay)
        return min(max(due - now, 0.01), 0.5)

    def _full_due(self) -> bool:
        """A full cycle is owed and the inbox was quiet long enough, or it waited the maximum."""
        with self.lock:
            if self.full_owed is None:
                return False
            now = time.monotonic()
            return (
                now - self.inbox_active >= self.full_quiet
                or now - self.full_owed >= self.full_max_delay
            )

    def _owe_full_cycle(self) -> None:
        with self.lock:
            self.inbox_active = time.monotonic()
            if self.full_owed is None:
                self.full_owed = self.inbox_active

    def _process(self, files: list[SeenFile]) -> None:
        with self.lock:
            self.in_flight = {(f.rel, f.signature) for f in files}
        try:
            try:
                self._run(files)
                if files:  # answered at once; the later stages follow in a full cycle, once
                    self._owe_full_cycle()  # the inbox is quiet (or it waited the maximum)
                return
            except Exception as exc:  # noqa: BLE001 - the handler must never kill the worker
                self._error("cycle", f"{type(exc).__name__}: {exc}")
            if not files:
                return
            try:
                self._run([])  # does the drive fail without these files?
            except Exception:  # noqa: BLE001 - then it is not the files' fault
                return
            for f in files:
                try:
                    self._run([f])
                except Exception as exc:  # noqa: BLE001
                    self._failed(f, f"{type(exc).__name__}: {exc}")
        finally:
            with self.lock:
                self.in_flight = set()

    def _run(self, files: list[SeenFile]) -> None:
        start, mono = self.now(), time.monotonic()
        report = None
        try:
            report = self.handler(self.root, files)
        finally:
            took = round(time.monotonic() - mono, 3)
            with self.lock:
                self.cycles += 1
                self.last_cycle_mono = time.monotonic()
                self.last_cycle = {
                    "start": start.isoformat(timespec="seconds"),
                    "duration_s": took,
                    "files": [f.rel for f in files],
                    "ok": report is not None,
                    **_report_summary(report),
                }
        with self.lock:
            self.files_taken += len(files)
            if len(self.answered) >= ANSWERED_MAX:
                self.answered.clear()
            for f in files:
                self.failures.pop(f.rel, None)
                self.answered.add((f.rel, f.signature))
        if report is not None and (
            getattr(report, "tracking_written", False) or getattr(report, "created", None)
        ):
            self.changed.set()

    def _failed(self, f: SeenFile, error: str) -> None:
        with self.lock:
            sig, count, _ = self.failures.get(f.rel, (f.signature, 0, ""))
            count = count + 1 if sig == f.signature else 1
            self.failures[f.rel] = (f.signature, count, error)
            if count < self.quarantine_after:
                return
        note = self._quarantine_note(f, count, error)
        with self.lock:
            self.quarantined[f.rel] = {
                "file": f.rel,
                "signature": list(f.signature),
                "failures": count,
                "error": error,
                "since": self.now().isoformat(timespec="seconds"),
                "note": note,
            }
        log.warning("quarantined %s after %d failures: %s", f.rel, count, error)

    def _quarantine_note(self, f: SeenFile, count: int, error: str) -> str | None:
        target = self.paths.feedback / f"{f.path.stem}{QUARANTINE_SUFFIX}"
        text = (
            f"文件：{f.path.name}\r\n\r\n"
            f"系统连续 {count} 次处理此文件失败，已暂停处理，以免影响其他文件。\r\n"
            f"错误信息：{error}\r\n\r\n"
            "请检查文件（可用 Excel/WPS 打开后重新保存）；文件修改保存后会自动重新处理。"
            "如仍失败，请联系信息部门。\r\n"
        )
        try:
            safe_write_text(target, text, expected=None)
        except (WriteDeferred, OSError) as exc:
            self._error("quarantine", f"{target.name}: {exc}")
            return None
        return health.relative_to_drive(self.root, target)

    # -- scheduler -------------------------------------------------------------------------

    def _schedule_loop(self) -> None:
        calendar = WorkCalendar.from_rules(self.rules.calendar)
        previous = (health.read_status(self.root) or {}).get("jobs") or {}
        sched = self.rules.schedule
        now = self.now()
        for job in sched.jobs:
            with self.lock:
                if job.name in self.jobs:  # a restarted scheduler keeps its memory
                    continue
                last = (previous.get(job.name) or {}).get("last_run")
                self.jobs[job.name] = {
                    "operation": job.operation,
                    "last_run": last if (last and sched.catch_up_missed) else now.isoformat(),
                    "last_result": (previous.get(job.name) or {}).get("last_result"),
                }
        while not self.stop_event.is_set():
            now = self.now()
            # "after a change" means after the full cycle that follows the answered saves:
            # running the summary while saves are being answered would delay their receipts
            with self.lock:
                changed = self.changed.is_set() and self.full_owed is None and not self.full_running
            if changed:
                self.changed.clear()
            for job in sched.jobs:
                state = self.jobs[job.name]
                since = dt.datetime.fromisoformat(state["last_run"])
                slot = last_due(job, calendar, since=since, now=now)
                if slot is not None or (changed and job.after_change):
                    self._run_job(job.name, job.operation, now)
                state["next_run"] = _iso(next_due(job, calendar, now=now))
            self.stop_event.wait(1.0)

    def _run_job(self, name: str, operation: str, now: dt.datetime) -> None:
        state = self.jobs[name]
        state["last_run"] = now.isoformat()
        if operation == "run":
            self.queue.put(CYCLE)
            state["last_result"] = "queued"
            return
        func = self.operations.get(operation)
        if func is None:
            log.info("job %s: operation '%s' not available", name, operation)
            state["last_result"] = "not available"
            return
        try:
            func(str(self.root))
            state["last_result"] = "ok"
        except Exception as exc:  # noqa: BLE001 - a job failing never stops the service
            state["last_result"] = f"error: {exc}"
            if operation == "notify":
                with self.lock:
                    self.notification_failures += 1
            self._error(f"job {name}", f"{type(exc).__name__}: {exc}")

    # -- heartbeat, start, stop ------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        now = self.now()
        with self.lock:
            errors = [
                e for e in self.errors if now - dt.datetime.fromisoformat(e["time"]) <= ERROR_WINDOW
            ]
            state = self.state
            if state == "running" and self.unavailable:
                state = "unavailable"
            out = {
                "drive": str(self.root),
                "state": state,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": self.started.isoformat(timespec="seconds"),
                "heartbeat": now.isoformat(timespec="seconds"),
                "heartbeat_seconds": self.heartbeat,
                "beats": self.beats,
                "scan_interval_seconds": self.interval,
                "quiet_seconds": self.quiet,
                "events": not self.poll_only,
                "threads": self.supervisor.as_dict(),
                "queue_length": len(self.queue) + len(self.in_flight),
                "full_cycle_owed_s": (
                    None if self.full_owed is None else round(time.monotonic() - self.full_owed, 1)
                ),
                "waiting_files": self.waiting,
                "held_files": dict(self.held),
                "unavailable": self.unavailable,
                "cycles": self.cycles,
                "files_taken": self.files_taken,
                "last_cycle": self.last_cycle,
                "quarantined": list(self.quarantined.values()),
                "failing": {k: {"failures": v[1], "error": v[2]} for k, v in self.failures.items()},
                "jobs": {k: dict(v) for k, v in self.jobs.items()},
                "notification_failures": self.notification_failures,
                "errors": errors,
            }
        out["pending_writes"] = _pending(self.root)
        return out

    def _beat(self, *, share: bool) -> None:
        status = self.status()
        health.write_status(self.root, status)
        if share:
            problem = health.write_share_status(self.root, status)
            if problem and not self.unavailable:
                log.info("status file on the share not written: %s", problem)

    def stop(self) -> None:
        """Ask the service to stop; ``run()`` returns after the current cycle."""
        self.stop_event.set()
        self.wake.set()

    def run(self) -> dict[str, Any]:
        """Serve until ``stop()``; returns the last status."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(named_lock(f"service-{drive_key(self.root)}", timeout=0))
            except XietongError as exc:
                if exc.code != "E_BUSY":
                    raise
                raise XietongError(
                    f"本共享盘已有监控服务在运行：{self.root}（xietong status 查看）",
                    code="E_SERVICE_RUNNING",
                    exit_code=4,
                ) from None
            return self._serve()
        raise AssertionError("unreachable")

    def _serve(self) -> dict[str, Any]:
        self.supervisor.add("scanner", self._scan_loop)
        self.supervisor.add("worker", self._work_loop)
        self.supervisor.add("scheduler", self._schedule_loop)
        if not self.poll_only:
            from automation.service.events import start_observer

            under = [self.paths.inbox, self.paths.tracking, self.paths.items]
            self.supervisor.add_object(
                "observer", lambda: start_observer(self.root, self.wake, under)
            )
        with self.lock:
            self.state = "running"
        self.supervisor.start()
        log.info("serving %s (%s)", self.root, "polling only" if self.poll_only else "events")
        last_share = 0.0
        share_every = self.rules.schedule.status_file_seconds
        last_unavailable: str | None = None
        while not self.stop_event.is_set():
            restarted = self.supervisor.check(self.now())
            for name in restarted:
                part = self.supervisor.parts[name]
                self._error(
                    "supervisor", f"{name} 已重新启动（{(part.death or {}).get('reason')}）"
                )
            mono = time.monotonic()
            share = mono - last_share >= share_every or self.unavailable != last_unavailable
            self.beats += 1
            try:
                self._beat(share=share)
            except Exception as exc:  # noqa: BLE001 - the heartbeat itself must go on
                self._error("heartbeat", f"{type(exc).__name__}: {exc}")
            if share:
                last_share, last_unavailable = mono, self.unavailable
            self.stop_event.wait(self.heartbeat)
        return self._shutdown()

    def _shutdown(self) -> dict[str, Any]:
        log.info("stopping: finishing the current cycle")
        for part in self.supervisor.parts.values():
            thread = part.thread
            if thread is None:
                continue
            if part.name == "observer":
                thread.stop()
            thread.join(timeout=600)  # the worker finishes its cycle (writes are atomic)
        with self.lock:
            self.state = "stopped"
        status = self.status()
        health.write_status(self.root, status)
        health.write_share_status(self.root, status)
        self.final_status = status
        return status


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


def _pending(root: Path) -> list[dict[str, Any]]:
    """Deferred writes and who holds them (from the local state)."""
    try:
        with open_ledger(root) as ledger:
            return [
                {
                    "file": p.file,
                    "reason": p.reason,
                    "holder": p.holder,
                    "first_seen": p.first_seen,
                    "attempts": p.attempts,
                }
                for p in ledger.pending()
            ]
    except (OSError, XietongError) as exc:
        return [{"file": "", "reason": f"本地状态无法读取：{exc}", "holder": None}]
