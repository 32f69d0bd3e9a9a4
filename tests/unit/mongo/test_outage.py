"""Writes and reads when the database server has gone away."""
import time

import pymongo.errors
import pytest
import transaction

from s01.worker.exceptions import ConflictError
from s01.worker.jobs.clock import ServerClock
from s01.worker.mongo.datamanager import atomic
from s01.worker.mongo.datamanager import database_unreachable
from s01.worker.mongo.embedded import EmbeddedMongo
from s01.worker.mongo.store import MongoStore


@pytest.fixture
def server():
    server = EmbeddedMongo(":memory:").start()
    yield server
    server.stop()


@pytest.fixture
def store(server):
    store = MongoStore(server.uri, "outage", timeout=1.0)
    yield store
    store.client.close()


@pytest.fixture
def gone_store(server, store):
    """A store whose server answered once (transactions known), then
    stopped."""
    assert store.supports_transactions is True
    server.stop()
    return store


def test_the_clock_keeps_its_offset_through_an_outage_at_once(
        server, store):
    clock = ServerClock(store, refresh_seconds=0.5)
    clock.now()
    server.stop()
    time.sleep(0.6)

    # The first call after the offset went stale waits for the server
    # once; the next ones use the old offset at once.
    started = time.monotonic()
    clock.now()
    assert time.monotonic() - started < store.timeout + 1
    started = time.monotonic()
    for _ in range(10):
        clock.now()
    assert time.monotonic() - started < 0.1


def test_a_commit_without_its_server_fails_at_once_as_unreachable(
        gone_store):
    tm = transaction.TransactionManager(explicit=True)
    started = time.monotonic()
    with pytest.raises(pymongo.errors.PyMongoError) as info:
        with atomic(tm):
            gone_store.data_manager(tm).insert("things", {"x": 1})
    # Not a conflict worth retrying: one attempt, then the error.
    assert not isinstance(info.value, ConflictError)
    assert database_unreachable(info.value) is True
    assert time.monotonic() - started < 2 * gone_store.timeout + 1


def test_status_says_false_within_its_timeout(gone_store):
    started = time.monotonic()
    assert gone_store.status()["status"] is False
    assert time.monotonic() - started < gone_store.timeout + 1


def test_a_refused_write_is_not_an_outage():
    error = pymongo.errors.OperationFailure("bad", code=2)
    assert database_unreachable(error) is False
    assert database_unreachable(pymongo.errors.AutoReconnect("x")) is True
    assert database_unreachable(
        pymongo.errors.ExecutionTimeout("slow", code=50)) is True
