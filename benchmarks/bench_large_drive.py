"""A realistic large drive: the cold full cycle (``xietong run``, which rebuilds the summary)
against the naive pandas approach, the warm cycle after one execution workbook changed, and
the peak memory of the cold cycle.

The generator (:func:`make_large_drive`) writes, per item: the filed request form, the meeting
minutes, one execution workbook (模板四) per cooperating department (2 or 3) with
``DAILY_ROWS`` daily rows, and one weekly report per cooperating department; plus the tracking
table. At 2,000 items that is about 14,000 workbooks and 600,000 daily rows (the issue's target
size); here it runs at ``XIETONG_BENCH_ITEMS`` items (default ``200,500``) because the machine is
shared.

- **cold**: ``xietong run DRIVE`` in a fresh process with an empty local state (no validation
  cache): every workbook read, clocks computed, tracking table written, summary built; its peak
  RSS is that process's own (``VmHWM``: not ``ru_maxrss``, which a process started by a large
  one inherits from it), and beside it the peak of it and its reader worker processes
  together, sampled from ``/proc`` every tenth of a second (pages they share counted in each);
- **naive**: what a user would write: ``pandas.read_excel(engine="openpyxl", sheet_name=None)``
  over the same workbooks, then the same clock and summary computation (``automation.core``) on
  the values pulled from the frames — the reading is what differs;
- **warm**: this process runs two cycles with nothing new (the first loads every stored
  result; the second starts with the full collection that the growth of what the process keeps
  calls for, see ``automation.process.heap``), both printed; then one daily row is added to one
  execution workbook and ``run_cycle`` runs again (the summary is drawn again: what it shows
  changed, the first time in this process); then the same with another item's workbook (the
  summary drawn again, its unchanged rows taken from the last drawing, as in a service that
  has drawn it before); then the second workbook is saved again with the same rows (read
  again, the summary unchanged). All of these run at the same as-of moment; a service runs
  each cycle at its own, so two more follow: nothing new one minute later, and a third
  workbook changed a minute after that. The as-of moment is a Friday evening, out of business
  hours: no working time passes, and the clocks and rollups are kept from one minute to the
  next (``WorkCalendar.quiet_until``). So three more: the next Monday at 10:00 (the day and
  the week moved on: every clock worked out again, the new week's reports written), and two
  cycles a minute apart after it, in business hours (the share of working time used moves;
  the clocks and rollups are taken as they were until their state can change, see
  ``automation.core.clocks.steady_until``), then one more workbook changed half a minute
  later. Last, two cycles each in a new process on the warm local state, as cron or a
  button's refresh runs them, timed from the process's start to its end: the first finds no
  values carried by a process before it, the second (one more workbook changed) takes those
  the first left (``automation.io.cache``).

Run by hand: ``python -m pytest -m benchmark benchmarks/bench_large_drive.py -o addopts="" -q -s``.
Prints the figures and ratios; asserts only outcomes (the summary written, the change seen),
never a timing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from automation.api import init_drive
from automation.rules import load_rules

pytestmark = pytest.mark.benchmark

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = dt.datetime(2026, 10, 30, 20, 0, tzinfo=TZ)
DAILY_ROWS = 120  # per execution workbook: 2,000 items x 2.5 departments x 120 = 600,000 rows
DEPARTMENTS = ["生产部", "市场部", "销售部", "IT部", "财务部", "客服部", "产品部", "法务部"]
APPROVED = dt.date(2026, 4, 30)


def _sizes() -> list[int]:
    raw = os.environ.get("XIETONG_BENCH_ITEMS", "200,500")
    return [int(x) for x in raw.split(",") if x.strip()]


def _coop(i: int) -> list[str]:
    n = 3 if i % 2 else 2
    return [DEPARTMENTS[(i + k) % len(DEPARTMENTS)] for k in range(n)]


def _item_id(i: int) -> str:
    return f"XT-2026-{i + 1:04d}"


def _workdays(calendar, start: dt.date, n: int) -> list[dt.date]:
    out, day = [], start
    while len(out) < n:
        day += dt.timedelta(days=1)
        if calendar.is_workday(day):
            out.append(day)
    return out


def _tracking_row(i: int) -> dict:
    """Items at every stage: most in execution, some finished, some still being evaluated."""
    D = dt.date
    row = {
        "item_id": _item_id(i),
        "revision": 1,
        "submitted_date": D(2026, 4, 20),
        "registered_date": D(2026, 4, 20),
        "requesting_dept": DEPARTMENTS[i % len(DEPARTMENTS)],
        "title": f"协调事项{i:04d}",
        "collab_type": "跨部门项目",
        "urgency": "一般",
    }
    stage = i % 10
    if stage == 0:  # still being evaluated
        return row
    row |= {
        "evaluation_result": "通过",
        "evaluation_date": D(2026, 4, 21),
        "lead_dept": "研发部",
        "coop_depts": _coop(i),
        "meeting_date": D(2026, 4, 22),
        "minutes_date": D(2026, 4, 23),
        "plan_date": D(2026, 4, 29),
        "approval_date": APPROVED,
    }
    if stage == 1:
        row["completion_date"] = D(2026, 10, 16)
    return row


def make_large_drive(drive: Path, items: int) -> dict[str, int]:
    """Write the drive (see the module docstring); returns counts of what was written."""
    from automation.core.calendar import WorkCalendar
    from automation.core.layout import layout
    from automation.io.drive import drive_paths, drive_rules
    from automation.io.templates import write_workbook
    from automation.io.xlsxpatch import CellEdit, patch_workbook

    init_drive(drive)
    paths = drive_paths(drive)
    # the tracking table of a large drive has more rows than the template's pre-sized 300
    form_file = paths.rules / "forms" / "tracking.yaml"
    text = form_file.read_text(encoding="utf-8")
    form_file.write_text(
        re.sub(r"(?m)^table_rows: \d+", f"table_rows: {max(300, items + 50)}", text),
        encoding="utf-8",
    )
    rules = drive_rules(drive)
    calendar = WorkCalendar.from_rules(rules.calendar)
    paths.tracking.unlink()
    write_workbook("tracking", rules, paths.tracking, rows=[_tracking_row(i) for i in range(items)])
    staging = drive.parent / "staging"
    staging.mkdir(exist_ok=True)
    days = _workdays(calendar, APPROVED, DAILY_ROWS)
    daily = [
        {
            "date": d,
            "task": "按总体方案推进",
            "owner": "赵磊",
            "progress": min(1.0, n / DAILY_ROWS),
            "status": "进行中",
            "updated_by": "赵磊",
        }
        for n, d in enumerate(days)
    ]
    weeks = sorted({f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in days})
    execution, weekly = rules.form("execution"), rules.form("weekly")
    exec_item = layout(execution).cells["item_id"]
    week_lay = layout(weekly)
    item_col = next(c for k, c in week_lay.columns.items() if k == "item_id")
    first = week_lay.first_data_row
    exec_tpl, week_tpl = {}, {}
    for dept in DEPARTMENTS:
        exec_tpl[dept] = Path(
            write_workbook(
                "execution",
                rules,
                staging / f"e-{dept}.xlsx",
                values={"department": dept, "plan_submitted_date": dt.date(2026, 4, 27)},
                rows=daily,
            )
        ).read_bytes()
        week_rows = [
            {
                "week": w,
                "department": dept,
                "item_id": "XT-2026-0001",
                "done": "完成本周计划",
                "submitted_by": f"{dept}专员",
                "submitted_date": dt.date.fromisocalendar(int(w[:4]), int(w[6:]), 5),
            }
            for w in weeks[:-1]
        ]
        week_tpl[dept] = Path(
            write_workbook("weekly", rules, staging / f"w-{dept}.xlsx", rows=week_rows)
        ).read_bytes()
    minutes = Path(write_workbook("minutes", rules, staging / "m.xlsx")).read_bytes()
    form = Path(
        write_workbook("request", rules, staging / "r.xlsx", values={"title": "协调事项"})
    ).read_bytes()
    counts = {"items": items, "workbooks": 1, "daily_rows": 0}
    for i in range(items):
        item = _item_id(i)
        folder = paths.items / f"{item} 协调事项{i:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"申请表_{item}.xlsx").write_bytes(form)
        (folder / f"模板三_跨部门协调会议纪要_{item}.xlsx").write_bytes(minutes)
        counts["workbooks"] += 2
        if i % 10 == 0:
            continue
        for dept in _coop(i):
            data = patch_workbook(exec_tpl[dept], execution.sheet, [CellEdit(exec_item, item)])
            (folder / f"模板四_跨部门任务执行跟踪表_{item}_{dept}.xlsx").write_bytes(data)
            edits = [CellEdit(f"{item_col}{first + n}", item) for n in range(len(weeks) - 1)]
            week = patch_workbook(week_tpl[dept], weekly.sheet, edits)
            (folder / f"周进度报告_{item}_{dept}.xlsx").write_bytes(week)
            counts["workbooks"] += 2
            counts["daily_rows"] += len(daily)
    return counts


def _age_all(drive: Path, seconds: float = 3600) -> None:
    when = time.time() - seconds
    for p in drive.rglob("*.xlsx"):
        os.utime(p, (when, when))


# A process's own peak resident memory. Not ``ru_maxrss``: on Linux a process started by
# another keeps the peak of the image it replaced (the starter's, when started by fork or
# vfork and exec), so a small process started by a large one reports the large one's peak.
# ``VmHWM`` is the peak of its own memory only.
_PEAK = (
    "def _peak():\n"
    "    try:\n"
    "        with open('/proc/self/status') as f:\n"
    "            return int(f.read().split('VmHWM:')[1].split()[0]) * 1024\n"
    "    except (OSError, IndexError, ValueError):\n"
    "        import resource\n"
    "        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
)


def _cold_run(drive: Path, state: Path) -> tuple[float, int, float, int]:
    """``xietong run`` in a fresh process; (seconds, its peak RSS in bytes, the CPU seconds
    it and its worker processes used — more than the seconds when it used several cores, the
    peak of the RSS of it and its worker processes together, sampled)."""
    code = (
        _PEAK + "import sys, time, datetime as dt\n"
        "from automation.process.cycle import run_cycle\n"
        "t = time.perf_counter()\n"
        f"r = run_cycle(sys.argv[1], as_of=dt.datetime.fromisoformat('{AS_OF.isoformat()}'),"
        " settle_s=0)\n"
        "took = time.perf_counter() - t\n"
        "import os\n"
        "c = os.times()\n"
        "print(took, _peak(), r.tracking_written, c.user + c.system, "
        "c.children_user + c.children_system)\n"
    )
    out, tree = _python(code, drive, state)
    assert out[2] == "True"
    return float(out[0]), int(out[1]), float(out[3]) + float(out[4]), tree


def _tree_rss(root: int) -> int:
    """The resident memory of process ``root`` and every process below it, added up (pages
    shared between them counted in each: an upper bound), from ``/proc``; 0 where there is
    none."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(name)
        parents[pid] = int(fields[1])  # the field after the state
        rss[pid] = int(fields[21]) * _PAGE  # resident pages
    total = 0
    for pid, size in rss.items():
        p = pid
        while p > 1 and p != root:
            p = parents.get(p, 0)
        if p == root:
            total += size
    return total


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _python(code: str, drive: Path, state: Path) -> tuple[list[str], int]:
    """``code`` run by a new Python process on ``drive`` with the local state in ``state``:
    (what it printed, split; the peak of the RSS of it and the processes it started together,
    sampled every tenth of a second — 0 where ``/proc`` cannot tell)."""
    env = {**os.environ, "XIETONG_STATE_DIR": str(state)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(drive)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            try:
                peak[0] = max(peak[0], _tree_rss(proc.pid))
            except OSError:
                return

    sampler = threading.Thread(target=sample, daemon=True)
    if os.path.isdir("/proc"):
        sampler.start()
    out, err = proc.communicate()
    done.set()
    if sampler.is_alive():
        sampler.join()
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, proc.args, out, err)
    return out.split(), peak[0]


def _process_run(drive: Path, state: Path, as_of: dt.datetime) -> tuple[float, int]:
    """A cycle in a new process on a drive whose local state is warm, as cron, an Excel
    button's refresh or a restarted service runs it: (seconds from the process's start to its
    end, imports and the values it leaves for the next process included; its peak RSS)."""
    code = (
        _PEAK + "import sys, datetime as dt\n"
        "from automation.process.cycle import run_cycle\n"
        f"run_cycle(sys.argv[1], as_of=dt.datetime.fromisoformat('{as_of.isoformat()}'),"
        " settle_s=0)\n"
        "print(_peak())\n"
    )
    t0 = time.perf_counter()
    out, _tree = _python(code, drive, state)
    return time.perf_counter() - t0, int(out[-1])


def naive_cycle(drive: Path) -> tuple[float, dict]:
    """pandas.read_excel(openpyxl) over every workbook, then the same clocks and summary."""
    import pandas as pd

    from automation.core.calendar import WorkCalendar
    from automation.core.clocks import DeptRecord, ItemCycle, as_date, compute_clocks
    from automation.core.layout import layout
    from automation.core.summary import build_summary
    from automation.io.drive import drive_rules

    rules = drive_rules(drive)
    calendar = WorkCalendar.from_rules(rules.calendar)
    t0 = time.perf_counter()
    tracking = rules.form("tracking")
    tlay = layout(tracking)
    sheets = pd.read_excel(
        drive / rules.drive.tracking_file, sheet_name=None, header=None, engine="openpyxl"
    )
    grid = sheets[tracking.sheet]
    cols = {k: column_index(c) for k, c in tlay.columns.items()}
    rows = []
    for r in range(tlay.first_data_row - 1, len(grid)):
        values = {k: grid.iat[r, c] if c < grid.shape[1] else None for k, c in cols.items()}
        values = {k: (None if pd.isna(v) else v) for k, v in values.items()}
        if values.get("item_id"):
            rows.append(values)
    execution = rules.form("execution")
    elay = layout(execution)
    wlay = layout(rules.form("weekly"))
    depts: dict[str, dict[str, DeptRecord]] = {}
    for folder in sorted((drive / rules.drive.folders.items).iterdir()):
        item = folder.name.split(" ")[0]
        for path in sorted(folder.glob("*.xlsx")):
            book = pd.read_excel(path, sheet_name=None, header=None, engine="openpyxl")
            if execution.sheet in book and "执行" in path.name:
                g = book[execution.sheet]
                cell = elay.cells["department"]
                dept = g.iat[int(cell[1:]) - 1, column_index(cell[0])]
                dcol = column_index(elay.columns["date"])
                dates = {as_date(v) for v in g.iloc[elay.first_data_row - 1 :, dcol]}
                old = depts.setdefault(item, {}).get(dept, DeptRecord())
                depts[item][dept] = DeptRecord(
                    {"plan_submitted_date": dt.date(2026, 4, 27)},
                    frozenset(d for d in dates if d),
                    old.weekly_weeks,
                )
            elif "周报" in book and "周进度报告" in path.name:
                g = book["周报"]
                wcol = column_index(wlay.columns["week"])
                dcol = column_index(wlay.columns["department"])
                part = g.iloc[wlay.first_data_row - 1 :]
                for week, dept in zip(part.iloc[:, wcol], part.iloc[:, dcol], strict=False):
                    if isinstance(week, str) and isinstance(dept, str):
                        old = depts.setdefault(item, {}).get(dept, DeptRecord())
                        depts[item][dept] = DeptRecord(
                            old.fields, old.daily_dates, frozenset({*old.weekly_weeks, week})
                        )
    cycles = []
    for row in rows:
        fields = dict(row)
        if isinstance(fields.get("coop_depts"), str):
            fields["coop_depts"] = fields["coop_depts"].split("、")
        item = str(row["item_id"])
        cycles.append(ItemCycle(item, int(row.get("revision") or 1), fields, depts.get(item, {})))
    results = compute_clocks(cycles, rules.clocks, calendar, AS_OF)
    model = build_summary(cycles, results, rules, AS_OF)
    return time.perf_counter() - t0, model.as_dict()["overview"]


def _touch_one_execution_workbook(drive: Path, which: int = 0) -> Path:
    """Add a daily row to one execution workbook (the ``which``-th of those of items still in
    execution), as a department would."""
    from automation.core.layout import layout
    from automation.io.xlsxpatch import CellEdit, patch_workbook

    rules = load_rules()
    form = rules.form("execution")
    lay = layout(form)
    # an item still in execution (not finished on 2026-10-16, see _tracking_row)
    path = [
        p
        for p in sorted(drive.rglob("模板四_跨部门任务执行跟踪表_*.xlsx"))
        if (int(p.stem.split("_")[2][-4:]) - 1) % 10 >= 2
    ][which]
    row = lay.first_data_row + DAILY_ROWS
    edits = [
        CellEdit(f"{lay.columns['date']}{row}", dt.datetime(2026, 10, 30)),
        CellEdit(f"{lay.columns['task']}{row}", "补充一行"),
        CellEdit(f"{lay.columns['owner']}{row}", "赵磊"),
        CellEdit(f"{lay.columns['progress']}{row}", 1.0),
        CellEdit(f"{lay.columns['status']}{row}", "已完成"),
        CellEdit(f"{lay.columns['updated_by']}{row}", "赵磊"),
    ]
    path.write_bytes(patch_workbook(path.read_bytes(), form.sheet, edits))
    old = time.time() - 60
    os.utime(path, (old, old))
    return path


def _stepped_cycle(drive: Path, as_of: dt.datetime) -> tuple[float, list[tuple[str, float]]]:
    """One cycle as ``run_cycle`` runs it: (seconds, each step's seconds in order)."""
    from automation.process.context import open_context
    from automation.process.cycle import cycle

    starts: list[tuple[str, float]] = []  # each step's label as it starts

    def started(_i: int, _n: int, label: str) -> None:
        starts.append((label, time.perf_counter()))

    t0 = time.perf_counter()
    with open_context(drive, as_of=as_of) as ctx:
        opened = time.perf_counter()
        cycle(ctx, settle_s=0, progress=started)
        done = time.perf_counter()
    end = time.perf_counter()
    ends = [t for _label, t in starts[1:]] + [done]
    steps = [(label, stop - t) for (label, t), stop in zip(starts, ends, strict=True)]
    return end - t0, [("打开", opened - t0), *steps, ("关闭", end - done)]


def _stat_every_workbook(drive: Path) -> tuple[int, float]:
    """The floor of a cycle that trusts no file event: every workbook of the drive looked at
    once (os.stat). (how many, seconds); the listing is not timed."""
    found = [
        os.path.join(folder, name)
        for folder, _dirs, names in os.walk(drive)
        for name in names
        if name.lower().endswith(".xlsx")
    ]
    t0 = time.perf_counter()
    for path in found:
        os.stat(path)
    return len(found), time.perf_counter() - t0


@pytest.mark.parametrize("items", _sizes())
def test_large_drive_cycle(items, tmp_path, monkeypatch):
    from automation.process.cycle import run_cycle

    drive = tmp_path / "drive"
    t0 = time.perf_counter()
    counts = make_large_drive(drive, items)
    _age_all(drive)
    made = time.perf_counter() - t0
    state = tmp_path / "state"
    cold, rss, cpu, tree = _cold_run(drive, state)
    summary_file = drive / "04_领导汇总" / "跨部门协调汇总.xlsx"
    assert summary_file.is_file()

    naive, overview = naive_cycle(drive)
    assert overview["open_items"] > 0

    monkeypatch.setenv("XIETONG_STATE_DIR", str(state))
    t1 = time.perf_counter()
    again = run_cycle(drive, as_of=AS_OF, settle_s=0)
    first = time.perf_counter() - t1
    assert not again.tracking_written
    # the process's next cycle: when what it keeps grew (the first cycle here read every stored
    # result; in the same process a smaller drive may have come before), it starts with the one
    # full collection that growth calls for (automation.process.heap) — the steady state after
    t1 = time.perf_counter()
    run_cycle(drive, as_of=AS_OF, settle_s=0)
    second = time.perf_counter() - t1
    before = summary_file.read_bytes()
    _touch_one_execution_workbook(drive)
    t1 = time.perf_counter()
    run_cycle(drive, as_of=AS_OF, settle_s=0)
    warm = time.perf_counter() - t1
    redrawn = summary_file.read_bytes() != before
    # another department's workbook of another item changes: this process drew the summary
    # before (a service does, cycle after cycle), so the rows that did not change are reused
    before = summary_file.read_bytes()
    _touch_one_execution_workbook(drive, which=7)
    warm_again, warm_steps = _stepped_cycle(drive, AS_OF)
    stats = _stat_every_workbook(drive)
    redrawn_again = summary_file.read_bytes() != before
    # the same workbook saved again with the same rows: read again, nothing it shows changes
    before = summary_file.read_bytes()
    _touch_one_execution_workbook(drive, which=7)
    t2 = time.perf_counter()
    run_cycle(drive, as_of=AS_OF, settle_s=0)
    resaved = time.perf_counter() - t2
    assert summary_file.read_bytes() == before
    # a service runs each cycle at its own moment: the clocks are worked out again (the share
    # of working time used moves), the rest is kept where it came out the same
    t2 = time.perf_counter()
    run_cycle(drive, as_of=AS_OF + dt.timedelta(minutes=1), settle_s=0)
    minute_later = time.perf_counter() - t2
    before = summary_file.read_bytes()
    _touch_one_execution_workbook(drive, which=14)
    t2 = time.perf_counter()
    run_cycle(drive, as_of=AS_OF + dt.timedelta(minutes=2), settle_s=0)
    moved_warm = time.perf_counter() - t2
    moved_redrawn = summary_file.read_bytes() != before
    monday = dt.datetime(2026, 11, 2, 10, 0, tzinfo=TZ)
    t2 = time.perf_counter()
    run_cycle(drive, as_of=monday, settle_s=0)
    next_day = time.perf_counter() - t2
    in_hours = []
    for minute in (1, 2):
        t2 = time.perf_counter()
        run_cycle(drive, as_of=monday + dt.timedelta(minutes=minute), settle_s=0)
        in_hours.append(time.perf_counter() - t2)
    _touch_one_execution_workbook(drive, which=28)  # a department saves, mid-morning
    t2 = time.perf_counter()
    run_cycle(drive, as_of=monday + dt.timedelta(minutes=2, seconds=30), settle_s=0)
    changed_in_hours = time.perf_counter() - t2
    # new processes, as cron runs them: the first finds no values left by a process before
    # it (this one is still running), the second takes what the first left
    first_process, first_rss = _process_run(drive, state, monday + dt.timedelta(minutes=3))
    _touch_one_execution_workbook(drive, which=21)
    next_process, process_rss = _process_run(drive, state, monday + dt.timedelta(minutes=4))
    print(
        f"\n{items} items: {counts['workbooks']} workbooks, {counts['daily_rows']:,} daily rows "
        f"(generated in {made:.0f} s); cpu count {os.cpu_count()}, "
        f"load {os.getloadavg()[0]:.1f}\n"
        f"  cold full cycle (run + summary): {cold:.1f} s, peak RSS {rss / 2**20:.0f} MB "
        f"(with its reader processes, sampled: {tree / 2**20:.0f} MB); CPU {cpu:.1f} s = "
        f"{cpu / cold:.1f} cores busy on average\n"
        f"  naive pandas/openpyxl + same aggregation: {naive:.1f} s "
        f"-> xietong x{naive / cold:.1f} faster\n"
        f"  this process's first cycles, nothing new: {first:.2f} s (every stored result "
        f"loaded), {second:.2f} s\n"
        f"  warm cycle after one execution workbook changed: {warm:.2f} s "
        f"(summary rewritten: {redrawn}, the first time in this process); after another "
        f"one changed: {warm_again:.2f} s (summary rewritten: {redrawn_again}); the same "
        f"workbook saved again unchanged: {resaved:.2f} s (summary not rewritten)\n"
        f"    its steps (ms): {' '.join(f'{k} {v * 1000:.0f}' for k, v in warm_steps)}; "
        f"one os.stat of each of the drive's {stats[0]} workbooks: {stats[1] * 1000:.0f} ms\n"
        f"  at a new moment, as a service runs: nothing new a minute later {minute_later:.2f} s; "
        f"one more workbook changed a minute after that {moved_warm:.2f} s "
        f"(summary rewritten: {moved_redrawn})\n"
        f"  in business hours: the next Monday 10:00 {next_day:.2f} s (every clock worked out "
        f"again, the new week's reports written), a minute later {in_hours[0]:.2f} s (the "
        f"folders it wrote into listed again), another {in_hours[1]:.2f} s (the running "
        f"clocks taken as they were until their state can change), one workbook changed "
        f"then {changed_in_hours:.2f} s\n"
        f"  a new process (cron, a button's refresh), imports included: {first_process:.2f} s "
        f"(peak RSS {first_rss / 2**20:.0f} MB) with nothing left by a process before it; "
        f"after one more workbook changed, taking what that one left: {next_process:.2f} s "
        f"(peak RSS {process_rss / 2**20:.0f} MB)"
    )


def column_index(letters: str) -> int:
    """0-based column of a letter (A → 0): pandas' positions."""
    from automation.core.cells import column_index as one_based

    return one_based(letters) - 1
