"""The recipe for real: build sdists, run buildout, list, crawl, fork.

The demo package is installed once for the module, as the installer does
it (see tests/fixtures/packages.py), against the shared eggs folder; the
first run on a machine downloads Scrapy and its dependencies. The crawls
run against the local Python docs server. Timings are printed (pytest -s).
"""
import html
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from tests.fixtures.packages import install_package

pytestmark = pytest.mark.slow

SPIDER = "python.org"
LOG_FORMAT = "%(created).6f [%(name)s] %(levelname)s: %(message)s"
OPENED = re.compile(r"^(\d+\.\d+) \[scrapy\.core\.engine\] INFO: "
                    r"Spider opened", re.M)
TITLE = re.compile(r"<title>(.*?)</title>", re.S | re.I)


def squeeze(text):
    return " ".join(text.split())


def read_items(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def opened_at(logfile):
    match = OPENED.search(logfile.read_text(errors="replace"))
    assert match, logfile.read_text(errors="replace")[-3000:]
    return float(match.group(1))


@pytest.fixture(scope="module")
def demo_package(tmp_path_factory, demo_sdists, eggs_dir, download_cache,
                 findlinks_dir, buildout_index):
    """s01.demo 0.16.2 installed with buildout; its folder."""
    target = tmp_path_factory.mktemp("packages") / "s01.demo" / "0.16.2"
    times, output = install_package(
        demo_sdists["0.16.2"], target, eggs_dir, download_cache,
        findlinks_dir, buildout_index)
    print("\ninstall s01.demo 0.16.2: %s" % _format_times(times))
    return target


def _format_times(times):
    return " ".join("%s=%.1fs" % item for item in times.items())


def run_bin(package, name, *args, timeout=300):
    return subprocess.run(
        [str(package / "bin" / name), *map(str, args)], cwd=str(package),
        stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
        start_new_session=True)


def test_buildout_generates_the_scripts_and_settings(demo_package):
    for name in ("list", "crawl", "crawl-server", "scrapy", "test"):
        assert os.access(demo_package / "bin" / name, os.X_OK), name
    settings = (demo_package / "parts" / "settings" / "default.cfg")
    assert "settings_module = s01.demo.settings" in settings.read_text()


def test_list_prints_exactly_the_spider_names(demo_package):
    result = run_bin(demo_package, "list")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b"python.org\n"


def test_package_unit_tests_pass(demo_package):
    result = run_bin(demo_package, "test")
    assert result.returncode == 0, result.stderr.decode()
    assert b"OK" in result.stderr


def test_scrapy_command_line_sees_the_project(demo_package):
    result = run_bin(demo_package, "scrapy", "list")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.split() == [b"python.org"]


def test_crawl_of_unknown_spider_exits_2_naming_known(demo_package):
    result = run_bin(demo_package, "crawl", "nope")
    assert result.returncode == 2
    assert b"unknown spider 'nope' (known: python.org)" in result.stderr


def test_crawl_with_bad_argument_exits_2(demo_package):
    result = run_bin(demo_package, "crawl", SPIDER, "-a", "no-equals")
    assert result.returncode == 2
    assert b"is not NAME=VALUE" in result.stderr


def test_crawl_yields_one_item_per_docs_page(demo_package, docs_requests,
                                             tmp_path):
    base = docs_requests.url
    items_path = tmp_path / "items.jl"
    stats_path = tmp_path / "stats.json"
    started = time.monotonic()
    result = run_bin(
        demo_package, "crawl", SPIDER,
        "-a", "start_url=%s/index.html" % base,
        "--items", items_path, "--stats", stats_path,
        "--logfile", tmp_path / "crawl.log", timeout=600)
    seconds = time.monotonic() - started
    log = (tmp_path / "crawl.log").read_text(errors="replace")
    assert result.returncode == 0, log[-3000:]

    items = read_items(items_path)
    stats = json.loads(stats_path.read_text())
    print("\ncrawl of the docs: %d items in %.1fs" % (len(items), seconds))

    # One item per distinct HTML page the server answered with 200.
    assert stats["finish_reason"] == "finished"
    assert stats["item_scraped_count"] == len(items)
    paths = [item["url"][len(base):] for item in items]
    assert all(item["url"].startswith(base + "/") for item in items)
    assert len(set(paths)) == len(paths)
    assert set(paths) == docs_requests.html_paths()
    assert len(items) > 400

    # Titles are the pages' <title> texts, read from disk.
    for item in sorted(items, key=lambda i: i["url"])[::25]:
        page = docs_requests.page_file(item["url"][len(base):])
        title = TITLE.search(page.read_text(encoding="utf-8"))
        assert item["title"] == squeeze(html.unescape(title.group(1)))

    # Headings come from the page's main part, without the pilcrow links.
    by_path = dict(zip(paths, items))
    functions = by_path["/library/functions.html"]
    assert functions["headings"][0] == "Built-in Functions"
    assert not any("\u00b6" in h for i in items for h in i["headings"])

    # Datetimes in the stats file are ISO strings.
    assert re.match(r"\d{4}-\d\d-\d\dT", stats["start_time"])


def test_crawl_with_pagecount_limit_exits_0(demo_package, docs_server,
                                            tmp_path):
    result = run_bin(
        demo_package, "crawl", SPIDER,
        "-a", "start_url=%s/index.html" % docs_server,
        "-s", "CLOSESPIDER_PAGECOUNT=5", "--loglevel", "warning",
        "--items", tmp_path / "items.jl", "--stats", tmp_path / "stats.json")
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["finish_reason"] == "closespider_pagecount"
    assert b"INFO" not in result.stderr
    assert len(read_items(tmp_path / "items.jl")) >= 5


def test_second_version_reuses_the_shared_eggs(
        demo_package, tmp_path, demo_sdists, eggs_dir, download_cache,
        findlinks_dir, buildout_index):
    target = tmp_path / "s01.demo" / "0.17.0"
    times, output = install_package(
        demo_sdists["0.17.0"], target, eggs_dir, download_cache,
        findlinks_dir, buildout_index)
    print("\ninstall s01.demo 0.17.0 (warm): %s" % _format_times(times))
    assert "Getting distribution" not in output
    result = run_bin(target, "list")
    assert result.stdout == b"python.org\n"


# --- the fork server ---------------------------------------------------


class CrawlServer:
    """bin/crawl-server run as the daemon would: stdin a pipe we hold."""

    def __init__(self, package, workdir):
        self.socket_path = str(workdir / "crawl.sock")
        self.stderr_path = workdir / "crawl-server.log"
        self._stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(
            [str(package / "bin" / "crawl-server"),
             "--socket", self.socket_path],
            cwd=str(package), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, start_new_session=True)
        line = self.process.stdout.readline()
        assert line, self.log()
        self.ready = json.loads(line)

    def request(self, **request):
        """Send a request; answer (connection's line reader, first answer)."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(120)
        conn.connect(self.socket_path)
        conn.sendall(json.dumps(request).encode("utf-8") + b"\n")
        answers = conn.makefile("rb")
        first = json.loads(answers.readline())
        return conn, answers, first

    def log(self):
        return self.stderr_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)
        self.process.stdin.close()
        self.process.stdout.close()
        self._stderr.close()


@pytest.fixture
def crawl_server(demo_package, tmp_path):
    server = CrawlServer(demo_package, tmp_path)
    yield server
    server.stop()


def process_gone(pid):
    """Whether pid no longer exists, or is a zombie nobody of ours holds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _text(path):
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def wait_gone(pid, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.05)
    return False


def test_server_announces_itself_with_the_spiders(crawl_server):
    assert crawl_server.ready["spiders"] == ["python.org"]
    assert crawl_server.ready["pid"] == crawl_server.process.pid
    mode = os.stat(crawl_server.socket_path).st_mode & 0o777
    assert mode == 0o600


def test_server_runs_a_crawl_and_reports_its_exit(
        crawl_server, docs_server, tmp_path):
    conn, answers, first = crawl_server.request(
        spider=SPIDER, args={"start_url": docs_server + "/index.html"},
        settings={"CLOSESPIDER_PAGECOUNT": 10},
        logfile=str(tmp_path / "job.log"), items=str(tmp_path / "job.jl"),
        stats=str(tmp_path / "job.json"))
    pid = first["pid"]

    # The child leads its own session by the time its pid is answered.
    assert os.getsid(pid) == pid

    assert json.loads(answers.readline()) == {"exit": 0}
    assert answers.readline() == b""
    conn.close()
    stats = json.loads((tmp_path / "job.json").read_text())
    assert stats["finish_reason"] == "closespider_pagecount"
    assert stats["item_scraped_count"] == len(read_items(tmp_path / "job.jl"))
    assert stats["item_scraped_count"] >= 10
    assert "Spider opened" in (tmp_path / "job.log").read_text()
    assert process_gone(pid)


def test_server_child_of_unknown_spider_exits_2(crawl_server, tmp_path):
    conn, answers, first = crawl_server.request(
        spider="nope", logfile=str(tmp_path / "job.log"))
    assert "pid" in first
    assert json.loads(answers.readline()) == {"exit": 2}
    conn.close()
    assert "unknown spider 'nope'" in (tmp_path / "job.log").read_text()


def test_server_answers_a_bad_request_with_an_error(crawl_server):
    conn, answers, first = crawl_server.request(args={"x": "y"})
    assert first == {"error": "spider must be a non-empty string"}
    assert answers.readline() == b""
    conn.close()
    assert crawl_server.process.poll() is None


def test_server_child_opens_its_spider_faster_than_bare_crawl(
        crawl_server, demo_package, docs_server, tmp_path):
    start_url = docs_server + "/index.html"
    settings = {"CLOSESPIDER_PAGECOUNT": 1, "LOG_FORMAT": LOG_FORMAT}

    # A bare bin/crawl: from exec to "Spider opened".
    started = time.time()
    result = run_bin(
        demo_package, "crawl", SPIDER, "-a", "start_url=" + start_url,
        *sum((["-s", "%s=%s" % kv] for kv in settings.items()), []),
        "--logfile", tmp_path / "bare.log")
    assert result.returncode == 0
    bare = opened_at(tmp_path / "bare.log") - started

    # The fork server: from sending the request to "Spider opened".
    forked = []
    for run in range(5):
        logfile = tmp_path / ("forked-%d.log" % run)
        started = time.time()
        conn, answers, first = crawl_server.request(
            spider=SPIDER, args={"start_url": start_url}, settings=settings,
            logfile=str(logfile))
        assert json.loads(answers.readline()) == {"exit": 0}
        conn.close()
        forked.append(opened_at(logfile) - started)

    forked.sort()
    print("\nspider opened after: bare bin/crawl %.0f ms, fork server "
          "median %.0f ms (min %.0f, max %.0f)" % (
              1000 * bare, 1000 * forked[2], 1000 * forked[0],
              1000 * forked[-1]))
    assert forked[2] < bare


def test_a_stopping_server_ends_its_running_children(
        crawl_server, docs_server, tmp_path):
    conn, answers, first = crawl_server.request(
        spider=SPIDER, args={"start_url": docs_server + "/index.html"},
        settings={"DOWNLOAD_DELAY": 1},
        logfile=str(tmp_path / "job.log"), stats=str(tmp_path / "job.json"))
    pid = first["pid"]
    deadline = time.monotonic() + 30
    while "Spider opened" not in _text(tmp_path / "job.log"):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    # Its parent (the daemon) is gone: stdin closes, and the crawl ends
    # with the server, cleanly; nothing of it runs on.
    crawl_server.process.stdin.close()
    assert crawl_server.process.wait(15) == 0
    assert json.loads(answers.readline()) == {"exit": 1}
    conn.close()
    assert wait_gone(pid)
    stats = json.loads((tmp_path / "job.json").read_text())
    assert stats["finish_reason"] == "shutdown"
    assert not os.path.exists(crawl_server.socket_path)


def test_a_child_dies_with_a_killed_server(crawl_server, docs_server,
                                           tmp_path):
    conn, answers, first = crawl_server.request(
        spider=SPIDER, args={"start_url": docs_server + "/index.html"},
        settings={"DOWNLOAD_DELAY": 1}, logfile=str(tmp_path / "job.log"))
    crawl_server.process.kill()
    crawl_server.process.wait(10)
    assert wait_gone(first["pid"])
    conn.close()


def test_server_stops_when_its_stdin_closes(crawl_server):
    crawl_server.process.stdin.close()
    assert crawl_server.process.wait(10) == 0
    assert "reason=stdin-closed" in crawl_server.log()
    assert not os.path.exists(crawl_server.socket_path)


def test_server_stops_when_its_socket_file_goes(crawl_server):
    os.unlink(crawl_server.socket_path)
    assert crawl_server.process.wait(10) == 0
    assert "reason=socket-file-gone" in crawl_server.log()


def test_second_server_on_a_live_socket_fails(crawl_server, demo_package):
    result = run_bin(demo_package, "crawl-server", "--socket",
                     crawl_server.socket_path)
    assert result.returncode == 1
    assert b"already listens" in result.stderr
    assert crawl_server.process.poll() is None
