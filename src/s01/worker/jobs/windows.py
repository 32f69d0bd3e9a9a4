"""Reading an ordered index one bounded range at a time.

A query with ``sort`` and ``limit`` over a large index range is cheap on
mongod, which stops after ``limit`` entries. The embedded server reads the
whole range before it applies the limit (``MONGO-BACKENDS.md`` in the
project's notes measured about 20 microseconds a matching document), so a
page of 20 out of 100,000 jobs would cost seconds there. Queue positions
and list positions are times (``clock.seq_of``), so the scan asks for one
window of positions at a time, grows the window while it comes back empty
and, when one comes back full, sizes the next to the span the full one
covered. Each query then costs about what it returns, on both servers.
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

    def ascending(self, query, start, stop, limit, projection=None,
                  accept=None):
        """Up to ``limit`` documents with ``start <= field < stop``, lowest
        first; ``accept`` filters them further in Python."""
        found = []
        low = start
        while low < stop and len(found) < limit:
            high = min(low + self.window, stop)
            docs = self._find(query, low, high, pymongo.ASCENDING,
                              limit - len(found), projection)
            found += [doc for doc in docs if accept is None or accept(doc)]
            # A full answer may have left documents in this window.
            low = docs[-1][self.field] + 1 if self._full else high
        return found[:limit]

    def descending(self, query, start, stop, limit, projection=None,
                   accept=None):
        """Up to ``limit`` documents with ``start <= field < stop``, highest
        first; ``accept`` filters them further in Python."""
        found = []
        high = stop
        while high > start and len(found) < limit:
            low = max(high - self.window, start)
            docs = self._find(query, low, high, pymongo.DESCENDING,
                              limit - len(found), projection)
            found += [doc for doc in docs if accept is None or accept(doc)]
            high = docs[-1][self.field] if self._full else low
        return found[:limit]

    def _find(self, query, low, high, direction, limit, projection):
        bounded = dict(query)
        bounded[self.field] = {"$gte": low, "$lt": high}
        docs = list(self.collection.find(bounded, projection)
                    .sort(self.field, direction).limit(limit))
        self._full = len(docs) >= limit

        # An empty window was too narrow. A full one may have been much
        # wider than needed: the next one spans about twice what it held.
        if not docs:
            self.window = min(self.window * 4, MAX_WINDOW)
        elif self._full:
            span = abs(docs[-1][self.field] - docs[0][self.field]) + 1
            self.window = max(2 * span, MIN_WINDOW)
        return docs
