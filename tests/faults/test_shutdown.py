"""SIGTERM to a daemon with spiders running (C18, issue 6).

The daemon stops claiming, gives its jobs ``shutdown_grace`` seconds,
then stops their spiders (SIGTERM to each spider's group, SIGKILL
``stop_grace`` seconds later) and gives the jobs back to the queue with
their attempt refunded: nothing outlives the two grace periods, nothing
is left in processing, and a restart runs the jobs again.
"""
import os
import signal
import time

import pytest

from tests.faults.conftest import FAKE
from tests.faults.conftest import bson_id
from tests.faults.conftest import processes_mentioning
from tests.faults.conftest import wait_finished
from tests.faults.conftest import wait_for

pytestmark = pytest.mark.slow

SHUTDOWN_GRACE = 2
STOP_GRACE = 2


def test_sigterm_stops_every_spider_within_the_grace_periods(
        make_daemon, fault_db, fault_report, tmp_path):
    daemon = make_daemon("node1", **{
        "s01.processor.shutdown_grace": str(SHUTDOWN_GRACE),
        "s01.spiders.stop_grace": str(STOP_GRACE)})
    py = daemon.rpc("getDefaultPythonVersion")
    answer = daemon.rpc("addPackage", FAKE, "1.0", None, None, False,
                        timeout=300)
    assert answer["status"] is True, answer["steps"][-1]

    marker = "shutdown-marker-%d" % os.getpid()
    out = tmp_path / "runs.txt"
    ids = [daemon.rpc("startRunSpider", FAKE, "1.0", py, "stubborn",
                      {"marker": marker})]
    ids += [daemon.rpc("startRunSpider", FAKE, "1.0", py, "record",
                       {"out": str(out), "job": "r%d" % n, "sleep": 600})
            for n in range(3)]
    jobs = wait_for(lambda: (lambda found: found if len(found) == 4 else
                             None)(list(fault_db.remoteJobs.find(
                                 {"process": {"$exists": True}}))),
                    timeout=60, what="4 spiders running")
    pids = [job["process"]["pid"] for job in jobs]
    wait_for(lambda: processes_mentioning(marker), timeout=10)

    started = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    daemon.process.wait(60)
    stopped_after = time.monotonic() - started
    leftovers = processes_mentioning(marker) + [
        pid for pid in pids if os.path.exists("/proc/%d" % pid) and
        open("/proc/%d/stat" % pid).read().split()[2] != "Z"]
    assert leftovers == []
    assert stopped_after < SHUTDOWN_GRACE + STOP_GRACE + 5

    # Every job went back to the queue, its attempt refunded.
    for job_id in ids:
        job = fault_db.remoteJobs.find_one({"_id": bson_id(job_id)})
        assert job["status"] == "queued", job
        assert job["retryCounter"] == 0
        assert job["errors"][-1]["error"] == \
            "interrupted by shutdown of node1"
    assert processes_mentioning(str(daemon.folder)) == []

    # Started again, it runs them: cancel the stubborn one, end the rest.
    daemon.start()
    wait_for(lambda: processes_mentioning(marker), timeout=60)
    assert daemon.rpc("cancelJob", ids[0]) == "processing"
    for job_id in ids[1:]:
        daemon.rpc("cancelJob", job_id)
    jobs = wait_finished(fault_db, ids, timeout=60)
    assert {j["status"] for j in jobs.values()} == {"cancelled"}
    assert {j["retryCounter"] for j in jobs.values()} == {1}
    wait_for(lambda: not processes_mentioning(marker), timeout=10)
    fault_report("SIGTERM with 4 spiders running (1 ignores SIGTERM)",
                 "daemon gone in %.1f s (grace %d + %d), no spider left, "
                 "4 jobs queued again with the attempt refunded" % (
                     stopped_after, SHUTDOWN_GRACE, STOP_GRACE), lost=0)
