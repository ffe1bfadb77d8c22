"""Group commit: items submitted from many threads run in batches, one batch at a time.

A thread that submits while no batch runs runs its item at once, alone. Items submitted while
a batch runs wait, and the first of them to wake runs all that are waiting as the next batch.
So nothing waits when there is no contention, and a burst costs a few batches instead of one
run per item. Each ``submit`` returns when its own item's batch is done, and raises that
batch's error: every item of a failed batch fails with it.

The executor runs the label updates of one host through one of these: when many joins end at
once, their labels go to the leader in a few commands instead of one SSH command each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Coalescer(Generic[T]):
    def __init__(self, run: Callable[[list[T]], None]) -> None:
        self._run = run
        self._changed = threading.Condition()
        self._waiting: list[T] = []
        self._busy = False
        # Items whose batch has run, with its error (None: done). Read once by their submitter.
        self._outcomes: dict[int, BaseException | None] = {}

    def submit(self, item: T) -> None:
        key = id(item)
        with self._changed:
            self._waiting.append(item)
            while self._busy and key not in self._outcomes:
                self._changed.wait()
            if key in self._outcomes:  # another thread ran it in its batch
                error = self._outcomes.pop(key)
                if error is not None:
                    raise error
                return
            batch, self._waiting, self._busy = self._waiting, [], True
        error = None
        try:
            self._run(batch)
        except BaseException as exc:
            error = exc
        with self._changed:
            for other in batch:
                if other is not item:
                    self._outcomes[id(other)] = error
            self._busy = False
            self._changed.notify_all()
        if error is not None:
            raise error
