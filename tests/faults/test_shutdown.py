"""SIGTERM to a daemon with spiders running (C18, issue 6); C17.

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

from tests.conftest import process_table
from tests.conftest import wait_for
from tests.faults.conftest import FAKE
from tests.faults.conftest import bson_id
from tests.faults.conftest import processes_mentioning
from tests.faults.conftest import wait_finished

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

    # Started again, it runs them: cancel the stubborn one, end the rest;
    # within the grace + 5 s nothing of it is left.
    daemon.start()
    wait_for(lambda: processes_mentioning(marker), timeout=60)
    assert daemon.rpc("cancelJob", ids[0]) == "processing"
    cancelled = time.monotonic()
    for job_id in ids[1:]:
        daemon.rpc("cancelJob", job_id)
    jobs = wait_finished(fault_db, ids, timeout=60)
    assert {j["status"] for j in jobs.values()} == {"cancelled"}
    assert {j["retryCounter"] for j in jobs.values()} == {1}
    wait_for(lambda: not processes_mentioning(marker), timeout=10)
    assert time.monotonic() - cancelled < STOP_GRACE + 5

    # 20 short runs leave no zombie behind.
    short = [daemon.rpc("startRunSpider", FAKE, "1.0", py, "record",
                        {"out": str(out), "job": "s%d" % n})
             for n in range(20)]
    jobs = wait_finished(fault_db, short, timeout=120)
    assert {j["status"] for j in jobs.values()} == {"completed"}
    table = process_table()
    assert [pid for pid, (ppid, state, _) in table.items()
            if ppid == daemon.pid and state == "Z"] == []
    fault_report("SIGTERM with 4 spiders running (1 ignores SIGTERM)",
                 "daemon gone in %.1f s (grace %d + %d), no spider left, "
                 "4 jobs queued again with the attempt refunded; after a "
                 "restart, cancel and 20 short runs: no zombie" % (
                     stopped_after, SHUTDOWN_GRACE, STOP_GRACE), lost=0)


def test_retries_count_exactly_on_a_real_daemon(
        make_daemon, fault_db, fault_report, tmp_path):
    """C17: maxRetries 3 and retryDelay 5 mean three runs, five seconds
    apart at least, then error; a spider failing once completes on its
    second attempt."""
    daemon = make_daemon("node1")
    py = daemon.rpc("getDefaultPythonVersion")
    answer = daemon.rpc("addPackage", FAKE, "1.0", None, None, False,
                        timeout=300)
    assert answer["status"] is True, answer["steps"][-1]
    out = tmp_path / "attempts.txt"
    failing = daemon.rpc("startRunSpider", FAKE, "1.0", py, "fail",
                         {"out": str(out)}, None, 3, 5)
    once = daemon.rpc("startRunSpider", FAKE, "1.0", py, "fail-once",
                      {"out": str(tmp_path / "once")}, None, 3, 1)

    # Between attempts: queued, retryTime one delay after the failure.
    job = wait_for(lambda: (lambda j: j if j["status"] == "queued" and
                            j["retryCounter"] == 1 else None)(
        fault_db.remoteJobs.find_one({"_id": bson_id(failing)})),
        timeout=30)
    first = float(out.read_text().split()[0])
    retry_at = job["retryTime"].timestamp()
    assert 5.0 <= retry_at - first <= 6.5

    jobs = wait_finished(fault_db, [failing, once], timeout=90)
    runs = [float(line) for line in out.read_text().split()]
    assert len(runs) == 3
    assert all(b - a >= 5.0 for a, b in zip(runs, runs[1:]))
    job = jobs[failing]
    assert (job["status"], job["retryCounter"], len(job["errors"])) == \
        ("error", 3, 3)
    assert daemon.rpc("countJobs")["error"] == 1
    assert (jobs[once]["status"], jobs[once]["retryCounter"]) == \
        ("completed", 2)

    # Nothing more in the next three delays.
    time.sleep(15)
    assert len(out.read_text().split()) == 3
    assert daemon.rpc("getJobStatus", failing) == "error"
    fault_report("C17 retries on a real daemon", "maxRetries 3, retryDelay "
                 "5: 3 runs %.1f s apart at least, then error; a spider "
                 "failing once completed on attempt 2" % min(
                     b - a for a, b in zip(runs, runs[1:])), lost=0)
