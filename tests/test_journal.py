"""The audit trail: JSON lines in the drive's log folder, mirrored in the state database."""

from __future__ import annotations

import json

import pytest

from automation.io.journal import append_entries, make_entry, read_journal
from automation.io.ledger import open_ledger


@pytest.fixture(autouse=True)
def _state(tmp_path, monkeypatch):
    monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path / "state"))


def test_entries_are_appended_as_json_lines_and_mirrored(tmp_path):
    log = tmp_path / "08_日志"
    with open_ledger(tmp_path / "d") as led:
        e1 = make_entry(
            action="register",
            file="跟踪表.xlsx",
            sheet="跟踪表",
            item="XT-2026-0001",
            cells=["A4"],
            before={"A4": None},
            after={"A4": "XT-2026-0001"},
            reason="登记新申请",
            input_hash="abc",
        )
        e2 = make_entry(action="computed", file="跟踪表.xlsx", item="XT-2026-0002", reason="x")
        append_entries(log, led, [e1], tz="Asia/Shanghai")
        append_entries(log, led, [e2], tz="Asia/Shanghai")
        files = list(log.glob("journal-*.jsonl"))
        assert len(files) == 1
        lines = files[0].read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["item"] for line in lines] == ["XT-2026-0001", "XT-2026-0002"]
        first = json.loads(lines[0])
        for key in ("time", "file", "sheet", "cells", "before", "after", "reason", "input_hash"):
            assert key in first
        assert first["time"].endswith("+08:00")
        assert [e["item"] for e in led.journal_entries()] == ["XT-2026-0001", "XT-2026-0002"]
        assert [e["item"] for e in led.journal_entries("XT-2026-0002")] == ["XT-2026-0002"]
    assert [e["after"] for e in read_journal(log, item="XT-2026-0001")] == [{"A4": "XT-2026-0001"}]


def test_a_torn_line_of_a_killed_writer_is_closed_off_and_skipped(tmp_path):
    log = tmp_path / "log"
    append_entries(log, None, [make_entry(action="a", file="f", reason="r", item="1")], tz="UTC")
    path = next(log.glob("journal-*.jsonl"))
    with open(path, "ab") as fh:
        fh.write(b'{"action": "torn", "ite')
    append_entries(log, None, [make_entry(action="b", file="f", reason="r", item="2")], tz="UTC")
    assert [e["action"] for e in read_journal(log)] == ["a", "b"]
