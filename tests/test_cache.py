"""Validation results of unchanged workbooks are kept in the local state database: a workbook that
did not change since the last run is not opened again; a changed, touched or deleted one, or
other rules, and it is."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import pytest
from intake_helpers import drive_hashes, tracking_rows

from automation.core.layout import layout
from automation.io import cache as cache_module
from automation.io import validation
from automation.io.cache import ValidationCache, cache_key, forget_kept_reports
from automation.io.drive import drive_paths, drive_rules
from automation.io.ledger import open_ledger
from automation.io.templates import write_workbook
from automation.io.xlsxpatch import CellEdit, patch_workbook
from automation.process.clocks import department_records
from automation.process.context import new_context
from automation.process.cycle import run_cycle
from automation.process.tracking import read_tracking
from automation.rules import load_rules
from tests.conftest import run_cli

D = dt.date
TZ = dt.timezone(dt.timedelta(hours=8))
AS_OF = dt.datetime(2026, 10, 9, 10, tzinfo=TZ)
ITEM = "XT-2026-0002"
HOUR = 3600


@pytest.fixture
def opened(monkeypatch) -> list[Path]:
    """Every file the one validator opens, in order (the real validator still runs)."""
    calls: list[Path] = []
    real = validation.validate_file

    def counting(path, *args, **kwargs):
        calls.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(validation, "validate_file", counting)
    return calls


def _daily(*days: dt.date) -> list[dict]:
    return [
        {
            "date": d,
            "task": "试产准备",
            "owner": "赵磊",
            "progress": 0.2,
            "status": "进行中",
            "updated_by": "赵磊",
        }
        for d in days
    ]


def _execution(folder: Path, dept: str, days: tuple[dt.date, ...]) -> Path:
    rules = load_rules()
    path = folder / f"模板四_跨部门任务执行跟踪表_{ITEM}_{dept}.xlsx"
    if path.exists():
        path.unlink()
    write_workbook(
        "execution",
        rules,
        path,
        values={
            "item_id": ITEM,
            "department": dept,
            "exec_lead_dept": "研发部",
            "plan_submitted_date": D(2026, 9, 21),
        },
        rows=_daily(*days),
    )
    return path


def _fill(drive: Path) -> dict[str, Path]:
    """A passed item in execution with two cooperating departments, one workbook each."""
    rules = load_rules()
    paths = drive_paths(drive)
    row = {
        "item_id": ITEM,
        "revision": 1,
        "submitted_date": D(2026, 9, 14),
        "registered_date": D(2026, 9, 14),
        "requesting_dept": "研发部",
        "title": "新产品试产",
        "evaluation_result": "通过",
        "evaluation_date": D(2026, 9, 15),
        "lead_dept": "研发部",
        "coop_depts": ["生产部", "市场部"],
        "meeting_date": D(2026, 9, 16),
        "minutes_date": D(2026, 9, 17),
        "plan_date": D(2026, 9, 22),
        "approval_date": D(2026, 9, 28),
    }
    paths.tracking.unlink()
    write_workbook("tracking", rules, paths.tracking, rows=[row])
    folder = paths.items / f"{ITEM} 新产品试产"
    folder.mkdir(parents=True, exist_ok=True)
    days = (D(2026, 9, 28), D(2026, 9, 29), D(2026, 10, 8))
    write_workbook(
        "weekly",
        rules,
        paths.weekly / "周进度报告_2026-W40.xlsx",
        rows=[_weekly("生产部"), _weekly("市场部")],
    )
    return {dept: _execution(folder, dept, days) for dept in ("生产部", "市场部")}


def _weekly(dept: str) -> dict:
    return {
        "week": "2026-W40",
        "department": dept,
        "item_id": ITEM,
        "done": "完成试产准备",
        "submitted_by": "赵磊",
        "submitted_date": D(2026, 9, 30),
    }


def _age(drive: Path, seconds: int = HOUR) -> None:
    """Every workbook on the drive saved ``seconds`` ago (a file saved moments ago is never
    cached: its modification time may not yet tell a second save apart)."""
    when = time.time() - seconds
    for p in drive.rglob("*.xlsx"):
        os.utime(p, (when, when))


def _run(drive: Path):
    return run_cycle(drive, as_of=AS_OF, settle_s=0)


def _names(calls: list[Path]) -> list[str]:
    return [p.name for p in calls]


def _stored(drive: Path) -> dict[str, str]:
    with open_ledger(drive) as ledger:
        rows = ledger.conn.execute("SELECT path, ident FROM validated").fetchall()
    return {r["path"]: r["ident"] for r in rows}


def _late(drive: Path) -> int:
    [row] = tracking_rows(drive, load_rules())
    return row["late_workdays"]


# -- xietong run -----------------------------------------------------------------------------


def test_an_unchanged_workbook_is_not_opened_again_on_the_next_run(drive, opened):
    books = _fill(drive)
    _run(drive)  # computes and writes the computed columns
    _age(drive)
    opened.clear()
    _run(drive)
    tracking = drive_paths(drive).tracking.name
    # the table changed in the first run: validated once, not twice (before intake, under lock);
    # since the weekly step (issue 10) reads it after the write-back, that once is in run 1
    assert _names(opened).count(tracking) <= 1
    assert {p.name for p in books.values()} <= set(_names(opened))

    before = drive_hashes(drive)
    opened.clear()
    report = _run(drive)
    assert opened == []  # nothing read again …
    assert not report.tracking_written and report.cells_updated == 0  # … and nothing lost
    assert drive_hashes(drive) == before
    assert _late(drive) == 1  # 09-30 has no daily row


def test_the_cache_outlives_the_process(drive, opened):
    _fill(drive)
    args = ("run", str(drive), "--as-of", AS_OF.isoformat())
    assert run_cli(*args).returncode == 0
    _age(drive)
    proc = run_cli(*args)  # a second process: reads every aged workbook and stores the results
    assert proc.returncode == 0, proc.stderr
    opened.clear()
    _run(drive)
    assert opened == []


def test_a_workbook_with_a_new_row_is_read_again_and_the_row_counts(drive, opened):
    books = _fill(drive)
    _run(drive)
    _age(drive)
    _run(drive)
    assert _late(drive) == 1
    sheet = load_rules().form("execution").sheet
    for book in books.values():  # every department adds the missing day, below its rows
        book.write_bytes(patch_workbook(book.read_bytes(), sheet, _row(4, D(2026, 9, 30))))
    _age(drive, HOUR // 2)  # saved a while ago, after the last run
    opened.clear()
    _run(drive)
    assert {p.name for p in books.values()} <= set(_names(opened))
    assert _late(drive) == 0  # every daily row is there


def _row(n: int, day: dt.date) -> list[CellEdit]:
    """The cells of daily row ``n`` (1 = the first row of the table)."""
    from automation.core.layout import layout

    lay = layout(load_rules().form("execution"))
    row = lay.first_data_row + n - 1
    return [CellEdit(f"{lay.columns[k]}{row}", v) for k, v in _daily(day)[0].items()]


def test_a_touched_workbook_is_read_again(drive, opened):
    books = _fill(drive)
    _run(drive)
    _age(drive)
    _run(drive)
    when = time.time() - HOUR // 2
    os.utime(books["市场部"], (when, when))  # same bytes, another modification time
    opened.clear()
    _run(drive)
    assert _names(opened) == [books["市场部"].name]


def test_other_rules_read_every_workbook_again_a_comment_does_not(drive, opened):
    books = _fill(drive)
    _run(drive)
    _age(drive)
    _run(drive)
    rules_file = drive_paths(drive).rules / "validation.yaml"
    text = rules_file.read_text(encoding="utf-8")

    rules_file.write_text(text + "\n# 说明：只加了一行注释\n", encoding="utf-8")
    opened.clear()
    _run(drive)
    assert opened == []  # the rules in force are the same

    rules_file.write_text(text.replace("date_max_year: 2099", "date_max_year: 2098"), "utf-8")
    assert drive_rules(drive).validation.date_max_year == 2098
    opened.clear()
    _run(drive)
    assert {p.name for p in books.values()} <= set(_names(opened))


def test_a_deleted_workbook_leaves_the_results_and_the_cache(drive, opened):
    books = _fill(drive)
    paths = drive_paths(drive)
    extra = _execution(books["生产部"].parent, "财务部", (D(2026, 9, 28),))
    _run(drive)
    _age(drive)
    _run(drive)
    rules = drive_rules(drive)
    with open_ledger(drive) as ledger:
        records = department_records(new_context(paths, rules, ledger=ledger), ITEM)
    assert set(records) == {"生产部", "市场部", "财务部"}
    assert cache_key(extra) in _stored(drive)

    extra.unlink()
    _run(drive)
    assert not extra.exists()
    # a process looks for gone files once an hour (its first run always): still stored ...
    assert cache_key(extra) in _stored(drive)
    forget_kept_reports()  # ... and dropped by the next process's first run
    _run(drive)
    assert cache_key(extra) not in _stored(drive)
    assert cache_key(books["生产部"]) in _stored(drive)
    with open_ledger(drive) as ledger:
        records = department_records(new_context(paths, rules, ledger=ledger), ITEM)
    assert set(records) == {"生产部", "市场部"}


def test_gone_files_are_looked_for_once_an_hour_in_one_process(drive, monkeypatch):
    books = _fill(drive)
    extra = _execution(books["生产部"].parent, "财务部", (D(2026, 9, 28),))
    _run(drive)
    _age(drive)
    _run(drive)
    extra.unlink()
    looked: list[str] = []
    real = os.path.exists

    def exists(path):
        looked.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os.path, "exists", exists)
    _run(drive)  # the process pruned in its first run: not again within the hour
    assert cache_key(extra) not in looked
    assert cache_key(extra) in _stored(drive)
    monkeypatch.setattr(cache_module, "PRUNE_EVERY_S", 0.0)
    _run(drive)
    assert cache_key(extra) in looked
    assert cache_key(books["生产部"]) not in looked  # found by the run: not looked for
    assert cache_key(extra) not in _stored(drive)
    assert cache_key(books["生产部"]) in _stored(drive)


def test_no_cache_when_switched_off(drive, opened, monkeypatch):
    books = _fill(drive)
    monkeypatch.setenv("XIETONG_NO_CACHE", "1")
    _run(drive)
    _age(drive)
    _run(drive)
    opened.clear()
    _run(drive)
    assert {p.name for p in books.values()} <= set(_names(opened))
    # every stage reads the table, but one version is validated once per run, cache or not
    assert _names(opened).count(drive_paths(drive).tracking.name) == 1
    assert _stored(drive) == {}


def test_an_unreadable_cache_entry_is_read_again(drive, opened):
    books = _fill(drive)
    _run(drive)
    _age(drive)
    _run(drive)
    with open_ledger(drive) as ledger, ledger.transaction() as c:
        c.execute("UPDATE validated SET report = ?", (b"not a report",))
    forget_kept_reports()  # as a new process starts: only the stored entries
    opened.clear()
    _run(drive)
    assert {p.name for p in books.values()} <= set(_names(opened))
    assert _late(drive) == 1


def test_values_worked_out_are_carried_to_the_next_process(drive, monkeypatch):
    """The values marked to be carried (a weekly report's marks, an item's exceptions) are
    written beside the state database when the process ends; the next process takes them for
    the workbooks that did not change, makes them again for one that did, and a torn or
    foreign file is not taken. Every run's results are those of a run with nothing carried."""
    import pickle

    from automation.io.ledger import state_path
    from automation.process import clocks as clocks_module
    from automation.process import execution

    forget_kept_reports()  # what earlier tests of this process made is not counted below
    books = _fill(drive)
    for _ in range(2):  # every file saved a while ago, every value made from those versions
        _run(drive)
        _age(drive)
    _run(drive)
    carried = cache_module.carry_path(state_path(drive))
    assert not carried.exists()  # written when the process ends (here: asked)
    assert cache_module.save_carried() == 1
    assert cache_module.save_carried() == 0  # nothing made since
    names = {name for name, _slot in pickle.loads(carried.read_bytes())["values"]}
    assert names == {"weekly_marks", "exceptions"}
    late = _late(drive)
    with open_ledger(drive) as ledger:
        ctx = new_context(drive_paths(drive), drive_rules(drive), ledger=ledger, as_of=AS_OF)
        expected = execution.drive_exceptions(ctx)[0]

    made: list[str] = []
    for module, name in ((clocks_module, "_weekly_marks"), (execution, "_item_exceptions")):
        real = getattr(module, name)

        def counting(*args, _real=real, _name=name):
            made.append(_name)
            return _real(*args)

        monkeypatch.setattr(module, name, counting)

    def new_process() -> list:
        forget_kept_reports()
        made.clear()
        _run(drive)
        assert _late(drive) == late
        with open_ledger(drive) as ledger:
            ctx = new_context(drive_paths(drive), drive_rules(drive), ledger=ledger, as_of=AS_OF)
            assert execution.drive_exceptions(ctx)[0] == expected
        return sorted(set(made))

    assert new_process() == []  # every value taken from the last process
    sheet = load_rules().form("execution").sheet
    book = books["生产部"]
    book.write_bytes(patch_workbook(book.read_bytes(), sheet, _row(2, D(2026, 9, 29))))
    _age(drive, HOUR // 2)  # the same row again: a new version, nothing it shows changes
    cache_module.save_carried()
    assert new_process() == ["_item_exceptions", "_weekly_marks"]  # the aged reports too
    cache_module.save_carried()
    assert new_process() == []

    good = carried.read_bytes()
    foreign = pickle.loads(good)
    foreign["env"] = "other rules or code"
    for stale in (good[:100], pickle.dumps(foreign), b"not a pickle"):
        carried.write_bytes(stale)
        assert new_process() == ["_item_exceptions", "_weekly_marks"]


def test_a_run_process_leaves_its_values_for_the_next(drive):
    import pickle

    from automation.io.ledger import state_path

    _fill(drive)
    _age(drive)
    carried = cache_module.carry_path(state_path(drive))
    proc = run_cli("run", str(drive), "--as-of", AS_OF.isoformat())
    assert proc.returncode == 0, proc.stderr
    values = pickle.loads(carried.read_bytes())["values"]  # written as the process ended
    assert ("weekly_marks", str(drive_paths(drive).weekly / "周进度报告_2026-W40.xlsx")) in values


def test_a_key_naming_a_file_saved_moments_ago_is_not_carried():
    now = time.time_ns()
    old = f"1234:{now - HOUR * 10**9}:5:{now - HOUR * 10**9}"
    young = f"1234:{now}:5:{now}"
    assert cache_module._carriable((("a.xlsx", old), "备注", (D(2026, 10, 9),)))
    assert not cache_module._carriable((("a.xlsx", old), ("b.xlsx", young)))
    assert not cache_module._carriable("sha256:" + "0" * 64)  # bytes this process hashed
    assert cache_module._carriable({"k": [old, None, 3]})
    assert not cache_module._carriable({"k": [young]})


# -- the cache itself --------------------------------------------------------------------------


def test_a_workbook_saved_moments_ago_is_known_by_its_bytes_not_by_its_times(drive, opened):
    """A file saved moments ago may be saved again without its times telling (a coarse clock
    on a share): it is never taken by its times, only by its bytes — read once for the same
    bytes, read again when they change, and stored under their hash alone."""
    import hashlib

    books = _fill(drive)  # just written
    book = books["生产部"]
    rules = load_rules()
    with open_ledger(drive) as ledger:
        for _ in range(2):
            ValidationCache(ledger, rules).validate(book)
    assert _names(opened) == [book.name]
    digest = "sha256:" + hashlib.sha256(book.read_bytes()).hexdigest()
    assert set(_stored(drive).values()) == {digest}
    form = rules.form("execution")
    lay = layout(form)
    edit = CellEdit(f"{lay.columns['task']}{lay.first_data_row}", "换了一个任务")
    book.write_bytes(patch_workbook(book.read_bytes(), form.sheet, [edit]))
    with open_ledger(drive) as ledger:
        again = ValidationCache(ledger, rules).validate(book)
    assert _names(opened) == [book.name] * 2
    assert again.rows[0]["task"] == "换了一个任务"


def test_same_size_and_time_under_other_rules_is_read_again(drive, opened, tmp_path):
    books = _fill(drive)
    _age(drive)
    book = books["生产部"]
    stat = book.stat()
    rules_dir = tmp_path / "rules"
    shutil.copytree(drive_paths(drive).rules, rules_dir)
    (rules_dir / "validation.yaml").write_text(
        (rules_dir / "validation.yaml")
        .read_text(encoding="utf-8")
        .replace("date_min_year: 2000", "date_min_year: 2001"),
        encoding="utf-8",
    )
    with open_ledger(drive) as ledger:
        first = ValidationCache(ledger, load_rules()).validate(book)
        again = ValidationCache(ledger, load_rules()).validate(book)  # rules loaded afresh
        assert len(opened) == 1
        assert again.fields == first.fields and again.rows == first.rows
        assert again.path == book and again.kind == "execution"
        other = ValidationCache(ledger, load_rules(rules_dir)).validate(book)
    assert len(opened) == 2 and other.rows == first.rows
    assert (book.stat().st_size, book.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


def test_the_tracking_table_is_keyed_on_its_bytes_not_its_time(drive):
    _fill(drive)
    paths = drive_paths(drive)
    rules = drive_rules(drive)
    form = rules.form("tracking")
    with open_ledger(drive) as ledger:
        ctx = new_context(paths, rules, ledger=ledger)
        cache = ctx.cache
        [row] = read_tracking(ctx).rows
        assert row["lead_dept"] == "研发部"
        stat = paths.tracking.stat()
        cell = f"{_column(form, 'lead_dept')}{row['_row']}"
        edited = patch_workbook(paths.tracking.read_bytes(), form.sheet, [CellEdit(cell, "生产部")])
        paths.tracking.write_bytes(edited)
        os.utime(paths.tracking, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same time
        [row] = read_tracking(ctx).rows
    assert row["lead_dept"] == "生产部"
    assert cache.misses == 2 and cache.hits == 0


def _column(form, key: str) -> str:
    from automation.core.layout import layout

    return layout(form).columns[key]


def test_the_prefetch_on_every_core_agrees_with_the_isolated_reader(drive, tmp_path):
    """A cold run reads on every core, each worker parsing in itself: its reports are those of
    the isolated reader, and a corpus file that crashes, blows up or hangs the parser costs at
    most a worker (the files left are read through the isolated reader when asked)."""
    from automation.io.cache import PARALLEL_MIN
    from automation.process.context import open_context
    from tests.conftest import CORPUS

    rules = drive_rules(drive)
    folder = drive_paths(drive).items / "XT-2026-0001 读取"
    folder.mkdir(parents=True)
    good = write_workbook(
        "execution",
        rules,
        tmp_path / "e.xlsx",
        values={"item_id": "XT-2026-0001", "department": "生产部"},
        rows=_daily(dt.date(2026, 10, 8), dt.date(2026, 10, 9)),
    ).read_bytes()
    for n in range(PARALLEL_MIN):
        (folder / f"a{n:03d}.xlsx").write_bytes(good)
    odd = sorted((CORPUS / "calamine").glob("*.xls*")) if (CORPUS / "calamine").is_dir() else []
    for f in odd:  # last: the chunks of good files come back before a worker may be lost
        shutil.copyfile(f, folder / f"z_{f.name}")
    old = time.time() - 3600
    paths = sorted(p for p in folder.iterdir())
    for p in paths:
        os.utime(p, (old, old))

    with open_context(drive) as ctx:
        done = ctx.cache.prefetch(paths, workers=2)
        assert done >= PARALLEL_MIN  # the good files, at least, came from the workers
        got = {p.name: ctx.cache.validate(p) for p in paths}
    for p in paths:
        direct = validation.validate_file(p, rules)
        mine = got[p.name]
        assert sorted(x.code for x in mine.problems) == sorted(x.code for x in direct.problems), p
        assert (mine.kind, mine.fields, mine.rows) == (direct.kind, direct.fields, direct.rows)


def test_a_file_being_written_by_a_worker_is_skipped_and_then_known_as_before(drive, tmp_path):
    """A report a worker process of the run is writing counts as the run's own until the
    worker is done; then what was known of the file before holds again (or what was written)."""
    rules = load_rules()
    report = tmp_path / "report.xlsx"
    with open_ledger(drive) as ledger:
        cache = ValidationCache(ledger, rules)
        assert not cache.written_here(report)
        cache.note_writing(report)  # not even there yet
        assert cache.written_here(report)
        cache.done_writing(report)  # nothing was written: read like any file again
        assert not cache.written_here(report)
        report.write_bytes(b"first")
        cache.note_written(report)
        cache.note_writing(report)
        report.write_bytes(b"second, longer")  # mid-write: still skipped
        assert cache.written_here(report)
        cache.done_writing(report)  # not written after all: the earlier note, not this file
        assert not cache.written_here(report)
        report.write_bytes(b"first")
        cache.note_written(report)
        assert cache.written_here(report)
        cache.note_writing(report)
        cache.done_writing(report)
        assert cache.written_here(report)  # the note from before the worker holds again
        cache.note_written(report)  # after the worker: the file as written now
        assert cache.written_here(report)
        report.write_bytes(b"someone else's")
        assert not cache.written_here(report)


def test_a_value_made_again_equal_to_the_one_kept_is_the_kept_object(drive):
    """``derive(same=True)``: a value made again under a new key (a new moment) that equals
    the one kept is returned as the kept object; one that differs is the new one."""
    with open_ledger(drive) as ledger:
        cache = ValidationCache(ledger, load_rules())
        first = cache.derive("rollup", "XT-1", ("10:00",), lambda: [("生产部", "running")])
        made = []

        def again() -> list:
            made.append(1)
            return [("生产部", "running")]

        second = cache.derive("rollup", "XT-1", ("10:01",), again, same=True)
        assert made and second is first  # made again, equal: the kept object
        assert cache.last("rollup", "XT-1") is first
        plain = cache.derive("rollup", "XT-1", ("10:02",), again)
        assert plain == first and plain is not first  # without same: the new object
        changed = cache.derive(
            "rollup", "XT-1", ("10:03",), lambda: [("生产部", "at_risk")], same=True
        )
        assert changed == [("生产部", "at_risk")]
        assert cache.recall("rollup", "XT-1", ("10:03",)) is changed
        assert cache.last("rollup", "XT-2") is None


def test_a_file_saved_moments_ago_past_the_size_limit_is_left_to_the_validators_checks(
    drive, tmp_path, monkeypatch
):
    """Knowing a file by its bytes reads it whole: not a file past the size limit (the
    validator rejects it from its size, never reading it), nor anything but a regular file."""
    books = _fill(drive)  # just written
    rules_dir = tmp_path / "rules"
    shutil.copytree(drive_paths(drive).rules, rules_dir)
    limits = rules_dir / "validation.yaml"
    text = limits.read_text(encoding="utf-8")
    limits.write_text(
        "\n".join(
            "max_file_mb: 0.001" if line.startswith("max_file_mb:") else line
            for line in text.splitlines()
        ),
        encoding="utf-8",
    )
    rules = load_rules(rules_dir)
    assert rules.validation.max_file_mb == 0.001
    read: list[Path] = []
    whole = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self) or whole(self))
    with open_ledger(drive) as ledger:
        report = ValidationCache(ledger, rules).validate(books["生产部"])
    assert [p.code for p in report.problems] == ["E_TOO_LARGE"]
    assert books["生产部"] not in read  # rejected from its size, never read whole
