"""Every file of the real-world corpus gives a result or a coded error: no traceback, hang or crash."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from automation.core.problems import CATALOGUE
from automation.io.feedback import write_feedback
from automation.io.validation import validate_file, validate_paths

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
FILES = (
    sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md")
    if CORPUS.is_dir()
    else []
)

# Files whose outcome is known: a regression on one of them is a real change in behaviour.
EXPECTED = {
    "pass_protected.xlsx": "E_ENCRYPTED",
    "pass_protected.xlsb": "E_ENCRYPTED",
    "pass_protected.ods": "E_ENCRYPTED",
    "issue_385.xls": "E_ENCRYPTED",
    "issue_174.xlsx": "E_TOO_LARGE",  # <dimension ref="A1:XFD1048576"/>
    "issue_594_dos.ods": "E_TOO_LARGE",  # asks for 17 billion cells
    "issue252.xlsx": "E_CORRUPT",  # a part larger than its declared size
    "OOM_alloc3.xls": "E_CORRUPT",
    "too_small.xls": "E_CORRUPT",
    "picture.png": "E_CORRUPT",
    "empty_sheet.xlsx": "E_EMPTY",
}


@pytest.mark.skipif(not FILES, reason=f"corpus not found at {CORPUS}")
def test_every_corpus_file_gives_a_result_or_a_coded_error(rules, tmp_path):
    seen: dict[str, str] = {}
    for path in FILES:
        start = time.monotonic()
        report = validate_file(path, rules)
        elapsed = time.monotonic() - start
        assert elapsed < 30, f"{path.name} took {elapsed:.1f}s"
        for p in report.problems:
            assert p.code in CATALOGUE, (path.name, p.code)
            assert p.message and "Traceback" not in p.message
        if not report.readable:
            assert len(report.problems) == 1 and report.problems[0].file_level
        seen[path.name] = report.problems[0].code if report.problems else "ok"
        # the feedback for the submitter can be written for every one of them too
        written = write_feedback(report, tmp_path / "feedback", path)
        assert written and all(w.is_file() for w in written)
    for name, code in EXPECTED.items():
        assert seen.get(name) == code, (name, seen.get(name))


@pytest.mark.skipif(not FILES, reason=f"corpus not found at {CORPUS}")
def test_the_corpus_folder_validates_as_one_batch(rules):
    reports = validate_paths([CORPUS], rules)
    assert len(reports) == len(
        [f for f in FILES if f.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")]
    )
