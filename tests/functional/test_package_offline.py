"""Bootstrap and buildout with no internet; hung steps (C12).

The daemon's environment sends every HTTP(S) request not bound for the
loopback through a proxy that refuses it and writes it down
(``s01.worker.testing.proxy``), so "no other host" is something a test
can assert. The package is the fake ``demo.pkg`` 1.0 of the test index.
"""
import os
import re
import time

import pytest
import transaction
import webtest

from s01.worker.interfaces import IJobQueue
from s01.worker.interfaces import IPackageRegistry
from s01.worker.interfaces import IProcessor
from s01.worker.root import scrapyRoot
from s01.worker.testing.index import IndexServer
from s01.worker.testing.proxy import RecordingProxy
from tests.conftest import RPC
from tests.conftest import processes_naming

# Long enough for the virtualenv (seconds on a loaded CI box) to be made
# before pip starts waiting on the index that never answers.
BOOTSTRAP_TIMEOUT = 20
KILL_SLACK = 10
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
LOCAL = "127.0.0.1,localhost"


@pytest.fixture
def proxy(monkeypatch):
    """Only loopback hosts reachable; the proxy records the rest."""
    with RecordingProxy() as proxy:
        for name in PROXY_VARIABLES:
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.setenv("no_proxy", LOCAL)
        monkeypatch.setenv("NO_PROXY", LOCAL)
        yield proxy


@pytest.fixture
def hanging_index(tmp_path):
    """An index that accepts connections and never answers."""
    with IndexServer(tmp_path / "hanging") as server:
        server.mode = "hang"
        yield server


def assert_nothing_installed(app, settings):
    assert not os.path.exists(os.path.join(settings["s01.packages.dir"],
                                           "demo.pkg"))
    assert app.registry.getUtility(IPackageRegistry).list() == []


@pytest.mark.slow
def test_an_install_contacts_no_host_but_the_configured_ones(
        proxy, make_app, package_settings, package_index, tmp_path,
        monkeypatch):
    """(a): the test index, the shared eggs and the wheelhouse suffice.

    The user's pip configuration names another index and find-links
    folder; they must not join the install.
    """
    settings = dict(package_settings, **{
        "s01.buildout.index": package_index.simple_url})
    home = tmp_path / "home"
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(
        "[global]\nextra-index-url = http://pypi.invalid/simple/\n"
        "find-links = http://links.invalid/\n")
    monkeypatch.setenv("HOME", str(home))
    rpc = RPC(webtest.TestApp(make_app(**settings)))
    answer = rpc("addPackage", "demo.pkg", "1.0", None, None, False)
    assert answer["error"] is None, answer["steps"][-1]
    assert answer["status"] is True
    assert proxy.requests == []

    # pip looked only where the daemon told it.
    bootstrap = next(step["msg"] for step in answer["steps"]
                     if step["step"] == "bootstrap")
    links = re.search(r"Looking in links: (.*)\n", bootstrap).group(1)
    assert set(links.split(", ")) == {settings["s01.buildout.wheelhouse"],
                                      settings["s01.buildout.find_links"]}
    assert all(path.startswith(("/simple/", "/files/"))
               for path in package_index.request_log)


@pytest.mark.slow
def test_without_zc_buildout_in_reach_bootstrap_fails_naming_it(
        proxy, make_app, package_settings, package_index, tmp_path):
    """(b): an empty wheelhouse, and an index without zc.buildout."""
    settings = dict(package_settings, **{
        "s01.buildout.index": package_index.simple_url,
        "s01.buildout.wheelhouse": str(tmp_path / "empty-wheelhouse"),
        "s01.timeouts.bootstrap": "120",
    })
    app = make_app(**settings)
    rpc = RPC(webtest.TestApp(app))
    started = time.monotonic()
    answer = rpc("addPackage", "demo.pkg", "1.0", None, None, False)
    assert time.monotonic() - started < 120
    assert answer["status"] is False
    assert answer["steps"][-1]["step"] == "bootstrap"
    assert "No matching distribution found for zc.buildout==6.0.1" in \
        answer["error"]
    assert proxy.requests == []
    assert "/simple/zc-buildout/" in package_index.request_log
    assert_nothing_installed(app, settings)


def test_a_package_index_that_never_answers_fails_fetch_in_time(
        make_app, hanging_index, tmp_path):
    """(c) for the package index itself: no program, a read timeout."""
    settings = {
        "s01.index.url": hanging_index.simple_url,
        "s01.index.timeout": "2",
        "s01.packages.dir": str(tmp_path / "packages"),
        "s01.packages.staging_dir": str(tmp_path / "staging"),
    }
    app = make_app(**settings)
    rpc = RPC(webtest.TestApp(app))
    started = time.monotonic()
    answer = rpc("addPackage", "demo.pkg", "1.0", None, None, False)
    assert 2 <= time.monotonic() - started < 2 + KILL_SLACK
    assert answer["status"] is False
    assert answer["steps"] == [{"step": "fetch", "msg": answer["error"]}]
    assert answer["error"] == "%sdemo-pkg/: no answer within 2.0s" % (
        hanging_index.simple_url)
    assert_nothing_installed(app, settings)


@pytest.mark.slow
def test_a_hung_bootstrap_is_killed_and_the_processor_goes_on(
        proxy, make_app, package_settings, hanging_index, tmp_path):
    """(c) as a job: pip waits on an index that never answers."""
    settings = dict(package_settings, **{
        "s01.buildout.index": hanging_index.simple_url,
        "s01.buildout.wheelhouse": str(tmp_path / "empty-wheelhouse"),
        "s01.timeouts.bootstrap": str(BOOTSTRAP_TIMEOUT),
        "s01.processor.threads": "1",
        "s01.processor.poll_interval": "0.2",
    })
    app = make_app(**settings)
    rpc = RPC(webtest.TestApp(app))
    target = os.path.join(settings["s01.packages.dir"], "demo.pkg", "1.0",
                          scrapyRoot.defaultPythonVersion)
    assert rpc("startProcessor") is True

    # The install job, then a job queued behind it on the one thread.
    job_id = rpc("startAddPackage", "demo.pkg", "1.0", None, None, False,
                 1)
    queue = app.registry.getUtility(IJobQueue)
    tm = transaction.TransactionManager(explicit=True)
    with tm:
        probe_id = queue.enqueue(tm, "Probe", {})
    app.registry.getUtility(IProcessor).wake(probe_id)

    job = wait_for_status(rpc, job_id, "error", timeout=300)
    output = job["output"]
    assert output["status"] is False
    assert output["steps"][-1]["step"] == "bootstrap"
    assert output["error"].startswith(
        "bootstrap did not finish within %d s (s01.timeouts.bootstrap); "
        "pip was killed" % BOOTSTRAP_TIMEOUT)
    assert processes_naming(target) == []
    assert_nothing_installed(app, settings)
    assert proxy.requests == []

    # The processor took the next job.
    probe = wait_for_status(rpc, probe_id, "completed", timeout=30)
    assert probe["retryCounter"] == 1


def wait_for_status(rpc, job_id, status, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = rpc("getJob", job_id)
        if job["status"] == status:
            return job
        time.sleep(0.2)
    raise AssertionError("job %s not %s within %s s: %s"
                         % (job_id, status, timeout, job))
