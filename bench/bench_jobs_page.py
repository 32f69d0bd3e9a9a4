"""How fast the jobs page answers with 100,000 jobs in the database.

Usage: .venv/bin/python bench/bench_jobs_page.py [--jobs 100000]
       [--uri URI] [--repeat 5]

Without ``--uri`` it starts the embedded server (in memory). It fills
``remoteJobs`` with jobs spread over the last week (three servers, ten
packages, fifty spiders, most of them finished), brings the status
counters up to date, builds the app from development.ini's settings and
asks it, through webtest, for the first page of ``/jobs``, filtered
pages, a page from the middle of the history, a job's page and the
dashboard. It prints the median and the worst time of each.
"""
import argparse
import datetime
import os
import random
import statistics
import time
import uuid

import bson
import plaster
import transaction
import webtest

from s01.worker import main as make_app
from s01.worker.interfaces import IJobQueue
from s01.worker.jobs.clock import seq_of
from s01.worker.mongo.embedded import EmbeddedMongo

HERE = os.path.dirname(os.path.abspath(__file__))
INI = os.path.join(os.path.dirname(HERE), "development.ini")
# development.ini's user: mgr / mgrpw.
AUTH = {"HTTP_AUTHORIZATION": "Basic bWdyOm1ncnB3"}
SERVERS = ("alpha", "beta", "gamma")
STATUSES = ("completed",) * 6 + ("error", "cancelled", "queued")
TYPES = ("RunSpider",) * 8 + ("AddPackage", "SyncPackages")
SPAN = 7 * 24 * 3600


def fill(queue, total):
    """Insert ``total`` jobs, oldest first; answer the middle one's seq."""
    now = queue.clock.now()
    rng = random.Random(5)
    batch = []
    middle = None
    for number in range(total):
        when = now - datetime.timedelta(
            seconds=SPAN * (1 - number / total))
        status = rng.choice(STATUSES)
        doc = {
            "_id": bson.ObjectId(), "_version": 1,
            "jobName": rng.choice(TYPES), "status": status,
            "serverNames": [rng.choice(SERVERS)], "retryCounter": 1,
            "maxRetries": 3, "retryDelay": 300, "errors": [],
            "created": when, "modified": when, "queued": when,
            "seq": seq_of(when), "queueSeq": seq_of(when), "claim": None,
            "pkgName": "pkg%d" % (number % 10), "pkgVersion": "1.0",
            "pyVersion": "3.11", "spiderName": "spider%d" % (number % 50),
            "args": {"start_url": "https://example.org/%d" % number},
        }
        doc["_type"] = doc["jobName"]
        if status != "queued":
            ended = when + datetime.timedelta(seconds=rng.uniform(1, 600))
            doc.update(started=when, completed=ended,
                       completedSeq=seq_of(ended),
                       output={"code": 0, "items": number % 100,
                               "pages": number % 120,
                               "stats": {"item_scraped_count": 1}})
        if number == total // 2:
            middle = doc["seq"]
        batch.append(doc)
        if len(batch) == 5000:
            queue.jobs.insert_many(batch)
            batch = []
    if batch:
        queue.jobs.insert_many(batch)
    queue.recount(transaction.TransactionManager(explicit=True))
    return middle


def timed(app, path, repeat):
    """Median and worst milliseconds of ``repeat`` GETs of ``path``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        app.get(path, extra_environ=AUTH, status=200)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--uri")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    server = None
    uri = args.uri
    if uri is None:
        server = EmbeddedMongo(":memory:").start()
        uri = server.uri
    settings = dict(plaster.get_settings(INI, "app:main"))
    settings.update({"s01.mongo.uri": uri,
                     "s01.mongo.database": "bench_%s" % uuid.uuid4().hex[:8],
                     "s01.server_name": "alpha"})
    app = make_app({"__file__": INI}, **settings)
    queue = app.registry.getUtility(IJobQueue)
    try:
        started = time.perf_counter()
        middle = fill(queue, args.jobs)
        print("filled jobs=%d secs=%.1f" % (args.jobs,
                                           time.perf_counter() - started))
        job_id = str(queue.jobs.find_one({"seq": {"$lte": middle}},
                                         sort=[("seq", -1)])["_id"])
        browser = webtest.TestApp(app)
        browser.get("/jobs", extra_environ=AUTH)
        pages = [
            ("first page", "/jobs"),
            ("first page, 100 a page", "/jobs?size=100"),
            ("status=error", "/jobs?status=error"),
            ("status=error, package pkg3", "/jobs?status=error&pkgName=pkg3"),
            ("spider spider7", "/jobs?spiderName=spider7"),
            ("server beta, type AddPackage",
             "/jobs?serverNames=beta&jobName=AddPackage"),
            ("a page in the middle", "/jobs?before=%d" % middle),
            ("the same, status=cancelled",
             "/jobs?before=%d&status=cancelled" % middle),
            ("a job's page", "/jobs/%s" % job_id),
            ("dashboard (24h picture)", "/"),
            ("dashboard (7d picture)", "/?window=7d"),
        ]
        for label, path in pages:
            median, worst = timed(browser, path, args.repeat)
            print("%-32s median=%7.1f ms  worst=%7.1f ms" % (
                label, median, worst))
    finally:
        store = queue.store
        store.client.drop_database(store.db.name)
        store.close()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
