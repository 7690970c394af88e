"""Latency of the watcher service: from a save in the inbox to the answer in the feedback folder.

One request form at a time is saved Excel-style (temporary file renamed over the target); the
clock runs until its receipt (登记回执) appears in the feedback folder. With file events the
target is p95 ≤ quiet window + 1 s; polling only, p95 ≤ scan interval + quiet window + 1 s.

Run by hand: ``python -m pytest -m benchmark benchmarks/bench_service.py -o addopts="" -q -s``
(``XIETONG_BENCH_SAVES`` sets the number of saves per mode, default 40). Prints p50 / p95;
asserts only outcomes (every form registered once), never a timing.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import pytest

from automation.api import init_drive
from automation.io.drive import drive_paths
from automation.rules import load_rules

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from service_helpers import (  # noqa: E402
    excel_save,
    form_bytes,
    registrations,
    running,
    today_values,
)

pytestmark = pytest.mark.benchmark

SAVES = int(os.environ.get("XIETONG_BENCH_SAVES", "40"))
QUIET = 0.5


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


@pytest.mark.parametrize(("mode", "interval"), [("events", 30.0), ("polling", 2.0)])
def test_save_to_feedback_latency(tmp_path, monkeypatch, mode, interval):
    monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XIETONG_SETTLE_SECONDS", "0")
    rules = load_rules()
    drive = tmp_path / "drive"
    init_drive(drive)
    paths = drive_paths(drive, rules)
    forms = [form_bytes(rules, tmp_path / "w", today_values(n)) for n in range(SAVES)]
    latencies = []
    with running(drive, interval=interval, quiet=QUIET, poll_only=mode == "polling"):
        for n, data in enumerate(forms):
            receipt = paths.feedback / f"申请{n:03d}_登记回执.txt"
            start = time.perf_counter()
            excel_save(paths.inbox / f"申请{n:03d}.xlsx", data)
            while not receipt.exists():
                time.sleep(0.02)
                assert time.perf_counter() - start < 120, f"no answer to save {n}"
            latencies.append(time.perf_counter() - start)
    assert len(registrations(drive)) == SAVES
    target = QUIET + 1 + (interval if mode == "polling" else 0)
    print(
        f"\n{mode} (interval {interval:g} s, quiet {QUIET:g} s), {SAVES} saves: "
        f"p50 {statistics.median(latencies):.2f} s, p95 {_p(latencies, 95):.2f} s, "
        f"max {max(latencies):.2f} s; target p95 ≤ {target:g} s"
    )
