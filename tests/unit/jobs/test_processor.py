"""The processor's threads against a real queue on a real server."""
import threading
import time

import pytest

from s01.worker.exceptions import JobFailed
from s01.worker.jobs.processor import JobProcessor
from tests.conftest import wait_for as shared_wait_for


def wait_for(predicate, timeout=30.0, interval=0.05):
    return shared_wait_for(predicate, timeout, interval)


@pytest.fixture
def make_processor(make_queue):
    processors = []

    def make(handlers, server_name="node1", threads=2, queue=None, **kw):
        queue = queue or make_queue(server_name, max_retries=3,
                                    retry_delay=0)
        kw.setdefault("poll_interval", 0.2)
        kw.setdefault("renew_interval", 0.2)
        kw.setdefault("reap_interval", 0.5)
        kw.setdefault("shutdown_grace", 1.0)
        processor = JobProcessor(queue=queue, handlers=handlers,
                                 threads=threads, server_name=server_name,
                                 **kw)
        processors.append(processor)
        return processor

    yield make
    for processor in processors:
        processor.stop(timeout=1.0)


def queue_job(processor, tm, name="Echo", **params):
    with tm:
        job_id = processor.queue.enqueue(tm, name, params)
    processor.wake(job_id)
    return job_id


def status_of(processor, job_id):
    return processor.queue.get(job_id)["status"]


def test_a_woken_job_runs_and_completes(make_processor, tm):
    processor = make_processor({"Echo": lambda ctx: {"echo": ctx.job["x"]}})
    assert processor.start() is True
    assert processor.is_alive() is True
    job_id = queue_job(processor, tm, x=42)
    wait_for(lambda: status_of(processor, job_id) == "completed")
    doc = processor.queue.get(job_id)
    assert doc["output"] == {"echo": 42}
    assert doc["retryCounter"] == 1
    assert doc["owner"]["instance"] == processor.instance
    assert processor.stop() is False
    assert processor.is_alive() is False


def test_failed_attempts_are_retried_up_to_max_retries(make_processor, tm):
    runs = []

    def always_fails(ctx):
        runs.append(ctx.job["retryCounter"])
        raise JobFailed("exit code 1", output={"code": 1})

    processor = make_processor({"Echo": always_fails})
    processor.start()
    job_id = queue_job(processor, tm)
    wait_for(lambda: status_of(processor, job_id) == "error")
    doc = processor.queue.get(job_id)
    assert runs == [1, 2, 3]
    assert doc["retryCounter"] == 3
    assert len(doc["errors"]) == 3
    assert doc["output"] == {"code": 1}


def test_a_crashing_handler_never_kills_a_thread(make_processor, tm):
    def crashes(ctx):
        raise RuntimeError("bug in a job")

    processor = make_processor({"Crash": crashes,
                                "Echo": lambda ctx: {"ok": True}},
                               threads=1)
    processor.start()
    bad = queue_job(processor, tm, "Crash")
    wait_for(lambda: processor.queue.get(bad)["retryCounter"] == 3
             and status_of(processor, bad) == "error")
    assert "internal error: RuntimeError: bug in a job" in \
        processor.queue.get(bad)["errors"][-1]["error"]
    good = queue_job(processor, tm)
    wait_for(lambda: status_of(processor, good) == "completed")
    assert processor.is_alive() is True


def test_an_unknown_job_type_ends_in_error_at_once(make_processor, tm):
    processor = make_processor({"Echo": lambda ctx: {}})
    processor.start()
    job_id = queue_job(processor, tm, "Nope")
    wait_for(lambda: status_of(processor, job_id) == "error")
    doc = processor.queue.get(job_id)
    assert doc["retryCounter"] == 1
    assert "unknown job type 'Nope'" in doc["errors"][0]["error"]


def test_cancel_stops_a_running_job(make_processor, tm):
    started = threading.Event()

    def waits(ctx):
        started.set()
        ctx.stopping.wait(30)
        return {"stopped": ctx.reason}

    processor = make_processor({"Echo": waits})
    processor.start()
    job_id = queue_job(processor, tm)
    assert started.wait(10)
    assert processor.cancel_local(job_id) is True
    wait_for(lambda: status_of(processor, job_id) == "cancelled")
    assert processor.queue.get(job_id)["output"] == {"stopped": "cancel"}


def test_a_cancel_request_reaches_the_runner_through_its_lease(
        make_processor, make_queue, tm):
    started = threading.Event()

    def waits(ctx):
        started.set()
        ctx.stopping.wait(30)
        return {"stopped": ctx.reason}

    processor = make_processor({"Echo": waits})
    processor.start()
    job_id = queue_job(processor, tm)
    assert started.wait(10)
    other = make_queue("node1")
    with tm:
        assert other.cancel(tm, job_id) == "processing"
    wait_for(lambda: status_of(processor, job_id) == "cancelled")


def test_stop_gives_running_jobs_back_to_the_queue(make_processor, tm):
    started = threading.Event()

    def waits(ctx):
        started.set()
        ctx.stopping.wait(30)
        return {}

    processor = make_processor({"Echo": waits})
    processor.start()
    job_id = queue_job(processor, tm)
    assert started.wait(10)
    processor.stop(timeout=0.5)
    doc = processor.queue.get(job_id)
    assert doc["status"] == "queued"
    assert doc["retryCounter"] == 0
    assert "interrupted by shutdown" in doc["errors"][-1]["error"]


def test_two_processors_of_one_server_run_each_job_once(
        make_processor, tm):
    running = set()
    ran = []
    lock = threading.Lock()

    def record(ctx):
        with lock:
            assert ctx.job_id not in running
            running.add(ctx.job_id)
            ran.append(ctx.job_id)
        time.sleep(0.001)
        with lock:
            running.discard(ctx.job_id)
        return {}

    first = make_processor({"Echo": record}, threads=3)
    second = make_processor({"Echo": record}, threads=3)
    with tm:
        ids = [first.queue.enqueue(tm, "Echo", {}) for _ in range(200)]
    first.start()
    second.start()
    wait_for(lambda: first.queue.count()["completed"] == 200, timeout=120)
    assert sorted(ran) == sorted(ids)
    assert first.is_alive() and second.is_alive()


def test_a_dead_thread_is_reported_and_restarted(make_processor):
    processor = make_processor({})
    processor.start()
    processor.kill_thread_for_testing()
    wait_for(lambda: not processor.is_alive(), timeout=10)
    assert processor.start() is True
    assert processor.is_alive() is True


def test_the_heartbeat_names_the_running_jobs(make_processor, tm):
    started = threading.Event()

    def waits(ctx):
        started.set()
        ctx.stopping.wait(30)
        return {}

    processor = make_processor({"Echo": waits}, heartbeat_interval=0.2)
    processor.start()
    job_id = queue_job(processor, tm)
    assert started.wait(10)
    servers = wait_for(lambda: [
        s for s in processor.queue.servers()
        if s["_id"] == processor.instance and s["runningJobs"] == [job_id]])
    assert servers[0]["serverName"] == "node1"
    assert servers[0]["alive"] is True
    processor.cancel_local(job_id)


def test_a_job_end_that_cannot_be_written_never_kills_a_thread(
        make_processor, tm, monkeypatch):
    processor = make_processor({"Echo": lambda ctx: {}}, threads=1)
    finish = processor.queue.finish
    broken = []

    def finish_once_broken(tm, job, status, output):
        if not broken:
            broken.append(job["_id"])
            raise KeyError("maxRetries")
        return finish(tm, job, status, output)

    monkeypatch.setattr(processor.queue, "finish", finish_once_broken)
    processor.start()
    queue_job(processor, tm)
    wait_for(lambda: broken)
    good = queue_job(processor, tm)
    wait_for(lambda: status_of(processor, good) == "completed")
    assert processor.is_alive() is True


def test_a_job_whose_lease_cannot_be_renewed_stops_before_it_ends(
        make_processor, tm, monkeypatch):
    import pymongo.errors

    stopped = []

    def waits(ctx):
        started = time.monotonic()
        ctx.stopping.wait(30)
        stopped.append((ctx.reason, time.monotonic() - started))
        return {}

    processor = make_processor({"Echo": waits}, lease_seconds=2.0)
    assert processor.fence_seconds == 1.0

    def unreachable(*args):
        raise pymongo.errors.AutoReconnect("connection refused")

    monkeypatch.setattr(processor.queue, "renew", unreachable)
    processor.start()
    queue_job(processor, tm)
    reason, seconds = wait_for(lambda: stopped)[0]
    assert reason == "lost"
    assert 0.9 <= seconds < 2.0
