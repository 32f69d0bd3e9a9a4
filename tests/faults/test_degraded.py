"""A daemon whose surroundings fail: clear job errors, and it serves on.

* The package index down, answering 500, sending each byte late, or
  never answering (issue 6, C12 c).
* A buildout that fails half-way (a part of the package's own breaks).
* A full disk for the spider logs: a 64 KiB tmpfs mounted over the log
  folder in the daemon's own mount namespace (``unshare -m``; ``-r`` as
  well when not root), filled before the daemon starts, so every write
  there fails with ENOSPC.
* C20: a packages folder the daemon may not write (mode 0555; when the
  tests run as root the daemon starts without CAP_DAC_OVERRIDE, through
  ``setpriv``, so the mode holds for it), a malformed job written into
  the queue by hand, a worker thread killed by the test hook; each time
  a normal job completes afterwards.
"""
import os
import shutil
import subprocess
import time

import pytest

from s01.worker.testing.index import IndexServer
from tests.faults.conftest import FAKE
from tests.faults.conftest import bson_id
from tests.faults.conftest import half_installed
from tests.faults.conftest import wait_finished

pytestmark = pytest.mark.slow


def serving_while(daemon, fault_db, job_id, timeout=120):
    """Call the daemon until the job ends; the slowest call's seconds."""
    slowest = 0.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for method in ("getStartTime", "countJobs", "isProcessing"):
            started = time.monotonic()
            daemon.rpc(method)
            slowest = max(slowest, time.monotonic() - started)
        job = fault_db.remoteJobs.find_one({"_id": bson_id(job_id)})
        if job["status"] in ("completed", "error", "cancelled"):
            return slowest, job
        time.sleep(0.2)
    raise AssertionError("job %s did not end" % job_id)


def test_index_faults_fail_installs_clearly_and_the_daemon_serves_on(
        make_daemon, fault_index, fault_db, fault_report):
    index = IndexServer(fault_index.root, slow_delay=0.5).start()
    try:
        daemon = make_daemon("node1", **{"s01.index.url": index.simple_url,
                                         "s01.index.timeout": "3"})
        expected = {
            "down": "Connection aborted",
            "500": "answered HTTP 500",
            "slow": "not complete within the timeout",
            "hang": "no answer within 3.0s",
        }
        slowest = 0.0
        for number, (mode, words) in enumerate(expected.items()):
            index.mode = mode
            version = fault_index.add("6.%d" % number)
            job_id = daemon.rpc("startAddPackage", FAKE, version, None,
                                None, False, 2, 0)
            seconds, job = serving_while(daemon, fault_db, job_id)
            slowest = max(slowest, seconds)
            assert job["status"] == "error" and job["retryCounter"] == 2
            assert len(job["errors"]) == 2
            for error in job["errors"]:
                assert error["error"].startswith(
                    "fetch failed: %s" % index.simple_url), error
                assert words in error["error"], error
            assert [s["step"] for s in job["output"]["steps"]] == ["fetch"]

        # The index back: the next install works, nothing was left.
        index.mode = "ok"
        version = fault_index.add("6.9")
        job_id = daemon.rpc("startAddPackage", FAKE, version, None, None,
                            False)
        job = wait_finished(fault_db, [job_id], timeout=300)[job_id]
        assert job["status"] == "completed", job["errors"]
        assert half_installed(str(daemon.folder / "packages"), fault_db,
                              "node1") == []
        assert os.listdir(daemon.folder / "staging") == []
    finally:
        index.mode = "ok"
        index.stop()
    fault_report("package index down, 500, slow, hanging",
                 "4 faults x 2 attempts: each job error naming the index; "
                 "slowest call meanwhile %.2f s; then an install "
                 "completed" % slowest, lost=0)


def test_a_buildout_failing_half_way_leaves_nothing(
        make_daemon, fault_index, fault_db, fault_report):
    daemon = make_daemon("node1")
    version = fault_index.add("5.0", broken_buildout=True)
    job_id = daemon.rpc("startAddPackage", FAKE, version, None, None, False,
                        2, 0)
    slowest, job = serving_while(daemon, fault_db, job_id, timeout=300)
    assert job["status"] == "error" and job["retryCounter"] == 2
    for error in job["errors"]:
        assert error["error"].startswith("buildout failed: buildout exited "
                                         "with code 1")
        assert "broken part: fails half-way on purpose" in error["error"]
    steps = [step["step"] for step in job["output"]["steps"]]
    assert steps[-2:] == ["bootstrap", "buildout"]
    assert not os.path.exists(daemon.folder / "packages" / FAKE / version)
    assert os.listdir(daemon.folder / "staging") == []
    assert daemon.rpc("listPackages") == []
    fault_report("buildout failing half-way", "2 attempts: job error "
                 "naming the broken part, no folder, no record; slowest "
                 "call meanwhile %.2f s" % slowest, lost=0)


def mount_namespace(mount_setup):
    """A wrapper running pserve in its own mount namespace after
    ``mount_setup`` (shell); skips if the system allows none."""
    flags = "-m" if os.geteuid() == 0 else "-rm"
    probe = subprocess.run(["unshare", flags, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no mount namespace here: %s" % probe.stderr.decode())
    return ["unshare", flags, "sh", "-c", mount_setup + ' && exec "$@"',
            "sh"]


def test_a_full_disk_for_logs_fails_runs_clearly(
        make_daemon, fault_db, fault_report, tmp_path):
    logs = tmp_path / "node1" / "logs"
    logs.mkdir(parents=True)
    # Mount, then fill it to the last byte (dd ends with ENOSPC).
    wrapper = mount_namespace(
        "mount -t tmpfs -o size=64k tmpfs %s && "
        "{ dd if=/dev/zero of=%s/fill bs=4096 2>/dev/null; true; }"
        % (logs, logs))
    daemon = make_daemon("node1", wrapper=wrapper)
    py = daemon.rpc("getDefaultPythonVersion")
    answer = daemon.rpc("addPackage", FAKE, "1.0", None, None, False,
                        timeout=300)
    assert answer["status"] is True, answer["steps"][-1]
    job_id = daemon.rpc("startRunSpider", FAKE, "1.0", py, "record",
                        {"out": str(tmp_path / "runs.txt")}, None, 2, 0)
    slowest, job = serving_while(daemon, fault_db, job_id)
    assert job["status"] == "error" and job["retryCounter"] == 2
    for error in job["errors"]:
        assert error["error"].startswith(
            "spider record did not start: No space left on device: %s has "
            % logs), error
    assert daemon.rpc("isProcessing") is True
    fault_report("full disk for spider logs (64 KiB tmpfs, filled)",
                 "2 attempts: job error 'No space left on device'; slowest "
                 "call meanwhile %.2f s" % slowest, lost=0)


def test_c20_read_only_packages_malformed_job_killed_thread(
        make_daemon, fault_index, fault_db, fault_report, tmp_path):
    packages = tmp_path / "node1" / "packages"
    packages.mkdir(parents=True)
    os.chmod(packages, 0o555)
    wrapper = []
    if os.geteuid() == 0:
        # Root writes anywhere unless it lacks CAP_DAC_OVERRIDE.
        wrapper = ["setpriv", "--bounding-set",
                   "-dac_override,-dac_read_search", "--"]
    daemon = make_daemon("node1", wrapper=wrapper)

    # (a) The folder may not be written: a readable error.
    job_id = daemon.rpc("startAddPackage", FAKE, "1.0", None, None, False,
                        2, 0)
    job = wait_finished(fault_db, [job_id], timeout=120)[job_id]
    assert job["status"] == "error" and job["retryCounter"] == 2
    for error in job["errors"]:
        assert error["error"].startswith("fetch failed: Permission "
                                         "denied: %s" % packages), error
    os.chmod(packages, 0o755)

    # (b) A job written by hand, without the parameters of its type.
    malformed = fault_db.remoteJobs.insert_one({
        "jobName": "AddPackage", "status": "queued",
        "serverNames": ["node1"]}).inserted_id
    job_id = str(malformed)
    job = wait_finished(fault_db, [job_id], timeout=60)[job_id]
    assert job["status"] == "error" and job["retryCounter"] == 1
    assert job["errors"][0]["error"] == \
        "pkgName: None is not a string"

    # (c) A normal job completes afterwards, nothing restarted.
    job_id = daemon.rpc("startAddPackage", FAKE, "1.0", None, None, False)
    job = wait_finished(fault_db, [job_id], timeout=300)[job_id]
    assert job["status"] == "completed", job["errors"]

    # (e) Threads killed: the daemon says so, and startProcessor mends.
    assert daemon.rpc("killProcessorThreads") is True
    assert daemon.rpc("isProcessing") is False
    assert daemon.rpc("startProcessor") is True
    assert daemon.rpc("isProcessing") is True
    job_id = daemon.rpc("startSyncPackages", "nobody")
    job = wait_finished(fault_db, [job_id], timeout=60)[job_id]
    assert job["status"] == "completed"
    shutil.rmtree(packages / ".locks", ignore_errors=True)
    fault_report("C20 read-only packages, malformed job, killed thread",
                 "3 faults: 2 readable job errors, threads restarted; "
                 "normal jobs completed after each", lost=0)
