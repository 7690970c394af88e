"""The garbage collector and what a long-lived process keeps on purpose.

A process that runs cycles (the watcher service, a benchmark) keeps every settled workbook's
report and the values worked out from them (``automation.io.cache``): millions of small objects
on a drive of a few thousand workbooks, and none of them needs the cycle collector (reference
counting frees them when a newer version replaces them). CPython's full collections walk them all
the same — over a second per collection at 2,000 items, several per cycle.

A cycle runs with automatic collection :func:`paused`. :func:`freeze`, between its steps, frees
the garbage cycles among the objects the step made (one pass over those only) and moves what is
left out of the collector's sight (``gc.freeze``); :func:`settle`, at the cycle's end, does the
same and every ``FULL_EVERY`` cycles first runs one full collection over everything, so
reference cycles that became garbage while frozen are still freed.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

FULL_EVERY = 50  # settles between full collections over the frozen objects

_settles = 0


def settle() -> None:
    """At the end of a cycle: freeze what is alive now; every ``FULL_EVERY`` calls, collect
    everything first."""
    global _settles
    _settles += 1
    if _settles % FULL_EVERY == 0:
        gc.unfreeze()
        gc.collect()
    freeze()


def freeze() -> None:
    """Between the steps of a cycle (run with automatic collection :func:`paused`): the garbage
    cycles among the objects the step made are freed (one pass over those objects only), and
    what is left is not walked again by later collections."""
    gc.collect(0)
    gc.freeze()


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside; reference counting still frees what is dropped."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


__all__ = ["FULL_EVERY", "freeze", "paused", "settle"]
