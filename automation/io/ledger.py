"""The automation's own state: a local SQLite database per drive, never on the share.

SQLite must not live on a network file system, so the state sits in a per-user folder of the
machine that runs xietong (``$XIETONG_STATE_DIR``, else ``%LOCALAPPDATA%\\xietong`` on Windows,
``$XDG_STATE_HOME/xietong`` or ``~/.local/state/xietong`` elsewhere), one database per drive,
named after a hash of the drive's absolute path. Everything in it can be rebuilt from the
workbooks (``automation.process.intake.rebuild_state``).

Tables:
- ``files``: the processed-file ledger (inbox path, size, mtime, sha256, fingerprint, result),
  also used to claim a file so two intakes never process it twice;
- ``registrations``: one row per registered request (fingerprint → item ID and revision) and
  whether its tracking row is written and its form filed;
- ``id_counter``: the last sequence number per year, allocated under ``BEGIN IMMEDIATE``;
- ``pending``: writes deferred because a person had the file open or it changed under us;
- ``created``: item workbooks already created (created once, never again);
- ``journal``: a mirror of the journal lines written to the drive's log folder;
- ``validated``: validation results of unchanged workbooks (``automation.io.cache``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.errors import XietongError

SCHEMA_VERSION = 1
CLAIM_TIMEOUT_S = 600.0  # a claim older than this belongs to a process that died

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER, mtime_ns INTEGER, sha256 TEXT,
    fingerprint TEXT, result TEXT NOT NULL, item_id TEXT, revision INTEGER,
    claim TEXT, claimed_at REAL, updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS registrations (
    fingerprint TEXT PRIMARY KEY,
    item_id TEXT NOT NULL, revision INTEGER NOT NULL,
    row_values TEXT NOT NULL, request_fields TEXT NOT NULL,
    source_path TEXT, source_sha256 TEXT, filed_path TEXT,
    status TEXT NOT NULL, registered TEXT NOT NULL,
    UNIQUE (item_id, revision)
);
CREATE TABLE IF NOT EXISTS id_counter (year INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    file TEXT PRIMARY KEY, edits TEXT NOT NULL, reason TEXT NOT NULL, code TEXT NOT NULL,
    holder TEXT, first_seen TEXT NOT NULL, last_tried TEXT NOT NULL, attempts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS created (
    path TEXT PRIMARY KEY, item_id TEXT NOT NULL, kind TEXT NOT NULL, created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, item_id TEXT, file TEXT NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_item ON journal (item_id);
CREATE TABLE IF NOT EXISTS vanished (path TEXT PRIMARY KEY, since REAL NOT NULL);
CREATE TABLE IF NOT EXISTS validated (
    path TEXT PRIMARY KEY, ident TEXT NOT NULL, env TEXT NOT NULL, report BLOB NOT NULL,
    stored REAL NOT NULL
);
"""


def state_dir() -> Path:
    """The folder holding the local state databases of every drive this user runs."""
    explicit = os.environ.get("XIETONG_STATE_DIR")
    if explicit:
        return Path(explicit)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "xietong"
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "xietong"


DRIVE_ID_FILE = ".xietong-id"  # written by `xietong init`: the drive's identity


def drive_key(root: str | Path) -> str:
    """A stable key of a drive: its identity file when it has one, else its absolute path.

    With the identity file, the same share reached as ``Z:\\`` and as ``\\\\server\\share`` uses
    one state database, and a drive deleted and laid out again at the same path starts afresh.
    """
    try:
        ident = (Path(root) / DRIVE_ID_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        ident = ""
    text = f"id:{ident}" if ident else os.path.normcase(os.path.abspath(str(root)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def state_path(root: str | Path) -> Path:
    return state_dir() / f"drive-{drive_key(root)}.sqlite3"


@dataclass(frozen=True)
class Registration:
    fingerprint: str
    item_id: str
    revision: int
    row_values: dict[str, Any]  # tracking columns by key (dates as ISO strings)
    request_fields: dict[str, Any]
    source_path: str | None
    source_sha256: str | None
    filed_path: str | None
    status: str  # "pending" (row not yet in the tracking table) | "written"
    registered: str


@dataclass(frozen=True)
class PendingWrite:
    file: str
    edits: list[dict[str, Any]]
    reason: str
    code: str
    holder: str | None
    first_seen: str
    last_tried: str
    attempts: int


def _now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Ledger:
    """One drive's local state. Open with :func:`open_ledger`; usable as a context manager."""

    def __init__(self, path: Path, root: Path):
        self.path = path
        self.root = root
        path.parent.mkdir(parents=True, exist_ok=True)
        self.is_new = not path.exists()
        try:
            self.conn = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA busy_timeout=60000")
            # switching to WAL and creating the schema may answer "busy" at once instead of
            # waiting when two processes open a new database together: take turns
            with named_lock(f"open-{drive_key(root)}", timeout=60.0):
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.executescript(_SCHEMA)
            self.conn.execute("PRAGMA synchronous=NORMAL")
            with self.transaction():
                self.conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('drive', ?)",
                    (str(SCHEMA_VERSION), str(root)),
                )
        except sqlite3.Error as exc:
            raise XietongError(
                f"本地状态数据库无法打开：{path}（{exc}）", code="E_STATE_DB", exit_code=2
            ) from None

    # -- plumbing -------------------------------------------------------------------------

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (BEGIN IMMEDIATE): other processes wait for it."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row["value"]

    def set_meta(self, key: str, value: str) -> None:
        self.set_metas({key: value})

    def get_metas(self, keys: Iterable[str]) -> dict[str, str]:
        """The meta values of those of ``keys`` that have one (a few queries for thousands)."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, str] = {}
        for at in range(0, len(wanted), 500):  # within SQLite's limit of bound parameters
            chunk = wanted[at : at + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT key, value FROM meta WHERE key IN ({marks})", chunk
            ):
                out[row["key"]] = row["value"]
        return out

    def set_metas(self, values: dict[str, str]) -> None:
        """Several meta values in one transaction."""
        if not values:
            return
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))

    # -- processed-file ledger and claims -------------------------------------------------

    def file_record(self, path: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM files WHERE path = ?", (path,)).fetchone()
        return None if row is None else dict(row)

    def claim_file(self, path: str, size: int, mtime_ns: int, sha256: str) -> str | None:
        """Claim an inbox file for processing; a token, or None when there is nothing to do.

        Nothing to do: this exact content was already processed at this path, or another
        process holds a fresh claim on it.
        """
        token = f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex}"
        with self.transaction() as c:
            row = c.execute("SELECT * FROM files WHERE path = ?", (path,)).fetchone()
            if row is not None:
                fresh = row["claimed_at"] and time.time() - row["claimed_at"] < CLAIM_TIMEOUT_S
                if row["claim"] and fresh and _claimant_alive(row["claim"]):
                    return None
                if row["sha256"] == sha256 and row["result"] != "claimed":
                    return None
            c.execute(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, sha256, result, claim, "
                "claimed_at, updated) VALUES (?, ?, ?, ?, 'claimed', ?, ?, ?)",
                (path, size, mtime_ns, sha256, token, time.time(), _now_text()),
            )
        return token

    def known_unchanged(self, path: str, size: int, mtime_ns: int) -> bool:
        """True when this path was processed with this size and mtime (no need to hash it)."""
        row = self.file_record(path)
        return (
            row is not None
            and row["result"] != "claimed"
            and row["size"] == size
            and row["mtime_ns"] == mtime_ns
        )

    def finish_file(
        self,
        path: str,
        token: str,
        result: str,
        *,
        fingerprint: str | None = None,
        item_id: str | None = None,
        revision: int | None = None,
    ) -> None:
        """Record what became of a claimed file and release the claim."""
        with self.transaction() as c:
            c.execute(
                "UPDATE files SET result = ?, fingerprint = ?, item_id = ?, revision = ?, "
                "claim = NULL, claimed_at = NULL, updated = ? WHERE path = ? AND claim = ?",
                (result, fingerprint, item_id, revision, _now_text(), path, token),
            )

    def release_file(self, path: str, token: str) -> None:
        """Give a claim back without a result (the file is looked at again next run)."""
        with self.transaction() as c:
            c.execute("DELETE FROM files WHERE path = ? AND claim = ?", (path, token))

    def forget_file(self, path: str) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM files WHERE path = ?", (path,))
            c.execute("DELETE FROM vanished WHERE path = ?", (path,))

    def vanished_since(self, missing: list[str], now: float | None = None) -> dict[str, float]:
        """When each of ``missing`` (processed files found gone) was first found gone.

        A path not in ``missing`` is no longer gone: its mark is dropped.
        """
        now = time.time() if now is None else now
        if not missing and self.conn.execute("SELECT 1 FROM vanished LIMIT 1").fetchone() is None:
            return {}  # the usual case: nothing gone, nothing to write
        with self.transaction() as c:
            c.execute("CREATE TEMP TABLE IF NOT EXISTS gone (path TEXT PRIMARY KEY)")
            c.execute("DELETE FROM gone")
            c.executemany("INSERT OR IGNORE INTO gone VALUES (?)", [(p,) for p in missing])
            c.execute("DELETE FROM vanished WHERE path NOT IN (SELECT path FROM gone)")
            c.executemany(
                "INSERT OR IGNORE INTO vanished VALUES (?, ?)", [(p, now) for p in missing]
            )
            rows = c.execute("SELECT path, since FROM vanished").fetchall()
        return {row["path"]: row["since"] for row in rows}

    # -- ID counter and registrations -----------------------------------------------------

    def allocate_id_seq(self, year: int, floor: int = 0) -> int:
        """The next sequence number of ``year``: never reused, never below ``floor`` + 1."""
        with self.transaction() as c:
            return self._allocate(c, year, floor)

    @staticmethod
    def _allocate(c: sqlite3.Connection, year: int, floor: int) -> int:
        row = c.execute("SELECT last_seq FROM id_counter WHERE year = ?", (year,)).fetchone()
        last = max(row["last_seq"] if row else 0, floor)
        c.execute("INSERT OR REPLACE INTO id_counter VALUES (?, ?)", (year, last + 1))
        return last + 1

    def last_seq(self, year: int) -> int:
        row = self.conn.execute(
            "SELECT last_seq FROM id_counter WHERE year = ?", (year,)
        ).fetchone()
        return row["last_seq"] if row else 0

    def raise_counter(self, year: int, seq: int) -> None:
        with self.transaction() as c:
            row = c.execute("SELECT last_seq FROM id_counter WHERE year = ?", (year,)).fetchone()
            if row is None or row["last_seq"] < seq:
                c.execute("INSERT OR REPLACE INTO id_counter VALUES (?, ?)", (year, seq))

    def registration(self, fingerprint: str) -> Registration | None:
        row = self.conn.execute(
            "SELECT * FROM registrations WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        return None if row is None else _registration(row)

    def registrations(self, status: str | None = None) -> list[Registration]:
        sql = "SELECT * FROM registrations"
        args: tuple[Any, ...] = ()
        if status is not None:
            sql += " WHERE status = ?"
            args = (status,)
        rows = self.conn.execute(sql + " ORDER BY item_id, revision", args).fetchall()
        return [_registration(r) for r in rows]

    def registrations_of(self, item_id: str) -> list[Registration]:
        rows = self.conn.execute(
            "SELECT * FROM registrations WHERE item_id = ? ORDER BY revision", (item_id,)
        ).fetchall()
        return [_registration(r) for r in rows]

    def register(
        self,
        fingerprint: str,
        *,
        year: int,
        id_format: Any,
        floor: int,
        revision_of: str | None,
        table_revision: int,
        row_values: dict[str, Any],
        request_fields: dict[str, Any],
        source_path: str | None,
        source_sha256: str | None,
        registered: str,
    ) -> tuple[Registration, bool]:
        """Register a request exactly once: (registration, True) when new, else the existing one.

        In one ``BEGIN IMMEDIATE`` transaction: look the fingerprint up, then either allocate the
        next ID of ``year`` (``id_format(year, seq)``) or, for a resubmission of ``revision_of``,
        the next revision of that item (above ``table_revision`` and every known revision).
        """
        with self.transaction() as c:
            row = c.execute(
                "SELECT * FROM registrations WHERE fingerprint = ?", (fingerprint,)
            ).fetchone()
            if row is not None:
                return _registration(row), False
            if revision_of is not None:
                item_id = revision_of
                known = c.execute(
                    "SELECT MAX(revision) AS r FROM registrations WHERE item_id = ?", (item_id,)
                ).fetchone()["r"]
                revision = max(known or 0, table_revision) + 1
            else:
                item_id = id_format(year, self._allocate(c, year, floor))
                # a counter rebuilt too low never hands out an ID already registered
                while c.execute(
                    "SELECT 1 FROM registrations WHERE item_id = ?", (item_id,)
                ).fetchone():
                    item_id = id_format(year, self._allocate(c, year, floor))
                revision = 1
            values = {**row_values, "item_id": item_id, "revision": revision}
            c.execute(
                "INSERT INTO registrations VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'pending', ?)",
                (
                    fingerprint,
                    item_id,
                    revision,
                    json.dumps(values, ensure_ascii=False),
                    json.dumps(request_fields, ensure_ascii=False),
                    source_path,
                    source_sha256,
                    registered,
                ),
            )
        reg = self.registration(fingerprint)
        assert reg is not None
        return reg, True

    def adopt_registration(self, reg: Registration) -> None:
        """Insert a registration found in the workbooks (state rebuild); keeps an existing one."""
        with self.transaction() as c:
            c.execute(
                "INSERT OR IGNORE INTO registrations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    reg.fingerprint,
                    reg.item_id,
                    reg.revision,
                    json.dumps(reg.row_values, ensure_ascii=False),
                    json.dumps(reg.request_fields, ensure_ascii=False),
                    reg.source_path,
                    reg.source_sha256,
                    reg.filed_path,
                    reg.status,
                    reg.registered,
                ),
            )

    def mark_written(self, fingerprints: list[str]) -> None:
        with self.transaction() as c:
            c.executemany(
                "UPDATE registrations SET status = 'written' WHERE fingerprint = ?",
                [(f,) for f in fingerprints],
            )

    def mark_filed(self, fingerprint: str, filed_path: str) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE registrations SET filed_path = ? WHERE fingerprint = ?",
                (filed_path, fingerprint),
            )

    def update_source(self, fingerprint: str, source_path: str, sha256: str) -> None:
        """The registered form was re-saved with the same content: file the new bytes."""
        with self.transaction() as c:
            c.execute(
                "UPDATE registrations SET source_path = ?, source_sha256 = ? WHERE fingerprint = ?",
                (source_path, sha256, fingerprint),
            )

    def mark_source_removed(self, fingerprint: str, filed_path: str) -> None:
        """The inbox original is gone (filed, or replaced by the requester): stop tracking it."""
        with self.transaction() as c:
            c.execute(
                "UPDATE registrations SET source_path = NULL, filed_path = ? WHERE fingerprint = ?",
                (filed_path or None, fingerprint),
            )

    # -- pending writes -------------------------------------------------------------------

    def defer(
        self, file: str, edits: list[dict[str, Any]], *, reason: str, code: str, holder: str | None
    ) -> PendingWrite:
        """Queue a write that could not be done now; keeps the time it was first deferred."""
        now = _now_text()
        with self.transaction() as c:
            row = c.execute("SELECT * FROM pending WHERE file = ?", (file,)).fetchone()
            first = row["first_seen"] if row else now
            attempts = (row["attempts"] if row else 0) + 1
            c.execute(
                "INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    file,
                    json.dumps(edits, ensure_ascii=False, default=str),
                    reason,
                    code,
                    holder,
                    first,
                    now,
                    attempts,
                ),
            )
        return PendingWrite(file, edits, reason, code, holder, first, now, attempts)

    def pending(self) -> list[PendingWrite]:
        rows = self.conn.execute("SELECT * FROM pending ORDER BY first_seen").fetchall()
        return [
            PendingWrite(
                r["file"],
                json.loads(r["edits"]),
                r["reason"],
                r["code"],
                r["holder"],
                r["first_seen"],
                r["last_tried"],
                r["attempts"],
            )
            for r in rows
        ]

    def clear_pending(self, file: str) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM pending WHERE file = ?", (file,))

    # -- item workbooks created -----------------------------------------------------------

    def was_created(self, path: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM created WHERE path = ?", (path,)).fetchone()
        return row is not None

    def mark_created(self, path: str, item_id: str, kind: str) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR IGNORE INTO created VALUES (?, ?, ?, ?)",
                (path, item_id, kind, _now_text()),
            )

    # -- journal mirror -------------------------------------------------------------------

    def mirror_journal(self, entry: dict[str, Any]) -> None:
        self.mirror_journal_entries([entry])

    def mirror_journal_entries(
        self, entries: list[dict[str, Any]], texts: list[str] | None = None
    ) -> None:
        """Mirror journal entries in one transaction; ``texts`` are their JSON when the caller
        already made it."""
        if texts is None:
            texts = [json.dumps(e, ensure_ascii=False, default=str) for e in entries]
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO journal (time, item_id, file, entry) VALUES (?, ?, ?, ?)",
                [
                    (e.get("time", ""), e.get("item"), e.get("file", ""), text)
                    for e, text in zip(entries, texts, strict=True)
                ],
            )

    def journal_entries(self, item_id: str | None = None) -> list[dict[str, Any]]:
        if item_id is None:
            rows = self.conn.execute("SELECT entry FROM journal ORDER BY seq").fetchall()
        else:
            rows = self.conn.execute(
                "SELECT entry FROM journal WHERE item_id = ? ORDER BY seq", (item_id,)
            ).fetchall()
        return [json.loads(r["entry"]) for r in rows]


_HOST = socket.gethostname()


def _claimant_alive(claim: str) -> bool:
    """Whether the process that holds a claim still runs (a claim of another machine, or in the
    old format, is trusted until it times out)."""
    host, _, rest = claim.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return True
    return pid_alive(int(pid_text))


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine runs under ``pid``."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # pragma: no cover - Windows only
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFO
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _registration(row: sqlite3.Row) -> Registration:
    return Registration(
        fingerprint=row["fingerprint"],
        item_id=row["item_id"],
        revision=row["revision"],
        row_values=json.loads(row["row_values"]),
        request_fields=json.loads(row["request_fields"]),
        source_path=row["source_path"],
        source_sha256=row["source_sha256"],
        filed_path=row["filed_path"],
        status=row["status"],
        registered=row["registered"],
    )


def open_ledger(root: str | Path) -> Ledger:
    """The local state of the drive at ``root`` (created on first use)."""
    root = Path(root).absolute()
    return Ledger(state_path(root), root)


@contextlib.contextmanager
def drive_lock(root: str | Path, *, timeout: float = 300.0) -> Iterator[None]:
    """Serialise the write phase of xietong processes working on one drive (a local lock file).

    Two cycles may scan and validate at the same time; reading the tracking table, patching it
    and replacing it happens under this lock, so neither can lose the other's rows.
    """
    with named_lock(f"drive-{drive_key(root)}", timeout=timeout):
        yield


@contextlib.contextmanager
def named_lock(name: str, *, timeout: float = 300.0) -> Iterator[None]:
    """An exclusive lock between processes of this machine: a lock file in the state folder.

    Not re-entrant: a process must not take the same name twice.
    """
    path = state_dir() / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _lock_fd(fd, timeout)
        try:
            yield
        finally:
            _unlock_fd(fd)
    finally:
        os.close(fd)


def _lock_fd(fd: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if sys.platform == "win32":
                import msvcrt

                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise XietongError(
                    "另一个 xietong 进程长时间占用本共享盘，请稍后再试", code="E_BUSY", exit_code=4
                ) from None
            time.sleep(0.05)


def _unlock_fd(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)
