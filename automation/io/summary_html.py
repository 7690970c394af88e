"""The HTML twin of the summary workbook: one self-contained page (jinja2 template
``summary.html.j2`` next to this module), charts drawn with matplotlib from the same model and
embedded as PNG data URIs. It is what a leader opens on a phone and the body of the weekly mail.

Chinese labels need a CJK font: the first one of ``CJK_FONTS`` that matplotlib finds is used
(on Debian: ``fonts-wqy-microhei``); without one the page is still written, the chart labels
may show boxes, and a warning says so.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from automation.core.summary import PERIODS, ItemRow, SummaryModel

# Families tried in order: Linux packages first, then what Windows and macOS ship.
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
)
# File names (lower case) of those fonts, for a font list cached before they were installed.
CJK_FILES = ("wqy", "notosanscjk", "notosanssc", "sourcehansans", "msyh", "simhei", "pingfang")
TEMPLATE = Path(__file__).with_name("summary.html.j2")
ROWS_TEMPLATE = Path(__file__).with_name("summary_rows.html.j2")
NO_CJK_FONT = "未找到中文字体（如 fonts-wqy-microhei），汇总网页中图表的中文可能无法显示"


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed CJK font matplotlib can use, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in installed), None)
    if found is not None:
        return found
    # installed after matplotlib cached its font list: add the files themselves
    for path in font_manager.findSystemFonts():
        if any(part in Path(path).name.lower() for part in CJK_FILES):
            try:
                font_manager.fontManager.addfont(path)
                name = font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
            if name in CJK_FONTS:
                _save_font_list(font_manager)
                return name
    return None


def _save_font_list(font_manager: Any) -> None:
    """Keep the added font in matplotlib's cached font list: the next process finds it at once."""
    import matplotlib

    cache = (
        Path(matplotlib.get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"
    )
    # a read-only cache folder: the next process finds the font again, more slowly
    with contextlib.suppress(OSError, AttributeError, TypeError):
        font_manager.json_dump(font_manager.fontManager, cache)


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=96)
    fig.subplots_adjust(left=0.14, right=0.97, top=0.88, bottom=0.22)
    return fig


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _style() -> dict[str, Any]:
    font = cjk_font()
    return {"font.family": [font, "sans-serif"] if font else ["sans-serif"]}


class ChartStore(Protocol):
    """Where drawn charts are kept between runs (the ledger's meta table in a run)."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


STORE_KEY = "summary_chart:{kind}"


def chart_images(model: SummaryModel, store: ChartStore | None = None) -> dict[str, str]:
    """The three charts (stages, departments' on-time rate, weekly rate) as PNG data URIs.

    With a ``store``, the last picture of each chart is kept with a hash of its numbers and a
    chart whose numbers did not change is not drawn again (a rebuild where one item changed
    usually leaves all three as they were: matplotlib is not even imported then). Only a
    chart drawn with a CJK font is kept, so installing one takes effect at the next run."""
    return _charts(model, store)[0]


def _charts(model: SummaryModel, store: ChartStore | None) -> tuple[dict[str, str], bool]:
    """(the charts, whether every one came from the store)."""
    wanted = {
        "stages": tuple(model.overview.stages),
        "departments": tuple((d.name, d.rate) for d in model.departments if d.rate is not None),
        "trend": tuple((t.week[-3:], t.rate.rate) for t in model.trend),
    }
    digests = {
        kind: hashlib.sha256(repr(data).encode("utf-8")).hexdigest()
        for kind, data in wanted.items()
    }
    out: dict[str, str] = {}
    for kind in wanted:
        held = _stored(store, kind)
        if held is not None and held.get("digest") == digests[kind]:
            out[kind] = held["uri"]
    todo = {kind: data for kind, data in wanted.items() if kind not in out}
    if not todo:
        return out, True
    font = cjk_font()
    for kind, uri in _draw(todo).items():
        out[kind] = uri
        if store is not None and font is not None:
            value = {"digest": digests[kind], "font": font, "uri": uri}
            store.set_meta(STORE_KEY.format(kind=kind), json.dumps(value))
    return {kind: out[kind] for kind in wanted}, False


def _stored(store: ChartStore | None, kind: str) -> dict[str, Any] | None:
    if store is None:
        return None
    text = store.get_meta(STORE_KEY.format(kind=kind))
    try:
        held = json.loads(text) if text else None
    except ValueError:
        return None
    return held if isinstance(held, dict) and isinstance(held.get("uri"), str) else None


def _draw(todo: dict[str, tuple[Any, ...]]) -> dict[str, str]:
    import matplotlib

    out: dict[str, str] = {}
    with matplotlib.rc_context(_style()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        if "stages" in todo:
            stages = todo["stages"]
            fig = _figure(6, 3)
            ax = fig.subplots()
            ax.barh([s for s, _ in stages][::-1], [n for _, n in stages][::-1], color="#2E75B6")
            ax.set_title("各阶段在办事项")
            for n, (_, count) in enumerate(stages[::-1]):
                ax.text(count, n, f" {count}", va="center")
            out["stages"] = _png(fig)
        if "departments" in todo:
            depts = todo["departments"]
            fig = _figure(7, 3)
            ax = fig.subplots()
            ax.bar([name for name, _ in depts], [rate or 0 for _, rate in depts], color="#70AD47")
            ax.set_ylim(0, 1)
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
            ax.set_title("各部门时限按时率")
            ax.tick_params(axis="x", labelrotation=45)
            out["departments"] = _png(fig)
        if "trend" in todo:
            trend = todo["trend"]
            fig = _figure(7, 3)
            ax = fig.subplots()
            weeks = [week for week, _ in trend]
            rates = [rate if rate is not None else float("nan") for _, rate in trend]
            ax.plot(weeks, rates, marker="o", color="#2E75B6")
            ax.set_ylim(0, 1.05)
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
            ax.set_title("每周时限按时率")
            out["trend"] = _png(fig)
    return out


_TEMPLATES: dict[str, Any] = {}


def summary_html(
    model: SummaryModel,
    *,
    links: dict[str, str] | None = None,
    warn: list[str] | None = None,
    store: ChartStore | None = None,
) -> str:
    """The page as text. ``links``: item ID → relative link to its folder (optional);
    ``store``: where drawn charts are kept between runs (see :func:`chart_images`)."""
    charts, kept = _charts(model, store)
    # charts kept were drawn with a CJK font; else cjk_font() was asked while drawing
    if not kept and cjk_font() is None and warn is not None and NO_CJK_FONT not in warn:
        warn.append(NO_CJK_FONT)
    links = links or {}
    page, rows = _templates()
    overdue = _RowCache("overdue", rows.overdue_row)
    overdue_args = [(o, links.get(o.item)) for o in model.overdue]
    items = _RowCache("items", rows.item_row)
    return page.render(
        m=model,
        ov=model.overview,
        periods=PERIODS,
        charts=charts,
        links=links,
        # a row's key is what it shows, as text (hashed once, compared quickly: OverdueRow.shown)
        overdue_rows=overdue.join((f"{o.shown}\x00{link}", (o, link)) for o, link in overdue_args),
        item_rows=items.join((_item_key(i), (i.item, i.values)) for i in model.items),
    )


def _templates() -> tuple[Any, Any]:
    """The page's template and the module of its rows' macros, compiled once per process
    (per version of the files)."""
    import jinja2

    texts = (TEMPLATE.read_text(encoding="utf-8"), ROWS_TEMPLATE.read_text(encoding="utf-8"))
    held = _TEMPLATES.get(texts)
    if held is None:
        env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
        env.filters["pct"] = lambda v: "—" if v is None else f"{v * 100:.1f}%"
        _TEMPLATES.clear()
        _ROWS.clear()
        held = _TEMPLATES[texts] = (
            env.from_string(texts[0]),
            env.from_string(texts[1]).module,
        )
    return held


# The rows of the long tables of the last page rendered in this process, by what they show,
# and in their order: the next page takes them as they are (a page rebuilt after one item
# changed renders few rows, and finds most of them at the same place)
_ROWS: dict[str, tuple[dict[Any, str], list[tuple[Any, str]]]] = {}


def rows_memory() -> dict[str, Any]:
    """The long tables' rows of the last page rendered in this process, with the texts of the
    templates that rendered them (plain data, picklable)."""
    return {"templates": next(iter(_TEMPLATES), None), "rows": dict(_ROWS)}


def restore_rows(memory: dict[str, Any]) -> None:
    """Take ``memory`` (:func:`rows_memory` of an earlier process) as the last page's rows
    when the templates are the same texts (a row is still taken only for an equal key)."""
    _templates()  # compiled first: compiling drops the rows of other templates
    texts = memory.get("templates")
    if isinstance(texts, tuple) and texts in _TEMPLATES:
        _ROWS.clear()
        _ROWS.update(memory["rows"])


def _item_key(row: ItemRow) -> str | None:
    return None if row.key is None else row.shown


class _RowCache:
    def __init__(self, table: str, macro: Any) -> None:
        self._earlier, self._placed = _ROWS.get(table, ({}, []))
        self._now: dict[Any, str] = {}
        self._order: list[tuple[Any, str]] = []
        self._macro = macro
        _ROWS[table] = (self._now, self._order)

    def join(self, rows: Any) -> Any:
        """The rows' HTML, one per line: ``rows`` gives (key, macro arguments) per row; a
        row whose key is None (values that cannot be one) is rendered every time. Runs of
        rows found at the same place in the last page are taken as slices of it."""
        from markupsafe import Markup

        rows = list(rows)
        out: list[str] = []
        placed, order, now = self._placed, self._order, self._now
        i, n = 0, len(rows)
        while i < n:
            j = i
            while j < n and j < len(placed):
                key = rows[j][0]
                if key is None or placed[j][0] != key:
                    break
                j += 1
            if j > i:  # the rows at these places last time
                run = placed[i:j]
                order.extend(run)
                now.update(run)
                out.extend([html for _key, html in run])
                i = j
                continue
            key, args = rows[i]
            i += 1
            if key is None:
                out.append(str(self._macro(*args)))
                order.append((None, ""))  # (never taken: a row without a key is rendered)
                continue
            html = now.get(key)
            if html is None:
                html = self._earlier.get(key)
                if html is None:
                    html = str(self._macro(*args))
                now[key] = html
            order.append((key, html))
            out.append(html)
        return Markup("\n  ".join(out))


__all__ = [
    "CJK_FONTS",
    "NO_CJK_FONT",
    "ChartStore",
    "chart_images",
    "cjk_font",
    "restore_rows",
    "rows_memory",
    "summary_html",
]
