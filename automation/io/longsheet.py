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
compresses a block or two of its 10 MB of sheet XML, not all of it. Rows name no places (see
:class:`LongRows`), and blocks of rows end where the rows' content says, so a row that moved
leaves every block of rows but its own as it was.

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

from automation.core.cells import cell_ref, parse_range, range_ref
from automation.io.xlsxpatch.errors import XlsxPatchError
from automation.io.xlsxpatch.package import FINAL_BLOCK, crc32_combine, piece_stream
from automation.io.xlsxpatch.parts import locate
from automation.io.xlsxpatch.scan import escape
from automation.io.xlsxpatch.values import MAX_TEXT, value_xml

# Excel's limit of hyperlinks on one worksheet; further links are shown as text only.
MAX_LINKS = 65_530


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
    :meth:`end_row`, or whole rows by key with :meth:`keyed_rows`; :func:`splice` puts them
    into the workbook.

    A row's XML names neither its row nor its cells' places (both are optional in
    SpreadsheetML: a row without ``r`` is the one after the row before it, a cell without
    ``r`` the one after the cell before it, so a row writes every cell up to its last, blank
    ones as ``<c/>``); only the first row names its number, after xlsxwriter's rows. A row is
    therefore the same XML wherever it stands: a summary rebuilt after one item moved up the
    list takes every row as it was, and only the hyperlinks (which name their cells) are
    written again where rows moved.

    ``kept`` is :attr:`kept` of the same sheet's rows in an earlier workbook with the same
    formats: a row :meth:`keyed_rows` names by a key seen there is taken as it was."""

    def __init__(self, sheet: str, first: int, kept: dict[Hashable, Any] | None = None) -> None:
        self.sheet = sheet
        self._first = first
        self._row = first + 1  # 1-based, as the hyperlinks name it
        self._cells: list[str] = []
        self._next_col = 0  # the column of the next cell (a cell names no place)
        self._rows: list[str] = []
        self._crcs: list[int] = []  # each row's CRC-32: where blocks of rows end
        self._links: list[tuple[int, int, str, str]] = []  # (row, 0-based column, target, tip)
        self._earlier = kept or {}
        self.kept: dict[Hashable, Any] = {}  # this workbook's rows by key, for the next one
        self._plain = 0  # links shown as text, past Excel's limit
        # a cell's XML after ``<c`` for each (value, format) seen
        self._tails: dict[tuple[Any, Any], str] = {}
        self.last_col = 0

    def _cell(self, col: int, tail: str) -> None:
        if col > self.last_col:
            self.last_col = col
        gap = col - self._next_col
        if gap < 0:  # a cell names no place: the columns of a row come in order
            raise ValueError(f"sheet {self.sheet}: column {col} after column {self._next_col - 1}")
        if gap:
            self._cells.append("<c/>" * gap)
        self._cells.append(f"<c{tail}")
        self._next_col = col + 1

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
            elif value.__class__ is int:
                tail = f' s="{fmt._get_xf_index()}"><v>{value}</v></c>'
            else:
                number = value_xml(value, "A1", False, b"")[1].decode()
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

    def end_row(self) -> None:
        xml = f"<row>{''.join(self._cells)}</row>"
        self._rows.append(xml)
        self._crcs.append(zlib.crc32(xml.encode("utf-8")))
        self._cells = []
        self._next_col = 0
        self._row += 1

    def keyed_rows(
        self, rows: list[tuple[Hashable | None, tuple[Any, ...]]], fill: Callable[..., None]
    ) -> None:
        """A row for each ``(key, args)`` of ``rows``: the row of that key in this workbook or
        the earlier one (``kept``) as it was, else ``fill(self, *args)`` ended as a row. ``key``
        must name everything ``fill`` writes (None: built every time, not kept); the cells name
        their formats by style index, so both workbooks must have given those formats their
        index (``Format._get_xf_index``) in the same order before the rows."""
        earlier, kept = self._earlier, self.kept
        rows_out, crcs, links = self._rows, self._crcs, self._links
        for key, args in rows:
            held = None
            if key is not None:
                held = kept.get(key)
                if held is None:
                    held = earlier.get(key)
                    if held is not None:
                        kept[key] = held
            if held is not None and len(links) + len(held[1]) > MAX_LINKS:
                held = None  # built again: past Excel's limit its links are shown as text
                kept.pop(key, None)
            if held is None:
                held = self._built(fill, args)
                if key is not None and held is not None:
                    kept[key] = held
                continue
            xml, row_links, last_col, crc = held
            rows_out.append(xml)
            crcs.append(crc)
            if row_links:
                n = self._row
                links.extend((n, col, target, tip) for col, target, tip in row_links)
            if last_col > self.last_col:
                self.last_col = last_col
            self._row += 1

    def _built(self, fill: Callable[..., None], args: tuple[Any, ...]) -> tuple | None:
        """One row made by ``fill``: (XML, its links as (column, target, tip), its last column,
        its CRC), or None when one of its links was shown as text (not kept)."""
        links, plain, last_col = len(self._links), self._plain, self.last_col
        self.last_col = 0
        fill(self, *args)
        row_last = self.last_col
        self.last_col = max(last_col, row_last)
        row_links = tuple((col, target, tip) for _, col, target, tip in self._links[links:])
        self.end_row()
        if self._plain != plain:
            return None
        return self._rows[-1], row_links, row_last, self._crcs[-1]

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
        rows = _row_blocks((self.sheet, "rows"), self._rows, self._crcs, self._first + 1)
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

# a block of rows ends after a row whose CRC-32 is a multiple of ROW_CUT (about ROW_CUT rows a
# block, 100 KB of XML; at most ROW_BLOCK_MAX): where blocks end follows the rows, not their
# places, so a row that comes, goes or moves changes the blocks that hold it and no other
ROW_CUT = 128
ROW_BLOCK_MAX = 1024
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


def _block(key: Any, text: str) -> _Block:
    raw = text.encode("utf-8")
    return _Block(key, zlib.crc32(raw), len(raw), _deflated(raw))


# the blocks of the last workbook built in this process, by (sheet, kind): a block whose key is
# the same is taken as it was (one entry per sheet and kind: the next replace it)
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
            held = _block(key, render(key, chunk))
        out.append(held)
    _BLOCKS[where] = out
    return out


def _row_blocks(
    where: tuple[str, str], rows: list[str], crcs: list[int], first: int
) -> list[_Block]:
    """``rows`` in blocks ended by their content (see :data:`ROW_CUT`), the first row naming
    its number ``first`` (the rows before are xlsxwriter's); a block of the last workbook with
    the same rows is taken as it was, wherever it stood."""
    before = {held.key: held for held in _BLOCKS.get(where, [])}
    out = []
    start = 0
    last = len(rows) - 1
    for i, crc in enumerate(crcs):
        if crc % ROW_CUT and i < last and i - start + 1 < ROW_BLOCK_MAX:
            continue
        chunk = tuple(rows[start : i + 1])
        if start == 0:  # the first row names its place: the rows after follow it
            chunk = (chunk[0].replace("<row>", f'<row r="{first}">', 1), *chunk[1:])
        held = before.get(chunk)
        if held is None:
            held = _block(chunk, "".join(chunk))
        out.append(held)
        start = i + 1
    _BLOCKS[where] = out
    return out


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
