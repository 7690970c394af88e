"""File events (watchdog) as a hint: an event only wakes the scanner early.

Events are never trusted for what they say (on SMB/CIFS they are missing or wrong); the next
look of the scanner decides. The handler cannot raise: an exception in a watchdog handler kills
the observer thread silently, so everything in it is caught (and the supervisor restarts a dead
observer anyway).
"""

from __future__ import annotations

import threading
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer


class WakeHandler(FileSystemEventHandler):
    """Sets ``wake`` for events under the folders people write to."""

    def __init__(self, wake: threading.Event, under: list[Path]):
        self.wake = wake
        self.under = [str(p) for p in under]

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
            if any(p.startswith(u) for p in paths if p for u in self.under):
                self.wake.set()
        except Exception:  # noqa: BLE001 - a hint must never kill the observer
            self.wake.set()


def start_observer(root: Path, wake: threading.Event, under: list[Path]) -> Observer:
    """A started observer of ``root`` (recursive: a recreated inbox is watched again)."""
    observer = Observer()
    observer.daemon = True
    observer.schedule(WakeHandler(wake, under), str(root), recursive=True)
    observer.start()
    return observer
