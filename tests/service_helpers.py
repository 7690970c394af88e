"""Helpers of the watcher-service tests: run a real service in a thread, save forms the way
office programs do, and read back what the drive ended up with."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from intake_helpers import request_values
from test_locks import excel_owner_file

from automation.api import log
from automation.io.drive import drive_paths
from automation.io.ledger import open_ledger
from automation.io.templates import write_workbook
from automation.process.context import new_context
from automation.process.tracking import read_tracking
from automation.rules import Rules
from automation.service import health
from automation.service.runner import Service

__all__ = ["excel_owner_file"]


def today_values(n: int, **extra):
    today = dt.date.today()
    return request_values(
        n,
        request_date=today,
        sign_date=today,
        expected_start=today + dt.timedelta(days=7),
        expected_finish=today + dt.timedelta(days=60),
        **extra,
    )


def invalid_values(n: int):
    return today_values(n, requester=None, title=None)


def wait_until(pred: Callable[[], Any], timeout: float = 20.0, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(step)


@contextlib.contextmanager
def running(drive: Path, **options: Any) -> Iterator[Service]:
    """A real service on ``drive`` in a thread, stopped cleanly at the end."""
    from automation.api import OPERATIONS  # what ``xietong serve`` hands the service

    options = {
        "interval": 1.0,
        "quiet": 0.3,
        "heartbeat": 0.3,
        "operations": OPERATIONS,
        **options,
    }
    service = Service(drive, **options)
    result: dict[str, Any] = {}

    def serve() -> None:
        try:
            result["status"] = service.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            result["error"] = exc

    thread = threading.Thread(target=serve, name="test-service")
    thread.start()
    wait_until(lambda: service.state == "running" and "worker" in service.supervisor.parts)
    wait_until(lambda: (health.read_status(drive) or {}).get("state") in ("running", "unavailable"))
    try:
        yield service
    finally:
        service.stop()
        thread.join(timeout=60)
        assert not thread.is_alive(), "the service did not stop"
        assert "error" not in result, result.get("error")


def form_bytes(rules: Rules, tmp: Path, values: dict[str, Any]) -> bytes:
    """The bytes of a filled request form."""
    tmp.mkdir(parents=True, exist_ok=True)
    path = write_workbook("request", rules, tmp / "form.xlsx", values=values)
    data = path.read_bytes()
    path.unlink()
    return data


def excel_save(target: Path, data: bytes, *, owner: str | None = None) -> Path | None:
    """Save as Excel does: owner file ``~$name`` while open, the new content into an 8-hex
    temporary file, then renamed over the target. Returns the owner file (still present)."""
    lock = target.with_name("~$" + target.name)
    if owner:
        lock.write_bytes(excel_owner_file(owner))
    tmp = target.with_name("3B2A0C00")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, target)
    return lock if owner else None


def libreoffice_save(target: Path, data: bytes, *, user: str = "王五") -> Path:
    """Save as LibreOffice does: ``.~lock.name#`` while open, the file written in place."""
    lock = target.with_name(f".~lock.{target.name}#")
    lock.write_text(f"{user},wangwu,pc-07,04.12.2026 10:05,file:///home/wangwu/.config/lo/4;")
    target.write_bytes(data)
    return lock


def registrations(drive: Path) -> list[Any]:
    with open_ledger(drive) as ledger:
        return ledger.registrations()


def tracking_rows(drive: Path, rules: Rules) -> list[dict[str, Any]]:
    table = read_tracking(new_context(drive_paths(drive, rules), rules))
    return [r for r in table.rows if r.get("item_id")]


def answers(drive: Path, stem: str) -> list[str]:
    """The feedback files written for one inbox file, one per write (from the audit trail)."""
    return [
        e["file"] for e in log(drive) if e.get("action") == "feedback" and stem in e.get("file", "")
    ]


def answered_once(drive: Path, stem: str) -> bool:
    """Answered, and no feedback file of it written twice."""
    files = answers(drive, stem)
    return bool(files) and len(files) == len(set(files))
