"""Every odd, broken and fuzzed file of the corpus dropped into the inbox at once: `xietong run`
gives each a coded outcome and changes nothing but the feedback folder and its own state."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from zoneinfo import ZoneInfo

import pytest

from automation.io.drive import drive_paths
from automation.process.cycle import run_cycle
from tests.conftest import CORPUS

AS_OF = dt.datetime(2026, 10, 21, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_whole_corpus_in_the_inbox_is_refused_file_by_file_and_nothing_else_changes(drive):
    source = CORPUS / "calamine"
    if not source.is_dir():
        pytest.skip(f"corpus not found at {source}")
    paths = drive_paths(drive)
    for f in sorted(source.iterdir()):
        if f.is_file() and f.suffix.lower() in {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}:
            shutil.copyfile(f, paths.inbox / f.name)
    dropped = {p.name: _digest(p) for p in paths.inbox.iterdir()}
    tracking = _digest(paths.tracking)

    report = run_cycle(drive, as_of=AS_OF, settle_s=0)

    outcomes = {o.file.rsplit("/", 1)[-1]: o for o in report.intake}
    assert set(outcomes) == set(dropped)
    assert {o.result for o in outcomes.values()} == {"invalid"}
    assert all(o.message for o in outcomes.values())
    assert report.registered == 0 and not report.tracking_written
    assert _digest(paths.tracking) == tracking
    assert {p.name: _digest(p) for p in paths.inbox.iterdir()} == dropped
    assert any(paths.feedback.iterdir())

    again = run_cycle(drive, as_of=AS_OF, settle_s=0)
    assert again.intake == []  # unchanged files are not read again
