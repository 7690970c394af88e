"""Rebuilding the local state from the share (本地状态重建): the state can always be lost.

The local SQLite state (``automation.io.ledger``) is a convenience: everything in it can be
rebuilt from the drive. Two promises hold even then:

- an ID once issued is never issued again: the counters are raised above every ID that anything
  on the share has ever named — the tracking table, the journal in the log folder, item folders,
  the archive, receipts and notes in the feedback folder, and the registrations already known;
- registrations are adopted from the request forms filed in the item folders, whatever the
  table holds (a cleared row, a renamed folder and a half-written state are all tolerated).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from automation.core import intake as core
from automation.errors import XietongError
from automation.io.cache import file_identity
from automation.io.files import WORKBOOK_SUFFIXES, folder_mtime, is_temporary
from automation.io.journal import JOURNAL_GLOB, read_journal, read_journal_file
from automation.io.ledger import Registration
from automation.io.links import is_link
from automation.io.safewrite import read_with_snapshot
from automation.process.context import RunContext
from automation.process.intake import _validate_copy, revision_of_name
from automation.process.tracking import TrackingTable, read_tracking

MAX_TEXT_BYTES = 64 * 1024  # a receipt or note larger than this is not one of ours


def rebuild_state(ctx: RunContext) -> dict[str, int]:
    """Rebuild the local state from the drive (see the module docstring).

    Safe to run at any time: existing state is kept, counters only go up.
    """
    ledger = ctx.need_ledger()
    table = read_tracking(ctx)
    adopted = _adopt_filed_forms(ctx, table)
    mirrored = _adopt_journal(ctx)
    years = raise_counters(ctx, table)
    ledger.set_meta("rebuilt", dt.datetime.now(dt.UTC).isoformat())
    return {"years": years, "registrations": adopted, "journal": mirrored}


def raise_counters(ctx: RunContext, table: TrackingTable) -> int:
    """Raise every year's counter above the highest ID named anywhere; the number of years.

    The sources are looked at in groups (the table's IDs, the registrations, each journal
    file, the item folders, the archive, the feedback folder), each read again only when what
    identifies it changed since this process last read it: a run that rewrote the table's
    computed cells, or appended to the journal, does not scan every other text again."""
    ledger = ctx.need_ledger()
    ids = ctx.rules.drive.item_ids
    best: dict[int, int] = {}
    for name, key, texts in _id_groups(ctx, table):
        found = ctx.cache.derive("id_highest", name, key, lambda t=texts: _highest(t(), ids))
        for year, seq in found:
            if seq > best.get(year, 0):
                best[year] = seq
    counters = tuple(tuple(r) for r in ledger.conn.execute("SELECT * FROM id_counter"))
    wanted = tuple(sorted(best.items()))
    if ctx.cache.recall("id_counters", "", (wanted, counters)) is None:
        for year, seq in wanted:
            ledger.raise_counter(year, seq)
        after = tuple(tuple(r) for r in ledger.conn.execute("SELECT * FROM id_counter"))
        ctx.cache.keep("id_counters", "", (wanted, after), len(best))
    return len(best)


def _highest(texts: Iterable[str], ids: Any) -> tuple[tuple[int, int], ...]:
    """(year, highest sequence) of every year an ID of ``texts`` names."""
    best: dict[int, int] = {}
    for item_id in core.ids_mentioned(texts, ids):
        parsed = core.parse_item_id(item_id, ids)
        if parsed and parsed[1] > best.get(parsed[0], 0):
            best[parsed[0]] = parsed[1]
    return tuple(sorted(best.items()))


def _id_groups(
    ctx: RunContext, table: TrackingTable
) -> Iterator[tuple[str, Any, Callable[[], Iterable[str]]]]:
    """(name, identity, texts) of every group of texts on the share (and in the state) that
    may name an item ID: the texts are read only when the identity is not the one this
    process read them at."""
    conn = ctx.need_ledger().conn
    paths = ctx.paths
    tracked = tuple(str(row.get("item_id") or "") for row in table.rows)
    yield "table", tracked, lambda: tracked
    registered = tuple(conn.execute("SELECT COUNT(*), MAX(rowid) FROM registrations").fetchone())
    yield (
        "registrations",
        registered,
        lambda: (r.item_id for r in ctx.need_ledger().registrations()),
    )
    for path in sorted(paths.log.glob(JOURNAL_GLOB)):
        # read incrementally (see _journal_texts): asked each time, cheap when unchanged
        texts = _journal_texts(ctx, path)
        yield f"journal:{path.name}", tuple(texts), lambda t=texts: t
    yield "items", folder_mtime(paths.items), lambda: _names(paths.items, depth=1)
    archive = [paths.archive, *_folders(paths.archive, depth=2)]
    yield (
        "archive",
        tuple((str(f), folder_mtime(f)) for f in archive),
        lambda: _names(paths.archive, depth=3),
    )
    notes = tuple(
        (p.name, file_identity(p)) for p in _files(paths.feedback) if p.suffix.lower() == ".txt"
    )
    yield "feedback", (folder_mtime(paths.feedback), notes), lambda: _feedback_texts(paths.feedback)


def _feedback_texts(folder: Path) -> Iterator[str]:
    for path in _files(folder):
        yield path.name
        if path.suffix.lower() == ".txt":
            yield _small_text(path)


def _folders(folder: Path, *, depth: int) -> list[Path]:
    """The folders below ``folder`` down to ``depth`` levels (links not followed)."""
    if depth <= 0:
        return []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    out = []
    for entry in entries:
        if not is_link(entry.path) and entry.is_dir(follow_symlinks=False):
            out.append(Path(entry.path))
            out.extend(_folders(Path(entry.path), depth=depth - 1))
    return out


def _journal_texts(ctx: RunContext, path: Path) -> list[str]:
    """The item IDs one journal file names (in its entries' items and files). The journal only
    grows (each run appends): what this process read of the file before is not read again,
    only what was appended."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    file = (st.st_dev, st.st_ino)
    held = ctx.cache.recall("journal_texts", str(path), file)
    texts, start = held if held is not None and held[1] <= st.st_size else ([], 0)
    if start == st.st_size:
        return texts
    try:
        entries, end = read_journal_file(path, start)
    except OSError:
        return texts
    found = (text for e in entries for text in (str(e.get("item") or ""), str(e.get("file") or "")))
    texts = core.ids_mentioned([*texts, *found], ctx.rules.drive.item_ids)
    ctx.cache.keep("journal_texts", str(path), file, (texts, end))
    return texts


def _names(folder: Path, *, depth: int) -> Iterable[str]:
    """Names of the entries below ``folder`` down to ``depth`` levels (links not followed)."""
    if depth <= 0:
        return
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        yield entry.name
        if not is_link(entry.path) and entry.is_dir(follow_symlinks=False):
            yield from _names(Path(entry.path), depth=depth - 1)


def _files(folder: Path) -> Iterable[Path]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.is_file(follow_symlinks=False) and not is_link(entry.path):
            yield Path(entry.path)


def _small_text(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_TEXT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _adopt_filed_forms(ctx: RunContext, table: TrackingTable) -> int:
    """Registrations of the request forms filed in the item folders."""
    paths, rules, ledger = ctx.paths, ctx.rules, ctx.need_ledger()
    if not paths.items.is_dir():
        return 0
    adopted = 0
    keys = [fd.key for fd in rules.form("request").all_fields]
    known = {(r.item_id, r.revision) for r in ledger.registrations()}
    for folder in sorted(Path(e.path) for e in os.scandir(paths.items) if _plain_dir(e)):
        item_id = folder.name.split(" ", 1)[0]
        if core.parse_item_id(item_id, rules.drive.item_ids) is None:
            continue
        for f in sorted(folder.iterdir()):
            if not _candidate_form(f):
                continue
            revision = revision_of_name(f.name)
            if (item_id, revision) in known:
                continue  # the same item and revision found twice: the first one counts
            try:  # through the cache first: most workbooks of an item folder are no form
                report = ctx.cache.validate(f)
                if report.kind != "request":
                    continue
                data, snap = read_with_snapshot(f)
                if ctx.cache.identity(f) != file_identity(f):  # saved meanwhile: these bytes
                    report = _validate_copy(ctx, f, data, dated=False)
            except XietongError:
                continue
            if report.kind != "request" or not report.ok:
                continue
            fields = dict(report.fields)
            row = table.find(item_id, revision) or {}
            values = core.to_json_values(
                {k: v for k, v in row.items() if k != "_row"} or {"item_id": item_id}
            )
            ledger.adopt_registration(
                Registration(
                    fingerprint=core.fingerprint(fields, keys),
                    item_id=item_id,
                    revision=revision,
                    row_values={**values, "item_id": item_id, "revision": revision},
                    request_fields=core.to_json_values(fields),
                    source_path=None,
                    source_sha256=snap.sha256,
                    filed_path=ctx.rel(f),
                    status="written",  # filed forms always had their row written
                    registered=str(values.get("registered_date", "")),
                )
            )
            known.add((item_id, revision))
            adopted += 1
    return adopted


def _plain_dir(entry: os.DirEntry[str]) -> bool:
    return entry.is_dir(follow_symlinks=False) and not is_link(entry.path)


def _candidate_form(f: Path) -> bool:
    return (
        f.suffix.lower() in WORKBOOK_SUFFIXES
        and not is_temporary(f)
        and not is_link(f)
        and f.is_file()
    )


def _adopt_journal(ctx: RunContext) -> int:
    """Mirror the drive's journal into an empty state database, and remember from it which item
    workbooks were created (so one deleted on purpose is not created again)."""
    ledger = ctx.need_ledger()
    if ledger.journal_entries():
        return 0
    entries = read_journal(ctx.paths.log)
    for entry in entries:
        ledger.mirror_journal(entry)
        if entry.get("action") == "create_workbook" and entry.get("item"):
            ledger.mark_created(
                str(entry.get("file")), str(entry["item"]), str(entry.get("kind", ""))
            )
    return len(entries)
