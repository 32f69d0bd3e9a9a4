"""MongoDB stopped for 30 s under a working daemon (C20 d, issue 6).

The daemon uses an embedded server of the test's own, with its data on
disk and a fixed port, so the test can stop it and start it again where
the daemon expects it. During the outage every call answers within
seconds, with a clear error where it needs the database; afterwards
work resumes by itself and nothing queued before is lost.
"""
import time

import pytest

from s01.worker.mongo.embedded import EmbeddedMongo
from s01.worker.mongo.embedded import find_free_port
from tests.faults.conftest import FAKE
from tests.faults.conftest import wait_finished
from tests.faults.conftest import wait_for

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 30
UNAVAILABLE = -32002


@pytest.fixture
def own_mongo(tmp_path):
    """A server on disk and a fixed port; ``restart()`` brings it back."""
    port = find_free_port()
    folder = tmp_path / "mongo"

    class Server:
        def __init__(self):
            self.current = None

        def start(self):
            self.current = EmbeddedMongo(
                str(folder / "data"), str(folder / "mongo.log"),
                port=port).start()
            return self

        def stop(self):
            self.current.stop()

        @property
        def uri(self):
            return self.current.uri

    server = Server().start()
    yield server
    server.stop()


def timed(daemon, method, *params):
    """(seconds, answer) of one call; HTTP errors fail the test."""
    started = time.monotonic()
    answer = daemon.call(method, *params, timeout=30)
    return time.monotonic() - started, answer


def test_a_30_s_mongo_outage_pauses_work_and_loses_nothing(
        make_daemon, own_mongo, fault_report, tmp_path):
    import pymongo

    daemon = make_daemon("node1", **{"s01.mongo.uri": own_mongo.uri,
                                     "s01.mongo.database": "outage"})
    db = pymongo.MongoClient(own_mongo.uri, tz_aware=True).outage
    py = daemon.rpc("getDefaultPythonVersion")
    answer = daemon.rpc("addPackage", FAKE, "1.0", None, None, False,
                        timeout=300)
    assert answer["status"] is True, answer["steps"][-1]

    # One spider that runs through the outage, a few queued behind it.
    out = tmp_path / "runs.txt"

    def spider(job, sleep=0):
        return daemon.rpc("startRunSpider", FAKE, "1.0", py, "record", {
            "out": str(out), "job": job, "sleep": sleep})

    ids = [spider("long", 45)]
    wait_for(lambda: out.exists(), timeout=30, what="long spider started")
    ids += [spider("before%d" % n) for n in range(3)]
    wait_finished(db, ids[1:], timeout=60)

    own_mongo.stop()
    worst = {}
    errors = {}
    ended = time.monotonic() + OUTAGE_SECONDS
    calls = 0
    while time.monotonic() < ended:
        for method, params in [
                ("getMongoDBStatus", ()), ("isProcessing", ()),
                ("getStartTime", ()), ("countJobs", ()),
                ("getJobStatus", (ids[0],)), ("listJobs", ()),
                ("startRunSpider", (FAKE, "1.0", py, "record",
                                    {"out": str(out), "job": "during"}))]:
            seconds, answer = timed(daemon, method, *params)
            calls += 1
            worst[method] = max(worst.get(method, 0), seconds)
            if method == "getMongoDBStatus":
                assert answer["result"]["status"] is False
            elif method in ("isProcessing", "getStartTime"):
                assert "result" in answer
            else:
                error = answer["error"]
                assert error["code"] == UNAVAILABLE, answer
                errors[method] = error["message"]
    assert max(worst.values()) < 5, worst
    assert {m.split(":")[0] for m in errors.values()} == {
        "Database unavailable"}

    # Back: the long spider finishes, new work runs, nothing restarted.
    own_mongo.start()
    assert wait_for(lambda: daemon.rpc("getMongoDBStatus")["status"],
                    timeout=30)
    ids.append(spider("after"))
    jobs = wait_finished(db, ids, timeout=120)
    assert {j["status"] for j in jobs.values()} == {"completed"}
    assert {j["retryCounter"] for j in jobs.values()} == {1}
    lines = sorted(line.split()[0] for line in
                   out.read_text().splitlines())
    assert lines == ["after", "before0", "before1", "before2", "long"]
    assert daemon.rpc("isProcessing") is True
    counts = daemon.rpc("countJobs")
    assert counts == {"queued": 0, "processing": 0, "completed": 5,
                      "error": 0, "cancelled": 0}
    log = daemon.log()
    assert "processor paused: database unreachable" in log
    assert "processor resumed: database reachable" in log
    fault_report(
        "mongo stopped %d s mid-run" % OUTAGE_SECONDS,
        "%d calls during it, slowest %.1f s (%s); a spider ran through "
        "it, 5 jobs completed" % (
            calls, max(worst.values()),
            max(worst, key=worst.get)), lost=0, twice=0)
