"""ScrapyRoot: the traversal root, created once per process.

The root is not stored anywhere. It knows when the process started, this
daemon's server name, the python versions spider packages may use and the
settings, and it is the container below which installed packages are
traversed.
"""
import logging
import subprocess
import threading
import time

from pyramid.authorization import ALL_PERMISSIONS
from pyramid.authorization import Allow
from pyramid.authorization import DENY_ALL
from zope.interface import implementer

from s01.worker.exceptions import DuplicatedPackage
from s01.worker.interfaces import IScrapyRoot
from s01.worker.packages.installer import InstallFailed
from s01.worker.security import MANAGE
from s01.worker.security import VIEW

log = logging.getLogger(__name__)


def get_shell_python_version(executable="python3", timeout=10):
    """Return ``major.minor`` of the ``python3`` found on the PATH."""
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        done = subprocess.run([executable, "-c", code], capture_output=True,
                              text=True, timeout=timeout, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("shell python unknown executable=%s error=%s",
                    executable, exc)
        return None
    return done.stdout.strip()


@implementer(IScrapyRoot)
class ScrapyRoot:
    """The daemon's root: start time, server name, pythons, settings."""

    __name__ = ""
    __parent__ = None
    __acl__ = [
        (Allow, "role:manager", ALL_PERMISSIONS),
        (Allow, "role:viewer", VIEW),
        DENY_ALL,
    ]

    def __init__(self):
        self.startTime = time.time()
        self.serverName = None
        self.settings = {}
        self.registry = None
        self.pythonVersions = {}
        self._defaultPythonVersion = None
        self._lock = threading.Lock()

    def __repr__(self):
        return "<ScrapyRoot>"

    def configure(self, settings, registry=None):
        """Take this process's settings and utilities; called by ``main``.
        """
        self.settings = settings
        self.registry = registry
        self.serverName = settings["s01.server_name"]
        self.pythonVersions.clear()
        self.pythonVersions.update(settings.get("s01.python_versions", {}))

    @property
    def defaultPythonVersion(self):
        # Asking the shell costs a process start, so ask once.
        with self._lock:
            if self._defaultPythonVersion is None:
                self._defaultPythonVersion = get_shell_python_version()
            return self._defaultPythonVersion

    def __getitem__(self, name):
        from s01.worker.resources import JobsFolder
        from s01.worker.resources import PackagesFolder

        if name == "packages":
            return PackagesFolder(name, self)
        if name == "jobs":
            return JobsFolder(name, self)
        raise KeyError(name)

    # The Python API of the contract, beside its JSON-RPC methods.

    def addPackage(self, pkgName, pkgVersion, pyVersion=None,
                   md5Digest=None, testing=False, raiseError=False):
        """Install a release; with ``raiseError`` a failure raises."""
        from s01.worker.interfaces import IInstaller

        installer = self.registry.getUtility(IInstaller)
        if not raiseError:
            try:
                return installer.install(pkgName, pkgVersion, pyVersion,
                                         md5Digest, testing)
            except DuplicatedPackage as exc:
                return {"error": str(exc), "spiders": [], "status": False,
                        "steps": []}
        try:
            steps, spiders = installer.install_release(
                pkgName, pkgVersion, pyVersion, md5Digest, testing)
        except InstallFailed as exc:
            raise exc.error from exc
        return steps.result(spiders=spiders)

    def ensureJobFactories(self):
        """Install the job types: ``(messages, changed)``."""
        from s01.worker.jobs import ensure_job_factories

        return ensure_job_factories(self.registry)


# The one root of this process (see the seed: ``root is scrapyRoot``).
scrapyRoot = ScrapyRoot()


def root_factory(request):
    """Pyramid's root factory: always the process's one root."""
    return scrapyRoot


__all__ = ["MANAGE", "VIEW", "ScrapyRoot", "root_factory", "scrapyRoot"]
