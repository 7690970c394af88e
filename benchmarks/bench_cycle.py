"""How long ``xietong run`` takes: registering 200 forms in one run, then a run with nothing new
on the resulting 200-row tracking table (computed columns only compared, nothing written).

Run by hand: ``python -m pytest -m benchmark benchmarks/bench_cycle.py -s``. Prints timings;
asserts only the outcome (200 rows, second run writes nothing).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

import pytest

from automation.api import init_drive
from automation.cycle import run_cycle
from automation.rules import load_rules

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from intake_helpers import drop_request, request_values  # noqa: E402

pytestmark = pytest.mark.benchmark

FORMS = 200


def test_cycle_timings(tmp_path, monkeypatch):
    monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path / "state"))
    rules = load_rules()
    drive = tmp_path / "drive"
    init_drive(drive)
    for n in range(FORMS):
        drop_request(drive, rules, f"申请{n:03d}.xlsx", request_values(n))
    as_of = dt.datetime(2026, 3, 10, 10)

    t0 = time.perf_counter()
    first = run_cycle(drive, as_of=as_of, settle_s=0)
    t1 = time.perf_counter()
    second = run_cycle(drive, as_of=as_of, settle_s=0)
    t2 = time.perf_counter()

    assert first.registered == FORMS and first.rows_added == FORMS
    assert not second.tracking_written and second.cells_updated == 0
    per_form = (t1 - t0) / FORMS * 1000
    print(
        f"\nregister {FORMS} forms in one run: {t1 - t0:.1f} s ({per_form:.0f} ms per form); "
        f"run with nothing new on {FORMS} rows: {t2 - t1:.2f} s (cpu count {os.cpu_count()})"
    )
