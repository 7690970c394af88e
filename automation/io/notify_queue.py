"""The once-only outbox queue of notifications, in the drive's local state database.

Tables (created on first use on the ledger's connection, like the ledger's own schema):

- ``notify_items``: one row per notification key (event × target), ever: ``new`` (held, e.g.
  outside the send hours), ``queued`` (in a composed message), ``sent``. A key already there is
  never queued again — that is what makes every event go out once across runs and restarts;
- ``notify_messages``: composed messages (a digest of items for one target) with the rendered
  payload, so a retry sends exactly the same bytes; ``queued`` until the channel accepted it,
  then ``sent``; failures counted with the time of the next try (backoff);
- ``notify_sends``: when each target last received a message, for its rate limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from automation.io.ledger import Ledger

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notify_items (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, event TEXT NOT NULL,
    recipients TEXT NOT NULL, status TEXT NOT NULL, message TEXT, created TEXT NOT NULL
);
-- by status and kind: the items waiting are counted by kind every run, read by kind when due
-- (tens of thousands wait for a daily mail on a large drive); the old index on status alone
-- is dropped, this one answers its questions too
DROP INDEX IF EXISTS notify_items_status;
CREATE INDEX IF NOT EXISTS notify_items_status_kind ON notify_items (status, kind);
CREATE INDEX IF NOT EXISTS notify_items_message ON notify_items (message);
CREATE TABLE IF NOT EXISTS notify_messages (
    id TEXT PRIMARY KEY, target TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL DEFAULT 0, last_error TEXT,
    created TEXT NOT NULL, sent TEXT
);
-- the messages due are asked for every run: by status and time, not a scan of every message
-- ever composed (their payloads hold whole pages)
CREATE INDEX IF NOT EXISTS notify_messages_due ON notify_messages (status, next_try);
CREATE TABLE IF NOT EXISTS notify_sends (target TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS notify_sends_target ON notify_sends (target, at);
"""


@dataclass(frozen=True)
class QueuedMessage:
    id: str
    target: str
    payload: dict[str, Any]
    attempts: int
    next_try: float
    last_error: str | None


def stored_json(value: dict[str, Any] | str) -> str:
    """An event or a recipient list as the queue stores it: JSON text (text given is taken
    as made here before: a caller that tells one event to many targets makes it once)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


class NotifyQueue:
    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.conn = ledger.conn
        self.conn.executescript(_SCHEMA)

    # -- items ---------------------------------------------------------------------------------

    def last_added(self) -> int:
        """A number that grows whenever an item is added (the queue only grows: the last
        row's id), asked without counting every item."""
        row = self.conn.execute("SELECT MAX(rowid) FROM notify_items").fetchone()
        return int(row[0] or 0)

    def all_keys(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT key FROM notify_items")}

    def add(self, items: Iterable[dict[str, Any]], created: str) -> int:
        """Record new notifications (``key``, ``kind``, ``target``, ``event``, ``recipients``);
        a key already known is left as it is. Returns how many were new. ``items`` is consumed
        one at a time (a generator keeps a large first run out of memory). ``event`` and
        ``recipients`` are dicts, or their :func:`stored_json` text."""
        with self.ledger.transaction() as c:
            before = c.total_changes
            c.executemany(
                "INSERT OR IGNORE INTO notify_items VALUES (?, ?, ?, ?, ?, 'new', NULL, ?)",
                (
                    (
                        i["key"],
                        i["kind"],
                        i["target"],
                        stored_json(i["event"]),
                        stored_json(i["recipients"]),
                        created,
                    )
                    for i in items
                ),
            )
            return c.total_changes - before

    def new_kinds(self) -> dict[str, int]:
        """How many items wait to be composed, by kind of event."""
        rows = self.conn.execute(
            "SELECT kind, COUNT(*) AS n FROM notify_items WHERE status = 'new' GROUP BY kind"
        ).fetchall()
        return {r["kind"]: r["n"] for r in rows}

    def new_items(self, kinds: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """The items waiting to be composed (only those of ``kinds``, when given), read one at
        a time (a first run on a large drive has tens of thousands). Their ``event`` and
        ``recipients`` dicts may be shared between items: not to be changed."""
        if kinds is None:
            rows = self.conn.execute(
                "SELECT * FROM notify_items WHERE status = 'new' ORDER BY created, key"
            )
        else:
            wanted = sorted(set(kinds))
            if not wanted:
                return
            marks = ", ".join("?" * len(wanted))
            rows = self.conn.execute(
                f"SELECT * FROM notify_items WHERE status = 'new' AND kind IN ({marks}) "
                "ORDER BY created, key",
                wanted,
            )
        # an event goes to several targets, a list of recipients with many events: each text
        # is parsed once (the dicts are shared between the items: read them, never change them)
        parsed: dict[str, Any] = {}

        def load(text: str) -> Any:
            held = parsed.get(text)
            if held is None:
                if len(parsed) >= 10_000:
                    parsed.clear()
                held = parsed[text] = json.loads(text)
            return held

        for r in rows:
            yield {
                "key": r["key"],
                "kind": r["kind"],
                "target": r["target"],
                "event": load(r["event"]),
                "recipients": load(r["recipients"]),
            }

    def compose(
        self, msg_id: str, target: str, payload: dict[str, Any], keys: list[str], created: str
    ) -> None:
        """A composed message and its items, in one transaction (all or nothing)."""
        self.compose_many([(msg_id, target, payload, keys)], created)

    def compose_many(
        self, messages: list[tuple[str, str, dict[str, Any], list[str]]], created: str
    ) -> None:
        """Composed messages (id, target, payload, item keys) and their items, in one
        transaction (all or nothing): a Monday on a large drive composes a thousand."""
        if not messages:
            return
        with self.ledger.transaction() as c:
            c.executemany(
                "INSERT OR IGNORE INTO notify_messages (id, target, payload, status, created) "
                "VALUES (?, ?, ?, 'queued', ?)",
                [
                    (msg_id, target, json.dumps(payload, ensure_ascii=False), created)
                    for msg_id, target, payload, _keys in messages
                ],
            )
            c.executemany(
                "UPDATE notify_items SET status = 'queued', message = ? WHERE key = ? "
                "AND status = 'new'",
                [(msg_id, k) for msg_id, _t, _p, keys in messages for k in keys],
            )

    # -- messages ------------------------------------------------------------------------------

    def due(self, now: float) -> list[QueuedMessage]:
        rows = self.conn.execute(
            "SELECT * FROM notify_messages WHERE status = 'queued' AND next_try <= ? "
            "ORDER BY created, id",
            (now,),
        ).fetchall()
        return [_message(r) for r in rows]

    def mark_sent(self, msg_id: str, target: str, at: float, sent: str) -> None:
        self.mark_sent_many([(msg_id, target, at, sent)])

    def mark_sent_many(self, sends: list[tuple[str, str, float, str]]) -> None:
        """Messages delivered: (id, target, time.time() of the send, ISO time), in one
        transaction."""
        if not sends:
            return
        with self.ledger.transaction() as c:
            c.executemany(
                "UPDATE notify_messages SET status = 'sent', sent = ?, last_error = NULL "
                "WHERE id = ?",
                [(sent, msg_id) for msg_id, _t, _at, sent in sends],
            )
            c.executemany(
                "UPDATE notify_items SET status = 'sent' WHERE message = ?",
                [(msg_id,) for msg_id, _t, _at, _s in sends],
            )
            c.executemany(
                "INSERT INTO notify_sends VALUES (?, ?)", [(t, at) for _m, t, at, _s in sends]
            )
            c.execute("DELETE FROM notify_sends WHERE at < ?", (sends[-1][2] - 3600,))

    def mark_failed(self, msg_id: str, error: str, next_try: float) -> int:
        with self.ledger.transaction() as c:
            c.execute(
                "UPDATE notify_messages SET attempts = attempts + 1, last_error = ?, next_try = ? "
                "WHERE id = ?",
                (error, next_try, msg_id),
            )
            row = c.execute("SELECT attempts FROM notify_messages WHERE id = ?", (msg_id,))
            return int(row.fetchone()["attempts"])

    def sends_since(self, target: str, since: float) -> list[float]:
        rows = self.conn.execute(
            "SELECT at FROM notify_sends WHERE target = ? AND at >= ? ORDER BY at",
            (target, since),
        ).fetchall()
        return [r["at"] for r in rows]

    def status(self) -> dict[str, Any]:
        """Counts for ``xietong status`` and the watcher: queued, failing, sent, held."""
        items = dict(
            self.conn.execute(
                "SELECT status, COUNT(*) FROM notify_items GROUP BY status"
            ).fetchall()
        )
        msgs = dict(
            self.conn.execute(
                "SELECT status, COUNT(*) FROM notify_messages GROUP BY status"
            ).fetchall()
        )
        failing = self.conn.execute(
            "SELECT id, target, attempts, last_error, next_try FROM notify_messages "
            "WHERE status = 'queued' AND attempts > 0 ORDER BY attempts DESC"
        ).fetchall()
        return {
            "events_held": items.get("new", 0),
            "events_queued": items.get("queued", 0),
            "events_sent": items.get("sent", 0),
            "messages_queued": msgs.get("queued", 0),
            "messages_sent": msgs.get("sent", 0),
            "messages_failing": len(failing),
            "failures": [
                {
                    "message": r["id"],
                    "target": r["target"],
                    "attempts": r["attempts"],
                    "last_error": r["last_error"],
                    "next_try": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(r["next_try"])),
                }
                for r in failing
            ],
        }


def _message(r: Any) -> QueuedMessage:
    return QueuedMessage(
        r["id"],
        r["target"],
        json.loads(r["payload"]),
        r["attempts"],
        r["next_try"],
        r["last_error"],
    )
