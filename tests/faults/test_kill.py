"""kill -9 of a daemon at random points of its jobs (issues 4 and 6).

Each round queues an AddPackage, a RunSpider and a SyncPackages job on a
real daemon, kills it with SIGKILL at a random moment, starts it again
on the same folders and database, and waits for the jobs to end. Every
third round the jobs get one attempt only, so a killed one must end
``error`` (its attempts spent) and leave nothing half-installed.

A first round runs undisturbed to time the jobs; each kill then lands
at a random moment within that time. ``S01_KILL_ROUNDS`` sets the number
of rounds (3 here, 20 in ``make soak``); ``S01_KILL_SEED`` repeats a
run's random kill times. The tests have a server of their own (see
``fault_mongo_uri`` below).
"""
import os
import random
import statistics
import time

import pytest

from s01.worker.mongo.embedded import EmbeddedMongo
from tests.conftest import process_table
from tests.conftest import wait_for
from tests.faults.conftest import FAKE
from tests.faults.conftest import SHORT_LEASES
from tests.faults.conftest import alive
from tests.faults.conftest import bson_id
from tests.faults.conftest import check_attempts
from tests.faults.conftest import descendants
from tests.faults.conftest import half_installed
from tests.faults.conftest import overlapping
from tests.faults.conftest import processes_mentioning
from tests.faults.conftest import spider_runs
from tests.faults.conftest import wait_finished

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("S01_KILL_ROUNDS", "3"))
SEED = int(os.environ.get("S01_KILL_SEED", "0")) or random.randrange(10**6)
# The spider of a round sleeps this long; the installs take longer.
SPIDER_SECONDS = 6
PROGRAMS = ("venv", "pip", "bootstrap", "buildout", "bin/list", "bin/crawl")


@pytest.fixture
def fault_mongo_uri():
    """A server of each test's own. A daemon killed mid-commit leaves its
    transaction open; the embedded server keeps its documents locked
    until a transaction finds it 60 s old, and a plain write to them
    spins a thread meanwhile: that must not slow the tests after."""
    server = EmbeddedMongo(":memory:").start()
    yield server.uri
    server.stop(grace=2)


def running_programs(pid):
    """The programs the daemon runs now, by kind (see PROGRAMS)."""
    table = process_table()
    kinds = set()
    for child in descendants(pid, table):
        cmdline = table[child][2]
        for kind in PROGRAMS:
            if kind in cmdline:
                kinds.add(kind.replace("bin/", ""))
    return kinds


def test_kill_9_at_random_points_loses_no_job(
        make_daemon, fault_index, fault_db, fault_report, tmp_path):
    rng = random.Random(SEED)
    daemon = make_daemon("node1", **SHORT_LEASES)
    packages_dir = str(daemon.folder / "packages")
    py = daemon.rpc("getDefaultPythonVersion")
    answer = daemon.rpc("addPackage", FAKE, "1.0", None, None, False,
                        timeout=300)
    assert answer["status"] is True, answer["steps"][-1]
    out, log = tmp_path / "runs.txt", tmp_path / "runs.log"

    def queue_round(number, attempts=3):
        # Another server has a release SyncPackages copies here.
        add_version = fault_index.add("2.%d" % (number + 1))
        sync_version = fault_index.add("3.%d" % (number + 1))
        fault_db.packages.insert_one({
            "serverName": "source", "pkgName": FAKE,
            "pkgVersion": sync_version, "pyVersion": py,
            "spiders": ["record"], "path": "/elsewhere"})
        return [
            daemon.rpc("startAddPackage", FAKE, add_version, None, None,
                       False, attempts, 1),
            daemon.rpc("startRunSpider", FAKE, "1.0", py, "record", {
                "out": str(out), "log": str(log), "job": "r%d" % number,
                "sleep": SPIDER_SECONDS}, None, attempts, 1),
            daemon.rpc("startSyncPackages", "source", False, attempts, 1),
        ]

    # A round undisturbed first: how long the three jobs take here.
    started = time.monotonic()
    jobs = wait_finished(fault_db, queue_round(-1), timeout=240)
    round_seconds = time.monotonic() - started
    assert {j["status"] for j in jobs.values()} == {"completed"}

    outcomes = {"completed": 0, "error": 0}
    kill_points, recoveries, killed_at, twice = {}, [], {}, []
    for number in range(ROUNDS):
        attempts = 1 if number % 3 == 2 else 3
        ids = queue_round(number, attempts)

        # Kill it somewhere in the middle of things.
        time.sleep(rng.uniform(0.2, 0.9 * round_seconds))
        kinds = running_programs(daemon.pid)
        before = descendants(daemon.pid)
        daemon.kill()
        kill_time = time.time()
        for kind in kinds or {"between programs"}:
            kill_points[kind] = kill_points.get(kind, 0) + 1
        killed_at.update(dict.fromkeys(before, kill_time))

        # Started again, it kills what the dead one left before it
        # claims anything (issue 4: no spider of the dead daemon runs
        # beside the job's next attempt).
        restarted = time.monotonic()
        daemon.start()
        assert alive(before) == []
        jobs = wait_finished(fault_db, ids, timeout=240)
        recoveries.append(time.monotonic() - restarted)
        for job in jobs.values():
            outcomes[check_attempts(job)] += 1
        twice += overlapping(spider_runs(log), killed_at)

    # Nothing of any killed daemon is left running, nothing half done.
    wait_for(lambda: half_installed(packages_dir, fault_db, "node1") == [],
             timeout=30, what="leftovers cleared")
    assert os.listdir(daemon.folder / "staging") == []
    assert twice == []
    assert daemon.rpc("countJobs")["processing"] == 0
    assert daemon.rpc("countJobs")["queued"] == 0
    daemon.stop()
    assert processes_mentioning(str(daemon.folder)) == []

    jobs = 3 * ROUNDS
    assert sum(outcomes.values()) == jobs
    fault_report(
        "kill -9 mid-job (AddPackage, RunSpider, SyncPackages)",
        "%d kills within %.0f s of 3 jobs, %d jobs: %d completed, %d error "
        "with attempts spent; hit: %s" % (
            ROUNDS, round_seconds, jobs, outcomes["completed"],
            outcomes["error"], ", ".join(
                "%s %d" % item for item in sorted(kill_points.items()))),
        lost=jobs - sum(outcomes.values()), twice=len(twice),
        half_installed=0, seed=SEED,
        recovery_s_median="%.1f" % statistics.median(recoveries))


def test_a_fork_served_spider_dies_with_its_daemon_and_runs_again(
        make_daemon, package_index, docs_server, fault_db, fault_report):
    """Issue 4: the demo package's spiders run in fork server children;
    a killed daemon's server ends them, and the job's next attempt runs
    to the end alone."""
    daemon = make_daemon("node1", **dict(SHORT_LEASES, **{
        "s01.index.url": package_index.simple_url}))
    py = daemon.rpc("getDefaultPythonVersion")
    answer = daemon.rpc("addPackage", "s01.demo", "0.16.2", None, None,
                        False, timeout=900)
    assert answer["status"] is True, answer["steps"][-1]
    job_id = daemon.rpc(
        "startRunSpider", "s01.demo", "0.16.2", py, "python.org",
        {"start_url": docs_server + "/index.html"},
        {"DOWNLOAD_DELAY": 0.25, "CLOSESPIDER_PAGECOUNT": 40})

    # The spider runs in a child of the package's fork server.
    first = wait_for(lambda: (fault_db.remoteJobs.find_one(
        {"_id": bson_id(job_id), "process": {"$exists": True}}) or {}
    ).get("process"), timeout=120, what="spider started")["pid"]
    table = process_table()
    servers = [pid for pid in descendants(daemon.pid, table)
               if table[pid][0] == daemon.pid
               and "crawl-server" in table[pid][2]]
    assert len(servers) == 1 and first in descendants(servers[0], table)
    before = descendants(daemon.pid, table)
    daemon.kill()

    # The server sees its stdin close, ends its child and goes.
    started = time.monotonic()
    wait_for(lambda: alive(before) == [], timeout=15,
             what="fork server and spider gone")
    gone_after = time.monotonic() - started

    daemon.start()
    job = wait_finished(fault_db, [job_id], timeout=300)[job_id]
    assert check_attempts(job) == "completed"
    assert job["retryCounter"] == 2
    assert job["process"]["pid"] != first
    output = job["output"]
    assert output["code"] == 0
    assert output["finishReason"] == "closespider_pagecount"
    assert output["items"] >= 40

    # The items feed holds the second run's items only.
    with open(output["files"]["items"]) as f:
        assert len(f.readlines()) == output["items"]
    fault_report("kill -9 with a fork-served spider running",
                 "1 kill: server and spider gone %.1f s after it, job "
                 "completed on attempt 2, %d items once" % (
                     gone_after, output["items"]), lost=0, twice=0)
