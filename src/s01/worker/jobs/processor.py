"""The job processor: a small pool of threads inside the daemon.

Each worker thread claims one job at a time and runs its handler, so the
number of threads is the number of jobs (spiders, installs) this daemon
runs at once. A job queued on this daemon wakes a worker at once with
the job's id; jobs queued by other daemons are found by polling every
``poll_interval`` seconds. One keeper thread renews the leases of the
running jobs, passes cancel requests to them, writes this daemon's
heartbeat and reaps jobs whose daemon died.

What the processor promises:

* ``is_alive`` tells whether the worker threads really run, not whether
  someone once asked them to; ``start`` brings back a thread that died.
* A failing job never ends a thread, and a database outage pauses work
  until the database answers again (the loop logs once and backs off).
* ``stop`` stops claiming, lets running jobs finish for ``shutdown_grace``
  seconds, then stops them; each stopped job goes back to the queue with
  its attempt refunded, so no job is left in ``processing``.
* A job whose lease could not be renewed (the database unreachable from
  here) is stopped, reason ``lost``, before the lease runs out
  (``fence_seconds`` after its last renewal), so another daemon's reaper
  never hands it on while it still runs here; it runs again once the
  database is back. An outage shorter than that pauses nothing.

A handler is a callable taking a :class:`JobContext` and returning the
job's ``output``. It raises :class:`~s01.worker.exceptions.JobFailed` for
a failed attempt and watches ``context.stopping`` to stop early.
"""
import logging
import os
import queue as stdqueue
import random
import socket
import threading
import time
import traceback
import uuid

import pymongo.errors
import transaction
from zope.interface import implementer

from s01.worker.exceptions import JobFailed
from s01.worker.exceptions import WriteConflict
from s01.worker.interfaces import IProcessor
from s01.worker.jobs.queue import CANCELLED
from s01.worker.jobs.queue import COMPLETED

log = logging.getLogger(__name__)

_WAKE = None
_STOP = object()
# How often the fence looks at the running jobs' leases.
FENCE_POLL = 0.2


class _ThreadKilled(BaseException):
    """Raised inside a worker thread by the test hook that kills it."""


class JobContext:
    """What a handler gets: the job, a stop signal and a way to report."""

    def __init__(self, processor, job, fence_at=None):
        self.processor = processor
        self.job = job
        # When to stop the job if its lease is not renewed by then.
        self.fence_at = fence_at
        self.stopping = threading.Event()
        self.reason = None
        self._lock = threading.Lock()
        self._on_stop = []

    @property
    def job_id(self):
        return str(self.job["_id"])

    def stop(self, reason):
        """Ask the handler to stop: ``cancel``, ``shutdown`` or ``lost``."""
        with self._lock:
            if self.reason is None:
                self.reason = reason
            callbacks = list(self._on_stop)
        self.stopping.set()
        for callback in callbacks:
            callback(reason)

    def on_stop(self, callback):
        """Call ``callback(reason)`` when the job is asked to stop (at
        once if it already was)."""
        with self._lock:
            self._on_stop.append(callback)
            reason = self.reason
        if reason is not None:
            callback(reason)

    def record(self, fields):
        """Store progress on the job document (a process id, counts)."""
        tm = transaction.TransactionManager(explicit=True)
        try:
            self.processor.queue.set_fields(tm, self.job, fields)
        except Exception as exc:
            # Progress is for people watching; losing one update (the
            # database is away, or the job was taken from us) is fine.
            log.debug("job progress not stored id=%s error=%s",
                      self.job_id, exc)


@implementer(IProcessor)
class JobProcessor:
    """Start, stop and watch the worker threads and the keeper."""

    def __init__(self, queue=None, handlers=None, threads=1,
                 poll_interval=1.0, server_name=None, lease_seconds=30.0,
                 renew_interval=2.0, reap_interval=5.0,
                 heartbeat_interval=5.0, shutdown_grace=10.0, address=None,
                 registry=None, settings=None):
        self.queue = queue
        # The handlers' way to the rest of the daemon (its utilities and
        # settings).
        self.registry = registry
        self.settings = settings or {}
        self.handlers = dict(handlers or {})
        self.size = threads
        self.poll_interval = poll_interval
        self.server_name = server_name
        self.lease_seconds = lease_seconds
        self.renew_interval = renew_interval
        self.reap_interval = reap_interval
        self.heartbeat_interval = heartbeat_interval
        self.shutdown_grace = shutdown_grace
        # A job stops this long after its last renewal: early enough that
        # it is gone (a spider is killed at once) before the lease ends.
        self.fence_seconds = lease_seconds - max(1.0, lease_seconds / 5)
        self.address = address
        self.instance = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.startTime = None
        self._threads = []
        self._keeper = None
        self._fence = None
        self._hints = stdqueue.SimpleQueue()
        self._stopping = threading.Event()
        self._kill = threading.Event()
        self._lock = threading.Lock()
        self._running = {}
        self._outage = False
        self.before_start = None
        # Callables the keeper runs before each reap (clearing what dead
        # daemons on this host left behind), errors logged.
        self.housekeeping = []

    # Life cycle.

    def start(self):
        if self.before_start is not None:
            self.before_start()
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            if len(self._threads) >= self.size and self._keeper_alive():
                return True
            self._stopping.clear()
            self._kill.clear()
            names = {t.name for t in self._threads}
            for number in range(self.size):
                name = "s01-worker-%d" % number
                if name in names:
                    continue
                thread = threading.Thread(target=self._work, name=name,
                                          daemon=True)
                thread.start()
                self._threads.append(thread)
            if self.queue is not None and not self._keeper_alive():
                self._keeper = threading.Thread(
                    target=self._keep, name="s01-keeper", daemon=True)
                self._keeper.start()
            if self._fence is None or not self._fence.is_alive():
                self._fence = threading.Thread(
                    target=self._watch_leases, name="s01-fence",
                    daemon=True)
                self._fence.start()
            self.startTime = time.time()
        log.info("processor started threads=%d server=%s instance=%s",
                 self.size, self.server_name, self.instance)
        return True

    def stop(self, timeout=None):
        grace = self.shutdown_grace if timeout is None else timeout
        with self._lock:
            threads, self._threads = self._threads, []
            keeper, self._keeper = self._keeper, None
            if not threads and keeper is None:
                return False
            self._stopping.set()
            for _ in threads:
                self._hints.put(_STOP)

        # Running jobs get the grace period to end by themselves; then
        # they are told to stop and go back to the queue.
        deadline = time.monotonic() + grace
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for context in self.running_contexts():
            context.stop("shutdown")
        for thread in threads:
            thread.join(grace + 5.0)
        if keeper is not None:
            keeper.join(self.renew_interval + 5.0)
        fence, self._fence = self._fence, None
        if fence is not None:
            fence.join(FENCE_POLL + 5.0)
        alive = any(t.is_alive() for t in threads)
        log.info("processor stopped alive=%s server=%s", alive,
                 self.server_name)
        self._write_heartbeat(processing=False)
        return alive

    def is_alive(self):
        with self._lock:
            return any(t.is_alive() for t in self._threads)

    def wake(self, job_id=None):
        """Look for work now; with ``job_id``, try that job first."""
        self._hints.put(job_id)

    def cancel_local(self, job_id):
        """Stop a job running here at once; False if it does not run here.
        """
        with self._lock:
            context = self._running.get(str(job_id))
        if context is None:
            return False
        context.stop("cancel")
        return True

    def running_contexts(self):
        with self._lock:
            return list(self._running.values())

    def kill_thread_for_testing(self):
        """Test hook: end the worker threads abruptly, as a crash would."""
        self._kill.set()
        for _ in range(self.size):
            self._hints.put(_WAKE)

    # The worker threads.

    def _work(self):
        tm = transaction.TransactionManager(explicit=True)
        busy = False
        try:
            while not self._stopping.is_set():
                # After a job, more may be waiting: look again at once.
                hint = _WAKE if busy else self._next_hint()
                if hint is _STOP or self._stopping.is_set():
                    return
                if self._kill.is_set():
                    raise _ThreadKilled()
                job, leased_at = self._claim(tm, hint) if self.queue \
                    else (None, None)
                busy = job is not None
                if busy:
                    try:
                        self._run(tm, job, leased_at)
                    except Exception:
                        # The loop's boundary: a job whose end could not
                        # be written (a malformed document) must not end
                        # the thread; its lease runs out and the reaper
                        # settles it.
                        log.exception("processor job end failed id=%s",
                                      job.get("_id"))
        except _ThreadKilled:
            log.warning("processor thread killed by test hook name=%s",
                        threading.current_thread().name)

    def _next_hint(self):
        try:
            return self._hints.get(timeout=self.poll_interval)
        except stdqueue.Empty:
            return _WAKE

    def _claim(self, tm, hint):
        """Claim a job: (job, monotonic time before its lease began), or
        (None, None)."""
        owner = {"server": self.server_name, "instance": self.instance,
                 "host": self.host, "pid": os.getpid(),
                 "thread": threading.current_thread().name}
        leased_at = time.monotonic()
        try:
            job = None
            if hint is not None:
                job = self.queue.claim(tm, owner, self.lease_seconds,
                                       job_id=hint)
            if job is None:
                job = self.queue.claim(tm, owner, self.lease_seconds)
        except pymongo.errors.PyMongoError as exc:
            self._database_away(exc)
            return None, None
        except Exception:
            # The boundary of the worker loop: a bug in claiming must not
            # end the thread; log it and poll again.
            log.exception("processor claim failed")
            time.sleep(self.poll_interval)
            return None, None
        self._database_back()
        return job, leased_at

    def _run(self, tm, job, leased_at=None):
        leased_at = time.monotonic() if leased_at is None else leased_at
        context = JobContext(self, job, leased_at + self.fence_seconds)
        job_id = context.job_id
        with self._lock:
            self._running[job_id] = context
        started = time.monotonic()
        try:
            status, output, error, permanent = self._call_handler(context)
        finally:
            with self._lock:
                self._running.pop(job_id, None)
        secs = time.monotonic() - started

        # Write the end of the attempt; through a database outage too.
        reason = context.reason
        if reason == "lost":
            log.warning("job abandoned id=%s secs=%.1f (lease lost)",
                        job_id, secs)
            return
        # A job asked to stop ends as asked, whatever its handler returned.
        if reason == "shutdown":
            self._persist(lambda: self.queue.release(
                tm, job, "interrupted by shutdown of %s" % self.server_name))
        elif reason == "cancel":
            self._persist(lambda: self.queue.finish(tm, job, CANCELLED,
                                                    output))
        elif error is not None:
            self._persist(lambda: self.queue.fail(tm, job, error, output,
                                                  permanent))
        else:
            self._persist(lambda: self.queue.finish(tm, job, COMPLETED,
                                                    output))
        log.info("job done id=%s type=%s secs=%.1f reason=%s error=%s",
                 job_id, job["jobName"], secs, reason, bool(error))

    def _call_handler(self, context):
        """Run the job's handler: (status, output, error, permanent)."""
        job = context.job
        handler = self.handlers.get(job.get("jobName"))
        if handler is None:
            return (None, None, "unknown job type %r (known: %s)" % (
                job.get("jobName"), ", ".join(sorted(self.handlers))), True)
        try:
            output = handler(context)
        except JobFailed as exc:
            return None, exc.output, str(exc), exc.permanent
        except Exception as exc:
            # The boundary between the processor and a job: whatever a job
            # raises becomes a failed attempt with a readable error, and
            # the thread lives on.
            log.exception("job handler failed id=%s type=%s",
                          context.job_id, job.get("jobName"))
            text = "".join(traceback.format_exception_only(type(exc), exc))
            return None, None, "internal error: %s" % text.strip(), False
        return COMPLETED, output, None, False

    def _persist(self, write):
        """Run a queue write, waiting out a database outage."""
        delay = 0.5
        while True:
            try:
                write()
            except WriteConflict:
                # Other transactions kept writing the same counters; the
                # job is still ours, so the same write is tried again.
                log.info("job end write conflicted; trying again")
                time.sleep(random.uniform(0, delay))
                continue
            except pymongo.errors.PyMongoError as exc:
                self._database_away(exc)
                if self._stopping.is_set() and delay > 8:
                    # Shutting down with the database away: the lease runs
                    # out and the reaper of a daemon that lives settles it.
                    log.warning("job end not written; left to the reaper")
                    return
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._database_back()
            return

    # The keeper thread.

    def _keep(self):
        tm = transaction.TransactionManager(explicit=True)
        next_reap = next_beat = 0.0
        while not self._stopping.wait(self.renew_interval):
            try:
                self._renew(tm)
                now = time.monotonic()
                if now >= next_beat:
                    self._write_heartbeat(processing=True)
                    next_beat = now + self.heartbeat_interval
                if now >= next_reap:
                    self.keep_house()
                    self.queue.reap(tm)
                    if self.queue.adopt(tm):
                        self.wake()
                    next_reap = now + self.reap_interval
            except pymongo.errors.PyMongoError as exc:
                self._database_away(exc)
            except Exception:
                # The keeper's loop boundary, as the workers': log, go on.
                log.exception("processor keeper failed")

    def keep_house(self):
        """Run the housekeeping callables; one failing stops no other."""
        for task in self.housekeeping:
            try:
                task()
            except pymongo.errors.PyMongoError as exc:
                log.warning("processor housekeeping postponed: database "
                            "unreachable error=%s", type(exc).__name__)
            except Exception:
                # Housekeeping is a boundary too: log it, keep the keeper.
                log.exception("processor housekeeping failed task=%s",
                              getattr(task, "__name__", task))

    def _renew(self, tm):
        for context in self.running_contexts():
            renewing_at = time.monotonic()
            answer = self.queue.renew(tm, context.job, self.lease_seconds)
            if answer == "held":
                context.fence_at = renewing_at + self.fence_seconds
            else:
                context.stop(answer)

    def _watch_leases(self):
        """Stop jobs whose lease was not renewed in time (see the module
        doc); no database call here, so an outage cannot hold it up."""
        while not self._stopping.wait(FENCE_POLL):
            now = time.monotonic()
            for context in self.running_contexts():
                if context.fence_at is not None and now > context.fence_at \
                        and not context.stopping.is_set():
                    log.warning("job fenced id=%s: lease not renewed for "
                                "%.1f s, stopped before it runs out",
                                context.job_id, self.fence_seconds)
                    context.stop("lost")

    def _write_heartbeat(self, processing):
        if self.queue is None:
            return
        try:
            tm = transaction.TransactionManager(explicit=True)
            self.queue.beat(tm, self.instance, {
                "serverName": self.server_name, "host": self.host,
                "pid": os.getpid(), "address": self.address,
                "startTime": self.startTime, "processing": processing,
                "threads": self.size,
                "runningJobs": sorted(c.job_id
                                      for c in self.running_contexts()),
            })
        except pymongo.errors.PyMongoError as exc:
            self._database_away(exc)

    # Database outages.

    def _database_away(self, exc):
        if not self._outage:
            log.warning("processor paused: database unreachable error=%s",
                        type(exc).__name__)
        self._outage = True
        time.sleep(min(self.poll_interval, 1.0))

    def _database_back(self):
        if self._outage:
            log.info("processor resumed: database reachable")
        self._outage = False

    def _keeper_alive(self):
        return self._keeper is not None and self._keeper.is_alive()
