"""Spider listing: noisy output, line endings, failures, hangs (C13).

The package is the fake ``listing.probe`` of tests/fixtures/daemon.py
(spiders alpha and beta), one version per kind of ``bin/list``; a file
``list-mode`` in an install switches its ``bin/list``, so one install
shows ``listSpiders`` every kind. The listing timeout is cut to a few
seconds.

Chosen for (d): a ``bin/list`` that exits 0 and names no spider is a
failure (code -1), because a spider package without spiders is a broken
one; ``addPackage`` refuses it at step ``list`` and ``listSpiders``
answers the same.
"""
import os
import time

import pytest
import webtest

from s01.worker.interfaces import IPackageRegistry
from s01.worker.root import scrapyRoot
from tests.conftest import RPC
from tests.conftest import processes_naming

pytestmark = pytest.mark.slow

LIST_TIMEOUT = 3
# A killed bin/list: its group gets SIGTERM at the timeout; the fake dies
# of it at once (SIGKILL would follow after the grace of run_program).
KILL_SLACK = 5
PROBE = "listing.probe"
TRACEBACK_LINES = 30
EMPTY_ERROR = "bin/list exited with code 0 but named no spider"
HANG_ERROR = ("bin/list did not finish within %d s (s01.timeouts.list) and "
              "was killed" % LIST_TIMEOUT)


@pytest.fixture
def app(make_app, package_settings):
    return make_app(**dict(package_settings, **{
        "s01.timeouts.list": str(LIST_TIMEOUT)}))


@pytest.fixture
def rpc(app):
    return RPC(webtest.TestApp(app))


def target_of(settings, version):
    return os.path.join(settings["s01.packages.dir"], PROBE, version,
                        scrapyRoot.defaultPythonVersion)


def assert_whole_traceback(error):
    """The error holds the exception line and the 29 lines above it."""
    lines = error.splitlines()
    assert lines[0] == "bin/list exited with code 1"
    traceback = lines[1:]
    assert len(traceback) == TRACEBACK_LINES
    assert traceback[0] == "Traceback (most recent call last):"
    assert traceback[1].endswith("/spiders/level00.py\", line 10, in "
                                 "level00")
    assert traceback[-2] == "    level14()"
    assert traceback[-1] == "ImportError: No module named foo"


def test_list_spiders_answers_every_kind_of_bin_list(rpc, package_settings):
    py = scrapyRoot.defaultPythonVersion
    target = target_of(package_settings, "1.0")

    # (a) A warning on stderr, the names on stdout: exactly the names.
    answer = rpc("addPackage", PROBE, "1.0", None, None, False)
    assert answer["status"] is True, answer["steps"][-1]
    assert answer["spiders"] == ["alpha", "beta"]
    assert answer["steps"][-2] == {"step": "list", "msg": "alpha\nbeta"}
    assert rpc("listSpiders", PROBE, "1.0", py) == {
        "code": 0, "error": None, "spiders": ["alpha", "beta"]}

    # (b) \r\n line ends and a blank line: no "", no "\r".
    with open(os.path.join(target, "list-mode"), "w") as f:
        f.write("crlf")
    assert rpc("listSpiders", PROBE, "1.0", py) == {
        "code": 0, "error": None, "spiders": ["alpha", "beta"]}
    assert rpc("listAllSpiders")["pkgs"][PROBE]["1.0"][py] == {
        "code": 0, "error": None, "spiders": ["alpha", "beta"]}

    # (c) A traceback and exit 1: code 1, and the traceback whole.
    with open(os.path.join(target, "list-mode"), "w") as f:
        f.write("traceback")
    answer = rpc("listSpiders", PROBE, "1.0", py)
    assert (answer["code"], answer["spiders"]) == (1, [])
    assert_whole_traceback(answer["error"])
    assert rpc("listAllSpiders")["pkgs"][PROBE]["1.0"][py] == answer

    # (d) Nothing at all, exit 0: a failure, as addPackage has it.
    with open(os.path.join(target, "list-mode"), "w") as f:
        f.write("silent")
    assert rpc("listSpiders", PROBE, "1.0", py) == {
        "code": -1, "error": EMPTY_ERROR, "spiders": []}

    # (e) A hang: killed at the timeout with what it started.
    with open(os.path.join(target, "list-mode"), "w") as f:
        f.write("hang")
    started = time.monotonic()
    answer = rpc("listSpiders", PROBE, "1.0", py)
    seconds = time.monotonic() - started
    assert LIST_TIMEOUT <= seconds < LIST_TIMEOUT + KILL_SLACK
    assert answer == {"code": -1, "error": HANG_ERROR, "spiders": []}
    assert processes_naming(target) == []

    # The install itself is untouched by all that.
    assert rpc("listPackages")[0]["spiders"] == ["alpha", "beta"]


@pytest.mark.parametrize("version, listing", [
    ("3.0", "traceback"), ("4.0", "silent"), ("5.0", "hang"),
])
def test_add_package_fails_at_list_as_list_spiders_does(
        rpc, app, package_settings, version, listing):
    target = target_of(package_settings, version)
    started = time.monotonic()
    answer = rpc("addPackage", PROBE, version, None, None, False)
    seconds = time.monotonic() - started

    assert answer["status"] is False
    assert answer["spiders"] == []
    assert answer["steps"][-1]["step"] == "list"
    assert answer["steps"][-1]["msg"] == answer["error"]
    if listing == "traceback":
        assert_whole_traceback(answer["error"])
    elif listing == "silent":
        assert answer["error"] == EMPTY_ERROR
    else:
        assert answer["error"] == HANG_ERROR
        assert processes_naming(target) == []
        assert seconds >= LIST_TIMEOUT

    # Nothing is left: no folder, no record.
    assert not os.path.exists(os.path.dirname(os.path.dirname(target)))
    assert app.registry.getUtility(IPackageRegistry).list() == []
    assert rpc("listSpiders", PROBE, version, None)["code"] == -1
