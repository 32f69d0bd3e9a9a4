"""The embedded MongoDB-wire server: SecantusDB as a child process.

No mongod can be installed on the machines we develop and test on, so the
development and test default (``s01.mongo.uri = embedded``) starts
SecantusDB, a MongoDB-wire server on WiredTiger from PyPI, on a free
loopback port with its data under ``var/``. It is the only candidate we
measured that behaves like mongod (transactions, error codes, atomic
conditional updates). Production points ``s01.mongo.uri`` at a real mongod
or replica set instead; nothing else in s01.worker knows which server runs.

Several daemons on one machine may share one embedded server: the daemon
that starts it holds a lock beside the data folder and writes the server's
URI there; another daemon configured with the same folder finds the lock
held and connects to that server instead of starting a second one.

A daemon killed with SIGKILL leaves its server running, and whoever takes
the lock next adopts it. The dead daemon may have left MongoDB
transactions open: SecantusDB (0.7.0b3, measured) keeps their documents
locked until a transactional command happens to find them past their 60 s
lifetime, and meanwhile any other write to them, or dropping their
database, waits for ever with one of the server's threads spinning. So
the adopter aborts every open transaction first (``killAllSessions``);
daemons that share the server and had one open just retry it.

Known limitations: the server is a separate program (GPL-2.0) that we run,
not link; a full disk makes it fail every operation until restarted, so we
refuse to start it below a free-space margin.
"""
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pymongo
import pymongo.errors

from s01.worker.exceptions import ConfigurationError

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0
STOP_GRACE = 10.0


def find_free_port(host="127.0.0.1"):
    """Return a TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmbeddedMongo:
    """Start, wait for and stop one SecantusDB server process."""

    def __init__(self, data_dir, log_path=None, host="127.0.0.1", port=None,
                 min_free_mb=200):
        self.data_dir = data_dir
        self.log_path = log_path
        self.host = host
        self.port = port
        self.min_free_mb = min_free_mb
        self.process = None
        self.owner = False
        self.orphan_pid = None
        self._log_file = None
        self._lock_file = None

    @property
    def uri(self):
        return "mongodb://%s:%d/?directConnection=true" % (self.host,
                                                          self.port)

    def check(self):
        """Fail with a clear message where the server would crash."""
        if self.data_dir == ":memory:":
            return
        os.makedirs(self.data_dir, exist_ok=True)
        if not os.access(self.data_dir, os.W_OK):
            raise ConfigurationError(
                "s01.mongo.embedded.dir: %s is not writable" % self.data_dir)
        free_mb = shutil.disk_usage(self.data_dir).free // (1024 * 1024)
        if free_mb < self.min_free_mb:
            raise ConfigurationError(
                "s01.mongo.embedded.dir: only %d MB free at %s, below the "
                "margin of %d MB (s01.mongo.embedded.min_free_mb)"
                % (free_mb, self.data_dir, self.min_free_mb))

    def start(self, timeout=START_TIMEOUT):
        """Start the server (or join the one another daemon started) and
        return once it answers a ping."""
        self.check()
        if not self._take_lock(timeout):
            return self
        self.owner = True
        if self.orphan_pid is not None:
            return self
        if self.port is None:
            self.port = find_free_port(self.host)
        argv = [sys.executable, "-m", "secantus", "--host", self.host,
                "--port", str(self.port), "--storage-path", self.data_dir,
                "--log-level", "WARNING"]
        if self.log_path:
            os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
            self._log_file = open(self.log_path, "ab")
        out = self._log_file or subprocess.DEVNULL

        # Its own session: a Ctrl-C meant for the daemon must not kill the
        # database before the daemon has stopped using it. Our sys.path
        # goes along: in a buildout, sys.executable is a bare python that
        # finds SecantusDB only through the path the script set up.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in sys.path if p))
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            env=env, start_new_session=True)
        log.info("embedded mongo starting pid=%s port=%s dir=%s",
                 self.process.pid, self.port, self.data_dir)
        self._wait_until_ready(timeout)
        if self.data_dir != ":memory:":
            # Other daemons configured with this folder join this server.
            with open(self.data_dir + ".uri", "w") as f:
                json.dump({"uri": self.uri, "pid": self.process.pid}, f)
        return self

    def _take_lock(self, timeout):
        """Lock the data folder; False if a live server there was joined.

        The lock is held by the daemon that runs the server; one that is
        still shutting down holds it a few seconds more, so we wait for it
        before giving up.
        """
        if self.data_dir == ":memory:":
            return True
        self._lock_file = open(self.data_dir + ".lock", "a+")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            else:
                self._adopt_orphan()
                return True
            uri = self._running_uri()
            if uri is not None:
                self._lock_file.close()
                self._lock_file = None
                self.host, self.port = _host_port_of(uri)
                log.info("embedded mongo shared port=%s dir=%s", self.port,
                         self.data_dir)
                return False
            if time.monotonic() > deadline:
                raise ConfigurationError(
                    "s01.mongo.embedded.dir: %s is locked by another "
                    "process whose server does not answer" % self.data_dir)
            time.sleep(0.2)

    def _adopt_orphan(self):
        """Take over a server left running by a daemon that was killed.

        A daemon ended by SIGKILL cannot stop its server; the server keeps
        the data folder busy. Whoever holds the lock next adopts it.
        """
        uri = self._running_uri()
        if uri is None:
            return
        self.host, self.port = _host_port_of(uri)
        self.orphan_pid = self._recorded()[1]
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=2000)
        try:
            client.admin.command("killAllSessions", [])
        except pymongo.errors.PyMongoError as exc:
            # A server that refuses it has no such leftovers to clear.
            log.warning("embedded mongo sessions not cleared error=%s", exc)
        finally:
            client.close()
        log.warning("embedded mongo adopted pid=%s port=%s dir=%s "
                    "(open transactions aborted)", self.orphan_pid,
                    self.port, self.data_dir)

    def _recorded(self):
        """The (uri, pid) the last owner recorded, or (None, None)."""
        try:
            with open(self.data_dir + ".uri") as f:
                info = json.load(f)
            return info["uri"], int(info["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None, None

    def _running_uri(self):
        """The URI of the server another daemon runs here, if it answers."""
        uri = self._recorded()[0]
        if uri is None:
            return None
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)
        try:
            client.admin.command("ping")
            return uri
        except pymongo.errors.PyMongoError:
            return None
        finally:
            client.close()

    def _wait_until_ready(self, timeout):
        deadline = time.monotonic() + timeout
        client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=500,
                                     connectTimeoutMS=500)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ConfigurationError(
                        "embedded mongo exited with code %s at start; see "
                        "%s" % (self.process.returncode, self.log_path))
                try:
                    client.admin.command("ping")
                    log.info("embedded mongo ready port=%s", self.port)
                    return
                except pymongo.errors.PyMongoError:
                    time.sleep(0.1)
        finally:
            client.close()
        self.stop()
        raise ConfigurationError(
            "embedded mongo did not answer within %.0f s" % timeout)

    def stop(self, grace=STOP_GRACE):
        """Stop the server: SIGTERM, then SIGKILL after ``grace`` seconds."""
        process, self.process = self.process, None
        if self.orphan_pid is not None:
            _stop_pid(self.orphan_pid, grace)
            self.orphan_pid = None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                log.warning("embedded mongo ignored SIGTERM pid=%s; killing",
                            process.pid)
                process.kill()
                process.wait()
            log.info("embedded mongo stopped pid=%s", process.pid)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def _stop_pid(pid, grace):
    """SIGTERM a process we did not start, then SIGKILL it after grace."""
    deadline = time.monotonic() + grace
    sig = signal.SIGTERM
    while True:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            sig = signal.SIGKILL
        time.sleep(0.1)


def _host_port_of(uri):
    netloc = uri.split("//", 1)[1].split("/", 1)[0]
    host, _, port = netloc.rpartition(":")
    return host, int(port)
