"""Filters and names every page template can use.

Filters format values (times, durations, JSON); :func:`add_globals`
gives each page the CSRF token, the caller, what the caller may do and
the URL makers. Nothing here marks text as safe: Jinja2 escapes it all.
"""
import datetime
import json
import os
import urllib.parse

import xstatic.pkg.bootstrap
from pyramid.csrf import get_csrf_token

from s01.worker.security import MANAGE

UTC = datetime.timezone.utc
STATUS_STYLES = {
    "queued": "secondary",
    "processing": "primary",
    "completed": "success",
    "error": "danger",
    "cancelled": "warning",
}
# The notices a page shows after a redirect, by code: the query string
# picks one, it never carries text of its own.
NOTICES = {
    "started": "The processor was started.",
    "stopped": "The processor was stopped.",
    "still-running": "The processor was asked to stop; a thread is still "
                     "busy.",
    "removed": "The package was removed.",
    "jobs-removed": "The finished jobs were removed.",
}


def when(value):
    """A datetime (or Unix time) as UTC text; a dash for nothing."""
    if not value:
        return "\u2014"
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds):
    """Seconds as ``1 h 2 min``, ``3 min 4 s`` or ``5.6 s``."""
    if seconds is None or seconds == "":
        return "\u2014"
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return "%.1f s" % seconds
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return "%d min %d s" % (minutes, secs)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return "%d h %d min" % (hours, minutes)
    return "%d d %d h" % divmod(hours, 24)


def job_seconds(job):
    """How long a job's last attempt ran (so far); None if it did not."""
    started = job.get("started")
    if started is None:
        return None
    ended = job.get("completed")
    if ended is None:
        if job.get("status") != "processing":
            return None
        ended = datetime.datetime.now(UTC)
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    if ended.tzinfo is None:
        ended = ended.replace(tzinfo=UTC)
    return (ended - started).total_seconds()


def to_json(value, indent=2):
    """A value as readable JSON text (times and ids as text)."""
    return json.dumps(value, indent=indent, sort_keys=True,
                      ensure_ascii=False, default=str)


def status_style(status):
    """The Bootstrap colour of a job status."""
    return STATUS_STYLES.get(status, "light")


def as_list(value):
    """A value as a list (a server name alone becomes a list of one)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


FILTERS = {
    "when": when,
    "duration": duration,
    "job_seconds": job_seconds,
    "to_json": to_json,
    "status_style": status_style,
    "as_list": as_list,
}


class URLs:
    """The URLs of the pages, made from the request's root."""

    def __init__(self, request):
        self.request = request

    def home(self, **query):
        return self._url((), query)

    def packages(self, **query):
        return self._url(("packages",), query)

    def package(self, name, version, py):
        return self._url(("packages", name, version, py), {})

    def jobs(self, **query):
        return self._url(("jobs",), query)

    def job(self, job_id, view=None):
        parts = ("jobs", str(job_id)) + ((view,) if view else ())
        return self._url(parts, {})

    def static(self, name):
        """One of our files in ``views/static``."""
        return self.request.static_url("s01.worker.views:static/" + name)

    def bootstrap(self, name):
        """One of Bootstrap's files, e.g. ``css/bootstrap.min.css``."""
        return self.request.static_url(
            os.path.join(xstatic.pkg.bootstrap.BASE_DIR, name))

    def _url(self, parts, query):
        query = {k: v for k, v in query.items() if v not in (None, "")}
        url = self.request.resource_url(self.request.root, *parts)
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return url


def add_globals(event):
    """BeforeRender: what every page template may use."""
    request = event.get("request")
    if request is None or not str(event.get("renderer_name", "")) \
            .endswith(".html"):
        return
    event["csrf_token"] = lambda: get_csrf_token(request)
    event["user"] = request.identity
    event["can_manage"] = request.identity is not None and \
        request.has_permission(MANAGE, request.root)
    event["urls"] = URLs(request)
    event["server_name"] = request.registry.settings["s01.server_name"]
    event["notice"] = NOTICES.get(request.GET.get("notice", ""))
