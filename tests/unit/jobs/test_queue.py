"""The job queue against a real MongoDB-wire server."""
import datetime
import threading

import pytest
import transaction
from zope.interface.verify import verifyObject

from s01.worker.exceptions import InvalidParams
from s01.worker.exceptions import JobNotFound
from s01.worker.interfaces import IJobQueue
from s01.worker.jobs.queue import job_object_id
from tests.unit.jobs.conftest import OWNER


def enqueue(queue, tm, name="RunSpider", **params):
    with tm:
        return queue.enqueue(tm, name, params)


def test_a_queued_job_has_the_seed_fields(queue, tm):
    job_id = enqueue(queue, tm, "AddPackage", pkgName="s01.demo")
    doc = queue.get(job_id)
    assert doc["__name__"] == job_id
    assert doc["_type"] == doc["jobName"] == "AddPackage"
    assert doc["_version"] == 1
    assert doc["status"] == "queued"
    assert doc["serverNames"] == ["node1"]
    assert doc["retryCounter"] == 0
    assert doc["maxRetries"] == 3
    assert doc["retryDelay"] == 5
    assert doc["errors"] == []
    assert doc["pkgName"] == "s01.demo"
    assert doc["queued"].tzinfo is not None


def test_an_aborted_enqueue_leaves_no_job(queue, tm):
    tm.begin()
    job_id = queue.enqueue(tm, "RunSpider", {})
    tm.abort()
    with pytest.raises(JobNotFound):
        queue.get(job_id)


def test_claim_takes_a_job_once(queue, tm):
    job_id = enqueue(queue, tm)
    job = queue.claim(tm, OWNER, 30)
    assert str(job["_id"]) == job_id
    assert job["status"] == "processing"
    assert job["retryCounter"] == 1
    assert job["owner"] == OWNER
    assert len(job["claim"]) == 32
    assert job["leaseUntil"] > job["picked"]
    assert queue.claim(tm, OWNER, 30) is None


def test_claim_takes_the_oldest_first(queue, tm):
    ids = [enqueue(queue, tm) for _ in range(5)]
    claimed = [str(queue.claim(tm, OWNER, 30)["_id"]) for _ in range(5)]
    assert claimed == ids


def test_claim_leaves_other_servers_jobs(queue, make_queue, tm):
    other = make_queue("node2")
    with tm:
        other.enqueue(tm, "RunSpider", {})
    assert queue.claim(tm, OWNER, 30) is None
    assert other.claim(tm, OWNER, 30) is not None


def test_claim_by_id_takes_only_that_job(queue, tm):
    first = enqueue(queue, tm)
    second = enqueue(queue, tm)
    job = queue.claim(tm, OWNER, 30, job_id=second)
    assert str(job["_id"]) == second
    assert queue.claim(tm, OWNER, 30, job_id=second) is None
    assert str(queue.claim(tm, OWNER, 30)["_id"]) == first


def test_concurrent_claimers_take_every_job_exactly_once(make_queue, store):
    queues = [make_queue() for _ in range(2)]
    setup_tm = transaction.TransactionManager(explicit=True)
    with setup_tm:
        ids = [queues[0].enqueue(setup_tm, "RunSpider", {})
               for _ in range(200)]
    taken = []
    lock = threading.Lock()

    def work(queue):
        tm = transaction.TransactionManager(explicit=True)
        while True:
            job = queue.claim(tm, OWNER, 30)
            if job is None:
                return
            with lock:
                taken.append(str(job["_id"]))

    threads = [threading.Thread(target=work, args=(queues[i % 2],))
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(taken) == sorted(ids)
    assert len(set(taken)) == 200


def test_a_failed_attempt_waits_retry_delay(queue, tm, clock):
    enqueue(queue, tm)
    job = queue.claim(tm, OWNER, 30)
    before = clock.now()
    assert queue.fail(tm, job, "exit code 1") == "queued"
    doc = queue.get(str(job["_id"]))
    assert doc["status"] == "queued"
    assert doc["retryCounter"] == 1
    delay = (doc["retryTime"] - before).total_seconds()
    assert 4.5 < delay < 6.5
    assert [e["error"] for e in doc["errors"]] == ["exit code 1"]
    assert doc["claim"] is None
    assert queue.claim(tm, OWNER, 30) is None


def test_attempts_are_counted_up_to_max_retries(make_queue, tm):
    queue = make_queue(max_retries=3, retry_delay=0)
    job_id = enqueue(queue, tm)
    statuses = []
    for _ in range(5):
        job = queue.claim(tm, OWNER, 30)
        if job is None:
            break
        statuses.append(queue.fail(tm, job, "boom"))
    assert statuses == ["queued", "queued", "error"]
    doc = queue.get(job_id)
    assert doc["status"] == "error"
    assert doc["retryCounter"] == 3
    assert [e["attempt"] for e in doc["errors"]] == [1, 2, 3]
    assert queue.count()["error"] == 1


def test_a_permanent_failure_is_not_retried(queue, tm):
    enqueue(queue, tm)
    job = queue.claim(tm, OWNER, 30)
    assert queue.fail(tm, job, "bad name", permanent=True) == "error"
    assert queue.get(str(job["_id"]))["retryCounter"] == 1


def test_a_late_writer_changes_nothing(make_queue, tm, clock):
    queue = make_queue(max_retries=3, retry_delay=0)
    job_id = enqueue(queue, tm)
    stale = queue.claim(tm, OWNER, 0.001)
    assert queue.reap(tm) == 1
    fresh = queue.claim(tm, OWNER, 30)
    assert fresh["claim"] != stale["claim"]
    assert queue.finish(tm, stale, "completed", {"late": True}) is False
    assert queue.fail(tm, stale, "late") is None
    doc = queue.get(job_id)
    assert doc["status"] == "processing"
    assert doc["claim"] == fresh["claim"]
    assert queue.finish(tm, fresh, "completed", {"code": 0}) is True
    assert queue.get(job_id)["output"] == {"code": 0}


def test_reap_fails_a_job_whose_attempts_are_spent(make_queue, tm):
    queue = make_queue(max_retries=1, retry_delay=0)
    job_id = enqueue(queue, tm)
    queue.claim(tm, OWNER, 0.001)
    assert queue.reap(tm) == 1
    doc = queue.get(job_id)
    assert doc["status"] == "error"
    assert "lease expired" in doc["errors"][-1]["error"]


def test_reap_leaves_held_leases_alone(queue, tm):
    enqueue(queue, tm)
    job = queue.claim(tm, OWNER, 30)
    assert queue.reap(tm) == 0
    assert queue.renew(tm, job, 30) == "held"


def test_release_refunds_the_attempt(queue, tm):
    job_id = enqueue(queue, tm)
    job = queue.claim(tm, OWNER, 30)
    assert queue.release(tm, job, "daemon shutting down")
    doc = queue.get(job_id)
    assert doc["status"] == "queued"
    assert doc["retryCounter"] == 0
    assert queue.claim(tm, OWNER, 30) is not None


def test_cancel_a_queued_job_at_once(queue, tm):
    job_id = enqueue(queue, tm)
    with tm:
        assert queue.cancel(tm, job_id) == "cancelled"
    assert queue.status(job_id) == "cancelled"
    assert queue.claim(tm, OWNER, 30) is None


def test_cancel_a_running_job_asks_its_runner(queue, tm):
    job_id = enqueue(queue, tm)
    job = queue.claim(tm, OWNER, 30)
    with tm:
        assert queue.cancel(tm, job_id) == "processing"
    assert queue.renew(tm, job, 30) == "cancel"
    assert queue.finish(tm, job, "cancelled", {})
    with tm:
        assert queue.cancel(tm, job_id) == "cancelled"


def test_count_names_every_status(queue, tm):
    enqueue(queue, tm)
    enqueue(queue, tm)
    job = queue.claim(tm, OWNER, 30)
    queue.finish(tm, job, "completed", {})
    assert queue.count() == {"queued": 1, "processing": 0,
                             "completed": 1, "error": 0, "cancelled": 0}


def test_list_pages_newest_first(queue, tm):
    ids = [enqueue(queue, tm, spiderName="s%d" % (i % 2))
           for i in range(7)]
    page, cursor = queue.list(limit=3)
    assert [str(d["_id"]) for d in page] == ids[::-1][:3]
    page2, cursor2 = queue.list(before=cursor, limit=3)
    assert [str(d["_id"]) for d in page2] == ids[::-1][3:6]
    page3, cursor3 = queue.list(before=cursor2, limit=3)
    assert [str(d["_id"]) for d in page3] == ids[:1]
    assert cursor3 is None
    only, _ = queue.list({"spiderName": "s1"}, limit=10)
    assert [str(d["_id"]) for d in only] == ids[1::2][::-1]


def test_list_refuses_an_unknown_filter(queue):
    with pytest.raises(InvalidParams, match="unknown filter"):
        queue.list({"$where": "1"})


def test_remove_takes_finished_jobs_only(queue, tm):
    enqueue(queue, tm)
    enqueue(queue, tm)
    job = queue.claim(tm, OWNER, 30)
    queue.finish(tm, job, "completed", {})
    with tm:
        counts = queue.remove(tm)
    assert counts == {"completed": 1, "error": 0, "cancelled": 0}
    assert queue.count()["queued"] == 1
    with pytest.raises(InvalidParams, match="only finished jobs"):
        queue.remove(tm, ["queued"])


@pytest.mark.parametrize("value", [{"$ne": None}, 42, None, "abc",
                                   "0" * 23, "g" * 24])
def test_job_ids_must_be_24_hex_digits(value):
    with pytest.raises(InvalidParams, match="jobid"):
        job_object_id(value)


def test_the_clock_is_the_servers(clock, store):
    server = store.server_time()
    if server.tzinfo is None:
        server = server.replace(tzinfo=datetime.timezone.utc)
    assert abs((clock.now() - server).total_seconds()) < 1.0


def test_counts_follow_every_change(make_queue, tm):
    queue = make_queue(max_retries=2, retry_delay=0)
    ids = [enqueue(queue, tm) for _ in range(6)]
    jobs = [queue.claim(tm, OWNER, 30) for _ in range(5)]
    queue.finish(tm, jobs[0], "completed", {})
    queue.fail(tm, jobs[1], "boom")
    queue.fail(tm, jobs[2], "bad", permanent=True)
    queue.release(tm, jobs[3], "shutdown")
    with tm:
        queue.cancel(tm, ids[5])
    expected = {"queued": 2, "processing": 1, "completed": 1, "error": 1,
                "cancelled": 1}
    assert queue.count() == expected
    with tm:
        queue.remove(tm, ["completed", "cancelled"])
    expected.update(completed=0, cancelled=0)
    assert queue.count() == expected
    assert queue.recount(tm) == expected


def test_recount_repairs_counters_after_a_hand_written_job(queue, tm):
    enqueue(queue, tm)
    queue.jobs.insert_one({"status": "queued", "jobName": "AddPackage"})
    assert queue.count()["queued"] == 1
    assert queue.recount(tm)["queued"] == 2
    assert queue.count()["queued"] == 2


def test_every_way_of_ending_records_when(make_queue, tm):
    queue = make_queue(max_retries=1, retry_delay=0)
    ids = [enqueue(queue, tm) for _ in range(4)]
    jobs = [queue.claim(tm, OWNER, 30) for _ in range(2)]
    queue.finish(tm, jobs[0], "completed", {})
    queue.fail(tm, jobs[1], "boom")
    with tm:
        queue.cancel(tm, ids[2])
    for job_id in ids[:3]:
        doc = queue.get(job_id)
        assert doc["completed"] is not None
        assert doc["completedSeq"] // 10**9 == int(
            doc["completed"].timestamp())
    assert "completedSeq" not in queue.get(ids[3])


def test_ended_reads_the_latest_finished_jobs(queue, tm, clock):
    started = clock.now()
    ids = [enqueue(queue, tm) for _ in range(5)]
    for _ in ids[:4]:
        queue.finish(tm, queue.claim(tm, OWNER, 30), "completed", {})
    ended = queue.ended(started, limit=3, projection=["status"])
    assert [str(d["_id"]) for d in ended] == ids[3:0:-1]
    assert set(ended[0]) == {"_id", "status", "completedSeq"}
    later = clock.now() + datetime.timedelta(seconds=5)
    assert queue.ended(later) == []


def test_rerun_queues_a_copy_of_a_finished_job(make_queue, tm):
    queue = make_queue(max_retries=5, retry_delay=7)
    with tm:
        old_id = queue.enqueue(tm, "RunSpider", {
            "spiderName": "s", "args": {"a": "1"}, "settings": {"B": 2}},
            server_names=["node1", "node2"], max_retries=2, retry_delay=9)
    job = queue.claim(tm, OWNER, 30)
    queue.set_fields(tm, job, {"process": {"pid": 5}})
    queue.fail(tm, job, "boom", permanent=True)
    with tm:
        new_id = queue.rerun(tm, old_id)
    new, old = queue.get(new_id), queue.get(old_id)
    assert new["status"] == "queued" and old["status"] == "error"
    assert new["rerunOf"] == old_id
    assert (new["spiderName"], new["args"], new["settings"]) == (
        "s", {"a": "1"}, {"B": 2})
    assert (new["serverNames"], new["maxRetries"], new["retryDelay"]) == (
        ["node1", "node2"], 2, 9)
    assert new["retryCounter"] == 0 and new["errors"] == []
    for name in ("output", "process", "completed", "owner"):
        assert name not in new, name
    assert queue.count()["queued"] == 1


def test_rerun_refuses_a_job_that_has_not_ended(queue, tm):
    job_id = enqueue(queue, tm)
    with pytest.raises(InvalidParams, match="only a finished job"):
        queue.rerun(tm, job_id)
    with pytest.raises(JobNotFound):
        queue.rerun(tm, "0" * 24)


def test_list_reads_only_the_fields_asked_for(queue, tm):
    enqueue(queue, tm, spiderName="s", pkgName="p", big="x" * 1000)
    page, _ = queue.list({"spiderName": "s", "pkgName": "p"},
                         projection=["jobName"])
    assert set(page[0]) == {"_id", "jobName", "seq", "spiderName",
                            "pkgName"}


def test_the_queue_keeps_its_interface(queue):
    assert verifyObject(IJobQueue, queue)


def test_a_job_written_by_hand_is_adopted_counted_and_claimed(queue, tm):
    raw = queue.jobs.insert_one({"status": "queued", "jobName": "AddPackage",
                                 "serverNames": ["node1"]}).inserted_id
    assert queue.claim(tm, OWNER, 30) is None
    assert queue.adopt(tm) == 1
    assert queue.adopt(tm) == 0
    assert queue.count()["queued"] == 1

    job = queue.jobs.find_one({"_id": raw})
    assert (job["retryCounter"], job["maxRetries"], job["retryDelay"]) == \
        (0, 3, 5)
    assert job["errors"] == [] and job["_version"] == 1
    assert job["_type"] == "AddPackage" and job["__name__"] == str(raw)
    docs, _ = queue.list()
    assert [d["_id"] for d in docs] == [raw]
    claimed = queue.claim(tm, OWNER, 30)
    assert claimed["_id"] == raw and claimed["retryCounter"] == 1


def test_adopting_replaces_counts_that_are_not_numbers(queue, tm):
    raw = queue.jobs.insert_one({
        "status": "queued", "serverNames": ["node1"], "retryCounter": "x",
        "maxRetries": True, "retryDelay": -5, "errors": "none"}).inserted_id
    assert queue.adopt(tm) == 1
    job = queue.jobs.find_one({"_id": raw})
    assert (job["retryCounter"], job["maxRetries"], job["retryDelay"],
            job["errors"], job["jobName"]) == (0, 3, 5, [], None)


def test_adopting_leaves_other_servers_and_finished_jobs(queue, tm):
    queue.jobs.insert_one({"status": "queued", "serverNames": ["node2"]})
    queue.jobs.insert_one({"status": "completed", "serverNames": ["node1"]})
    assert queue.adopt(tm) == 0


def conflict_once(monkeypatch):
    """Make the next job state change meet a busy counter document."""
    from s01.worker.exceptions import WriteConflict
    from s01.worker.jobs import queue as module

    move = module._move
    calls = []

    def busy_once(*args, **kw):
        if not calls:
            calls.append(1)
            raise WriteConflict("write conflict: busy")
        return move(*args, **kw)

    monkeypatch.setattr(module, "_move", busy_once)


def test_a_busy_finish_is_not_mistaken_for_a_lost_job(
        queue, tm, monkeypatch):
    from s01.worker.exceptions import WriteConflict

    enqueue(queue, tm)
    job = queue.claim(tm, OWNER, 30)
    conflict_once(monkeypatch)
    with pytest.raises(WriteConflict):
        queue.finish(tm, job, "completed", {})
    assert queue.get(str(job["_id"]))["claim"] == job["claim"]
    assert queue.finish(tm, job, "completed", {}) is True


def test_a_busy_renewal_keeps_the_job(queue, tm, monkeypatch):
    from s01.worker.exceptions import WriteConflict
    from s01.worker.mongo import datamanager

    enqueue(queue, tm)
    job = queue.claim(tm, OWNER, 30)
    update = datamanager.MongoDataManager.update_where

    def busy(self, *args):
        monkeypatch.setattr(datamanager.MongoDataManager, "update_where",
                            update)
        raise WriteConflict("write conflict: busy")

    monkeypatch.setattr(datamanager.MongoDataManager, "update_where", busy)
    assert queue.renew(tm, job, 30) == "held"
    assert queue.renew(tm, job, 30) == "held"


def test_a_heartbeat_clears_earlier_runs_of_its_daemon_only(queue, tm,
                                                             clock):
    def beat(instance, name="node1", host="h1", processing=True):
        queue.beat(tm, instance, {"serverName": name, "host": host,
                                  "processing": processing})

    beat("stopped-run", processing=False)
    beat("silent-run")
    queue.store.db.servers.update_one(
        {"_id": "silent-run"},
        {"$set": {"lastSeen": clock.now() - datetime.timedelta(minutes=5)}})
    beat("still-beating")
    beat("other-host", host="h2", processing=False)
    beat("other-name", name="node2", processing=False)

    beat("new-run")
    assert sorted(d["_id"] for d in queue.servers()) == [
        "new-run", "other-host", "other-name", "still-beating"]
