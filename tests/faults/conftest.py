"""Real daemons on the session's Mongo server, and what faults need.

``make_daemon(name)`` writes a daemon's ini (testing.ini with the
overrides below), points it at the session's MongoDB-wire server, a
database of this test's own, the fault index and folders under the
test's tmp_path, and starts it; every daemon is stopped at teardown. The
fault index serves the fake spider package (``s01.worker.testing.fakes``)
in any version a test adds, so each install is a fresh one.
"""
import os
import time
import uuid

import pymongo
import pymongo.errors
import pytest

from s01.worker.testing.fakes import build_fake_sdist
from s01.worker.testing.index import IndexServer
from s01.worker.testing.index import build_index
from tests.conftest import Daemon
from tests.conftest import process_table
from tests.conftest import wait_for

FAKE = "fake.spiders"
# Short polls and grace periods. The leases are the defaults': a busy
# machine, late with renewals by seconds, must not make a job run again
# where a test counts attempts.
FAST = {
    "s01.processor.autostart": "true",
    "s01.processor.threads": "4",
    "s01.processor.poll_interval": "0.2",
    "s01.processor.lease_seconds": "30",
    "s01.processor.renew_interval": "1",
    "s01.processor.reap_interval": "1",
    "s01.processor.heartbeat_interval": "1",
    "s01.processor.shutdown_grace": "2",
    "s01.spiders.stop_grace": "2",
    "s01.jobs.retry_delay": "1",
}
# For the tests of crashes and outages: a dead daemon's jobs are reaped,
# and a daemon without its database fences its jobs, within seconds.
SHORT_LEASES = {
    "s01.processor.lease_seconds": "3",
    "s01.processor.renew_interval": "0.5",
}


class FaultIndex:
    """The fault index: fake spider sdists in versions made on demand."""

    def __init__(self, root, sdists):
        self.root = root
        self.sdists = sdists
        self.server = IndexServer(root).start()
        self.versions = set()

    @property
    def url(self):
        return self.server.simple_url

    def add(self, version, name=FAKE, **options):
        """Publish a version (``options`` go to build_fake_sdist)."""
        if (name, version) not in self.versions:
            path = build_fake_sdist(self.sdists, name, version, **options)
            build_index(self.root, [path])
            self.versions.add((name, version))
        return version


@pytest.fixture(scope="session")
def fault_index(tmp_path_factory):
    index = FaultIndex(tmp_path_factory.mktemp("fault-index"),
                       tmp_path_factory.mktemp("fault-sdists"))
    index.add("1.0")
    yield index
    index.server.stop()


@pytest.fixture
def fault_mongo_uri(mongo_uri):
    """The server the fault daemons use: the session's, unless a test
    module gives its own."""
    return mongo_uri


@pytest.fixture
def fault_db(fault_mongo_uri):
    """This test's database, read and written straight by the test."""
    client = pymongo.MongoClient(fault_mongo_uri, tz_aware=True,
                                 socketTimeoutMS=30000)
    db = client["fault_%s" % uuid.uuid4().hex[:12]]
    yield db
    try:
        client.drop_database(db.name)
    except pymongo.errors.PyMongoError:
        # A killed daemon's transaction may hold it for a while yet; the
        # database is not used again.
        pass
    client.close()


@pytest.fixture
def daemon_settings(tmp_path, fault_mongo_uri, fault_db, fault_index,
                    install_settings):
    """The overrides every fault daemon gets (a name adds its folders)."""
    def settings(name, folder=None):
        folder = folder or tmp_path / name
        values = dict(FAST)
        values.update(install_settings(folder, fault_index.url))
        values.update({
            "s01.server_name": name,
            "s01.mongo.uri": fault_mongo_uri,
            "s01.mongo.database": fault_db.name,
            "s01.var.dir": str(folder / "var"),
            "s01.index.timeout": "5",
        })
        return values
    return settings


@pytest.fixture
def make_daemon(tmp_path, daemon_settings):
    """Start daemons: ``make_daemon(name, folder=None, server=None,
    start=True, wrapper=(), **settings)``; all are stopped at teardown."""
    daemons = []

    def make(name="node1", folder=None, server=None, start=True,
             wrapper=(), **overrides):
        folder = folder or tmp_path / name
        settings = daemon_settings(name, folder)
        settings.update(overrides)
        workdir = folder / ("daemon-%d" % len(daemons))
        daemon = Daemon(workdir, settings=settings, server=server,
                        wrapper=wrapper)
        daemon.name = name
        daemon.folder = folder
        daemons.append(daemon)
        return daemon.start() if start else daemon

    yield make
    for daemon in daemons:
        if daemon.running():
            try:
                daemon.stop(timeout=30)
            except Exception:
                # Teardown must end them all; a hung one is killed.
                daemon.kill()


# Processes, read from /proc.

def descendants(pid, table=None):
    """The pids of every living descendant of ``pid``."""
    table = table or process_table()
    children = {}
    for child, (parent, state, _) in table.items():
        if state != "Z":
            children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pids):
    """The pids of ``pids`` still running (zombies are not)."""
    table = process_table()
    return sorted(pid for pid in pids
                  if pid in table and table[pid][1] != "Z")


def processes_mentioning(text):
    """Pids of living processes whose command line or cwd holds text."""
    found = []
    for pid, (_, state, cmdline) in process_table().items():
        if state == "Z" or pid == os.getpid():
            continue
        try:
            cwd = os.readlink("/proc/%d/cwd" % pid)
        except OSError:
            cwd = ""
        if text in cmdline or cwd.startswith(text):
            found.append(pid)
    return found


# Checks shared by the fault tests.

FINAL = ("completed", "error", "cancelled")


def wait_finished(db, ids, timeout=180.0):
    """Wait until every job of ``ids`` has a final status; the jobs."""
    def done():
        jobs = {str(j["_id"]): j for j in db.remoteJobs.find(
            {"_id": {"$in": [bson_id(i) for i in ids]}})}
        if len(jobs) == len(ids) and all(
                j["status"] in FINAL for j in jobs.values()):
            return jobs
        return None
    return wait_for(done, timeout, interval=0.25, what="jobs finished")


def bson_id(text):
    import bson

    return bson.ObjectId(text)


def check_attempts(job, lease_errors_only=True):
    """A finished job's attempt counts hold together; its outcome.

    Completed: one attempt more than its errors. Error: every attempt
    spent. Every error is a lease that ran out (its daemon was killed)
    unless ``lease_errors_only`` is False.
    """
    errors = job["errors"]
    if lease_errors_only:
        assert all(e["error"].startswith("lease expired")
                   for e in errors), errors
    if job["status"] == "completed":
        assert job["retryCounter"] == len(errors) + 1, job
        return "completed"
    assert job["status"] == "error", job
    assert job["retryCounter"] == job["maxRetries"], job
    assert len(errors) == job["retryCounter"], job
    return "error"


def spider_runs(log_path):
    """{job text: [(pid, start, end or None)]} from record's log."""
    runs = {}
    if not os.path.exists(log_path):
        return runs
    with open(log_path) as f:
        for line in f:
            kind, job, pid, when = line.split()
            entries = runs.setdefault(job, {})
            entry = entries.setdefault(int(pid), [None, None])
            entry[0 if kind == "start" else 1] = float(when)
    return {job: sorted((pid, start, end) for pid, (start, end)
                        in entries.items()) for job, entries in runs.items()}


def overlapping(runs, killed_at):
    """Pairs of runs of one job that ran at the same time.

    A run without an end was killed with its daemon: it ended at the
    kill time given for its pid (``killed_at``).
    """
    found = []
    for job, entries in runs.items():
        spans = sorted((start, end or killed_at[pid], pid)
                       for pid, start, end in entries)
        for (_, end, pid), (start, _, other) in zip(spans, spans[1:]):
            if start < end:
                found.append((job, pid, other))
    return found


def half_installed(packages_dir, db, server_name):
    """Install folders without record or mark-free, working bin/list;
    records without their folder. Empty when all is well."""
    import glob
    import subprocess

    problems = []
    records = {(r["pkgName"], r["pkgVersion"], r["pyVersion"]): r
               for r in db.packages.find({"serverName": server_name})}
    folders = glob.glob(os.path.join(packages_dir, "*", "*", "*"))
    for folder in folders:
        key = tuple(folder.split(os.sep)[-3:])
        if key not in records:
            problems.append("folder without record: %s" % folder)
        elif os.path.exists(os.path.join(folder, ".s01-installing")):
            problems.append("folder still marked: %s" % folder)
    for key, record in records.items():
        folder = os.path.join(packages_dir, *key)
        listed = subprocess.run([os.path.join(folder, "bin", "list")],
                                capture_output=True, text=True)
        if listed.returncode != 0 or \
                listed.stdout.split() != record["spiders"]:
            problems.append("record without a working install: %s %s"
                            % (key, listed.stderr[-300:]))
    return problems


@pytest.fixture
def fault_queue(fault_db, fault_mongo_uri):
    """A JobQueue on the test's database, to queue jobs straight."""
    import transaction

    from s01.worker.jobs.clock import ServerClock
    from s01.worker.jobs.queue import JobQueue
    from s01.worker.mongo.store import MongoStore

    store = MongoStore(fault_mongo_uri, fault_db.name)
    queue = JobQueue(store, ServerClock(store), "test")
    queue.tm = transaction.TransactionManager(explicit=True)
    yield queue
    store.client.close()


class DeathWatch:
    """Notes when the record spiders of a log die, every 50 ms, so runs
    killed without an end line still get an end time."""

    def __init__(self, log_path):
        import threading

        self.log_path = log_path
        self.died = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        while not self.stopping.wait(0.05):
            now = time.time()
            for entries in spider_runs(self.log_path).values():
                for pid, _, end in entries:
                    if end is None and pid not in self.died and \
                            not alive([pid]):
                        self.died[pid] = now

    def stop(self):
        self.stopping.set()
        self.thread.join()
        return self.died
