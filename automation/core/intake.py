"""Registering requests (接收登记), pure: fingerprints, tracking rows, revisions, approval routes.

No file access here: the I/O layer (``automation.process.intake``) reads the inbox and the tracking
table and passes plain values in.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from automation.core.normalize import is_blank
from automation.rules.departments import DepartmentsRules
from automation.rules.forms import FormRules
from automation.rules.process import ItemIds, RoutingRules

RETURNED = "不通过"  # evaluation_result of a request sent back to the requester
PASSED = "通过"
ROW_KEYS_SET_BY_INTAKE = ("item_id", "revision", "submitted_date", "registered_date")


def normalise_value(value: Any) -> str:
    """A canonical text of a typed field value, so equal content gives equal text."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "、".join(normalise_value(v) for v in value)
    text = unicodedata.normalize("NFKC", str(value))
    return re.sub(r"\s+", " ", text).strip()


def fingerprint(fields: Mapping[str, Any], keys: Iterable[str] | None = None) -> str:
    """Content fingerprint of a request: sha256 over the normalised values of its fields.

    The file's bytes do not matter: the same form re-saved (new timestamps, other zip order,
    a different Excel) has the same fingerprint; blank fields are left out so a field added to
    the template later does not change old fingerprints.
    """
    wanted = sorted(keys) if keys is not None else sorted(fields)
    canon = {k: normalise_value(fields.get(k)) for k in wanted}
    canon = {k: v for k, v in canon.items() if v}
    text = json.dumps(canon, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tracking_row(
    request_fields: Mapping[str, Any],
    tracking: FormRules,
    request: FormRules,
    *,
    submitted: dt.date,
    registered: dt.date,
) -> dict[str, Any]:
    """The tracking-table values of a new registration (without item_id and revision).

    Requester data is copied into every tracking column whose key is also a request field.
    """
    request_keys = {f.key for f in request.all_fields}
    row: dict[str, Any] = {"submitted_date": submitted, "registered_date": registered}
    for col in tracking.columns:
        if col.key in ROW_KEYS_SET_BY_INTAKE or col.key not in request_keys:
            continue
        value = request_fields.get(col.key)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, (list, tuple)):
            value = "、".join(str(v) for v in value)
        row[col.key] = value
    return row


def id_pattern(ids: ItemIds) -> re.Pattern[str]:
    return _id_pattern(ids.prefix)


@functools.lru_cache(maxsize=16)
def _id_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Z0-9]){re.escape(prefix)}-(\d{{4}})-(\d+)(?!\d)")


def parse_item_id(text: str, ids: ItemIds) -> tuple[int, int] | None:
    """(year, sequence) of an item ID like XT-2026-0007, or None."""
    m = id_pattern(ids).fullmatch(text.strip()) if text else None
    return (int(m.group(1)), int(m.group(2))) if m else None


def ids_mentioned(texts: Iterable[str], ids: ItemIds) -> list[str]:
    """Item IDs written in a file name or a field (a resubmission may carry its ID)."""
    pattern = id_pattern(ids)
    found: dict[str, None] = {}  # in the order first seen (a list scanned per match was quadratic)
    for text in texts:
        for m in pattern.finditer(unicodedata.normalize("NFKC", text or "")):
            found.setdefault(m.group(0))
    return list(found)


def highest_seq(item_ids: Iterable[str], year: int, ids: ItemIds) -> int:
    """The highest sequence number of ``year`` among existing IDs (0 when none)."""
    best = 0
    for item_id in item_ids:
        parsed = parse_item_id(str(item_id or ""), ids)
        if parsed and parsed[0] == year:
            best = max(best, parsed[1])
    return best


def latest_revisions(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The row of the highest revision of every item in the tracking table."""
    latest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        item_id = row.get("item_id")
        if not item_id:
            continue
        rev = _revision(row)
        if item_id not in latest or rev >= _revision(latest[item_id]):
            latest[item_id] = row
    return latest


def _revision(row: Mapping[str, Any]) -> int:
    try:
        return int(row.get("revision") or 1)
    except (TypeError, ValueError):
        return 1


def returned_item(
    request_fields: Mapping[str, Any],
    rows: Iterable[Mapping[str, Any]],
    *,
    mentioned_ids: Iterable[str] = (),
) -> tuple[str, int] | None:
    """The returned item (evaluation 不通过) this request corrects: (item_id, latest revision).

    A resubmission carries the item's ID (file name or a field), or has the same requesting
    department and title as the returned request. Only an item whose latest revision was
    returned can get a new revision.
    """
    latest = latest_revisions(rows)
    for item_id in mentioned_ids:
        row = latest.get(item_id)
        if row is not None and row.get("evaluation_result") == RETURNED:
            return item_id, _revision(row)
    dept = normalise_value(request_fields.get("requesting_dept"))
    title = normalise_value(request_fields.get("title"))
    if not dept or not title:
        return None
    for item_id, row in sorted(latest.items()):
        if (
            row.get("evaluation_result") == RETURNED
            and normalise_value(row.get("requesting_dept")) == dept
            and normalise_value(row.get("title")) == title
        ):
            return item_id, _revision(row)
    return None


def _filled(value: Any) -> bool:
    # The one blank rule (0 is an answer, not a blank).
    return not is_blank(value)


def approvers(request_fields: Mapping[str, Any], routing: RoutingRules) -> list[str]:
    """Approver roles of the overall plan (finance, leader, gm_meeting), in route order."""
    out: list[str] = []
    for route in routing.routes:
        hit = any(_filled(request_fields.get(k)) for k in route.when_filled)
        if route.when_equals and all(
            normalise_value(request_fields.get(k)) == v for k, v in route.when_equals.items()
        ):
            hit = True
        if hit:
            out.extend(a for a in route.approvers if a not in out)
    if not out:
        out = list(routing.default_approvers)
    return out


def approval_route(
    request_fields: Mapping[str, Any],
    routing: RoutingRules,
    departments: DepartmentsRules,
    *,
    lead_dept: str | None = None,
) -> str:
    """The approval route (审批路径) written into the tracking table, e.g. ``财务部 → 分管领导（杨帆）``.

    The leader is the one in charge of the lead department (else of the requesting department)
    when departments.yaml names one.
    """
    roles = departments.roles
    names: list[str] = []
    for role in approvers(request_fields, routing):
        if role == "finance":
            names.append(roles.finance)
        elif role == "gm_meeting":
            names.append(roles.gm_meeting.name)
        else:
            leader = _leader_of(departments, lead_dept) or _leader_of(
                departments, normalise_value(request_fields.get("requesting_dept"))
            )
            names.append(f"{roles.leader_role}（{leader}）" if leader else roles.leader_role)
    return " → ".join(names)


def _leader_of(departments: DepartmentsRules, dept: str | None) -> str | None:
    if not dept:
        return None
    for leader in departments.roles.leaders:
        if dept in leader.departments:
            return leader.name
    return None


def format_deadline(when: dt.datetime | None) -> str:
    """Tracking column ``current_deadline``: ``2026-10-09 18:00`` (blank when none)."""
    return "" if when is None else when.strftime("%Y-%m-%d %H:%M")


def same_value(current: Any, wanted: Any) -> bool:
    """Whether a cell already shows the wanted value (so it is not rewritten)."""
    if wanted.__class__ is str and current.__class__ is str and current == wanted:
        return True  # the usual case of a run with nothing new: no text normalised
    if isinstance(wanted, (int, float)) and not isinstance(wanted, bool):
        try:
            return current is not None and current != "" and float(current) == float(wanted)
        except (TypeError, ValueError):
            return False
    if isinstance(wanted, dt.date) and isinstance(current, dt.date):
        return _as_date(current) == _as_date(wanted)
    return normalise_value(current) == normalise_value(wanted)


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def changed_values(row: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The wanted values that differ from what the row shows."""
    return {k: v for k, v in wanted.items() if not same_value(row.get(k), v)}


def to_json_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values storable as JSON (dates as ISO text, lists as lists)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, (dt.date, dt.datetime)):
            out[k] = v.isoformat()
        elif isinstance(v, tuple):
            out[k] = list(v)
        else:
            out[k] = v
    return out


def from_json_values(values: Mapping[str, Any], form: FormRules) -> dict[str, Any]:
    """Back from :func:`to_json_values`: date fields of ``form`` become dates again."""
    date_keys = {f.key for f in form.all_fields if f.type == "date"}
    out: dict[str, Any] = {}
    for k, v in values.items():
        if k in date_keys and isinstance(v, str) and v:
            try:
                out[k] = dt.date.fromisoformat(v[:10])
                continue
            except ValueError:
                pass
        out[k] = v
    return out


_LIST_SEPARATORS = re.compile(r"[、,，;；\s]+")


def attachment_listed(listing: str, file_name: str) -> bool:
    """Whether a request's 附件清单 names a file: its whole name anywhere in the text, or its
    name without extension as one entry of the list (``需求说明、预算表.xlsx``)."""
    text = unicodedata.normalize("NFKC", listing or "").casefold()
    name = unicodedata.normalize("NFKC", file_name or "").casefold().strip()
    if not text.strip() or not name:
        return False
    if name in text:
        return True
    stem = name.rsplit(".", 1)[0] if "." in name else name
    entries = [e.strip("《》“”\"'()（） ") for e in _LIST_SEPARATORS.split(text)]
    return any(e and (e == stem or e.rsplit(".", 1)[0] == stem) for e in entries)
