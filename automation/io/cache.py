"""Validation results of unchanged workbooks, kept in the drive's local state database.

A shared drive holds thousands of execution workbooks and weekly reports, and ``xietong run``
needs every one of them for the clocks. Most do not change between two runs, so the result of
validating a file (its ``FileReport``: kind, fields, rows, tables, problems) is stored in the
local SQLite database of the drive (``automation.io.ledger``, table ``validated``), and the file is
not opened again while it stays the same. There is still one reader: a file that is not in the
cache, or may have changed, goes through ``automation.io.validation.validate_file``.

A stored result is used only when all of these match what was stored:

- the file: its absolute path, size, modification time (ns), inode number and ctime; or, for a
  file whose bytes are already in memory (the tracking table), the SHA-256 of those bytes;
- the environment: the cache format, the rules in force, the working-day calendar, the year
  "today" (the year of dates typed without one), the source of the ``automation`` package and
  the versions of the libraries that read workbooks and know the holidays.

When in doubt the file is read again: a file modified within the last few seconds (a
modification time on a shared drive can be 2 s coarse, so a second save may keep the same time),
a file that changed while it was being read, a file that could not be read at all, a calendar
of an unknown kind. ``XIETONG_NO_CACHE=1`` turns the cache off.

Results are stored pickled (and zlib-compressed): the database is on the local disk of the
machine that runs xietong and written only by xietong, never on the share. An entry that cannot
be read back is a miss.

Three layers in memory sit in front of the database:

- **this run**: every report asked for, by path, used again while the file's identity is the
  same (so a run reads a file once however many stages ask);
- **this process** (the watcher service, a benchmark): the reports of settled files, and the
  values worked out from them (:meth:`ValidationCache.derive`: an item's department records,
  its clocks, its rollup, its checklist …), kept per state database and environment, so a
  cycle after one workbook changed works out that item again and reuses the rest;
- **a cold start** reads on every core: :meth:`ValidationCache.prefetch` validates the files
  not yet known in worker processes (each with its own isolated reader) before the stages ask.

A few values worked out from those reports are also **carried to the next process**
(``derive(..., carry=True)``): a process that made them writes them to
``derived-<drive>.pickle`` beside the state database when it ends, and the next process of the
same code and environment starts with them, so ``xietong run`` from cron, an Excel button's
refresh or a restarted service does not work them out again for the workbooks that did not
change. Only values whose key names every input (file identities, the day, the rules through
the environment) are carried, and only when each file identity in the key is settled; a
missing, torn or foreign file costs only the values made again.

``XIETONG_NO_CACHE=1`` keeps only the first layer.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import operator
import os
import pickle
import re
import sqlite3
import stat
import tempfile
import time
import zlib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from automation.core.calendar import WorkCalendar
from automation.io import validation
from automation.io.ledger import Ledger
from automation.io.reader import parse_here, parsing_done
from automation.io.validation import FileReport
from automation.rules import Rules

CACHE_FORMAT = 1  # bump when what is stored, or how, changes
UNSETTLED_S = 3.0  # a file modified more recently than this is read, never cached
PARALLEL_MIN = 200  # unread files worth starting worker processes for (about 1 s on 2 cores)
MAX_BLOB = 64 * 1024 * 1024  # a result larger than this (compressed) is not stored
# a process looks for the stored entries of files that are gone at most this often (seconds)
PRUNE_EVERY_S = 3600.0
_WRITING = "being written"  # the identity of a file a worker is writing now
NO_CACHE_ENV = "XIETONG_NO_CACHE"
T = TypeVar("T")
_LIBRARIES = ("python-calamine", "openpyxl", "defusedxml", "lxml", "chinesecalendar", "holidays")


def cache_disabled() -> bool:
    """``XIETONG_NO_CACHE`` set to anything but ``""`` or ``0``."""
    return os.environ.get(NO_CACHE_ENV, "").strip() not in ("", "0")


class ValidationCache:
    """Validate files of one drive, skipping those unchanged since their result was stored.

    ``ledger`` None (or ``XIETONG_NO_CACHE=1``) gives a cache that stores nothing: every file is
    validated. ``hits`` and ``misses`` count what happened; ``identities`` holds every file found
    in this run, so :meth:`prune` looks only for the others.
    """

    def __init__(self, ledger: Ledger | None, rules: Rules, calendar: Any = None) -> None:
        self.ledger = ledger
        self.rules = rules
        self.calendar = calendar
        self.today = dt.date.today()
        self.env: str | None = None
        if ledger is not None and not cache_disabled():
            self.env = environment_key(rules, calendar, self.today)
        self.hits = 0
        self.misses = 0
        # reports already in memory, by path: this run's (any file, by its identity), and
        # those of earlier runs in this process (settled files only, same environment)
        self.memory: dict[str, tuple[str, FileReport]] = {}
        self.kept = _kept_reports(ledger, self.env)
        self.identities: dict[str, str] = {}
        self.last_identity: str | None = None  # of the file :meth:`validate` was last asked for
        self.worked_out: dict[tuple[str, Any], tuple[Any, Any]] = (
            _kept_derived(ledger, self.env) if self.kept is not None else {}
        )
        self._where = _where(ledger, self.env)  # this drive's entry among the carried values

    @property
    def enabled(self) -> bool:
        return self.env is not None

    # -- files on the drive ---------------------------------------------------------------

    def validate(self, path: str | Path) -> FileReport:
        """The report of ``path``: the stored one when the file is unchanged, else read now."""
        path = path if isinstance(path, Path) else Path(path)
        key = cache_key(path)
        before = self.last_identity = _identity(path)
        if before is not None:
            self.identities[key] = before
            held = self._held(key, before)
            if held is not None:
                return held
        if self.enabled and before is not None and _settled(before):
            report = self._stored(key, before, path)
            if report is not None:
                self._hold(key, before, report)
                return report
        elif before is not None and not _settled(before):
            # saved moments ago: its times may not yet tell a later save apart, its bytes do
            # (a file this process just wrote and told the report of, or one seen in an
            # earlier run of these seconds, is not read again)
            data = _bytes_of(path, before, self.rules.validation.max_file_mb * 1024 * 1024)
            if data is not None:
                report = self.validate_bytes(path, data)
                self.last_identity = before
                self.memory[key] = (before, report)  # for this run
                return report
        self.misses += 1
        report = self._validate(path)
        if before is not None and _identity(path) == before:
            self._hold(key, before, report)
            if self.enabled and _settled(before):
                self._store(key, before, report)
        return report

    @property
    def warm(self) -> bool:
        """Whether this process already holds reports of the drive from an earlier run."""
        return bool(self.kept)

    def prefetch(self, paths: list[Path], *, workers: int | None = None) -> int:
        """Validate, on every core, the files among ``paths`` that are neither in memory nor
        stored unchanged, so that the run's later asks find them (a cold run over a large
        drive). Each worker process validates as :meth:`validate` does, but parses in itself
        (``reader.parse_here``: the worker is as disposable as the isolated reader, bounded in
        memory and time the same way); a worker lost to a file that crashes the parser ends the
        prefetch, and the files not done are read when asked, through the isolated reader.
        Below ``PARALLEL_MIN`` such files, or on one core, nothing is done here (the files are
        read when asked). Returns the number validated here."""
        workers = workers or os.cpu_count() or 1
        stored = self._stored_identities()  # one query, not one per file
        todo: list[tuple[str, Path, str]] = []
        for path in paths:
            key = cache_key(path)
            ident = _identity(path)
            if ident is None or self._in_memory(key, ident) is not None:
                continue
            if stored.get(key) == ident and _settled(ident):
                continue
            todo.append((key, path, ident))
        if workers < 2 or len(todo) < PARALLEL_MIN:
            return 0
        import concurrent.futures as cf
        import multiprocessing

        size = max(8, min(64, len(todo) // (workers * 6) or 1))
        chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
        done = 0
        try:
            with cf.ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=parse_here,
                initargs=(self.rules.validation.worker_memory_mb,),
            ) as pool:
                jobs = [
                    pool.submit(
                        _validate_chunk,
                        [str(p) for _k, p, _i in chunk],
                        self.rules,
                        self.calendar,
                        self.today,
                    )
                    for chunk in chunks
                ]
                for chunk, job in zip(chunks, jobs, strict=True):
                    store: list[tuple[str, str, bytes]] = []
                    for (key, path, ident), blob in zip(chunk, job.result(), strict=True):
                        if blob is None or _identity(path) != ident:
                            continue  # changed meanwhile: read again when asked
                        report = _unpacked(blob, path)
                        if report is None:
                            continue
                        self.misses += 1
                        done += 1
                        self._hold(key, ident, report)
                        if self.enabled and _settled(ident) and _storable(report, blob):
                            store.append((key, ident, blob))
                    self._store_blobs(store)
        except Exception:  # a worker lost (out of memory, killed): the rest is read when asked
            return done
        return done

    def _stored_identities(self) -> dict[str, str]:
        """The identity of every file with a stored report in this environment, by path key
        (empty when nothing is stored or the database cannot be read)."""
        if not self.enabled:
            return {}
        assert self.ledger is not None
        try:
            rows = self.ledger.conn.execute(
                "SELECT path, ident FROM validated WHERE env = ?", (self.env,)
            ).fetchall()
        except sqlite3.Error:
            return {}
        return {r["path"]: r["ident"] for r in rows}

    def saw_keys(self, keys: tuple[str, ...], idents: tuple[str, ...]) -> None:
        """The files of ``keys`` (their :func:`cache_key`) were found at ``idents``, the
        identities of the versions whose reports the caller holds from an earlier run (see
        ``process.clocks.folder_reports``): known as read in this run without asking for the
        reports again."""
        self.identities.update(zip(keys, idents, strict=True))

    def identity(self, path: str | Path) -> str | None:
        """The identity (size, times, inode) ``path`` had when this cache last validated it."""
        return self.identities.get(cache_key(path))

    def derive(
        self,
        name: str,
        slot: Any,
        key: Any,
        make: Callable[[], T],
        *,
        same: bool = False,
        carry: bool = False,
    ) -> T:
        """A value worked out from what this cache read: ``make()`` unless the value stored
        for ``(name, slot)`` was made under an equal ``key``. The key must name everything the
        value depends on (the identities of the files, the moment, the inputs); it is kept
        between runs of this process like the reports (per state database and environment).

        ``same``: a value made again that equals the one stored is returned as the stored
        object (a value keyed on the moment is usually what it was a minute before; callers
        that key their own work on the object then keep it).

        ``carry``: the value is also handed to the next process (see the module docstring):
        only for a key made of plain values (no object compared by identity) that names
        everything the value depends on besides the environment."""
        held = self.worked_out.get((name, slot))
        if held is not None and held[0] == key:
            return held[1]
        value = make()
        if same and held is not None and held[1] == value:
            value = held[1]
        self.worked_out[(name, slot)] = (key, value)
        if carry:
            self._carry(name, slot)
        return value

    def made_from(self, name: str, slot: Any, sources: tuple[Any, ...], make: Callable[[], T]) -> T:
        """A value made from ``sources``, objects this process keeps from run to run: the kept
        value while each source is the very object it was made from, else ``make()`` — and the
        kept value still when the new one equals it (callers key their work on the object)."""
        held = self.worked_out.get((name, slot))
        if held is not None and all(map(operator.is_, held[0], sources)):
            return held[1]
        value = make()
        if held is not None and held[1] == value:
            value = held[1]
        self.worked_out[(name, slot)] = (sources, value)
        return value

    def note_written(self, path: str | Path) -> None:
        """``path`` is a workbook this process just wrote that is no form (a lead department's
        report, a checklist): the readers of an item's folder skip it while it stays as
        written (kept between runs of this process, like what :meth:`derive` keeps)."""
        ident = _identity(path)
        if ident is not None:
            self.worked_out[("written", cache_key(path))] = (ident, True)

    def note_writing(self, path: str | Path) -> None:
        """``path`` is such a workbook that a worker process of this run is writing now: the
        readers skip it until :meth:`note_written` or :meth:`done_writing` is told."""
        key = ("written", cache_key(path))
        self.worked_out[key] = (_WRITING, self.worked_out.get(key))

    def done_writing(self, path: str | Path) -> None:
        """The worker is done with ``path`` (written or not): what was known of it before
        :meth:`note_writing` holds again, until :meth:`note_written` is told."""
        key = ("written", cache_key(path))
        held = self.worked_out.get(key)
        if held is None or held[0] is not _WRITING:
            return
        if held[1] is None:
            del self.worked_out[key]
        else:
            self.worked_out[key] = held[1]

    def written_here(self, path: str | Path) -> bool:
        """Whether ``path`` is, unchanged, a workbook :meth:`note_written` was told of, or one
        being written (:meth:`note_writing`)."""
        held = self.worked_out.get(("written", cache_key(path)))  # the stat only for those
        return held is not None and (held[0] is _WRITING or held[0] == _identity(path))

    def recall(self, name: str, slot: Any, key: Any) -> Any:
        """The value :meth:`keep` kept for ``(name, slot)`` under an equal ``key``, else None."""
        held = self.worked_out.get((name, slot))
        return held[1] if held is not None and held[0] == key else None

    def last(self, name: str, slot: Any) -> Any:
        """The value kept for ``(name, slot)`` whatever its key, else None."""
        held = self.worked_out.get((name, slot))
        return None if held is None else held[1]

    def keep(
        self, name: str, slot: Any, key: Any, value: Any = True, *, carry: bool = False
    ) -> None:
        """Keep ``value`` for ``(name, slot)`` under ``key`` (see :meth:`derive`, ``carry``
        too)."""
        self.worked_out[(name, slot)] = (key, value)
        if carry:
            self._carry(name, slot)

    def _carry(self, name: str, slot: Any) -> None:
        where = self._where
        if self.env is None or where not in _CARRY_FILES:
            return
        _CARRIED.setdefault(where, set()).add((name, slot))
        if where not in _CARRY_DIRTY:
            _CARRY_DIRTY.add(where)
            if not _HOOKED:
                _HOOKED.append(True)
                atexit.register(save_carried)

    def _held(self, key: str, ident: str) -> FileReport | None:
        report = self._in_memory(key, ident)
        if report is not None:
            self.hits += 1
        return report

    def _in_memory(self, key: str, ident: str) -> FileReport | None:
        for store in (self.memory, self.kept):
            held = store.get(key) if store is not None else None
            if held is not None and held[0] == ident:
                return held[1]
        return None

    def _hold(self, key: str, ident: str, report: FileReport) -> None:
        """Keep a report in memory: for this run always (its identity still checked on every
        ask); for later runs of this process only a settled file's, in the same environment."""
        self.memory[key] = (ident, report)
        if self.kept is not None and (ident.startswith("sha256:") or _settled(ident)):
            self.kept[key] = (ident, report)

    def hold_written(
        self, path: str | Path, sha256: str, before: FileReport, cells: list[tuple[Any, ...]]
    ) -> bool:
        """The report of the bytes (SHA-256 ``sha256``) this process just wrote to ``path`` by
        writing ``cells`` (Excel row, field key, cell, value) into the version ``before``
        describes, told without reading them back (``validation.report_with_cells``) and held
        as :meth:`validate_bytes` holds a report, for this run and the later runs of the
        process (not stored: a new process validates the file once). False when it cannot be
        told: the next read validates the file."""
        told = validation.report_with_cells(
            before, self.rules, cells, calendar=self.calendar, today=self.today
        )
        if told is None:
            return False
        self._hold(cache_key(Path(path)), "sha256:" + sha256, told)
        return True

    def validate_bytes(
        self, path: str | Path, data: bytes, sha256: str | None = None
    ) -> FileReport:
        """The report of ``data``, the bytes of ``path`` read by the caller (a private copy is
        validated, so the report describes exactly these bytes). Keyed on their SHA-256."""
        path = Path(path)
        key = cache_key(path)
        ident = "sha256:" + (sha256 or hashlib.sha256(data).hexdigest())
        held = self._held(key, ident)
        if held is not None:
            return held
        if self.enabled:
            report = self._stored(key, ident, path)
            if report is not None:
                self._hold(key, ident, report)
                return report
        self.misses += 1
        with tempfile.TemporaryDirectory(prefix="xietong-") as tmp:
            copy = Path(tmp) / path.name
            copy.write_bytes(data)
            report = _relocated(self._validate(copy), copy, path)
        self._hold(key, ident, report)
        if self.enabled:
            self._store(key, ident, report)
        return report

    def _validate(self, path: Path) -> FileReport:
        # looked up at call time: the one validator, whatever module attribute is in force
        return validation.validate_file(path, self.rules, calendar=self.calendar, today=self.today)

    # -- the stored results ---------------------------------------------------------------

    def _stored(self, key: str, ident: str, path: Path) -> FileReport | None:
        row = self._row(key, ident)
        if row is None:
            return None
        report = _unpacked(row["report"], path)
        if report is None:  # an unreadable entry is a miss, overwritten by the next store
            return None
        self.hits += 1
        return report

    def _row(self, key: str, ident: str) -> sqlite3.Row | None:
        """The stored report of this file version in this environment (None: none, or
        unreadable)."""
        assert self.ledger is not None and self.env is not None
        try:
            return self.ledger.conn.execute(
                "SELECT report FROM validated WHERE path = ? AND ident = ? AND env = ?",
                (key, ident, self.env),
            ).fetchone()
        except sqlite3.Error:
            return None

    def _store(self, key: str, ident: str, report: FileReport) -> None:
        if not _worth_storing(report):
            return
        blob = _packed(report)
        if blob is not None and len(blob) <= MAX_BLOB:
            self._store_blobs([(key, ident, blob)])

    def _store_blobs(self, rows: list[tuple[str, str, bytes]]) -> None:
        """Store packed reports (path key, identity, blob), all in one transaction."""
        assert self.ledger is not None and self.env is not None
        if not rows:
            return
        now = time.time()
        with self.ledger.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO validated (path, ident, env, report, stored) "
                "VALUES (?, ?, ?, ?, ?)",
                [(key, ident, self.env, blob, now) for key, ident, blob in rows],
            )

    def prune(self, *, every_s: float | None = None) -> int:
        """Drop the entries of files that no longer exist (only those not found in this run
        are checked); the number dropped.

        A process prunes a drive's entries at most once in ``every_s`` seconds (default
        :data:`PRUNE_EVERY_S`; its first run always): a run that found its folders as before
        asks the cache for few files, and looking at every other stored path each minute is a
        stat per workbook of the drive for entries that only cost a row of the state
        database. 0 prunes every time."""
        if self.ledger is None:
            return 0
        where = str(getattr(self.ledger, "path", id(self.ledger)))
        now = time.monotonic()
        last = _PRUNED.get(where)
        if last is not None and now - last < (PRUNE_EVERY_S if every_s is None else every_s):
            return 0
        _PRUNED[where] = now
        rows = self.ledger.conn.execute("SELECT path FROM validated").fetchall()
        # a path asked for but missing then (an expected workbook not there) is looked for too
        known = self.identities
        gone = [r["path"] for r in rows if r["path"] not in known]
        gone = [p for p in gone if not os.path.exists(p)]
        if gone:
            with self.ledger.transaction() as c:
                c.executemany("DELETE FROM validated WHERE path = ?", [(p,) for p in gone])
        return len(gone)


def cached_validate(
    path: str | Path, rules: Rules, ledger: Ledger | None, calendar: Any = None
) -> FileReport:
    """Validate one file through the cache of ``ledger`` (see :class:`ValidationCache`)."""
    return ValidationCache(ledger, rules, calendar).validate(path)


# Refusals that depend only on the file's bytes and the rules (both part of the cache key): a
# workbook that is no xietong template (an attachment, a generated view) is not opened again
# while it stays the same.
STABLE_REJECTIONS = frozenset({"E_UNKNOWN_WORKBOOK", "E_EMPTY"})


def _stable_rejection(report: FileReport) -> bool:
    codes = {getattr(p, "code", None) for p in report.problems}
    return bool(codes) and codes <= STABLE_REJECTIONS


# reports kept in memory between runs of one process (the service, a benchmark), per state
# database and environment; bounded so that a process never holds more than a drive's worth
_KEPT: dict[tuple[str, str], dict[str, tuple[str, FileReport]]] = {}
_KEPT_DRIVES = 4


def _packed(report: FileReport) -> bytes | None:
    """A report as stored: its fields but the path, pickled and compressed (None: something in
    it does not pickle)."""
    values = {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}
    del values["path"], values["digest"]
    try:
        return zlib.compress(pickle.dumps(values, protocol=pickle.HIGHEST_PROTOCOL), 1)
    except Exception:
        return None


def _unpacked(blob: bytes, path: Path) -> FileReport | None:
    """The report :func:`_packed` made, naming ``path``; None when it cannot be read back."""
    try:
        return FileReport(path, **pickle.loads(zlib.decompress(blob)))
    except Exception:
        return None


def _worth_storing(report: FileReport) -> bool:
    """Read, or refused for good (a sharing violation or a half-saved file: look again)."""
    return report.readable or _stable_rejection(report)


def _storable(report: FileReport, blob: bytes) -> bool:
    """Worth storing, and not too large."""
    return _worth_storing(report) and len(blob) <= MAX_BLOB


def _validate_chunk(
    paths: list[str], rules: Rules, calendar: Any, today: dt.date
) -> list[bytes | None]:
    """A prefetch worker's share: each file validated as :meth:`ValidationCache._validate`
    does (parsed in the worker itself) and packed as stored (the worker does that work, not
    the process that waits for it); None for a file that could not be validated or packed."""
    out: list[bytes | None] = []
    try:
        for path in paths:
            try:
                report = validation.validate_file(path, rules, calendar=calendar, today=today)
            except Exception:
                out.append(None)
                continue
            out.append(_packed(report))
    finally:
        parsing_done()  # the worker now waits for the next chunk: no parse to watch
    return out


def _kept_reports(
    ledger: Ledger | None, env: str | None
) -> dict[str, tuple[str, FileReport]] | None:
    if ledger is None or env is None:
        return None
    where = (str(getattr(ledger, "path", id(ledger))), env)
    kept = _KEPT.get(where)
    if kept is None:
        while len(_KEPT) >= _KEPT_DRIVES:
            _KEPT.pop(next(iter(_KEPT)))
        kept = _KEPT[where] = {}
    return kept


_DERIVED: dict[tuple[str, str], dict[tuple[str, Any], tuple[Any, Any]]] = {}

# when this process last pruned a state database's entries (time.monotonic), by its path
_PRUNED: dict[str, float] = {}


def _where(ledger: Ledger | None, env: str | None) -> tuple[str, str]:
    return (str(getattr(ledger, "path", id(ledger))), str(env))


def _kept_derived(ledger: Ledger | None, env: str | None) -> dict[tuple[str, Any], tuple[Any, Any]]:
    where = _where(ledger, env)
    kept = _DERIVED.get(where)
    if kept is None:
        while len(_DERIVED) >= _KEPT_DRIVES:
            gone = next(iter(_DERIVED))
            _save_carried(gone)  # its values are carried before they are dropped
            _DERIVED.pop(gone)
            _CARRIED.pop(gone, None)
            _CARRY_FILES.pop(gone, None)
        kept = _DERIVED[where] = {}
        state = getattr(ledger, "path", None)
        if env is not None and isinstance(state, Path):
            path = carry_path(state)
            _CARRY_FILES[where] = path
            carried = _read_carried(path, env)
            kept.update(carried)
            _CARRIED[where] = set(carried)
    return kept


# -- values carried to the next process ----------------------------------------------------------

_CARRY_FORMAT = 1
_CARRIED: dict[tuple[str, str], set[tuple[str, Any]]] = {}  # per drive: the slots carried
_CARRY_FILES: dict[tuple[str, str], Path] = {}  # per drive: where they are carried
_CARRY_DIRTY: set[tuple[str, str]] = set()  # drives with values made since read or written
_HOOKED: list[bool] = []
_IDENTITY = re.compile(r"\d+:-?\d+:\d+:-?\d+")  # what _identity gives


def state_pickle_path(state_db: Path, kind: str) -> Path:
    """A drive's cache file of ``kind`` (``<kind>-<key>.pickle``), beside its state database
    (``drive-<key>.sqlite3``)."""
    return state_db.with_name(f"{kind}-{state_db.stem.removeprefix('drive-')}.pickle")


def carry_path(state_db: Path) -> Path:
    """The file of a drive's carried values, beside its state database."""
    return state_pickle_path(state_db, "derived")


def save_carried() -> int:
    """Write the carried values of every drive that made new ones since they were read or
    last written (when a process ends; tests). Never raises. The number of files written."""
    return sum(_save_carried(where) for where in list(_CARRY_DIRTY))


def _save_carried(where: tuple[str, str]) -> bool:
    if where not in _CARRY_DIRTY:
        return False
    _CARRY_DIRTY.discard(where)
    path = _CARRY_FILES.get(where)
    if path is None:
        return False
    kept = _DERIVED.get(where, {})
    values = {}
    for slot in _CARRIED.get(where, ()):
        held = kept.get(slot)
        if held is not None and _carriable(held[0]):
            values[slot] = held
    return write_state_pickle(path, {"format": _CARRY_FORMAT, "env": where[1], "values": values})


def _read_carried(path: Path, env: str) -> dict[tuple[str, Any], tuple[Any, Any]]:
    carried = read_state_pickle(path)
    if (
        not isinstance(carried, dict)
        or carried.get("format") != _CARRY_FORMAT
        or carried.get("env") != env  # the code, the rules and the calendar among it
        or not isinstance(carried.get("values"), dict)
    ):
        return {}
    return carried["values"]


STATE_PICKLE_LARGEST = 512 << 20  # a cache file larger than this is neither written nor read


def write_state_pickle(path: Path, value: Any) -> bool:
    """Pickle ``value`` into ``path``, a cache file of the local state folder, replacing it
    whole (a reader never sees half a file); only into a folder that is there (never made
    here). Never raises: it runs when a process ends. True when written."""
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > STATE_PICKLE_LARGEST or not path.parent.is_dir():
            return False
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except Exception:  # noqa: BLE001 - a cache: the next process works its values out
        return False
    return True


def read_state_pickle(path: Path) -> Any:
    """What :func:`write_state_pickle` wrote in ``path``; None when it is missing, too large
    or cannot be read (torn, of another version)."""
    try:
        if path.stat().st_size > STATE_PICKLE_LARGEST:
            return None
        return pickle.loads(path.read_bytes())
    except Exception:  # noqa: BLE001 - a cache: not taken
        return None


def _carriable(key: Any) -> bool:
    """Whether a key may be carried: every file identity in it settled (a file saved moments
    ago may be saved again with the same identity), none of bytes only this process hashed."""
    if isinstance(key, str):
        if key.startswith("sha256:"):
            return False
        return not _IDENTITY.fullmatch(key) or _settled(key)
    if isinstance(key, (tuple, list, set, frozenset)):
        return all(map(_carriable, key))
    if isinstance(key, dict):
        return all(map(_carriable, key.values()))
    return True


def forget_kept_reports() -> None:
    """Drop what is kept in memory between runs (tests; a process that wants it lean)."""
    _KEPT.clear()
    _DERIVED.clear()
    _PRUNED.clear()
    _CARRIED.clear()
    _CARRY_FILES.clear()
    _CARRY_DIRTY.clear()


_ABSOLUTE_KEYS: dict[str, str] = {}


def cache_key(path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    key = _ABSOLUTE_KEYS.get(text)  # an absolute path's key never changes: worked out once
    if key is not None:
        return key
    key = os.path.normcase(os.path.abspath(text))
    if os.path.isabs(text):
        if len(_ABSOLUTE_KEYS) >= 1 << 17:
            _ABSOLUTE_KEYS.clear()
        _ABSOLUTE_KEYS[text] = key
    return key


def _identity(path: str | os.PathLike[str]) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_ctime_ns}"


def _bytes_of(path: Path, ident: str, limit: float) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes when it is still of identity
    ``ident`` after reading them; None otherwise (being saved, too large, not a file: left to
    the validator's own checks, which never read such a file whole)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return data if _identity(path) == ident else None


def file_identity(path: str | os.PathLike[str]) -> str | None:
    """A file's identity as the cache compares it (size, times, inode); None when missing."""
    return _identity(path)


def settled(ident: str | None) -> bool:
    """Whether a file of this identity was modified long enough ago to be told apart from a
    later save of the same size (see :data:`UNSETTLED_S`)."""
    return ident is not None and _settled(ident)


def _settled(ident: str) -> bool:
    """Modified long enough ago that a further save must show another modification time."""
    mtime_ns = int(ident.split(":")[1])
    age = time.time_ns() - mtime_ns
    return age >= UNSETTLED_S * 1e9  # a time in the future (clock skew) is never settled


def _relocated(report: FileReport, copy: Path, path: Path) -> FileReport:
    """The report of a private copy, naming the real file."""
    old = str(copy)
    problems = [
        dataclasses.replace(p, file=str(path)) if getattr(p, "file", None) == old else p
        for p in report.problems
    ]
    return dataclasses.replace(report, path=path, problems=problems)


# -- the environment a result depends on ---------------------------------------------------


_CODE_KEY: list[str] = []
_RULES_KEYS: dict[int, tuple[Rules, str]] = {}


def environment_key(rules: Rules, calendar: Any, today: dt.date) -> str | None:
    """Everything besides the file that a validation result depends on, hashed; None when it
    cannot be told (the result is then never cached)."""
    cal = _calendar_key(calendar)
    if cal is None:
        return None
    try:
        rules_key = _rules_key(rules)
    except Exception:
        return None
    text = json.dumps([CACHE_FORMAT, rules_key, cal, today.year, code_key()])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rules_key(rules: Rules) -> str:
    cached = _RULES_KEYS.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    dumped: dict[str, Any] = {}
    for f in dataclasses.fields(rules):
        if f.name == "sources":  # where the files are does not matter, what they say does
            continue
        value = getattr(rules, f.name)
        if isinstance(value, dict):
            dumped[f.name] = {k: v.model_dump(mode="json") for k, v in value.items()}
        else:
            dumped[f.name] = value.model_dump(mode="json")
    text = json.dumps(dumped, sort_keys=True, ensure_ascii=False, default=str)
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()
    _RULES_KEYS[id(rules)] = (rules, key)
    return key


def _calendar_key(calendar: Any) -> str | None:
    """The working days a calendar gives, as text; None for a calendar of an unknown kind."""
    if calendar is None:
        return "from-rules"  # validate_file builds it from the rules, which are in the key
    if type(calendar) is not WorkCalendar:
        return None
    try:
        # what the calendar is, not what it has memoised so far
        state = {k: v for k, v in vars(calendar).items() if k not in WorkCalendar.MEMOS}
        state["_sources"] = [
            getattr(s, "name", type(s).__qualname__) for s in state.get("_sources", [])
        ]
        return json.dumps(
            {k: sorted(v.items()) if isinstance(v, dict) else v for k, v in state.items()},
            sort_keys=True,
            ensure_ascii=False,
            default=_sorted_repr,
        )
    except Exception:
        return None


def _sorted_repr(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return repr(value)


def code_key() -> str:
    """The source of the ``automation`` package and the versions of the reading libraries."""
    if not _CODE_KEY:
        digest = hashlib.sha256()
        package = Path(__file__).resolve().parent.parent
        for source in sorted(package.rglob("*.py")):
            digest.update(source.relative_to(package).as_posix().encode("utf-8"))
            digest.update(source.read_bytes())
        for name in _LIBRARIES:
            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                version = "-"
            digest.update(f"{name}={version}".encode())
        _CODE_KEY.append(digest.hexdigest())
    return _CODE_KEY[0]


__all__ = [
    "CACHE_FORMAT",
    "ValidationCache",
    "cache_disabled",
    "cache_key",
    "cached_validate",
    "carry_path",
    "code_key",
    "environment_key",
    "file_identity",
    "read_state_pickle",
    "save_carried",
    "settled",
    "state_pickle_path",
    "write_state_pickle",
]
