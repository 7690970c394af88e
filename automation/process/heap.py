"""The garbage collector and what a long-lived process keeps on purpose.

A process that runs cycles (the watcher service, a benchmark) keeps every settled workbook's
report and the values worked out from them (``automation.io.cache``): millions of small objects
on a drive of a few thousand workbooks, and none of them needs the cycle collector (reference
counting frees them when a newer version replaces them). CPython's full collections walk them all
the same — over a second per collection at 2,000 items, several per cycle.

A cycle runs with automatic collection :func:`paused`. :func:`freeze`, between its steps, frees
the garbage cycles among the objects the step made (one pass over those only) and moves what is
left out of the collector's sight (``gc.freeze``); :func:`settle`, at the cycle's end, does the
same. Reference cycles that become garbage after they were frozen are freed by one full
collection at the start of a later cycle (:func:`begin`): when the frozen objects grew by a
quarter since the last full collection, or since the end of the process's first cycle
(CPython's own rule for its oldest generation), and at least every ``FULL_EVERY`` cycles.
A one-cycle process (``xietong run``) never pays for it.

The frozen objects are not counted (``gc.get_freeze_count`` walks them all: 90 ms per call at
2,000 items): each :func:`freeze` adds the collector's count of objects made and not freed since
the previous one (``gc.get_count()[0]``, which also goes down as kept objects are replaced),
less the garbage its collection freed.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

FULL_EVERY = 50  # cycles between full collections at the latest
GROWTH = 1.25  # frozen objects grown by this factor since the last full collection: collect

_since_full = 0  # cycles settled since the last full collection
_after_full = 0  # frozen objects (estimated) right after the last full collection
_frozen = 0  # frozen objects (estimated, see the module text)


def begin() -> None:
    """At the start of a cycle: the full collection, when one is due (see the module text)."""
    global _after_full, _since_full, _frozen
    if not _since_full:
        return  # none settled since the last one (or none at all: a fresh process)
    if _since_full >= FULL_EVERY or _frozen > GROWTH * max(_after_full, 1):
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _frozen = _after_full = gc.get_freeze_count()  # counted here: the collection walked more
        _since_full = 0


def settle() -> None:
    """At the end of a cycle: what is alive now frozen (see :func:`freeze`)."""
    global _since_full, _after_full
    _since_full += 1
    freeze()
    if not _after_full:  # the first cycle of the process: what it keeps is the baseline
        _after_full = _frozen


def freeze() -> None:
    """Between the steps of a cycle (run with automatic collection :func:`paused`): the garbage
    cycles among the objects the step made are freed (one pass over those objects only), and
    what is left is not walked again by later collections."""
    global _frozen
    made = gc.get_count()[0]  # net of what was freed, frozen objects included
    freed = gc.collect(0)
    gc.freeze()
    _frozen = max(_frozen + made - freed, 0)


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


__all__ = ["FULL_EVERY", "GROWTH", "begin", "freeze", "paused", "settle"]
