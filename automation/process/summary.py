"""汇总: rebuild the leaders' summary of a drive (``xietong summary``, and at the end of every
``xietong run``).

Reads the drive like the clock engine does (tracking table, execution workbooks, weekly
reports; through the validation cache when the caller has one), builds the summary model
(``automation.core.summary``) and writes into the drive's summary folder:

- ``汇总_<date>.xlsx`` (the prefix is the summary form's template name) for the as-of day,
- the stable copy people bookmark (``drive.yaml`` ``summary_file``, 跨部门协调汇总.xlsx),
- its HTML twin next to it (same name, ``.html``),

each through ``safe_write`` with the previous version kept in the drive's backup folder. A hash
of what the summary shows is kept in the local state (ledger meta ``summary_hash``): when it did
not change and the files are there, nothing is written.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import operator
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core.clocks import ClockResult, ItemCycle
from automation.core.summary import (
    PartTotals,
    SummaryModel,
    assemble_from,
    item_part,
    latest_status,
)
from automation.io import summary_memory
from automation.io.drive import DrivePaths, item_folder_index
from automation.io.files import WORKBOOK_SUFFIXES, RelativePaths, is_temporary, list_workbooks
from automation.io.journal import make_entry
from automation.io.safewrite import WriteDeferred, safe_write
from automation.io.summary_html import ChartStore, summary_html
from automation.io.summary_workbook import summary_workbook_bytes
from automation.process.clocks import clock_results_by_cycle, read_inputs, steady_views
from automation.process.context import RunContext
from automation.process.evaluation import workbook_names
from automation.process.execution import drive_exceptions
from automation.process.tracking import backup_dir
from automation.rules import Rules

HASH_KEY = "summary_hash"


@dataclass
class SummaryResult:
    """What one rebuild did: the files written (or why none), and the model behind them."""

    drive: str
    as_of: str
    written: bool
    files: list[str]
    model: SummaryModel
    reason: str = ""
    deferred: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "drive": self.drive,
            "as_of": self.as_of,
            "written": self.written,
            "files": self.files,
            "reason": self.reason,
            "deferred": self.deferred,
            "warnings": self.warnings,
            "summary": self.model.as_dict(),
        }

    def summary_lines(self) -> list[str]:
        ov = self.model.overview
        rate = ov.rates["all"].rate
        lines = [
            f"在办事项 {ov.open_items}，预警 {ov.items_at_risk}，超期 {ov.items_breached}；"
            f"超期时限 {ov.clocks_breached} 个，预警时限 {ov.clocks_at_risk} 个；"
            f"累计按时率 {'—' if rate is None else f'{rate * 100:.1f}%'}",
        ]
        if self.written:
            lines += [f"  已生成 {f}" for f in self.files]
        else:
            lines.append(f"  未重新生成：{self.reason}")
        for d in self.deferred:
            lines.append(f"  推迟写入 {d['file']}：{d['reason']}")
        lines += [f"  注意：{w}" for w in self.warnings]
        return lines


# -- hooks for the stages built in parallel ---------------------------------------------------


def open_exceptions_by_department(ctx: RunContext) -> dict[str, int]:
    """Open exceptions (执行反馈 · 异常) per department at the context's moment, for the 部门
    sheet: the same register as ``xietong exceptions``."""
    cases, _warnings = drive_exceptions(ctx)
    counts: dict[str, int] = {}
    for case in cases:
        if case.resolved is None:
            counts[case.department] = counts.get(case.department, 0) + 1
    return counts


# -- reading the drive ------------------------------------------------------------------------


def pending_requests(paths: DrivePaths) -> int:
    """Forms waiting in the inbox (需求发起: submitted, not registered)."""
    if not paths.inbox.is_dir():
        return 0
    return sum(
        1
        for p in paths.inbox.iterdir()
        if p.is_file() and p.suffix.lower() in WORKBOOK_SUFFIXES and not is_temporary(p)
    )


def summary_paths(paths: DrivePaths, rules: Rules, day: dt.date) -> tuple[Path, Path, Path]:
    """(dated workbook, stable workbook, HTML twin) in the summary folder."""
    stable = paths.summary / rules.drive.summary_file
    prefix = rules.form("summary").template
    dated = paths.summary / f"{prefix}_{day.isoformat()}{stable.suffix}"
    return dated, stable, stable.with_suffix(".html")


def item_links(ctx: RunContext, model: SummaryModel) -> dict:
    """Link targets: (item, None) → the item's folder; (item, department) → that department's
    execution workbook (模板四) when it exists, else the folder. An item's links are worked out
    again only when its folders, the departments wanted or the folders' listings changed."""
    folders = item_folder_index(ctx.paths)
    links: dict[tuple[str, str | None], Path] = {}
    wanted: dict[str, set[str]] = {i.item: set() for i in model.items}
    for o in model.overdue:
        wanted.setdefault(o.item, set()).add(o.department or "")
    for item, depts in wanted.items():
        found = folders.get(item)
        if not found:
            continue
        depts.discard("")
        # the workbooks of the item, from the kept listings (the same path objects while the
        # folders list the same files: compared at once)
        listing = (
            tuple(p for f in found for p in list_workbooks(f, recursive=False)) if depts else ()
        )
        key = (tuple(found), frozenset(depts), listing)
        links.update(
            ctx.cache.derive(
                "item_links",
                item,
                key,
                functools.partial(_links_of, ctx.rules, item, found, depts, listing),
            )
        )
    return links


def _links_of(
    rules: Rules, item: str, found: list[Path], depts: set[str], listing: tuple[Path, ...]
) -> dict[tuple[str, str | None], Path]:
    folder = found[0]
    links: dict[tuple[str, str | None], Path] = {(item, None): folder}
    if not depts:
        return links
    names = workbook_names(rules, item, sorted(depts))
    workbooks = set(listing)
    for dept in depts:
        name = names.get(f"execution:{dept}")
        target = next((f / name for f in found if name and f / name in workbooks), None)
        links[(item, dept)] = target or folder
    return links


def build_model(ctx: RunContext) -> SummaryModel:
    """The summary model of the context's drive at its moment: an item's part is worked out
    again only when its cycles are not the very objects of the last run, its clocks read
    otherwise (:func:`steady_views`, and its status), or the moment left the span the part
    holds for (``ItemPart.until``); when any is new, the counts take away and add only the
    shares of the parts that changed (``PartTotals``)."""
    inputs = read_inputs(ctx)
    clocks = clock_results_by_cycle(ctx, inputs.cycles)
    pending = pending_requests(ctx.paths)
    open_exceptions = open_exceptions_by_department(ctx)
    views = steady_views(ctx, inputs.cycles, clocks)
    by_item: dict[str, tuple[list[ItemCycle], list[list[ClockResult]], list[Any]]] = {}
    for c, part, view in zip(inputs.cycles, clocks, views, strict=True):
        mine = by_item.setdefault(c.item_id, ([], [], []))
        mine[0].append(c)
        mine[1].append(part)
        mine[2].append(view)
    parts = []
    as_of = ctx.as_of
    for item, (cycles, results, shown) in by_item.items():
        # the same cycles, and clocks that read the same but for the share of time used (the
        # part does not read it, but for the status: compared too): the same part
        # (the status kept while the cycles and their clock lists are the very objects)
        status = ctx.cache.made_from(
            "item_status",
            item,
            (*cycles, *results),
            functools.partial(latest_status, cycles, results),
        )
        made = (tuple(cycles), tuple(shown), status)
        held = ctx.cache.recall("summary_part", item, made)
        # made at an earlier moment of the span it holds for (see ItemPart.until)
        if held is not None and held[0] <= as_of < held[1].until:
            part = held[1]
        else:
            part = item_part(cycles, results, ctx.rules, as_of)
            ctx.cache.keep("summary_part", item, made, (as_of, part))
        parts.append(part)
    # the parts and counts of the last build in this process: the same model
    key = (ctx.as_of, pending, sorted(open_exceptions.items()), tuple(inputs.warnings))
    held = ctx.cache.recall("summary_model", "", key)
    if held is not None and len(held[0]) == len(parts) and all(map(operator.is_, held[0], parts)):
        return held[1]
    # the parts added up from the last build's totals: only the parts that changed counted
    before = ctx.cache.last("summary_totals", "")
    totals = (before or PartTotals()).updated(parts)
    ctx.cache.keep("summary_totals", "", None, totals)
    model = assemble_from(
        totals,
        ctx.rules,
        ctx.as_of,
        pending_requests=pending,
        open_exceptions=open_exceptions,
        warnings=inputs.warnings,
    )
    ctx.cache.keep("summary_model", "", key, (parts, model))
    return model


# -- writing ----------------------------------------------------------------------------------


def refresh_summary(ctx: RunContext, *, force: bool = False) -> SummaryResult:
    """Rebuild the summary files of the context's drive when what they show changed."""
    paths, rules, ledger = ctx.paths, ctx.rules, ctx.need_ledger()
    model = build_model(ctx)
    links = item_links(ctx, model)
    dated, stable, html_path = summary_paths(paths, rules, model.as_of_date)
    relative = relative_to(paths.summary)
    # the model of the last run and the same links: the same content
    held = ctx.cache.recall("summary_hash", "", links)
    if held is not None and held[0] is model:
        digest = held[2]
    else:
        # the links by what they point to, hashed once per set of links (a changed row
        # mostly leaves every link as it was)
        if held is not None:
            links_hash = held[1]
        else:
            rel_links = sorted((f"{k[0]}|{k[1]}", relative(v)) for k, v in links.items())
            links_hash = hashlib.sha256(repr(rel_links).encode("utf-8")).hexdigest()
        digest = model.content_hash(links_hash)
        ctx.cache.keep("summary_hash", "", links, (model, links_hash, digest))
    result = SummaryResult(
        drive=str(paths.root),
        as_of=model.as_of.isoformat(),
        written=False,
        files=[],
        model=model,
        warnings=list(model.warnings),
    )
    targets = (dated, stable, html_path)
    if not force and ledger.get_meta(HASH_KEY) == digest and all(p.is_file() for p in targets):
        result.reason = "内容与上次生成时相同"
        return result
    paths.summary.mkdir(parents=True, exist_ok=True)
    # the rows of the last drawing, kept by the last process that drew (a cache, see there)
    kept = summary_memory.memory_path(ledger.path)
    summary_memory.recall(kept)
    data, page = _render(model, rules, links, relative, result.warnings, ledger)
    summary_memory.remember(kept)
    _write_files(ctx, result, [(dated, data), (stable, data), (html_path, page)])
    _done(ctx, result, digest)
    return result


def relative_to(folder: Path) -> RelativePaths:
    """Paths relative to ``folder`` (absolute), one instance per folder in this process: each
    link target's relative path is worked out once, not in every rebuild."""
    key = os.fspath(folder)
    held = _RELATIVE.get(key)
    if held is None or not os.path.isabs(key):
        if len(_RELATIVE) >= 8:
            _RELATIVE.clear()
        held = _RELATIVE[key] = RelativePaths(folder)
    return held


_RELATIVE: dict[str, RelativePaths] = {}


def _write_files(ctx: RunContext, result: SummaryResult, files: list[tuple[Path, bytes]]) -> None:
    for path, payload in files:
        try:
            _write(ctx.paths, ctx.rules, path, payload)
        except WriteDeferred as exc:
            result.deferred.append(
                {"file": _rel(ctx.paths, path), "reason": exc.message_zh, "code": exc.reason_code}
            )
            continue
        result.files.append(_rel(ctx.paths, path))


def _done(ctx: RunContext, result: SummaryResult, digest: str) -> None:
    """Every file tried: the hash kept (unless one must be written again) and journalled."""
    result.written = bool(result.files)
    if not result.deferred:  # a deferred file is written again by the next run
        ctx.need_ledger().set_meta(HASH_KEY, digest)
    if result.files:
        entry = make_entry(
            action="summary",
            file=", ".join(result.files),
            reason="重新生成领导汇总（内容有变化）",
            input_hash=digest,
            as_of=result.model.as_of,
        )
        ctx.journal([entry])


def _render(
    model: SummaryModel,
    rules: Rules,
    links: dict,
    relative: RelativePaths,
    warnings: list[str],
    store: ChartStore | None = None,
) -> tuple[bytes, bytes]:
    data = summary_workbook_bytes(model, rules, links=links, relative=relative)
    return data, _page(model, links, relative, warnings, store)


def _page(
    model: SummaryModel,
    links: dict,
    relative: RelativePaths,
    warnings: list[str],
    store: ChartStore | None = None,
) -> bytes:
    html_links = {item: _quoted(relative(p)) for (item, dept), p in links.items() if dept is None}
    return summary_html(model, links=html_links, warn=warnings, store=store).encode("utf-8")


@functools.lru_cache(maxsize=1 << 16)
def _quoted(relative: str) -> str:
    """A relative path as a link in the page (the same thousands of folders each rebuild)."""
    return urllib.parse.quote(relative.replace(os.sep, "/"))


def _write(paths: DrivePaths, rules: Rules, path: Path, data: bytes) -> None:
    safe_write(
        path, data, expected=None, backup_dir=backup_dir(paths), keep=rules.drive.backups_kept
    )


def _rel(paths: DrivePaths, path: Path) -> str:
    return Path(os.path.relpath(path, paths.root)).as_posix()


__all__ = [
    "HASH_KEY",
    "SummaryResult",
    "build_model",
    "item_links",
    "open_exceptions_by_department",
    "pending_requests",
    "refresh_summary",
    "summary_paths",
]
