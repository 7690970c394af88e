"""The worker process that parses workbooks with python-calamine.

calamine is fast, but on some crafted files it allocates without bound or aborts the whole
process. Parsing therefore happens here, in a child process with an address-space limit; the
parent (``automation.io.reader``) survives a crash, a memory blow-up or a hang of this process
and reports it with a stable code. Only the standard library and python_calamine are imported,
so the worker starts quickly.
"""

from __future__ import annotations

import sys
from typing import Any

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


def read_book(path: str, wanted: list[str], marker: str) -> dict[str, Any]:
    """Every sheet the reader may need, as plain lists of cell values with their offsets."""
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
        for name in wanted:
            if name in names and name not in to_read:
                to_read.append(name)
        visible = [
            m.name
            for m in meta
            if m.visible == pc.SheetVisibleEnum.Visible
            and m.typ == pc.SheetTypeEnum.WorkSheet
            and m.name not in to_read
        ]
        to_read.extend(visible[:MAX_SHEETS])
        sheets: dict[str, Any] = {}
        for name in to_read:
            sheet = wb.get_sheet_by_name(name)
            try:
                merged = sheet.merged_cell_ranges
            except Exception:  # merged ranges are a convenience, never a reason to fail
                merged = None
            sheets[name] = {
                "rows": sheet.to_python(skip_empty_area=True),
                "start": sheet.start,
                "merged": merged or [],
            }
    return {"names": names, "visibility": visibility, "types": kinds, "sheets": sheets}


def serve(conn: Any, memory_mb: int) -> None:
    """Answer read requests on ``conn`` until it closes: ("ok", book) or ("error", kind, text)."""
    set_memory_limit(memory_mb)
    import python_calamine as pc

    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        path, wanted, marker = request
        try:
            conn.send(("ok", read_book(path, wanted, marker)))
        except pc.PasswordError as exc:
            conn.send(("error", "password", str(exc)))
        except MemoryError:
            conn.send(("error", "memory", "MemoryError"))
        except Exception as exc:  # every calamine error becomes a coded rejection in the parent
            conn.send(("error", type(exc).__name__, str(exc)[:500]))
        sys.stdout.flush()
