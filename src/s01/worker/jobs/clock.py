"""The database server's clock, as every daemon sharing it sees it.

Leases, retry times and queue order compare times written by different
daemons, so they all take time from one place: the MongoDB server. Asking
it on every call would add a round trip to every claim, so the clock keeps
the offset between the server's time and the local monotonic clock and
refreshes it now and then.

Queue positions are integers made from that time (``seq_of``): the
microseconds since the epoch times 1000 plus three random digits, so two
daemons writing in the same microsecond still get distinct, ordered
values, and a range of positions is a range of times.
"""
import datetime
import logging
import random
import threading
import time

import pymongo.errors

log = logging.getLogger(__name__)

UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
SEQ_PER_SECOND = 1_000_000 * 1000


class ServerClock:
    """Now, by the database server's clock, without a round trip."""

    def __init__(self, store, refresh_seconds=30.0):
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._offset = None
        self._refreshed = None
        self._lock = threading.Lock()

    def now(self):
        """The server's current time as an aware UTC datetime."""
        offset = self._current_offset()
        return EPOCH + datetime.timedelta(seconds=time.time() + offset)

    def refresh(self):
        """Ask the server for its time and remember the offset."""
        before = time.time()
        server = self.store.server_time()
        after = time.time()
        if server.tzinfo is None:
            server = server.replace(tzinfo=UTC)
        # The answer was made somewhere between sending and receiving.
        offset = (server - EPOCH).total_seconds() - (before + after) / 2
        with self._lock:
            self._offset = offset
            self._refreshed = time.monotonic()
        return offset

    def _current_offset(self):
        with self._lock:
            offset, refreshed = self._offset, self._refreshed
        stale = refreshed is None or \
            time.monotonic() - refreshed > self.refresh_seconds
        if stale and offset is not None and self.store.known_down():
            # Asking a server the client knows is down would only wait
            # out its timeout; the old offset serves meanwhile.
            return offset
        if stale:
            try:
                offset = self.refresh()
            except pymongo.errors.PyMongoError as exc:
                if offset is None:
                    raise
                # Keep the last offset through an outage, and ask again
                # only after another period: every call waiting for the
                # server's timeout first would make each one that slow.
                # The offset drifts by far less than a lease meanwhile.
                log.debug("server clock refresh failed error=%s", exc)
                with self._lock:
                    self._refreshed = time.monotonic()
        return offset


def seq_of(when):
    """The queue position of an aware datetime (see the module doc)."""
    micros = (when - EPOCH) // datetime.timedelta(microseconds=1)
    return micros * 1000 + random.randrange(1000)


def time_of(seq):
    """The datetime a queue position was made from."""
    return EPOCH + datetime.timedelta(microseconds=seq // 1000)
