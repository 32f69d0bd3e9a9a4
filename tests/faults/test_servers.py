"""Several daemons on one database: each job runs once (issue 4, C15).

* Two daemons with different names and package folders claim 1,000
  Probe jobs that name both: each runs exactly once, both take a share;
  a SyncPackages job copies one daemon's install into the other's
  folder.
* Two daemons with one name (a rolling restart: the new one starts
  before the old one ends) run 200 spider jobs: each spider runs once;
  a third daemon with another name runs none of them. Two adds of one
  release at the same moment install it once.
"""
import collections
import threading
import time

import pytest

from tests.faults.conftest import FAKE
from tests.faults.conftest import half_installed
from tests.faults.conftest import wait_finished

pytestmark = pytest.mark.slow


def test_two_named_daemons_claim_1000_jobs_once_each(
        make_daemon, fault_queue, fault_db, fault_report):
    node1 = make_daemon("node1")
    node2 = make_daemon("node2")
    with fault_queue.tm:
        ids = [fault_queue.enqueue(fault_queue.tm, "Probe", {},
                                   server_names=["node1", "node2"])
               for _ in range(1000)]
    started = time.monotonic()
    jobs = wait_finished(fault_db, ids, timeout=600)
    seconds = time.monotonic() - started

    # Each ran once: one probe record, one attempt, no error.
    runs = {r["_id"]: r for r in fault_db.probeRuns.find()}
    assert sorted(runs) == sorted(ids)
    assert {j["status"] for j in jobs.values()} == {"completed"}
    assert {j["retryCounter"] for j in jobs.values()} == {1}
    assert [j for j in jobs.values() if j["errors"]] == []
    shares = collections.Counter(r["server"] for r in runs.values())
    assert shares["node1"] + shares["node2"] == 1000
    assert shares["node1"] > 0 and shares["node2"] > 0
    for job in jobs.values():
        assert job["owner"]["server"] == runs[str(job["_id"])]["server"]
    assert node1.rpc("countJobs") == {"completed": 1000, "queued": 0,
                                      "processing": 0, "error": 0,
                                      "cancelled": 0}
    assert node1.rpc("isProcessing") and node2.rpc("isProcessing")

    # Packages are per server: node2 copies node1's install into its
    # own folder.
    answer = node1.rpc("addPackage", FAKE, "1.0", None, None, False,
                       timeout=300)
    assert answer["status"] is True, answer["steps"][-1]
    sync = node2.rpc("startSyncPackages", "node1")
    job = wait_finished(fault_db, [sync], timeout=300)[sync]
    assert job["status"] == "completed", job["errors"]
    assert [p["pkgName"] for p in job["output"]["installed"]] == [FAKE]
    assert node2.rpc("getMissingPackageVersions", "node1") == []
    for node in (node1, node2):
        assert half_installed(str(node.folder / "packages"), fault_db,
                              node.name) == []
    fault_report("2 daemons, 2 names, 1 database",
                 "1000 jobs claimed in %.0f s (node1 %d, node2 %d); 1 "
                 "sync between them" % (seconds, shares["node1"],
                                        shares["node2"]),
                 lost=0, twice=0)


def test_two_daemons_of_one_name_run_each_spider_once(
        make_daemon, fault_index, fault_db, fault_report, tmp_path):
    # A and B share the name and the folders, as a restart on one host
    # does; C is another server.
    folder = tmp_path / "node1"
    a = make_daemon("node1", folder=folder)
    b = make_daemon("node1", folder=folder)
    c = make_daemon("node2")
    py = a.rpc("getDefaultPythonVersion")
    answer = a.rpc("addPackage", FAKE, "1.0", None, None, False,
                   timeout=300)
    assert answer["status"] is True, answer["steps"][-1]

    out = tmp_path / "runs.txt"
    ids = {a.rpc("startRunSpider", FAKE, "1.0", py, "record",
                 {"out": str(out), "job": "n%d" % number}): "n%d" % number
           for number in range(200)}
    jobs = wait_finished(fault_db, list(ids), timeout=600)

    # Every spider ran once, on A or B, never on C.
    lines = [line.split()[0] for line in out.read_text().splitlines()]
    assert sorted(lines) == sorted(ids.values())
    assert {j["status"] for j in jobs.values()} == {"completed"}
    assert {j["retryCounter"] for j in jobs.values()} == {1}
    instances = collections.Counter(j["owner"]["instance"]
                                    for j in jobs.values())
    servers = {s["_id"]: s["serverName"] for s in fault_db.servers.find()}
    assert {servers[i] for i in instances} == {"node1"}
    assert len(instances) == 2
    assert a.rpc("countJobs")["processing"] == 0
    assert a.rpc("isProcessing") and b.rpc("isProcessing")

    # Two adds of one release at the same moment: one install.
    fault_index.add("4.0")
    answers = {}

    def add(daemon):
        answers[daemon] = daemon.rpc("startAddPackage", FAKE, "4.0", None,
                                     None, False)

    threads = [threading.Thread(target=add, args=(d,)) for d in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    adds = wait_finished(fault_db, list(answers.values()), timeout=300)
    statuses = sorted(j["status"] for j in adds.values())
    assert statuses == ["completed", "error"]
    failed = next(j for j in adds.values() if j["status"] == "error")
    assert failed["errors"][0]["error"].startswith(
        "Duplicated Package found at: ")
    assert failed["retryCounter"] == 1
    assert half_installed(str(folder / "packages"), fault_db, "node1") == []
    # The install the duplicate left alone still crawls.
    out = folder / "after-duplicate.txt"
    run = b.rpc("runSpider", FAKE, "4.0", a.rpc("getDefaultPythonVersion"),
                "record", {"out": str(out), "job": "after"})
    assert run["code"] == 0, run["stderr"]
    assert out.read_text().split()[0] == "after"
    fault_report("2 daemons of one name (rolling restart) + 1 other",
                 "200 spider jobs (%s on A and B, 0 on C); 2 adds of "
                 "one release at once: 1 install, 1 duplicate" % "+".join(
                     map(str, sorted(instances.values()))),
                 lost=0, twice=0)
