"""A ``xietong run`` with nothing new on the demo drive: before and after the run context.

Before: the code at ``XIETONG_BASELINE`` (default ``3c1357b``, the trunk before the run
context, where a run loaded the rules four to five times with PyYAML's pure-Python parser).
After: this checkout. Each side builds its own demo drive once (the two versions' rules differ,
so one drive cannot serve both), then both are timed in alternating rounds, each run a fresh
``python -m automation run`` process as a user or the scheduler starts it (imports included).

Run by hand: ``python -m pytest -m benchmark benchmarks/bench_warm_run.py -o addopts="" -q -s``.
Prints every round and the ratio of the medians; asserts only that nothing was written. Needs a
git checkout that holds the baseline commit; elsewhere (a copy without history, a shallow clone)
it is skipped, saying so.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.benchmark

REPO = Path(__file__).resolve().parent.parent
BASELINE = os.environ.get("XIETONG_BASELINE", "3c1357b")
ROUNDS = int(os.environ.get("XIETONG_BENCH_ROUNDS", "5"))
AS_OF = "2026-10-21T10:00:00+08:00"


def _env(source: Path, state: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(source), "XIETONG_STATE_DIR": str(state)}
    env["XIETONG_SETTLE_SECONDS"] = "0"
    env.pop("XIETONG_NO_CACHE", None)
    return env


def _xietong(source: Path, state: Path, *args: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "automation", *args],
        cwd=source,
        env=_env(source, state),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=900,
    )
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    return elapsed


def _hashes(drive: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(drive.rglob("*"))
        if p.is_file() and "08_日志" not in p.parts
    }


def _has_baseline() -> bool:
    """Whether this is a git checkout that holds the baseline commit (a copy unpacked from an
    archive has no history, a shallow clone not that far back)."""
    try:
        found = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{BASELINE}^{{commit}}"],
            capture_output=True,
        )
    except OSError:  # no git at all
        return False
    return found.returncode == 0


def test_warm_run_before_and_after(tmp_path):
    if not _has_baseline():
        pytest.skip(
            f"needs a git checkout holding the baseline commit {BASELINE} (a full clone; not a "
            "copy without history or a shallow clone): the code before the run context"
        )
    baseline = tmp_path / "baseline"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(baseline), BASELINE],
        check=True,
        capture_output=True,
    )
    try:
        sides = {"before": baseline, "after": REPO}
        drives, states = {}, {}
        for name, source in sides.items():
            drives[name] = tmp_path / f"demo-{name}"
            states[name] = tmp_path / f"state-{name}"
            _xietong(source, states[name], "demo", str(drives[name]))
            _xietong(source, states[name], "run", str(drives[name]), "--as-of", AS_OF)
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(ROUNDS):
            for name, source in sides.items():
                before = _hashes(drives[name])
                times[name].append(
                    _xietong(source, states[name], "run", str(drives[name]), "--as-of", AS_OF)
                )
                assert _hashes(drives[name]) == before  # nothing new: nothing written
        print(f"\nwarm run on the demo drive, {ROUNDS} alternating rounds (cores {os.cpu_count()})")
        for name in sides:
            rounds = ", ".join(f"{t:.2f}" for t in times[name])
            print(f"  {name:<6} median {statistics.median(times[name]):.2f} s  ({rounds})")
        ratio = statistics.median(times["before"]) / statistics.median(times["after"])
        print(f"  after is x{ratio:.2f} faster (ratio of medians)")
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(baseline)],
            capture_output=True,
        )
