"""Running one spider of an installed package, to the end or until stopped.

A spider runs as a child process in its own session (so its process group
can be signalled whole), with a log file, a JSON-lines items feed, a
stats file and a file for whatever it writes to stdout and stderr. Two
ways start it:

* through the package's fork server (``bin/crawl-server``): a process
  that has imported Scrapy and the package's spiders once and forks a
  ready child per run, so a run starts in tens of milliseconds instead of
  the second a fresh ``bin/crawl`` spends importing. The runner starts one
  server per install when first needed and keeps it; the server's stdin
  is a pipe from this daemon, so it goes (and ends its children) when the
  daemon goes, even by ``kill -9``;
* ``bin/crawl``, when the package has no fork server or it cannot start.

Stopping (a cancel, a shutdown, a timeout) sends SIGTERM to the spider's
process group, which lets Scrapy close the spider cleanly, and SIGKILL to
the group ``s01.spiders.stop_grace`` seconds later if anything is left.

A run whose files have no room (less than ``MIN_FREE_BYTES`` free where
they go) does not start: a spider that cannot write its log or stderr
fails with nothing to say why. A failed run checks again, and says so.
"""
import contextlib
import dataclasses
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from zope.interface import implementer

from s01.worker.exceptions import StepFailed
from s01.worker.interfaces import ISpiderRunner
from s01.worker.packages.process import program_env

log = logging.getLogger(__name__)

SERVER_START_TIMEOUT = 120.0
# Run a program so that Linux kills it when the thread that started it
# dies (a daemon killed with SIGKILL leaves no spider behind).
DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "try:\n"
    "    ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"
    "except (OSError, AttributeError):\n"
    "    pass\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n")
SOCKET_NAME = "crawl.sock"
MIN_FREE_BYTES = 1024 * 1024


@dataclasses.dataclass
class SpiderResult:
    """How a run ended: exit code, Scrapy's stats, the end of stderr."""

    code: int
    stats: dict
    stderr: str
    seconds: float
    pid: int
    stopped: str = None
    files: dict = None
    # What went wrong around the spider (a full disk), if we know.
    problem: str = None

    @property
    def finish_reason(self):
        return self.stats.get("finish_reason")

    def output(self):
        """The ``output`` of a RunSpider job or a runSpider answer."""
        stats = self.stats
        answer = {
            "code": self.code,
            "status": self.code == 0,
            "error": "" if self.code == 0 else (
                self.stderr or self.problem or ""),
            "stats": stats,
            "finishReason": stats.get("finish_reason"),
            "items": stats.get("item_scraped_count", 0),
            "pages": stats.get("response_received_count", 0),
            "errors": stats.get("log_count/ERROR", 0),
            "seconds": round(self.seconds, 3),
            "stderr": self.stderr,
        }
        if self.problem:
            answer["problem"] = self.problem
        if self.stopped:
            answer["stopped"] = self.stopped
        if self.files:
            answer["files"] = self.files
        return answer


class ForkServer:
    """One running ``bin/crawl-server`` of one install."""

    def __init__(self, install_path, runtime_dir):
        self.install_path = install_path
        self.program = os.path.join(install_path, "bin", "crawl-server")
        self.socket_path = os.path.join(runtime_dir, SOCKET_NAME)
        self.runtime_dir = runtime_dir
        self.process = None

    @property
    def available(self):
        return os.access(self.program, os.X_OK)

    def alive(self):
        return self.process is not None and self.process.poll() is None \
            and os.path.exists(self.socket_path)

    def start(self):
        """Start the server and wait until it listens."""
        os.makedirs(self.runtime_dir, mode=0o700, exist_ok=True)
        errors = open(os.path.join(self.runtime_dir, "server.log"), "ab")
        started = time.monotonic()
        try:
            self.process = subprocess.Popen(
                [self.program, "--socket", self.socket_path],
                cwd=self.install_path, env=program_env(),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=errors, start_new_session=True)
        finally:
            errors.close()
        line = _read_line_within(self.process.stdout, SERVER_START_TIMEOUT)
        try:
            ready = json.loads(line)
        except ValueError:
            self.stop()
            raise StepFailed("crawl", "bin/crawl-server did not start; see "
                             "%s/server.log" % self.runtime_dir) from None
        log.info("fork server ready path=%s pid=%s secs=%.2f",
                 self.install_path, ready.get("pid"),
                 time.monotonic() - started)
        return self

    def submit(self, request):
        """Ask for one run; return the connection and the child's pid."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(30.0)
        try:
            conn.connect(self.socket_path)
            conn.sendall(json.dumps(request).encode("utf-8") + b"\n")
            reader = conn.makefile("rb")
            answer = json.loads(reader.readline() or b"{}")
        except (OSError, ValueError) as exc:
            conn.close()
            raise StepFailed("crawl", "fork server did not take the run: "
                             "%s" % exc) from exc
        if "pid" not in answer:
            conn.close()
            raise StepFailed("crawl", "fork server refused the run: %s"
                             % answer.get("error", answer))
        conn.settimeout(None)
        return conn, reader, answer["pid"]

    def stop(self):
        process, self.process = self.process, None
        if process is None:
            return
        # Closing its stdin is how it learns that we are gone.
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(OSError):
            process.stdout.close()


@implementer(ISpiderRunner)
class SpiderRunner:
    """Run spiders of installed packages; keep their fork servers."""

    def __init__(self, settings):
        self.settings = settings
        self.runtime_dir = os.path.join(settings["s01.var.dir"], "run")
        self._servers = {}
        self._lock = threading.Lock()

    def run(self, record, spider, args=None, settings=None, files=None,
            on_start=None, stopping=None, timeout=None):
        """Run ``spider`` of the install ``record`` to its end.

        ``files`` names the ``log``, ``items``, ``stats`` and ``stderr``
        paths; missing ones are temporary files removed afterwards.
        ``on_start(pid)`` is called once the child runs. Setting the
        ``stopping`` event stops the run (its ``reason`` attribute, if
        any, is recorded); so does ``timeout`` seconds passing.
        """
        started = time.monotonic()
        with self._files(files) as paths:
            problem = _space_problem(paths)
            if problem:
                raise StepFailed("crawl", problem)
            request = {"spider": spider, "args": dict(args or {}),
                       "settings": dict(settings or {}),
                       "logfile": paths["log"], "items": paths["items"],
                       "stats": paths["stats"], "stderr": paths["stderr"]}
            server = self._server_for(record["path"])
            if server is not None:
                conn, reader, pid = server.submit(request)
                waiter = _SocketWaiter(conn, reader)
            else:
                child = self._start_crawl(record["path"], request)
                pid, waiter = child.pid, _ProcessWaiter(child)
            log.info("spider started pkg=%s spider=%s pid=%s forked=%s",
                     record["pkgName"], spider, pid, server is not None)
            if on_start is not None:
                on_start(pid)

            code, stopped = self._wait(pid, waiter, stopping, timeout)
            result = SpiderResult(
                code=code, stats=_read_stats(paths["stats"]),
                stderr=_tail(paths["stderr"],
                             self.settings["s01.spiders.stderr_limit"]),
                seconds=time.monotonic() - started, pid=pid,
                stopped=stopped,
                files={k: v for k, v in (files or {}).items() if v},
                problem=_space_problem(paths) if code != 0 else None)
        log.info("spider finished pkg=%s spider=%s pid=%s code=%s "
                 "reason=%s items=%s secs=%.2f", record["pkgName"], spider,
                 pid, code, result.finish_reason,
                 result.stats.get("item_scraped_count", 0), result.seconds)
        return result

    def stop_servers(self, install_path=None):
        """Stop the fork servers (of one install, or all)."""
        with self._lock:
            paths = [install_path] if install_path else list(self._servers)
            servers = [self._servers.pop(p) for p in paths
                       if p in self._servers]
        for server in servers:
            server.stop()

    # Starting.

    def _server_for(self, install_path):
        """The install's running fork server, started if needed; None if
        it has none or it cannot start."""
        with self._lock:
            server = self._servers.get(install_path)
            if server is not None and server.alive():
                return server
            if server is not None:
                server.stop()
            key = str(abs(hash(install_path)))
            server = ForkServer(install_path,
                                os.path.join(self.runtime_dir, key))
            if not server.available:
                return None
            try:
                server.start()
            except (OSError, StepFailed) as exc:
                log.warning("fork server unavailable path=%s error=%s",
                            install_path, exc)
                return None
            self._servers[install_path] = server
            return server

    def _start_crawl(self, install_path, request):
        argv = [os.path.join(install_path, "bin", "crawl"),
                request["spider"]]
        for name, value in request["args"].items():
            argv += ["-a", "%s=%s" % (name, value)]
        for name, value in request["settings"].items():
            text = value if isinstance(value, str) else json.dumps(value)
            argv += ["-s", "%s=%s" % (name, text)]
        argv += ["--logfile", request["logfile"], "--items",
                 request["items"], "--stats", request["stats"]]
        with open(request["stderr"], "ab") as errors:
            return subprocess.Popen(
                [sys.executable, "-c", DIE_WITH_PARENT] + argv,
                cwd=install_path, env=program_env(),
                stdin=subprocess.DEVNULL, stdout=errors, stderr=errors,
                start_new_session=True)

    # Waiting and stopping.

    def _wait(self, pid, waiter, stopping, timeout):
        """Wait for the exit code; stop the group when asked or late."""
        deadline = time.monotonic() + timeout if timeout else None
        grace = self.settings["s01.spiders.stop_grace"]
        stopped = None
        kill_at = None
        while True:
            code = waiter.poll(0.2)
            if code is not None:
                return code, stopped
            now = time.monotonic()
            if stopped is None:
                if stopping is not None and stopping.is_set():
                    stopped = getattr(stopping, "reason", None) or "stopped"
                elif deadline is not None and now > deadline:
                    stopped = "timeout"
                if stopped == "lost":
                    # The job is no longer ours: another daemon may run it
                    # any moment, so no grace.
                    log.warning("spider killed pid=%s reason=lost", pid)
                    _signal_group(pid, signal.SIGKILL)
                elif stopped is not None:
                    log.info("spider stopping pid=%s reason=%s", pid,
                             stopped)
                    _signal_group(pid, signal.SIGTERM)
                    kill_at = now + grace
            elif kill_at is not None and now > kill_at:
                log.warning("spider ignored SIGTERM pid=%s; killing its "
                            "group", pid)
                _signal_group(pid, signal.SIGKILL)
                kill_at = None

    @contextlib.contextmanager
    def _files(self, files):
        files = dict(files or {})
        scratch = None
        paths = {}
        try:
            for name, suffix in (("log", ".log"), ("items", ".jl"),
                                 ("stats", ".stats.json"),
                                 ("stderr", ".stderr")):
                if files.get(name):
                    os.makedirs(os.path.dirname(files[name]), exist_ok=True)
                    paths[name] = files[name]
                    continue
                if scratch is None:
                    os.makedirs(self.runtime_dir, exist_ok=True)
                    scratch = tempfile.mkdtemp(prefix="spider-",
                                               dir=self.runtime_dir)
                paths[name] = os.path.join(scratch, "run" + suffix)
            yield paths
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)


class _SocketWaiter:
    """The exit code as the fork server reports it on the connection."""

    def __init__(self, conn, reader):
        self.conn = conn
        self.reader = reader
        self.selector = selectors.DefaultSelector()
        self.selector.register(conn, selectors.EVENT_READ)

    def poll(self, timeout):
        if not self.selector.select(timeout):
            return None
        line = self.reader.readline()
        self.selector.close()
        self.conn.close()
        try:
            return int(json.loads(line)["exit"])
        except (ValueError, KeyError, TypeError):
            # The server went away before its child: the child was ended
            # with it (see the module doc), so the run failed.
            return -1


class _ProcessWaiter:
    def __init__(self, process):
        self.process = process

    def poll(self, timeout):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def _space_problem(paths):
    """What says a run's files have no room, or None."""
    for folder in sorted({os.path.dirname(p) for p in paths.values()}):
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            continue
        if free < MIN_FREE_BYTES:
            return ("No space left on device: %s has %d bytes free, a run "
                    "needs %d for its log and output" % (
                        folder, free, MIN_FREE_BYTES))
    return None


def _signal_group(pid, signum):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _read_line_within(stream, timeout):
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    try:
        if not selector.select(timeout):
            return b""
        return stream.readline()
    finally:
        selector.close()


def _read_stats(path):
    try:
        with open(path, encoding="utf-8") as f:
            stats = json.load(f)
    except (OSError, ValueError):
        return {}
    return stats if isinstance(stats, dict) else {}


def _tail(path, limit):
    """The last ``limit`` characters of a text file ('' if none)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            f.seek(max(0, size - limit * 4))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return text[-limit:]
