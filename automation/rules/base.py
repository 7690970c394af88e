"""Reading one YAML rules file into a pydantic model, with errors that name file, key and problem."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from automation.errors import RulesError

M = TypeVar("M", bound=BaseModel)
_NAMED = re.compile(r"^(?P<key>[A-Za-z_][\w.\[\]]*): (?P<problem>.+)$", re.S)


class Strict(BaseModel):
    """Base of every rules model: unknown keys are mistakes, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _problem(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


# libyaml's parser when PyYAML was built with it (about ten times faster than the pure-Python one)
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):  # type: ignore[misc,valid-type]
    """Safe YAML with dates left as text: pydantic parses them, so a bad date is reported by key."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path, display: str) -> Any:
    """Parse a YAML file; a syntax error becomes a RulesError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(display, "", "file is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(display, "", f"cannot be read: {exc}") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise RulesError(
            display, where, f"not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None


def parse_model(model: type[M], data: Any, display: str) -> M:
    """Validate parsed YAML against a model; the first problem is reported by file and key."""
    if data is None:
        raise RulesError(display, "", "file is empty")
    if not isinstance(data, dict):
        raise RulesError(display, "", "top level must be a mapping of keys")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(
            p for p in first.get("loc", ()) if p not in ("function-after", "function-before")
        )
        key, problem = _key_path(loc), _problem(first)
        # model-level checks name their key at the start of the message ("roles.office: …")
        named = _NAMED.match(problem)
        if named:
            key = f"{key}.{named['key']}" if key else named["key"]
            problem = named["problem"]
        raise RulesError(display, key, problem) from None


def load_model(model: type[M], path: Path, display: str) -> M:
    return parse_model(model, read_yaml(path, display), display)
