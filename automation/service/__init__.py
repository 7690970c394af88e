"""The watcher service (``xietong serve``): a front end over the cycle, no business rules.

Rooms: :mod:`.scanner` (periodic rescan, readiness), :mod:`.events` (watchdog, a hint),
:mod:`.queue` (per-path coalescing), :mod:`.supervisor` (restarting dead threads),
:mod:`.schedule` (when jobs are due), :mod:`.health` (status files), :mod:`.runner` (all of it).
"""
