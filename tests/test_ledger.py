"""The local state database: IDs never shared or reused, claims, pending writes, location."""

from __future__ import annotations

import multiprocessing as mp
import sys
from pathlib import Path

import pytest

from automation.io import ledger as ledger_mod
from automation.io.ledger import drive_lock, open_ledger, state_dir, state_path
from automation.rules.process import ItemIds


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path / "state"))


def test_state_lives_outside_the_drive_one_database_per_drive(tmp_path):
    a, b = tmp_path / "driveA", tmp_path / "driveB"
    assert state_path(a) != state_path(b)
    assert state_path(a).parent == tmp_path / "state"
    assert state_path(a) == state_path(tmp_path / "driveA" / ".." / "driveA")
    with open_ledger(a) as led:
        assert led.is_new
        mode = led.conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    with open_ledger(a) as led:
        assert not led.is_new
    assert not list(a.glob("*")) if a.exists() else True


def test_default_state_folder_is_per_user(monkeypatch):
    monkeypatch.delenv("XIETONG_STATE_DIR")
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    if sys.platform == "win32":
        assert state_dir().name == "xietong"
    else:
        assert state_dir() == Path.home() / ".local" / "state" / "xietong"


def test_id_counter_never_goes_below_the_table(tmp_path):
    with open_ledger(tmp_path / "d") as led:
        assert led.allocate_id_seq(2026) == 1
        assert led.allocate_id_seq(2026) == 2
        assert led.allocate_id_seq(2026, floor=41) == 42
        assert led.allocate_id_seq(2026, floor=3) == 43
        assert led.allocate_id_seq(2027) == 1


def _allocate_many(state: str, root: str, n: int, queue) -> None:
    import os

    os.environ["XIETONG_STATE_DIR"] = state
    try:
        with open_ledger(root) as led:
            queue.put([led.allocate_id_seq(2026) for _ in range(n)])
    except BaseException as exc:  # make a failure visible instead of a queue timeout
        queue.put(repr(exc))


def test_two_processes_allocating_never_share_an_id(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    args = (str(tmp_path / "state"), str(tmp_path / "d"), 40, queue)
    procs = [ctx.Process(target=_allocate_many, args=args) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(30)
    assert all(isinstance(r, list) for r in results), results
    got = results[0] + results[1]
    assert sorted(got) == list(range(1, 81))


def test_register_is_exactly_once_per_fingerprint(tmp_path):
    ids = ItemIds()
    with open_ledger(tmp_path / "d") as led:
        kw = dict(
            year=2026,
            id_format=ids.format,
            floor=0,
            revision_of=None,
            table_revision=0,
            row_values={"title": "甲"},
            request_fields={"title": "甲"},
            source_path="a.xlsx",
            source_sha256="x",
            registered="2026-03-10",
        )
        first, new1 = led.register("fp1", **kw)
        again, new2 = led.register("fp1", **kw)
        other, _ = led.register("fp2", **kw)
        rev, _ = led.register("fp3", **{**kw, "revision_of": first.item_id, "table_revision": 1})
    assert (new1, new2) == (True, False)
    assert first.item_id == again.item_id == "XT-2026-0001"
    assert first.row_values["item_id"] == "XT-2026-0001" and first.row_values["revision"] == 1
    assert other.item_id == "XT-2026-0002"
    assert (rev.item_id, rev.revision) == ("XT-2026-0001", 2)


def test_a_claimed_file_is_not_claimed_twice_and_processed_content_is_skipped(tmp_path):
    with open_ledger(tmp_path / "d") as led:
        token = led.claim_file("inbox/a.xlsx", 10, 1, "h1")
        assert token
        assert led.claim_file("inbox/a.xlsx", 10, 1, "h1") is None
        led.finish_file("inbox/a.xlsx", token, "invalid")
        assert led.claim_file("inbox/a.xlsx", 10, 1, "h1") is None
        assert led.known_unchanged("inbox/a.xlsx", 10, 1)
        assert led.claim_file("inbox/a.xlsx", 11, 2, "h2")  # re-saved with other content


def test_a_stale_claim_of_a_dead_process_is_taken_over(tmp_path, monkeypatch):
    with open_ledger(tmp_path / "d") as led:
        assert led.claim_file("inbox/a.xlsx", 10, 1, "h1")
        monkeypatch.setattr(ledger_mod, "CLAIM_TIMEOUT_S", -1.0)
        assert led.claim_file("inbox/a.xlsx", 10, 1, "h1")


def test_pending_write_keeps_first_seen_and_counts_attempts(tmp_path):
    with open_ledger(tmp_path / "d") as led:
        p1 = led.defer(
            "跟踪表.xlsx",
            [{"cell": "A5"}],
            reason="已打开",
            code="E_DEFERRED_LOCKED",
            holder="张三",
        )
        p2 = led.defer("跟踪表.xlsx", [], reason="已打开", code="E_DEFERRED_LOCKED", holder="李四")
        assert p2.first_seen == p1.first_seen and p2.attempts == 2
        assert [p.holder for p in led.pending()] == ["李四"]
        led.clear_pending("跟踪表.xlsx")
        assert led.pending() == []


def test_drive_lock_is_exclusive_between_processes(tmp_path):
    import subprocess

    code = (
        "import os,sys;os.environ['XIETONG_STATE_DIR']=sys.argv[1];"
        "from automation.io.ledger import drive_lock;from automation.errors import XietongError\n"
        "try:\n  with drive_lock(sys.argv[2], timeout=0.3): print('got')\n"
        "except XietongError as e: print(e.code)"
    )
    with drive_lock(tmp_path / "d"):
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "state"), str(tmp_path / "d")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.stdout.strip() == "E_BUSY"
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "state"), str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "got"


def test_meta_values_are_read_back_many_at_once(tmp_path):
    """More keys than one SQLite statement may bind: every value found, missing keys left out."""
    with open_ledger(tmp_path / "drive") as ledger:
        values = {f"k{n}": f"v{n}" for n in range(0, 1500, 2)}
        ledger.set_metas(values)
        asked = [f"k{n}" for n in range(1500)] + ["k0"]
        assert ledger.get_metas(asked) == values
        assert ledger.get_metas([]) == {}
