"""Text shown to people: control characters escaped; one blank rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automation.core.normalize import is_blank
from automation.core.text import printable
from automation.io.locks import lock_holder
from automation.io.safewrite import WriteDeferred, safe_write


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("张三", "张三"),
        ("a\nb", "a\\nb"),
        ("a\r\nb\tc", "a\\r\\nb\\tc"),
        ("x\x00y\x1b[31m", "x\\u0000y\\u001B[31m"),
        ("del\x7f c1\x85", "del\\u007F c1\\u0085"),
        ("abc\u202etxt.xlsx", "abc\\u202Etxt.xlsx"),
        ("\u2066iso\u2069", "\\u2066iso\\u2069"),
        ("line\u2028sep", "line\\u2028sep"),
        (None, ""),
    ],
)
def test_control_characters_are_escaped(raw: str | None, shown: str) -> None:
    assert printable(raw) == shown


@given(st.text())
def test_printable_text_has_no_control_characters_and_keeps_the_rest(text: str) -> None:
    out = printable(text)
    assert "\n" not in out and "\r" not in out
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in out)
    assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in out)
    if all(c.isprintable() and not 0x202A <= ord(c) <= 0x2069 for c in text):
        assert out == text


def test_a_crafted_libreoffice_lock_cannot_fake_an_output_line(tmp_path: Path) -> None:
    book = tmp_path / "x.xlsx"
    book.write_bytes(b"PK\x03\x04")
    lock = tmp_path / ".~lock.x.xlsx#"
    lock.write_text("张三\n登记 XT-2026-9999,zs,PC-01\n,04.12.2026 10:00,file:///x;", "utf-8")
    holder = lock_holder(book)
    assert holder is not None
    assert "\n" not in holder and "张三\\n登记 XT-2026-9999" in holder
    with pytest.raises(WriteDeferred) as err:
        safe_write(book, b"new", expected=None)
    message = str(err.value)
    assert len(message.splitlines()) == 1 and "\\n登记 XT-2026-9999" in message
    assert book.read_bytes() == b"PK\x03\x04"


def test_a_crafted_office_owner_file_is_shown_on_one_line(tmp_path: Path) -> None:
    book = tmp_path / "跟踪表.xlsx"
    book.write_bytes(b"PK\x03\x04")
    user = "李四\n登记 XT-2026-9999"
    raw = user.encode("utf-8")
    (tmp_path / f"~${book.name}").write_bytes(bytes([len(raw)]) + raw + b" " * 10)
    holder = lock_holder(book)
    assert holder is not None and "\n" not in holder
    assert holder.startswith("李四\\n登记 XT-2026-9999")


@pytest.mark.parametrize("value", [None, "", "   ", " \u3000\t\n", "\u200b", [], ()])
def test_nothing_typed_is_blank(value: object) -> None:
    assert is_blank(value)


@pytest.mark.parametrize("value", [0, 0.0, False, "0", "否", ["x"], " a "])
def test_zero_and_no_are_answers_not_blanks(value: object) -> None:
    assert not is_blank(value)


class _Text(str):
    """A str subclass (a reader may hand one over): the rule is the same."""


@given(
    st.text(alphabet=st.sampled_from(" \t\r\n\u00a0\u3000\u200b\u200c\u200d\u2060\ufeff\u00adx中"))
)
def test_the_blank_rule_is_the_same_for_any_text(text: str) -> None:
    # the rule spelled out: zero-width characters dropped, the usual spaces stripped
    zero_width = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
    expected = not text.translate(zero_width).strip(" \t\r\n\u00a0\u3000")
    assert is_blank(text) is expected
    assert is_blank(_Text(text)) is expected
