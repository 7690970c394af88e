"""The service's job queue: one job per path however often it is saved (per-path coalescing).

A burst of saves of one file while it waits is one job, with the latest signature. A path whose
job is running can be queued again (it changed meanwhile) and runs after it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from automation.service.scanner import SeenFile

CYCLE = "*"  # the key of "run one cycle" (a scheduled clocks run, a change in the drive)


@dataclass
class Job:
    key: str  # the file's path relative to the drive, or CYCLE
    file: SeenFile | None
    saves: int = 1  # how many puts were coalesced into this job


class JobQueue:
    """Thread-safe; ``take_all`` hands the worker everything queued, in order."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._cond = threading.Condition()

    def put(self, key: str, file: SeenFile | None = None) -> bool:
        """Queue a job; True when it is new, False when it joined one already waiting."""
        with self._cond:
            job = self._jobs.get(key)
            if job is not None:
                if file is not None:
                    job.file = file
                job.saves += 1
                return False
            self._jobs[key] = Job(key, file)
            self._cond.notify_all()
            return True

    def take_all(self, timeout: float) -> list[Job]:
        """Everything queued; waits up to ``timeout`` seconds for something to arrive."""
        with self._cond:
            if not self._jobs:
                self._cond.wait(timeout)
            jobs = list(self._jobs.values())
            self._jobs.clear()
            return jobs

    def __contains__(self, key: str) -> bool:
        with self._cond:
            return key in self._jobs

    def __len__(self) -> int:
        with self._cond:
            return len(self._jobs)
