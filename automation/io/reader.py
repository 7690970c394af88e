"""The one reader of submitted workbooks (.xlsx, .xlsm; .xls, .xlsb, .ods where calamine reads them).

Steps: the quick checks of :func:`automation.io.safety.start_check` before any parsing;
python-calamine in a worker process bounded in time and memory (:class:`ReaderPool`), parsing
while this process scans the file's parts (only a file the scan passes is used); then, in this
process, recognising the workbook (hidden ``_xietong`` marker sheet, custom document properties,
or — when a user copied the cells into a new book — the Chinese labels) and locating every field
by its label, so rows or columns a department inserted do not shift the reading. Values stay raw
here; typing and checking them is ``automation.core.validation``'s job.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import functools
import multiprocessing
import os
import re
import threading
import time
import zipfile
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from defusedxml import ElementTree as SafeET

from automation.core.cells import cell_ref, column_index, column_letter, parse_cell
from automation.core.columns import Column, decode_column, take, with_values
from automation.core.layout import layout
from automation.core.normalize import CellError, blank_positions, compact, is_blank
from automation.core.problems import Problem, make_problem
from automation.core.validation import RawCell, RawRow, RawTable
from automation.io.reader_worker import answer, serve, set_memory_limit
from automation.io.safety import FileInfo, FileRejected, start_check
from automation.rules import Rules
from automation.rules.forms import FormRules
from automation.rules.validation import ValidationRules

__all__ = [
    "WorkbookData",
    "RawCell",
    "RawRow",
    "RawTable",
    "read_workbook",
    "ReaderPool",
    "FileRejected",
]

MARKER_SHEET = "_xietong"
MARKER_TAG = "xietong"
LABEL_SCAN_ROWS = 80  # rows searched for labels and header rows
ABANDON_WAIT = (
    0.05  # seconds a parse no longer wanted may take to finish before its worker is stopped
)
MIN_LABEL_SHARE = 0.6  # share of a form's labels that must be present to recognise it by labels
LEGACY_FORMATS = {
    "xls": "Excel 97-2003（.xls）",
    "xlsb": "Excel 二进制（.xlsb）",
    "ods": "OpenDocument（.ods）",
}


@dataclass
class WorkbookData:
    """A workbook as read: raw values with their cells, before typing and checks."""

    path: Path
    kind: str | None
    version: int | None
    sheet: str
    format: str = "xlsx"
    fields: dict[str, RawCell] = field(default_factory=dict)  # form fields and header fields
    table: RawTable | None = None  # the main table of a tabular workbook, compact
    inner: dict[str, RawTable] = field(default_factory=dict)  # inner tables of a form, compact
    problems: list[Problem] = field(default_factory=list)  # about the file, not a cell value
    recognised_by: str = "marker"  # marker, properties or labels

    @property
    def rows(self) -> list[RawRow]:
        """The table rows with data (blank rows dropped), each with its Excel row number."""
        return self.table.raw_rows if self.table is not None else []

    @property
    def tables(self) -> dict[str, list[RawRow]]:
        """Inner tables (minutes: attendees, milestones) by table key."""
        return {key: t.raw_rows for key, t in self.inner.items()}

    @property
    def columns(self) -> dict[str, str]:
        """Table field key → the column letter where its header was found."""
        return dict(self.table.columns) if self.table is not None else {}


# -- the worker process ---------------------------------------------------------------------------


class ReaderPool:
    """One long-lived parsing process, restarted after it crashes or is stopped for a timeout."""

    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: Any = None
        self._conn: Any = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=serve, args=(child, self.memory_mb), daemon=True, name="xietong-reader"
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent

    def _stop(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
            proc.close()

    def warm_up(self) -> None:
        """Start the worker now, so the first file read later need not wait for it."""
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self._stop()
                self._start()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.send(None)
            self._stop()

    def read(self, path: Path, wanted: dict[str, str], timeout: float) -> dict[str, Any]:
        """Parse ``path`` in the worker; a crash, a hang or a calamine error → FileRejected."""
        with self.reading(path, wanted, timeout) as result:
            return result()

    @contextlib.contextmanager
    def reading(
        self, path: Path, wanted: dict[str, str], timeout: float
    ) -> Iterator[Callable[[], dict[str, Any]]]:
        """Start parsing ``path`` now; calling the yielded function waits for the book.

        The caller works meanwhile (the safety scan of the same file, which decides whether the
        book may be used at all). Leaving the block without asking for the book abandons the
        parse: a reply already there is discarded, a worker still busy is stopped.
        """
        with self._lock:
            deadline = time.monotonic() + timeout
            sent = self._send(path, wanted)
            asked = False

            def result() -> dict[str, Any]:
                nonlocal asked
                asked = True
                return self._receive(sent, deadline, timeout)

            try:
                yield result
            finally:
                if not asked:
                    self._abandon()

    def _send(self, path: Path, wanted: dict[str, str]) -> bool:
        if self._proc is None or not self._proc.is_alive():
            self._stop()
            self._start()
        try:
            self._conn.send((str(path), wanted, MARKER_SHEET))
        except (OSError, BrokenPipeError):
            return False
        return True

    def _receive(self, sent: bool, deadline: float, timeout: float) -> dict[str, Any]:
        try:
            if not sent:
                raise EOFError
            if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                self._stop()
                raise FileRejected("E_READ_TIMEOUT", seconds=f"{timeout:g}")
            reply = self._conn.recv()
        except (EOFError, OSError):
            code = self._proc.exitcode if self._proc is not None else None
            self._stop()
            raise FileRejected("E_READER_CRASH", detail=_exit_text(code)) from None
        return _book(reply)

    def _abandon(self) -> None:
        """Forget the parse under way: discard a prompt reply, else stop the worker."""
        if self._conn is None:
            return
        with contextlib.suppress(EOFError, OSError):
            if self._conn.poll(ABANDON_WAIT):
                self._conn.recv()
                return
        self._stop()


def _book(reply: tuple[Any, ...]) -> dict[str, Any]:
    if reply[0] == "ok":
        return reply[1]
    raise _calamine_error(reply[1], reply[2])


class InlineReader:
    """Parsing in this very process, for a process that is itself disposable: a prefetch worker
    (``ValidationCache.prefetch``), whose death the caller survives and answers by reading the
    rest through the isolated :class:`ReaderPool`. Bounded the same way: the address space is
    limited once (:func:`parse_here`), and a parse running past the timeout ends the process
    (``faulthandler``'s watchdog runs in its own C thread, so it fires even while calamine holds
    the interpreter).

    The watchdog is set for twice the timeout and set again only when a parse starts or ends
    more than one timeout after it was last set (setting it starts and joins a thread: 0.15 ms a
    file, a twentieth of a file's reading). Every parse, and the checks of its file after it,
    so get at least the timeout and at most twice it (a parse used to be watched alone, the
    checks not at all). :func:`parsing_done` lets it go when the worker waits for more work."""

    def __init__(self) -> None:
        self._quiet = open(os.devnull, "w")  # noqa: SIM115  (kept open for the watchdog)
        self._armed: tuple[float, float] | None = None  # (when set, the timeout it was set for)

    def warm_up(self) -> None:
        pass

    def read(self, path: Path, wanted: dict[str, str], timeout: float) -> dict[str, Any]:
        with self.reading(path, wanted, timeout) as result:
            return result()

    @contextlib.contextmanager
    def reading(
        self, path: Path, wanted: dict[str, str], timeout: float
    ) -> Iterator[Callable[[], dict[str, Any]]]:
        def result() -> dict[str, Any]:
            self._arm(timeout)
            book = _book(answer(str(path), wanted, MARKER_SHEET))
            self._arm(timeout)  # what this process does with the book has a timeout left too
            return book

        yield result

    def _arm(self, timeout: float) -> None:
        now = time.monotonic()
        armed = self._armed
        if armed is None or armed[1] != timeout or now - armed[0] > timeout:
            faulthandler.dump_traceback_later(2 * timeout, exit=True, file=self._quiet)
            self._armed = (now, timeout)

    def disarm(self) -> None:
        if self._armed is not None:
            faulthandler.cancel_dump_traceback_later()
            self._armed = None


_INLINE: InlineReader | None = None


def parse_here(memory_mb: int) -> None:
    """This process parses workbooks itself from now on (see :class:`InlineReader`)."""
    global _INLINE
    set_memory_limit(memory_mb)
    _INLINE = InlineReader()


def parsing_done() -> None:
    """This process waits for more work: its parse watchdog (see :class:`InlineReader`) let go."""
    if _INLINE is not None:
        _INLINE.disarm()


def _exit_text(code: int | None) -> str:
    if code is None:
        return "进程意外退出"
    if code < 0:
        return f"进程被信号 {-code} 终止，可能是内存不足"
    return f"退出码 {code}"


def _calamine_error(kind: str, text: str) -> FileRejected:
    if kind == "password":
        return FileRejected("E_ENCRYPTED")
    if kind == "memory":
        return FileRejected("E_READER_CRASH", detail="内存不足")
    lowered = text.lower()
    if "cell limit exceeded" in lowered:
        return FileRejected("E_TOO_LARGE", detail="单元格数量超出读取上限")
    if "biff" in lowered and ("unsupported" in lowered or "version" in lowered):
        return FileRejected("E_LEGACY_FORMAT", detail="不受支持的 .xls 版本")
    return FileRejected("E_CORRUPT", detail=text[:200] or kind)


_POOLS: dict[int, ReaderPool] = {}
_POOLS_LOCK = threading.Lock()


def reader_pool(limits: ValidationRules) -> ReaderPool | InlineReader:
    """The process-wide worker for a memory limit, started on first use, stopped at exit (in a
    process set to :func:`parse_here`: the parse in this process)."""
    if _INLINE is not None:
        return _INLINE
    with _POOLS_LOCK:
        pool = _POOLS.get(limits.worker_memory_mb)
        if pool is None:
            pool = _POOLS[limits.worker_memory_mb] = ReaderPool(limits.worker_memory_mb)
        return pool


@atexit.register
def _close_pools() -> None:
    for pool in list(_POOLS.values()):
        pool.close()


# -- cells of one sheet -----------------------------------------------------------------------


class Grid:
    """The cells of one sheet by 0-based (row, column), merged ranges read from their top-left.

    Values come as the worker sent them: encoded columns (distinct values and each row's index,
    :mod:`automation.core.columns`), read here cell by cell for labels and as whole columns for
    tables.
    """

    def __init__(self, name: str, raw: dict[str, Any], errors: dict[tuple[int, int], CellError]):
        self.name = name
        self.columns: list[Column] = raw.get("columns") or []
        self.height = len(self.columns[0][1]) if self.columns else 0
        self.width = len(self.columns)
        start = raw["start"] or (0, 0)
        self.r0, self.c0 = start
        self.errors = errors
        self.anchor: dict[tuple[int, int], tuple[int, int]] = {}
        for (r1, c1), (r2, c2) in raw.get("merged") or []:
            if (r2 - r1 + 1) * (c2 - c1 + 1) > 100_000:
                continue  # a whole-column merge carries no values worth copying
            for r in range(r1, r2 + 1):
                for c in range(c1, c2 + 1):
                    if (r, c) != (r1, c1):
                        self.anchor[(r, c)] = (r1, c1)

    @property
    def nrows(self) -> int:
        """Rows from the top of the sheet to the last row with data."""
        return self.r0 + self.height

    def raw(self, r: int, c: int) -> Any:
        if (r, c) in self.errors:
            return self.errors[(r, c)]
        i, j = r - self.r0, c - self.c0
        if 0 <= i < self.height and 0 <= j < self.width:
            values, codes = self.columns[j]
            value = values[codes[i]]
            return None if value == "" else value
        return None

    def get(self, r: int, c: int) -> Any:
        value = self.raw(r, c)
        if value is None and (r, c) in self.anchor:
            return self.raw(*self.anchor[(r, c)])
        return value

    def cell(self, r: int, c: int) -> RawCell:
        return RawCell(self.get(r, c), cell_ref(r + 1, c + 1), self.name)

    def texts(self, max_rows: int = LABEL_SCAN_ROWS) -> dict[str, tuple[int, int]]:
        """Normalised label text → first (row, column) where it appears, in the top rows."""
        found: dict[str, tuple[int, int]] = {}
        top = [
            decode_column((values, codes[: max(0, max_rows - self.r0)]))
            for values, codes in self.columns
        ]
        for i, row in enumerate(zip(*top, strict=True)):
            for j, value in enumerate(row):
                if isinstance(value, str) and value:
                    found.setdefault(label_key(value), (self.r0 + i, self.c0 + j))
        return found

    def is_empty(self) -> bool:
        return not self.errors and not any(
            not is_blank(v) for values, _ in self.columns for v in values
        )


@functools.lru_cache(maxsize=4096)
def label_key(text: str) -> str:
    """A label as compared: no spaces, half-width, without the required-field star or colon."""
    return compact(text).rstrip("*:").rstrip()


# -- Excel error cells (calamine reads them as blanks) --------------------------------------------

_ERROR_CELL = re.compile(rb'<c\b[^>]*?\bt="e"[^>]*>')
_R_ATTR = re.compile(rb'\br="([A-Z]{1,3})(\d{1,7})"')
_V = re.compile(rb"<v>([^<]{0,40})</v>")
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → part name (xl/worksheets/sheet1.xml), from workbook.xml and its rels."""
    try:
        book = SafeET.fromstring(zf.read("xl/workbook.xml"))
        rels = SafeET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except Exception:
        return {}
    targets = {}
    for rel in rels:
        target = rel.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        targets[rel.get("Id")] = re.sub(r"[^/]+/\.\./", "", part)
    out = {}
    for el in book.iter():
        if el.tag.endswith("}sheet"):
            rid = el.get(f"{_REL_NS}id")
            if rid in targets:
                out[el.get("name", "")] = targets[rid]
    return out


def excel_errors(info: FileInfo) -> dict[str, dict[tuple[int, int], CellError]]:
    """The Excel error values (#N/A …) of every sheet that has any, by 0-based (row, column)."""
    if not info.error_parts:
        return {}
    out: dict[str, dict[tuple[int, int], CellError]] = {}
    with zipfile.ZipFile(info.path) as zf:
        for sheet, part in _sheet_parts(zf).items():
            if part not in info.error_parts:
                continue
            data = zf.read(part)  # bounded: check_file has vetted every part's size
            cells: dict[tuple[int, int], CellError] = {}
            for m in _ERROR_CELL.finditer(data):
                ref = _R_ATTR.search(m[0])
                value = _V.search(data, m.end(), m.end() + 4000)
                if ref and value:
                    col = column_index(ref[1].decode())
                    text = value[1].decode("utf-8", "replace").strip() or "#N/A"
                    cells[(int(ref[2]) - 1, col - 1)] = CellError(text)
            out[sheet] = cells
    return out


# -- recognising the workbook -------------------------------------------------------------------


_LABELS: dict[int, tuple[FormRules, frozenset[str]]] = {}


def _form_labels(form: FormRules) -> frozenset[str]:
    cached = _LABELS.get(id(form))
    if cached is None or cached[0] is not form:
        keys = frozenset(k for k in (label_key(f.label) for f in form.all_fields) if k)
        cached = _LABELS[id(form)] = (form, keys)
    return cached[1]


def _marker(book: dict[str, Any]) -> tuple[str | None, int | None]:
    for name, sheet in book["sheets"].items():
        columns = sheet.get("columns") or []
        if name.casefold() != MARKER_SHEET.casefold() or not columns:
            continue
        r0, c0 = sheet["start"] or (0, 0)
        if (r0, c0) != (0, 0):
            continue
        row = [values[codes[0]] for values, codes in columns]
        if not row or str(row[0]).strip() != MARKER_TAG:
            continue
        kind = str(row[1]).strip() if len(row) > 1 else ""
        return kind or None, _as_int(row[2] if len(row) > 2 else None)
    return None, None


def _as_int(value: Any) -> int | None:
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError):
        return None


def _by_labels(grids: dict[str, Grid], rules: Rules) -> tuple[str, str, float] | None:
    """The (kind, sheet) whose labels best match a sheet's text, when they match well enough."""
    best: tuple[str, str, float] | None = None
    for name, grid in grids.items():
        texts = set(grid.texts())
        for kind, form in rules.forms.items():
            labels = _form_labels(form)
            share = len(labels & texts) / len(labels)
            if share >= MIN_LABEL_SHARE and (best is None or share > best[2]):
                best = (kind, name, share)
    return best


# -- locating fields ------------------------------------------------------------------------------


def _value_right_of(grid: Grid, r: int, c: int) -> tuple[int, int]:
    """The cell right of a label (past a label merged over several columns)."""
    nxt = c + 1
    while (r, nxt) in grid.anchor and grid.anchor[(r, nxt)] == (r, c):
        nxt += 1
    return r, nxt


def _form_fields(grid: Grid, form: FormRules, lay: Any) -> dict[str, RawCell]:
    texts: dict[str, tuple[int, int]] | None = None  # searched only when a label has moved
    out: dict[str, RawCell] = {}
    for f in form.form_fields:
        r, c = parse_cell(lay.cells[f.key])  # 1-based; the grid counts from 0
        r, c = r - 1, c - 1
        key = label_key(f.label)
        if label_key(str(grid.get(r, 0) or "")) != key:
            if texts is None:
                texts = grid.texts(max(LABEL_SCAN_ROWS, lay.last_row + 20))
            if key in texts:
                r, c = _value_right_of(grid, *texts[key])
        out[f.key] = grid.cell(r, c)
    return out


def _header(grid: Grid, labels: dict[str, str], expected_row: int) -> tuple[int, dict[str, int]]:
    """The header row (0-based) and field key → column found by label, near where expected."""

    def match(r: int) -> dict[str, int]:
        found: dict[str, int] = {}
        width = grid.c0 + (grid.width if 0 <= r - grid.r0 < grid.height else 0)
        for c in range(width):
            value = grid.get(r, c)
            if isinstance(value, str):
                key = labels.get(label_key(value))
                if key is not None:
                    found.setdefault(key, c)
        return found

    best_row, best = expected_row, match(expected_row)
    if len(best) < len(labels):
        for r in range(min(grid.nrows, LABEL_SCAN_ROWS)):
            candidate = match(r)
            if len(candidate) > len(best):
                best_row, best = r, candidate
    return best_row, best


def _table(grid: Grid, columns: dict[str, int], first: int, last: int | None) -> RawTable:
    """The rows with data between ``first`` and ``last`` (0-based), as encoded columns by key.

    Whole columns are sliced from the worker's encoding; only cells with an Excel error or
    inside a merged range are looked at one by one, and rows are visited one by one only when
    every column has blank values (to drop the rows blank in all of them).
    """
    keys = list(columns)
    letters = {k: column_letter(columns[k] + 1) for k in keys}
    start = max(first, grid.r0)
    end = grid.nrows if last is None else min(last + 1, grid.nrows)
    if not keys or end <= start:
        return RawTable(grid.name, letters)
    i0, i1 = start - grid.r0, end - grid.r0
    data: list[Column] = []
    for k in keys:
        j = columns[k] - grid.c0
        if 0 <= j < grid.width:
            values, codes = grid.columns[j]
            data.append((values, codes[i0:i1]))
        else:
            data.append(([None], array("B", bytes(i1 - i0))))
    position = {columns[k]: n for n, k in enumerate(keys)}
    changes: dict[int, dict[int, Any]] = {}  # column position → row position → value
    for r, c in [*grid.errors, *grid.anchor]:
        if start <= r < end and c in position:
            changes.setdefault(position[c], {})[r - start] = grid.get(r, c)
    for n, changed in changes.items():
        data[n] = with_values(data[n], changed)
    blank = [blank_positions(values) for values, _ in data]
    numbers = list(range(start + 1, end + 1))
    if all(blank):  # rows blank in every column are not rows of the table
        empty = [i for i, code in enumerate(data[0][1]) if code in blank[0]]
        for (_, codes), blanks in zip(data[1:], blank[1:], strict=True):
            empty = [i for i in empty if codes[i] in blanks]
        if empty:
            dropped = set(empty)
            keep = [i for i in range(i1 - i0) if i not in dropped]
            data = [take(column, keep) for column in data]
            numbers = [numbers[i] for i in keep]
    return RawTable(grid.name, letters, numbers, data)


def _missing_columns(
    form_columns: list[Any], found: dict[str, int], file: str, sheet: str, header_row: int
) -> list[Problem]:
    return [
        make_problem(
            "E_MISSING_COLUMN",
            file=file,
            sheet=sheet,
            cell=f"A{header_row + 1}",
            field=f.key,
            label=f.label,
        )
        for f in form_columns
        if f.key not in found and f.required
    ]


# -- the reader -----------------------------------------------------------------------------------


def read_workbook(path: str | Path, rules: Rules) -> WorkbookData:
    """Read and recognise a submitted workbook; FileRejected when it cannot be read at all."""
    path = Path(path)
    limits = rules.validation
    checking = start_check(path, limits)  # signature, size and zip directory: before any parser
    wanted = {kind: form.sheet for kind, form in rules.forms.items()}
    # the isolated worker parses while this process scans the parts; nothing read is used unless
    # the scan passes (a rejected file's parse is abandoned, its worker stopped if still busy)
    try:
        with reader_pool(limits).reading(path, wanted, limits.worker_timeout_seconds) as book_of:
            info = checking.finish()
            book = book_of()
    finally:
        checking.close()
    errors = excel_errors(info) if info.format in ("xlsx", "xlsm") else {}
    grids = {
        name: Grid(name, sheet, errors.get(name, {}))
        for name, sheet in book["sheets"].items()
        if name.casefold() != MARKER_SHEET.casefold()
    }
    if not grids or all(g.is_empty() for g in grids.values()):
        raise FileRejected("E_EMPTY", detail="工作簿中没有任何内容")
    file = str(path)
    problems: list[Problem] = []
    kind, version = _marker(book)
    recognised_by = "marker"
    if kind is None and info.properties.get("xietong_kind"):
        kind = info.properties["xietong_kind"]
        version = _as_int(info.properties.get("xietong_version"))
        recognised_by = "properties"
    sheet_name: str | None = None
    if kind is None:
        found = _by_labels(grids, rules)
        if found is None:
            raise FileRejected("E_UNKNOWN_WORKBOOK", detail="没有模板标记，标签也对不上任何模板")
        kind, sheet_name, _ = found
        recognised_by = "labels"
    if kind not in rules.forms:
        raise FileRejected("E_UNKNOWN_WORKBOOK", detail=f"模板类型“{kind}”不在规则中")
    form = rules.form(kind)
    if sheet_name is None:
        sheet_name = form.sheet if form.sheet in grids else _best_sheet(grids, form)
    if sheet_name is None:
        raise FileRejected("E_UNKNOWN_WORKBOOK", detail=f"找不到工作表“{form.sheet}”")
    if recognised_by == "labels":
        problems.append(make_problem("W_MARKER_MISSING", file=file, detail=form.title))
    if version is not None and version < form.version:
        problems.append(
            make_problem("E_OUTDATED_TEMPLATE", file=file, found=version, expected=form.version)
        )
    elif version is not None and version > form.version:
        problems.append(
            make_problem("W_TEMPLATE_NEWER", file=file, found=version, expected=form.version)
        )
    if info.format in LEGACY_FORMATS:
        problems.append(
            make_problem("W_LEGACY_FORMAT", file=file, detail=LEGACY_FORMATS[info.format])
        )
    data = WorkbookData(
        path, kind, version, sheet_name, info.format, problems=problems, recognised_by=recognised_by
    )
    _fill(data, grids[sheet_name], form)
    return data


def _best_sheet(grids: dict[str, Grid], form: FormRules) -> str | None:
    labels = _form_labels(form)
    scored = [(len(labels & set(g.texts())), name) for name, g in grids.items()]
    scored = [s for s in scored if s[0] > 0]
    return max(scored)[1] if scored else None


def _fill(data: WorkbookData, grid: Grid, form: FormRules) -> None:
    lay = layout(form)
    file = str(data.path)
    data.fields = _form_fields(grid, form, lay)
    if form.layout == "table":
        labels = {label_key(f.label): f.key for f in form.columns}
        header, found = _header(grid, labels, lay.header_row - 1)
        data.problems.extend(_missing_columns(form.columns, found, file, grid.name, header))
        data.table = _table(grid, found, header + 1, None)
    for spec in form.tables:
        t = lay.tables[spec.key]
        labels = {label_key(c.label): c.key for c in spec.columns}
        header, found = _header(grid, labels, t.header_row - 1)
        data.problems.extend(_missing_columns(spec.columns, found, file, grid.name, header))
        data.inner[spec.key] = _table(grid, found, header + 1, header + spec.rows)
