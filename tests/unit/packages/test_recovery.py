"""What a daemon killed mid-install leaves is cleared, and only that."""
import os
import threading
import uuid

import bson
import pytest
import transaction
from pyramid.registry import Registry

from s01.worker.exceptions import JobFailed
from s01.worker.interfaces import IInstaller
from s01.worker.interfaces import IPackageRegistry
from s01.worker.jobs.clock import ServerClock
from s01.worker.jobs.processor import JobContext
from s01.worker.jobs.processor import JobProcessor
from s01.worker.mongo.store import MongoStore
from s01.worker.packages import jobs
from s01.worker.packages.installer import INSTALLING_MARK
from s01.worker.packages.installer import Installer
from s01.worker.packages.process import daemon_token
from s01.worker.packages.registry import PackageRegistry

PY = "3.11"


@pytest.fixture
def registry(mongo_uri):
    store = MongoStore(mongo_uri, "test_%s" % uuid.uuid4().hex[:12])
    registry = PackageRegistry(store, ServerClock(store), "node1")
    registry.ensure_indexes()
    yield registry
    store.client.drop_database(store.db.name)
    store.close()


@pytest.fixture
def installer(tmp_path, registry):
    settings = {"s01.packages.dir": str(tmp_path / "packages"),
                "s01.packages.staging_dir": str(tmp_path / "staging")}
    return Installer(settings, None, registry, lambda: {}, lambda: PY)


def half_installed(installer, name, version, mark=True):
    target = installer.target_of(name, version, PY)
    os.makedirs(os.path.join(target, "bin"))
    if mark:
        open(os.path.join(target, INSTALLING_MARK), "w").close()
    return target


def record(registry, name, version, job_id=None):
    tm = transaction.TransactionManager(explicit=True)
    return registry.add(tm, {"pkgName": name, "pkgVersion": version,
                             "pyVersion": PY, "spiders": ["record"],
                             "path": "/nowhere", "jobId": job_id})


def test_a_marked_folder_without_record_is_removed(installer):
    target = half_installed(installer, "demo", "1.0")
    assert installer.clear_leftovers() == [target]
    assert not os.path.exists(os.path.dirname(os.path.dirname(target)))
    assert os.listdir(installer.packages_dir) == [".locks"]


def test_a_marked_folder_with_its_record_only_loses_the_mark(
        installer, registry):
    target = half_installed(installer, "demo", "1.0")
    record(registry, "demo", "1.0")
    assert installer.clear_leftovers() == []
    assert os.listdir(target) == ["bin"]


def test_an_install_in_progress_is_left_alone(installer):
    target = half_installed(installer, "demo", "1.0")
    held, release = threading.Event(), threading.Event()

    def install():
        with installer._release_lock("demo", "1.0", PY):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=install)
    thread.start()
    try:
        assert held.wait(10)
        assert installer.clear_leftovers() == []
        assert os.path.isdir(target)
    finally:
        release.set()
        thread.join()
    assert installer.clear_leftovers() == [target]


def test_an_unmarked_folder_is_never_touched(installer):
    target = half_installed(installer, "demo", "1.0", mark=False)
    assert installer.clear_leftovers() == []
    assert os.path.isdir(target)


def test_staging_folders_go_once_their_daemon_is_gone(installer):
    ours = installer._new_staging()
    pid, start = daemon_token().split(":")
    dead = os.path.join(installer.staging_dir, "install-%s:%d-abc" % (
        pid, int(start) + 1))
    os.makedirs(dead)
    assert installer.clear_leftovers() == [dead]
    assert os.listdir(installer.staging_dir) == [os.path.basename(ours)]


def add_package_context(installer, registry, job_id):
    utilities = Registry()
    utilities.registerUtility(installer, IInstaller)
    utilities.registerUtility(registry, IPackageRegistry)
    processor = JobProcessor(server_name="node1", registry=utilities)
    return JobContext(processor, {
        "_id": bson.ObjectId(job_id), "pkgName": "demo", "pkgVersion": "1.0",
        "pyVersion": PY, "testing": False})


def test_an_add_whose_earlier_attempt_installed_it_completes(
        installer, registry):
    job_id = str(bson.ObjectId())
    record(registry, "demo", "1.0", job_id)
    output = jobs.add_package(add_package_context(installer, registry,
                                                  job_id))
    assert output["status"] is True and output["error"] is None
    assert output["spiders"] == ["record"]
    assert output["steps"][-1]["msg"] == \
        "installed by an earlier attempt of this job"


def test_an_add_of_a_release_another_job_installed_is_a_duplicate(
        installer, registry):
    record(registry, "demo", "1.0", str(bson.ObjectId()))
    context = add_package_context(installer, registry, str(bson.ObjectId()))
    with pytest.raises(JobFailed) as info:
        jobs.add_package(context)
    assert info.value.permanent is True
    assert str(info.value).startswith("Duplicated Package found at: ")


def test_staging_folders_of_another_format_are_left_alone(installer):
    other = os.path.join(installer.staging_dir, "install-abc123")
    os.makedirs(other)
    assert installer.clear_leftovers() == []
    assert os.path.isdir(other)
