"""Claim, count and list figures for a queue of many jobs.

Usage: .venv/bin/python bench/bench_queue.py [--jobs 100000] [--uri URI]

Without ``--uri`` it starts the embedded server (in memory). It fills
``remoteJobs`` with jobs as ``JobQueue.enqueue`` writes them (most of
them finished, as on a busy daemon, the rest queued), then prints the
median and worst time of a claim, a count of every status, the first
and a later page of the job list, and a filtered page; then how many
jobs a second an eight-thread pool (two daemons of four threads each)
claims and finishes from that queue.
"""
import argparse
import datetime
import statistics
import time
import uuid

import bson
import transaction

from s01.worker.jobs.clock import ServerClock
from s01.worker.jobs.clock import seq_of
from s01.worker.jobs.queue import JobQueue
from s01.worker.mongo.embedded import EmbeddedMongo
from s01.worker.mongo.store import MongoStore

OWNER = {"server": "bench", "instance": "bench", "host": "bench", "pid": 0}


def fill(queue, clock, total, queued_share):
    """Insert ``total`` jobs spread over the last hour of server time."""
    now = clock.now()
    batch = []
    queued = int(total * queued_share)
    for number in range(total):
        when = now - datetime.timedelta(seconds=3600 * (1 - number / total))
        status = "queued" if number >= total - queued else \
            ("completed", "error", "cancelled")[number % 3]
        batch.append({
            "_id": bson.ObjectId(), "jobName": "RunSpider",
            "_type": "RunSpider", "status": status,
            "serverNames": ["bench"], "retryCounter": 0, "maxRetries": 3,
            "retryDelay": 300, "errors": [], "created": when,
            "queued": when, "seq": seq_of(when), "queueSeq": seq_of(when),
            "spiderName": "spider%d" % (number % 50), "pkgName": "bench",
            "_version": 1, "claim": None})
        if len(batch) == 5000:
            queue.jobs.insert_many(batch)
            batch = []
    if batch:
        queue.jobs.insert_many(batch)
    return queued


def timed(func, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def claim_rate(uri, database, clock, jobs, claimers=2, threads=4):
    """Jobs claimed and finished a second by claimers x threads."""
    import threading

    queues = [JobQueue(MongoStore(uri, database), clock, "bench")
              for _ in range(claimers)]
    done = []
    lock = threading.Lock()

    def work(queue):
        tm = transaction.TransactionManager(explicit=True)
        while True:
            with lock:
                if len(done) >= jobs:
                    return
            job = queue.claim(tm, OWNER, 60)
            if job is None:
                return
            queue.finish(tm, job, "completed", {})
            with lock:
                done.append(job["_id"])

    workers = [threading.Thread(target=work, args=(queue,))
               for queue in queues for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    for queue in queues:
        queue.store.close()
    return len(done), len(set(done)), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--queued-share", type=float, default=0.2)
    parser.add_argument("--uri")
    args = parser.parse_args()

    server = None
    uri = args.uri
    if uri is None:
        server = EmbeddedMongo(":memory:").start()
        uri = server.uri
    store = MongoStore(uri, "bench_%s" % uuid.uuid4().hex[:8])
    try:
        clock = ServerClock(store)
        queue = JobQueue(store, clock, "bench")
        queue.ensure_indexes()
        started = time.perf_counter()
        queued = fill(queue, clock, args.jobs, args.queued_share)
        print("filled jobs=%d queued=%d secs=%.1f" % (
            args.jobs, queued, time.perf_counter() - started))

        tm = transaction.TransactionManager(explicit=True)
        started = time.perf_counter()
        counts = queue.recount(tm)
        print("recounted %s secs=%.1f" % (counts,
                                          time.perf_counter() - started))
        claim = timed(lambda: queue.claim(tm, OWNER, 60), 50)
        count = timed(queue.count, 5)
        first = timed(lambda: queue.list(limit=20), 10)
        _, cursor = queue.list(limit=20)
        for _ in range(50):
            _, cursor = queue.list(before=cursor, limit=20)
        later = timed(lambda: queue.list(before=cursor, limit=20), 10)
        filtered = timed(lambda: queue.list({"status": "error",
                                             "spiderName": "spider7"},
                                            limit=20), 10)
        for name, (median, worst) in [
                ("claim", claim), ("count all statuses", count),
                ("list first page", first), ("list page 52", later),
                ("list filtered page", filtered)]:
            print("%-20s median_ms=%8.1f worst_ms=%8.1f" % (
                name, median, worst))
        claimed, distinct, seconds = claim_rate(uri, store.db.name, clock,
                                                2000)
        print("claim+finish, 2 claimers x 4 threads: %d jobs (%d distinct) "
              "in %.1f s, %.0f jobs/s" % (claimed, distinct, seconds,
                                         claimed / seconds))
    finally:
        store.client.drop_database(store.db.name)
        store.close()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
