"""Package names, versions and python keys used as path parts (C07).

Every bad value is refused through JSON-RPC before any fetch, path or
process: no request reaches the index, the sentinel next to the packages
folder stays as it is, nothing is created outside the packages folder,
no record and no job appear. Jobs holding bad values (another server's
records, a job written by hand) end ``error`` without touching the disk.
The control inputs install, list and remove like any package.
"""
import hashlib
import os
import time

import pytest
import transaction
import webtest

from s01.worker.interfaces import IJobQueue
from s01.worker.interfaces import IMongoStore
from s01.worker.interfaces import IPackageRegistry
from s01.worker.root import scrapyRoot
from s01.worker.testing.index import IndexServer
from tests.conftest import RPC

# Refused for each of pkgName, pkgVersion and pyVersion.
BAD_VALUES = ["", ".", "..", "../sentinel", "../../sentinel",
              "../../../sentinel", "a/b", "a\\b", "..\\..", "a\x00b",
              "/etc", "/", "\\", "/tmp/x"]
GOOD = {"pkgName": "demo.pkg", "pkgVersion": "1.0", "pyVersion": None}
FIELDS = ("pkgName", "pkgVersion", "pyVersion")


def py():
    return scrapyRoot.defaultPythonVersion


def case_calls():
    """The scenario's calls, each with the field it must name."""
    return [
        ("addPackage", ["../sentinel", "1.0", None, None, False],
         "pkgName"),
        ("addPackage", ["demo.pkg", "../../sentinel", None, None, False],
         "pkgVersion"),
        ("removePackage", ["..", "..", ".."], "pkgName"),
        ("removePackage", ["demo.pkg", "1.0", "../../../sentinel"],
         "pyVersion"),
        ("listSpiders", ["demo.pkg", "1.0", "/etc"], "pyVersion"),
        ("startAddPackage", ["a/b", "1.0", None], "pkgName"),
        ("startRunSpider", ["demo.pkg", "1.0", py(), "../x"],
         "spiderName"),
    ]


def field_calls():
    """Every method taking the three values, each value bad in turn."""
    methods = {
        "addPackage": lambda v: [v["pkgName"], v["pkgVersion"],
                                 v["pyVersion"], None, False],
        "removePackage": lambda v: [v["pkgName"], v["pkgVersion"],
                                    v["pyVersion"]],
        "listSpiders": lambda v: [v["pkgName"], v["pkgVersion"],
                                  v["pyVersion"]],
        "runSpider": lambda v: [v["pkgName"], v["pkgVersion"],
                                v["pyVersion"], "record"],
        "startAddPackage": lambda v: [v["pkgName"], v["pkgVersion"],
                                      v["pyVersion"]],
        "startRunSpider": lambda v: [v["pkgName"], v["pkgVersion"],
                                     v["pyVersion"], "record"],
    }
    calls = []
    for method, params in methods.items():
        for field in FIELDS:
            for value in BAD_VALUES + ["2.7"] * (field == "pyVersion"):
                calls.append((method, params(dict(GOOD, **{field: value})),
                              field))
    return calls


def snapshot(top, skip):
    """Every path below ``top`` but ``skip``, with a digest of files."""
    found = {}
    for folder, dirs, files in os.walk(top):
        if os.path.realpath(folder) == os.path.realpath(skip):
            dirs[:] = []
            continue
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as f:
                    found[path] = hashlib.sha256(f.read()).hexdigest()
            else:
                found[path] = os.readlink(path) if os.path.islink(path) \
                    else "dir"
    return found


@pytest.fixture
def untouched_index(tmp_path):
    """An index that must never be asked (it holds nothing)."""
    with IndexServer(tmp_path / "index") as server:
        yield server


@pytest.fixture
def paths_app(make_app, untouched_index, tmp_path):
    packages = tmp_path / "work" / "packages"
    packages.mkdir(parents=True)
    sentinel = tmp_path / "work" / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep.txt").write_text("keep me\n")
    return make_app(**{
        "s01.index.url": untouched_index.simple_url,
        "s01.packages.dir": str(packages),
        "s01.packages.staging_dir": str(tmp_path / "work" / "staging"),
        "s01.var.dir": str(tmp_path / "work" / "var"),
        "s01.processor.poll_interval": "0.2",
    })


def settings_of(app):
    return app.registry.settings


def assert_nothing_reached_the_disk(app, index, before, tmp_path):
    work = tmp_path / "work"
    assert (work / "sentinel" / "keep.txt").read_text() == "keep me\n"
    assert snapshot(work, settings_of(app)["s01.packages.dir"]) == before
    assert index.request_log == []
    assert app.registry.getUtility(IPackageRegistry).list() == []


def assert_refused(rpc, calls):
    for method, params, field in calls:
        answer = rpc.answer(method, *params)
        assert "error" in answer, (method, params, answer)
        assert answer["error"]["code"] == -32602, (method, params, answer)
        assert answer["error"]["message"].startswith(
            "Invalid params: %s: " % field), (method, params, answer)


def test_the_cases_bad_calls_are_refused_before_anything_happens(
        paths_app, untouched_index, tmp_path):
    rpc = RPC(webtest.TestApp(paths_app))
    before = snapshot(tmp_path / "work",
                      settings_of(paths_app)["s01.packages.dir"])
    assert_refused(rpc, case_calls())
    assert_nothing_reached_the_disk(paths_app, untouched_index, before,
                                    tmp_path)
    assert rpc("countJobs") == {"cancelled": 0, "completed": 0, "error": 0,
                                "processing": 0, "queued": 0}


def test_each_bad_value_of_each_field_is_refused_by_every_method(
        paths_app, untouched_index, tmp_path):
    rpc = RPC(webtest.TestApp(paths_app))
    before = snapshot(tmp_path / "work",
                      settings_of(paths_app)["s01.packages.dir"])
    assert_refused(rpc, field_calls())
    assert_nothing_reached_the_disk(paths_app, untouched_index, before,
                                    tmp_path)
    assert rpc("countJobs")["queued"] == 0


def test_a_python_key_added_at_run_time_is_checked_too(
        paths_app, untouched_index, tmp_path, monkeypatch):
    rpc = RPC(webtest.TestApp(paths_app))
    before = snapshot(tmp_path / "work",
                      settings_of(paths_app)["s01.packages.dir"])
    monkeypatch.setitem(scrapyRoot.pythonVersions, "../../sentinel",
                        "/usr/bin/python3")
    answer = rpc.answer("addPackage", "demo.pkg", "1.0", "../../sentinel",
                        None, False)
    assert answer["error"]["code"] == -32602
    assert answer["error"]["message"].startswith("Invalid params: "
                                                 "pyVersion: ")
    assert_nothing_reached_the_disk(paths_app, untouched_index, before,
                                    tmp_path)


def test_jobs_with_bad_path_parts_end_error_without_touching_the_disk(
        paths_app, untouched_index, tmp_path):
    """Jobs that skipped the RPC checks: written by hand, or a sync from
    another server whose records hold a bad name."""
    rpc = RPC(webtest.TestApp(paths_app))
    before = snapshot(tmp_path / "work",
                      settings_of(paths_app)["s01.packages.dir"])
    queue = paths_app.registry.getUtility(IJobQueue)
    store = paths_app.registry.getUtility(IMongoStore)
    store.db["packages"].insert_one({
        "serverName": "other", "pkgName": "../sentinel", "pkgVersion": "1.0",
        "pyVersion": py(), "spiders": ["x"], "path": "/tmp"})

    tm = transaction.TransactionManager(explicit=True)
    with tm:
        ids = [
            queue.enqueue(tm, "AddPackage", {
                "pkgName": "../sentinel", "pkgVersion": "1.0",
                "pyVersion": None, "testing": False}),
            queue.enqueue(tm, "AddPackage", {
                "pkgName": "demo.pkg", "pkgVersion": "1.0",
                "pyVersion": "../../../sentinel", "testing": False}),
            queue.enqueue(tm, "RunSpider", {
                "pkgName": "..", "pkgVersion": "..", "pyVersion": "..",
                "spiderName": "../x", "args": {}, "settings": {}}),
            queue.enqueue(tm, "SyncPackages", {
                "sourceServerName": "other", "testing": False}),
        ]
    assert rpc("startProcessor") is True

    jobs = [wait_for_end(rpc, job_id) for job_id in ids]
    assert [job["status"] for job in jobs] == ["error"] * 4
    assert jobs[0]["errors"][0]["error"].startswith("pkgName: ")
    assert jobs[1]["errors"][0]["error"].startswith("pyVersion: ")
    assert "not installed" in jobs[2]["errors"][0]["error"]
    (failed,) = jobs[3]["output"]["failed"]
    assert failed["error"].startswith("pkgName: ")
    # Nothing another attempt could mend: no retries for the add and
    # run jobs.
    assert [job["retryCounter"] for job in jobs[:3]] == [1, 1, 1]
    assert_nothing_reached_the_disk(paths_app, untouched_index, before,
                                    tmp_path)
    assert os.listdir(settings_of(paths_app)["s01.packages.dir"]) == []


def wait_for_end(rpc, job_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = rpc("getJob", job_id)
        if job["status"] in ("error", "completed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError("job %s still %s" % (job_id, job["status"]))


@pytest.mark.slow
@pytest.mark.parametrize("name, version", [
    ("demo_pkg-2", "1.0b1"), ("demo_pkg-2", "2.0.post1"),
    ("demo_pkg-2", "1.0+local"),
])
def test_control_inputs_install_list_and_remove(
        package_rpc, package_settings, name, version):
    # s01.demo 0.16.2, the other control input, is installed by
    # test_packages.py::test_add_list_run_remove_the_demo_package.
    target = os.path.join(package_settings["s01.packages.dir"], name,
                          version, py())
    answer = package_rpc("addPackage", name, version, None, None, False)
    assert answer["error"] is None, answer["steps"][-1]
    assert answer["status"] is True
    assert os.path.isfile(os.path.join(target, "bin", "list"))
    assert package_rpc("listSpiders", name, version, py())["code"] == 0
    removed = package_rpc("removePackage", name, version, py())
    assert removed["status"] is True
    assert os.listdir(package_settings["s01.packages.dir"]) == [".locks"]


@pytest.mark.slow
def test_c01_list_spiders_by_position_and_by_name_agree(package_rpc):
    answer = package_rpc("addPackage", "demo.pkg", "1.0", None, None, False)
    assert answer["status"] is True, answer["error"]

    def call(call_id, params):
        return package_rpc.post({"jsonrpc": "2.0", "id": call_id,
                                 "method": "listSpiders", "params": params},
                                status=200).json

    by_position = call(1, ["demo.pkg", "1.0", py()])
    # Keys deliberately out of order.
    by_name = call(2, {"pyVersion": py(), "pkgVersion": "1.0",
                       "pkgName": "demo.pkg"})
    assert by_position == {"jsonrpc": "2.0", "id": 1, "result": {
        "code": 0, "error": None,
        "spiders": ["record", "fail", "fail-once", "stubborn"]}}
    assert by_name == dict(by_position, id=2)
    for params in ({"pkgName": "demo.pkg", "pkgVersion": "1.0", "bogus": 1},
                   {"pkgName": "demo.pkg", "pyVersion": py()}):
        refused = call(3, params)
        assert refused["error"]["code"] == -32602, params
        assert refused["id"] == 3
        assert refused["jsonrpc"] == "2.0"
