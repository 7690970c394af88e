"""Long data sheets of a generated workbook: rows written as sheet XML directly and spliced in
after xlsxwriter has closed the workbook.

xlsxwriter spends about 7 µs on a cell; the summary's two long sheets (超期清单 and 事项) hold
over 100,000 cells on a drive of 2,000 items, which made them most of the cost of rebuilding the
summary. Here a row costs a few string joins: strings are inline strings (``t="inlineStr"``,
escaped by :func:`automation.io.xlsxpatch.values.value_xml`, so a leading ``=`` stays text),
and a text seen before reuses its XML. Everything else of the sheet (column widths, header,
frozen panes, autofilter, conditional formats, page setup) is still written by xlsxwriter; the
splice sets the sheet's ``dimension``, adds the rows at the end of ``sheetData`` and the
hyperlinks with their relationships, and writes the archive itself: the long parts go in
blocks of rows (or links), each joined, encoded and deflated once and taken as it was by the
next workbook while it holds the same rows — a summary rebuilt after one item changed
compresses a block or two of its 10 MB of sheet XML, not all of it.

Styles are xlsxwriter's formats: their index in ``styles.xml`` is the one xlsxwriter gives a
format when a cell uses it (``Format._get_xf_index``, which registers the format for
``styles.xml`` exactly as a ``write_*`` call would).
"""

from __future__ import annotations

import io
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from automation.core.cells import cell_ref, column_letter, parse_range, range_ref
from automation.io.xlsxpatch.errors import XlsxPatchError
from automation.io.xlsxpatch.package import FINAL_BLOCK, crc32_combine, piece_stream
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
        if count is not None and key is not None and not self._cells:
            held = self.kept.get(key) or self._earlier.get(key)
            if held is not None and len(self._links) + len(held[1]) <= MAX_LINKS:
                self._moved_row(key, held, place + 1, count)
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

    def placed_rows(
        self,
        rows: list[tuple[Hashable | None, tuple[Any, ...]]],
        fill: Callable[..., None],
        *,
        count: Any = None,
    ) -> None:
        """:meth:`placed_row` for each ``(key, args)`` of ``rows``, byte for byte, with each
        run of rows found at the same place in the earlier workbook taken in one piece: a
        summary rebuilt after one item changed compares thousands of keys and copies the rest
        as slices, not row by row."""
        before = self._placed_before
        first = self._first
        start = len(self._rows)
        n = len(rows)
        i = 0
        while i < n:
            j = i
            place = start + i
            while place < len(before) and j < n:
                held = before[place]
                if held is None or held[0] != first or held[1] != rows[j][0]:
                    break
                j += 1
                place += 1
            if j > i and self._take_run(before[start + i : start + j]):
                i = j
                continue
            for key, args in rows[i : max(j, i + 1)]:  # one by one, as placed_row does
                self.placed_row(key, fill, *args, count=count)
            i = max(j, i + 1)

    def _take_run(self, run: list[Any]) -> bool:
        """Rows of the earlier workbook at the same places, as they were (links included);
        False when their links would pass Excel's limit (then built row by row)."""
        links = [link for held in run for link in held[3]]
        if len(self._links) + len(links) > MAX_LINKS:
            return False
        self._rows.extend([held[2] for held in run])
        self._links.extend(links)
        last_col = max(held[4] for held in run)
        if last_col > self.last_col:
            self.last_col = last_col
        earlier, kept = self._earlier, self.kept
        for held in run:  # for a later workbook's kept_cells
            cells = earlier.get(held[1])
            if cells is not None:
                kept[held[1]] = cells
        self.placed.extend(run)
        self._row += len(run)
        self._n = str(self._row)
        return True

    def _moved_row(
        self, key: Hashable, held: tuple[str, tuple, int], place: int, count: Any
    ) -> None:
        """A counted row built before at another place (rows after one that came or went
        move up or down): its cells as kept, renumbered, in one string — what
        :meth:`placed_row` builds through :meth:`number`, :meth:`kept_cells` and
        :meth:`end_row`, byte for byte."""
        xml, links, last_col = held
        n = self._n
        row = (
            f'<row r="{n}"><c r="A{n}" s="{count._get_xf_index()}"><v>{place}</v></c>'
            f"{xml.replace(_MARK, n)}</row>"
        )
        self._rows.append(row)
        mine = tuple((self._row, col, target, tip) for col, target, tip in links)
        self._links.extend(mine)
        self.kept[key] = held
        if last_col > self.last_col:
            self.last_col = last_col
        self.placed.append((self._first, key, row, mine, last_col))
        self._row += 1
        self._n = str(self._row)

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

    def _sheet_pieces(self, xml: str, first_rid: int) -> list[Any]:
        """The sheet's XML in pieces: xlsxwriter's before the end of ``sheetData``, the rows in
        blocks, xlsxwriter's up to the hyperlinks, the hyperlinks in blocks, the rest (a block
        unchanged since the last workbook is not joined, encoded or compressed again)."""
        if self._rows:
            xml = _DIMENSION.sub(lambda m: self._dimension(m.group(1)), xml, count=1)
        if "</sheetData>" not in xml:
            xml = xml.replace("<sheetData/>", "<sheetData></sheetData>", 1)
        head, end, tail = xml.partition("</sheetData>")
        if not end:
            raise ValueError(f"sheet {self.sheet}: no sheetData")  # not xlsxwriter's
        rows = _blocked((self.sheet, "rows"), self._rows, ROW_BLOCK, _row_key, _row_xml)
        if not self._links:
            return [head, *rows, end + tail]
        links = _blocked(
            (self.sheet, "links"), self._links, LINK_BLOCK, _link_key(first_rid), _links_xml
        )
        at = tail.find("</hyperlinks>")
        if at >= 0:
            return [head, *rows, end + tail[:at], *links, tail[at:]]
        for before in ("<printOptions", "<pageMargins", "<pageSetup", "</worksheet>"):
            at = tail.find(before)
            if at >= 0:
                return [head, *rows, f"{end}{tail[:at]}<hyperlinks>", *links,
                        f"</hyperlinks>{tail[at:]}"]  # fmt: skip
        raise ValueError(f"sheet {self.sheet}: no place for hyperlinks")  # not xlsxwriter's

    def _dimension(self, ref: str) -> str:
        """The sheet's used range, grown to take in the rows."""
        top, left, bottom, right = parse_range(ref)
        bottom = max(bottom, self.last_row + 1)
        right = max(right, self.last_col + 1)
        return f'<dimension ref="{range_ref(top, left, bottom, right)}"/>'

    def _rels_pieces(self, rels: str | None, first_rid: int) -> list[Any]:
        """The sheet's relationships with one per link, the links' in blocks."""
        ours = _blocked(
            (self.sheet, "rels"), self._links, LINK_BLOCK, _link_key(first_rid), _rels_xml
        )
        if rels is None:
            head = (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
                'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            )
            return [head, *ours, "</Relationships>"]
        at = rels.rindex("</Relationships>")
        return [rels[:at], *ours, rels[at:]]


# -- blocks: pieces of a long part kept joined, encoded and compressed between workbooks --------

ROW_BLOCK = 256  # rows of a sheet in one block (about 250 KB of XML)
LINK_BLOCK = 1024  # hyperlinks (or their relationships) in one block
_LEVEL = 3  # deflate level: a tenth larger than level 6 and twice as fast on the long parts


@dataclass(frozen=True)
class _Block:
    """One piece of a part: the CRC-32 and length of its bytes and their raw deflate stream,
    ended on a byte boundary with no final block (blocks are joined into one stream, see
    :func:`_zip`, which combines the pieces' CRCs)."""

    key: Any
    crc: int
    size: int
    packed: bytes


def _deflated(raw: bytes) -> bytes:
    return piece_stream(raw, _LEVEL)


# the blocks of the last workbook built in this process, by (sheet, kind) and place: a block
# whose key is the same is taken as it was (one entry per sheet and kind: the next replace it)
_BLOCKS: dict[tuple[str, str], list[_Block]] = {}


def blocks_memory() -> dict[tuple[str, str], list[Any]]:
    """The blocks of the last workbook built in this process (see :func:`_blocked`)."""
    return _BLOCKS


def restore_blocks(blocks: dict[tuple[str, str], list[Any]]) -> None:
    """Take ``blocks`` (what :func:`blocks_memory` gave in an earlier process) as the last
    workbook's: a block is still taken only when its key is equal to the new one's."""
    _BLOCKS.clear()
    _BLOCKS.update(blocks)


def _blocked(
    where: tuple[str, str],
    items: list[Any],
    size: int,
    key_of: Callable[[int, list[Any]], Any],
    render: Callable[[Any, list[Any]], str],
) -> list[_Block]:
    """``items`` in blocks of ``size`` (by place from the first: the same items at the same
    places give the same blocks, whatever was built before); ``key_of(start, chunk)`` names
    everything ``render(key, chunk)`` writes."""
    before = _BLOCKS.get(where, [])
    out = []
    for n, start in enumerate(range(0, len(items), size)):
        chunk = items[start : start + size]
        key = key_of(start, chunk)
        held = before[n] if n < len(before) else None
        if held is None or held.key != key:  # the same objects compare at once
            raw = render(key, chunk).encode("utf-8")
            held = _Block(key, zlib.crc32(raw), len(raw), _deflated(raw))
        out.append(held)
    _BLOCKS[where] = out
    return out


def _row_key(_start: int, chunk: list[str]) -> tuple[str, ...]:
    return tuple(chunk)  # a row's XML holds its number: its place is in it


def _row_xml(_key: Any, chunk: list[str]) -> str:
    return "".join(chunk)


def _link_key(first_rid: int) -> Callable[[int, list[Any]], Any]:
    """A block of links by the relationship id of its first link and the links."""
    return lambda start, chunk: (first_rid + start, tuple(chunk))


def _links_xml(key: Any, chunk: list[Any]) -> str:
    rid = key[0]
    return "".join(
        f'<hyperlink ref="{cell_ref(row, col + 1)}" r:id="rId{rid + n}" '
        f'tooltip="{_attribute(tip)}"/>'
        for n, (row, col, _, tip) in enumerate(chunk)
    )


def _rels_xml(key: Any, chunk: list[Any]) -> str:
    rid = key[0]
    return "".join(
        f'<Relationship Id="rId{rid + n}" Type="{_REL_LINK}" '
        f'Target="{_target(target)}" TargetMode="External"/>'
        for n, (_, _, target, _) in enumerate(chunk)
    )


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
    replaced: dict[str, list[Any]] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        names = set(src.namelist())
        for rows in sheets:
            part = locate(data, rows.sheet).sheet_part
            folder, name = part.rsplit("/", 1)
            rels_part = f"{folder}/_rels/{name}.rels"
            rels = src.read(rels_part).decode("utf-8") if rels_part in names else None
            used = [int(n) for n in re.findall(r'Id="rId([0-9]+)"', rels or "")]
            first_rid = max(used, default=0) + 1
            replaced[part] = rows._sheet_pieces(src.read(part).decode("utf-8"), first_rid)
            if rows._links:
                replaced[rels_part] = rows._rels_pieces(rels, first_rid)
        entries = []
        for info in src.infolist():
            entries.append((info.filename, replaced.pop(info.filename, None) or [src.read(info)]))
        entries.extend(sorted(replaced.items()))  # relationships the sheet had not
        stamp = src.infolist()[0].date_time
    return _zip(entries, stamp)


def _zip(entries: list[tuple[str, list[Any]]], stamp: tuple[int, ...]) -> bytes:
    """A zip archive of ``entries`` (name, pieces), each deflated: a piece that is a
    :class:`_Block` brings its stream, the others (text or bytes) are compressed here; the
    pieces' streams end on a byte boundary, so one after the other and a final empty block
    make the entry's stream (what ``zipfile`` writes, but for the blocks kept)."""
    year, month, day, hour, minute, second = stamp[:6]
    when = struct.pack(
        "<HH", hour << 11 | minute << 5 | second // 2, (year - 1980) << 9 | month << 5 | day
    )
    out = bytearray()
    central = bytearray()
    for name, pieces in entries:
        crc, size, streams = 0, 0, []
        for piece in pieces:
            if isinstance(piece, _Block):
                crc = crc32_combine(crc, piece.crc, piece.size)
                size += piece.size
                streams.append(piece.packed)
                continue
            raw = piece.encode("utf-8") if isinstance(piece, str) else piece
            if not raw:
                continue
            crc = zlib.crc32(raw, crc)
            size += len(raw)
            streams.append(_deflated(raw))
        streams.append(FINAL_BLOCK)
        body = b"".join(streams)
        encoded = name.encode("utf-8")
        flags = 0 if encoded.isascii() else 0x800  # a name in UTF-8
        fields = struct.pack("<HH", flags, 8) + when + struct.pack("<III", crc, len(body), size)
        offset = len(out)
        out += b"PK\x03\x04" + struct.pack("<H", 20) + fields
        out += struct.pack("<HH", len(encoded), 0) + encoded + body
        central += b"PK\x01\x02" + struct.pack("<HH", 0x314, 20) + fields
        central += struct.pack("<HHHHHII", len(encoded), 0, 0, 0, 0, 0o600 << 16, offset)
        central += encoded
    end = struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(central), len(out), 0)
    return bytes(out + central + b"PK\x05\x06" + end)


__all__ = ["MAX_LINKS", "LongRows", "blocks_memory", "restore_blocks", "splice"]
