"""The job queue: ``remoteJobs`` documents and every change of their state.

Delivery is at least once and never twice at the same time:

* **claim** picks a candidate with a cheap indexed read, then changes it
  with one conditional update (still ``queued``, still meant for this
  server, the version read) that sets ``processing``, the owner, a fresh
  claim token and a lease. Mongo applies one document's update atomically,
  so of two daemons that saw the same candidate exactly one wins; the
  other's commit conflicts and it tries the next candidate.
  ``find_one_and_update`` would say the same in one call, but costs
  150 ms and more on the embedded server.
* **renew** extends the lease while the job runs; it also tells the
  runner when the job was taken away or someone asked to cancel it.
* **finish** and **fail** are updates filtered on the claim token: a
  runner whose lease ran out and whose job went to another daemon changes
  nothing.
* **reap** runs on every daemon: a job whose lease ran out (its daemon
  died or lost the database for longer than a lease) goes back to the
  queue, or ends ``error`` once its attempts are spent.

Counting attempts: ``retryCounter`` is the number of attempts made (a
claim adds one) and ``maxRetries`` the most attempts a job gets, so a job
with ``maxRetries`` 3 whose every run fails runs exactly three times and
ends ``error`` with ``retryCounter`` 3. After a failed attempt with
attempts left the job waits ``retryDelay`` seconds: ``retryTime`` is the
failure's time plus the delay, and no daemon claims it before then. A job
interrupted by its own daemon's shutdown goes back to the queue at once
and gets that attempt back; a job whose daemon died keeps the attempt it
used, so a job that kills its daemon every time cannot loop for ever.

Counting: every state change also moves the job between the counters in
``jobCounts`` (a few shards a status, so concurrent changes rarely write
the same counter), in the same commit, so ``count`` reads a handful of
small documents instead of counting 100,000 jobs. Writes that bypass this
module leave the counters behind until :meth:`JobQueue.recount`.

Jobs written into ``remoteJobs`` by hand (a script, an older client) lack
the positions and fields :meth:`JobQueue.enqueue` writes, so no claim,
count or list would see them: :meth:`JobQueue.adopt`, run by the keeper
of every daemon a job names, fills in what is missing or malformed and
counts the job; it is then claimed like any other.

Ending: a job that ends (completed, error or cancelled) gets
``completed``, its time, and ``completedSeq``, that time as a position,
so the pages can read the latest finished jobs one window at a time.

Running again: :meth:`JobQueue.rerun` queues a new job with a finished
job's type and parameters (``rerunOf`` names the old one); the finished
job stays as it was, its history intact.

Every time is the database server's (:mod:`s01.worker.jobs.clock`).
Every write goes through the transaction data manager; one transaction
is one state change.
"""
import datetime
import logging
import random
import secrets

import bson
from zope.interface import implementer

from s01.worker.exceptions import ConflictError
from s01.worker.exceptions import InvalidParams
from s01.worker.exceptions import JobNotFound
from s01.worker.exceptions import WriteConflict
from s01.worker.interfaces import IJobQueue
from s01.worker.jobs.clock import SEQ_PER_SECOND
from s01.worker.jobs.clock import seq_of
from s01.worker.jobs.windows import WindowScan
from s01.worker.mongo.datamanager import atomic

log = logging.getLogger(__name__)

QUEUED = "queued"
PROCESSING = "processing"
COMPLETED = "completed"
ERROR = "error"
CANCELLED = "cancelled"
STATUSES = (QUEUED, PROCESSING, COMPLETED, ERROR, CANCELLED)
FINISHED = (COMPLETED, ERROR, CANCELLED)

COLLECTION = "remoteJobs"
COUNTERS = "jobCounts"
SERVERS = "servers"
COUNTER_SHARDS = 8
# Filters the job lists offer, each backed by an index ending in ``seq``.
LIST_FILTERS = ("spiderName", "pkgName", "status", "jobName",
                "serverNames")
# How far behind the first queued job a claim scan starts, for jobs
# queued by daemons whose view of the server clock lags a little.
CLAIM_MARGIN = 5 * SEQ_PER_SECOND
# How often a claim scan starts over from the oldest possible position.
CLAIM_RESCAN_SECONDS = 60.0
CLAIM_CANDIDATES = 8
# How many windows ``ended`` first divides its time span into.
ENDED_WINDOWS = 16
ERROR_TEXT_LIMIT = 4000
# The queue's own fields of a job; whatever else a job holds is a
# parameter its handler reads, and a rerun copies it. ``process`` is the
# spider's pid, recorded while it runs.
QUEUE_FIELDS = frozenset({
    "_id", "__name__", "_type", "_version", "jobName", "active", "status",
    "serverNames", "retryCounter", "maxRetries", "retryDelay", "errors",
    "created", "modified", "queued", "picked", "started", "completed",
    "seq", "queueSeq", "completedSeq", "claim", "owner", "leaseUntil",
    "retryTime", "cancelRequested", "output", "process", "rerunOf"})
ADOPT_BATCH = 100
# What a hand-written job may hold; beyond that the defaults apply.
MAX_ATTEMPTS = 100
MAX_DELAY = 7 * 24 * 3600


@implementer(IJobQueue)
class JobQueue:
    """The queue of one daemon (its server name) on the shared database."""

    def __init__(self, store, clock, server_name, max_retries=3,
                 retry_delay=300):
        self.store = store
        self.clock = clock
        self.server_name = server_name
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.jobs = store.db[COLLECTION]
        self._claim_scan = WindowScan(self.jobs, "queueSeq", SEQ_PER_SECOND)
        self._claim_floor = 0
        self._claim_rescan_at = None

    def ensure_indexes(self):
        """Create the indexes that keep claims, counts and lists cheap."""
        self.jobs.create_index([("status", 1), ("serverNames", 1),
                                ("queueSeq", 1)], name="claim")
        self.jobs.create_index([("status", 1), ("leaseUntil", 1)],
                               name="lease")
        self.jobs.create_index([("seq", 1)], name="seq")
        self.jobs.create_index([("completedSeq", 1)], name="ended")
        for field in LIST_FILTERS:
            self.jobs.create_index([(field, 1), ("seq", 1)],
                                   name="list_%s" % field)

    # Adding jobs.

    def enqueue(self, tm, job_name, params, server_names=None,
                max_retries=None, retry_delay=None):
        """Queue a job; return its id (the text of its ObjectId).

        The job becomes visible when ``tm``'s transaction commits.
        """
        now = self.clock.now()
        job_id = bson.ObjectId()
        document = {
            "_id": job_id,
            "__name__": str(job_id),
            "_type": job_name,
            "jobName": job_name,
            "active": True,
            "status": QUEUED,
            "serverNames": list(server_names or [self.server_name]),
            "retryCounter": 0,
            "maxRetries": self.max_retries if max_retries is None
            else max_retries,
            "retryDelay": self.retry_delay if retry_delay is None
            else retry_delay,
            "errors": [],
            "created": now,
            "modified": now,
            "queued": now,
            "seq": seq_of(now),
            "queueSeq": seq_of(now),
            "claim": None,
        }
        document.update(params)
        manager = self._manager(tm)
        manager.insert(COLLECTION, document)
        _move(manager, None, QUEUED)
        log.info("job queued id=%s type=%s servers=%s", job_id, job_name,
                 ",".join(document["serverNames"]))
        return str(job_id)

    def adopt(self, tm):
        """Make jobs written by hand for this server claimable; count them.

        Returns the number adopted. Fields enqueue writes are added where
        missing, and attempt counts and delays that are not sensible
        numbers are replaced by the defaults, so a malformed job ends in
        its handler's error instead of stopping the queue.
        """
        found = list(self.jobs.find(
            {"status": QUEUED, "serverNames": self.server_name,
             "queueSeq": None}).limit(ADOPT_BATCH))
        adopted = 0
        for doc in found:
            now = self.clock.now()
            changes = {"queueSeq": seq_of(now), "modified": now,
                       "claim": None}
            for name, value in (("created", now), ("queued", now),
                                ("seq", seq_of(now)), ("active", True),
                                ("jobName", None), ("errors", []),
                                ("__name__", str(doc["_id"]))):
                if name not in doc:
                    changes[name] = value
            changes["_type"] = doc.get("_type") or changes.get(
                "jobName", doc.get("jobName"))
            for name, default, low, high in (
                    ("retryCounter", 0, 0, MAX_ATTEMPTS),
                    ("maxRetries", self.max_retries, 1, MAX_ATTEMPTS),
                    ("retryDelay", self.retry_delay, 0, MAX_DELAY)):
                if not _number_in(doc.get(name), low, high):
                    changes[name] = default
            if not isinstance(doc.get("errors", []), list):
                changes["errors"] = []
            try:
                with atomic(tm):
                    manager = self._manager(tm)
                    manager.update_where(
                        COLLECTION, {"_id": doc["_id"], "status": QUEUED,
                                     "queueSeq": None}, {"$set": changes})
                    _move(manager, None, QUEUED)
            except ConflictError:
                # Another daemon adopted it first.
                continue
            adopted += 1
            log.warning("job written by hand adopted id=%s type=%s fixed=%s",
                        doc["_id"], doc.get("jobName"),
                        ",".join(sorted(set(changes) - {
                            "queueSeq", "modified", "claim"})))
        return adopted

    # Claiming and holding jobs.

    def claim(self, tm, owner, lease_seconds, job_id=None):
        """Claim the next due job for this server; None if there is none.

        With ``job_id`` only that job is tried (the processor was told of
        it as it was queued). Returns the job document as it is after the
        claim, holding ``claim`` (the token every later write names).
        """
        now = self.clock.now()
        candidates = self._candidates(now, job_id)
        while candidates:
            candidate = candidates.pop(0)
            token = secrets.token_hex(16)
            changes = {
                "status": PROCESSING,
                "picked": now,
                "started": now,
                "modified": now,
                "owner": owner,
                "claim": token,
                "leaseUntil": now + _seconds(lease_seconds),
                "retryTime": now + _seconds(candidate.get(
                    "retryDelay", self.retry_delay)),
                "cancelRequested": False,
            }
            query = {"_id": candidate["_id"], "status": QUEUED,
                     "serverNames": self.server_name,
                     "_version": candidate["_version"]}
            try:
                with atomic(tm):
                    manager = self._manager(tm)
                    manager.update_where(
                        COLLECTION, query,
                        {"$set": changes, "$inc": {"retryCounter": 1}})
                    _move(manager, QUEUED, PROCESSING)
            except ConflictError:
                # Another claimer won this one. The others race for the
                # next in line too: try the rest in any order.
                random.shuffle(candidates)
                continue
            job = self.jobs.find_one({"_id": candidate["_id"]})
            log.info("job claimed id=%s type=%s attempt=%s",
                     job["_id"], job["jobName"], job["retryCounter"])
            return job
        return None

    def _candidates(self, now, job_id=None):
        """Due jobs for this server, oldest position first."""
        projection = {"_id": 1, "_version": 1, "queueSeq": 1,
                      "retryDelay": 1}
        if job_id is not None:
            doc = self.jobs.find_one(
                {"_id": bson.ObjectId(job_id), "status": QUEUED,
                 "serverNames": self.server_name,
                 "queueSeq": {"$lte": seq_of(now)}}, projection)
            return [doc] if doc else []

        # Start at the first queued job the last scan saw. Jobs queued
        # since by daemons whose clock view lags a little land just below
        # it, so look there first, and now and then below it all. Both
        # ranges are empty as a rule, and an empty range costs nothing,
        # however wide.
        query = {"status": QUEUED, "serverNames": self.server_name}
        stop = seq_of(now) + 1
        floor = self._claim_floor
        found = []
        if floor:
            low = max(0, floor - CLAIM_MARGIN)
            if now.timestamp() > (self._claim_rescan_at or 0):
                self._claim_rescan_at = now.timestamp() + \
                    CLAIM_RESCAN_SECONDS
                low = 0
            below = dict(query, queueSeq={"$gte": low, "$lt": floor})
            found = list(self.jobs.find(below, projection)
                         .sort("queueSeq", 1).limit(CLAIM_CANDIDATES))
        found += self._claim_scan.ascending(
            query, floor, stop, CLAIM_CANDIDATES - len(found), projection)
        self._claim_floor = found[0]["queueSeq"] if found else stop
        return found

    def renew(self, tm, job, lease_seconds):
        """Extend the lease of a job we hold.

        Returns ``"held"``, ``"cancel"`` (someone asked to cancel it) or
        ``"lost"`` (it is no longer ours: stop working on it).
        """
        now = self.clock.now()
        query = {"_id": job["_id"], "claim": job["claim"],
                 "status": PROCESSING}
        try:
            with atomic(tm):
                self._manager(tm).update_where(COLLECTION, query, {
                    "$set": {"leaseUntil": now + _seconds(lease_seconds)}})
        except WriteConflict:
            # Busy, not lost: the next renewal tries again.
            log.debug("job lease renewal conflicted id=%s", job["_id"])
            return "held"
        except ConflictError:
            log.warning("job lease lost id=%s", job["_id"])
            return "lost"
        current = self.jobs.find_one({"_id": job["_id"]},
                                     {"cancelRequested": 1})
        if current and current.get("cancelRequested"):
            return "cancel"
        return "held"

    def set_fields(self, tm, job, fields):
        """Record progress (a process id, stats so far) on a held job."""
        query = {"_id": job["_id"], "claim": job["claim"]}
        with atomic(tm):
            self._manager(tm).update_where(
                COLLECTION, query, {"$set": dict(fields)})

    # Ending attempts.

    def finish(self, tm, job, status, output):
        """End a held job as completed, error or cancelled.

        Returns False if the job was no longer ours (nothing changed).
        """
        now = self.clock.now()
        changes = {"status": status, "output": output, "modified": now,
                   "claim": None, "leaseUntil": None}
        changes.update(_ended(now))
        if self._end(tm, job, {"$set": changes}, status):
            log.info("job finished id=%s type=%s status=%s", job["_id"],
                     job["jobName"], status)
            return True
        return False

    def fail(self, tm, job, error, output=None, permanent=False):
        """Record a failed attempt: retry after ``retryDelay`` or end
        ``error`` once the attempts are spent (or at once if permanent).

        Returns the job's new status, or None if it was no longer ours.
        """
        now = self.clock.now()
        attempts = job["retryCounter"]
        entry = self._error_entry(now, attempts, error)
        if permanent or attempts >= job["maxRetries"]:
            status = ERROR
            changes = dict(_ended(now), status=ERROR)
        else:
            status = QUEUED
            retry_time = now + _seconds(job["retryDelay"])
            changes = {"status": QUEUED, "retryTime": retry_time,
                       "queueSeq": seq_of(retry_time)}
        changes.update({"output": output, "modified": now, "claim": None,
                        "leaseUntil": None, "owner": None})
        if not self._end(tm, job, {"$set": changes,
                                   "$push": {"errors": entry}}, status):
            return None
        log.info("job attempt failed id=%s type=%s attempt=%s status=%s "
                 "error=%s", job["_id"], job["jobName"], attempts, status,
                 _first_line(error))
        return status

    def release(self, tm, job, reason):
        """Give a held job back to the queue at once, attempt refunded.

        Used when this daemon shuts down while the job runs.
        """
        now = self.clock.now()
        changes = {"status": QUEUED, "queueSeq": seq_of(now),
                   "modified": now, "claim": None, "leaseUntil": None,
                   "owner": None}
        entry = self._error_entry(now, job["retryCounter"], reason)
        if self._end(tm, job, {"$set": changes, "$push": {"errors": entry},
                               "$inc": {"retryCounter": -1}}, QUEUED):
            log.info("job released id=%s reason=%s", job["_id"], reason)
            return True
        return False

    def _end(self, tm, job, update, status):
        query = {"_id": job["_id"], "claim": job["claim"],
                 "status": PROCESSING}
        try:
            with atomic(tm):
                manager = self._manager(tm)
                manager.update_where(COLLECTION, query, update)
                _move(manager, PROCESSING, status)
        except WriteConflict:
            # Still ours; the caller tries again.
            raise
        except ConflictError:
            # The lease ran out and the job went elsewhere; a late writer
            # must change nothing.
            log.warning("job no longer ours id=%s type=%s", job["_id"],
                        job["jobName"])
            return False
        return True

    def _error_entry(self, now, attempt, error):
        return {"time": now, "attempt": attempt, "server": self.server_name,
                "error": str(error)[-ERROR_TEXT_LIMIT:]}

    # Recovering from dead daemons.

    def reap(self, tm):
        """Return jobs whose lease ran out to the queue, or fail them.

        Returns the number of jobs changed. Any daemon may run this; the
        conditional update lets exactly one of them change each job.
        """
        now = self.clock.now()
        expired = list(self.jobs.find(
            {"status": PROCESSING, "leaseUntil": {"$lt": now}},
            {"_id": 1, "claim": 1, "retryCounter": 1, "maxRetries": 1,
             "jobName": 1, "owner": 1, "cancelRequested": 1}).limit(100))
        changed = 0
        for job in expired:
            owner = (job.get("owner") or {}).get("server", "?")
            reason = "lease expired: daemon %s stopped renewing it" % owner
            if job.get("cancelRequested"):
                changes = dict(_ended(now), status=CANCELLED)
            elif job["retryCounter"] >= job["maxRetries"]:
                changes = dict(_ended(now), status=ERROR)
            else:
                changes = {"status": QUEUED, "queueSeq": seq_of(now)}
            changes.update({"modified": now, "claim": None,
                            "leaseUntil": None, "owner": None})
            entry = self._error_entry(now, job["retryCounter"], reason)
            query = {"_id": job["_id"], "claim": job["claim"],
                     "status": PROCESSING}
            try:
                with atomic(tm):
                    manager = self._manager(tm)
                    manager.update_where(
                        COLLECTION, query,
                        {"$set": changes, "$push": {"errors": entry}})
                    _move(manager, PROCESSING, changes["status"])
            except ConflictError:
                # Renewed or reaped by someone else in the meantime.
                continue
            changed += 1
            log.warning("job reaped id=%s type=%s owner=%s status=%s",
                        job["_id"], job["jobName"], owner,
                        changes["status"])
        return changed

    # Cancelling.

    def cancel(self, tm, job_id):
        """Cancel a job: at once if queued, by its runner if processing.

        Joins ``tm``'s transaction; a job that moves on before the commit
        makes the commit conflict (and a request retry). Returns the
        job's status afterwards: ``cancelled``, or ``processing`` while
        its runner stops it, or the finished status it already had.
        """
        oid = job_object_id(job_id)
        now = self.clock.now()
        doc = self.jobs.find_one({"_id": oid}, {"status": 1})
        if doc is None:
            raise JobNotFound(job_id)
        if doc["status"] == QUEUED:
            update = {"$set": dict(_ended(now), status=CANCELLED,
                                   modified=now)}
            answer = CANCELLED
        elif doc["status"] == PROCESSING:
            update = {"$set": {"cancelRequested": True, "modified": now}}
            answer = PROCESSING
        else:
            return doc["status"]
        manager = self._manager(tm)
        manager.update_where(
            COLLECTION, {"_id": oid, "status": doc["status"]}, update)
        if answer == CANCELLED:
            _move(manager, QUEUED, CANCELLED)
        log.info("job cancel requested id=%s was=%s", job_id, doc["status"])
        return answer

    # Daemons sharing the queue.

    def beat(self, tm, instance, fields, alive_seconds=30.0):
        """Write one daemon's heartbeat document, ``lastSeen`` now.

        A daemon that runs again (a restart, a start that failed) gets a
        new instance and document; the documents of its earlier runs on
        the same host under the same name go, once they have stopped or
        fallen silent, so the list of servers does not grow with every
        restart. A daemon of that name still beating (a rolling restart)
        stays.
        """
        now = self.clock.now()
        changes = dict(fields, lastSeen=now)
        with atomic(tm):
            manager = self._manager(tm)
            manager.upsert(SERVERS, instance, changes)
            if fields.get("serverName") and fields.get("host"):
                manager.delete_many(SERVERS, {
                    "_id": {"$ne": instance},
                    "serverName": fields["serverName"],
                    "host": fields["host"],
                    "$or": [{"processing": False}, {"lastSeen": {
                        "$lt": now - _seconds(alive_seconds)}}]})

    def servers(self, alive_seconds=30.0):
        """Every daemon's heartbeat, with ``alive`` and ``secondsAgo``."""
        now = self.clock.now()
        docs = []
        for doc in self.store.db[SERVERS].find().sort("serverName", 1):
            seen = doc.get("lastSeen")
            ago = (now - seen).total_seconds() if seen else None
            doc["secondsAgo"] = ago
            doc["alive"] = ago is not None and ago < alive_seconds and \
                bool(doc.get("processing", True))
            docs.append(doc)
        return docs

    # Reading.

    def get(self, job_id):
        """The job document, or raise JobNotFound."""
        doc = self.jobs.find_one({"_id": job_object_id(job_id)})
        if doc is None:
            raise JobNotFound(job_id)
        return doc

    def status(self, job_id):
        return self.get(job_id)["status"]

    def count(self):
        """The number of jobs in every status, zeros included."""
        counts = dict.fromkeys(STATUSES, 0)
        for doc in self.store.db[COUNTERS].find():
            status = doc["_id"].split("/")[0]
            if status in counts:
                counts[status] += doc.get("n", 0)
        return counts

    def recount(self, tm):
        """Count the jobs of every status and reset the counters to it.

        Inside a MongoDB transaction where the server has them, so a
        concurrent change either lands before the count or conflicts and
        retries. Costs a scan of every job on the embedded server.
        """
        def reset(manager, db, session):
            counters = db[COUNTERS]
            counters.delete_many({}, session=session)
            for status in STATUSES:
                n = db[COLLECTION].count_documents({"status": status},
                                                   session=session)
                counters.insert_one({"_id": "%s/0" % status, "n": n},
                                    session=session)

        with atomic(tm):
            self._manager(tm).call(reset)
        counts = self.count()
        log.info("jobs recounted %s", " ".join(
            "%s=%d" % item for item in sorted(counts.items())))
        return counts

    def list(self, filters=None, before=None, limit=20, projection=None):
        """A page of jobs, newest first, and the cursor of the next page.

        ``filters`` maps names of :data:`LIST_FILTERS` to values;
        ``before`` is the cursor a previous page returned (None for the
        first page). The cursor is None when no older job exists.
        ``projection`` lists the fields to read (a page of summaries need
        not read every job's output); None reads whole documents.
        """
        wanted = {}
        for name, value in (filters or {}).items():
            if name not in LIST_FILTERS:
                raise InvalidParams("filters: unknown filter %r (known: %s)"
                                    % (name, ", ".join(LIST_FILTERS)))
            if value not in (None, ""):
                wanted[name] = value

        # The embedded server plans a query with two equality filters as a
        # full scan, so it gets the most selective one and Python checks
        # the others.
        query = {}
        accept = None
        if wanted:
            first = next(n for n in LIST_FILTERS if n in wanted)
            query = {first: wanted[first]}
            rest = {n: v for n, v in wanted.items() if n != first}
            if rest:
                def accept(doc):
                    return all(_matches(doc.get(n), v)
                               for n, v in rest.items())

        if projection is not None:
            # The filters checked in Python and the cursor must be read.
            projection = dict.fromkeys(
                set(projection) | set(wanted) | {"seq"}, 1)
        stop = before if before is not None else \
            seq_of(self.clock.now()) + 60 * SEQ_PER_SECOND
        scan = WindowScan(self.jobs, "seq", 10 * SEQ_PER_SECOND)
        docs = scan.descending(query, 0, stop, limit + 1, projection,
                               accept=accept)
        if len(docs) > limit:
            return docs[:limit], docs[limit - 1]["seq"]
        return docs, None

    def ended(self, since, limit=2000, projection=None):
        """The jobs that ended at ``since`` or later, latest first.

        At most ``limit`` of them; ``projection`` names the fields to read
        (``completedSeq`` is always read: the scan steps by it).
        """
        if projection is not None:
            projection = dict.fromkeys(set(projection) | {"completedSeq"}, 1)
        start = seq_of(since)
        stop = seq_of(self.clock.now()) + 60 * SEQ_PER_SECOND

        # A few wide windows rather than many narrow ones: the scan widens
        # only after an empty window, and a busy hour is rarely empty.
        scan = WindowScan(self.jobs, "completedSeq",
                          max((stop - start) // ENDED_WINDOWS, 1))
        return scan.descending({}, start, stop, limit, projection)

    def rerun(self, tm, job_id):
        """Queue a new job like a finished one; return the new job's id.

        The new job has the old one's type, parameters, servers and retry
        settings, fresh attempts, and ``rerunOf`` naming the old job.
        Raises InvalidParams for a job that has not ended yet.
        """
        old = self.get(job_id)
        if old["status"] not in FINISHED:
            raise InvalidParams(
                "jobid: job %s is %s; only a finished job (%s) runs again"
                % (old["_id"], old["status"], ", ".join(FINISHED)))
        params = {name: value for name, value in old.items()
                  if name not in QUEUE_FIELDS}
        params["rerunOf"] = str(old["_id"])
        new_id = self.enqueue(tm, old["jobName"], params,
                              server_names=old.get("serverNames"),
                              max_retries=old.get("maxRetries"),
                              retry_delay=old.get("retryDelay"))
        log.info("job rerun id=%s of=%s", new_id, old["_id"])
        return new_id

    def remove(self, tm, stati=None):
        """Remove finished jobs of the given stati; return the counts."""
        stati = list(FINISHED if stati is None else stati)
        unknown = [s for s in stati if s not in FINISHED]
        if unknown:
            raise InvalidParams(
                "stati: only finished jobs (%s) can be removed, not %s"
                % (", ".join(FINISHED), ", ".join(map(str, unknown))))
        counts = {}
        for status in FINISHED:
            counts[status] = 0
            if status in stati:
                counts[status] = self.jobs.count_documents(
                    {"status": status})
                self._manager(tm).delete_many(
                    COLLECTION, {"status": status},
                    on_deleted=_counted_removal(status))
        log.info("jobs removed %s", " ".join(
            "%s=%d" % item for item in sorted(counts.items())))
        return counts

    def _manager(self, tm):
        return self.store.data_manager(tm)


def _move(manager, old, new, n=1):
    """Queue moving ``n`` jobs from the counter of ``old`` to ``new``."""
    if old == new:
        return
    for status, step in ((old, -n), (new, n)):
        if status is not None:
            shard = random.randrange(COUNTER_SHARDS)
            manager.increment(COUNTERS, "%s/%d" % (status, shard),
                              {"n": step})


def _ended(now):
    """The fields every job gets as it ends: the time and its position."""
    return {"completed": now, "completedSeq": seq_of(now)}


def _counted_removal(status):
    def on_deleted(count, manager):
        if count:
            _move(manager, status, None, count)
    return on_deleted


def job_object_id(job_id):
    """The ObjectId of a job id given by a caller, or InvalidParams."""
    if isinstance(job_id, str) and bson.ObjectId.is_valid(job_id) and \
            len(job_id) == 24:
        return bson.ObjectId(job_id)
    raise InvalidParams("jobid: %r is not a job id (24 hex digits)"
                        % (job_id,))


def _matches(stored, wanted):
    """Equality as Mongo means it, arrays matching any of their items."""
    if isinstance(stored, list):
        return wanted in stored
    return stored == wanted


def _number_in(value, low, high):
    """True for an int or float (not a bool) from low to high."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and low <= value <= high


def _seconds(value):
    return datetime.timedelta(seconds=value)


def _first_line(text):
    lines = str(text).strip().splitlines()
    return lines[-1] if lines else ""


__all__ = ["JobQueue", "STATUSES", "FINISHED", "QUEUED", "PROCESSING",
           "COMPLETED", "ERROR", "CANCELLED", "job_object_id"]
