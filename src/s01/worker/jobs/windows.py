"""Reading an ordered index one bounded range at a time.

A query with ``sort`` and ``limit`` over a large index range is cheap on
mongod, which stops after ``limit`` entries. The embedded server reads the
whole range before it applies the limit (``MONGO-BACKENDS.md`` in the
project's notes measured about 20 microseconds a matching document), so a
page of 20 out of 100,000 jobs would cost seconds there. Queue positions
and list positions are times (``clock.seq_of``), so the scan asks for one
window of positions at a time, grows the window while it comes back empty
and shrinks it while it comes back full. Each query then costs about what
it returns, on both servers.
"""
import pymongo

MIN_WINDOW = 1000                   # one microsecond of positions
MAX_WINDOW = 10 ** 20               # more than all of time


class WindowScan:
    """Find documents in the order of one integer field, window by window.

    ``window`` is the scan's current guess of a good range width; keep the
    object between scans of the same kind so the guess carries over.
    """

    def __init__(self, collection, field, window):
        self.collection = collection
        self.field = field
        self.window = window

    def ascending(self, query, start, stop, limit, projection=None):
        """Up to ``limit`` documents with ``start <= field < stop``, lowest
        first."""
        found = []
        low = start
        while low < stop and len(found) < limit:
            high = min(low + self.window, stop)
            found += self._find(query, low, high, pymongo.ASCENDING,
                                limit - len(found), projection)
            low = high
        return found

    def descending(self, query, start, stop, limit, projection=None):
        """Up to ``limit`` documents with ``start <= field < stop``, highest
        first."""
        found = []
        high = stop
        while high > start and len(found) < limit:
            low = max(high - self.window, start)
            found += self._find(query, low, high, pymongo.DESCENDING,
                                limit - len(found), projection)
            high = low
        return found

    def _find(self, query, low, high, direction, limit, projection):
        bounded = dict(query)
        bounded[self.field] = {"$gte": low, "$lt": high}
        docs = list(self.collection.find(bounded, projection)
                    .sort(self.field, direction).limit(limit))

        # An empty window was too narrow; a full one may have been wide
        # enough to be slow.
        if not docs:
            self.window = min(self.window * 4, MAX_WINDOW)
        elif len(docs) >= limit:
            self.window = max(self.window // 2, MIN_WINDOW)
        return docs
