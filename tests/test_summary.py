"""汇总: the leaders' summary workbook and its HTML twin, on the demo drive and on odd input.

The demo drive is built once (it replays a sample year with ``xietong run`` every day, and each
run rebuilds the summary); the tests read what that left in the summary folder.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import os
import re
import shutil
import subprocess
import urllib.parse
import zipfile
from pathlib import Path

import openpyxl
import pytest

from automation.core.clocks import ClockResult, ItemCycle
from automation.core.summary import build_summary
from automation.demo import DEFAULT_AS_OF, run_demo
from automation.io.summary_workbook import CHART_TITLES, summary_workbook_bytes
from tests.conftest import convert_with_libreoffice, run_cli

AS_OF = DEFAULT_AS_OF.isoformat()
# openpyxl drops the sparklines it cannot read; only xlsxwriter wrote them, nothing is saved back
pytestmark = pytest.mark.filterwarnings("ignore:Sparkline Group extension")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo drive at its fixed as-of, with the local state it was built with."""
    base = tmp_path_factory.mktemp("summary-demo")
    state = base / "state"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XIETONG_STATE_DIR", str(state))
        mp.setenv("XIETONG_SETTLE_SECONDS", "0")
        run_demo(base / "drive", as_of=DEFAULT_AS_OF, echo=lambda *a: None)
    return base / "drive", state


def _summary_dir(root: Path) -> Path:
    return root / "04_领导汇总"


def _book(root: Path) -> Path:
    return _summary_dir(root) / "跨部门协调汇总.xlsx"


def _figures(path: Path) -> dict[str, object]:
    """总览: label → value of the key figures and of the on-time rates (read back from the file)."""
    ws = openpyxl.load_workbook(path, read_only=True)["总览"]
    out: dict[str, object] = {}
    for row in ws.iter_rows(min_row=4, max_col=4, values_only=True):
        if row[0] is not None:
            out[str(row[0])] = row[1] if row[3] is None else row[3]
    return out


def test_the_run_leaves_a_dated_summary_a_stable_copy_and_the_html(demo):
    root, _ = demo
    folder = _summary_dir(root)
    assert (folder / f"汇总_{DEFAULT_AS_OF.date()}.xlsx").is_file()
    assert (folder / "跨部门协调汇总.html").is_file()
    assert _book(root).read_bytes() == (folder / f"汇总_{DEFAULT_AS_OF.date()}.xlsx").read_bytes()
    names = openpyxl.load_workbook(_book(root), read_only=True).sheetnames
    assert names == ["总览", "部门", "超期清单", "趋势", "事项"]


def test_the_counts_agree_with_xietong_clocks(demo):
    root, state = demo
    env = {"XIETONG_STATE_DIR": str(state)}
    proc = _cli(env, "clocks", str(root), "--as-of", AS_OF, "--json")
    assert proc.returncode == 0, proc.stderr
    clocks = json.loads(proc.stdout)
    states = [c["state"] for c in clocks]
    breached, at_risk = states.count("breached"), states.count("at_risk")
    met, late = states.count("met"), states.count("met_late")
    assert breached and at_risk  # the demo has both: the comparison means something

    fig = _figures(_book(root))
    assert fig["超期时限（个）"] == breached
    assert fig["预警时限（个）"] == at_risk
    assert fig["累计"] == pytest.approx(met / (met + late + breached), abs=1e-9)

    overdue = openpyxl.load_workbook(_book(root), read_only=True)["超期清单"]
    rows = [r for r in overdue.iter_rows(min_row=5, values_only=True) if r[0]]
    assert len(rows) == breached + at_risk
    late_days = [r[7] for r in rows if r[4] == "已超期"]
    assert len(late_days) == breached
    assert late_days == sorted(late_days, reverse=True)  # most working days late first

    out = _cli(env, "summary", str(root), "--as-of", AS_OF, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["written"] is False  # nothing changed since the run built it
    assert data["summary"]["overview"]["clocks_breached"] == breached


def test_every_link_of_the_overdue_list_points_to_an_existing_file(demo):
    root, _ = demo
    ws = openpyxl.load_workbook(_book(root))["超期清单"]
    targets = [c.hyperlink.target for row in ws.iter_rows(min_row=5) for c in row if c.hyperlink]
    assert len(targets) == sum(1 for r in ws.iter_rows(min_row=5, values_only=True) if r[0])
    files = 0
    for target in targets:
        rel = urllib.parse.unquote(target).replace("\\", "/")
        assert not Path(rel).is_absolute()  # relative: works wherever the share is mounted
        where = (_summary_dir(root) / rel).resolve()
        assert where.exists(), target
        assert root.resolve() in where.parents
        files += where.is_file()
    assert files  # a department's clock links to its execution workbook, not just the folder


def test_the_workbook_has_native_charts_sparklines_data_bars_and_no_formula(demo):
    root, _ = demo
    with zipfile.ZipFile(_book(root)) as z:
        charts = [n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
        assert len(charts) >= 3
        kinds = "".join(z.read(n).decode() for n in charts)
        assert "<c:barChart>" in kinds and "<c:lineChart>" in kinds
        sheets = {n: z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")}
    body = "".join(sheets.values())
    assert "x14:sparklineGroup" in body and "<dataBar>" in body
    assert not re.search(r"<f[ >]", body)  # no cell formula at all
    assert 'orientation="landscape"' in body and 'fitToHeight="0"' in body


def test_text_that_looks_like_a_formula_stays_text(rules, tmp_path):
    tricky = ['=HYPERLINK("http://evil.example","点我")', "+1+1", "@SUM(A1)", "-2*3"]
    cycles = [
        ItemCycle(
            f"XT-2026-{n + 1:04d}",
            1,
            {"title": title, "lead_dept": "=1+1", "coop_depts": "研发部", "submitted_date": None},
        )
        for n, title in enumerate(tricky)
    ]
    results = [
        ClockResult(
            c.item_id, 1, "meeting", "召开协调会议", "沟通协商", None, dt.date(2026, 10, 1),
            DEFAULT_AS_OF - dt.timedelta(days=3), None, "breached", 1.5, 2, False, {},
        )
        for c in cycles
    ]  # fmt: skip
    model = build_summary(cycles, results, rules, DEFAULT_AS_OF)
    path = tmp_path / "汇总.xlsx"
    path.write_bytes(summary_workbook_bytes(model, rules))
    with zipfile.ZipFile(path) as z:
        body = "".join(
            z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")
        )
    assert not re.search(r"<f[ >]", body)
    wb = openpyxl.load_workbook(path)
    seen = [c.value for ws in wb for row in ws.iter_rows() for c in row]
    assert all(t in seen for t in tricky) and "=1+1" in seen
    assert all(c.data_type != "f" for ws in wb for row in ws.iter_rows() for c in row)


def test_libreoffice_prints_it_with_the_charts_drawn(demo, soffice, tmp_path):
    root, _ = demo
    src = tmp_path / "summary.xlsx"
    shutil.copy(_book(root), src)
    pdf = convert_with_libreoffice(soffice, src, tmp_path / "pdf")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    # the chart titles exist only inside the charts: they are in the PDF only if drawn
    for title in CHART_TITLES.values():
        assert title in text, title
    assert "超期与预警清单" in text
    # the rows of the long sheets (written as XML, not by xlsxwriter) are printed too
    wb = openpyxl.load_workbook(src, read_only=True)
    first = next(wb["超期清单"].iter_rows(min_row=5, max_row=5, values_only=True))
    last_item = list(wb["事项"].iter_rows(min_row=5, values_only=True))[-1]
    assert first[1] in text and first[9] in text and last_item[1] in text


def test_the_html_twin_is_one_self_contained_page(demo):
    root, _ = demo
    page = (_summary_dir(root) / "跨部门协调汇总.html").read_text(encoding="utf-8")
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 3
    external = re.findall(r'(?:src|href)="(?!data:)([^"]+)"', page)
    assert all(not re.match(r"[a-z]+://", u) for u in external)  # only links to item folders
    fig = _figures(_book(root))
    assert f"<b>{fig['超期时限（个）']}</b>超期时限" in page


def test_a_cjk_font_is_found_when_one_is_installed():
    from matplotlib import font_manager

    from automation.io.summary_html import CJK_FILES, cjk_font

    present = [
        p
        for p in font_manager.findSystemFonts()
        if any(k in Path(p).name.lower() for k in CJK_FILES)
    ]
    if not present:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")
    assert cjk_font() is not None


def test_charts_whose_numbers_did_not_change_are_not_drawn_again(demo, monkeypatch):
    """The ledger keeps each chart with a hash of its numbers: a page rebuilt with the same
    numbers takes them from there (no matplotlib), a changed number is drawn again."""
    import dataclasses

    from automation.io import summary_html as sh
    from automation.io.ledger import open_ledger
    from automation.process.context import open_context
    from automation.process.summary import build_model

    if sh.cjk_font() is None:
        pytest.skip("charts drawn without a CJK font are not kept")
    root, state = demo
    monkeypatch.setenv("XIETONG_STATE_DIR", str(state))
    with open_context(root, as_of=DEFAULT_AS_OF) as ctx:
        model = build_model(ctx)
    with open_ledger(root) as ledger:
        first = sh.summary_html(model, store=ledger)  # drawn (or kept by the demo's runs)
        drawn: list[str] = []
        real = sh._draw
        monkeypatch.setattr(sh, "_draw", lambda todo: drawn.extend(todo) or real(todo))
        warn: list[str] = []
        assert sh.summary_html(model, store=ledger, warn=warn) == first
        assert drawn == [] and warn == []
        fewer = dataclasses.replace(model, trend=model.trend[:-1])
        sh.summary_html(fewer, store=ledger)
        assert drawn == ["trend"]
        assert sh.chart_images(model)["stages"] in first  # without a store: drawn, the same


def test_rows_kept_by_key_or_place_give_the_page_and_workbook_made_afresh(demo, monkeypatch):
    """The long tables' rows are taken from the last page and workbook built in the process
    (by their key, or by their place when the key there is the same): a rebuild with rows
    moved, changed and gone gives the bytes of one built with nothing kept."""
    import dataclasses

    from automation.io import summary_html as sh
    from automation.io import summary_workbook as sw
    from automation.process.context import open_context
    from automation.process.summary import build_model

    root, state = demo
    monkeypatch.setenv("XIETONG_STATE_DIR", str(state))
    with open_context(root, as_of=DEFAULT_AS_OF) as ctx:
        model, rules = build_model(ctx), ctx.rules
    assert len(model.overdue) > 3 and len(model.items) > 3

    def both(m) -> tuple[str, bytes]:
        return sh.summary_html(m), summary_workbook_bytes(m, rules)

    def afresh(m) -> tuple[str, bytes]:
        sh._ROWS.clear()
        sw._KEPT.clear()
        return both(m)

    afresh(model)
    first = model.overdue[0]
    changed = dataclasses.replace(
        model,
        # one row changed in place, two swapped, the last gone
        overdue=[
            dataclasses.replace(first, missing=first.missing + 1),
            model.overdue[2],
            model.overdue[1],
            *model.overdue[3:-1],
        ],
        items=[model.items[1], model.items[0], *model.items[2:]],
    )
    kept = both(changed)
    assert kept == afresh(changed)
    assert both(model) == afresh(model)


def test_a_new_process_takes_the_rows_the_last_process_drew(demo, tmp_path, monkeypatch):
    """A process that drew the summary keeps its rows in the local state folder when it ends;
    the next process's first drawing takes them (building only the rows that changed) and
    gives the bytes of a drawing with nothing kept. A file of other code, or a torn one, is
    not taken and costs only the rows built again."""
    import dataclasses
    import pickle

    from automation.io import longsheet, summary_memory
    from automation.io import summary_html as sh
    from automation.io import summary_workbook as sw
    from automation.io.ledger import state_path
    from automation.process.context import open_context
    from automation.process.summary import _render, build_model, item_links, relative_to

    shutil.copytree(demo[0], tmp_path / "drive")
    shutil.copytree(demo[1], tmp_path / "state")
    root = tmp_path / "drive"
    monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path / "state"))
    kept = summary_memory.memory_path(state_path(root))
    assert not kept.exists()
    proc = run_cli("summary", str(root), "--as-of", AS_OF, "--force")
    assert proc.returncode == 0, proc.stderr
    assert kept.is_file()  # written by the process that drew, when it ended

    with open_context(root, as_of=DEFAULT_AS_OF) as ctx:
        model, rules = build_model(ctx), ctx.rules
        links = item_links(ctx, model)
        relative = relative_to(ctx.paths.summary)
        first = model.overdue[0]
        changed = dataclasses.replace(
            model,
            overdue=[dataclasses.replace(first, missing=first.missing + 1), *model.overdue[1:]],
        )
        built: list[int] = []
        real_built = longsheet.LongRows._built

        def counting(self, fill, args):
            built.append(1)
            return real_built(self, fill, args)

        monkeypatch.setattr(longsheet.LongRows, "_built", counting)

        def forget() -> None:  # this process has drawn nothing
            sw.restore_rows({"rows": {}, "blocks": {}})
            sh._ROWS.clear()
            summary_memory._OWNER[0] = None

        def draw(m) -> tuple[bytes, bytes]:  # as the run draws it
            built.clear()
            return _render(m, rules, links, relative, [], ctx.need_ledger())

        forget()
        afresh = draw(changed)
        rows = len(changed.overdue) + len(changed.items)
        assert len(built) == rows
        forget()
        assert summary_memory.recall(kept)
        assert draw(changed) == afresh
        assert len(built) == 1  # the changed row only
        assert not summary_memory.recall(kept)  # this drive's rows are in memory already

        for stale in (
            pickle.dumps({**pickle.loads(kept.read_bytes()), "code": "other code"}),
            kept.read_bytes()[:1000],  # torn
        ):
            kept.write_bytes(stale)
            forget()
            assert not summary_memory.recall(kept)
            assert draw(changed) == afresh
            assert len(built) == rows

    # what the process drew is kept when it ends, and only into a state folder that is there
    summary_memory.remember(kept)
    assert summary_memory.save()
    assert pickle.loads(kept.read_bytes())["code"] != "other code"
    assert not summary_memory.save()  # nothing drawn since
    monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path / "gone"))
    summary_memory.remember(summary_memory.memory_path(state_path(root)))
    assert not summary_memory.save()
    assert not (tmp_path / "gone").exists()


def test_a_second_run_with_nothing_changed_does_not_rewrite_the_summary(demo, monkeypatch):
    from automation.process.cycle import run_cycle

    root, state = demo
    monkeypatch.setenv("XIETONG_STATE_DIR", str(state))
    folder = _summary_dir(root)
    backups = root / "08_日志" / "备份"
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    kept = sorted(p.name for p in backups.iterdir())
    report = run_cycle(root, as_of=DEFAULT_AS_OF, settle_s=0)
    assert not report.tracking_written
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == before
    assert sorted(p.name for p in backups.iterdir()) == kept

    # the next morning the clocks moved on: rebuilt, the day before kept as its dated file
    run_cycle(root, as_of=DEFAULT_AS_OF + dt.timedelta(days=1), settle_s=0)
    assert (folder / f"汇总_{DEFAULT_AS_OF.date() + dt.timedelta(days=1)}.xlsx").is_file()
    assert _book(root).read_bytes() != before["跨部门协调汇总.xlsx"][0]
    assert any(p.name.startswith("跨部门协调汇总.") for p in backups.iterdir())


def test_a_renamed_item_folder_rewrites_the_summary_with_links_to_it(demo, tmp_path, monkeypatch):
    """Nothing the model counts changed, only where an item's links point: the summary is
    written again, its links to the folder as it is named now."""
    import shutil

    from automation.process.cycle import run_cycle

    shutil.copytree(demo[0], tmp_path / "drive")  # a copy: the module's drive stays as it is
    shutil.copytree(demo[1], tmp_path / "state")
    root = tmp_path / "drive"
    monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path / "state"))
    run_cycle(root, as_of=DEFAULT_AS_OF, settle_s=0)
    before = _book(root).read_bytes()
    ws = openpyxl.load_workbook(_book(root))["事项"]
    item = next(c.value for c in ws["A"][4:] if c.hyperlink)
    old = next(p for p in (root / "02_协调事项").iterdir() if p.name.split(" ")[0] == item)
    new = old.with_name(f"{item} 改名后的文件夹")
    old.rename(new)
    report = run_cycle(root, as_of=DEFAULT_AS_OF, settle_s=0)
    assert report.summary.written and _book(root).read_bytes() != before
    ws = openpyxl.load_workbook(_book(root))["事项"]
    link = next(c.hyperlink.target for c in ws["A"][4:] if c.value == item)
    rel = urllib.parse.unquote(link).replace("\\", "/")
    assert (_summary_dir(root) / rel).resolve() == new.resolve()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run_cli(*args)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_a_folder_that_is_not_a_drive_gets_a_coded_error_not_a_traceback(tmp_path):
    proc = run_cli("summary", str(tmp_path / "没有这个盘"))
    assert proc.returncode == 2
    assert "错误 [" in proc.stderr and "Traceback" not in proc.stderr


def _clock(state: str, *, end=None, due=None, dept=None, clock="meeting") -> ClockResult:
    return ClockResult(
        "XT-2026-0001", 1, clock, "召开协调会议", "沟通协商", dept, dt.date(2026, 9, 1),
        due, end, state, None, 0, False, {},
    )  # fmt: skip


def test_a_clock_counts_in_the_period_it_was_decided_in(rules):
    from automation.core.summary import period_rates

    as_of = DEFAULT_AS_OF  # Wednesday 2026-10-21, ISO week 43
    tz = as_of.tzinfo
    results = [
        _clock("met", end=dt.date(2026, 10, 19)),  # this week
        _clock("met_late", end=dt.date(2026, 10, 2)),  # this month
        _clock("breached", due=dt.datetime(2026, 9, 30, 18, tzinfo=tz)),  # this year
        _clock("running", due=dt.datetime(2026, 10, 22, 18, tzinfo=tz)),  # not decided
        _clock("met", end=dt.date(2025, 12, 30)),  # last year
    ]
    rates = {k: (r.on_time, r.late) for k, r in period_rates(results, as_of).items()}
    assert rates == {"week": (1, 0), "month": (1, 1), "year": (1, 2), "all": (2, 2)}


def test_an_items_part_holds_until_the_next_due_time_or_midnight(rules):
    """A part made at a moment reads that moment by its day and by which due times have
    passed: it holds until the first due time not before it, else the next midnight."""
    from automation.core.summary import item_part

    as_of = DEFAULT_AS_OF  # 2026-10-21 10:00
    tz = as_of.tzinfo
    cycle = ItemCycle("XT-2026-0001", 1, {"title": "甲"})
    due = dt.datetime(2026, 10, 21, 18, tzinfo=tz)
    past = dt.datetime(2026, 10, 20, 18, tzinfo=tz)
    running = item_part([cycle], [[_clock("running", due=due), _clock("breached", due=past)]],
                        rules, as_of)  # fmt: skip
    assert running.until == due
    decided = item_part([cycle], [[_clock("met", end=dt.date(2026, 10, 19))]], rules, as_of)
    assert decided.until == dt.datetime(2026, 10, 22, tzinfo=tz)
    due_now = item_part([cycle], [[_clock("running", due=as_of)]], rules, as_of)
    assert due_now.until == as_of  # holds for no later moment


def test_after_one_item_changed_only_its_part_is_worked_out_and_the_model_is_the_same(
    demo, tmp_path, monkeypatch
):
    """A summary rebuilt after one department saved a daily row works out that item's part
    again and adds up the others' as they were: the model is the one built from scratch."""
    import automation.process.summary as process_summary
    from automation.core.layout import layout
    from automation.io.drive import drive_paths
    from automation.io.xlsxpatch import CellEdit, patch_workbook
    from automation.process.clocks import clock_results, read_inputs
    from automation.process.context import open_context
    from automation.rules import load_rules

    root = tmp_path / "drive"
    shutil.copytree(demo[0], root)
    monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path / "state"))
    worked = []
    real = process_summary.item_part

    def counted(cycles, *args):
        worked.append(cycles[0].item_id)
        return real(cycles, *args)

    monkeypatch.setattr(process_summary, "item_part", counted)
    with open_context(root, as_of=DEFAULT_AS_OF) as ctx:
        process_summary.build_model(ctx)
    items = len(worked)
    assert items > 1

    form = load_rules().form("execution")
    lay = layout(form)
    path = sorted(drive_paths(root).items.rglob("模板四_*.xlsx"))[0]
    ws = openpyxl.load_workbook(path)[form.sheet]
    row = lay.first_data_row
    while ws[f"{lay.columns['date']}{row}"].value is not None:
        row += 1
    edits = [
        CellEdit(f"{lay.columns['date']}{row}", dt.datetime(2026, 10, 20)),
        CellEdit(f"{lay.columns['task']}{row}", "补报一行"),
    ]
    path.write_bytes(patch_workbook(path.read_bytes(), form.sheet, edits))
    worked.clear()
    with open_context(root, as_of=DEFAULT_AS_OF) as ctx:
        model = process_summary.build_model(ctx)
        inputs = read_inputs(ctx)
        fresh = build_summary(
            inputs.cycles,
            clock_results(ctx, inputs.cycles),
            ctx.rules,
            ctx.as_of,
            pending_requests=process_summary.pending_requests(ctx.paths),
            open_exceptions=process_summary.open_exceptions_by_department(ctx),
            warnings=inputs.warnings,
        )
    assert len(worked) == 1 and worked[0] in path.parent.name
    assert model.as_dict() == fresh.as_dict()


def test_an_items_links_are_worked_out_again_only_when_its_folder_lists_other_files(
    demo, tmp_path, monkeypatch
):
    import automation.process.summary as process_summary
    from automation.io import files
    from automation.process.context import open_context

    root = tmp_path / "drive"
    shutil.copytree(demo[0], root)
    monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(files, "LISTING_UNSETTLED_NS", 0)  # listings kept at once
    worked: list[str] = []
    real = process_summary._links_of
    monkeypatch.setattr(
        process_summary, "_links_of", lambda r, item, *a: worked.append(item) or real(r, item, *a)
    )

    def links() -> dict:
        worked.clear()
        with open_context(root, as_of=DEFAULT_AS_OF) as ctx:
            return process_summary.item_links(ctx, process_summary.build_model(ctx))

    first = links()
    assert len(worked) == len({item for item, _ in first})
    assert links() == first and worked == []
    (item, dept), target = next((k, v) for k, v in first.items() if k[1] and v.is_file())
    target.rename(target.with_name("改名_" + target.name))  # the department's workbook is gone
    after = links()
    assert worked == [item]
    assert after[(item, dept)] == first[(item, None)]  # the link falls back to the folder
    assert {k: v for k, v in after.items() if k != (item, dept)} == {
        k: v for k, v in first.items() if k != (item, dept)
    }


class _Counted:
    """A copy of the demo drive whose summary model is built in this process at given moments,
    counting the item parts and the clocks worked out, next to the model built from scratch."""

    def __init__(self, demo, tmp_path, monkeypatch) -> None:
        import automation.process.clocks as process_clocks
        import automation.process.summary as process_summary

        self.root = tmp_path / "drive"
        shutil.copytree(demo[0], self.root)
        monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path / "state"))
        self.worked: list[str] = []
        self.computed: list[int] = []
        self.clocks: list[list] = []
        self.summary = process_summary
        part, self.real_clocks = process_summary.item_part, process_clocks.compute_clocks
        monkeypatch.setattr(
            process_summary,
            "item_part",
            lambda c, *a: self.worked.append(c[0].item_id) or part(c, *a),
        )
        monkeypatch.setattr(
            process_clocks,
            "compute_clocks",
            lambda c, *a, **k: self.computed.append(1) or self.real_clocks(c, *a, **k),
        )

    def model_at(self, when: dt.datetime) -> tuple[dict, dict]:
        from automation.process.clocks import clock_results_by_cycle, read_inputs
        from automation.process.context import open_context

        self.worked.clear()
        self.computed.clear()
        with open_context(self.root, as_of=when) as ctx:
            model = self.summary.build_model(ctx)
            inputs = read_inputs(ctx)
            self.clocks.append(clock_results_by_cycle(ctx, inputs.cycles))
            fresh = build_summary(  # every clock worked out afresh, not taken from the cache
                inputs.cycles,
                self.real_clocks(inputs.cycles, ctx.rules.clocks, ctx.calendar, ctx.as_of),
                ctx.rules,
                ctx.as_of,
                pending_requests=self.summary.pending_requests(ctx.paths),
                open_exceptions=self.summary.open_exceptions_by_department(ctx),
                warnings=inputs.warnings,
            )
        return model.as_dict(), fresh.as_dict()


def test_a_minute_later_out_of_hours_no_part_is_worked_out_again(demo, tmp_path, monkeypatch):
    """After the day's close the clocks do not move: a cycle a minute later gets the very
    clock lists, and each item's part holds until the next midnight or due time — none is
    worked out again, and the model is the one built from scratch. The next morning they are."""
    drive = _Counted(demo, tmp_path, monkeypatch)
    evening = DEFAULT_AS_OF.replace(hour=20)
    model, fresh = drive.model_at(evening)
    assert model == fresh and len(drive.worked) > 1
    model, fresh = drive.model_at(evening + dt.timedelta(minutes=1))
    assert drive.worked == [] and model == fresh
    # the clocks read "now" through the calendar: the evening is one quiet span for them
    assert drive.computed == []
    assert all(map(operator.is_, drive.clocks[0], drive.clocks[1]))  # the very lists
    model, fresh = drive.model_at(evening + dt.timedelta(hours=14))  # 10:00 the next day
    assert drive.worked and model == fresh


def test_in_business_hours_the_parts_outlast_clocks_that_merely_ran_on(demo, tmp_path, monkeypatch):
    """In business hours a minute later the running clocks, when worked out again (the share
    of working time used moved), are new lists. The summary does not read that share (but
    through the order of clocks at risk, compared as the item's status): no part is worked out
    again, and the model is the one built from scratch. (A cycle takes its clocks as they
    were until their state can change, see the test below: here they are worked out again at
    every moment, as when one item's state is about to change.)"""
    import automation.process.clocks as process_clocks

    monkeypatch.setattr(process_clocks, "_steady_until", lambda ctx, c, results: ctx.moment)
    drive = _Counted(demo, tmp_path, monkeypatch)
    model, fresh = drive.model_at(DEFAULT_AS_OF)  # Wednesday 10:00
    assert model == fresh
    model, fresh = drive.model_at(DEFAULT_AS_OF + dt.timedelta(minutes=1))
    assert drive.computed  # worked out again …
    assert not all(map(operator.is_, drive.clocks[0], drive.clocks[1]))  # … and some moved
    assert drive.worked == [] and model == fresh


def test_in_business_hours_clocks_are_taken_as_they_were_until_their_state_can_change(
    demo, tmp_path, monkeypatch
):
    drive = _Counted(demo, tmp_path, monkeypatch)
    model, fresh = drive.model_at(DEFAULT_AS_OF)  # Wednesday 10:00
    assert model == fresh
    model, fresh = drive.model_at(DEFAULT_AS_OF + dt.timedelta(minutes=1))
    assert drive.computed == [] and drive.worked == []  # nothing worked out again
    assert all(map(operator.is_, drive.clocks[0], drive.clocks[1]))
    assert model == fresh


def test_the_content_hash_follows_every_row_value_and_order_and_not_the_objects(rules):
    """The hash that decides a rebuild: equal for the same content built again (new objects),
    different when one value of a row, the order of rows or a row's list changes."""
    import dataclasses

    from automation.core.summary import assemble, item_part

    as_of = DEFAULT_AS_OF
    late = dt.datetime(2026, 10, 19, 18, tzinfo=as_of.tzinfo)

    def model(title: str = "甲", days: int = 1):
        parts = [
            item_part(
                [ItemCycle(item, 1, {"title": t})],
                [[dataclasses.replace(_clock("breached", due=late), item=item, late_workdays=n)]],
                rules,
                as_of,
            )
            for item, t, n in (("XT-2026-0001", title, days), ("XT-2026-0002", "乙", 3))
        ]
        return assemble(parts, rules, as_of)

    base = model()
    assert len(base.overdue) == 2 and len(base.items) == 2
    assert model().content_hash() == base.content_hash()
    assert model(title="丙").content_hash() != base.content_hash()
    earlier = model(days=5)  # first in the list: the most working days late
    assert [o.item for o in earlier.overdue] != [o.item for o in base.overdue]
    assert earlier.content_hash() != base.content_hash()
    swapped = dataclasses.replace(base, overdue=base.overdue[::-1])
    assert swapped.content_hash() != base.content_hash()
    fewer = dataclasses.replace(base, overdue=base.overdue[:1])
    assert fewer.content_hash() != base.content_hash()
    assert base.content_hash("链接") != base.content_hash()


def _part_pool(rules):
    """Parts of four items, each in a few versions: clocks met, late, at risk, breached,
    running, decided in other weeks and by other departments."""
    import dataclasses

    from automation.core.summary import item_part

    as_of = DEFAULT_AS_OF
    tz = as_of.tzinfo
    states = [
        ("met", dt.date(2026, 10, 19), None),
        ("met_late", dt.date(2026, 9, 2), None),
        ("breached", None, dt.datetime(2026, 10, 9, 18, tzinfo=tz)),
        ("at_risk", None, dt.datetime(2026, 10, 22, 18, tzinfo=tz)),
        ("running", None, dt.datetime(2026, 10, 30, 18, tzinfo=tz)),
        ("met", dt.date(2026, 8, 3), None),
    ]
    depts = list(rules.departments.names)
    pool = []
    for n, item in enumerate(["XT-2026-0001", "XT-2026-0002", "XT-2026-0003", "XT-2026-0004"]):
        for v in range(3):
            clocks = []
            for k in range(1 + (n + v) % 3):
                state, end, due = states[(n * 3 + v + k) % len(states)]
                clock = _clock(state, end=end, due=due, dept=depts[(n + k) % len(depts)],
                               clock="daily_update" if k else "meeting")  # fmt: skip
                clocks.append(dataclasses.replace(clock, item=item, late_workdays=k + v))
            fields = {
                "title": f"事项{n}-{v}",
                "lead_dept": depts[(n + v) % len(depts)],
                "coop_depts": [depts[(n + v + 1) % len(depts)]],
                "submitted_date": dt.date(2026, 9 + v, 1 + n),
            }
            pool.append(item_part([ItemCycle(item, 1, fields)], [clocks], rules, as_of))
    return pool


def test_counts_added_up_from_the_last_totals_are_the_counts_added_up_afresh(rules):
    """A summary rebuilt after some items changed takes away and adds only their shares of the
    counts: through any sequence of parts coming, changing and going, the model is the one
    added up from nothing."""
    import random

    from automation.core.summary import PartTotals, assemble, assemble_from

    pool = _part_pool(rules)
    by_item: dict[str, list] = {}
    for p in pool:
        by_item.setdefault(p.item, []).append(p)
    rng = random.Random(7)
    totals = PartTotals()
    seen_changes = 0
    for _step in range(60):
        items = [i for i in by_item if rng.random() < 0.8]
        rng.shuffle(items)
        parts = [rng.choice(by_item[i]) for i in items]
        updated = totals.updated(parts)
        seen_changes += sum(1 for p in parts if p not in totals.parts)
        model = assemble_from(updated, rules, DEFAULT_AS_OF, pending_requests=2,
                              open_exceptions={"生产部": 1})  # fmt: skip
        afresh = assemble(parts, rules, DEFAULT_AS_OF, pending_requests=2,
                          open_exceptions={"生产部": 1})  # fmt: skip
        assert model == afresh
        totals = updated
    assert seen_changes > 30
    # the last totals, counted again from nothing, are the same sums
    assert PartTotals.of(totals.parts).sums == totals.sums
    assert sum(totals.sums["n"].values()) > 0 and totals.sums["decided"]
