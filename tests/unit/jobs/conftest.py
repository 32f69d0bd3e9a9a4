"""A real store, the server clock and a queue on a fresh database."""
import uuid

import pytest
import transaction

from s01.worker.jobs.clock import ServerClock
from s01.worker.jobs.queue import JobQueue
from s01.worker.mongo.store import MongoStore


@pytest.fixture
def store(mongo_uri):
    store = MongoStore(mongo_uri, "test_%s" % uuid.uuid4().hex[:12])
    yield store
    store.client.drop_database(store.db.name)
    store.close()


@pytest.fixture
def clock(store):
    return ServerClock(store)


@pytest.fixture
def make_queue(store, clock):
    def make(server_name="node1", **kw):
        queue = JobQueue(store, clock, server_name, **kw)
        queue.ensure_indexes()
        return queue
    return make


@pytest.fixture
def queue(make_queue):
    return make_queue(max_retries=3, retry_delay=5)


@pytest.fixture
def tm():
    return transaction.TransactionManager(explicit=True)


OWNER = {"server": "node1", "instance": "test", "host": "localhost",
         "pid": 1}
