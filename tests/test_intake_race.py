"""Two intakes racing over the same inbox in two real processes register every form once."""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter

from intake_helpers import AS_OF, drop_request, request_values, tracking_rows

from automation.io.drive import drive_paths

FORMS = 50


def _run(drive: str, queue, barrier) -> None:
    try:
        from automation.process.cycle import run_cycle

        barrier.wait(60)  # both start intake at the same moment
        report = run_cycle(drive, as_of=AS_OF, settle_s=0)
        queue.put(("ok", report.registered))
    except BaseException as exc:  # report, don't hang the test
        queue.put(("error", repr(exc)))


def test_two_intakes_racing_over_50_forms(drive, rules):
    paths = drive_paths(drive, rules)
    for n in range(FORMS):
        drop_request(drive, rules, f"申请{n:02d}.xlsx", request_values(n))
    ctx = mp.get_context("spawn")
    queue, barrier = ctx.Queue(), ctx.Barrier(2)
    procs = [ctx.Process(target=_run, args=(str(drive), queue, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(60)
    assert all(status == "ok" for status, _ in results), results
    assert sum(n for _, n in results) == FORMS  # each form registered by exactly one of them
    print("registered per process:", [n for _, n in results])

    rows = tracking_rows(drive, rules)
    ids = [r["item_id"] for r in rows]
    assert len(rows) == FORMS and len(set(ids)) == FORMS
    assert sorted(ids) == [f"XT-2026-{n:04d}" for n in range(1, FORMS + 1)]
    titles = Counter(r["title"] for r in rows)
    assert titles == Counter(f"新产品试产协调 {n}" for n in range(FORMS))
    assert not list(paths.inbox.iterdir())
    filed = [p.name for p in paths.items.rglob("*.xlsx")]
    assert sorted(filed) == sorted(f"申请{n:02d}.xlsx" for n in range(FORMS))
