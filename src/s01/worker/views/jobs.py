"""The jobs pages: the filtered list, one job, its files and progress.

The list reads one page at a time with the queue's cursor (newest
first), only the fields a row shows, so it costs the same with 100 jobs
as with 100,000. Cancel and remove go through the functions of the
``cancelJob`` and ``removeJobs`` methods.

"Retry" of a finished job queues a new job with the same type and
parameters (:meth:`~s01.worker.jobs.queue.JobQueue.rerun`), as a crawl
operator re-runs a crawl: the finished job keeps its output, log and
items, and the new one says which job it repeats.
"""
import logging

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.response import FileResponse
from pyramid.view import view_config

from s01.worker.exceptions import S01Error
from s01.worker.jobs import JOB_TYPES
from s01.worker.jobs.queue import FINISHED
from s01.worker.jobs.queue import LIST_FILTERS
from s01.worker.jobs.queue import STATUSES
from s01.worker.resources import Job
from s01.worker.resources import JobsFolder
from s01.worker.rpc.jobs import cancel_job
from s01.worker.rpc.jobs import remove_jobs
from s01.worker.security import MANAGE
from s01.worker.views import files
from s01.worker.views import template
from s01.worker.views.errors import error_page

log = logging.getLogger(__name__)

PAGE_SIZES = (25, 50, 100)
LIST_FIELDS = ("jobName", "status", "serverNames", "pkgName", "pkgVersion",
               "pyVersion", "spiderName", "sourceServerName",
               "retryCounter", "maxRetries", "queued", "started",
               "completed", "owner", "rerunOf")
MAX_FILTER = 200


@view_config(context=JobsFolder, request_method="GET",
             renderer=template("jobs.html"))
def jobs_page(context, request):
    """A page of jobs, newest first, filtered as the query asks."""
    filters = read_filters(request.GET)
    before = _cursor(request.GET.get("before"))
    size = _page_size(request.GET.get("size"))
    jobs, cursor = request.jobs.list(filters, before, size,
                                     projection=LIST_FIELDS)
    return {
        "jobs": jobs,
        "filters": filters,
        "next": cursor,
        "paged": before is not None,
        "size": size,
        "sizes": PAGE_SIZES,
        "counts": request.jobs.count(),
        "statuses": STATUSES,
        "finished": FINISHED,
        "job_types": JOB_TYPES,
        "packages": sorted({r["pkgName"] for r in request.packages.list()}),
        "servers": sorted({s.get("serverName") for s in
                           request.jobs.servers()} - {None}),
        "removed": _cursor(request.GET.get("removed")),
    }


@view_config(context=JobsFolder, name="remove", request_method="POST",
             permission=MANAGE)
def remove_finished(context, request):
    """Remove the finished jobs of the checked statuses."""
    stati = [s for s in request.POST.getall("stati") if s in FINISHED]
    if not stati:
        return error_page(request, 400, "Nothing to remove",
                          "Choose at least one finished status.",
                          back=request.resource_url(context))
    answer = remove_jobs(request, stati)
    removed = sum(answer["result"].values())
    log.info("jobs removed from the pages stati=%s n=%d user=%s",
             ",".join(stati), removed, request.authenticated_userid)
    return HTTPSeeOther(request.resource_url(context, query={
        "removed": removed}))


@view_config(context=Job, request_method="GET",
             renderer=template("job.html"))
def job_page(context, request):
    """One job: parameters, state, errors, output, log, items."""
    job = context.doc
    job_files = files.JobFiles(request.registry.settings, context.__name__)
    values = {
        "job": job,
        "job_id": context.__name__,
        "live": job["status"] not in FINISHED,
        "output": job.get("output") or {},
        "progress": _progress(job, job_files),
        "log_kept": job_files.kept("log"),
        "items_kept": job_files.kept("items"),
        "log_text": None,
        "log_offset": 0,
        "items": None,
    }

    # The run's files, where this daemon keeps them.
    log_path = job_files.find("log")
    if log_path:
        values["log_text"], values["log_offset"] = files.read_tail(log_path)
    items_path = job_files.find("items")
    if items_path:
        values["items"] = files.first_items(items_path)
    return values


@view_config(context=Job, name="progress", request_method="GET",
             renderer="json")
def job_progress(context, request):
    """What the job page polls: status, counts and new log lines."""
    job = context.doc
    job_files = files.JobFiles(request.registry.settings, context.__name__)
    answer = {
        "status": job["status"],
        "finished": job["status"] in FINISHED,
        "progress": _progress(job, job_files),
        "log": None,
    }
    log_path = job_files.find("log")
    if log_path:
        text, offset = files.read_tail(log_path,
                                       _cursor(request.GET.get("offset")))
        answer["log"] = {"text": text, "offset": offset}
    return answer


@view_config(context=Job, name="log", request_method="GET")
def job_log(context, request):
    """The whole log, as plain text."""
    return _file_response(context, request, "log",
                          "text/plain; charset=utf-8", ".log", "inline")


@view_config(context=Job, name="items", request_method="GET")
def job_items(context, request):
    """The whole items feed (JSON lines), as a download."""
    return _file_response(context, request, "items", "application/x-ndjson",
                          ".jl", "attachment")


@view_config(context=Job, name="cancel", request_method="POST",
             permission=MANAGE)
def cancel(context, request):
    """Cancel the job (its runner stops it if it runs)."""
    try:
        cancel_job(request, context.__name__)
    except S01Error as exc:
        return error_page(request, 400, "Not cancelled", str(exc),
                          back=request.resource_url(context))
    return HTTPSeeOther(request.resource_url(context))


@view_config(context=Job, name="retry", request_method="POST",
             permission=MANAGE)
def retry(context, request):
    """Queue the finished job again as a new job; answer with its page."""
    try:
        job_id = request.jobs.rerun(request.tm, context.__name__)
    except S01Error as exc:
        return error_page(request, 400, "Not queued again", str(exc),
                          back=request.resource_url(context))
    request.tm.get().addAfterCommitHook(
        _wake_after_commit, args=(request.processor, job_id))
    log.info("job retry requested id=%s of=%s user=%s", job_id,
             context.__name__, request.authenticated_userid)
    return HTTPSeeOther(request.resource_url(context.__parent__, job_id))


def read_filters(params):
    """The list filters a query string asks for (blank ones left out)."""
    filters = {}
    for name in LIST_FILTERS:
        value = params.get(name, "").strip()[:MAX_FILTER]
        if value:
            filters[name] = value
    return filters


def _progress(job, job_files):
    """Pages and items: the output's once finished, the log's before."""
    output = job.get("output") or {}
    if job.get("jobName") != "RunSpider":
        return None
    if job["status"] in FINISHED and "items" in output:
        return {"pages": output.get("pages", 0),
                "items": output.get("items", 0)}
    log_path = job_files.find("log")
    return files.progress_of(log_path) if log_path else None


def _file_response(context, request, kind, content_type, suffix,
                   disposition):
    job_files = files.JobFiles(request.registry.settings, context.__name__)
    try:
        path = job_files.path(kind)
    except files.FileUnavailable as exc:
        return error_page(request, 404, "No %s file" % kind, str(exc),
                          back=request.resource_url(context))
    response = FileResponse(path, request=request,
                            content_type=content_type)
    response.content_disposition = '%s; filename="%s%s"' % (
        disposition, context.__name__, suffix)
    # Spider output is text, never a page: browsers must not guess.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _cursor(value):
    """A non-negative integer from a query string, or None."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _page_size(value):
    number = _cursor(value)
    return number if number in PAGE_SIZES else PAGE_SIZES[0]


def _wake_after_commit(committed, processor, job_id):
    if committed:
        processor.wake(job_id)
