"""What the AddPackage, RunSpider and SyncPackages jobs do.

Each handler takes a :class:`~s01.worker.jobs.processor.JobContext` and
returns the job's ``output``, or raises
:class:`~s01.worker.exceptions.JobFailed`. Failures that another attempt
cannot mend (bad names, a package already there, an unsafe archive, a
package whose tests or spider list fail, a spider the package lacks) are
permanent: the job ends ``error`` at once instead of trying again.
"""
import logging
import os
import socket

from s01.worker.exceptions import DuplicatedPackage
from s01.worker.exceptions import InvalidParams
from s01.worker.exceptions import JobFailed
from s01.worker.exceptions import PackageNotFound
from s01.worker.exceptions import StepFailed
from s01.worker.exceptions import UnsafeArchive
from s01.worker.interfaces import IInstaller
from s01.worker.interfaces import IPackageRegistry
from s01.worker.interfaces import ISpiderRunner
from s01.worker.packages.installer import InstallFailed

log = logging.getLogger(__name__)

# Steps whose failure another attempt would only repeat.
PERMANENT_STEPS = ("unpack", "unpack move", "test", "list")
# How often a running spider logs its counts (Scrapy's LogStats), which
# the job page reads as progress; a run's own setting wins.
PROGRESS_INTERVAL = 2.0


class _Stopping:
    """A job's stop signal as the spider runner reads it."""

    def __init__(self, context):
        self.context = context

    def is_set(self):
        return self.context.stopping.is_set()

    @property
    def reason(self):
        return self.context.reason


def add_package(context):
    """Install the job's release; the output is the install's result.

    A release this very job installed in an earlier attempt (its daemon
    died after the record was written, before the job was marked done)
    completes the job; any other duplicate ends it ``error``.
    """
    job = context.job
    installer = _utility(context, IInstaller)
    try:
        steps, spiders = installer.install_release(
            job.get("pkgName"), job.get("pkgVersion"), job.get("pyVersion"),
            job.get("md5Digest"), job.get("testing", False),
            stopping=context.stopping, job_id=context.job_id)
    except DuplicatedPackage as exc:
        record = _utility(context, IPackageRegistry).get(
            job.get("pkgName"), job.get("pkgVersion"), job.get("pyVersion"))
        if record is not None and record.get("jobId") == context.job_id:
            log.info("job found its install done id=%s name=%s version=%s",
                     context.job_id, record["pkgName"],
                     record["pkgVersion"])
            return {"error": None, "status": True,
                    "spiders": record.get("spiders", []),
                    "steps": [{"step": "ensureScrapyPackage", "msg": (
                        "installed by an earlier attempt of this job")}]}
        raise JobFailed(str(exc), output=_failed_output(None, exc),
                        permanent=True) from exc
    except InvalidParams as exc:
        raise JobFailed(str(exc), output=_failed_output(None, exc),
                        permanent=True) from exc
    except InstallFailed as exc:
        raise JobFailed("%s failed: %s" % (exc.step, exc.error),
                        output=exc.steps.result(error=str(exc.error),
                                                spiders=[]),
                        permanent=_is_permanent(exc)) from exc
    return steps.result(spiders=spiders)


def run_spider(context):
    """Run the job's spider; the output holds its exit code and stats."""
    job = context.job
    settings = context.processor.settings
    record = _record_of(context)
    spider = job.get("spiderName")
    if spider not in record.get("spiders", []):
        raise JobFailed("spiderName: %r is not a spider of %s %s (it has: "
                        "%s)" % (spider, record["pkgName"],
                                 record["pkgVersion"],
                                 ", ".join(record.get("spiders", []))),
                        permanent=True)

    run_settings = {"LOGSTATS_INTERVAL": PROGRESS_INTERVAL}
    run_settings.update(job.get("settings") or {})
    files = job_files(settings, context.job_id)
    host = socket.gethostname()

    def started(pid):
        context.record({"process": {"pid": pid, "host": host}})

    try:
        result = _utility(context, ISpiderRunner).run(
            record, spider, job.get("args") or {}, run_settings, files,
            on_start=started, stopping=_Stopping(context),
            timeout=settings["s01.spiders.timeout"] or None)
    except StepFailed as exc:
        # The run could not start (no room for its files, a fork server
        # that refused it): another attempt may do better.
        raise JobFailed("spider %s did not start: %s" % (spider, exc)) \
            from exc
    output = result.output()
    if context.reason is None and result.code != 0:
        raise JobFailed("spider %s exited with code %s (finish reason %s)%s"
                        % (spider, result.code, result.finish_reason,
                           ": " + result.problem if result.problem
                           else ""), output=output)
    return output


def sync_packages(context):
    """Install here what the source server has and this one lacks."""
    job = context.job
    registry = _utility(context, IPackageRegistry)
    installer = _utility(context, IInstaller)
    missing = registry.missing(job.get("sourceServerName"))
    output = {"missing": missing, "installed": [], "failed": []}
    for entry in missing:
        if context.stopping.is_set():
            break
        name, version, py = (entry["pkgName"], entry["pkgVersion"],
                             entry["pyVersion"])
        try:
            installer.install_release(name, version, py,
                                      testing=job.get("testing", False),
                                      stopping=context.stopping,
                                      job_id=context.job_id)
        except DuplicatedPackage:
            # Installed meanwhile (by a concurrent job): nothing to do.
            output["installed"].append(entry)
        except (InvalidParams, InstallFailed) as exc:
            output["failed"].append(dict(entry, error=str(exc),
                                         permanent=_is_permanent(exc)))
        else:
            output["installed"].append(entry)
    if output["failed"]:
        # Another attempt helps only if some failure may pass.
        raise JobFailed("%d of %d packages failed to install: %s" % (
            len(output["failed"]), len(missing), "; ".join(
                "%s %s" % (f["pkgName"], f["pkgVersion"])
                for f in output["failed"])), output=output,
            permanent=all(f["permanent"] for f in output["failed"]))
    return output


def job_files(settings, job_id):
    """The log, items, stats and stderr paths of a job's run.

    None where the folder setting is empty: the run then uses temporary
    files and keeps only its stats in the job.
    """
    log_dir = settings["s01.spiders.log_dir"]
    items_dir = settings["s01.spiders.items_dir"]
    files = {"log": None, "items": None, "stats": None, "stderr": None}
    if log_dir:
        files.update(log=os.path.join(log_dir, job_id + ".log"),
                     stats=os.path.join(log_dir, job_id + ".stats.json"),
                     stderr=os.path.join(log_dir, job_id + ".stderr"))
    if items_dir:
        files["items"] = os.path.join(items_dir, job_id + ".jl")
    return files


def _is_permanent(exc):
    """Whether another attempt of a failed install would fail alike."""
    if isinstance(exc, InvalidParams):
        return True
    return exc.step in PERMANENT_STEPS or isinstance(
        exc.error, (PackageNotFound, UnsafeArchive))


def _record_of(context):
    job = context.job
    record = _utility(context, IPackageRegistry).get(
        job.get("pkgName"), job.get("pkgVersion"), job.get("pyVersion"))
    if record is None:
        raise JobFailed("%s %s is not installed for python %s" % (
            job.get("pkgName"), job.get("pkgVersion"), job.get("pyVersion")),
            permanent=True)
    return record


def _failed_output(steps, exc):
    return {"error": str(exc), "spiders": [], "status": False,
            "steps": steps or []}


def _utility(context, iface):
    return context.processor.registry.getUtility(iface)
