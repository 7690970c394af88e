"""The house keeps its shape: the pure core and the file primitives never reach up into the
workflow or the front ends, the package has no import cycle, and the rules are read once."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

import automation
from automation import rules as rules_module

PACKAGE = Path(automation.__file__).parent
# what each layer may never import (by module-name prefix)
FORBIDDEN = {
    "automation.core": (
        "automation.process",
        "automation.cli",
        "automation.api",
        "automation.demo",
        "automation.service",
        "automation.io",
    ),
    "automation.io": (
        "automation.process",
        "automation.cli",
        "automation.api",
        "automation.demo",
        "automation.service",
    ),
    "automation.rules": (
        "automation.process",
        "automation.cli",
        "automation.api",
        "automation.demo",
        "automation.io",
        "automation.service",
    ),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every ``automation`` module a file imports, at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("automation")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("automation"):
            found.add(node.module)
            for alias in node.names:  # "from automation.process import clocks"
                candidate = f"{node.module}.{alias.name}"
                if _exists(candidate):
                    found.add(candidate)
    return found


def _exists(module: str) -> bool:
    base = PACKAGE.parent / Path(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "_data" in path.parts:
            continue
        graph[_module_name(path)] = {m for m in _imports(path) if _exists(m)}
    return graph


def test_core_io_and_rules_never_import_the_workflow_or_the_front_ends():
    offences = []
    for module, imported in _graph().items():
        for layer, banned in FORBIDDEN.items():
            if module == layer or module.startswith(layer + "."):
                offences += [f"{module} → {m}" for m in imported if m.startswith(banned)]
    assert offences == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_package_has_no_import_cycle():
    graph = {m: {d for d in deps if d != m} for m, deps in _graph().items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = _graph()
    graph["automation.core.clocks"] = graph["automation.core.clocks"] | {"automation.api"}
    found = _cycles(graph)
    assert any("automation.core.clocks" in c and "automation.api" in c for c in found)


def test_a_run_with_nothing_new_loads_the_rules_once(tmp_path, monkeypatch):
    from automation.api import init_drive, run

    monkeypatch.setenv("XIETONG_SETTLE_SECONDS", "0")
    drive = tmp_path / "共享盘"
    init_drive(drive)
    run(drive, as_of="2026-10-21")
    rules_module._LOADED.clear()
    before = rules_module.LOAD_COUNT
    run(drive, as_of="2026-10-21")
    assert rules_module.LOAD_COUNT - before == 1
    # an edited rules file is read afresh on the next run
    clocks = drive / "09_规则配置" / "clocks.yaml"
    clocks.write_text(clocks.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    run(drive, as_of="2026-10-21")
    assert rules_module.LOAD_COUNT - before == 2


def test_asking_for_the_default_rules_keeps_a_drives_rules_loaded(tmp_path):
    """A helper that loads the package defaults (the benchmark's, a template builder) must not
    make the next run parse the drive's rules again; the sets kept stay few."""
    import shutil

    from automation.api import init_drive
    from automation.rules import load_rules

    drive = tmp_path / "共享盘"
    init_drive(drive)
    rules_dir = drive / "09_规则配置"
    rules_module._LOADED.clear()
    before = rules_module.LOAD_COUNT
    for _ in range(3):
        load_rules(rules_dir)
        load_rules()
    assert rules_module.LOAD_COUNT - before == 2
    for n in range(rules_module._LOADED_MAX + 2):  # other folders: other sets
        shutil.copytree(rules_dir, tmp_path / f"rules{n}")
        load_rules(tmp_path / f"rules{n}")
    assert len(rules_module._LOADED) == rules_module._LOADED_MAX


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("9999-12-31", "E_AS_OF_RANGE"),
        ("0001-01-01", "E_AS_OF_RANGE"),
        ("2100", "E_BAD_DATE"),
        ("2100-01-01", "E_AS_OF_RANGE"),
        ("9999-12-31T23:00-05:00", "E_AS_OF_RANGE"),
    ],
)
def test_as_of_outside_the_supported_span_is_a_coded_error(text, code):
    from automation.errors import XietongError
    from automation.process.context import parse_as_of

    with pytest.raises(XietongError) as caught:
        parse_as_of(text, rules_module.load_rules())
    assert caught.value.code == code


def test_as_of_is_normalised_in_one_place():
    from automation.process.context import parse_as_of

    rules = rules_module.load_rules()
    tz = rules.calendar.tzinfo()
    assert parse_as_of("2026-10-09", rules) == dt.datetime(2026, 10, 9, 18, tzinfo=tz)
    assert parse_as_of(dt.date(2026, 10, 9), rules) == dt.datetime(2026, 10, 9, 18, tzinfo=tz)
    naive = parse_as_of(dt.datetime(2026, 10, 9, 10), rules)
    assert naive == dt.datetime(2026, 10, 9, 10, tzinfo=tz)
    utc = parse_as_of("2026-10-09T02:00:00+00:00", rules)
    assert utc.utcoffset() == dt.timedelta(hours=8) and utc.hour == 10
