"""Keeping the service's threads alive (守护): a dead thread is noticed and started again.

Each part of the service (scanner, worker, scheduler, the watchdog observer) runs in a thread
started from a factory. The supervisor's ``check`` (called every heartbeat) records why a dead
thread ended and starts a new one, so one bug or one bad file never stops the service silently.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Part:
    """One supervised thread (or thread-like object with ``is_alive``)."""

    name: str
    start: Callable[[], Any]  # starts the part, returns the thread (or observer)
    thread: Any = None
    restarts: int = 0
    death: dict[str, str] | None = None  # the last death: when and why
    error: str | None = None  # set by the part's wrapper when it died of an exception

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


@dataclass
class Supervisor:
    parts: dict[str, Part] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, target: Callable[[], None]) -> None:
        """Supervise a thread running ``target``; an exception it dies of is recorded."""
        part = Part(name, start=lambda: None)

        def run() -> None:
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - recorded; the supervisor restarts
                part.error = f"{type(exc).__name__}: {exc}"

        def start() -> threading.Thread:
            part.error = None
            t = threading.Thread(target=run, name=f"xietong-{name}", daemon=True)
            t.start()
            return t

        part.start = start
        self.parts[name] = part

    def add_object(self, name: str, start: Callable[[], Any]) -> None:
        """Supervise an object that runs its own thread (the watchdog observer)."""
        self.parts[name] = Part(name, start=start)

    def start(self) -> None:
        for part in self.parts.values():
            part.thread = part.start()

    def check(self, now: dt.datetime, *, stopping: bool = False) -> list[str]:
        """Restart every dead part (not while stopping); the names restarted."""
        restarted = []
        with self.lock:
            for part in self.parts.values():
                if part.alive() or stopping:
                    continue
                if part.thread is not None:
                    part.death = {
                        "time": now.isoformat(timespec="seconds"),
                        "reason": part.error or "线程已退出",
                    }
                try:
                    part.thread = part.start()
                except Exception as exc:  # noqa: BLE001 - e.g. the share is not mounted yet
                    part.thread = None
                    part.death = {
                        "time": now.isoformat(timespec="seconds"),
                        "reason": f"无法启动：{type(exc).__name__}: {exc}",
                    }
                    continue
                part.restarts += 1
                restarted.append(part.name)
        return restarted

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {
            p.name: {"alive": p.alive(), "restarts": p.restarts, "last_death": p.death}
            for p in self.parts.values()
        }
