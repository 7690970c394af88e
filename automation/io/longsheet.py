"""Long data sheets of a generated workbook: rows written as sheet XML directly and spliced in
after xlsxwriter has closed the workbook.

xlsxwriter spends about 7 µs on a cell; the summary's two long sheets (超期清单 and 事项) hold
over 100,000 cells on a drive of 2,000 items, which made them most of the cost of rebuilding the
summary. Here a row costs a few string joins: strings are inline strings (``t="inlineStr"``,
escaped by :func:`automation.io.xlsxpatch.values.value_xml`, so a leading ``=`` stays text),
and a text seen before reuses its XML. Everything else of the sheet (column widths, header,
frozen panes, autofilter, conditional formats, page setup) is still written by xlsxwriter; the
splice sets the sheet's ``dimension``, adds the rows at the end of ``sheetData`` and the
hyperlinks with their relationships.

Styles are xlsxwriter's formats: their index in ``styles.xml`` is the one xlsxwriter gives a
format when a cell uses it (``Format._get_xf_index``, which registers the format for
``styles.xml`` exactly as a ``write_*`` call would).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Callable, Hashable
from functools import lru_cache
from typing import Any

from automation.core.cells import cell_ref, column_letter, parse_range, range_ref
from automation.io.xlsxpatch.errors import XlsxPatchError
from automation.io.xlsxpatch.parts import locate
from automation.io.xlsxpatch.scan import escape
from automation.io.xlsxpatch.values import MAX_TEXT, value_xml

# Excel's limit of hyperlinks on one worksheet; further links are shown as text only.
MAX_LINKS = 65_530

# the row number in a row's XML kept for another workbook (no XML text holds it: value_xml
# writes control characters as _x0000_ escapes)
_MARK = "\x00"

_DIMENSION = re.compile(r'<dimension ref="([A-Z0-9:]+)"/>')
_REL_LINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
_URL_ESCAPES = (
    ("%", "%25"),  # first: the escapes below bring in more
    ('"', "%22"),
    (" ", "%20"),
    ("<", "%3c"),
    (">", "%3e"),
    ("[", "%5b"),
    ("]", "%5d"),
    ("^", "%5e"),
    ("`", "%60"),
    ("{", "%7b"),
    ("}", "%7d"),
)


class LongRows:
    """The data rows of one worksheet, from 0-based row ``first`` on (xlsxwriter's numbering).

    Add rows with :meth:`text`, :meth:`number` and :meth:`link` cells, ending each row with
    :meth:`end_row`; :func:`splice` puts them into the workbook.

    ``kept`` is :attr:`kept` of the same sheet's rows in an earlier workbook with the same
    formats: the cells a :meth:`kept_cells` call names by a key seen there are not built
    again (a summary rebuilt after one item changed writes thousands of rows as before)."""

    def __init__(
        self,
        sheet: str,
        first: int,
        kept: dict[Hashable, Any] | None = None,
        placed: list[Any] | None = None,
    ) -> None:
        self.sheet = sheet
        self._first = first
        # rows by place (see :meth:`placed_row`): this workbook's, and the earlier one's
        self.placed: list[tuple[int, Hashable, str, tuple, int] | None] = []
        self._placed_before = placed or []
        self._row = first + 1  # 1-based, as in the XML
        self._n = str(self._row)
        self._cells: list[str] = []
        self._rows: list[str] = []
        self._links: list[tuple[int, int, str, str]] = []  # (row, 0-based column, target, tip)
        self._earlier = kept or {}
        self.kept: dict[Hashable, Any] = {}  # what this workbook's rows were built from
        self._plain = 0  # links shown as text, past Excel's limit
        # a cell's XML after its reference, for each (value, format) seen
        self._tails: dict[tuple[Any, Any], str] = {}
        self._letters = [column_letter(c) for c in range(1, 65)]
        self.last_col = 0

    def _cell(self, col: int, tail: str) -> None:
        if col > self.last_col:
            self.last_col = col
        letters = self._letters[col] if col < 64 else column_letter(col + 1)
        self._cells.append(f'<c r="{letters}{self._n}"{tail}')

    def text(self, col: int, value: Any, fmt: Any) -> None:
        text = "" if value is None else str(value)
        tail = self._tails.get((text, fmt))
        if tail is None:
            kept = text[:MAX_TEXT]  # the length xlsxwriter's write_string keeps
            try:
                body = value_xml(kept, "", False, b"")[1]
            except XlsxPatchError:  # a lone surrogate, which no XML can hold: shown as "?"
                kept = kept.encode("utf-8", "replace").decode("utf-8")
                body = value_xml(kept, "", False, b"")[1]
            tail = f' s="{fmt._get_xf_index()}" t="inlineStr">{body.decode("utf-8")}</c>'
            self._tails[(text, fmt)] = tail
        self._cell(col, tail)

    def number(self, col: int, value: Any, fmt: Any) -> None:
        """A number; blank for None, "" and what is not a finite number (Excel has none),
        the text of a value that is not a number at all."""
        if value is None or value == "":
            value = None
        elif not isinstance(value, int) or isinstance(value, bool):
            try:
                value = float(value)
            except (TypeError, ValueError):
                self.text(col, value, fmt)
                return
            if not math.isfinite(value):
                value = None
        tail = self._tails.get((value, fmt))
        if tail is None:
            if value is None:
                tail = f' s="{fmt._get_xf_index()}"/>'
            elif value.__class__ is int:  # a count or a row's number: thousands, each new
                tail = f' s="{fmt._get_xf_index()}"><v>{value}</v></c>'
            else:
                number = value_xml(value, cell_ref(self._row, col + 1), False, b"")[1].decode()
                tail = f' s="{fmt._get_xf_index()}">{number}</c>'
            self._tails[(value, fmt)] = tail
        self._cell(col, tail)

    def link(self, col: int, text: str, target: str, tip: str, fmt: Any, plain: Any) -> None:
        """``text`` linked to ``target`` (a path relative to the workbook, ``/`` separated);
        past Excel's limit of links on a sheet, the text alone in ``plain``."""
        if len(self._links) >= MAX_LINKS:
            self._plain += 1
            self.text(col, text, plain)
            return
        self.text(col, text, fmt)
        self._links.append((self._row, col, target, tip))

    def kept_cells(self, key: Hashable | None, fill: Callable[..., None], *args: Any) -> None:
        """The cells ``fill(self, *args)`` adds to the current row, taken as they were built
        for ``key`` in this workbook or the earlier one (None: built, and not kept). ``key``
        must name everything ``fill`` writes, and not the row's place; the cells name their
        formats by style index, so both workbooks must have given those formats their index
        (``Format._get_xf_index``) in the same order before the rows."""
        if key is None:
            fill(self, *args)
            return
        held = self.kept.get(key)
        if held is None:
            held = self._earlier.get(key)
        if held is not None and len(self._links) + len(held[1]) > MAX_LINKS:
            held = None  # built again: past Excel's limit its links are shown as text
        if held is None:
            plain = self._plain
            held = self._built(fill, args)
            if self._plain == plain:  # every link written: the same for the next workbook
                self.kept[key] = held
        else:
            self.kept[key] = held
        xml, links, last_col = held
        self._cells.append(xml.replace(_MARK, self._n))
        self._links.extend((self._row, col, target, tip) for col, target, tip in links)
        if last_col > self.last_col:
            self.last_col = last_col

    def placed_row(
        self, key: Hashable | None, fill: Callable[..., None], *args: Any, count: Any = None
    ) -> None:
        """A whole row: with ``count`` (a format) the row's place among the rows (1, 2, …) in
        the first column, then the cells of :meth:`kept_cells`; ended. A row whose key is the
        key of the row at the same place in the earlier workbook (``placed``: its
        :attr:`placed`) is that row's XML as it was, row number and links included: a summary
        rebuilt after one item changed goes through thousands of rows with a comparison each.
        Use it for every row of the sheet or none."""
        place = len(self._rows)
        before = self._placed_before[place] if place < len(self._placed_before) else None
        if (
            before is not None
            and before[0] == self._first
            and before[1] == key
            and len(self._links) + len(before[3]) <= MAX_LINKS
        ):
            _first, _key, xml, links, last_col = before
            self._rows.append(xml)
            self._links.extend(links)
            if last_col > self.last_col:
                self.last_col = last_col
            held = self._earlier.get(key)
            if held is not None:  # for a later workbook's kept_cells
                self.kept[key] = held
            self.placed.append(before)
            self._row += 1
            self._n = str(self._row)
            return
        links, plain, last_col = len(self._links), self._plain, self.last_col
        self.last_col = 0
        if count is not None:
            self.number(0, place + 1, count)
        self.kept_cells(key, fill, *args)
        row_last = self.last_col
        self.last_col = max(last_col, row_last)
        self.end_row()
        # kept for the next workbook unless built for no key or shown past the links' limit
        self.placed.append(
            None
            if key is None or self._plain != plain
            else (self._first, key, self._rows[-1], tuple(self._links[links:]), row_last)
        )

    def _built(self, fill: Callable[..., None], args: tuple[Any, ...]) -> tuple[str, tuple, int]:
        cells, links, last_col, n = len(self._cells), len(self._links), self.last_col, self._n
        self.last_col = 0
        self._n = _MARK
        try:
            fill(self, *args)
        finally:
            self._n = n
        built = (
            "".join(self._cells[cells:]),
            tuple((col, target, tip) for _, col, target, tip in self._links[links:]),
            self.last_col,
        )
        del self._cells[cells:]
        del self._links[links:]
        self.last_col = max(last_col, self.last_col)
        return built

    def end_row(self) -> None:
        self._rows.append(f'<row r="{self._n}">{"".join(self._cells)}</row>')
        self._cells = []
        self._row += 1
        self._n = str(self._row)

    @property
    def last_row(self) -> int:
        """0-based index of the last row added (``first - 1`` when none)."""
        return self._row - 2

    def _sheet_xml(self, xml: str, first_rid: int) -> list[str]:
        """The sheet's XML in pieces: xlsxwriter's before the end of ``sheetData``, the rows,
        the rest (the long middle is never copied into one string with the rest)."""
        if self._rows:
            xml = _DIMENSION.sub(lambda m: self._dimension(m.group(1)), xml, count=1)
        if self._links:
            xml = self._with_links(xml, first_rid)
        if "</sheetData>" not in xml:
            xml = xml.replace("<sheetData/>", "<sheetData></sheetData>", 1)
        head, end, tail = xml.partition("</sheetData>")
        if not end:
            raise ValueError(f"sheet {self.sheet}: no sheetData")  # not xlsxwriter's
        return [head, "".join(self._rows), end + tail]

    def _with_links(self, xml: str, first_rid: int) -> str:
        links = "".join(
            f'<hyperlink ref="{cell_ref(row, col + 1)}" r:id="rId{first_rid + n}" '
            f'tooltip="{_attribute(tip)}"/>'
            for n, (row, col, _, tip) in enumerate(self._links)
        )
        if "</hyperlinks>" in xml:
            return xml.replace("</hyperlinks>", links + "</hyperlinks>", 1)
        for before in ("<printOptions", "<pageMargins", "<pageSetup", "</worksheet>"):
            at = xml.find(before)
            if at >= 0:
                return f"{xml[:at]}<hyperlinks>{links}</hyperlinks>{xml[at:]}"
        raise ValueError(f"sheet {self.sheet}: no place for hyperlinks")  # not xlsxwriter's

    def _dimension(self, ref: str) -> str:
        """The sheet's used range, grown to take in the rows."""
        top, left, bottom, right = parse_range(ref)
        bottom = max(bottom, self.last_row + 1)
        right = max(right, self.last_col + 1)
        return f'<dimension ref="{range_ref(top, left, bottom, right)}"/>'

    def _rels_xml(self, rels: str | None, first_rid: int) -> str:
        ours = "".join(
            f'<Relationship Id="rId{first_rid + n}" Type="{_REL_LINK}" '
            f'Target="{_target(target)}" TargetMode="External"/>'
            for n, (_, _, target, _) in enumerate(self._links)
        )
        if rels is None:
            return (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
                f'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{ours}'
                "</Relationships>"
            )
        return rels.replace("</Relationships>", ours + "</Relationships>", 1)


# a summary links the same thousands of files each time it is rebuilt
@lru_cache(maxsize=1 << 16)
def _attribute(text: str) -> str:
    return escape(text, True)


@lru_cache(maxsize=1 << 16)
def _target(target: str) -> str:
    return escape(_url(target), True)


def _url(target: str) -> str:
    """A relative file link as Excel writes it: backslashes, the unsafe characters escaped
    (left alone when the path already looks escaped, as Excel and xlsxwriter do)."""
    path = target.replace("/", "\\")
    if re.search("%[0-9a-fA-F]{2}", path):
        return path
    for char, escaped in _URL_ESCAPES:
        if char in path:
            path = path.replace(char, escaped)
    return path


def splice(data: bytes, sheets: list[LongRows]) -> bytes:
    """The workbook ``data`` (as xlsxwriter wrote it) with each sheet's rows put in."""
    replaced: dict[str, list[str]] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        names = set(src.namelist())
        for rows in sheets:
            part = locate(data, rows.sheet).sheet_part
            folder, name = part.rsplit("/", 1)
            rels_part = f"{folder}/_rels/{name}.rels"
            rels = src.read(rels_part).decode("utf-8") if rels_part in names else None
            used = [int(n) for n in re.findall(r'Id="rId([0-9]+)"', rels or "")]
            first_rid = max(used, default=0) + 1
            replaced[part] = rows._sheet_xml(src.read(part).decode("utf-8"), first_rid)
            if rows._links:
                replaced[rels_part] = [rows._rels_xml(rels, first_rid)]
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                pieces = replaced.pop(info.filename, None)
                _put(dst, info.filename, info.date_time, pieces or [src.read(info)])
            stamp = src.infolist()[0].date_time
            for name, pieces in sorted(replaced.items()):  # relationships the sheet had not
                _put(dst, name, stamp, pieces)
    return out.getvalue()


def _put(dst: zipfile.ZipFile, name: str, stamp: tuple, pieces: list) -> None:
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    # level 3: a tenth larger than level 6 and twice as fast on the long parts
    body = b"".join(p.encode("utf-8") if isinstance(p, str) else p for p in pieces)
    dst.writestr(info, body, compresslevel=3)


__all__ = ["MAX_LINKS", "LongRows", "splice"]
