"""Shared fixtures: the default rules, a freshly laid-out drive, LibreOffice when installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from automation.rules import Rules, load_rules

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
if not CORPUS.is_dir():  # CI clones main beside a copy of shared/
    CORPUS = Path(os.environ.get("XIETONG_CORPUS", REPO.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def rules() -> Rules:
    return load_rules()


@pytest.fixture(autouse=True)
def _local_state(tmp_path_factory, monkeypatch):
    """Keep the automation's local database out of the user's home during tests."""
    monkeypatch.setenv("XIETONG_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def drive(tmp_path: Path) -> Path:
    from automation.api import init_drive

    root = tmp_path / "共享盘"
    init_drive(root)
    return root


@pytest.fixture(scope="session")
def soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) must be installed in CI")
        pytest.skip(
            "LibreOffice headless is not installed (apt-get install libreoffice-calc-nogui)"
        )
    return exe


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``xietong`` command in a subprocess, as a user would."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "automation", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd or REPO,
        env=env,
        timeout=300,
    )


def convert_with_libreoffice(soffice: str, src: Path, out_dir: Path, fmt: str = "pdf") -> Path:
    """Convert a workbook with LibreOffice headless; returns the converted file."""
    profile = out_dir / ".lo-profile"
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            fmt,
            "--outdir",
            str(out_dir),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    target = out_dir / (src.stem + "." + fmt.split(":")[0])
    if proc.returncode != 0 or not target.is_file():
        raise AssertionError(f"LibreOffice failed on {src.name}: {proc.stdout} {proc.stderr}")
    return target
