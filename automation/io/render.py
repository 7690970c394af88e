"""Rendering notifications from jinja2 templates (Chinese text and HTML for mail, markdown for
the group robots).

The templates ship in ``automation/templates/notify``; a file of the same name in the drive's
rules folder (``09_规则配置/notify/``) replaces the shipped one. Each event kind has one file
with three macros, ``text``, ``html`` and ``md``; ``digest.txt.j2``, ``digest.html.j2`` and
``digest.md.j2`` put the sections of one message together. The rules folder can be edited by
anyone who can write to the share, so templates run in jinja2's sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from automation.errors import XietongError

PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "notify"
E_NOTIFY_TEMPLATE = "E_NOTIFY_TEMPLATE"


@dataclass(frozen=True)
class Section:
    """One event to render: its template file and its values."""

    template: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    markdown: str


class Renderer:
    def __init__(self, override_dir: str | Path | None = None):
        loaders = []
        if override_dir is not None and Path(override_dir).is_dir():
            loaders.append(FileSystemLoader(str(override_dir)))
        loaders.append(FileSystemLoader(str(PACKAGE_TEMPLATES)))
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            autoescape=lambda name: bool(name and name.endswith(".html.j2")),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.undefined = _Lenient
        self._sections: dict[tuple[str, str], tuple[str, Markup, str]] = {}

    def _macro(self, template: str, name: str) -> Any:
        try:
            module = self.env.get_template(template).module
        except TemplateError as exc:
            raise _error(template, exc) from None
        macro = getattr(module, name, None)
        if macro is None:
            raise XietongError(
                f"通知模板 {template} 缺少宏 {name}", code=E_NOTIFY_TEMPLATE, exit_code=2
            )
        return macro

    def render(
        self,
        subject: str,
        sections: Sequence[Section],
        *,
        recipients: str,
        office: str,
        sent: str,
        mention: str = "",
    ) -> Rendered:
        texts, htmls, mds = [], [], []
        for s in sections:
            text, html, md = self._section(s)
            texts.append(text)
            htmls.append(html)
            mds.append(md)
        common = {"subject": subject, "recipients": recipients, "office": office, "sent": sent}
        return Rendered(
            subject=subject,
            text=self._page("digest.txt.j2", sections=texts, **common),
            html=self._page("digest.html.j2", sections=htmls, **common),
            markdown=self._page("digest.md.j2", sections=mds, mention=mention, **common),
        )

    def _section(self, s: Section) -> tuple[str, Markup, str]:
        """One event's text, HTML and markdown; an event going to several targets (its
        department, the office, the leaders) is rendered once per renderer."""
        key = (s.template, json.dumps(s.values, sort_keys=True, default=_typed, ensure_ascii=False))
        held = self._sections.get(key)
        if held is not None:
            return held
        try:
            held = (
                str(self._macro(s.template, "text")(s.values)).strip(),
                Markup(str(self._macro(s.template, "html")(s.values)).strip()),
                str(self._macro(s.template, "md")(s.values)).strip(),
            )
        except TemplateError as exc:
            raise _error(s.template, exc) from None
        if len(self._sections) >= _SECTIONS_MAX:
            self._sections.clear()
        self._sections[key] = held
        return held

    def _page(self, name: str, **values: Any) -> str:
        try:
            return self.env.get_template(name).render(**values).strip() + "\n"
        except TemplateError as exc:
            raise _error(name, exc) from None


_SECTIONS_MAX = 50_000


def _typed(value: Any) -> str:
    """A value JSON cannot hold, in a section's key: its type and repr (a date and its text
    are not the same key)."""
    return f"{type(value).__name__}:{value!r}"


class _Lenient(StrictUndefined):
    """A value the event does not carry renders as nothing (an override may ask for more)."""

    def __str__(self) -> str:
        return ""

    def __iter__(self):  # type: ignore[override]
        return iter(())

    def __bool__(self) -> bool:
        return False


def _error(template: str, exc: Exception) -> XietongError:
    return XietongError(f"通知模板 {template} 无法使用：{exc}", code=E_NOTIFY_TEMPLATE, exit_code=2)
