"""Load: many JSON-RPC clients at once against a real daemon.

Usage::

    .venv/bin/python bench/load.py [--clients 50] [--seconds 60]
                                   [--url URL --user mgr --password PW]

Without ``--url`` it starts a daemon of its own: ``pserve`` of a copy of
testing.ini in a temporary folder, on a free port, with the embedded
MongoDB server (data on disk) and the processor running. Each client
keeps one HTTP connection and calls, in a random mix, status methods
(getStartTime, isProcessing, getMongoDBStatus, countJobs, getJobStatus),
job lists (a first page, a filtered page, a later page) and
startSyncPackages, whose jobs the processor runs meanwhile (a server
with no packages: each completes at once).

It prints the calls made, the errors (an HTTP status other than 200, a
JSON-RPC error, a failed connection: there must be none), p50, p95, p99
and the slowest call per kind and in all, and what the queue holds at
the end. Figures, not assertions: no test times anything.
"""
import argparse
import collections
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
TESTING_INI = os.path.join(HERE, os.pardir, "testing.ini")
# (kind, method, weight): what one call of the mix is.
MIX = [
    ("status", "getStartTime", 15),
    ("status", "isProcessing", 10),
    ("status", "getMongoDBStatus", 10),
    ("status", "countJobs", 15),
    ("status", "getJobStatus", 10),
    ("list", "listJobs", 15),
    ("list", "listJobs:filtered", 5),
    ("list", "listJobs:later", 5),
    ("start", "startSyncPackages", 15),
]


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Client(threading.Thread):
    """One client: calls until the deadline, noting times and errors."""

    def __init__(self, url, auth, deadline, job_ids, lock, number):
        super().__init__(name="client-%d" % number, daemon=True)
        self.url = url
        self.session = requests.Session()
        self.session.auth = auth
        self.deadline = deadline
        self.job_ids = job_ids
        self.lock = lock
        self.random = random.Random(number)
        self.times = collections.defaultdict(list)
        self.errors = collections.Counter()
        self.ids = iter(range(1, 10 ** 9))

    def run(self):
        kinds = [(kind, method) for kind, method, _ in MIX]
        weights = [weight for _, _, weight in MIX]
        while time.monotonic() < self.deadline:
            kind, method = self.random.choices(kinds, weights)[0]
            started = time.perf_counter()
            error = self.call(method)
            self.times[kind].append(time.perf_counter() - started)
            if error:
                self.errors["%s: %s" % (method, error)] += 1

    def call(self, method):
        name, params = self.params(method)
        body = {"jsonrpc": "2.0", "id": next(self.ids), "method": name,
                "params": params}
        try:
            response = self.session.post(
                self.url, data=json.dumps(body),
                headers={"Content-Type": "application/json"}, timeout=60)
        except requests.RequestException as exc:
            return type(exc).__name__
        if response.status_code != 200:
            return "HTTP %d" % response.status_code
        answer = response.json()
        if "error" in answer:
            return answer["error"].get("message", "error")
        if name == "startSyncPackages":
            with self.lock:
                self.job_ids.append(answer["result"])
        elif name == "listJobs" and method == "listJobs" and \
                answer["result"]["next"]:
            with self.lock:
                self.job_ids.append(("cursor", answer["result"]["next"]))
        return None

    def params(self, method):
        with self.lock:
            ids = [i for i in self.job_ids[-200:] if isinstance(i, str)]
            cursors = [i[1] for i in self.job_ids[-200:]
                       if not isinstance(i, str)]
        if method == "getJobStatus":
            if ids:
                return method, [self.random.choice(ids)]
            return "getStartTime", []
        if method == "listJobs:filtered":
            return "listJobs", [{"status": "completed",
                                 "jobName": "SyncPackages"}]
        if method == "listJobs:later":
            if cursors:
                return "listJobs", [None, self.random.choice(cursors)]
            return "listJobs", []
        if method == "startSyncPackages":
            return method, ["bench-source", False]
        return method, []


def start_daemon(workdir):
    """pserve of a copy of testing.ini in workdir; (process, url)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(TESTING_INI) as f:
        text = f.read()
    text = re.sub(r"(?m)^http_port = \d+$", "http_port = %d" % port, text)
    text = text.replace("s01.processor.autostart = false",
                        "s01.processor.autostart = true")
    ini = os.path.join(workdir, "load.ini")
    with open(ini, "w") as f:
        f.write(text)
    log = open(os.path.join(workdir, "pserve.log"), "wb")
    pserve = os.path.join(os.path.dirname(sys.executable), "pserve")
    process = subprocess.Popen([pserve, ini], cwd=workdir, stdout=log,
                               stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("pserve exited; see %s/pserve.log" % workdir)
        try:
            urllib.request.urlopen(url + "/", timeout=1)
        except urllib.error.HTTPError:
            return process, url + "/++skin++Scrapy"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("pserve did not answer; see %s/pserve.log" % workdir)


def report(clients, seconds, final_counts):
    times = collections.defaultdict(list)
    errors = collections.Counter()
    for client in clients:
        for kind, values in client.times.items():
            times[kind] += values
        errors.update(client.errors)
    every = [value for values in times.values() for value in values]
    print("load: %d clients for %.0f s: %d calls, %.0f calls/s, errors=%d"
          % (len(clients), seconds, len(every), len(every) / seconds,
             sum(errors.values())))
    for kind in sorted(times) + ["all"]:
        values = every if kind == "all" else times[kind]
        print("  %-6s calls=%6d p50_ms=%7.1f p95_ms=%7.1f p99_ms=%7.1f "
              "max_ms=%7.1f" % (
                  kind, len(values), 1000 * statistics.median(values),
                  1000 * percentile(values, 0.95),
                  1000 * percentile(values, 0.99), 1000 * max(values)))
    for error, count in errors.most_common(10):
        print("  error x%d: %s" % (count, error))
    print("  jobs at the end: %s" % " ".join(
        "%s=%d" % item for item in sorted(final_counts.items())))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--url", help="a running daemon's RPC endpoint")
    parser.add_argument("--user", default="mgr")
    parser.add_argument("--password", default="mgrpw")
    ns = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="s01-load-") as workdir:
        process, url = None, ns.url
        if url is None:
            process, url = start_daemon(workdir)
        try:
            auth = (ns.user, ns.password)
            lock = threading.Lock()
            job_ids = []
            deadline = time.monotonic() + ns.seconds
            clients = [Client(url, auth, deadline, job_ids, lock, number)
                       for number in range(ns.clients)]
            started = time.monotonic()
            for client in clients:
                client.start()
            for client in clients:
                client.join()
            seconds = time.monotonic() - started

            # Let the processor catch up, then read the counts.
            probe = Client(url, auth, 0, [], lock, -1)
            counts = {}
            for _ in range(120):
                answer = probe.session.post(url, json={
                    "jsonrpc": "2.0", "id": 1, "method": "countJobs"},
                    timeout=60).json()
                counts = answer.get("result", {})
                if not counts.get("queued") and not counts.get("processing"):
                    break
                time.sleep(1)
            report(clients, seconds, counts)
        finally:
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
