"""Spider packages: names, the index, unpacking, installs and spider runs.

The building blocks of an install, each usable and tested on its own:
``names`` checks every outside value before a path or a process sees it,
``index`` finds and downloads a release's sdist, ``archive`` pre-scans and
unpacks it, and ``process`` runs the external programs of the later steps.
``installer`` puts them together, ``registry`` records what is installed,
``spiders`` runs spiders and ``jobs`` makes jobs of all that.

``includeme`` registers the :class:`~s01.worker.interfaces.IPackageRegistry`,
:class:`~s01.worker.interfaces.IInstaller` and
:class:`~s01.worker.interfaces.ISpiderRunner` utilities and the handlers of
the three job types.
"""
import atexit
import logging

import pymongo.errors

from s01.worker.interfaces import IInstaller
from s01.worker.interfaces import IJobQueue
from s01.worker.interfaces import IMongoStore
from s01.worker.interfaces import IPackageRegistry
from s01.worker.interfaces import IProcessor
from s01.worker.interfaces import ISpiderRunner
from s01.worker.packages.process import end_all_programs
from s01.worker.packages.process import sweep_orphans

log = logging.getLogger(__name__)


def includeme(config):
    from s01.worker.packages import jobs
    from s01.worker.packages.index import PackageIndex
    from s01.worker.packages.installer import Installer
    from s01.worker.packages.registry import PackageRegistry
    from s01.worker.packages.shim import BuildoutIndex
    from s01.worker.packages.spiders import SpiderRunner
    from s01.worker.root import scrapyRoot

    settings = config.get_settings()
    registry = config.registry
    store = registry.getUtility(IMongoStore)
    queue = registry.getUtility(IJobQueue)

    # What is installed where, on the queue's clock.
    packages = PackageRegistry(store, queue.clock, settings["s01.server_name"])
    try:
        packages.ensure_indexes()
    except pymongo.errors.PyMongoError as exc:
        log.warning("package indexes not created: database unreachable "
                    "error=%s", type(exc).__name__)
    registry.registerUtility(packages, IPackageRegistry)

    # Installs from the configured index; the pythons as the root has them
    # now (the API contract lets callers change them at run time).
    def index_factory():
        return PackageIndex(settings["s01.index.url"],
                            timeout=settings["s01.index.timeout"])

    buildout_index = BuildoutIndex(settings["s01.buildout.find_links"],
                                   settings["s01.buildout.index"])
    atexit.register(buildout_index.stop)
    installer = Installer(
        settings, index_factory, packages,
        python_versions=lambda: scrapyRoot.pythonVersions,
        default_python=lambda: scrapyRoot.defaultPythonVersion,
        buildout_index=buildout_index)
    registry.registerUtility(installer, IInstaller)

    runner = SpiderRunner(settings)
    registry.registerUtility(runner, ISpiderRunner)
    atexit.register(runner.stop_servers)

    # At exit, once the processor has stopped its jobs (their programs
    # end with them), the installs of RPC calls roll back, and no install
    # program goes on without its daemon.
    atexit.register(_stop_installs, registry.getUtility(IProcessor),
                    installer)

    # What a daemon killed on this host left: its programs first (or they
    # would write on), then its half-done installs; now, then now and
    # then by the processor's keeper.
    processor = registry.getUtility(IProcessor)
    processor.housekeeping += [sweep_orphans, installer.clear_leftovers]
    processor.keep_house()

    config.add_request_method(_utility(IInstaller), "installer", reify=True)
    config.add_request_method(_utility(IPackageRegistry), "packages",
                              reify=True)
    config.add_request_method(_utility(ISpiderRunner), "spider_runner",
                              reify=True)
    config.add_job_handler("AddPackage", jobs.add_package)
    config.add_job_handler("RunSpider", jobs.run_spider)
    config.add_job_handler("SyncPackages", jobs.sync_packages)


def _stop_installs(processor, installer):
    processor.stop()
    installer.shutdown()
    end_all_programs()


def _utility(iface):
    def get(request):
        return request.registry.getUtility(iface)
    return get
