"""The worker process that parses workbooks with python-calamine.

calamine is fast, but on some crafted files it allocates without bound or aborts the whole
process. Parsing therefore happens here, in a child process with an address-space limit; the
parent (``automation.io.reader``) survives a crash, a memory blow-up or a hang of this process
and reports it with a stable code. Only the standard library, python_calamine and the stdlib-only
:mod:`automation.core.columns` are imported, so the worker starts quickly.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from automation.core.columns import encode_rows

MAX_SHEETS = 20  # visible sheets read from one workbook (the form is one of the first few)


def set_memory_limit(megabytes: int) -> None:
    """Bound the address space of this process (POSIX; Windows relies on the timeout)."""
    try:
        import resource
    except ImportError:  # Windows
        return
    limit = megabytes * 1024 * 1024
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass


def _marker_kind(sheet: Any) -> str | None:
    rows = sheet.to_python(skip_empty_area=False, nrows=1)
    if rows and len(rows[0]) > 1 and str(rows[0][0]).strip() == "xietong":
        return str(rows[0][1]).strip()
    return None


def _quiet_stderr() -> None:
    """A Rust abort prints a backtrace on stderr; the parent reports a coded error instead."""
    os.environ["RUST_BACKTRACE"] = "0"
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    except OSError:
        pass


def read_book(path: str, wanted: dict[str, str], marker: str) -> dict[str, Any]:
    """Every sheet the reader may need, as encoded columns of cell values with their offsets.

    ``wanted`` maps each workbook kind to its main sheet: when the marker names a kind whose
    sheet is present, only the marker and that sheet are read; otherwise every visible sheet.
    """
    import python_calamine as pc

    with pc.load_workbook(path) as wb:
        meta = wb.sheets_metadata
        names = [m.name for m in meta]
        visibility = {m.name: str(m.visible).rsplit(".", 1)[-1].lower() for m in meta}
        kinds = {m.name: str(m.typ).rsplit(".", 1)[-1] for m in meta}
        to_read: list[str] = []
        for m in meta:
            if m.name.casefold() == marker.casefold():
                to_read.append(m.name)
        parsed: dict[str, Any] = {}  # each sheet parsed once (the marker is read twice)
        if to_read:
            parsed[to_read[0]] = wb.get_sheet_by_name(to_read[0])
        kind = _marker_kind(parsed[to_read[0]]) if to_read else None
        if kind in wanted and wanted[kind] in names:
            to_read.append(wanted[kind])
        visible = [
            m.name
            for m in meta
            if m.visible == pc.SheetVisibleEnum.Visible
            and m.typ == pc.SheetTypeEnum.WorkSheet
            and m.name not in to_read
        ]
        if len(to_read) < 2:
            to_read.extend(visible[:MAX_SHEETS])
        sheets: dict[str, Any] = {}
        for name in to_read:
            sheet = parsed[name] if name in parsed else wb.get_sheet_by_name(name)
            try:
                merged = sheet.merged_cell_ranges
            except Exception:  # merged ranges are a convenience, never a reason to fail
                merged = None
            sheets[name] = {
                "columns": encode_rows(sheet.to_python(skip_empty_area=True)),
                "start": sheet.start,
                "merged": merged or [],
            }
    return {"names": names, "visibility": visibility, "types": kinds, "sheets": sheets}


def serve(conn: Any, memory_mb: int) -> None:
    """Answer read requests on ``conn`` until it closes: ("ok", book) or ("error", kind, text)."""
    set_memory_limit(memory_mb)
    _quiet_stderr()
    import python_calamine  # noqa: F401  (loaded before the first request)

    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        conn.send(answer(*request))
        sys.stdout.flush()


def answer(path: str, wanted: dict[str, str], marker: str) -> tuple[Any, ...]:
    """("ok", book) or ("error", kind, text): every calamine error becomes a coded rejection in
    the parent."""
    import python_calamine as pc

    try:
        return ("ok", read_book(path, wanted, marker))
    except pc.PasswordError as exc:
        return ("error", "password", str(exc))
    except MemoryError:
        return ("error", "memory", "MemoryError")
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc)[:500])
