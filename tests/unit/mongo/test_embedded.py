"""The embedded server a killed daemon left behind is taken over clean."""
import subprocess
import sys
import time

import pymongo
import pytest

from s01.worker.mongo.embedded import EmbeddedMongo

# A daemon's part: start the server on a data folder, open a transaction
# that writes a document, and die by SIGKILL before committing it.
OWNER = r"""
import os, signal, sys
import pymongo
from s01.worker.mongo.embedded import EmbeddedMongo

server = EmbeddedMongo(sys.argv[1]).start()
client = pymongo.MongoClient(server.uri)
client.w.t.insert_one({"_id": 1, "n": 0})
session = client.start_session()
session.start_transaction()
client.w.t.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=session)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def orphan(tmp_path):
    """The data folder of a server whose owner died mid-transaction."""
    data = str(tmp_path / "mongo")
    done = subprocess.run([sys.executable, "-c", OWNER, data], timeout=120)
    assert done.returncode == -9
    return data


def test_an_adopted_server_has_no_transaction_left_open(orphan):
    server = EmbeddedMongo(orphan).start()
    try:
        assert server.orphan_pid is not None
        client = pymongo.MongoClient(server.uri, socketTimeoutMS=10000)
        started = time.monotonic()

        # The dead daemon's update never happened; the document is free.
        assert client.w.t.find_one({"_id": 1}) == {"_id": 1, "n": 0}
        client.w.t.update_one({"_id": 1}, {"$inc": {"n": 5}})
        client.drop_database("w")
        assert time.monotonic() - started < 5
        client.close()
    finally:
        server.stop(grace=2)
