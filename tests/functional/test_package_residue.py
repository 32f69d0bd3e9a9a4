"""Failed or abandoned installs leave no residue (C10).

``demo.pkg`` 1.0 and ``slow.pkg`` 1.0 are fake spider packages on the
local test index (tests/fixtures/daemon.py); ``slow.pkg`` spends 15 s
more in its buildout. The abandoned install runs in a real daemon, since
only a real HTTP client can give up on a call.
"""
import hashlib
import os
import re
import time
import uuid

import pymongo
import pytest
import requests
import webtest

from s01.worker.client import JSONRPCProxy
from s01.worker.interfaces import IPackageRegistry
from s01.worker.root import scrapyRoot
from tests.conftest import TESTING_INI
from tests.conftest import RPC
from tests.conftest import Daemon
from tests.conftest import processes_naming

pytestmark = pytest.mark.slow

CLIENT_TIMEOUT = 5
SETTLE_TIMEOUT = 300


def md5_of(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def assert_no_residue(settings, registry, name="demo.pkg"):
    """No install folder, no temporary download, no record."""
    packages = settings["s01.packages.dir"]
    assert not os.path.exists(os.path.join(packages, name))
    staging = settings["s01.packages.staging_dir"]
    assert not os.path.exists(staging) or os.listdir(staging) == []
    assert registry.list() == []


def assert_installs_with(rpc, md5):
    """The right call installs (nothing of a failure is in its way)."""
    answer = rpc("addPackage", "demo.pkg", "1.0", None, md5, False)
    assert answer["error"] is None, answer["steps"][-1]
    assert answer["status"] is True
    assert rpc("removePackage", "demo.pkg", "1.0",
               scrapyRoot.defaultPythonVersion)["status"] is True


def test_failed_downloads_leave_nothing_and_the_next_add_succeeds(
        package_rpc, package_app, package_settings, package_index,
        index_root):
    registry = package_app.registry.getUtility(IPackageRegistry)
    sdist = index_root / "files" / "demo.pkg-1.0.tar.gz"
    md5 = md5_of(sdist)
    size = sdist.stat().st_size

    # (a) A wrong md5: refused at download, naming both digests.
    zeros = "0" * 32
    answer = package_rpc("addPackage", "demo.pkg", "1.0", None, zeros,
                         False)
    assert answer["status"] is False
    assert answer["steps"][-1]["step"] == "download"
    assert answer["error"] == (
        "md5 mismatch for demo.pkg-1.0.tar.gz: expected %s (md5Digest), "
        "got %s" % (zeros, md5))
    assert_no_residue(package_settings, registry)
    assert_installs_with(package_rpc, md5)

    # (b) The index sends the whole Content-Length, then closes halfway:
    # a short read, with or without the caller's md5.
    package_index.mode = "truncate"
    for digest in (md5, None):
        answer = package_rpc("addPackage", "demo.pkg", "1.0", None, digest,
                             False)
        assert answer["status"] is False
        assert answer["steps"][-1]["step"] == "download"
        assert re.fullmatch(
            r"short read of demo\.pkg-1\.0\.tar\.gz: (connection closed "
            r"after|got) \d+ of %d bytes" % size, answer["error"]), \
            answer["error"]
        assert_no_residue(package_settings, registry)
    package_index.mode = "ok"
    assert_installs_with(package_rpc, md5)

    # What a daemon killed during an install leaves: the folder with its
    # mark, no record. The next install clears it.
    target = os.path.join(package_settings["s01.packages.dir"], "demo.pkg",
                          "1.0", scrapyRoot.defaultPythonVersion)
    os.makedirs(os.path.join(target, "bin"))
    for name in (".s01-installing", "bin/list", "junk.txt"):
        with open(os.path.join(target, name), "w") as f:
            f.write("left over\n")

    # (c) The right md5 in upper case: accepted, and nothing of the
    # failures is in the way (no "Duplicated Package").
    answer = package_rpc("addPackage", "demo.pkg", "1.0", None, md5.upper(),
                         False)
    assert answer["error"] is None, answer["steps"][-1]
    assert answer["status"] is True
    assert answer["spiders"] == ["record", "fail", "fail-once", "stubborn"]
    assert not os.path.exists(os.path.join(target, "junk.txt"))
    assert not os.path.exists(os.path.join(target, ".s01-installing"))
    with open(os.path.join(target, "bin", "list")) as f:
        assert "left over" not in f.read()
    (record,) = registry.list()
    assert record["md5"] == md5
    assert os.listdir(package_settings["s01.packages.staging_dir"]) == []


@pytest.fixture
def slow_daemon(tmp_path, package_settings, mongo_uri):
    """A real daemon that installs from the test index."""
    settings = dict(package_settings, **{
        "s01.mongo.uri": mongo_uri,
        "s01.mongo.database": "test_%s" % uuid.uuid4().hex[:12],
    })
    daemon = Daemon(tmp_path, ini_text=ini_with(settings)).start()
    daemon.database = settings["s01.mongo.database"]
    yield daemon
    daemon.stop()


def ini_with(settings):
    """testing.ini's text with ``settings`` in its app section."""
    text = TESTING_INI.read_text()
    for key, value in settings.items():
        line = "%s = %s" % (key, value)
        text, found = re.subn(r"(?m)^%s = .*$" % re.escape(key),
                              line.replace("\\", "\\\\"), text)
        if not found:
            text = text.replace("[app:main]\n", "[app:main]\n%s\n" % line,
                                1)
    return text


def test_an_install_its_client_gave_up_on_finishes_on_its_own(
        slow_daemon, package_settings, tmp_path, index_root):
    """(d): the client leaves after 5 s, the install goes on to the end."""
    py = scrapyRoot.defaultPythonVersion
    target = os.path.join(package_settings["s01.packages.dir"], "slow.pkg",
                          "1.0", py)
    impatient = JSONRPCProxy(slow_daemon.rpc_url, "mgr", "mgrpw",
                             timeout=CLIENT_TIMEOUT)
    proxy = JSONRPCProxy(slow_daemon.rpc_url, "mgr", "mgrpw", timeout=600)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        impatient.addPackage("slow.pkg", "1.0", None, None, False)
    assert time.monotonic() - started < CLIENT_TIMEOUT + 2

    # The daemon goes on alone until the record is there.
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not proxy.listPackages() and time.monotonic() < deadline:
        time.sleep(1)
    (record,) = proxy.listPackages()
    assert (record["pkgName"], record["pkgVersion"]) == ("slow.pkg", "1.0")

    # The record stands for a working install: bin/crawl runs a spider.
    assert not os.path.exists(os.path.join(target, ".s01-installing"))
    out = tmp_path / "run.txt"
    run = proxy.runSpider("slow.pkg", "1.0", py, "record",
                          {"out": str(out), "job": "after"})
    assert run["code"] == 0, run["stderr"]
    assert out.read_text().split()[0] == "after"

    # A retry gets the duplicate error.
    md5 = md5_of(index_root / "files" / "slow.pkg-1.0.tar.gz")
    again = proxy.addPackage("slow.pkg", "1.0", None, md5, False)
    assert again["status"] is False
    assert again["error"] == "Duplicated Package found at: %s" % target


def test_a_daemon_stopped_during_an_install_rolls_it_back(
        slow_daemon, package_settings, mongo_uri):
    """(d) when the daemon goes instead of the client: a clean stop."""
    target = os.path.join(package_settings["s01.packages.dir"], "slow.pkg",
                          "1.0", scrapyRoot.defaultPythonVersion)
    impatient = JSONRPCProxy(slow_daemon.rpc_url, "mgr", "mgrpw",
                             timeout=1)
    with pytest.raises(requests.Timeout):
        impatient.addPackage("slow.pkg", "1.0", None, None, False)

    # Stop it while buildout builds the package's develop egg.
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not os.path.exists(os.path.join(target, "build-slept")):
        assert time.monotonic() < deadline, slow_daemon.log()[-3000:]
        time.sleep(0.1)
    assert processes_naming(target)
    assert slow_daemon.stop() == 0

    # No program goes on writing there, and nothing is left.
    assert processes_naming(target) == []
    assert not os.path.exists(os.path.dirname(os.path.dirname(target)))
    records = pymongo.MongoClient(mongo_uri)[slow_daemon.database].packages
    assert records.count_documents({}) == 0
    assert "install failed name=slow.pkg version=1.0" in slow_daemon.log()


def test_a_cancelled_install_job_ends_its_programs_and_rolls_back(
        make_app, package_settings):
    app = make_app(**dict(package_settings, **{
        "s01.processor.poll_interval": "0.2"}))
    rpc = RPC(webtest.TestApp(app))
    target = os.path.join(package_settings["s01.packages.dir"], "slow.pkg",
                          "1.0", scrapyRoot.defaultPythonVersion)
    assert rpc("startProcessor") is True
    job_id = rpc("startAddPackage", "slow.pkg", "1.0", None, None, False)

    # Cancel it while buildout builds the package's develop egg.
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not os.path.exists(os.path.join(target, "build-slept")):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert rpc("cancelJob", job_id) == "processing"
    deadline = time.monotonic() + 30
    while rpc("getJobStatus", job_id) != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    job = rpc("getJob", job_id)
    assert job["output"]["steps"][-1] == {
        "step": "buildout", "msg": job["output"]["error"]}
    assert job["output"]["error"].startswith(
        "stopped during buildout; buildout was ended")
    assert processes_naming(target) == []
    assert not os.path.exists(os.path.dirname(os.path.dirname(target)))
    assert app.registry.getUtility(IPackageRegistry).list() == []
