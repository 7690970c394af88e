"""Checks on a submitted file before any parser sees it.

A workbook from the shared drive is untrusted: it may be a zip bomb, carry XML entity tricks,
declare a sheet of 16,384 x 1,048,576 cells or a billion shared strings (each of which makes a
reader allocate gigabytes), be encrypted, or not be a workbook at all. :func:`check_file` looks
at the file's signature, the zip directory and a bounded streaming scan of every XML part, and
raises :class:`FileRejected` with a catalogue code when the file must not be parsed.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from defusedxml import ElementTree as SafeET

from automation.core.cells import column_index, column_letter
from automation.core.problems import CATALOGUE
from automation.errors import XietongError
from automation.rules.validation import ValidationRules

MB = 1024 * 1024
CHUNK = 1 * MB
OVERLAP = 64  # bytes kept between chunks so a pattern split by a chunk edge is still seen
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
BIFF_OLD = (b"\x09\x00", b"\x09\x02", b"\x09\x04", b"\x09\x08")  # Excel 2.x-4.x worksheets
MAX_COLUMN_INDEX = 16384
MAX_ROW_INDEX = 1048576

_DOCTYPE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DIMENSION = re.compile(rb'<dimension\b[^>]*?\bref="([A-Z]{1,4})?(\d+)?(?::([A-Z]{1,4})(\d+))?"')
_ROW = re.compile(rb'<row\b[^>]*?\br="(\d{1,9})"')
_SST = re.compile(rb"<sst\b[^>]*>")
_SST_COUNT = re.compile(rb'\b(?:count|uniqueCount)="(\d{1,12})"')


class FileRejected(XietongError):
    """A file that cannot be read at all; ``code`` is a file-level catalogue code (exit code 2)."""

    exit_code = 2

    def __init__(self, code: str, **params: object):
        self.params = {k: str(v) for k, v in params.items()}
        template = CATALOGUE[code].template
        super().__init__(template.format_map(_Params(self.params)), code=code)


class _Params(dict):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class FileInfo:
    """What the pre-parse check learned about a file the reader may now open."""

    path: Path
    format: str  # xlsx, xlsm, xlsb, xls, ods
    size: int
    error_parts: tuple[str, ...] = ()  # worksheet parts holding Excel error cells (t="e")
    properties: dict[str, str] = field(default_factory=dict)  # custom document properties


def column_number(letters: str) -> int:
    """A → 1, XFD → 16384; any number of letters (a hostile file may reach far beyond XFD)."""
    return column_index(letters, bounded=False)


def check_file(path: str | Path, limits: ValidationRules) -> FileInfo:
    """Reject what must not be parsed; return what the reader needs to know about the rest."""
    return start_check(path, limits).finish()


@dataclass(frozen=True)
class Checking:
    """A file past the quick checks (signature, size, zip directory), its parts not yet scanned.

    The quick checks are what must pass before any parser opens the file (a zip bomb is refused
    by its directory alone); :meth:`finish` then reads every XML part, and only its
    :class:`FileInfo` says the file may be trusted. In between, the isolated reader process may
    already parse the file (``automation.io.reader``), so the scan and the parse run together.
    """

    path: Path
    size: int
    _finish: Callable[[], FileInfo]
    _close: Callable[[], None] = lambda: None

    def finish(self) -> FileInfo:
        """Scan the parts; :class:`FileRejected` when the file must not be used."""
        try:
            return self._finish()
        finally:
            self._close()

    def close(self) -> None:
        """Release the file without scanning it (the caller gave up on it)."""
        self._close()


def start_check(path: str | Path, limits: ValidationRules) -> Checking:
    """The quick checks of :func:`check_file`; the part scan is left to :meth:`Checking.finish`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise FileRejected("E_FILE_UNREADABLE", detail="文件不存在") from None
    except OSError as exc:
        raise FileRejected("E_FILE_UNREADABLE", detail=exc.strerror or type(exc).__name__) from None
    if size == 0:
        raise FileRejected("E_EMPTY", detail="0 字节")
    if size > limits.max_file_mb * MB:
        raise FileRejected(
            "E_TOO_LARGE", detail=f"文件 {size / MB:.1f} MB，上限 {limits.max_file_mb:g} MB"
        )
    if head.startswith(ZIP_SIGNATURES):
        whole = _whole(path, size)  # a small file is read once: directory and parts from it
        zf, infos, fmt = _zip_directory(path, whole, limits)  # kept open for the scan
        scan = functools.partial(_check_zip, zf, infos, path, size, fmt, limits, whole)
        return Checking(path, size, scan, zf.close)
    if head.startswith(OLE_SIGNATURE):
        return Checking(path, size, lambda: _check_ole(path, size))
    raise FileRejected(_other_format(head), detail=_describe_other(head))


def _other_format(head: bytes) -> str:
    return "E_CORRUPT" if _describe_other(head) == "无法识别的文件内容" else "E_LEGACY_FORMAT"


def _describe_other(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(BIFF_OLD):
        return "Excel 4.0 及更早版本的工作表"
    if text.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        return "Excel 2003 XML 表格"
    if text.startswith((b"<html", b"<!doctype html", b"<table", b"<meta")):
        return "网页（HTML）格式，只是扩展名为 .xls"
    if text.startswith(b"%pdf"):
        return "PDF 文档"
    if head and all(b >= 9 for b in head[:512]) and (b"," in head or b"\t" in head):
        try:
            head.decode("utf-8")
            return "文本/CSV 文件"
        except UnicodeDecodeError:
            return "文本/CSV 文件（非 UTF-8 编码）"
    return "无法识别的文件内容"


def _check_ole(path: Path, size: int) -> FileInfo:
    """An OLE2 compound file: an .xls, or an encrypted .xlsx (EncryptedPackage stream)."""
    marker = "EncryptedPackage".encode("utf-16-le")
    with path.open("rb") as fh:
        data = fh.read(min(size, 64 * MB))
    if marker in data or "EncryptionInfo".encode("utf-16-le") in data:
        raise FileRejected("E_ENCRYPTED")
    is_book = "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data
    if not is_book and "WordDocument".encode("utf-16-le") in data:
        raise FileRejected("E_LEGACY_FORMAT", detail="Word 文档")
    return FileInfo(path, "xls", size)


def _zip_format(names: set[str]) -> str:
    if "mimetype" in names and "content.xml" in names:
        return "ods"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "xl/vbaProject.bin" in names:
        return "xlsm"
    if "[Content_Types].xml" in names:
        if "word/document.xml" in names:
            raise FileRejected("E_LEGACY_FORMAT", detail="Word 文档")
        if "ppt/presentation.xml" in names:
            raise FileRejected("E_LEGACY_FORMAT", detail="PowerPoint 演示文稿")
        return "xlsx"
    raise FileRejected("E_LEGACY_FORMAT", detail="压缩包，不是 Excel 工作簿")


def _zip_directory(
    path: Path, whole: bytes | None, limits: ValidationRules
) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo], str]:
    """The open zip (over the file's bytes when they were read whole) after the checks on its
    directory alone (parts, sizes, ratios, encryption)."""
    with _zip_errors():
        zf = zipfile.ZipFile(io.BytesIO(whole) if whole is not None else path)
        try:
            infos = zf.infolist()
            if len(infos) > limits.max_entries:
                raise FileRejected(
                    "E_TOO_LARGE", detail=f"包含 {len(infos)} 个部件，上限 {limits.max_entries}"
                )
            _check_sizes(infos, limits)
            fmt = _zip_format({i.filename for i in infos})
            if any(i.flag_bits & 0x1 for i in infos):
                raise FileRejected("E_ENCRYPTED")
        except BaseException:
            zf.close()
            raise
    return zf, infos, fmt


def _check_zip(
    zf: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    path: Path,
    size: int,
    fmt: str,
    limits: ValidationRules,
    whole: bytes | None = None,
) -> FileInfo:
    """Every XML part scanned: entity tricks, sheet extent, shared-string count; small plain
    parts taken from ``whole``, the file's bytes, when it was read whole (see :func:`_member`)."""
    with _zip_errors():
        scan = _Scan(limits)
        for info in infos:
            if info.filename.endswith((".xml", ".rels", ".vml")) and not info.is_dir():
                scan.part(zf, info, whole)
        names = {i.filename for i in infos}
        if fmt == "ods":
            _check_ods_manifest(zf, names)
        properties = _custom_properties(zf, names)
    return FileInfo(path, fmt, size, tuple(scan.error_parts), properties)


@contextlib.contextmanager
def _zip_errors() -> Iterator[None]:
    """zipfile's own errors as coded rejections."""
    try:
        yield
    except FileRejected:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise FileRejected("E_CORRUPT", detail=f"压缩结构错误：{exc}") from None
    except NotImplementedError as exc:  # an unknown compression method
        raise FileRejected("E_CORRUPT", detail=str(exc)) from None
    except OSError as exc:
        raise FileRejected("E_FILE_UNREADABLE", detail=exc.strerror or str(exc)) from None


def _check_sizes(infos: list[zipfile.ZipInfo], limits: ValidationRules) -> None:
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_mb * MB:
        raise FileRejected(
            "E_TOO_LARGE",
            detail=f"解压后 {total / MB:.0f} MB，上限 {limits.max_uncompressed_mb:g} MB",
        )
    for i in infos:
        if i.file_size > limits.ratio_min_mb * MB:
            ratio = i.file_size / max(i.compress_size, 1)
            if ratio > limits.max_ratio:
                raise FileRejected(
                    "E_ZIP_BOMB",
                    detail=f"{i.filename} 压缩比 {ratio:.0f}:1，上限 {limits.max_ratio:g}:1",
                )


WHOLE_MAX = 16 * MB  # a file up to this size is read once for the part scan
_LOCAL = struct.Struct("<4s22xHH")  # local file header: signature, name and extra lengths


def _whole(path: Path, size: int) -> bytes | None:
    """The file's bytes, when small enough to check from memory (one read for the directory
    and the parts)."""
    if size > WHOLE_MAX:
        return None
    try:
        with path.open("rb") as fh:
            data = fh.read(size + 1)
    except OSError:
        return None
    return data if len(data) == size else None  # changed meanwhile: zipfile reads the file


def _member(whole: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """A part's bytes taken from the file's bytes without zipfile's per-member machinery
    (most of the scan's time on a workbook of small parts). Only the plain case: a part of at
    most ``CHUNK`` bytes, stored or deflated, whose local header, size and CRC all agree with
    the directory. Anything else is None and goes through zipfile, which reports it as before."""
    if info.file_size > CHUNK or info.compress_type not in (
        zipfile.ZIP_STORED,
        zipfile.ZIP_DEFLATED,
    ):
        return None
    at = info.header_offset
    if at < 0 or at + _LOCAL.size > len(whole):
        return None
    signature, name_len, extra_len = _LOCAL.unpack_from(whole, at)
    if signature != b"PK\x03\x04":
        return None
    start = at + _LOCAL.size + name_len + extra_len
    raw = whole[start : start + info.compress_size]
    if len(raw) != info.compress_size:
        return None
    if info.compress_type == zipfile.ZIP_STORED:
        body = raw
    else:
        try:
            inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            body = inflate.decompress(raw, info.file_size + 1)  # never more than it declares
        except zlib.error:
            return None
    if len(body) != info.file_size or zlib.crc32(body) != info.CRC:
        return None
    return body


class _Scan:
    """A bounded streaming scan of XML parts: entity tricks, sheet extent, shared-string count."""

    def __init__(self, limits: ValidationRules):
        self.limits = limits
        self.error_parts: list[str] = []
        letters = len(column_letter(limits.max_columns))
        digits = len(str(limits.max_rows))
        # Only references with as many letters (digits) as the limit are worth a closer look; the
        # literal prefix keeps these scans fast on sheets of a million cells.
        self.wide_ref = re.compile(rb'r="([A-Z]{%d,})\d' % letters)
        self.far_row = re.compile(rb'r="[A-Z]{0,3}(\d{%d,})"' % digits)

    def part(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, whole: bytes | None = None) -> None:
        """Scan one part: from ``whole`` (the file's bytes) when it is small and plainly stored
        (see :func:`_member`), else streamed through zipfile."""
        body = _member(whole, info) if whole is not None else None
        if body is not None:
            self._scan(info.filename, iter((body,) if body else ()))
            return
        with zf.open(info) as fh:
            self._scan(info.filename, iter(lambda: fh.read(CHUNK), b""))

    def _scan(self, name: str, chunks: Iterator[bytes]) -> None:
        is_sheet = name.startswith(("xl/worksheets/", "xl/macrosheets/", "xl/dialogsheets/"))
        is_sst = name == "xl/sharedStrings.xml"
        tail = b""
        first = True
        has_errors = False
        for chunk in chunks:
            if first and chunk[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<"):
                chunk = chunk.replace(b"\x00", b"")  # UTF-16: ASCII markup still shows
            data = tail + chunk if tail else chunk
            if _DOCTYPE.search(data):
                raise FileRejected("E_UNSAFE_XML", detail=f"{name} 含 DOCTYPE/ENTITY 声明")
            if is_sheet:
                if first:
                    self._dimension(name, data)
                self._extent(name, data)
                has_errors = has_errors or b't="e"' in data
            elif is_sst and first:
                self._shared_strings(data)
            tail = data[-OVERLAP:]
            first = False
        if has_errors:
            self.error_parts.append(name)

    def _dimension(self, name: str, data: bytes) -> None:
        m = _DIMENSION.search(data)
        if not m or not m[3]:
            return
        rows = int(m[4]) - int(m[2] or 1) + 1
        cols = column_number(m[3].decode()) - column_number((m[1] or b"A").decode()) + 1
        if (
            rows > self.limits.max_rows
            or cols > self.limits.max_columns
            or rows * cols > self.limits.max_cells
        ):
            ref = m[0].split(b'"')[1].decode()
            raise FileRejected(
                "E_TOO_LARGE",
                detail=f"{name} 的范围 {ref} 超出 {self.limits.max_rows} 行 × {self.limits.max_columns} 列",
            )

    def _extent(self, name: str, data: bytes) -> None:
        for m in self.wide_ref.finditer(data):
            if column_number(m[1].decode()) > self.limits.max_columns:
                raise FileRejected(
                    "E_TOO_LARGE",
                    detail=f"{name} 使用了 {m[1].decode()} 列，上限 {self.limits.max_columns} 列",
                )
        for m in self.far_row.finditer(data):
            if int(m[1]) > self.limits.max_rows:
                raise FileRejected(
                    "E_TOO_LARGE",
                    detail=f"{name} 使用了第 {int(m[1])} 行，上限 {self.limits.max_rows} 行",
                )

    def _shared_strings(self, data: bytes) -> None:
        m = _SST.search(data)
        if not m:
            return
        counts = [int(c) for c in _SST_COUNT.findall(m[0])]
        if counts and max(counts) > self.limits.max_shared_strings:
            raise FileRejected(
                "E_TOO_LARGE",
                detail=f"共享字符串 {max(counts)} 个，上限 {self.limits.max_shared_strings}",
            )


def _check_ods_manifest(zf: zipfile.ZipFile, names: set[str]) -> None:
    if "META-INF/manifest.xml" in names:
        with zf.open("META-INF/manifest.xml") as fh:
            if b"encryption-data" in fh.read(4 * MB):
                raise FileRejected("E_ENCRYPTED")


def _custom_properties(zf: zipfile.ZipFile, names: set[str]) -> dict[str, str]:
    """Custom document properties (xietong_kind, xietong_version), when small and well formed."""
    name = "docProps/custom.xml"
    if name not in names or zf.getinfo(name).file_size > MB:
        return {}
    try:
        root = SafeET.fromstring(zf.read(name))
    except Exception:  # a broken property part does not make the workbook unreadable
        return {}
    out: dict[str, str] = {}
    for prop in root:
        key = prop.get("name")
        if key and len(prop):
            out[key] = (prop[0].text or "").strip()
    return out
