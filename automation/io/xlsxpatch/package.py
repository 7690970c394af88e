"""Read the parts of an OOXML package and rewrite a few of them, copying the rest raw.

:class:`Package` parses the zip's central directory itself so that :meth:`Package.rebuild` can
copy every entry it does not replace as the original bytes (local header, compressed data, data
descriptor): same order, same compression, same timestamps and flags. Only replaced entries are
compressed anew (deflate if they were deflated, stored if they were stored). A long part (a
sheet of thousands of rows) is deflated in runs of rows, each run's stream kept by its bytes:
the same table patched again in one row compresses the run that holds it, not the whole sheet.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

from automation.io.xlsxpatch.errors import E_PATCH_FORMAT, XlsxPatchError

E_PACKAGE = E_PATCH_FORMAT
MAX_PART_BYTES = 256 * 1024 * 1024  # a larger part is treated as a zip bomb

_EOCD = b"PK\x05\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"
_DESCRIPTOR = b"PK\x07\x08"
_CENTRAL_FMT = "<4sHHHHHHIIIHHHHHII"  # 46 bytes
_LOCAL_FMT = "<4sHHHHHIIIHH"  # 30 bytes


class PackageError(XlsxPatchError):
    """The package itself is broken or of a kind we do not rewrite."""

    code = E_PACKAGE


@dataclass
class _Entry:
    name: str  # as stored (may use backslashes)
    central: bytes  # the whole central directory record
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    offset: int  # of the local header

    @property
    def part(self) -> str:
        return normalise_part(self.name)


def normalise_part(name: str) -> str:
    """Part name as compared: forward slashes, no leading slash, lower case (OPC rule)."""
    return name.replace("\\", "/").lstrip("/").lower()


class Package:
    """A zip package held in memory; parts looked up by normalised name."""

    def __init__(self, data: bytes):
        self.data = data
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError) as exc:
            raise PackageError(
                "文件不是有效的 xlsx/xlsm 工作簿（不是 zip 包，可能已损坏、已加密或是旧版 .xls）。"
            ) from exc
        self.entries, self.comment = self._parse_central_directory()
        self._by_part = {e.part: e for e in self.entries}

    def has(self, part: str) -> bool:
        return normalise_part(part) in self._by_part

    def read(self, part: str) -> bytes:
        entry = self._by_part.get(normalise_part(part))
        if entry is None:
            raise PackageError(f"工作簿缺少部件 {part}，文件可能已损坏。")
        if entry.usize > MAX_PART_BYTES:
            raise PackageError(f"工作簿部件 {part} 过大（{entry.usize} 字节），拒绝处理。")
        try:
            with self._zip.open(entry.name) as fh:
                data = fh.read(MAX_PART_BYTES + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, zlib.error) as exc:
            raise PackageError(f"无法读取工作簿部件 {part}：{exc}") from exc
        if len(data) > MAX_PART_BYTES:
            raise PackageError(f"工作簿部件 {part} 过大，拒绝处理。")
        return data

    def raw_span(self, entry: _Entry) -> bytes:
        """The entry's local header, compressed data and data descriptor, as stored."""
        d = self.data
        head = struct.unpack_from(_LOCAL_FMT, d, entry.offset)
        if head[0] != _LOCAL:
            raise PackageError("zip 包结构异常（本地文件头缺失），文件可能已损坏。")
        end = entry.offset + 30 + head[9] + head[10] + entry.csize
        if entry.flags & 0x08:
            end += 16 if d[end : end + 4] == _DESCRIPTOR else 12
        if end > len(d):
            raise PackageError("zip 包被截断，文件可能已损坏。")
        return d[entry.offset : end]

    def rebuild(self, replacements: dict[str, bytes]) -> bytes:
        """The package with the parts named in ``replacements`` swapped, all else raw-copied."""
        wanted = {normalise_part(k): v for k, v in replacements.items()}
        missing = set(wanted) - set(self._by_part)
        if missing:
            raise PackageError(f"工作簿缺少部件 {sorted(missing)}。")
        out = io.BytesIO()
        centrals: list[bytes] = []
        for entry in self.entries:
            offset = out.tell()
            if entry.part in wanted:
                local, central = _new_entry(self, entry, wanted[entry.part], offset)
                out.write(local)
            else:
                out.write(self.raw_span(entry))
                central = entry.central[:42] + struct.pack("<I", offset) + entry.central[46:]
            centrals.append(central)
        cd_offset = out.tell()
        for central in centrals:
            out.write(central)
        cd_size = out.tell() - cd_offset
        n = len(centrals)
        out.write(
            struct.pack("<4sHHHHIIH", _EOCD, 0, 0, n, n, cd_size, cd_offset, len(self.comment))
        )
        out.write(self.comment)
        return out.getvalue()

    def _parse_central_directory(self) -> tuple[list[_Entry], bytes]:
        d = self.data
        pos = d.rfind(_EOCD, max(0, len(d) - 65557))
        if pos < 0 or pos + 22 > len(d):
            raise PackageError("zip 包结构异常（找不到目录），文件可能已损坏。")
        _, disk, _, _, count, cd_size, cd_offset, clen = struct.unpack_from("<4sHHHHIIH", d, pos)
        if disk != 0 or count == 0xFFFF or cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
            raise PackageError("暂不支持 zip64 或分卷的工作簿包。", code="E_PATCH_UNSUPPORTED")
        comment = d[pos + 22 : pos + 22 + clen]
        entries: list[_Entry] = []
        p = cd_offset
        for _ in range(count):
            if d[p : p + 4] != _CENTRAL:
                raise PackageError("zip 包目录损坏，文件可能已损坏。")
            f = struct.unpack_from(_CENTRAL_FMT, d, p)
            flags, method, crc, csize, usize = f[3], f[4], f[7], f[8], f[9]
            nlen, elen, clen2, offset = f[10], f[11], f[12], f[16]
            if 0xFFFFFFFF in (csize, usize, offset):
                raise PackageError("暂不支持 zip64 的工作簿包。", code="E_PATCH_UNSUPPORTED")
            if flags & 0x01:
                raise PackageError("工作簿包中的部件已加密，无法处理。")
            raw_name = d[p + 46 : p + 46 + nlen]
            name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
            end = p + 46 + nlen + elen + clen2
            entries.append(_Entry(name, d[p:end], flags, method, crc, csize, usize, offset))
            p = end
        return entries, comment


def _new_entry(pkg: Package, entry: _Entry, data: bytes, offset: int) -> tuple[bytes, bytes]:
    """Local header + data and central record for a replaced part."""
    if entry.method == zipfile.ZIP_STORED:
        method, payload = zipfile.ZIP_STORED, data
    else:
        method, payload = zipfile.ZIP_DEFLATED, deflated(data)
    crc = zlib.crc32(data) & 0xFFFFFFFF
    flags = entry.flags & ~0x08  # sizes go in the local header: no data descriptor
    head = struct.unpack_from(_LOCAL_FMT, pkg.data, entry.offset)
    name_extra = pkg.data[entry.offset + 30 : entry.offset + 30 + head[9] + head[10]]
    local = struct.pack(
        _LOCAL_FMT,
        _LOCAL,
        head[1],
        flags,
        method,
        head[4],
        head[5],
        crc,
        len(payload),
        len(data),
        head[9],
        head[10],
    )
    c = list(struct.unpack_from(_CENTRAL_FMT, entry.central, 0))
    c[3], c[4], c[7], c[8], c[9], c[16] = flags, method, crc, len(payload), len(data), offset
    central = struct.pack(_CENTRAL_FMT, *c) + entry.central[46:]
    return local + name_extra + payload, central


# -- deflating long parts in runs of rows ----------------------------------------------------

_LEVEL = 6
_ROW_END = b"</row>"
RUN_ROWS = 128  # rows deflated together (a run of a tracking table: about 150 KB of XML)
_RUNS_FROM = 4 * RUN_ROWS  # a part of fewer rows is deflated whole
# the stream of each run deflated lately, by its bytes (a run patched is a new key); cleared
# when the runs held pass _RUNS_HELD bytes
_RUNS: dict[bytes, bytes] = {}
_RUNS_HELD = 16 * 1024 * 1024
_runs_size = 0


def deflated(data: bytes) -> bytes:
    """The raw deflate stream of ``data`` (what ``zipfile`` stores for a deflated entry).

    A part of many rows goes in runs of :data:`RUN_ROWS` rows, cut after the row ends counted
    from the start: a patch that changes cells, not the number of rows, leaves every other run
    the same bytes. Each run is deflated on its own and flushed to a byte boundary (no final
    block), a run seen lately is taken as it was, and an empty final block ends the stream:
    the runs' streams one after the other inflate to ``data``."""
    pieces = data.split(_ROW_END) if len(data) >= 64 * 1024 else []
    if len(pieces) <= _RUNS_FROM:
        comp = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15)
        return comp.compress(data) + comp.flush()
    global _runs_size
    streams = []
    last = len(pieces) - 1
    for start in range(0, len(pieces), RUN_ROWS):
        stop = min(start + RUN_ROWS, len(pieces))
        run = _ROW_END.join(pieces[start:stop]) + (_ROW_END if stop <= last else b"")
        packed = _RUNS.get(run)
        if packed is None:
            packed = piece_stream(run, _LEVEL)
            if _runs_size + len(run) > _RUNS_HELD:
                _RUNS.clear()
                _runs_size = 0
            _RUNS[run] = packed
            _runs_size += len(run)
        streams.append(packed)
    streams.append(FINAL_BLOCK)
    return b"".join(streams)


def piece_stream(raw: bytes, level: int) -> bytes:
    """The raw deflate stream of one piece of a part, flushed to a byte boundary with no final
    block: pieces' streams one after the other, then :data:`FINAL_BLOCK`, make the part's."""
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    return comp.compress(raw) + comp.flush(zlib.Z_SYNC_FLUSH)


FINAL_BLOCK = b"\x03\x00"  # an empty final block (fixed codes): ends a stream of pieces


# -- CRC-32 of joined pieces from the pieces' own ------------------------------------------------

_CRC_POLY = 0xEDB88320  # reflected CRC-32 polynomial (zlib's)


def _mult_mod(a: int, b: int) -> int:
    """a·b modulo the CRC polynomial, both reflected (bit 31 is x⁰)."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


def _powers() -> list[int]:
    out = []
    p = 1 << 30  # x¹
    for _ in range(32):
        out.append(p)  # x^(2^k)
        p = _mult_mod(p, p)
    return out


_X_POW2 = _powers()


def _shift(n: int) -> int:
    """x^(8·n) modulo the polynomial: what appending n zero bytes multiplies a CRC by."""
    p = 1 << 31  # x⁰
    k = 3
    while n:
        if n & 1:
            p = _mult_mod(_X_POW2[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, size2: int) -> int:
    """The CRC-32 of ``a + b`` from ``crc32(a)``, ``crc32(b)`` and ``len(b)`` (zlib's
    ``crc32_combine``, which Python's ``zlib`` does not expose): a piece kept with its CRC is
    not read again to work out the CRC of the part it is joined into."""
    if size2 <= 0:
        return crc1
    return _mult_mod(_shift(size2), crc1) ^ crc2
