"""Joining MongoDB writes to the ``transaction`` package.

Code that writes to Mongo does not call pymongo's write methods itself. It
asks for the current transaction's :class:`MongoDataManager` and queues
inserts, conditional updates, counter changes and deletes on it;
pyramid_tm (in requests) or an explicit transaction manager (in the
processor) commits the transaction, and only then do the writes reach the
database.

When the writes happen, and what a failure means:

* Writes are applied in ``tpc_vote``, in the order they were queued, so a
  conflict or a database error aborts the whole transaction before any
  data manager that votes later has finished.
* Where the server runs transactions (a replica set, a sharded cluster,
  the embedded server), the writes of one commit run inside one MongoDB
  transaction: ``tpc_vote`` applies them, ``tpc_finish`` commits them and
  ``tpc_abort`` throws them away, so a commit is all or nothing. A write
  conflict with a concurrent MongoDB transaction is retried here, from the
  first write, a few times, then raised as
  :class:`~s01.worker.exceptions.WriteConflict` (the change may succeed
  later: nothing it named had changed).
* On a standalone mongod, which has no transactions, the writes are
  applied one after the other in ``tpc_vote``. If the database fails
  between two of them, the ones before stay applied. Every commit we make
  is one logical change (one package record, one job state with its
  counters), and the job counters can be recounted (see
  :meth:`s01.worker.jobs.queue.JobQueue.recount`).
* Documents carry ``_version``. An update names the version (or the
  state) it read; if the stored document no longer matches, nobody's
  change is overwritten: :class:`~s01.worker.exceptions.ConflictError`
  (a transient error) aborts the transaction, and pyramid_tm retries the
  request.
* ``abort`` (or rolling back a savepoint) drops queued writes; nothing
  reaches the database.
"""
import contextlib
import logging
import random
import time

import bson
import pymongo.errors
import transaction.interfaces
from zope.interface import implementer

from s01.worker.exceptions import ConflictError
from s01.worker.exceptions import WriteConflict

log = logging.getLogger(__name__)

VOTE_ATTEMPTS = 8


@implementer(transaction.interfaces.IDataManager)
class MongoDataManager:
    """Queue Mongo writes and apply them when the transaction commits."""

    def __init__(self, db, transaction_manager, use_transactions=False):
        self.db = db
        self.transaction_manager = transaction_manager
        self.use_transactions = use_transactions
        self.ops = []
        self._session = None

    # Queueing writes.

    def insert(self, collection, document):
        """Queue an insert; return the document with ``_id``/``_version``."""
        document = dict(document)
        document.setdefault("_id", bson.ObjectId())
        document["_version"] = 1
        self.ops.append((_insert, collection, document))
        return document

    def update(self, collection, doc_id, version, changes):
        """Queue ``$set`` of ``changes`` if the stored version is
        ``version``; the stored version then goes up by one."""
        query = {"_id": doc_id, "_version": version}
        self.update_where(collection, query, {"$set": dict(changes)})

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
        self.ops.append((_update_where, collection, (dict(query), update)))

    def increment(self, collection, doc_id, changes):
        """Queue ``$inc`` of ``changes`` on a counter document, creating
        it if needed."""
        self.ops.append((_increment, collection, (doc_id, dict(changes))))

    def upsert(self, collection, doc_id, changes):
        """Queue ``$set`` of ``changes`` on a document, creating it if
        needed (a heartbeat)."""
        self.ops.append((_upsert, collection, (doc_id, dict(changes))))

    def delete(self, collection, doc_id, version=None):
        """Queue removing one document, optionally only at ``version``."""
        self.ops.append((_delete, collection, (doc_id, version)))

    def delete_many(self, collection, query, on_deleted=None):
        """Queue removing every document that matches ``query``.

        ``on_deleted(count, manager)`` runs inside the same commit with the
        number removed, so it can queue more writes (counters) that then
        commit with the removal.
        """
        self.ops.append((_delete_many, collection, (dict(query),
                                                    on_deleted)))

    def call(self, func):
        """Queue ``func(manager, db, session)``, for a write that needs to
        read inside the same MongoDB transaction (a recount)."""
        self.ops.append((_call, None, func))

    # The data manager contract.

    def abort(self, txn):
        self.ops = []

    def tpc_begin(self, txn):
        pass

    def commit(self, txn):
        pass

    def tpc_vote(self, txn):
        if not self.ops:
            return
        if not self.use_transactions:
            self._apply(None)
            return
        for attempt in range(1, VOTE_ATTEMPTS + 1):
            session = self.db.client.start_session()
            session.start_transaction()
            try:
                self._apply(session)
            except pymongo.errors.PyMongoError as exc:
                _end(session, abort=True)
                # pymongo labels a lost connection transient too; only a
                # write conflict is worth starting over for at once.
                if not exc.has_error_label("TransientTransactionError") \
                        or database_unreachable(exc):
                    raise
                if attempt == VOTE_ATTEMPTS:
                    raise WriteConflict("write conflict: %s" % exc) \
                        from exc
                # Another MongoDB transaction wrote the same document;
                # start over after a random pause that grows each time.
                time.sleep(random.uniform(0.001, 0.002 * 2 ** attempt))
                continue
            except BaseException:
                _end(session, abort=True)
                raise
            self._session = session
            return

    def tpc_finish(self, txn):
        session, self._session = self._session, None
        self.ops = []
        if session is not None:
            try:
                session.commit_transaction()
            finally:
                session.end_session()

    def tpc_abort(self, txn):
        session, self._session = self._session, None
        self.ops = []
        if session is not None:
            _end(session, abort=True)

    def sortKey(self):
        return "s01.mongo:%s" % self.db.name

    def savepoint(self):
        return MongoSavepoint(self)

    def _apply(self, session):
        # Ops may queue more ops (delete_many's callback): walk by index.
        index = 0
        while index < len(self.ops):
            func, collection, payload = self.ops[index]
            coll = self.db[collection] if collection else None
            func(self, coll, payload, session)
            index += 1


@implementer(transaction.interfaces.IDataManagerSavepoint)
class MongoSavepoint:
    """Remembers how many writes were queued; rollback drops the rest."""

    def __init__(self, manager):
        self.manager = manager
        self.length = len(manager.ops)

    def rollback(self):
        del self.manager.ops[self.length:]


def database_unreachable(exc):
    """True if a pymongo error means the server did not answer in time
    (down, unreachable, or too slow), not that it refused the request."""
    return isinstance(exc, pymongo.errors.ConnectionFailure) or \
        bool(getattr(exc, "timeout", False))


def get_data_manager(db, transaction_manager, use_transactions=False):
    """Return the data manager of the current transaction, joining it."""
    txn = transaction_manager.get()
    try:
        return txn.data(db)
    except KeyError:
        pass
    manager = MongoDataManager(db, transaction_manager, use_transactions)
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


# Applying one queued write; each takes the manager, the collection, the
# payload and the MongoDB session (None without transactions).

def _insert(manager, coll, document, session):
    coll.insert_one(document, session=session)


def _update_where(manager, coll, payload, session):
    query, update = payload
    result = coll.update_one(query, update, session=session)
    if result.matched_count != 1:
        log.debug("conditional update missed collection=%s query=%s",
                  coll.name, query)
        raise ConflictError(
            "no %s document matches %s any more" % (coll.name, query))


def _increment(manager, coll, payload, session):
    doc_id, changes = payload
    coll.update_one({"_id": doc_id}, {"$inc": changes}, upsert=True,
                    session=session)


def _upsert(manager, coll, payload, session):
    doc_id, changes = payload
    coll.update_one({"_id": doc_id}, {"$set": changes}, upsert=True,
                    session=session)


def _delete(manager, coll, payload, session):
    doc_id, version = payload
    query = {"_id": doc_id}
    if version is not None:
        query["_version"] = version
    result = coll.delete_one(query, session=session)
    if version is not None and result.deleted_count != 1:
        raise ConflictError(
            "%s %s changed since version %s" % (coll.name, doc_id, version))


def _delete_many(manager, coll, payload, session):
    query, on_deleted = payload
    result = coll.delete_many(query, session=session)
    if on_deleted is not None:
        on_deleted(result.deleted_count, manager)


def _call(manager, coll, func, session):
    func(manager, manager.db, session)


def _end(session, abort):
    try:
        if abort and session.in_transaction:
            session.abort_transaction()
    except pymongo.errors.PyMongoError as exc:
        # The server drops an unfinished transaction by itself; an abort
        # that cannot reach it changes nothing we could still undo.
        log.debug("mongo transaction abort failed error=%s", exc)
    finally:
        session.end_session()
