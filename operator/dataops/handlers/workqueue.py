"""A work queue of object keys, like client-go's: watch handlers only add keys; a fixed pool of
workers reconciles them.

- A key waiting in the queue is not added twice: a burst of events for one object (or a fan-out that
  names the same pipeline many times) costs one reconcile.
- A key is never reconciled by two workers at once; one added while it is being reconciled runs again
  right after.
- Delayed adds (requeue after, retry backoff) wait in a heap served by one thread; the earliest
  requested time wins.
- Two lanes: a key added as ``background`` (a driver pod's phase to record) waits behind the others
  (a trigger to launch, an edit) unless it has waited ``background_max_wait`` seconds, so a burst of
  bookkeeping never delays a launch for long, and bookkeeping is never starved. A key added to both
  lanes is served once, in the first.
- ``shutdown()`` stops at once: waiting keys are dropped, workers finish the reconcile in hand.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


BACKGROUND_MAX_WAIT = 3.0


class WorkQueue(Generic[K]):
    def __init__(self, *, background_max_wait: float = BACKGROUND_MAX_WAIT) -> None:
        self._cond = threading.Condition()
        self._queue: deque[K] = deque()  # FIFO of dirty keys not being processed
        # The background lane: (time added, key); an entry whose key is no longer in _low is stale.
        self._background: deque[tuple[float, K]] = deque()
        self._low: set[K] = set()  # dirty keys that only background adds asked for
        self._background_max_wait = background_max_wait
        self._dirty: dict[K, bool] = {}  # key -> "verify" requested by any add since it was queued
        self._processing: set[K] = set()
        self._delayed: list[tuple[float, int, K, bool]] = []
        self._due: dict[K, float] = {}  # earliest pending delayed time per key
        self._counter = itertools.count()
        self._shutdown = False

    # -- producers ------------------------------------------------------------------------------

    def add(self, key: K, *, verify: bool = False, background: bool = False) -> None:
        with self._cond:
            if self._shutdown:
                return
            if key in self._dirty:
                self._dirty[key] = self._dirty[key] or verify
                if not background:
                    self._to_front(key)
                    self._cond.notify_all()
                return
            self._dirty[key] = verify
            if background:
                self._low.add(key)
            if key not in self._processing:
                self._enqueue(key)
                self._cond.notify_all()

    def _to_front(self, key: K) -> None:
        """A waiting background key moves to the first lane (its background entry goes stale)."""
        if key in self._low:
            self._low.discard(key)
            if key not in self._processing:
                self._queue.append(key)

    def _enqueue(self, key: K) -> None:
        if key in self._low:
            self._background.append((time.monotonic(), key))
        else:
            self._queue.append(key)

    def add_after(self, key: K, delay: float, *, verify: bool = False, background: bool = False) -> None:
        if delay <= 0:
            self.add(key, verify=verify, background=background)
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
                key = self._next_key()
                if key is not None:
                    verify = self._dirty.pop(key)
                    self._processing.add(key)
                    return key, verify
                timeout = self._delayed[0][0] - time.monotonic() if self._delayed else None
                self._cond.wait(timeout=max(timeout, 0.0) if timeout is not None else None)

    def _next_key(self) -> K | None:
        while self._background and self._background[0][1] not in self._low:
            self._background.popleft()  # stale: served from the other lane, or already taken
        if self._background:
            added, key = self._background[0]
            if not self._queue or time.monotonic() - added >= self._background_max_wait:
                self._background.popleft()
                self._low.discard(key)
                return key
        return self._queue.popleft() if self._queue else None

    def done(self, key: K) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty and not self._shutdown:
                self._enqueue(key)
                self._cond.notify_all()
            elif not self._queue and not self._low and not self._processing:
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
                self._to_front(key)  # a timer is not bookkeeping: serve it in the first lane
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
            while self._queue or self._low or self._processing:
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
            self._background.clear()
            self._low.clear()
            self._dirty.clear()
            self._delayed.clear()
            self._due.clear()
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._low)
