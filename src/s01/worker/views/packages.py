"""The packages pages: installs per server, adding, syncing, running.

Adding, syncing and running queue jobs through the same functions as
the ``start*`` JSON-RPC methods, so a form is checked exactly as a call
is; the answer is the new job's page. Removing waits, as
``removePackage`` does (it only stops the install's fork server and
deletes its folder).
"""
import logging

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.renderers import render_to_response
from pyramid.view import view_config

from s01.worker.exceptions import InvalidParams
from s01.worker.exceptions import S01Error
from s01.worker.resources import PackagesFolder
from s01.worker.resources import ScrapyPackage
from s01.worker.rpc.packages import remove_package
from s01.worker.rpc.packages import start_add_package
from s01.worker.rpc.packages import start_run_spider
from s01.worker.rpc.packages import start_sync_packages
from s01.worker.security import MANAGE
from s01.worker.views import forms
from s01.worker.views import template
from s01.worker.views.dashboard import python_versions
from s01.worker.views.jobs import LIST_FIELDS

log = logging.getLogger(__name__)

RECENT_JOBS = 10


@view_config(context=PackagesFolder, request_method="GET",
             renderer=template("packages.html"))
def packages_page(context, request):
    """What each server has, what this one lacks, and the add form."""
    return packages_values(context, request)


@view_config(context=PackagesFolder, name="add", request_method="POST",
             permission=MANAGE)
def add_package(context, request):
    """Queue an AddPackage job; answer with its page."""
    post = request.POST
    try:
        job_id = start_add_package(
            request, forms.text(post, "pkgName", ""),
            forms.text(post, "pkgVersion", ""),
            forms.text(post, "pyVersion"),
            forms.text(post, "md5Digest"), forms.flag(post, "testing"),
            forms.number(post, "maxRetries"),
            forms.number(post, "retryDelay"))
    except S01Error as exc:
        return _packages_refused(context, request, exc, "add")
    return HTTPSeeOther(request.resource_url(request.root, "jobs", job_id))


@view_config(context=PackagesFolder, name="sync", request_method="POST",
             permission=MANAGE)
def sync_packages(context, request):
    """Queue a SyncPackages job from one server; answer with its page."""
    post = request.POST
    try:
        job_id = start_sync_packages(
            request, forms.text(post, "sourceServerName", ""),
            forms.flag(post, "testing"))
    except S01Error as exc:
        return _packages_refused(context, request, exc, "sync")
    return HTTPSeeOther(request.resource_url(request.root, "jobs", job_id))


@view_config(context=ScrapyPackage, request_method="GET",
             renderer=template("package.html"))
def package_page(context, request):
    """One install: its record, its spiders with run forms, its jobs."""
    return package_values(context, request)


@view_config(context=ScrapyPackage, name="run", request_method="POST",
             permission=MANAGE)
def run_spider(context, request):
    """Queue a RunSpider job for one spider; answer with its page."""
    post = request.POST
    spider = forms.text(post, "spiderName", "")
    try:
        if spider not in context.record.get("spiders", []):
            raise InvalidParams("spiderName: %r is not a spider of this "
                                "package" % spider[:60])
        job_id = start_run_spider(
            request, context.pkgName, context.pkgVersion, context.pyVersion,
            spider, forms.pairs(post, "args"), forms.pairs(post, "settings"),
            forms.number(post, "maxRetries"),
            forms.number(post, "retryDelay"))
    except S01Error as exc:
        return _package_refused(context, request, exc, form=dict(
            post, spiderName=spider))
    return HTTPSeeOther(request.resource_url(request.root, "jobs", job_id))


@view_config(context=ScrapyPackage, name="remove", request_method="POST",
             permission=MANAGE)
def remove_install(context, request):
    """Remove the install; answer with the packages page."""
    try:
        result = remove_package(request, context.pkgName,
                                context.pkgVersion, context.pyVersion)
    except S01Error as exc:
        return _package_refused(context, request, exc)
    log.info("package removed from the pages name=%s version=%s py=%s "
             "status=%s user=%s", context.pkgName, context.pkgVersion,
             context.pyVersion, result["status"],
             request.authenticated_userid)
    if not result["status"]:
        return _package_refused(context, request, result["error"])
    return HTTPSeeOther(request.resource_url(
        request.root, "packages", query={"notice": "removed"}))


def packages_values(context, request, error=None, form=None, which=None):
    """What the packages page shows."""
    registry = request.packages
    ours = registry.server_name
    others = [name for name in registry.server_names() if name != ours]
    return {
        "ours": registry.list(),
        "server": ours,
        "others": [(name, registry.list(name)) for name in others],
        "missing": [(name, registry.missing(name)) for name in others],
        "pythons": python_versions(request.root),
        "error": error,
        "which": which,
        "form": form or {"testing": "on"},
    }


def package_values(context, request, error=None, form=None):
    """What one install's page shows."""
    jobs, _ = request.jobs.list({"pkgName": context.pkgName},
                                limit=RECENT_JOBS, projection=LIST_FIELDS)
    return {
        "package": context.record,
        "jobs": jobs,
        "error": error,
        "form": form or {},
    }


def _packages_refused(context, request, error, which):
    log.info("package form refused form=%s error=%s user=%s", which,
             error, request.authenticated_userid)
    values = packages_values(context, request, str(error),
                             dict(request.POST), which)
    return _render("packages.html", values, request, 400)


def _package_refused(context, request, error, form=None):
    log.info("package form refused package=%s error=%s user=%s",
             context.record.get("__name__"), error,
             request.authenticated_userid)
    values = package_values(context, request, str(error), form)
    return _render("package.html", values, request, 400)


def _render(name, values, request, status):
    response = render_to_response(template(name), values, request=request)
    response.status_int = status
    return response
