"""The process-wide MongoDB client, and the embedded server behind it."""
import logging
import urllib.parse

import pymongo
import pymongo.errors
from zope.interface import implementer

from s01.worker.exceptions import StoreUnavailable
from s01.worker.interfaces import IMongoStore
from s01.worker.mongo.datamanager import get_data_manager
from s01.worker.mongo.embedded import EmbeddedMongo

log = logging.getLogger(__name__)


@implementer(IMongoStore)
class MongoStore:
    """One MongoClient per process, from ``s01.mongo.uri``."""

    def __init__(self, uri, database, timeout=3.0, embedded=None):
        self.uri = uri
        self.timeout = timeout
        self.embedded = embedded
        ms = int(timeout * 1000)
        # Journaled writes: an acknowledged job state survives a crash of
        # the database server.
        self.client = pymongo.MongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=ms,
            connectTimeoutMS=ms, socketTimeoutMS=max(ms * 10, 30000),
            journal=True, appname="s01.worker")
        self.db = self.client[database]
        self.host, self.port = _host_and_port(uri)
        self._transactions = None

    @classmethod
    def from_settings(cls, settings):
        """Connect to the configured server, starting the embedded one."""
        uri = settings["s01.mongo.uri"]
        embedded = None
        if uri == "embedded":
            embedded = EmbeddedMongo(
                settings["s01.mongo.embedded.dir"],
                log_path=settings["s01.mongo.embedded.log"],
                min_free_mb=settings["s01.mongo.embedded.min_free_mb"],
            ).start()
            uri = embedded.uri
        store = cls(uri, settings["s01.mongo.database"],
                    settings["s01.mongo.timeout"], embedded)
        log.info("mongo configured host=%s port=%s database=%s embedded=%s",
                 store.host, store.port, store.db.name, bool(embedded))
        return store

    def status(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        try:
            with pymongo.timeout(timeout):
                self.client.admin.command("ping")
            ok = True
        except pymongo.errors.PyMongoError as exc:
            # Status answers the question "is it up?"; it must not raise.
            log.warning("mongo unreachable host=%s port=%s error=%s",
                        self.host, self.port, type(exc).__name__)
            ok = False
        return {"status": ok, "host": self.host, "port": self.port}

    def known_down(self):
        """True if the client last found no server to write to; asking
        again now would wait for ``timeout`` first."""
        return not self.client.topology_description.has_writable_server()

    def server_time(self):
        with pymongo.timeout(self.timeout):
            return self.client.admin.command("hello")["localTime"]

    @property
    def supports_transactions(self):
        """True if the server runs multi-document transactions.

        Replica sets and sharded clusters do (the embedded server acts as
        a one-member replica set); a standalone mongod does not. Asked
        once, when first needed.
        """
        if self._transactions is None:
            with pymongo.timeout(self.timeout):
                hello = self.client.admin.command("hello")
            self._transactions = bool(hello.get("setName")) or \
                hello.get("msg") == "isdbgrid"
            log.info("mongo transactions=%s host=%s port=%s",
                     self._transactions, self.host, self.port)
        return self._transactions

    def data_manager(self, transaction_manager):
        """The current transaction's data manager for our database."""
        return get_data_manager(self.db, transaction_manager,
                                self.supports_transactions)

    def close(self):
        self.client.close()
        if self.embedded is not None:
            self.embedded.stop()


def unavailable_error(store, exc):
    """The StoreUnavailable error that tells a caller about ``exc``."""
    return StoreUnavailable("MongoDB at %s:%s did not answer within %g s "
                            "(%s)" % (store.host, store.port, store.timeout,
                                      type(exc).__name__))


def _host_and_port(uri):
    """The first host and port named by a mongodb:// URI."""
    netloc = urllib.parse.urlsplit(uri).netloc.rsplit("@", 1)[-1]
    first = netloc.split(",")[0]
    if first.startswith("["):
        host, _, rest = first[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = first.partition(":")
    return host or "localhost", int(port) if port else 27017
