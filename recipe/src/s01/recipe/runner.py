"""What the scripts of a spider package run: list, crawl, serve, scrapy.

The scripts that the ``s01.worker`` recipe generates call one function of
this module with the path of ``parts/settings/default.cfg``. The module
imports only the standard library and, inside the functions, Scrapy: it runs
in the spider package's own environment, beside the package's eggs, and
must not bring anything of the daemon there.

``default.cfg`` looks like this::

    [scrapy]
    settings_module = s01.demo.settings
    part = crawl

    [settings]
    CONCURRENT_REQUESTS = 8

Settings are applied in this order, later wins: Scrapy's defaults, the
settings module, the ``[settings]`` lines, the settings of the run
(``-s NAME=VALUE`` or a request's ``settings``), and last what the runner
itself owns for the run (log file and level, items feed, ``LOG_STDOUT``
when listing).

A setting's text becomes a value by one rule (see ``parse_value``): text
that reads as JSON is that JSON value (``16``, ``0.5``, ``true``, ``null``,
``"16"``, ``["a", "b"]``, ``{"a": 1}``); ``True``, ``False`` and ``None``
are Python's; anything else is the text itself, blanks around it dropped.

Exit codes of ``bin/crawl`` and of a fork server's children: 0 when the
spider closed with a finish reason of ``SUCCESS_REASONS``, 1 for any other
ending (an error, a shutdown signal, a spider that never opened), 2 for an
unknown spider or bad arguments.
"""
import argparse
import configparser
import contextlib
import datetime
import json
import logging
import os
import selectors
import signal
import socket
import stat
import sys
import time
import traceback

log = logging.getLogger("s01.recipe.runner")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# A limit the caller set on purpose ends the run as planned; an error count
# limit (closespider_errorcount) or a shutdown signal does not.
SUCCESS_REASONS = frozenset(
    {
        "finished",
        "closespider_itemcount",
        "closespider_pagecount",
        "closespider_timeout",
    }
)

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")

# Requests to the fork server: one JSON line, at most this long.
MAX_REQUEST_BYTES = 1024 * 1024
REQUEST_TIMEOUT = 10.0

# How often the fork server checks its socket file and reaps as a fallback.
SERVER_TICK = 0.5

# When the server stops, how long its children get after SIGTERM.
CHILD_GRACE = 5.0
PR_SET_PDEATHSIG = 1

# Settings that name classes Scrapy loads when a crawl starts; the fork
# server imports them before forking so that no child pays for them.
COMPONENT_DICTS = (
    "ADDONS",
    "DOWNLOAD_HANDLERS_BASE",
    "DOWNLOAD_HANDLERS",
    "DOWNLOADER_MIDDLEWARES_BASE",
    "DOWNLOADER_MIDDLEWARES",
    "EXTENSIONS_BASE",
    "EXTENSIONS",
    "FEED_EXPORTERS_BASE",
    "FEED_STORAGES_BASE",
    "ITEM_PIPELINES_BASE",
    "ITEM_PIPELINES",
    "SPIDER_MIDDLEWARES_BASE",
    "SPIDER_MIDDLEWARES",
)
COMPONENT_NAMES = (
    "DOWNLOADER",
    "DUPEFILTER_CLASS",
    "ITEM_PROCESSOR",
    "LOG_FORMATTER",
    "REQUEST_FINGERPRINTER_CLASS",
    "SCHEDULER",
    "SCHEDULER_DISK_QUEUE",
    "SCHEDULER_MEMORY_QUEUE",
    "SCHEDULER_PRIORITY_QUEUE",
    "SPIDER_LOADER_CLASS",
    "STATS_CLASS",
    "TWISTED_DNS_RESOLVER",
    "TWISTED_REACTOR",
)
PRELOAD_MODULES = (
    "scrapy.crawler",
    "scrapy.core.engine",
    "scrapy.core.scraper",
    "scrapy.utils.reactor",
    "twisted.internet.asyncioreactor",
)


class UsageError(Exception):
    """Raised when a command line or a request is not what we accept."""


class Job:
    """One crawl: which spider, with what, writing where."""

    def __init__(self, spider, args=None, settings=None, logfile=None,
                 items=None, stats=None, loglevel=None):
        self.spider = spider
        self.args = dict(args or {})
        self.settings = dict(settings or {})
        self.logfile = logfile
        self.items = items
        self.stats = stats
        self.loglevel = loglevel

    def __repr__(self):
        return "<Job spider=%r args=%r settings=%r>" % (
            self.spider, self.args, self.settings)


# --- settings ----------------------------------------------------------


def parse_value(text):
    """Turn a setting's text into a value (the rule is in the module doc)."""
    text = text.strip()
    python = {"True": True, "False": False, "None": None}
    if text in python:
        return python[text]
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        return text


def _refuse_constant(name):
    # NaN and Infinity are JSON to Python's parser only; keep them as text.
    raise ValueError(name)


def parse_assignment(text, option):
    """Split ``NAME=VALUE`` into its parts; raise UsageError if it is not."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError("%s %r is not NAME=VALUE" % (option, text))
    return name, value


def read_config(settings_path):
    """Read default.cfg: the settings module and the override lines."""
    config = configparser.ConfigParser(interpolation=None)
    config.optionxform = str
    with open(settings_path, encoding="utf-8") as f:
        config.read_file(f)
    module = config.get("scrapy", "settings_module", fallback="").strip()
    overrides = {}
    if config.has_section("settings"):
        overrides = {
            name: parse_value(text)
            for name, text in config.items("settings")
        }
    return module, overrides


def load_settings(settings_path, overrides=None):
    """Scrapy settings for the package, with a run's overrides on top."""
    from scrapy.settings import Settings

    module, package_overrides = read_config(settings_path)
    settings = Settings()

    # Spider code that calls get_project_settings() finds the same module.
    if module:
        os.environ["SCRAPY_SETTINGS_MODULE"] = module
        settings.setmodule(module, priority="project")
    settings.setdict(package_overrides, priority="project")
    settings.setdict(overrides or {}, priority="cmdline")
    return settings


def get_spider_loader(settings):
    """The project's spider loader; this imports every spider module."""
    from scrapy.utils.misc import load_object

    loader_class = load_object(settings["SPIDER_LOADER_CLASS"])
    return loader_class.from_settings(settings.frozencopy())


# --- bin/list ----------------------------------------------------------


def list_main(settings_path):
    """Print the spider names, sorted, one a line; nothing else on stdout."""

    # Whatever the spider modules print or log while they are imported goes
    # to stderr: the daemon reads the names from stdout (C13).
    with _stdout_to_stderr():
        try:
            from scrapy.utils.log import configure_logging

            settings = load_settings(settings_path)
            settings.set("LOG_STDOUT", False, priority="cmdline")
            configure_logging(settings)
            names = sorted(get_spider_loader(settings).list())
        except Exception:
            # A boundary: the whole traceback is the answer the caller needs.
            traceback.print_exc()
            return EXIT_FAILED

    for name in names:
        sys.stdout.write(name + "\n")
    sys.stdout.flush()
    return EXIT_OK


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send stdout to stderr for the block: sys.stdout and descriptor 1."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


# --- bin/crawl ---------------------------------------------------------


class _ArgumentParser(argparse.ArgumentParser):
    """An argparse parser that raises UsageError instead of exiting."""

    def error(self, message):
        raise UsageError(message)


def make_crawl_parser(prog="crawl"):
    parser = _ArgumentParser(
        prog=prog,
        description="Run one spider of this package in this process.",
    )
    parser.add_argument("spider", help="the spider's name (see bin/list)")
    parser.add_argument(
        "-a", dest="args", action="append", default=[],
        metavar="NAME=VALUE", help="a spider argument (repeatable)")
    parser.add_argument(
        "-s", dest="settings", action="append", default=[],
        metavar="NAME=VALUE", help="a Scrapy setting (repeatable)")
    parser.add_argument("--logfile", help="write the log here")
    parser.add_argument("--items", help="write items here as JSON lines")
    parser.add_argument("--stats", help="write the final stats here as JSON")
    parser.add_argument(
        "--loglevel", type=str.upper, choices=LOG_LEVELS,
        help="the log level (default: the package's LOG_LEVEL)")
    return parser


def parse_crawl_args(argv, prog="crawl"):
    """Turn bin/crawl's arguments into a Job; raise UsageError if bad."""
    ns = make_crawl_parser(prog).parse_args(argv)

    # Spider arguments stay text, as with `scrapy crawl -a`; settings take
    # the parse_value rule.
    args = dict(parse_assignment(text, "-a") for text in ns.args)
    settings = {}
    for text in ns.settings:
        name, value = parse_assignment(text, "-s")
        settings[name] = parse_value(value)
    return Job(ns.spider, args, settings, logfile=ns.logfile,
               items=ns.items, stats=ns.stats, loglevel=ns.loglevel)


def crawl_main(settings_path, argv=None):
    """bin/crawl: run one spider in this process; answer the exit code."""
    prog = os.path.basename(sys.argv[0]) or "crawl"
    try:
        job = parse_crawl_args(sys.argv[1:] if argv is None else argv, prog)
    except UsageError as exc:
        make_crawl_parser(prog).print_usage(sys.stderr)
        print("%s: error: %s" % (prog, exc), file=sys.stderr)
        return EXIT_USAGE
    return run_crawl(settings_path, job)


def run_crawl(settings_path, job):
    """Run a Job with CrawlerProcess until it ends; answer the exit code.

    bin/crawl and the fork server's children both come here.
    """
    from scrapy.crawler import CrawlerProcess

    # The run's settings, then what the runner owns for this run.
    settings = load_settings(settings_path, job.settings)
    if job.logfile:
        settings.set("LOG_FILE", job.logfile, priority="cmdline")
    if job.loglevel:
        settings.set("LOG_LEVEL", job.loglevel, priority="cmdline")
    if job.items:
        feed = {"format": "jsonlines", "overwrite": True,
                "encoding": "utf-8"}
        settings.set("FEEDS", {os.path.abspath(job.items): feed},
                     priority="cmdline")

    # Check the name before Scrapy starts, so a typo gets a short answer.
    known = sorted(get_spider_loader(settings).list())
    if job.spider not in known:
        print("unknown spider %r (known: %s)"
              % (job.spider, ", ".join(known) or "none"), file=sys.stderr)
        return EXIT_USAGE

    # CrawlerProcess handles SIGTERM and SIGINT: the first one closes the
    # spider gracefully (finish_reason "shutdown"), a second one forces.
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(job.spider)
    deferred = process.crawl(crawler, **job.args)
    deferred.addErrback(_log_crawl_failure, job.spider)
    process.start()

    stats = _crawler_stats(crawler)
    if job.stats:
        write_stats(job.stats, stats)
    return exit_code(stats)


def exit_code(stats):
    """0 if the stats say the spider ended as planned, 1 otherwise."""
    if stats.get("finish_reason") in SUCCESS_REASONS:
        return EXIT_OK
    return EXIT_FAILED


def _log_crawl_failure(failure, spider):
    # A spider that fails to start (bad arguments, a broken component) ends
    # here; its run has no finish reason and exits 1.
    log.error("crawl failed spider=%s", spider,
              exc_info=(failure.type, failure.value, failure.tb))


def _crawler_stats(crawler):
    """The crawler's final stats, or {} if it never got that far."""
    try:
        return dict(crawler.stats.get_stats())
    except Exception:
        # Scrapy sets crawler.stats only once the crawl starts; before that
        # there are no stats to report.
        return {}


def write_stats(path, stats):
    """Write stats as JSON (datetimes as ISO strings), atomically."""
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(stats, f, default=_json_default, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return str(value)


# --- bin/scrapy --------------------------------------------------------


def scrapy_main(settings_path, argv=None):
    """bin/scrapy: Scrapy's own command line with the package's settings."""
    from scrapy.cmdline import execute

    settings = load_settings(settings_path)
    execute(argv or sys.argv, settings=settings)
    return EXIT_OK


# --- bin/crawl-server --------------------------------------------------


def make_server_parser(prog="crawl-server"):
    parser = _ArgumentParser(
        prog=prog,
        description="Fork a ready process for each crawl request on a "
        "Unix socket. Exits when the socket file goes away, on SIGTERM or "
        "SIGINT, and when its standard input reaches end of file.",
    )
    parser.add_argument("--socket", required=True, help="the socket's path")
    return parser


def parse_request(line):
    """Turn one request line into a Job and its stderr path.

    The line is a JSON object: ``spider`` (required), ``args`` and
    ``settings`` (objects; values used as given, args turned to text),
    ``logfile``, ``items``, ``stats``, ``stderr`` (paths) and ``loglevel``.
    """
    try:
        request = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise UsageError("the request is not JSON: %s" % exc) from exc
    if not isinstance(request, dict):
        raise UsageError("the request is not a JSON object")
    unknown = sorted(set(request) - {
        "spider", "args", "settings", "logfile", "items", "stats", "stderr",
        "loglevel"})
    if unknown:
        raise UsageError("unknown request keys: %s" % ", ".join(unknown))

    spider = request.get("spider")
    if not isinstance(spider, str) or not spider:
        raise UsageError("spider must be a non-empty string")
    for key in ("args", "settings"):
        if not isinstance(request.get(key) or {}, dict):
            raise UsageError("%s must be an object" % key)
    for key in ("logfile", "items", "stats", "stderr", "loglevel"):
        if not isinstance(request.get(key) or "", str):
            raise UsageError("%s must be a string" % key)
    loglevel = (request.get("loglevel") or "").upper() or None
    if loglevel and loglevel not in LOG_LEVELS:
        raise UsageError("loglevel must be one of %s" % ", ".join(LOG_LEVELS))

    # Without a separate stderr file, stdout and stderr go to the log file
    # and Scrapy logs to stderr; with one, Scrapy writes the log file.
    args = {k: str(v) for k, v in (request.get("args") or {}).items()}
    stderr = request.get("stderr") or None
    logfile = request.get("logfile") or None
    job = Job(spider, args, request.get("settings"),
              logfile=logfile if stderr else None,
              items=request.get("items") or None,
              stats=request.get("stats") or None,
              loglevel=loglevel)
    return job, stderr or logfile


def serve_main(settings_path, argv=None):
    """bin/crawl-server --socket PATH: fork a crawl for each request.

    The protocol, one connection per crawl: the client sends one JSON line
    (see ``parse_request``); the server answers ``{"pid": N}`` at once, or
    ``{"error": "..."}`` for a bad request, and ``{"exit": CODE}`` when the
    child ends (CODE as bin/crawl's, or minus the signal that killed it),
    then closes. The child is in its own session, its stdin is /dev/null.

    On start the server imports Scrapy, the settings and every spider
    module, but installs no Twisted reactor, then binds the socket (mode
    0600) and prints one JSON line on stdout: ``{"socket", "pid",
    "spiders"}``. It stops when the socket file is removed or replaced, on
    SIGTERM or SIGINT, or when its stdin reaches end of file (start it with
    a pipe and keep the writing end: the server goes when its parent goes).
    Its children never outlive it: when it stops it sends SIGTERM to each
    child's session and SIGKILL after CHILD_GRACE seconds, and each child
    asks Linux to kill it should the server die without that.

    Paths in a request are taken relative to the server's working folder
    (the package's); give absolute ones.

    Known limitations: the server reads each request before it accepts the
    next connection, so a client that connects and sends nothing holds
    the others back for up to REQUEST_TIMEOUT seconds; the daemon, its only
    client, sends the line at once.
    """
    prog = os.path.basename(sys.argv[0]) or "crawl-server"
    try:
        ns = make_server_parser(prog).parse_args(
            sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print("%s: error: %s" % (prog, exc), file=sys.stderr)
        return EXIT_USAGE
    _setup_server_logging()

    try:
        spiders = preload(settings_path)
    except Exception:
        # A boundary: a broken package cannot be served; say why in full.
        traceback.print_exc()
        return EXIT_FAILED

    server = CrawlServer(settings_path, ns.socket)
    try:
        server.bind()
    except OSError as exc:
        log.error("cannot listen socket=%s error=%s", ns.socket, exc)
        return EXIT_FAILED
    print(json.dumps({"socket": ns.socket, "pid": os.getpid(),
                      "spiders": spiders}), flush=True)
    server.serve()
    return EXIT_OK


def _setup_server_logging():
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s [%(name)s] %(levelname)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def preload(settings_path):
    """Import what a crawl needs, without a reactor; answer the spiders."""
    import importlib

    from scrapy.utils.misc import load_object

    settings = load_settings(settings_path)
    spiders = sorted(get_spider_loader(settings).list())
    for name in PRELOAD_MODULES:
        importlib.import_module(name)

    # A component that fails to import here fails in the child too, where
    # the log shows it; the server need not.
    paths = [settings.get(name) for name in COMPONENT_NAMES]
    for name in COMPONENT_DICTS:
        components = settings.getdict(name)
        paths.extend(components)
        paths.extend(components.values())
    for path in paths:
        if isinstance(path, str) and "." in path:
            with contextlib.suppress(Exception):
                load_object(path)

    # Each child installs its own reactor; one installed here would be
    # shared by every child, with the wrong type and a shared poller.
    if "twisted.internet.reactor" in sys.modules:
        raise RuntimeError(
            "importing the package installed a Twisted reactor; "
            "run its spiders with bin/crawl instead")
    log.info("preloaded spiders=%s modules=%d", ",".join(spiders),
             len(sys.modules))
    return spiders


class CrawlServer:
    """The fork server's loop: one thread, a selector, no zombies."""

    def __init__(self, settings_path, socket_path):
        self.settings_path = settings_path
        self.socket_path = socket_path
        self.listener = None
        self.inode = None
        self.children = {}
        self.stopping = False
        self.stop_signal = None

    def bind(self):
        """Listen on the socket path, replacing a stale socket file."""
        _remove_stale_socket(self.socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self.socket_path)
            os.chmod(self.socket_path, 0o600)
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        self.listener = listener
        self.inode = os.stat(self.socket_path).st_ino

    def serve(self):
        """Answer requests until told to stop; then close, not kill."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        selector = selectors.DefaultSelector()
        self.fds = [wake_r, wake_w]
        self.selector = selector

        # Signals only wake the loop; the loop does the work.
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, _ignore_signal)
        signal.signal(signal.SIGTERM, self._stop_on_signal)
        signal.signal(signal.SIGINT, self._stop_on_signal)
        selector.register(wake_r, selectors.EVENT_READ, "wake")
        selector.register(self.listener, selectors.EVENT_READ, "accept")
        self._watch_stdin(selector)
        log.info("listening socket=%s pid=%s", self.socket_path, os.getpid())

        try:
            while not self.stopping:
                for key, _ in selector.select(SERVER_TICK):
                    if key.data == "wake":
                        _drain(wake_r)
                    elif key.data == "accept":
                        self._accept()
                    elif key.data == "stdin":
                        self._read_stdin(selector)
                self._reap()
                self._check_socket_file()
            if self.stop_signal:
                log.info("stopping reason=signal signal=%s", self.stop_signal)
        finally:
            self._close(selector)

    def _watch_stdin(self, selector):
        try:
            selector.register(0, selectors.EVENT_READ, "stdin")
        except (OSError, ValueError) as exc:
            # A regular file or /dev/null cannot tell us the parent died.
            log.warning("not watching stdin error=%s", exc)

    def _read_stdin(self, selector):
        try:
            data = os.read(0, 65536)
        except OSError:
            data = b""
        if not data:
            log.info("stopping reason=stdin-closed")
            selector.unregister(0)
            self.stopping = True

    def _stop_on_signal(self, signum, frame):
        # No logging here: the loop may be inside a log call; serve() says.
        self.stopping = True
        self.stop_signal = signal.Signals(signum).name

    def _check_socket_file(self):
        try:
            inode = os.stat(self.socket_path).st_ino
        except FileNotFoundError:
            inode = None
        if inode != self.inode:
            log.info("stopping reason=socket-file-gone socket=%s",
                     self.socket_path)
            self.inode = None
            self.stopping = True

    def _accept(self):
        """Read one request, fork its child, answer the pid."""
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        try:
            conn.settimeout(REQUEST_TIMEOUT)
            line = _read_line(conn)
            job, output = parse_request(line)
        except (OSError, UsageError) as exc:
            log.warning("bad request error=%s", exc)
            _send(conn, {"error": str(exc)})
            conn.close()
            return

        # Flush before forking, or the child would print our buffers again.
        sys.stdout.flush()
        sys.stderr.flush()
        session_r, session_w = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(session_r)
            os.close(session_w)
            log.error("fork failed spider=%s error=%s", job.spider, exc)
            _send(conn, {"error": "fork failed: %s" % exc})
            conn.close()
            return
        if pid == 0:
            os.close(session_r)
            self._run_child(conn, job, output, session_w)

        # Answer once the child leads its own session (it closes its end of
        # the pipe after setsid), so the client can signal the group -pid.
        os.close(session_w)
        os.read(session_r, 1)
        os.close(session_r)
        self.children[pid] = conn
        log.info("started pid=%s spider=%s", pid, job.spider)
        if not _send(conn, {"pid": pid}):
            log.warning("client gone pid=%s", pid)

    def _run_child(self, conn, job, output, session_w):
        """In the child: detach, redirect, crawl, exit; never return."""
        code = EXIT_FAILED
        try:
            os.setsid()
            _die_with_parent()
            os.close(session_w)
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            self._close_inherited(conn)
            _redirect_stdio(output)
            code = run_crawl(self.settings_path, job)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else EXIT_FAILED
        except BaseException:
            # The child's boundary: its log is the only place to say why.
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    def _close_inherited(self, conn):
        # The server's sockets and pipes stay with the server.
        log.handlers.clear()
        log.propagate = True
        self.selector.close()
        self.listener.close()
        conn.close()
        for other in self.children.values():
            other.close()
        for fd in self.fds:
            os.close(fd)

    def _reap(self):
        """Collect every child that ended and tell its client."""
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            conn = self.children.pop(pid, None)
            log.info("ended pid=%s exit=%s", pid, code)
            if conn is not None:
                _send(conn, {"exit": code})
                conn.close()

    def _close(self, selector):
        signal.set_wakeup_fd(-1)
        selector.close()
        self.listener.close()
        if self.inode is not None:
            with contextlib.suppress(OSError):
                if os.stat(self.socket_path).st_ino == self.inode:
                    os.unlink(self.socket_path)
        for fd in self.fds:
            os.close(fd)

        # Children never outlive their server: the daemon that asked for
        # them is gone or has stopped them already (see _end_children).
        self._end_children()
        log.info("stopped socket=%s", self.socket_path)

    def _end_children(self):
        """SIGTERM every child's session, SIGKILL what is left later."""
        if not self.children:
            return
        for pid in self.children:
            log.info("ending pid=%s", pid)
            _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + CHILD_GRACE
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in list(self.children):
            log.warning("killing pid=%s (still running after %.0f s)", pid,
                        CHILD_GRACE)
            _signal_group(pid, signal.SIGKILL)
        while self.children:
            self._reap()
            time.sleep(0.01)


def _signal_group(pid, signum):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _die_with_parent():
    """Ask Linux to SIGKILL this process when its parent dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG,
                                                signal.SIGKILL)
    except (OSError, AttributeError):
        # Not Linux: the server still ends its children when it stops.
        pass


def _ignore_signal(signum, frame):
    # A handler (not SIG_IGN) so SIGCHLD wakes the loop yet keeps zombies
    # for waitpid to collect with their exit status.
    pass


def _drain(fd):
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 512):
            pass


def _read_line(conn):
    """Read up to the first newline (or end of stream)."""
    chunks = []
    size = 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        newline = chunk.find(b"\n")
        if newline >= 0:
            chunks.append(chunk[:newline])
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise UsageError("the request is longer than %d bytes"
                             % MAX_REQUEST_BYTES)
    return b"".join(chunks).decode("utf-8", "replace")


def _send(conn, answer):
    """Write one JSON line; False if the client has gone."""
    try:
        conn.sendall(json.dumps(answer).encode("utf-8") + b"\n")
    except OSError:
        return False
    return True


def _remove_stale_socket(path):
    """Unlink a socket file nobody listens on; refuse anything else."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError("%s exists and is not a socket" % path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)
    else:
        raise FileExistsError("a server already listens on %s" % path)
    finally:
        probe.close()


def _redirect_stdio(output):
    """stdin from /dev/null; stdout and stderr to output when given."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if output:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
