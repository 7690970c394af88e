"""Names of files and folders the automation creates on the share: valid on Windows and Linux,
never too long, never hiding a reversed or invisible character."""

from __future__ import annotations

import hashlib
import os
import sys
import unicodedata
from pathlib import Path

NAME_MAX_BYTES = 255  # one path component on Linux and Samba (UTF-8 bytes)
WINDOWS_PATH_MAX = 259  # characters of a whole path without the \\?\ prefix
_BAD = '<>:"/\\|?*'
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}


def clean_component(text: object, *, max_chars: int = 40) -> str:
    """Text usable as (part of) a file or folder name: characters Windows refuses and control
    or format characters (bidi overrides, zero-width marks) dropped or replaced, cut to
    ``max_chars``, then no leading/trailing dots or spaces, and no reserved device name."""
    chars = []
    for ch in unicodedata.normalize("NFC", str(text or "")):
        category = unicodedata.category(ch)
        if category in ("Cf", "Cs", "Co", "Cn"):
            continue  # invisible or reordering: dropped
        if ch in _BAD or category in ("Cc", "Zl", "Zp"):
            chars.append("_")
        else:
            chars.append(ch)
    name = "".join(chars).strip(" .")[:max_chars].strip(" .")  # sanitised after cutting
    if name.split(".")[0].upper() in _RESERVED:
        name = "_" + name
    return name


def fit_name(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem+suffix``, the stem shortened (with a short hash of the whole stem, so two
    long names stay apart) when the name exceeds 255 UTF-8 bytes or, on Windows, the whole path
    exceeds 259 characters."""
    name = stem + suffix
    if _fits(folder, name):
        return folder / name
    tag = "~" + hashlib.sha256(stem.encode("utf-8")).hexdigest()[:8]
    cut = stem
    while cut and not _fits(folder, cut + tag + suffix):
        cut = cut[:-1]
    return folder / (cut.rstrip(" .") + tag + suffix)


def _fits(folder: Path, name: str) -> bool:
    if len(name.encode("utf-8")) > NAME_MAX_BYTES:
        return False
    if sys.platform == "win32" or os.environ.get("XIETONG_WINDOWS_PATHS"):
        return len(str(folder)) + 1 + len(name) <= WINDOWS_PATH_MAX
    return True
