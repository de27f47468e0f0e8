"""Bookings written by one thread, many requests' in one transaction (group commit).

A request hands its bookings over and waits for the commit without holding a thread of its own:
its event loop serves other requests meanwhile. When bookings arrive faster than a commit takes,
the next commit carries all that queued up, so a burst costs one transaction, not one each.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from data.stores.appointments import AppointmentStore

_STOP = object()


class BookingQueue:
    """Writes submitted bookings to a store in its own thread; `submit` returns the commit's future."""

    def __init__(self, store: AppointmentStore, max_rows: int = 5000) -> None:
        self.store = store
        self.max_rows = max_rows
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="careops-bookings", daemon=True)
        self._thread.start()

    def submit(self, rows: Sequence[dict]) -> Future[None]:
        """Queue booking rows (see `booking_row`); the future is done once they are committed."""
        done: Future[None] = Future()
        if not rows:
            done.set_result(None)
        else:
            self._queue.put((list(rows), done))
        return done

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            count = len(item[0])
            while count < self.max_rows:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._write(batch)
                    return
                batch.append(item)
                count += len(item[0])
            self._write(batch)

    def _write(self, batch: list[tuple[list[dict], Future[None]]]) -> None:
        try:
            self.store.upsert_bookings([row for rows, _ in batch for row in rows])
        except Exception as error:  # handed to the waiting request, which answers 500 and logs the type
            if len(batch) == 1:
                batch[0][1].set_exception(error)
                return
            # One request's rows may be what failed: write each request's on its own, so only it fails.
            for item in batch:
                self._write([item])
            return
        for _, done in batch:
            done.set_result(None)
