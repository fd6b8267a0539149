"""A work queue of object keys, like client-go's: watch handlers only add keys; a fixed pool of
workers reconciles them.

- A key waiting in the queue is not added twice: a burst of events for one object (or a fan-out that
  names the same pipeline many times) costs one reconcile.
- A key is never reconciled by two workers at once; one added while it is being reconciled runs again
  right after.
- Delayed adds (requeue after, retry backoff) wait in a heap served by one thread; the earliest
  requested time wins.
- ``shutdown()`` stops at once: waiting keys are dropped, workers finish the reconcile in hand.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[K] = []  # FIFO of dirty keys not being processed
        self._dirty: dict[K, bool] = {}  # key -> "verify" requested by any add since it was queued
        self._processing: set[K] = set()
        self._delayed: list[tuple[float, int, K, bool]] = []
        self._due: dict[K, float] = {}  # earliest pending delayed time per key
        self._counter = itertools.count()
        self._shutdown = False

    # -- producers ------------------------------------------------------------------------------

    def add(self, key: K, *, verify: bool = False) -> None:
        with self._cond:
            if self._shutdown:
                return
            if key in self._dirty:
                self._dirty[key] = self._dirty[key] or verify
                return
            self._dirty[key] = verify
            if key not in self._processing:
                self._queue.append(key)
                self._cond.notify_all()

    def add_after(self, key: K, delay: float, *, verify: bool = False) -> None:
        if delay <= 0:
            self.add(key, verify=verify)
            return
        due = time.monotonic() + delay
        with self._cond:
            if self._shutdown:
                return
            if key in self._due and self._due[key] <= due:
                return
            self._due[key] = due
            heapq.heappush(self._delayed, (due, next(self._counter), key, verify))
            self._cond.notify_all()

    # -- consumers ------------------------------------------------------------------------------

    def get(self) -> tuple[K, bool] | None:
        """The next key and its verify flag; None once shut down. Call :meth:`done` after."""
        with self._cond:
            while True:
                if self._shutdown:
                    return None
                self._promote_due()
                if self._queue:
                    key = self._queue.pop(0)
                    verify = self._dirty.pop(key)
                    self._processing.add(key)
                    return key, verify
                timeout = self._delayed[0][0] - time.monotonic() if self._delayed else None
                self._cond.wait(timeout=max(timeout, 0.0) if timeout is not None else None)

    def done(self, key: K) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty and not self._shutdown:
                self._queue.append(key)
                self._cond.notify_all()
            elif not self._queue and not self._processing:
                self._cond.notify_all()  # wake join()

    def _promote_due(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            due, _, key, verify = heapq.heappop(self._delayed)
            if self._due.get(key) != due:
                continue  # superseded by an earlier request that already fired
            del self._due[key]
            if key in self._dirty:
                self._dirty[key] = self._dirty[key] or verify
                continue
            self._dirty[key] = verify
            if key not in self._processing:
                self._queue.append(key)

    # -- lifecycle ------------------------------------------------------------------------------

    def start_workers(self, count: int, handle: Callable[[K, bool], object], name: str = "worker") -> None:
        def work() -> None:
            while (item := self.get()) is not None:
                key, verify = item
                try:
                    handle(key, verify)
                finally:
                    self.done(key)

        for index in range(count):
            threading.Thread(target=work, name=f"{name}-{index}", daemon=True).start()

    def join(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is queued or in progress (delayed keys not counted). For tests."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._processing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(timeout=min(remaining, 0.1))
                self._promote_due()
            return True

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._queue.clear()
            self._dirty.clear()
            self._delayed.clear()
            self._due.clear()
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)
