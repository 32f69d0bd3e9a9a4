"""Shared fixtures: a real MongoDB-wire server, the app, a real daemon.

Every test talks to a real server over a socket: the embedded SecantusDB
server (started once per test session, in memory), or the mongod that
``S01_TEST_MONGO_URI`` names. Each test gets its own database.
"""
import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import plaster
import pytest
import webtest

from s01.worker import main
from s01.worker.interfaces import IMongoStore
from s01.worker.interfaces import IProcessor
from s01.worker.mongo.embedded import EmbeddedMongo
from s01.worker.mongo.embedded import find_free_port
# Install and crawl fixtures: sdists, shared buildout folders, a local
# index, the local Python docs server (see tests/fixtures/).

# Fixtures of sdists and indexes, the docs site, and apps that install.
pytest_plugins = ["tests.fixtures.docs", "tests.fixtures.packages",
                  "tests.fixtures.daemon", "tests.fixtures.report"]

ROOT = Path(__file__).resolve().parents[1]
TESTING_INI = ROOT / "testing.ini"
OUTPUT = Path(os.environ.get("S01_TEST_OUTPUT", ROOT / "test-output"))


def scripts_dir():
    """Where pserve and s01-worker are: beside python in a virtualenv,
    beside bin/test in a buildout."""
    for folder in (Path(sys.executable).parent,
                   Path(sys.argv[0]).resolve().parent):
        if (folder / "pserve").exists():
            return folder
    return Path(sys.executable).parent


BIN = scripts_dir()


def basic_auth(user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode("utf-8"))
    return "Basic " + token.decode("ascii")


MGR = basic_auth("mgr", "mgrpw")
VIEWER = basic_auth("viewer", "viewerpw")


def wait_for(predicate, timeout=60.0, interval=0.1, what="condition"):
    """Poll ``predicate`` until it answers something true; answer it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("%s not met within %s s" % (what, timeout))


def process_table():
    """{pid: (ppid, state, cmdline)} of every process now."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:
                stat = f.read()
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(
                    "utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        table[int(entry)] = (int(fields[1]), fields[0].decode(), cmdline)
    return table


def processes_naming(text):
    """Pids of live processes whose command line holds ``text``."""
    return [pid for pid, (_, state, cmdline) in process_table().items()
            if text in cmdline and state != "Z"]


@pytest.fixture(scope="session")
def output_dir():
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def mongo_uri(output_dir):
    """A MongoDB-wire server for the whole session."""
    uri = os.environ.get("S01_TEST_MONGO_URI")
    if uri:
        yield uri
        return
    server = EmbeddedMongo(":memory:", log_path=str(output_dir / "mongo.log"))
    server.start()
    yield server.uri
    server.stop()


@pytest.fixture
def app_settings(mongo_uri):
    """testing.ini's settings, on the session's server, a fresh database."""
    settings = dict(plaster.get_settings(str(TESTING_INI), "app:main"))
    settings["s01.mongo.uri"] = mongo_uri
    settings["s01.mongo.database"] = "test_%s" % uuid.uuid4().hex[:12]
    return settings


@pytest.fixture
def make_app(app_settings):
    """Build apps from testing.ini with overrides; clean up afterwards."""
    apps = []

    def make(**overrides):
        settings = dict(app_settings)
        settings.update(overrides)
        app = main({"__file__": str(TESTING_INI)}, **settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.registry.getUtility(IProcessor).stop()
        store = app.registry.getUtility(IMongoStore)
        if store.status(timeout=1)["status"]:
            store.client.drop_database(store.db.name)
        store.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def testapp(app):
    return webtest.TestApp(app)


class RPC:
    """Post JSON-RPC calls through webtest and return the parsed answer."""

    def __init__(self, testapp, path="/++skin++Scrapy"):
        self.testapp = testapp
        self.path = path
        self.ids = iter(range(1, 10**9))

    def post(self, body, auth=MGR, content_type="application/json",
             status="*"):
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = {"Content-Type": content_type}
        if auth:
            headers["Authorization"] = auth
        return self.testapp.post(self.path, body, headers=headers,
                                 status=status)

    def answer(self, method, *params, auth=MGR, **named):
        body = {"jsonrpc": "2.0", "method": method, "id": next(self.ids),
                "params": named or list(params)}
        response = self.post(body, auth=auth, status=200)
        return response.json

    def __call__(self, method, *params, auth=MGR, **named):
        answer = self.answer(method, *params, auth=auth, **named)
        assert "error" not in answer, answer
        return answer["result"]


@pytest.fixture
def rpc(testapp):
    return RPC(testapp)


class Daemon:
    """A real ``pserve`` of a copy of testing.ini, on a free port.

    ``settings`` and ``server`` override keys of the ``[app:main]`` and
    ``[server:main]`` sections; ``wrapper`` is a command line that starts
    pserve (in a mount namespace, say). The port and the ini stay the same
    across ``kill`` and ``start``, so a test can crash a daemon and start
    it again on the same database and folders.
    """

    def __init__(self, workdir, ini_text=None, log_name="pserve.log",
                 settings=None, server=None, wrapper=()):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = find_free_port()
        self.ini = self.workdir / "testing.ini"
        text = ini_text or TESTING_INI.read_text()
        text = re.sub(r"(?m)^http_port = \d+$", "http_port = %d" % self.port,
                      text)
        text = ini_with(text, "app:main", settings or {})
        text = ini_with(text, "server:main", server or {})
        self.ini.write_text(text)
        self.log_path = self.workdir / log_name
        # A command line to start pserve with (unshare, setpriv).
        self.wrapper = list(wrapper)
        self.process = None
        self._log = None
        self._ids = iter(range(1, 10**9))

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def rpc_url(self):
        return self.url + "/++skin++Scrapy"

    @property
    def pid(self):
        return self.process.pid

    def start(self, timeout=60):
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.wrapper + [str(BIN / "pserve"), str(self.ini)],
            cwd=str(self.workdir), stdout=self._log,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("pserve exited: %s" % self.log())
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)
            except urllib.error.HTTPError:
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("pserve did not answer: %s" % self.log())

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.process.returncode if self.process else None

    def kill(self):
        """End the daemon with SIGKILL, as a crash would."""
        return self.stop(signal.SIGKILL)

    def running(self):
        return self.process is not None and self.process.poll() is None

    def log(self):
        return self.log_path.read_text(errors="replace")

    def call(self, method, *params, auth=MGR, timeout=30, **named):
        """Post one JSON-RPC call; the whole answer object."""
        body = {"jsonrpc": "2.0", "method": method, "id": next(self._ids),
                "params": named or list(params)}
        request = urllib.request.Request(
            self.rpc_url, json.dumps(body).encode("utf-8"),
            {"Content-Type": "application/json", "Authorization": auth})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def rpc(self, method, *params, timeout=30, **named):
        """The result of one call; an error answer fails the test."""
        answer = self.call(method, *params, timeout=timeout, **named)
        assert "error" not in answer, answer
        return answer["result"]


def ini_with(text, section, values):
    """``text`` with ``values`` set in ``[section]``.

    An earlier value of a key (with its continuation lines) is replaced;
    a value holding newlines becomes a continued value.
    """
    if not values:
        return text
    lines = text.splitlines()
    start = lines.index("[%s]" % section) + 1
    end = next((at for at in range(start, len(lines))
                if lines[at].startswith("[")), len(lines))
    body = lines[start:end]
    for key in values:
        pattern = re.compile(r"%s\s*=" % re.escape(key))
        kept, skipping = [], False
        for line in body:
            if pattern.match(line):
                skipping = True
                continue
            if skipping and line[:1] in (" ", "\t") and line.strip():
                continue
            skipping = False
            kept.append(line)
        body = kept
    added = []
    for key, value in values.items():
        value = str(value)
        if "\n" in value:
            added.append("%s =\n%s" % (key, "\n".join(
                "    " + part for part in value.splitlines())))
        else:
            added.append("%s = %s" % (key, value))
    return "\n".join(lines[:start] + added + body + lines[end:]) + "\n"


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    """One real daemon from testing.ini for the session (embedded Mongo)."""
    daemon = Daemon(tmp_path_factory.mktemp("daemon")).start()
    yield daemon
    daemon.stop()
