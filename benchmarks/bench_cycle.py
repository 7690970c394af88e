"""How long ``xietong run`` takes.

- registering 200 forms in one run, then a run with nothing new on the resulting 200-row
  tracking table (computed columns only compared, nothing written);
- the validation cache (``automation.io.cache``): a drive with 300 passed items and 1,000
  execution workbooks; a run with a cold cache in a process that has read nothing yet, then a
  second run with nothing new, then the same second run with the cache switched off
  (``XIETONG_NO_CACHE=1``: each workbook still read once per run), in alternating rounds.

Run by hand: ``python -m pytest -m benchmark benchmarks/bench_cycle.py -o addopts="" -q -s``.
Prints timings; asserts only outcomes (rows registered, nothing written by a second run, no file
validated again when nothing changed), never a timing.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

import pytest

from automation.api import init_drive
from automation.process.cycle import run_cycle
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


# -- the validation cache: a second run with nothing new on a large drive --------------------

ITEMS = 300  # passed items in execution, 3 or 4 cooperating departments each: 1,000 workbooks
DEPARTMENTS = ["生产部", "市场部", "销售部", "IT部", "财务部", "客服部", "产品部", "法务部"]
CACHE_ROUNDS = 2


def _coop(i: int) -> list[str]:
    n = 4 if i % 3 == 0 else 3
    return [DEPARTMENTS[(i + k) % len(DEPARTMENTS)] for k in range(n)]


def _item_id(i: int) -> str:
    return f"XT-2026-{i + 1:04d}"


def _large_drive(drive: Path, rules) -> int:
    """A tracking table of ``ITEMS`` passed items and one execution workbook (10 daily rows) per
    cooperating department: one workbook written per department, then its item ID patched in
    for every item (the patcher is much faster than writing each workbook)."""
    from automation.core.layout import layout
    from automation.io.drive import drive_paths
    from automation.io.templates import write_workbook
    from automation.io.xlsxpatch import CellEdit, patch_workbook

    D = dt.date
    paths = drive_paths(drive)
    rows = []
    for i in range(ITEMS):
        rows.append(
            {
                "item_id": _item_id(i),
                "revision": 1,
                "submitted_date": D(2026, 9, 14),
                "registered_date": D(2026, 9, 14),
                "requesting_dept": "研发部",
                "title": f"事项{i:03d}",
                "evaluation_result": "通过",
                "evaluation_date": D(2026, 9, 15),
                "lead_dept": "研发部",
                "coop_depts": _coop(i),
                "meeting_date": D(2026, 9, 16),
                "minutes_date": D(2026, 9, 17),
                "plan_date": D(2026, 9, 22),
                "approval_date": D(2026, 9, 28),
            }
        )
    paths.tracking.unlink()
    write_workbook("tracking", rules, paths.tracking, rows=rows)
    form = rules.form("execution")
    item_cell = layout(form).cells["item_id"]
    daily = [
        {
            "date": D(2026, 9, 28) + dt.timedelta(days=n),
            "task": "执行",
            "owner": "赵磊",
            "progress": 0.1 * n,
            "status": "进行中",
            "updated_by": "赵磊",
        }
        for n in range(10)
    ]
    staging = drive.parent / "staging"
    staging.mkdir(exist_ok=True)
    template: dict[str, bytes] = {}
    for dept in DEPARTMENTS:
        path = write_workbook(
            "execution",
            rules,
            staging / f"{dept}.xlsx",
            values={"department": dept, "plan_submitted_date": D(2026, 9, 21)},
            rows=daily,
        )
        template[dept] = Path(path).read_bytes()
    count = 0
    stem = Path(form.file_name).stem
    for i in range(ITEMS):
        item = _item_id(i)
        folder = paths.items / f"{item} 事项{i:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for dept in _coop(i):
            data = patch_workbook(template[dept], form.sheet, [CellEdit(item_cell, item)])
            (folder / f"{stem}_{item}_{dept}.xlsx").write_bytes(data)
            count += 1
    return count


def _age_all(drive: Path, seconds: float = 3600) -> None:
    when = time.time() - seconds
    for p in drive.rglob("*.xlsx"):
        os.utime(p, (when, when))


def test_second_run_with_the_validation_cache(tmp_path, monkeypatch):
    from automation.io.cache import forget_kept_reports
    from automation.io.ledger import open_ledger
    from automation.process.context import open_context
    from automation.process.cycle import cycle

    monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path / "state"))
    rules = load_rules()
    drive = tmp_path / "drive"
    init_drive(drive)
    t0 = time.perf_counter()
    books = _large_drive(drive, rules)
    generated = time.perf_counter() - t0
    as_of = dt.datetime(2026, 10, 9, 10)

    def run(*, cache: bool) -> tuple[float, int]:
        """One cycle; (seconds, workbooks validated — in this process or its workers)."""
        if cache:
            monkeypatch.delenv("XIETONG_NO_CACHE", raising=False)
        else:
            monkeypatch.setenv("XIETONG_NO_CACHE", "1")
        start = time.perf_counter()
        with open_context(drive, as_of=as_of) as ctx:
            report = cycle(ctx, settle_s=0)
            validated = ctx.cache.misses
        took = time.perf_counter() - start
        assert not report.tracking_written and not report.created, "a run changed something"
        return took, validated

    # priming: the minutes of every item are created, the computed columns written
    monkeypatch.setenv("XIETONG_NO_CACHE", "1")
    primed = run_cycle(drive, as_of=as_of, settle_s=0)
    assert primed.tracking_written and len(primed.created) == ITEMS
    _age_all(drive)  # every workbook saved an hour ago
    print(
        f"\n{ITEMS} items, {books} execution workbooks (+{ITEMS} minutes) generated in "
        f"{generated:.1f} s; cpu count {os.cpu_count()}"
    )

    colds, warms, offs = [], [], []
    for n in range(CACHE_ROUNDS):
        with open_ledger(drive) as ledger, ledger.transaction() as c:
            c.execute("DELETE FROM validated")  # a cold cache …
        forget_kept_reports()  # … in a process that has read nothing yet
        cold, cold_opened = run(cache=True)
        on_drive = sum(1 for _ in drive.rglob("*.xlsx"))
        warm, warm_opened = run(cache=True)
        off, off_opened = run(cache=False)
        # each workbook at most once per run (those the run itself wrote included), and
        # nothing at all when nothing changed
        assert books + ITEMS + 1 <= cold_opened <= on_drive and warm_opened == 0
        assert off_opened <= on_drive
        colds.append(cold)
        warms.append(warm)
        offs.append(off)
        print(
            f"round {n + 1}: cold run {cold:.2f} s ({cold_opened} of {on_drive} workbooks "
            f"validated); second run {warm:.2f} s ({warm_opened} validated); "
            f"same run without the cache {off:.2f} s ({off_opened} validated)"
        )
    cold, warm, off = min(colds), min(warms), min(offs)
    print(
        f"best of {CACHE_ROUNDS}: second run / cold run = {warm / cold:.3f} "
        f"({cold / warm:.0f}x faster); second run / second run without cache = "
        f"{warm / off:.3f} ({off / warm:.0f}x faster)"
    )
