"""Writing a ``vbaProject.bin`` from VBA source text, without Excel ([MS-OVBA] in [MS-CFB]).

The project holds source only: its ``_VBA_PROJECT`` stream has version 0xFFFF and no
performance cache, which tells Office to compile the modules from their source when the
workbook is opened. Parts, following the specifications' section numbers:

- 2.4.1 compression: the LZ77 variant every VBA stream uses;
- 2.3.4.2 the ``dir`` stream: project information, one reference (OLE Automation), the modules;
- 2.3.1 the ``PROJECT`` stream (text) with 2.4.3.2 data encryption of the protection fields;
- [MS-CFB] a version 3 compound file (512-byte sectors, a mini stream for small streams).

Everything is deterministic (fixed project GUID and encryption seed): regenerating the
templates gives the same bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CODEPAGE = 1252  # the generated source is ASCII; 1252 is what Excel writes for it
LCID = 0x0409
PROJECT_NAME = "VBAProject"
PROJECT_ID = "{5E9F7C3A-2B1D-4E8F-9A6C-7D0B1E2F3A4B}"
STDOLE = (
    "*\\G{00020430-0000-0000-C000-000000000046}#2.0#0#"
    "C:\\Windows\\System32\\stdole2.tlb#OLE Automation"
)
WORKBOOK_BASE = "0{00020819-0000-0000-C000-000000000046}"
WORKSHEET_BASE = "0{00020820-0000-0000-C000-000000000046}"


@dataclass(frozen=True)
class Module:
    """One VBA module: ``document`` for ThisWorkbook and the sheets, else a standard module."""

    name: str
    source: str  # with its Attribute lines, as in an exported .bas / .cls
    document: bool = False


# -- 2.4.1 compression ---------------------------------------------------------------------------


def _copy_token_split(position: int) -> int:
    """Bits of a copy token used for the offset, for a token at ``position`` in its chunk."""
    bits = max((position - 1).bit_length(), 4)
    return bits


def _compress_chunk(data: bytes) -> bytes:
    """One chunk (≤ 4096 bytes) as a CompressedChunk (header + data)."""
    out = bytearray()
    pos = 0
    recent: dict[bytes, list[int]] = {}
    while pos < len(data):
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= len(data):
                break
            offset_bits = _copy_token_split(pos)
            max_length = (0xFFFF >> offset_bits) + 3
            best_len, best_at = 0, 0
            for start in reversed(recent.get(data[pos : pos + 3], [])[-64:]):
                length = 0
                limit = min(max_length, len(data) - pos)
                while length < limit and data[start + length] == data[pos + length]:
                    length += 1
                if length > best_len:
                    best_len, best_at = length, start
                    if length == limit:
                        break
            step = best_len if best_len >= 3 else 1
            if best_len >= 3:
                token = ((pos - best_at - 1) << (16 - offset_bits)) | (best_len - 3)
                out += struct.pack("<H", token)
                flags |= 1 << bit
            else:
                out.append(data[pos])
            for i in range(pos, pos + step):
                recent.setdefault(data[i : i + 3], []).append(i)
            pos += step
        out[flag_at] = flags
    if len(out) > 4096:  # incompressible: a raw chunk, only possible for a full chunk
        if len(data) != 4096:
            raise ValueError("an incompressible last chunk cannot be stored")
        return struct.pack("<H", 0x3FFF) + data
    return struct.pack("<H", 0xB000 | (len(out) - 1)) + bytes(out)


def compress(data: bytes) -> bytes:
    """A CompressedContainer: signature byte 0x01, then one chunk per 4096 bytes."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), 4096):
        out += _compress_chunk(data[start : start + 4096])
    return bytes(out)


# -- 2.3.4.2 the dir stream ------------------------------------------------------------------------


def _rec(record_id: int, payload: bytes) -> bytes:
    return struct.pack("<HI", record_id, len(payload)) + payload


def _text(value: str) -> bytes:
    return value.encode("cp1252")


def _utf16(value: str) -> bytes:
    return value.encode("utf-16-le")


def _dir_stream(modules: list[Module]) -> bytes:
    out = bytearray()
    out += _rec(0x0001, struct.pack("<I", 1))  # SYSKIND: 32-bit Windows (recompiled anyway)
    out += _rec(0x0002, struct.pack("<I", LCID))
    out += _rec(0x0014, struct.pack("<I", LCID))  # LCIDINVOKE
    out += _rec(0x0003, struct.pack("<H", CODEPAGE))
    out += _rec(0x0004, _text(PROJECT_NAME))
    out += _rec(0x0005, b"") + _rec(0x0040, b"")  # DOCSTRING, its Unicode twin
    out += _rec(0x0006, b"") + _rec(0x003D, b"")  # HELPFILEPATH 1 and 2
    out += _rec(0x0007, struct.pack("<I", 0))  # HELPCONTEXT
    out += _rec(0x0008, struct.pack("<I", 0))  # LIBFLAGS
    out += struct.pack("<HIIH", 0x0009, 4, 1, 0)  # VERSION: the size field is 4, the data 6
    out += _rec(0x000C, b"") + _rec(0x003C, b"")  # CONSTANTS
    # references: OLE Automation (stdole), as every project Excel writes has
    out += _rec(0x0016, _text("stdole")) + _rec(0x003E, _utf16("stdole"))
    libid = _text(STDOLE)
    out += struct.pack("<HI", 0x000D, 4 + len(libid) + 6) + struct.pack("<I", len(libid))
    out += libid + struct.pack("<IH", 0, 0)
    out += _rec(0x000F, struct.pack("<H", len(modules)))
    out += _rec(0x0013, struct.pack("<H", 0xFFFF))  # PROJECTCOOKIE
    for m in modules:
        out += _rec(0x0019, _text(m.name)) + _rec(0x0047, _utf16(m.name))
        out += _rec(0x001A, _text(m.name)) + _rec(0x0032, _utf16(m.name))  # stream name
        out += _rec(0x001C, b"") + _rec(0x0048, b"")  # DOCSTRING
        out += _rec(0x0031, struct.pack("<I", 0))  # OFFSET: source starts at 0, no cache
        out += _rec(0x001E, struct.pack("<I", 0))  # HELPCONTEXT
        out += _rec(0x002C, struct.pack("<H", 0xFFFF))  # COOKIE
        out += struct.pack("<HI", 0x0022 if m.document else 0x0021, 0)  # TYPE
        out += struct.pack("<HI", 0x002B, 0)  # module terminator
    out += struct.pack("<HI", 0x0010, 0)  # dir terminator
    return bytes(out)


# -- 2.3.1 the PROJECT stream and 2.4.3.2 data encryption ----------------------------------------


def _encrypt(data: bytes, seed: int = 0x42) -> str:
    """Data encryption of CMG / DPB / GC (obfuscation, not security), as uppercase hex."""
    version, project_key = 2, sum(PROJECT_ID.encode("ascii")) & 0xFF
    out = bytearray([seed, seed ^ version, seed ^ project_key])
    unencrypted_1, encrypted_1, encrypted_2 = project_key, out[2], out[1]
    ignored = (seed & 6) // 2
    plain = bytes(ignored) + struct.pack("<I", len(data)) + data
    for byte in plain:
        encrypted = byte ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        out.append(encrypted)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, encrypted, byte
    return out.hex().upper()


def _project_stream(modules: list[Module]) -> bytes:
    lines = [f'ID="{PROJECT_ID}"']
    for m in modules:
        lines.append(f"Document={m.name}/&H00000000" if m.document else f"Module={m.name}")
    lines += [
        f'Name="{PROJECT_NAME}"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        f'CMG="{_encrypt(bytes(4))}"',  # not protected
        f'DPB="{_encrypt(bytes(1))}"',  # no password
        f'GC="{_encrypt(bytes([0xFF]))}"',  # visible
        "",
        "[Host Extender Info]",
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
        "",
        "[Workspace]",
    ]
    lines += [f"{m.name}=0, 0, 0, 0, C" for m in modules]
    return _text("\r\n".join(lines) + "\r\n")


def _project_wm(modules: list[Module]) -> bytes:
    out = bytearray()
    for m in modules:
        out += _text(m.name) + b"\x00" + _utf16(m.name) + b"\x00\x00"
    return bytes(out + b"\x00\x00")


# -- [MS-CFB] a version 3 compound file ------------------------------------------------------------

SECTOR = 512
MINI = 64
CUTOFF = 4096
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


@dataclass
class _Entry:
    name: str
    kind: int  # 1 storage, 2 stream, 5 root
    data: bytes = b""
    children: list[_Entry] | None = None
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    red: bool = False
    start: int = ENDOFCHAIN
    index: int = 0


def _cfb_key(entry: _Entry) -> tuple[int, str]:
    """Siblings are ordered by name length first, then by the upper-cased name."""
    return len(entry.name), entry.name.upper()


def _tree(siblings: list[_Entry]) -> int:
    """A balanced red-black tree of ``siblings``: returns the index of its root."""
    ordered = sorted(siblings, key=_cfb_key)

    def build(lo: int, hi: int, depth: int, deepest: list[int]) -> tuple[int, list]:
        if lo >= hi:
            return NOSTREAM, []
        mid = (lo + hi) // 2
        node = ordered[mid]
        node.left, left_nodes = build(lo, mid, depth + 1, deepest)
        node.right, right_nodes = build(mid + 1, hi, depth + 1, deepest)
        deepest[0] = max(deepest[0], depth)
        return node.index, [(node, depth), *left_nodes, *right_nodes]

    deepest = [0]
    root, nodes = build(0, len(ordered), 0, deepest)
    full = len(ordered) == 2 ** (deepest[0] + 1) - 1
    for node, depth in nodes:  # the last, incomplete level red: equal black height everywhere
        node.red = depth == deepest[0] and not full and depth > 0
    return root


def _chain(fat: list[int], first: int, count: int) -> None:
    for i in range(count):
        fat[first + i] = first + i + 1 if i < count - 1 else ENDOFCHAIN


def compound_file(tree: _Entry) -> bytes:
    """Serialise a root entry whose ``children`` are streams and storages."""
    entries: list[_Entry] = []

    def walk(entry: _Entry) -> None:
        entry.index = len(entries)
        entries.append(entry)
        for child in entry.children or []:
            walk(child)

    walk(tree)
    for entry in entries:
        if entry.children:
            entry.child = _tree(entry.children)
    # small streams go into the mini stream, big ones into sectors of their own
    mini = bytearray()
    minifat: list[int] = []
    big = []
    for entry in entries:
        if entry.kind != 2 or not entry.data:
            continue
        if len(entry.data) < CUTOFF:
            entry.start = len(mini) // MINI
            count = -(-len(entry.data) // MINI)
            mini += entry.data + bytes(count * MINI - len(entry.data))
            minifat += [0] * count
            _chain(minifat, entry.start, count)
        else:
            big.append(entry)

    def sectors(n: int) -> int:
        return -(-n // SECTOR)

    dir_bytes = len(entries) * 128
    n_dir = sectors(dir_bytes)
    n_minifat = sectors(len(minifat) * 4)
    n_mini = sectors(len(mini))
    n_big = sum(sectors(len(e.data)) for e in big)
    n_other = n_dir + n_minifat + n_mini + n_big
    n_fat = 1
    while n_fat * (SECTOR // 4) < n_other + n_fat:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("VBA project too large for a compound file without DIFAT sectors")
    total = n_fat + n_other
    fat = [FREESECT] * (n_fat * SECTOR // 4)
    for i in range(n_fat):
        fat[i] = FATSECT
    dir_start = n_fat
    _chain(fat, dir_start, n_dir)
    minifat_start = dir_start + n_dir
    _chain(fat, minifat_start, n_minifat)
    mini_start = minifat_start + n_minifat
    _chain(fat, mini_start, n_mini)
    tree.start, tree.data = (mini_start if n_mini else ENDOFCHAIN), bytes(mini)
    at = mini_start + n_mini
    for entry in big:
        count = sectors(len(entry.data))
        entry.start = at
        _chain(fat, at, count)
        at += count
    assert at == total

    header = bytearray(SECTOR)
    struct.pack_into("<8s16sHHHHH6sIIIIIIIII", header, 0,
        bytes.fromhex("D0CF11E0A1B11AE1"), bytes(16), 0x003E, 0x0003, 0xFFFE, 9, 6, bytes(6),
        0, n_fat, dir_start, 0, CUTOFF,
        minifat_start if n_minifat else ENDOFCHAIN, n_minifat, ENDOFCHAIN, 0)  # fmt: skip
    difat = list(range(n_fat)) + [FREESECT] * (109 - n_fat)
    struct.pack_into("<109I", header, 76, *difat)

    directory = bytearray()
    for entry in entries:
        name = _utf16(entry.name) + b"\x00\x00"
        size = len(entry.data) if entry.kind != 1 else 0
        start = entry.start if (entry.kind == 5 or size) else (0 if entry.kind == 1 else ENDOFCHAIN)
        directory += struct.pack(
            "<64sHBBIII16sIQQIQ",
            name,
            len(name),
            entry.kind,
            0 if entry.red else 1,
            entry.left,
            entry.right,
            entry.child,
            bytes(16),
            0,
            0,
            0,
            start,
            size,
        )
    unused = bytes(64) + struct.pack("<HBBIII", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM)
    unused += bytes(128 - len(unused))
    while len(directory) % SECTOR:
        directory += unused

    def padded(data: bytes) -> bytes:
        return data + bytes(-len(data) % SECTOR)

    minifat += [FREESECT] * (n_minifat * SECTOR // 4 - len(minifat))
    body = [
        struct.pack(f"<{len(fat)}I", *fat),
        bytes(directory),
        struct.pack(f"<{len(minifat)}I", *minifat),
        padded(bytes(mini)),
        *(padded(e.data) for e in big),
    ]
    return bytes(header) + b"".join(body)


# -- the project -------------------------------------------------------------------------------------


def vba_project(modules: list[Module]) -> bytes:
    """The bytes of a ``vbaProject.bin`` holding ``modules`` (source only, compiled on open)."""
    names = [m.name for m in modules]
    if len(set(n.upper() for n in names)) != len(names):
        raise ValueError("two VBA modules have the same name")
    streams = [
        _Entry("_VBA_PROJECT", 2, struct.pack("<HHBH", 0x61CC, 0xFFFF, 0, 0)),
        _Entry("dir", 2, compress(_dir_stream(modules))),
    ]
    for m in modules:
        source = m.source.replace("\r\n", "\n").replace("\n", "\r\n")
        streams.append(_Entry(m.name, 2, compress(_text(source))))
    root = _Entry(
        "Root Entry",
        5,
        children=[
            _Entry("VBA", 1, children=streams),
            _Entry("PROJECT", 2, _project_stream(modules)),
            _Entry("PROJECTwm", 2, _project_wm(modules)),
        ],
    )
    return compound_file(root)
