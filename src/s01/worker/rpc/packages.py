"""The JSON-RPC methods about spider packages, and the jobs that run them.

``addPackage``, ``removePackage`` and ``runSpider`` do their work while
the call waits (an install takes a minute, a crawl as long as it takes);
``startAddPackage``, ``startRunSpider`` and ``startSyncPackages`` queue a
job instead and answer its id at once. Every name, version, python key,
spider name and option is checked before any path, program or job sees
it; a bad one is -32602 with a message naming the argument.
"""
import logging

from s01.worker.exceptions import DuplicatedPackage
from s01.worker.exceptions import InvalidParams
from s01.worker.exceptions import PackageNotFound
from s01.worker.packages.names import check_count
from s01.worker.packages.names import check_md5
from s01.worker.packages.names import check_scrapy_settings
from s01.worker.packages.names import check_server_name
from s01.worker.packages.names import check_spider_args
from s01.worker.packages.names import check_spider_name
from s01.worker.rpc import jsonrpc_method
from s01.worker.security import MANAGE

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 100
MAX_DELAY = 7 * 24 * 3600


# Installing and removing, while the caller waits.

@jsonrpc_method("addPackage", permission=MANAGE)
def add_package(request, pkgName, pkgVersion, pyVersion=None,
                md5Digest=None, testing=False):
    """Install a release from the index: ``{status, error, spiders,
    steps}``."""
    testing = _check_flag(testing, "testing")
    try:
        return request.installer.install(pkgName, pkgVersion, pyVersion,
                                         md5Digest, testing)
    except DuplicatedPackage as exc:
        return {"error": str(exc), "spiders": [], "status": False,
                "steps": []}


@jsonrpc_method("removePackage", permission=MANAGE)
def remove_package(request, pkgName, pkgVersion, pyVersion=None):
    """Remove an install and its record: ``{status, error, steps}``."""
    request.spider_runner.stop_servers(request.installer.target_of(
        *request.installer.check(pkgName, pkgVersion, pyVersion)))
    return request.installer.remove(pkgName, pkgVersion, pyVersion)


# Spiders.

@jsonrpc_method("listSpiders")
def list_spiders(request, pkgName, pkgVersion, pyVersion=None):
    """The spiders of one install, from its ``bin/list``:
    ``{code, error, spiders}``."""
    return request.installer.list_spiders(pkgName, pkgVersion, pyVersion)


@jsonrpc_method("listAllSpiders")
def list_all_spiders(request):
    """Every install's spiders: ``{error, pkgs: {name: {version: {py:
    {code, error, spiders}}}}}``."""
    pkgs = {}
    installer = request.installer
    for record in request.packages.list():
        answer = installer.run_list(record["path"])
        pkgs.setdefault(record["pkgName"], {}).setdefault(
            record["pkgVersion"], {})[record["pyVersion"]] = answer
    return {"error": None, "pkgs": pkgs}


@jsonrpc_method("runSpider", permission=MANAGE)
def run_spider(request, pkgName, pkgVersion, pyVersion, spiderName,
               args=None, settings=None):
    """Run a spider to its end: ``{code, error, status, stats, ...}``."""
    record, spider, args, settings = _check_run(
        request, pkgName, pkgVersion, pyVersion, spiderName, args, settings)
    result = request.spider_runner.run(record, spider, args, settings)
    return result.output()


@jsonrpc_method("getMissingPackageVersions")
def get_missing_package_versions(request, serverName=None):
    """What another server (None: any other) has and this one lacks."""
    return request.packages.missing(check_server_name(serverName))


@jsonrpc_method("listPackages")
def list_packages(request, serverName=None):
    """The installs of a server (default: this one), as records."""
    records = request.packages.list(check_server_name(serverName))
    return [{key: record.get(key) for key in (
        "serverName", "pkgName", "pkgVersion", "pyVersion", "spiders",
        "installed", "sha256", "testing")} for record in records]


# Queueing jobs.

@jsonrpc_method("startAddPackage", permission=MANAGE)
def start_add_package(request, pkgName, pkgVersion, pyVersion=None,
                      md5Digest=None, testing=True, maxRetries=None,
                      retryDelay=None):
    """Queue an AddPackage job; answers its id.

    ``testing`` is on by default for jobs (the API contract's job runs
    the package's tests); ``maxRetries`` and ``retryDelay`` default to
    ``s01.jobs.max_retries`` and ``s01.jobs.retry_delay``.
    """
    name, version, py = request.installer.check(pkgName, pkgVersion,
                                                pyVersion)
    params = {"pkgName": name, "pkgVersion": version, "pyVersion": py,
              "testing": _check_flag(testing, "testing")}
    md5 = check_md5(md5Digest)
    if md5:
        params["md5Digest"] = md5
    return _enqueue(request, "AddPackage", params, maxRetries, retryDelay)


@jsonrpc_method("startRunSpider", permission=MANAGE)
def start_run_spider(request, pkgName, pkgVersion, pyVersion, spiderName,
                     args=None, settings=None, maxRetries=None,
                     retryDelay=None):
    """Queue a RunSpider job; answers its id.

    The package need not be installed yet (an AddPackage job queued just
    before may still be running): a run that finds it missing fails and
    is tried again after ``retryDelay``.
    """
    name, version, py = request.installer.check(pkgName, pkgVersion,
                                                pyVersion)
    params = {"pkgName": name, "pkgVersion": version, "pyVersion": py,
              "spiderName": check_spider_name(spiderName),
              "args": check_spider_args(args),
              "settings": check_scrapy_settings(settings)}
    return _enqueue(request, "RunSpider", params, maxRetries, retryDelay)


@jsonrpc_method("startSyncPackages", permission=MANAGE)
def start_sync_packages(request, sourceServerName, testing=False,
                        maxRetries=None, retryDelay=None):
    """Queue a SyncPackages job that installs here what the source server
    has and this one lacks; answers its id."""
    source = check_server_name(sourceServerName, "sourceServerName")
    if source is None:
        raise InvalidParams("sourceServerName: must name a server")
    params = {"sourceServerName": source,
              "testing": _check_flag(testing, "testing")}
    return _enqueue(request, "SyncPackages", params, maxRetries, retryDelay)


def _enqueue(request, job_name, params, max_retries, retry_delay):
    job_id = request.jobs.enqueue(
        request.tm, job_name, params,
        max_retries=check_count(max_retries, "maxRetries", 1, MAX_ATTEMPTS),
        retry_delay=check_count(retry_delay, "retryDelay", 0, MAX_DELAY))

    # The processor hears of the job the moment it is committed, so it
    # starts without waiting for the next poll.
    request.tm.get().addAfterCommitHook(
        _wake_after_commit, args=(request.processor, job_id))
    log.info("job requested id=%s type=%s user=%s", job_id, job_name,
             request.authenticated_userid)
    return job_id


def _wake_after_commit(committed, processor, job_id):
    if committed:
        processor.wake(job_id)


def _check_run(request, name, version, py, spider, args, settings):
    name, version, py = request.installer.check(name, version, py)
    spider = check_spider_name(spider)
    args = check_spider_args(args)
    settings = check_scrapy_settings(settings)
    record = request.packages.get(name, version, py)
    if record is None:
        raise PackageNotFound("%s %s is not installed for python %s"
                              % (name, version, py))
    if spider not in record.get("spiders", []):
        raise InvalidParams("spiderName: %r is not a spider of %s %s (it "
                            "has: %s)" % (spider, name, version, ", ".join(
                                record.get("spiders", []))))
    return record, spider, args, settings


def _check_flag(value, field):
    if not isinstance(value, bool):
        raise InvalidParams("%s: must be true or false" % field)
    return value
