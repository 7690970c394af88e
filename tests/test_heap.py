"""The collector and what a process keeps between cycles (``automation.process.heap``)."""

from __future__ import annotations

import gc
import weakref

from automation.process import heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def _fresh(monkeypatch, after_full: int) -> None:
    monkeypatch.setattr(heap, "_since_full", 0)
    monkeypatch.setattr(heap, "_after_full", after_full)
    monkeypatch.setattr(heap, "_frozen", after_full)


def test_a_cycle_frozen_then_dropped_is_freed_within_full_every_cycles(monkeypatch):
    _fresh(monkeypatch, after_full=10**12)  # no growth rule: only the count
    try:
        node = Node()
        ref = weakref.ref(node)
        heap.settle()
        assert gc.get_freeze_count() > 0
        del node
        gc.collect()
        assert ref() is not None  # frozen: an ordinary collection does not look at it
        for _ in range(heap.FULL_EVERY - 1):
            heap.begin()
            assert ref() is not None
            heap.settle()
        heap.begin()  # the FULL_EVERY-th cycle starts with a full collection
        assert ref() is None
    finally:
        gc.unfreeze()


def test_frozen_objects_grown_by_a_quarter_start_a_full_collection(monkeypatch):
    gc.unfreeze()
    gc.collect()
    _fresh(monkeypatch, after_full=0)
    try:
        heap.settle()
        monkeypatch.setattr(heap, "_after_full", gc.get_freeze_count())
        monkeypatch.setattr(heap, "_frozen", gc.get_freeze_count())
        node = Node()
        ref = weakref.ref(node)
        heap.begin()
        heap.settle()  # the node frozen
        del node
        heap.begin()  # no growth: nothing collected
        assert ref() is not None
        heap.settle()
        with heap.paused():  # as in a cycle: the collector's count is of the whole cycle
            grown = [Node() for _ in range(gc.get_freeze_count() // 2)]
            heap.settle()
        heap.begin()  # grown by half: collected, the dropped node with it
        assert ref() is None
        assert len(grown) > 0
    finally:
        gc.unfreeze()


def test_a_fresh_process_starts_without_a_full_collection(monkeypatch):
    _fresh(monkeypatch, after_full=0)
    calls = []
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append(a) or 0)
    heap.begin()
    assert calls == []


def test_paused_turns_automatic_collection_off_and_back_on():
    assert gc.isenabled()
    with heap.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with heap.paused():
            pass
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_cycles_that_keep_nothing_new_never_count_the_frozen_objects(monkeypatch):
    """Counting the frozen objects walks them all; it is done only by a full collection."""
    _fresh(monkeypatch, after_full=100_000)
    try:
        monkeypatch.setattr(gc, "get_freeze_count", lambda: 1 / 0)
        for _ in range(5):
            heap.begin()
            with heap.paused():
                junk = [Node() for _ in range(10_000)]  # made and dropped within the cycle
                del junk
                heap.settle()
        assert 0 < heap._since_full < heap.FULL_EVERY
    finally:
        gc.unfreeze()
