"""The audit trail: every write of the automation, one JSON line each, in the drive's log folder.

``<log>/journal-YYYY-MM.jsonl`` (month of the write, in the rules' time zone). An entry says when,
which file, sheet and cells, the values before and after, why, and the hash of the input that
caused it. Lines are appended with one ``write`` on a file opened for appending, then flushed
and fsynced; a line torn by a killed process is closed off before the next one and skipped on
reading. Every entry is mirrored in the local state database.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from automation.io.ledger import Ledger, drive_key, named_lock

JOURNAL_GLOB = "journal-*.jsonl"


def journal_file(log_dir: Path, when: dt.datetime) -> Path:
    return log_dir / f"journal-{when:%Y-%m}.jsonl"


def make_entry(
    *,
    action: str,
    file: str,
    reason: str,
    item: str | None = None,
    sheet: str | None = None,
    cells: list[str] | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    input_hash: str | None = None,
    as_of: dt.datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One journal entry (``time`` is filled in when it is appended)."""
    entry: dict[str, Any] = {
        "time": None,
        "as_of": as_of.isoformat() if as_of else None,
        "action": action,
        "item": item,
        "file": file,
        "sheet": sheet,
        "cells": cells or [],
        "before": before or {},
        "after": after or {},
        "reason": reason,
        "input_hash": input_hash,
    }
    entry.update(extra)
    return entry


def append_entries(
    log_dir: Path, ledger: Ledger | None, entries: list[dict[str, Any]], *, tz: str
) -> None:
    """Append entries to this month's journal on the drive and mirror them in the state DB."""
    if not entries:
        return
    now = dt.datetime.now(ZoneInfo(tz)).replace(microsecond=0)
    for e in entries:
        e["time"] = now.isoformat()
    path = journal_file(log_dir, now)
    texts = [json.dumps(e, ensure_ascii=False, default=str) for e in entries]
    data = "".join(t + "\n" for t in texts)
    # one writer at a time: appends on a network share are not atomic between processes
    with named_lock(f"journal-{drive_key(log_dir)}", timeout=60.0):
        _append(path, data.encode("utf-8"))
    if ledger is not None:
        ledger.mirror_journal_entries(entries, texts)


def _append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
    fd = os.open(str(path), flags, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and _last_byte(path) != b"\n":
            data = b"\n" + data  # a previous writer died mid-line: keep lines separate
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1)


def read_journal_file(path: Path, start: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The readable entries of one journal file from byte ``start`` (the end of a line), and
    where the last complete line ends (a line still being written is read next time)."""
    out: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    for line in data[:end].decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out, start + end


def read_journal(log_dir: Path, *, item: str | None = None) -> list[dict[str, Any]]:
    """Every readable entry of the drive's journal, oldest first; torn lines are skipped."""
    out: list[dict[str, Any]] = []
    for path in sorted(log_dir.glob(JOURNAL_GLOB)):
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(entry, dict) and (item is None or entry.get("item") == item):
                    out.append(entry)
    return out
