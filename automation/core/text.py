"""Text from files and names, made safe to show to a person (可显示文本).

A lock file, a file name or a cell can carry control characters: a newline in a user name
printed verbatim fakes a whole output line, a right-to-left override (U+202E) makes a name
display reversed. :func:`printable` escapes them so what is shown is what is there.
"""

from __future__ import annotations

import unicodedata

# Bidirectional embedding/override/isolate controls: they reorder the text around them.
_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _unsafe(ch: str) -> bool:
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F or code in _BIDI:
        return True
    # Line and paragraph separators also break a line in many terminals and viewers.
    return unicodedata.category(ch) in ("Zl", "Zp")


def printable(text: object) -> str:
    """``text`` with control characters escaped, on one line.

    ``\\n``, ``\\r`` and ``\\t`` become those two-character escapes; other C0/C1 controls, DEL,
    bidirectional controls (U+202A–202E, U+2066–2069) and line/paragraph separators become
    ``\\uXXXX``. Everything else, Chinese included, is kept as it is.
    """
    s = "" if text is None else str(text)
    if all(not _unsafe(ch) for ch in s):
        return s
    return "".join(_escape(ch) if _unsafe(ch) else ch for ch in s)
