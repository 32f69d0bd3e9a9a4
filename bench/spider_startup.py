"""How long until a spider opens: bare bin/crawl against bin/crawl-server.

Usage::

    python bench/spider_startup.py PACKAGE_DIR START_URL [--runs N]

PACKAGE_DIR is an installed spider package (its bin/crawl and
bin/crawl-server, e.g. the demo's ``python.org`` spider), START_URL a page
to crawl (a local docs server keeps the network out of it). Each run
crawls one page. The figure is the time from starting bin/crawl, or from
sending the request to the fork server, to the child's "Spider opened" log
line; the log format carries the time of each line to the microsecond.
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SPIDER = "python.org"
LOG_FORMAT = "%(created).6f [%(name)s] %(levelname)s: %(message)s"
OPENED = re.compile(
    r"^(\d+\.\d+) \[scrapy\.core\.engine\] INFO: Spider opened", re.M)
SETTINGS = {"CLOSESPIDER_PAGECOUNT": 1, "LOG_FORMAT": LOG_FORMAT}


def opened_at(logfile):
    """The time of the "Spider opened" line of a log file."""
    with open(logfile, encoding="utf-8", errors="replace") as f:
        match = OPENED.search(f.read())
    if not match:
        raise RuntimeError("no 'Spider opened' line in %s" % logfile)
    return float(match.group(1))


def time_bare_crawl(package, start_url, workdir, run):
    """Seconds from starting bin/crawl to its spider opening."""
    logfile = os.path.join(workdir, "bare-%d.log" % run)
    argv = [os.path.join(package, "bin", "crawl"), SPIDER,
            "-a", "start_url=" + start_url, "--logfile", logfile]
    for name, value in SETTINGS.items():
        argv += ["-s", "%s=%s" % (name, value)]
    started = time.time()
    subprocess.run(argv, check=True, timeout=120, stdin=subprocess.DEVNULL)
    return opened_at(logfile) - started


def time_server_crawl(socket_path, start_url, workdir, run):
    """Seconds from sending a request to the child's spider opening."""
    logfile = os.path.join(workdir, "server-%d.log" % run)
    request = {"spider": SPIDER, "args": {"start_url": start_url},
               "settings": SETTINGS, "logfile": logfile}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(socket_path)
        answers = conn.makefile("rb")
        started = time.time()
        conn.sendall(json.dumps(request).encode("utf-8") + b"\n")
        json.loads(answers.readline())
        ended = json.loads(answers.readline())
    if ended.get("exit") != 0:
        raise RuntimeError("crawl failed %s: see %s" % (ended, logfile))
    return opened_at(logfile) - started


def start_server(package, socket_path):
    """Start bin/crawl-server; answer the process once it is ready."""
    server = subprocess.Popen(
        [os.path.join(package, "bin", "crawl-server"), "--socket",
         socket_path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ready = json.loads(server.stdout.readline())
    return server, ready


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("package")
    parser.add_argument("start_url")
    parser.add_argument("--runs", type=int, default=10)
    ns = parser.parse_args(argv)
    package = os.path.abspath(ns.package)

    with tempfile.TemporaryDirectory(prefix="s01-bench-") as workdir:
        bare = [time_bare_crawl(package, ns.start_url, workdir, run)
                for run in range(ns.runs)]

        socket_path = os.path.join(workdir, "crawl.sock")
        started = time.time()
        server, _ = start_server(package, socket_path)
        ready = time.time() - started
        try:
            forked = [time_server_crawl(socket_path, ns.start_url, workdir,
                                        run) for run in range(ns.runs)]
        finally:
            # Closing its stdin is how a daemon lets its server go.
            server.stdin.close()
            server.wait(10)

    print("bin/crawl start to spider opened: median %.0f ms, min %.0f ms, "
          "max %.0f ms (%d runs)" % (
              1000 * statistics.median(bare), 1000 * min(bare),
              1000 * max(bare), len(bare)))
    print("bin/crawl-server ready after %.0f ms" % (1000 * ready))
    print("fork server request to spider opened: median %.0f ms, min %.0f "
          "ms, max %.0f ms (%d runs)" % (
              1000 * statistics.median(forked), 1000 * min(forked),
              1000 * max(forked), len(forked)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
