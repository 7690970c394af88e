"""The demo drive: every cycle of the sample year notifies; running again tells nobody twice."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from zoneinfo import ZoneInfo

from automation.api import run_demo
from automation.io.drive import drive_paths
from automation.io.ledger import open_ledger
from automation.io.notify_queue import NotifyQueue
from automation.process.cycle import run_cycle

TZ = ZoneInfo("Asia/Shanghai")


def _sent_keys(root) -> tuple[list[str], int]:
    with open_ledger(root) as ledger:
        NotifyQueue(ledger)
        rows = ledger.conn.execute(
            "SELECT payload FROM notify_messages WHERE status = 'sent'"
        ).fetchall()
    keys = [k for r in rows for k in json.loads(r["payload"])["events"]]
    return keys, len(rows)


def test_the_demo_run_twice_gives_each_event_once(tmp_path, monkeypatch):
    monkeypatch.setenv("XIETONG_SECRETS_FILE", str(tmp_path / "none.yaml"))
    root = tmp_path / "demo"
    as_of = dt.datetime(2026, 9, 10, 10, 0, tzinfo=TZ)
    run_demo(root, as_of=as_of, echo=lambda *_: None)
    outbox = drive_paths(root).outbox
    first = {p.name: p.read_bytes() for p in outbox.glob("*.eml")}
    keys, messages = _sent_keys(root)
    assert len(first) == messages > 0  # one outbox file per message sent
    assert len(keys) == len(set(keys))  # no notification in two messages
    kinds = Counter(k.split("|")[0] for k in keys)
    assert {"registered", "assigned", "rejected"} <= set(kinds)
    assert kinds["breached"] + kinds["at_risk"] + kinds["daily_missing"] > 0

    for _ in range(2):  # the same moment again: nothing new
        run_cycle(root, as_of=as_of, settle_s=0)
    assert {p.name: p.read_bytes() for p in outbox.glob("*.eml")} == first
    later = as_of + dt.timedelta(days=1)
    run_cycle(root, as_of=later, settle_s=0)
    after_next_day = {p.name for p in outbox.glob("*.eml")}
    run_cycle(root, as_of=later, settle_s=0)
    assert {p.name for p in outbox.glob("*.eml")} == after_next_day
    keys, messages = _sent_keys(root)
    assert len(keys) == len(set(keys)) and messages == len(after_next_day)
