"""Jobs through JSON-RPC: the contract's flow, retries, cancel, servers.

The processor runs in the test process (webtest apps) with short leases
and polls; the spider package is the fake one of
``s01.worker.testing.fakes`` (real buildout, scripts instead of Scrapy),
installed from the local test index.
"""
import os
import time

import pytest
import webtest

from s01.worker.interfaces import IJobQueue
from s01.worker.interfaces import IProcessor
from s01.worker.root import scrapyRoot
from tests.conftest import RPC
from tests.conftest import processes_naming
from tests.conftest import wait_for

pytestmark = pytest.mark.slow

FAST = {
    "s01.processor.threads": "4",
    "s01.processor.poll_interval": "0.2",
    "s01.processor.lease_seconds": "3",
    "s01.processor.renew_interval": "0.5",
    "s01.processor.reap_interval": "1",
    "s01.processor.heartbeat_interval": "1",
    "s01.processor.shutdown_grace": "2",
    "s01.spiders.stop_grace": "2",
}
FAKE = ("fake.spiders", "1.0")


@pytest.fixture
def jobs_app(request, make_app, package_settings):
    settings = dict(package_settings, **FAST)
    threads = request.node.get_closest_marker("processor_threads")
    if threads is not None:
        settings["s01.processor.threads"] = str(threads.args[0])
    return make_app(**settings)


@pytest.fixture
def rpc(jobs_app):
    return RPC(webtest.TestApp(jobs_app))


@pytest.fixture
def fake_installed(rpc):
    answer = rpc("addPackage", *FAKE, None, None, False)
    assert answer["status"] is True, answer["steps"][-1]
    assert answer["spiders"] == ["record", "fail", "fail-once", "stubborn"]
    return answer


def job_of(rpc, job_id):
    return rpc("getJob", job_id)


def wait_status(rpc, job_id, *statuses, timeout=60):
    return wait_for(lambda: (lambda job: job if job["status"] in statuses
                             else None)(job_of(rpc, job_id)), timeout)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_the_contracts_job_flow(rpc, jobs_app, tmp_path):
    assert scrapyRoot.ensureJobFactories() == ([
        "Remote processor job RunSpider installed",
        "Remote processor job AddPackage installed",
        "Remote processor job SyncPackages installed"], True)
    assert rpc("startProcessor") is True
    assert rpc("isProcessing") is True
    py = scrapyRoot.defaultPythonVersion

    # AddPackage: queued as the contract shows it, then completed.
    job_id = rpc("startAddPackage", *FAKE, None)
    assert len(job_id) == 24
    queue = jobs_app.registry.getUtility(IJobQueue)
    job = wait_status(rpc, job_id, "completed")
    assert job["jobName"] == job["_type"] == "AddPackage"
    assert job["serverNames"] == ["testing"]
    assert (job["retryCounter"], job["maxRetries"], job["retryDelay"]) == \
        (1, 3, 300)
    assert job["pyVersion"] == py and job["testing"] is True
    assert job["errors"] == []
    for name in ("queued", "picked", "started", "completed", "retryTime",
                 "created", "modified"):
        assert job[name], name
    output = job["output"]
    assert output["status"] is True and output["error"] is None
    assert [s["step"] for s in output["steps"]][-3:] == [
        "test", "list", "ensureScrapyPackage"]

    # RunSpider, with spider arguments.
    out = tmp_path / "runs.txt"
    run_id = rpc("startRunSpider", *FAKE, py, "record",
                 {"out": str(out), "job": "first"})
    run = wait_status(rpc, run_id, "completed")
    assert run["output"]["code"] == 0
    assert run["output"]["status"] is True
    assert run["output"]["stats"]["finish_reason"] == "finished"
    assert out.read_text().split()[0] == "first"

    # SyncPackages from a server that has nothing we lack.
    sync_id = rpc("startSyncPackages", "other")
    sync = wait_status(rpc, sync_id, "completed")
    assert sync["sourceServerName"] == "other"
    assert sync["output"]["missing"] == []
    assert rpc("getJobStatus", sync_id) == "completed"

    assert rpc("countJobs") == {"cancelled": 0, "completed": 3, "error": 0,
                                "processing": 0, "queued": 0}
    assert rpc("removeJobs") == {"error": None, "result": {
        "cancelled": 0, "completed": 3, "error": 0}, "status": True}
    assert queue.count()["completed"] == 0
    assert rpc("stopProcessor") is False
    assert rpc("isProcessing") is False


def test_a_failing_spider_runs_exactly_max_retries_times(
        rpc, fake_installed, tmp_path):
    """C17: maxRetries 3, retryDelay 5."""
    rpc("startProcessor")
    py = scrapyRoot.defaultPythonVersion
    out = tmp_path / "attempts.txt"
    job_id = rpc("startRunSpider", *FAKE, py, "fail", {"out": str(out)},
                 None, 3, 5)

    # Between attempts: queued, retryTime one delay after the failure.
    job = wait_for(lambda: (lambda j: j if j["status"] == "queued" and
                            j["retryCounter"] == 1 else None)(
        job_of(rpc, job_id)), timeout=30)
    first = float(out.read_text().split()[0])
    retry_at = _epoch(job["retryTime"])
    assert 4.0 <= retry_at - first <= 7.0

    job = wait_status(rpc, job_id, "error", timeout=60)
    runs = [float(line) for line in out.read_text().split()]
    assert len(runs) == 3
    assert all(b - a >= 5.0 for a, b in zip(runs, runs[1:]))
    assert job["retryCounter"] == 3
    assert len(job["errors"]) == 3
    assert rpc("countJobs")["error"] == 1

    # Nothing more in the next 3 x retryDelay.
    time.sleep(15)
    assert len(out.read_text().split()) == 3
    assert rpc("getJobStatus", job_id) == "error"


def test_a_spider_failing_once_completes_on_the_second_attempt(
        rpc, fake_installed, tmp_path):
    rpc("startProcessor")
    py = scrapyRoot.defaultPythonVersion
    job_id = rpc("startRunSpider", *FAKE, py, "fail-once",
                 {"out": str(tmp_path / "state")}, None, 3, 1)
    job = wait_status(rpc, job_id, "completed", timeout=60)
    assert job["retryCounter"] == 2
    assert len(job["errors"]) == 1


@pytest.mark.processor_threads(1)
def test_cancel_ends_a_stubborn_spider_and_its_children(
        rpc, jobs_app, fake_installed, tmp_path):
    """C18: the whole group gets SIGTERM, then SIGKILL."""
    rpc("startProcessor")
    py = scrapyRoot.defaultPythonVersion
    marker = "cancel-marker-%d" % os.getpid()
    job_id = rpc("startRunSpider", *FAKE, py, "stubborn",
                 {"marker": marker})
    # One slot: the next job waits behind the stubborn one.
    waiting = rpc("startRunSpider", *FAKE, py, "record",
                  {"out": str(tmp_path / "waiting.txt"), "job": "next"})
    job = wait_for(lambda: (lambda j: j if j.get("process") else None)(
        job_of(rpc, job_id)), timeout=30)
    wait_for(lambda: processes_naming(marker), timeout=10)
    assert rpc("getJobStatus", waiting) == "queued"
    assert rpc("cancelJob", job_id) == "processing"

    started = time.monotonic()
    job = wait_status(rpc, job_id, "cancelled", timeout=30)
    wait_for(lambda: not processes_naming(marker), timeout=2 + 5)
    assert time.monotonic() - started < 2 + 5
    assert not pid_alive(job["process"]["pid"])
    assert job["retryCounter"] == 1
    # The slot is free again: the waiting job runs.
    wait_status(rpc, waiting, "completed", timeout=30)
    assert (tmp_path / "waiting.txt").read_text().split()[0] == "next"

    # More queued jobs start, and short runs leave no zombies.
    out = tmp_path / "runs.txt"
    ids = [rpc("startRunSpider", *FAKE, py, "record",
               {"out": str(out), "job": str(n)}) for n in range(20)]
    for job_id in ids:
        wait_status(rpc, job_id, "completed", timeout=60)
    assert len(out.read_text().splitlines()) == 20
    assert zombies_of(os.getpid()) == []
    time.sleep(1)
    assert rpc("getJobStatus", job["_id"]) == "cancelled"


def test_a_processing_job_left_by_shutdown_is_queued_again(
        rpc, jobs_app, fake_installed, tmp_path):
    rpc("startProcessor")
    py = scrapyRoot.defaultPythonVersion
    out = tmp_path / "runs.txt"
    job_id = rpc("startRunSpider", *FAKE, py, "record",
                 {"out": str(out), "sleep": "60"})
    job = wait_for(lambda: (lambda j: j if j.get("process") else None)(
        job_of(rpc, job_id)), timeout=30)
    processor = jobs_app.registry.getUtility(IProcessor)
    processor.stop()
    assert not pid_alive(job["process"]["pid"])
    job = job_of(rpc, job_id)
    assert job["status"] == "queued"
    assert job["retryCounter"] == 0


def zombies_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _epoch(text):
    import datetime

    return datetime.datetime.fromisoformat(text).timestamp()
