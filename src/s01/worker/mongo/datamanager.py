"""Joining MongoDB writes to the ``transaction`` package.

Code that writes to Mongo does not call pymongo's write methods itself. It
asks for the current transaction's :class:`MongoDataManager` and queues
inserts, conditional updates and deletes on it; pyramid_tm (in requests) or
an explicit transaction manager (in the processor) commits the
transaction, and only then do the writes reach the database.

When the writes happen, and what a failure means:

* Writes are applied in ``tpc_vote``, in the order they were queued, so a
  conflict or a database error still aborts the whole transaction before
  any data manager that votes later has finished.
* Documents carry ``_version``. An update names the version it read; if the
  stored document has another version, nobody's change is overwritten:
  :class:`~s01.worker.exceptions.ConflictError` (a transient error)
  aborts the transaction and pyramid_tm retries the request.
* MongoDB has no prepare vote. If the database fails between two writes of
  one transaction, the writes applied before it stay applied. Keep each
  transaction to one logical change (one package record, one job step), so
  such a half stays a consistent state.
* ``abort`` (or rolling back a savepoint) drops queued writes; nothing
  reaches the database.
"""
import contextlib
import logging

import bson
import transaction.interfaces
from zope.interface import implementer

from s01.worker.exceptions import ConflictError

log = logging.getLogger(__name__)


@implementer(transaction.interfaces.IDataManager)
class MongoDataManager:
    """Queue Mongo writes and apply them when the transaction commits."""

    def __init__(self, db, transaction_manager):
        self.db = db
        self.transaction_manager = transaction_manager
        self.ops = []

    # Queueing writes.

    def insert(self, collection, document):
        """Queue an insert; return the document with ``_id``/``_version``."""
        document = dict(document)
        document.setdefault("_id", bson.ObjectId())
        document["_version"] = 1
        self.ops.append(("insert", collection, document))
        return document

    def update(self, collection, doc_id, version, changes):
        """Queue ``$set`` of ``changes`` if the stored version is
        ``version``; the stored version then goes up by one."""
        self.ops.append(("update", collection, (doc_id, version,
                                                dict(changes))))

    def delete(self, collection, doc_id, version=None):
        """Queue removing one document, optionally only at ``version``."""
        self.ops.append(("delete", collection, (doc_id, version)))

    def update_where(self, collection, query, update):
        """Queue ``update_one(query, update)`` that must change exactly one
        document; ``_version`` goes up by one.

        This is how a conditional state change is written (a job claimed
        only while it is still queued, finished only by the holder of its
        claim token): when no document matches any more, the change is
        someone else's to make and the commit fails with
        :class:`~s01.worker.exceptions.ConflictError`.
        """
        update = {op: dict(fields) for op, fields in update.items()}
        update.setdefault("$inc", {})["_version"] = 1
        self.ops.append(("update_where", collection, (dict(query), update)))

    def delete_many(self, collection, query):
        """Queue removing every document that matches ``query``."""
        self.ops.append(("delete_many", collection, dict(query)))

    # The data manager contract.

    def abort(self, txn):
        self.ops = []

    def tpc_begin(self, txn):
        pass

    def commit(self, txn):
        pass

    def tpc_vote(self, txn):
        for kind, collection, payload in self.ops:
            getattr(self, "_apply_" + kind)(self.db[collection], payload)

    def tpc_finish(self, txn):
        self.ops = []

    def tpc_abort(self, txn):
        self.ops = []

    def sortKey(self):
        return "s01.mongo:%s" % self.db.name

    def savepoint(self):
        return MongoSavepoint(self)

    # Applying writes.

    def _apply_insert(self, coll, document):
        coll.insert_one(document)

    def _apply_update(self, coll, payload):
        doc_id, version, changes = payload
        result = coll.update_one(
            {"_id": doc_id, "_version": version},
            {"$set": changes, "$inc": {"_version": 1}})
        if result.matched_count != 1:
            log.info("conflict collection=%s id=%s version=%s",
                     coll.name, doc_id, version)
            raise ConflictError(
                "%s %s changed since version %s" % (coll.name, doc_id,
                                                   version))

    def _apply_update_where(self, coll, payload):
        query, update = payload
        result = coll.update_one(query, update)
        if result.matched_count != 1:
            log.debug("conditional update missed collection=%s query=%s",
                      coll.name, query)
            raise ConflictError(
                "no %s document matches %s any more" % (coll.name, query))

    def _apply_delete_many(self, coll, query):
        coll.delete_many(query)

    def _apply_delete(self, coll, payload):
        doc_id, version = payload
        query = {"_id": doc_id}
        if version is not None:
            query["_version"] = version
        result = coll.delete_one(query)
        if version is not None and result.deleted_count != 1:
            raise ConflictError(
                "%s %s changed since version %s" % (coll.name, doc_id,
                                                   version))


@implementer(transaction.interfaces.IDataManagerSavepoint)
class MongoSavepoint:
    """Remembers how many writes were queued; rollback drops the rest."""

    def __init__(self, manager):
        self.manager = manager
        self.length = len(manager.ops)

    def rollback(self):
        del self.manager.ops[self.length:]


def get_data_manager(db, transaction_manager):
    """Return the data manager of the current transaction, joining it."""
    txn = transaction_manager.get()
    try:
        return txn.data(db)
    except KeyError:
        pass
    manager = MongoDataManager(db, transaction_manager)
    txn.join(manager)
    txn.set_data(db, manager)
    return manager


@contextlib.contextmanager
def atomic(transaction_manager):
    """One transaction around a block: commit at the end, abort on error.

    Unlike ``with transaction_manager:``, a commit that fails (a conflict
    found while voting) is aborted too, so the manager can begin the next
    transaction at once.
    """
    transaction_manager.begin()
    try:
        yield
        transaction_manager.commit()
    except BaseException:
        transaction_manager.abort()
        raise
