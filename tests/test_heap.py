"""The collector and what a process keeps between cycles (``automation.process.heap``)."""

from __future__ import annotations

import gc
import weakref

from automation.process import heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_settle_freezes_what_is_alive_and_a_later_settle_frees_frozen_garbage(monkeypatch):
    monkeypatch.setattr(heap, "_settles", 0)
    try:
        node = Node()
        ref = weakref.ref(node)
        heap.settle()
        assert gc.get_freeze_count() > 0
        del node
        gc.collect()
        assert ref() is not None  # frozen: an ordinary collection does not look at it
        for _ in range(heap.FULL_EVERY - 1):
            heap.settle()
        assert ref() is None  # the full collection every FULL_EVERY settles freed it
    finally:
        gc.unfreeze()


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
