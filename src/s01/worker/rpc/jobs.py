"""The JSON-RPC methods about jobs: status, counts, lists, cancel, remove.

The ``start*`` methods that queue jobs live beside the package methods
(:mod:`s01.worker.rpc.packages`), which validate the same arguments.
"""
import logging

from s01.worker.exceptions import InvalidParams
from s01.worker.jobs import ensure_job_factories
from s01.worker.jobs.queue import PROCESSING
from s01.worker.jobs.queue import job_object_id
from s01.worker.rpc import jsonrpc_method
from s01.worker.security import MANAGE

log = logging.getLogger(__name__)

MAX_PAGE = 100
SUMMARY_FIELDS = ("jobName", "status", "serverNames", "pkgName",
                  "pkgVersion", "pyVersion", "spiderName",
                  "sourceServerName", "retryCounter", "maxRetries",
                  "queued", "started", "completed", "seq")


@jsonrpc_method("ensureJobFactories", permission=MANAGE)
def ensure_job_factories_method(request):
    """Install the job types; ``[messages, changed]``."""
    messages, changed = ensure_job_factories(request.registry)
    return [messages, changed]


@jsonrpc_method("getJobStatus")
def get_job_status(request, jobid):
    """The status of one job: queued, processing, completed, error or
    cancelled."""
    return request.jobs.status(jobid)


@jsonrpc_method("getJob")
def get_job(request, jobid):
    """The whole job document, times as ISO 8601 text."""
    return job_document(request.jobs.get(jobid))


@jsonrpc_method("countJobs")
def count_jobs(request):
    """The number of jobs in every status, zeros included."""
    return request.jobs.count()


@jsonrpc_method("listJobs")
def list_jobs(request, filters=None, before=None, limit=20):
    """A page of jobs, newest first: ``{jobs, next}``.

    ``filters`` may hold status, jobName, serverNames, pkgName and
    spiderName; pass ``next`` as ``before`` for the following page.
    """
    if filters is not None and not isinstance(filters, dict):
        raise InvalidParams("filters: must be an object or null")
    for name, value in (filters or {}).items():
        if value is not None and not isinstance(value, str):
            raise InvalidParams("filters: %s must be a string" % name)
    if before is not None and (isinstance(before, bool)
                               or not isinstance(before, int)
                               or not 0 <= before < 2 ** 63):
        raise InvalidParams("before: must be the integer a page returned")
    if isinstance(limit, bool) or not isinstance(limit, int) or \
            not 1 <= limit <= MAX_PAGE:
        raise InvalidParams("limit: must be an integer from 1 to %d"
                            % MAX_PAGE)
    docs, cursor = request.jobs.list(filters, before, limit)
    return {"jobs": [job_summary(doc) for doc in docs], "next": cursor}


@jsonrpc_method("cancelJob", permission=MANAGE)
def cancel_job(request, jobid):
    """Cancel a job; answers ``cancelled``, or ``processing`` while its
    runner stops it (it then ends ``cancelled``)."""
    status = request.jobs.cancel(request.tm, jobid)
    if status == PROCESSING:
        # The runner may be ours: stop it as soon as the request commits
        # rather than at its next lease renewal.
        job_id = str(job_object_id(jobid))
        request.tm.get().addAfterCommitHook(
            _cancel_after_commit, args=(request.processor, job_id))
    log.info("job cancel id=%s status=%s user=%s", jobid, status,
             request.authenticated_userid)
    return status


@jsonrpc_method("removeJobs", permission=MANAGE)
def remove_jobs(request, stati=None):
    """Remove finished jobs (default: completed, error and cancelled)."""
    if stati is not None and (not isinstance(stati, list) or
                              not all(isinstance(s, str) for s in stati)):
        raise InvalidParams("stati: must be a list of status names")
    counts = request.jobs.remove(request.tm, stati)
    return {"error": None, "result": counts, "status": True}


@jsonrpc_method("listServers")
def list_servers(request):
    """Every daemon sharing the database, from its heartbeat."""
    return [server_summary(doc) for doc in request.jobs.servers()]


def job_summary(doc):
    """The fields of a job a list shows."""
    summary = {"id": str(doc["_id"])}
    summary.update({name: doc.get(name) for name in SUMMARY_FIELDS})
    summary["owner"] = (doc.get("owner") or {}).get("server")
    return summary


def job_document(doc):
    """A job document as JSON-RPC answers it."""
    doc = dict(doc)
    doc["_id"] = str(doc["_id"])
    doc.pop("claim", None)
    return doc


def server_summary(doc):
    doc = dict(doc)
    doc["instance"] = doc.pop("_id")
    return doc


def _cancel_after_commit(committed, processor, job_id):
    if committed:
        processor.cancel_local(job_id)
