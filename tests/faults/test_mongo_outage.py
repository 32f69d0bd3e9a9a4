"""MongoDB stopped under working daemons (C20 d, issue 6).

The daemons use an embedded server of the test's own, with its data on
disk and a fixed port, so the test can stop it and start it again where
they expect it. During the outage every call answers within seconds,
with a clear error where it needs the database; a running job whose
lease cannot be renewed is stopped before the lease ends (the leases
here are 3 s); afterwards work resumes by itself, nothing is lost and no
job runs twice at once.
"""
import time

import pytest

from s01.worker.mongo.embedded import EmbeddedMongo
from s01.worker.mongo.embedded import find_free_port
from tests.conftest import wait_for
from tests.faults.conftest import FAKE
from tests.faults.conftest import SHORT_LEASES
from tests.faults.conftest import wait_finished

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

        def stop(self, grace=10):
            self.current.stop(grace)

        @property
        def uri(self):
            return self.current.uri

    server = Server().start()
    yield server
    server.stop(grace=2)


def timed(daemon, method, *params):
    """(seconds, answer) of one call; HTTP errors fail the test."""
    started = time.monotonic()
    answer = daemon.call(method, *params, timeout=30)
    return time.monotonic() - started, answer


def test_a_30_s_mongo_outage_pauses_work_and_loses_nothing(
        make_daemon, own_mongo, fault_report, tmp_path):
    import pymongo

    daemon = make_daemon("node1", **dict(SHORT_LEASES, **{
        "s01.mongo.uri": own_mongo.uri, "s01.mongo.database": "outage"}))
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

    ids = [spider("long", 10)]
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
    # The long spider was stopped as its lease could not be renewed, and
    # ran again once the database was back; the others ran once.
    long = jobs.pop(ids[0])
    assert long["retryCounter"] == 2
    assert [e["error"] for e in long["errors"]] == [
        "lease expired: daemon node1 stopped renewing it"]
    assert {j["retryCounter"] for j in jobs.values()} == {1}
    lines = sorted(line.split()[0] for line in
                   out.read_text().splitlines())
    assert lines == ["after", "before0", "before1", "before2", "long",
                     "long"]
    assert daemon.rpc("isProcessing") is True
    counts = daemon.rpc("countJobs")
    assert counts == {"queued": 0, "processing": 0, "completed": 5,
                      "error": 0, "cancelled": 0}
    log = daemon.log()
    assert "processor paused: database unreachable" in log
    assert "processor resumed: database reachable" in log
    fault_report(
        "mongo stopped %d s mid-run" % OUTAGE_SECONDS,
        "%d calls during it, slowest %.1f s (%s), each a clear answer; "
        "a running spider fenced and run again; 5 jobs completed" % (
            calls, max(worst.values()),
            max(worst, key=worst.get)), lost=0, twice=0)


def test_an_outage_longer_than_a_lease_never_runs_a_job_twice_at_once(
        make_daemon, own_mongo, fault_report, tmp_path):
    import pymongo

    from tests.faults.conftest import DeathWatch
    from tests.faults.conftest import overlapping
    from tests.faults.conftest import spider_runs

    folder = tmp_path / "node1"
    settings = dict(SHORT_LEASES, **{"s01.mongo.uri": own_mongo.uri,
                                     "s01.mongo.database": "outage"})
    a = make_daemon("node1", folder=folder, **settings)
    b = make_daemon("node1", folder=folder, **settings)
    db = pymongo.MongoClient(own_mongo.uri, tz_aware=True).outage
    py = a.rpc("getDefaultPythonVersion")
    answer = a.rpc("addPackage", FAKE, "1.0", None, None, False,
                   timeout=300)
    assert answer["status"] is True, answer["steps"][-1]

    out, log = tmp_path / "runs.txt", tmp_path / "runs.log"
    ids = [a.rpc("startRunSpider", FAKE, "1.0", py, "record", {
        "out": str(out), "log": str(log), "job": "j%d" % n, "sleep": 30})
        for n in range(4)]
    wait_for(lambda: len(spider_runs(log)) == 4, timeout=60,
             what="4 spiders running")
    watch = DeathWatch(log)

    # Down for five leases: each spider is stopped before its lease runs
    # out, and runs again once the database is back; whichever daemon
    # reaps and claims, the runs of one job never overlap.
    own_mongo.stop()
    time.sleep(15)
    own_mongo.start()
    jobs = wait_finished(db, ids, timeout=180)
    died = watch.stop()
    assert {j["status"] for j in jobs.values()} == {"completed"}
    assert {j["retryCounter"] for j in jobs.values()} == {2}
    twice = overlapping(spider_runs(log), died)
    assert twice == []
    runs = sum(len(r) for r in spider_runs(log).values())
    assert runs == 8
    fault_report("mongo stopped 15 s (5 leases) under 2 daemons of one "
                 "name", "4 spiders running: fenced before their leases "
                 "ended, %d runs in all, none beside another of its job"
                 % runs, lost=0, twice=len(twice))
