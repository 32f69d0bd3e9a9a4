"""Dispatch speed: s01.worker against scrapyd 1.6.0, one workload, one run.

Usage::

    .venv/bin/python bench/bench_dispatch.py [--jobs 20] [--pages 10]
        [--slots 4] [--singles 5] [--scrapyd-polls 5,0.2] [--no-scrapyd]

What it does, in order:

1. builds the recipe and demo sdists into a local index, serves the
   local Python docs (``/usr/share/doc/python3.11/html``) from its own
   ``http.server`` process, and starts a real daemon (``pserve`` of a copy
   of testing.ini: ``--slots`` processor threads, autostart, the local
   index, per-job logs and items), which installs s01.demo;
2. single jobs, one at a time while every slot is free: one right after
   the install (the install's fork server starts with it), then
   ``--singles`` more;
3. a burst: ``--jobs`` RunSpider jobs of ``python.org`` queued one after
   the other as fast as one client can, each limited to ``--pages``
   pages (``CLOSESPIDER_PAGECOUNT``) and starting at the local docs;
4. the same on scrapyd 1.6.0 (its own virtualenv under ``--var``, with
   the Scrapy version the demo's buildout installed; the demo as a Scrapy
   project egg; ``max_proc`` = ``--slots``), once per poll interval of
   ``--scrapyd-polls`` (5 s is scrapyd's default);
5. prints one table.

Where the times come from. s01.worker: ``queued``, ``started`` and
``completed`` of the job documents (the database server's clock; the
embedded server runs on this machine). scrapyd: the client's clock when
``schedule.json`` answered stands for "queued" (scrapyd keeps no such
time), ``listjobs.json``'s ``start_time`` (the crawl process spawned) and
``end_time`` for the rest. "Started" means "claimed" for one and "process
spawned" for the other, so both also get the times of Scrapy's "Spider
opened" and "Spider closed" log lines, which every run writes to the
microsecond (``LOG_FORMAT``). "By the client" runs from sending the first
job to seeing the last one finished, polled every 0.1 s.

CPU seconds are read from ``/proc`` before and after the burst: the
spiders' (the children of the fork server, or of scrapyd), the rest of the
system under test (daemon, database, fork server; scrapyd's own), and the
docs server's. On a machine with few cores they bound the burst: no
dispatcher finishes the spiders' CPU seconds faster than the cores allow.

Nothing here asserts a timing: the figures are printed, with the load
average before each burst, for a person to judge. Shared eggs, downloads
and the scrapyd virtualenv stay under ``--var`` (default ``var/bench``), so
only the first run downloads Scrapy (twice: buildout eggs, scrapyd's venv).
"""
import argparse
import collections
import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
import zipfile
from pathlib import Path

import requests

# Pyramid still imports pkg_resources; its warning is no figure of ours.
warnings.filterwarnings("ignore", "pkg_resources is deprecated")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from s01.worker.client import JSONRPCProxy  # noqa: E402
from s01.worker.mongo.embedded import find_free_port  # noqa: E402
from s01.worker.testing.index import IndexServer  # noqa: E402
from s01.worker.testing.index import build_index  # noqa: E402
from s01.worker.testing.sdists import DEMO_SOURCE  # noqa: E402
from s01.worker.testing.sdists import IGNORED  # noqa: E402
from s01.worker.testing.sdists import build_demo_sdist  # noqa: E402
from s01.worker.testing.sdists import build_recipe_sdist  # noqa: E402
from tests.conftest import Daemon  # noqa: E402

DEMO = "s01.demo"
DEMO_VERSION = "0.17.0"
SPIDER = "python.org"
DOCS = Path(os.environ.get("S01_TEST_DOCS",
                           "/usr/share/doc/python3.11/html"))
PYPI_SIMPLE = "https://pypi.org/simple/"
SCRAPYD = "scrapyd==1.6.0"
SCRAPYD_PROJECT = "s01demo"
USER, PASSWORD = "mgr", "mgrpw"
NAMESPACE_INIT = "__path__ = __import__('pkgutil').extend_path(__path__, " \
    "__name__)\n"

# Every crawl writes its log lines with the time to the microsecond, so
# the spider's own start and end can be read from either system's logs.
LOG_FORMAT = "%(created).6f [%(name)s] %(levelname)s: %(message)s"
ENGINE_LINE = r"^(\d+\.\d+) \[scrapy\.core\.engine\] INFO: Spider %s"
OPENED = re.compile(ENGINE_LINE % "opened", re.M)
# The finish reasons the recipe's runner counts as success.
CLOSED = re.compile(ENGINE_LINE % (
    r"closed \((?:finished|closespider_(?:pagecount|itemcount|timeout))\)"),
    re.M)
POLL = 0.1
FINISHED = ("completed", "error", "cancelled")
JOB_TIMEOUT = 600.0

# One job's times in seconds since the epoch; opened and closed are None
# when its log lacks the line (closed: the spider did not close as planned,
# by a limit or at the end of the site).
Run = collections.namedtuple("Run", "queued started opened closed ended ok")


# The systems under test.

class S01Worker:
    """A real s01.worker daemon with s01.demo installed."""

    name = "s01.worker"
    spawner = "crawl-server"

    def __init__(self, work, shared, index, findlinks, slots):
        self.work = work
        self.logs = work / "logs"
        work.mkdir()
        overrides = {
            "s01.processor.threads": slots,
            "s01.processor.autostart": "true",
            "s01.index.url": index.simple_url,
            "s01.buildout.eggs_dir": shared / "eggs",
            "s01.buildout.download_cache": shared / "download-cache",
            "s01.buildout.wheelhouse": shared / "wheelhouse",
            "s01.buildout.find_links": findlinks,
            "s01.buildout.index": PYPI_SIMPLE,
            "s01.spiders.log_dir": self.logs,
            "s01.spiders.items_dir": work / "items",
        }
        self.daemon = Daemon(work, ini_with(overrides))
        self.proxy = None
        self.py = None

    @property
    def pid(self):
        return self.daemon.process.pid

    def start(self):
        self.daemon.start()
        self.proxy = JSONRPCProxy(self.daemon.rpc_url, USER, PASSWORD,
                                  timeout=900)
        return self

    def stop(self):
        if self.daemon.process is not None:
            self.daemon.stop()

    def install(self):
        started = time.monotonic()
        answer = self.proxy.addPackage(DEMO, DEMO_VERSION, None, None, False)
        if not answer["status"]:
            raise RuntimeError("install failed: %s" % answer["steps"][-1:])
        (record,) = [r for r in self.proxy.listPackages()
                     if r["pkgName"] == DEMO]
        self.py = record["pyVersion"]
        say("s01.demo installed in %.0f s" % (time.monotonic() - started))

    def scrapy_version(self):
        """The Scrapy version the demo's buildout put on its path."""
        crawl = (self.work / "var" / "packages" / DEMO / DEMO_VERSION /
                 self.py / "bin" / "crawl").read_text()
        return re.search(r"/Scrapy-([^-/]+)-py", crawl).group(1)

    def queue(self, start_url, settings):
        return self.proxy.startRunSpider(
            DEMO, DEMO_VERSION, self.py, SPIDER, {"start_url": start_url},
            settings)

    def wait(self, handles):
        pending = list(handles)
        deadline = time.monotonic() + JOB_TIMEOUT
        while pending:
            if self.proxy.getJobStatus(pending[0]) in FINISHED:
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise RuntimeError("jobs did not finish in time")
            time.sleep(POLL)
        return time.time()

    def run_of(self, job_id):
        doc = self.proxy.getJob(job_id)
        opened, closed = log_times(self.logs / (job_id + ".log"))
        return Run(epoch(doc["queued"]), epoch(doc["started"]), opened,
                   closed, epoch(doc["completed"]),
                   doc["status"] == "completed" and closed is not None)


def ini_with(overrides):
    """testing.ini's text with ``[app:main]`` settings set or added."""
    text = (ROOT / "testing.ini").read_text()
    for key, value in overrides.items():
        line = "%s = %s" % (key, value)
        pattern = re.compile(r"(?m)^%s = .*$" % re.escape(key))
        if pattern.search(text):
            text = pattern.sub(line.replace("\\", "\\\\"), text)
        else:
            text = text.replace("[app:main]\n", "[app:main]\n%s\n" % line, 1)
    return text


class Scrapyd:
    """scrapyd 1.6.0 in its own virtualenv, the demo deployed as an egg."""

    spawner = None

    def __init__(self, work, shared, slots, poll_interval):
        self.name = "scrapyd %gs" % poll_interval
        self.venv = shared / "scrapyd-venv"
        self.work = work / ("scrapyd-%g" % poll_interval)
        self.slots = slots
        self.poll_interval = poll_interval
        self.port = find_free_port()
        self.url = "http://127.0.0.1:%d/" % self.port
        self.process = None
        self.session = requests.Session()
        self.queued = {}

    @property
    def pid(self):
        return self.process.pid

    def ensure_venv(self, scrapy_version):
        """Create or update the virtualenv: scrapyd and that Scrapy."""
        python = self.venv / "bin" / "python"
        wanted = {"scrapyd": SCRAPYD.split("==")[1],
                  "Scrapy": scrapy_version}
        if python.exists():
            have = subprocess.run(
                [python, "-c", "import importlib.metadata as m, json; "
                 "print(json.dumps({n: m.version(n) for n in %r}))"
                 % sorted(wanted)], capture_output=True, text=True)
            if have.returncode == 0 and json.loads(have.stdout) == wanted:
                return
        else:
            subprocess.run([sys.executable, "-m", "venv", self.venv],
                           check=True)
        say("installing %s and Scrapy %s into %s" % (
            SCRAPYD, scrapy_version, self.venv))
        subprocess.run(
            [python, "-m", "pip", "install", "-q", SCRAPYD,
             "Scrapy==%s" % scrapy_version, "setuptools<82"],
            check=True, stdout=subprocess.DEVNULL)

    def build_egg(self, dest):
        """An egg of the demo with a ``scrapy`` settings entry point."""
        with tempfile.TemporaryDirectory(prefix="s01-egg-") as tmp:
            source = Path(tmp) / "src"
            shutil.copytree(DEMO_SOURCE, source, ignore=IGNORED)
            (source / "version.txt").write_text(DEMO_VERSION + "\n")
            (source / "setup.cfg").write_text(
                "[options.entry_points]\n"
                "scrapy =\n    settings = s01.demo.settings\n")
            subprocess.run(
                [self.venv / "bin" / "python", "setup.py", "-q",
                 "bdist_egg", "-d", dest], cwd=source, check=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (egg,) = Path(dest).glob("*.egg")

        # Zip imports find no implicit namespace package, so ``s01`` gets
        # an old-style one, in this egg only.
        with zipfile.ZipFile(egg, "a") as archive:
            archive.writestr("s01/__init__.py", NAMESPACE_INIT)
        return egg

    def start(self, egg):
        self.work.mkdir(parents=True)
        (self.work / "scrapyd.conf").write_text(
            "[scrapyd]\n"
            "bind_address = 127.0.0.1\n"
            "http_port = %d\n"
            "max_proc = %d\n"
            "poll_interval = %s\n"
            "eggs_dir = eggs\n"
            "logs_dir = logs\n"
            "items_dir = items\n"
            "dbs_dir = dbs\n"
            "jobs_to_keep = 1000\n"
            "finished_to_keep = 1000\n"
            % (self.port, self.slots, self.poll_interval))
        self.log = open(self.work / "scrapyd.log", "ab")
        self.process = subprocess.Popen(
            [self.venv / "bin" / "scrapyd"], cwd=self.work,
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(self.url + "daemonstatus.json", self.process)
        with open(egg, "rb") as f:
            answer = self.session.post(
                self.url + "addversion.json",
                data={"project": SCRAPYD_PROJECT, "version": DEMO_VERSION},
                files={"egg": f}).json()
        if answer.get("status") != "ok" or answer.get("spiders") != 1:
            raise RuntimeError("addversion failed: %s" % answer)
        return self

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return

        # scrapyd leaves running crawls behind when it stops (an
        # interrupted bench): end them too, by their pids.
        crawls = set(tree_of(self.pid)) - {self.pid}
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self.log.close()
        for pid in crawls:
            if "scrapyd.runner" in command_of(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def queue(self, start_url, settings):
        lines = ["%s=%s" % (name, value if isinstance(value, str)
                            else json.dumps(value))
                 for name, value in settings.items()]
        answer = self.session.post(self.url + "schedule.json", data={
            "project": SCRAPYD_PROJECT, "spider": SPIDER,
            "setting": lines, "start_url": start_url}).json()
        self.queued[answer["jobid"]] = time.time()
        return answer["jobid"]

    def wait(self, handles):
        deadline = time.monotonic() + JOB_TIMEOUT
        while True:
            answer = self.session.get(self.url + "listjobs.json", params={
                "project": SCRAPYD_PROJECT}).json()
            self.finished = {job["id"]: job for job in answer["finished"]}
            if all(job_id in self.finished for job_id in handles):
                return time.time()
            if time.monotonic() > deadline:
                raise RuntimeError("scrapyd jobs did not finish in time")
            time.sleep(POLL)

    def run_of(self, job_id):
        job = self.finished[job_id]
        opened, closed = log_times(self.work / "logs" / SCRAPYD_PROJECT /
                                   SPIDER / (job_id + ".log"))
        return Run(self.queued[job_id], epoch(job["start_time"], local=True),
                   opened, closed, epoch(job["end_time"], local=True),
                   closed is not None)


# Measuring.

class Figures:
    """What one system measured."""

    def __init__(self, name):
        self.name = name
        self.first = None
        self.singles = []
        self.burst = []
        self.span = None
        self.client_span = None
        self.cpu = None
        self.load = None

    @property
    def failed(self):
        runs = self.burst + self.singles + [self.first]
        return sum(not run.ok for run in runs if run is not None)


def measure(system, docs, settings, jobs, singles, profile=None):
    """Single jobs, then the burst, on a started system.

    With ``profile`` (a folder), py-spy samples the system's processes
    during the burst into a collapsed-stacks file there.
    """
    figures = Figures(system.name)

    # One job at a time, every slot free; the first starts s01.worker's
    # fork server, so it is kept apart.
    for number in range(singles + 1):
        job_id = system.queue(docs.start_url, settings)
        system.wait([job_id])
        run = system.run_of(job_id)
        if number == 0:
            figures.first = run
        else:
            figures.singles.append(run)

    # The burst, and the CPU seconds every process involved spent on it.
    figures.load = os.getloadavg()
    spy = start_profile(system, profile) if profile else None
    before = cpu_now(system, docs)
    sent = time.time()
    ids = [system.queue(docs.start_url, settings) for _ in range(jobs)]
    seen = system.wait(ids)
    figures.cpu = [b - a for a, b in zip(before, cpu_now(system, docs))]
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    figures.burst = [system.run_of(job_id) for job_id in ids]
    figures.span = max(r.ended for r in figures.burst) - min(
        r.queued for r in figures.burst)
    figures.client_span = seen - sent
    return figures


def start_profile(system, folder):
    """Start py-spy on the system's process tree; answer the process."""
    program = shutil.which("py-spy") or str(
        Path(sys.executable).parent / "py-spy")
    os.makedirs(folder, exist_ok=True)
    output = os.path.join(folder, system.name.replace(" ", "-") + ".txt")
    say("profiling into %s" % output)
    return subprocess.Popen(
        [program, "record", "--pid", str(system.pid), "--subprocesses",
         "--nonblocking", "--format", "raw", "--output", output],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cpu_now(system, docs):
    """(spiders, the rest of the system, docs server) CPU seconds."""
    total, spiders = cpu_seconds(system.pid, system.spawner)
    docs_total, _ = cpu_seconds(docs.process.pid)
    return spiders, total - spiders, docs_total


def crawl_settings(pages, extra=None):
    settings = {"CLOSESPIDER_PAGECOUNT": pages, "LOG_FORMAT": LOG_FORMAT}
    settings.update(extra or {})
    return settings


def parse_setting(text):
    """``NAME=VALUE`` of ``--setting``: the value as JSON if it parses."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("%r is not NAME=VALUE" % text)
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def log_times(logfile):
    """Epoch times of a crawl log's "Spider opened" and "closed" lines."""
    try:
        text = Path(logfile).read_text(errors="replace")
    except OSError:
        return None, None
    found = [pattern.search(text) for pattern in (OPENED, CLOSED)]
    return tuple(float(m.group(1)) if m else None for m in found)


def epoch(text, local=False):
    """Seconds since the epoch of an ISO time; naive means UTC (Mongo's)
    or, with ``local``, this machine's zone (scrapyd's)."""
    when = datetime.datetime.fromisoformat(text)
    if when.tzinfo is None and not local:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


# CPU seconds from /proc.

def process_times(pid):
    """(parent pid, own CPU s, reaped children's CPU s) of a process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick,
            (int(fields[13]) + int(fields[14])) / tick)


def tree_of(root):
    """{pid: parent pid} of ``root`` and all its live descendants."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                parents[int(name)] = process_times(int(name))[0]
            except (OSError, IndexError, ValueError):
                continue
    tree = {root: parents.get(root)}
    while True:
        found = {pid: ppid for pid, ppid in parents.items()
                 if ppid in tree and pid not in tree}
        if not found:
            return tree
        tree.update(found)


def cpu_seconds(root, spawner=None):
    """CPU seconds so far of a process tree: (all of it, its spiders).

    The spiders are the descendants, live or ended, of the spawner: each
    direct child of ``root`` whose command line holds ``spawner`` (the fork
    servers), or ``root`` itself when ``spawner`` is None (scrapyd).
    """
    tree = tree_of(root)
    spawners = {root}
    if spawner is not None:
        spawners = {pid for pid, ppid in tree.items()
                    if ppid == root and spawner in command_of(pid)}
    total = spiders = 0.0
    for pid in tree:
        try:
            _, own, reaped = process_times(pid)
        except OSError:
            continue
        total += own + reaped
        if pid in spawners:
            spiders += reaped
        elif _below(pid, spawners, tree):
            spiders += own + reaped
    return total, spiders


def _below(pid, ancestors, tree):
    while pid in tree:
        pid = tree[pid]
        if pid in ancestors:
            return True
    return False


def command_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


# The docs site and small helpers.

class DocsSite:
    """The local Python docs from ``python -m http.server``, in its own
    process so that the bench's polling never delays a page."""

    def __init__(self, root=DOCS):
        self.root = root
        self.port = find_free_port()
        self.process = None

    @property
    def start_url(self):
        return "http://127.0.0.1:%d/index.html" % self.port

    def start(self):
        if not (self.root / "index.html").exists():
            raise SystemExit("no docs at %s (apt-get install python3.11-doc)"
                             % self.root)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind",
             "127.0.0.1", "--directory", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.start_url, self.process)
        return self

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


def wait_http(url, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("%s exited with %s" % (process.args,
                                                       process.returncode))
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s did not answer in %d s" % (url, timeout))


def say(text):
    print("# " + text, file=sys.stderr, flush=True)


def load_text():
    return " ".join("%.2f" % n for n in os.getloadavg())


# The table.

def median_ms(runs, start, end, pick=statistics.median):
    values = [getattr(r, end) - getattr(r, start) for r in runs
              if getattr(r, start) is not None
              and getattr(r, end) is not None]
    # Mongo keeps milliseconds: a job's end can read a hair before the
    # log line that preceded it.
    return "%d ms" % round(1000 * pick(values)) if values else "-"


def secs(value):
    return "-" if value is None else "%.2f s" % value


ROWS = [
    ("one job at a time (median of %(singles)d):", None),
    ("  queued -> started",
     lambda f: median_ms(f.singles, "queued", "started")),
    ("  queued -> spider opened",
     lambda f: median_ms(f.singles, "queued", "opened")),
    ("  spider closed -> finished",
     lambda f: median_ms(f.singles, "closed", "ended")),
    ("  queued -> finished",
     lambda f: median_ms(f.singles, "queued", "ended")),
    ("  the first one after the install",
     lambda f: median_ms([f.first], "queued", "ended")),
    ("%(jobs)d jobs queued at once:", None),
    ("  wait queued -> started, median",
     lambda f: median_ms(f.burst, "queued", "started")),
    ("  wait queued -> started, max",
     lambda f: median_ms(f.burst, "queued", "started", max)),
    ("  queued -> spider opened, median",
     lambda f: median_ms(f.burst, "queued", "opened")),
    ("  spider closed -> finished, median",
     lambda f: median_ms(f.burst, "closed", "ended")),
    ("  first queued -> last finished",
     lambda f: secs(f.span)),
    ("  the same, by the client's clock",
     lambda f: secs(f.client_span)),
    ("  CPU s of the spiders", lambda f: secs(f.cpu[0])),
    ("  CPU s of the rest (daemon, db)", lambda f: secs(f.cpu[1])),
    ("  CPU s of the docs server", lambda f: secs(f.cpu[2])),
    ("  load average before", lambda f: "%.2f" % f.load[0]),
    ("runs not ending as planned", lambda f: str(f.failed)),
]


def print_table(results, ns):
    values = vars(ns)
    labels = [label % values for label, _ in ROWS]
    width = max(map(len, labels)) + 1
    print()
    print("%d jobs of %s, %d pages each, %d at once; %d cores" % (
        ns.jobs, SPIDER, ns.pages, ns.slots, os.cpu_count()))
    if ns.setting:
        print("settings: %s" % " ".join("%s=%s" % s for s in ns.setting))
    print(" " * width + "".join("%14s" % f.name for f in results))
    for label, (_, show) in zip(labels, ROWS):
        cells = [show(f) if show else "" for f in results]
        print(label.ljust(width) + "".join("%14s" % c for c in cells))
    ours = results[0]
    print()
    print("goals: a job starts within 100 ms of being queued (%s); %d jobs "
          "end within 5 s of the first queued (%s)" % (
              median_ms(ours.singles, "queued", "started"), ns.jobs,
              secs(ours.span)))


# The command.

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--singles", type=int, default=5)
    parser.add_argument("--scrapyd-polls", default="5,0.2",
                        help="scrapyd poll intervals to run, comma "
                        "separated (default: 5,0.2)")
    parser.add_argument("--setting", action="append", default=[],
                        type=parse_setting, metavar="NAME=VALUE",
                        help="one more Scrapy setting for every run "
                        "(repeatable)")
    parser.add_argument("--no-scrapyd", action="store_true")
    parser.add_argument("--var", default=str(ROOT / "var" / "bench"),
                        help="shared eggs, downloads, scrapyd's venv")
    parser.add_argument("--profile", metavar="FOLDER",
                        help="sample each burst with py-spy (pip install "
                        "py-spy) into collapsed stacks in FOLDER")
    parser.add_argument("--keep", action="store_true",
                        help="keep the run's folder (logs, items)")
    ns = parser.parse_args(argv)
    settings = crawl_settings(ns.pages, dict(ns.setting))
    polls = [] if ns.no_scrapyd else [
        float(p) for p in ns.scrapyd_polls.split(",") if p]

    shared = Path(ns.var).resolve()
    shared.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=shared))
    say("run folder %s; load %s" % (work, load_text()))
    results = []
    docs = DocsSite().start()
    try:
        # The demo's sdists on a local index, then our daemon.
        findlinks = work / "findlinks"
        build_recipe_sdist(findlinks)
        sdist = build_demo_sdist(DEMO_VERSION, findlinks)
        build_index(work / "index", [sdist])
        with IndexServer(work / "index") as index:
            ours = S01Worker(work / "s01", shared, index, findlinks,
                             ns.slots)
            try:
                ours.start()
                ours.install()
                scrapy_version = ours.scrapy_version()
                say("s01.worker: measuring; load %s" % load_text())
                results.append(measure(ours, docs, settings, ns.jobs,
                                       ns.singles, ns.profile))
            finally:
                ours.stop()

        # scrapyd, once per poll interval.
        egg = None
        for poll in polls:
            theirs = Scrapyd(work, shared, ns.slots, poll)
            if egg is None:
                theirs.ensure_venv(scrapy_version)
                egg = theirs.build_egg(work / "egg")
            try:
                theirs.start(egg)
                say("%s: measuring; load %s" % (theirs.name, load_text()))
                results.append(measure(theirs, docs, settings, ns.jobs,
                                       ns.singles, ns.profile))
            finally:
                theirs.stop()
    finally:
        docs.stop()
        if not ns.keep:
            shutil.rmtree(work, ignore_errors=True)

    print_table(results, ns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
