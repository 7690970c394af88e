"""结果归档: the acceptance checklist (验收清单) of a finished item, and the names and bag-info of
its archive. Pure: the caller lists the item folder and reads its workbooks; nothing here touches a
file or the wall clock.

A checklist has one entry per expected document (``rules/archive.yaml``), per cooperating
department where the document is per department, each ``found`` / ``missing`` / ``incomplete``
(or ``na`` when the process does not call for it) with what is missing named in Chinese.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from automation.rules.archive import ArchiveRules, DocumentSpec

Status = Literal["found", "missing", "incomplete", "na"]
STATUS_ZH: dict[str, str] = {
    "found": "齐全",
    "missing": "缺失",
    "incomplete": "不完整",
    "na": "不适用",
}

# Windows refuses these names for files and folders (any extension), and trailing dots/spaces.
_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?$", re.IGNORECASE)
_BAD_CHARS = '<>:"/\\|?*'
_LIST_SEPARATORS = re.compile(r"[、，,；;\n\r]+")


@dataclass(frozen=True)
class FolderFile:
    """One file of an item folder as the caller found it (workbooks read by the validator)."""

    name: str  # path inside the item folder, ``/``-separated
    kind: str | None = None  # workbook kind from its marker; None for other files
    fields: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ChecklistEntry:
    key: str
    label: str
    department: str | None
    status: Status
    files: tuple[str, ...] = ()
    note: str = ""  # Chinese: what is missing or why

    @property
    def gap(self) -> bool:
        return self.status in ("missing", "incomplete")

    @property
    def title(self) -> str:
        return f"{self.label}（{self.department}）" if self.department else self.label

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "department": self.department,
            "status": self.status,
            "status_zh": STATUS_ZH[self.status],
            "files": list(self.files),
            "note": self.note,
        }


@dataclass(frozen=True)
class Checklist:
    """验收清单 of one item."""

    item_id: str
    title: str
    entries: tuple[ChecklistEntry, ...]

    @property
    def complete(self) -> bool:
        return not self.gaps

    @property
    def gaps(self) -> list[ChecklistEntry]:
        return [e for e in self.entries if e.gap]

    def gap_lines(self) -> list[str]:
        """One Chinese line per gap: ``会议纪要…：缺失，…``."""
        return [f"{e.title}：{STATUS_ZH[e.status]}，{e.note}".rstrip("，") for e in self.gaps]

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "title": self.title,
            "complete": self.complete,
            "entries": [e.as_dict() for e in self.entries],
        }


def filled(value: Any) -> bool:
    if value is None or value == [] or value == ():
        return False
    return not (isinstance(value, str) and not value.strip())


def split_list(value: Any) -> list[str]:
    """A list typed in one cell (``生产部、市场部``, ``a.pdf，b.docx``) as its parts."""
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    if not filled(value):
        return []
    return [p.strip() for p in _LIST_SEPARATORS.split(str(value)) if p.strip()]


def item_departments(row: dict[str, Any], departments_field: str) -> list[str]:
    """The cooperating departments of an item (the per-department documents)."""
    return list(dict.fromkeys(split_list(row.get(departments_field))))


def _same_item(value: Any, item_id: str) -> bool:
    return not filled(value) or str(value).strip().upper() == item_id.upper()


def _field_ok(doc: DocumentSpec, row: dict[str, Any]) -> tuple[bool, str]:
    """Whether the tracking row has what the document needs, and the Chinese reason if not."""
    if doc.field is None or doc.find == "attachments":
        return True, ""
    value = row.get(doc.field)
    if not filled(value):
        return False, f"跟踪表未填写“{doc.field}”"
    if doc.equals is not None and str(value).strip() != doc.equals:
        return False, f"跟踪表“{doc.field}”为“{value}”，不是“{doc.equals}”"
    return True, ""


def build_checklist(
    spec: ArchiveRules,
    row: dict[str, Any],
    files: Iterable[FolderFile],
    *,
    departments: list[str],
    revisions: int = 1,
    weekly: Iterable[FolderFile] = (),
    request_fields: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> Checklist:
    """The checklist of one item from its tracking ``row`` and what its folder holds.

    ``revisions``: how many versions of the request the tracking table knows; ``weekly``: weekly
    report workbooks outside the folder; ``request_fields``: the latest request's values when no
    request workbook is in the folder; ``labels``: Chinese labels of tracking fields for notes.
    """
    item_id = str(row.get("item_id") or "").strip()
    files = list(files)
    weekly = [*[f for f in files if f.kind == "weekly"], *weekly]
    labels = labels or {}
    requests = [f for f in files if f.kind == "request"]
    request = dict(request_fields or {})
    if requests:
        request = {**request, **requests[-1].fields}
    entries: list[ChecklistEntry] = []
    for doc in spec.documents:
        targets: list[str | None] = list(departments) if doc.per == "department" else [None]
        for dept in targets:
            entry = _entry(spec, doc, dept, row, files, weekly, revisions, request, item_id)
            entries.append(_labelled(entry, labels))
    return Checklist(item_id, str(row.get("title") or ""), tuple(entries))


def _labelled(entry: ChecklistEntry, labels: dict[str, str]) -> ChecklistEntry:
    note = entry.note
    for key, label in labels.items():
        note = note.replace(f"“{key}”", f"“{label}”")
    return ChecklistEntry(entry.key, entry.label, entry.department, entry.status, entry.files, note)


def _entry(
    spec: ArchiveRules,
    doc: DocumentSpec,
    dept: str | None,
    row: dict[str, Any],
    files: list[FolderFile],
    weekly: list[FolderFile],
    revisions: int,
    request: dict[str, Any],
    item_id: str,
) -> ChecklistEntry:
    def make(status: Status, found: Iterable[str] = (), note: str = "") -> ChecklistEntry:
        return ChecklistEntry(doc.key, doc.label, dept, status, tuple(found), note)

    field_ok, field_why = _field_ok(doc, row)
    if doc.find == "attachments":
        return _attachments(make, doc, files, request)
    if doc.find == "form" and doc.kind == "weekly":
        return _weekly(make, weekly, item_id, dept)
    if doc.find == "form":
        found = [f for f in files if f.kind == doc.kind and _belongs(f, item_id, dept)]
        names = [f.name for f in found]
        if not found:
            return make("missing", note=f"事项文件夹中没有{doc.label}")
        if doc.kind == "request" and len(found) < revisions:
            return make("incomplete", names, f"申请共 {revisions} 版，只找到 {len(found)} 份")
        if doc.kind == "minutes":
            missing = missing_signatures(spec, found, signing_departments(row))
            if missing:
                return make("incomplete", names, "缺少签字：" + "、".join(missing))
        if doc.kind == "execution" and not any(f.rows for f in found):
            return make("incomplete", names, "执行跟踪表中没有任何每日进度行")
        if not field_ok:
            return make("incomplete", names, field_why)
        return make("found", names)
    # find: file
    found = [f for f in files if _name_matches(f.base, doc.names, dept)]
    names = [f.name for f in found]
    if not found:
        if doc.field_suffices and field_ok and doc.field is not None:
            return make("found", note=f"已在跟踪表“{doc.field}”中填写")
        what = "或".join(f"“{n}”" for n in doc.names)
        who = f"文件名含{dept}及" if dept else "文件名含"
        return make("missing", note=f"事项文件夹中没有{who}{what}的文件")
    if not field_ok and not doc.field_suffices:
        return make("incomplete", names, field_why)
    return make("found", names)


def signing_departments(row: dict[str, Any]) -> list[str]:
    """Every department whose head signs the minutes: the lead and the cooperating ones."""
    lead = split_list(row.get("lead_dept"))
    coop = split_list(row.get("coop_depts"))
    return list(dict.fromkeys([*lead, *coop]))


def missing_signatures(
    spec: ArchiveRules, minutes: list[FolderFile], departments: list[str]
) -> list[str]:
    """Departments without a filled head signature in any of the minutes, in Chinese."""
    sig = spec.signatures
    signed: set[str] = set()
    listed: set[str] = set()
    for m in minutes:
        for r in m.tables.get(sig.table, []):
            dept = r.get(sig.department)
            if not filled(dept):
                continue
            listed.add(str(dept).strip())
            if filled(r.get(sig.sign)):
                signed.add(str(dept).strip())
    wanted = list(dict.fromkeys([*departments, *sorted(listed)]))
    out = []
    for dept in wanted:
        if dept in signed:
            continue
        out.append(f"{dept}负责人" if dept in listed else f"{dept}（未列入参会部门）")
    return out


def _belongs(f: FolderFile, item_id: str, dept: str | None) -> bool:
    if not _same_item(f.fields.get("item_id"), item_id):
        return False
    if dept is None:
        return True
    return str(f.fields.get("department") or "").strip() == dept


def _name_matches(name: str, fragments: list[str], dept: str | None) -> bool:
    if not any(frag in name for frag in fragments):
        return False
    return dept is None or dept in name


def _weekly(make: Any, weekly: list[FolderFile], item_id: str, dept: str | None) -> ChecklistEntry:
    weeks: set[str] = set()
    names: list[str] = []
    for f in weekly:
        hit = False
        for r in f.rows:
            if str(r.get("item_id") or "").strip().upper() != item_id.upper():
                continue
            if dept is not None and str(r.get("department") or "").strip() != dept:
                continue
            if filled(r.get("week")):
                weeks.add(str(r["week"]).strip())
                hit = True
        if hit:
            names.append(f.name)
    if not weeks:
        return make("missing", note="没有该部门关于本事项的周进度报告")
    return make("found", names, f"已报 {len(weeks)} 周：" + "、".join(sorted(weeks)))


def _attachments(
    make: Any, doc: DocumentSpec, files: list[FolderFile], request: dict[str, Any]
) -> ChecklistEntry:
    assert doc.field is not None
    listed = split_list(request.get(doc.field))
    if not listed:
        return make("na", note="申请表未列出附件")
    found, missing = [], []
    for name in listed:
        stem = name.rsplit(".", 1)[0] if "." in name else name
        hits = [f.name for f in files if name in f.base or (stem and stem in f.base)]
        if hits:
            found.extend(h for h in hits if h not in found)
        else:
            missing.append(name)
    if missing:
        status: Status = "missing" if not found else "incomplete"
        return make(status, found, "缺少附件：" + "、".join(missing))
    return make("found", found)


# -- names of the archive --------------------------------------------------------------------------


def safe_name(text: str, limit: int = 40) -> str:
    """A file or folder name every system accepts: no ``<>:"/\\|?*`` or control characters,
    no trailing dot or space, not a reserved Windows name (``CON``, ``COM1`` …)."""
    cleaned = "".join("_" if c in _BAD_CHARS or ord(c) < 32 else c for c in str(text or ""))
    cleaned = cleaned.strip()[:limit] if limit else ""
    cleaned = cleaned.rstrip(" .")
    if _RESERVED.match(cleaned):
        cleaned = "_" + cleaned
    return cleaned


def bag_folder_name(item_id: str, title: str, limit: int = 40) -> str:
    """``<ID> <title>`` of an archived item, safe on Windows."""
    return f"{safe_name(item_id, 0) or item_id} {safe_name(title, limit)}".rstrip(" .")


def archive_year(row: dict[str, Any], as_of: dt.date) -> int:
    """The year folder of an item: its completion (else archive) date, else ``as_of``."""
    for key in ("completion_date", "archive_date"):
        value = row.get(key)
        if isinstance(value, dt.date):
            return value.year
    return as_of.year


def too_long(paths: Iterable[str], limit: int) -> list[str]:
    """Paths longer than ``limit`` characters (Windows tools without long-path support fail)."""
    return [p for p in paths if len(p) > limit]


# -- bag-info ---------------------------------------------------------------------------------


def bag_info(
    row: dict[str, Any],
    checklist: Checklist,
    *,
    clock_lines: list[str],
    archive_date: dt.date,
    explicit: bool,
    software: str,
) -> dict[str, Any]:
    """bag-info.txt of an item (RFC 8493 §2.2.2; repeated labels as lists)."""

    def text(key: str) -> str:
        value = row.get(key)
        if isinstance(value, dt.date):
            return value.isoformat()
        return (
            "、".join(split_list(value)) if isinstance(value, (list, tuple)) else str(value or "")
        )

    info: dict[str, Any] = {
        "External-Identifier": checklist.item_id,
        "External-Description": checklist.title,
        "Bagging-Date": archive_date.isoformat(),
        "Bag-Software-Agent": software,
        "Xietong-Revision": text("revision") or "1",
        "Xietong-Requesting-Department": text("requesting_dept"),
        "Xietong-Lead-Department": text("lead_dept"),
        "Xietong-Cooperating-Departments": text("coop_depts"),
    }
    dates = {
        "Submitted": "submitted_date",
        "Registered": "registered_date",
        "Evaluated": "evaluation_date",
        "Meeting": "meeting_date",
        "Minutes-Signed": "minutes_date",
        "Plan": "plan_date",
        "Approved": "approval_date",
        "Completed": "completion_date",
    }
    for label, key in dates.items():
        if filled(row.get(key)):
            info[f"Xietong-Date-{label}"] = text(key)
    archived = row.get("archive_date")
    info["Xietong-Date-Archived"] = (
        archived.isoformat() if isinstance(archived, dt.date) else archive_date.isoformat()
    )
    info["Xietong-Archive-Mode"] = "explicit" if explicit else "automatic"
    info["Xietong-Checklist"] = "complete" if checklist.complete else f"{len(checklist.gaps)} gaps"
    if checklist.gaps:
        info["Xietong-Checklist-Gap"] = checklist.gap_lines()
    if clock_lines:
        info["Xietong-Clock"] = clock_lines
    return {k: v for k, v in info.items() if v not in ("", [])}


def clock_summary(results: Iterable[Any]) -> list[str]:
    """One line per clock of the final cycle: ``接收登记: 按时完成``, ``… 逾期完成 2 个工作日``."""
    out = []
    for r in results:
        who = f"（{r.department}）" if getattr(r, "department", None) else ""
        line = f"{r.label}{who}: {r.state_zh}"
        if r.late_workdays:
            line += f" {r.late_workdays} 个工作日"
        out.append(line)
    return out
