"""Installing, listing and removing spider packages, as recorded steps.

``install`` runs the steps of the API contract, each appended to the
result as ``{step, msg}`` and logged::

    fetch         ask the index for the release's sdist and its digests
    download      into a fresh staging folder, size-capped, digests checked
    unpack        pre-scan every member, then extract into a new folder
    unpack move   rename it to <packages dir>/<name>/<version>/<python>
    bootstrap     a virtualenv for that python with zc.buildout in it,
                  then ``buildout bootstrap``
    buildout      ``bin/buildout -c worker.cfg`` with the shared eggs
                  folder, download cache, index and find-links
    test          ``bin/test``, when asked
    list          ``bin/list``: the spiders
    ensureScrapyPackage   the package record

What a failure leaves: nothing. Any step that fails ends the install with
``status`` False, the failing step's name and message as the last step,
and the error; the install folder and the staging folder are removed and
no record is written. A job's install stops with its job (cancel,
shutdown), and a daemon that stops ends the installs of its calls
(:meth:`Installer.shutdown`); both roll back the same way. An install
that was killed half-way (the daemon died) leaves its folder with an
``.s01-installing`` mark and no record, and its staging folder:
:meth:`Installer.clear_leftovers` (at start-up and then now and then,
once the dead daemon's programs are killed) removes both, and the next
install of the same release clears its folder first in any case, so
there is never a folder that looks installed without a record. A record
is written last, and removed first, so a record always means a working
install.

Every external program runs through :func:`~s01.worker.packages.process.
run_program`: an argument list, its own process group, killed whole when
its step's time (``s01.timeouts.<step>``, shared by all the programs of
the step) is up. pip, in the bootstrap and in buildout, sees only the
configured index and the local folders (see ``_pip_env``). Installs of
one release wait for each other (a lock file per release), so two
callers adding the same package at once get one install and one
duplicate error.
"""
import contextlib
import fcntl
import functools
import glob
import logging
import os
import shutil
import sys
import tempfile
import threading
import time

import packaging.version
import transaction
from zope.interface import implementer

from s01.worker.exceptions import DuplicatedPackage
from s01.worker.exceptions import S01Error
from s01.worker.exceptions import StepFailed
from s01.worker.interfaces import IInstaller
from s01.worker.packages import archive
from s01.worker.packages.names import check_md5
from s01.worker.packages.names import check_package_name
from s01.worker.packages.names import check_python_key
from s01.worker.packages.names import check_version
from s01.worker.packages.names import safe_join
from s01.worker.packages.process import daemon_token
from s01.worker.packages.process import program_env
from s01.worker.packages.process import run_program
from s01.worker.packages.process import token_alive

log = logging.getLogger(__name__)

INSTALLING_MARK = ".s01-installing"
VENV = ".venv"
WORKER_CFG = "worker.cfg"
STEP_TEXT_LIMIT = 20000


class InstallFailed(Exception):
    """Raised by ``install_release`` if a step failed; holds the steps."""

    def __init__(self, steps, error):
        self.steps = steps
        self.error = error
        self.step = steps.done[-1]["step"] if steps.done else None
        super().__init__(str(error))


class Steps:
    """The steps of one call, as the API contract answers them."""

    def __init__(self, what):
        self.what = what
        self.done = []

    def add(self, step, msg):
        self.done.append({"step": step, "msg": msg})
        shown = msg if isinstance(msg, str) else repr(msg)
        log.info("%s: %s", step, shown[-2000:])

    def result(self, error=None, **extra):
        answer = {"error": error, "status": error is None,
                  "steps": self.done}
        answer.update(extra)
        return answer


@implementer(IInstaller)
class Installer:
    """Install spider packages from the index into the packages folder."""

    def __init__(self, settings, index_factory, registry, python_versions,
                 default_python, buildout_index=None):
        self.settings = settings
        self.buildout_index = buildout_index
        # A new index client per install: its HTTP session is not shared
        # between threads.
        self.index_factory = index_factory
        self.registry = registry
        # Callables: the configured pythons change at run time (the API
        # contract lets a caller add one to scrapyRoot.pythonVersions).
        self.python_versions = python_versions
        self.default_python = default_python
        self.packages_dir = settings["s01.packages.dir"]
        self.staging_dir = settings["s01.packages.staging_dir"]
        self._locks = {}
        self._locks_guard = threading.Lock()
        # Installs running now, and the daemon's stop (see ``shutdown``).
        self._active = 0
        self._idle = threading.Condition()
        self._shutdown = threading.Event()

    # Checking what callers give.

    def check(self, name, version, py):
        """Validate a release's three names; return them as we use them.

        Raises InvalidParams naming the bad argument before any path or
        program sees it.
        """
        name = check_package_name(name)
        version = check_version(version)
        py = check_python_key(py, self.default_python(),
                              self.python_versions().keys())
        return name, version, py

    def target_of(self, name, version, py):
        """The install folder of a release (checked to stay inside)."""
        return safe_join(self.packages_dir, name, version, py)

    # Installing.

    def install(self, name, version, py=None, md5=None, testing=False,
                stopping=None):
        """Install a release; the API contract's result, never raising
        but for bad arguments (InvalidParams) and a duplicate."""
        try:
            steps, spiders = self.install_release(
                name, version, py, md5, testing, stopping)
        except InstallFailed as exc:
            return exc.steps.result(error=str(exc.error), spiders=[])
        return steps.result(spiders=spiders)

    def install_release(self, name, version, py=None, md5=None,
                        testing=False, stopping=None, job_id=None):
        """Install a release; return ``(steps, spiders)``.

        Raises InvalidParams and DuplicatedPackage as they are, and
        :class:`InstallFailed` (holding the steps and the error) for a
        failed step. ``job_id`` (the job installing it) is kept in the
        record.
        """
        name, version, py = self.check(name, version, py)
        md5 = check_md5(md5)
        steps = Steps("install")
        stopping = _EitherEvent(stopping, self._shutdown)
        with contextlib.ExitStack() as stack:
            stack.enter_context(self._counted())
            try:
                stack.enter_context(self._release_lock(name, version, py))
            except OSError as exc:
                # The packages folder itself cannot be written.
                error = _step_error("fetch", exc)
                steps.add("fetch", str(error))
                raise InstallFailed(steps, error) from exc
            try:
                spiders = self._install(steps, name, version, py, md5,
                                        bool(testing), stopping, job_id)
            except DuplicatedPackage:
                raise
            except (S01Error, OSError) as exc:
                raise InstallFailed(steps, exc) from exc
        return steps, spiders

    def shutdown(self, timeout=30.0):
        """Stop the installs running now; wait until they have rolled back.

        Their programs get SIGTERM, then SIGKILL after run_program's grace;
        each install then fails and removes its folder. Installs asked
        for afterwards fail before their first program. Returns whether
        all ended within ``timeout`` seconds.
        """
        self._shutdown.set()
        with self._idle:
            if self._active:
                log.info("installer stopping active=%d", self._active)
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    @contextlib.contextmanager
    def _counted(self):
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _install(self, steps, name, version, py, md5, testing, stopping,
                 job_id):
        target = self.target_of(name, version, py)
        record = self.registry.get(name, version, py)
        if record is not None:
            raise DuplicatedPackage("Duplicated Package found at: %s"
                                    % target)
        self._clear_leftover(target)

        created = False
        step = "fetch"
        staging = None
        index = self.index_factory()
        try:
            staging = self._new_staging()
            # Where the sdist is, and its digests.
            release = index.find_sdist(name, version)
            steps.add("fetch", {"pkgName": name, "pkgVersion": version,
                                "pypiURL": index.url})

            step = "download"
            path = index.download(
                release, staging,
                max_bytes=self.settings["s01.packages.max_download_bytes"],
                md5=md5,
                timeout=self.settings["s01.packages.download_timeout"])
            steps.add("download", release.url)

            # Unpack into a new, empty folder, then move it into place.
            step = "unpack"
            steps.add("unpack", target)
            top = archive.extract_archive(path, staging, self._limits())
            steps.add("unpack", top)
            step = "unpack move"
            self._move_into_place(top, target)
            created = True
            steps.add("unpack move", target)
            if not os.path.isfile(os.path.join(target, WORKER_CFG)):
                raise StepFailed("unpack move", "%s has no %s: not a "
                                 "buildout spider package" % (
                                     release.filename, WORKER_CFG))

            step = "bootstrap"
            steps.add("bootstrap", self._bootstrap(target, py, stopping))
            step = "buildout"
            steps.add("buildout", self._buildout(target, stopping))
            if testing:
                step = "test"
                steps.add("test", self._test(target, stopping))
            step = "list"
            spiders, text = self._list(target)
            steps.add("list", text or target)

            step = "ensureScrapyPackage"
            self.registry.add(transaction.TransactionManager(explicit=True), {
                "pkgName": name, "pkgVersion": version, "pyVersion": py,
                "path": target, "spiders": spiders, "sha256": release.sha256,
                "md5": md5 or release.md5, "url": release.url,
                "filename": release.filename, "testing": testing,
                "jobId": job_id})
            steps.add("ensureScrapyPackage", "%s %s" % (name, version))
            _remove_quietly(os.path.join(target, INSTALLING_MARK))
            created = False
            return spiders
        except BaseException as exc:
            error = exc
            if isinstance(exc, OSError):
                error = _step_error(step, exc)
            if isinstance(error, S01Error):
                steps.add(getattr(error, "step", None) or step, str(error))
            if created:
                shutil.rmtree(target, ignore_errors=True)
                _remove_empty_parents(target, self.packages_dir)
            log.warning("install failed name=%s version=%s py=%s step=%s "
                        "error=%s", name, version, py, step,
                        _last_line(error))
            if error is not exc:
                raise error from exc
            raise
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)

    def _limits(self):
        settings = self.settings
        return archive.Limits(
            max_members=settings["s01.packages.max_members"],
            max_total_bytes=settings["s01.packages.max_unpacked_bytes"],
            max_ratio=settings["s01.packages.max_ratio"])

    def _new_staging(self):
        os.makedirs(self.staging_dir, exist_ok=True)
        # The daemon's token says whose it is, for clear_leftovers.
        return tempfile.mkdtemp(prefix="install-%s-" % daemon_token(),
                                dir=self.staging_dir)

    def _move_into_place(self, top, target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # The mark goes in before the move, so the folder never exists in
        # place without it until the record is written.
        open(os.path.join(top, INSTALLING_MARK), "w").close()
        try:
            os.rename(top, target)
        except OSError as exc:
            raise StepFailed("unpack move", "cannot move %s to %s: %s" % (
                os.path.basename(top), target, exc.strerror)) from exc

    def clear_leftovers(self):
        """Remove what installs killed half-way left; answer the paths.

        An install folder with the mark and no record is removed, one
        with a record too lost only its mark (the record is written once
        the install works). A release whose lock is held is being
        installed now and left alone. Staging folders go once the daemon
        that made them is gone.
        """
        removed = []
        for target in glob.glob(os.path.join(
                glob.escape(self.packages_dir), "*", "*", "*",
                INSTALLING_MARK)):
            target = os.path.dirname(target)
            name, version, py = target.split(os.sep)[-3:]
            with self._release_lock(name, version, py, wait=False) as held:
                if not held or not os.path.isdir(target):
                    continue
                if self.registry.get(name, version, py) is not None:
                    _remove_quietly(os.path.join(target, INSTALLING_MARK))
                    continue
                shutil.rmtree(target, ignore_errors=True)
                _remove_empty_parents(target, self.packages_dir)
                removed.append(target)
        for staging in glob.glob(os.path.join(
                glob.escape(self.staging_dir), "install-*")):
            # Another format (an older daemon's) is left alone.
            token = os.path.basename(staging).split("-")[1]
            if ":" in token and not token_alive(token):
                shutil.rmtree(staging, ignore_errors=True)
                removed.append(staging)
        for path in removed:
            log.warning("leftover of a killed install removed path=%s",
                        path)
        return removed

    def _clear_leftover(self, target):
        """Remove what a killed install left; refuse anything else."""
        if not os.path.lexists(target):
            return
        if os.path.islink(target) or not os.path.isdir(target):
            os.unlink(target)
        else:
            # No record (checked above) and we hold the release's lock:
            # whatever is here is the rest of an install that never
            # finished, with or without its mark.
            shutil.rmtree(target)
        log.warning("leftover install removed path=%s", target)

    def _bootstrap(self, target, py, stopping):
        """A virtualenv with zc.buildout, then ``buildout bootstrap``.

        ``s01.timeouts.bootstrap`` bounds the whole step, every program
        of it together.
        """
        deadline = time.monotonic() + self.settings["s01.timeouts.bootstrap"]
        run = functools.partial(
            self._run, "bootstrap", cwd=target,
            timeout_key="s01.timeouts.bootstrap", stopping=stopping,
            env=self._pip_env(self.settings["s01.buildout.index"]),
            deadline=deadline)
        venv = os.path.join(target, VENV)

        # No pip from ensurepip (seconds of work): the wheelhouse's pip
        # puts itself and zc.buildout into the venv.
        output = [run([self.python_path(py), "-m", "venv", "--without-pip",
                       venv])]
        output.append(self._pip_install_buildout(run, venv))
        output.append(run([os.path.join(venv, "bin", "buildout"), "-c",
                           WORKER_CFG, "bootstrap"]))
        return "\n".join(text for text in output if text)

    def _pip_env(self, index_url):
        """Where pip, ours or the one buildout calls, may look.

        pip looks at ``index_url`` and at the wheelhouse and find-links
        folders only: these variables replace the indexes and find-links
        of the host's pip configuration (``/etc/pip.conf`` and the like),
        so nothing configured there for other uses joins an install. The
        rest of that configuration (certificates, proxies, timeouts)
        still applies: the network may need it. pip of the buildout step
        (building develop eggs and sdists, with their build requirements)
        thus never falls back on its default public index either.

        Develop eggs are built in setuptools' ``strict`` editable mode: its
        ``.pth`` names a folder, which zc.buildout puts on the scripts'
        path. The default mode's ``.pth`` holds an import hook instead,
        which generated scripts never run, so a flat-layout package whose
        name has no dot (``myspiders``, ``demo_pkg-2``) could not import
        its own modules from ``bin/list``.

        Known limitations: pip splits ``PIP_FIND_LINKS`` at whitespace, so
        a wheelhouse or find-links folder whose path holds a space is not
        found this way. The editable mode goes to every build the
        buildout makes; a dependency built from an sdist by a backend that
        refuses unknown settings would fail (setuptools, hatchling and flit
        ignore it).
        """
        links = [self.settings["s01.buildout.wheelhouse"]]
        links += self.settings["s01.buildout.find_links"]
        return {
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "PIP_INDEX_URL": index_url,
            # An empty value would be ignored; the same index again is not.
            "PIP_EXTRA_INDEX_URL": index_url,
            "PIP_FIND_LINKS": " ".join(links),
            "PIP_CONFIG_SETTINGS": "editable_mode=strict",
        }

    def _pip_install_buildout(self, run, venv):
        """Install pip and zc.buildout into the venv, offline when we can.

        The wheels, pip's own included, come from the shared wheelhouse;
        only when it lacks them does the python's bundled pip fill it from
        ``s01.buildout.index``, once for every later install.
        """
        python = os.path.join(venv, "bin", "python")
        wheelhouse = self.settings["s01.buildout.wheelhouse"]
        # pip too: the venv has none, and buildout runs it.
        wanted = self.settings["s01.buildout.requirements"] + ["pip"]
        os.makedirs(wheelhouse, exist_ok=True)
        install = ["install", "--no-index", "--find-links", wheelhouse] + \
            wanted

        pip_wheel = _newest_pip_wheel(wheelhouse)
        if pip_wheel is not None:
            try:
                return run([python, os.path.join(pip_wheel, "pip")] +
                           install)
            except StepFailed as exc:
                log.info("wheelhouse install failed; filling it path=%s "
                         "error=%s", wheelhouse, _last_line(exc))
        else:
            log.info("wheelhouse has no pip; filling it path=%s", wheelhouse)

        # A cold wheelhouse, or one this python's pip cannot use as is.
        output = [run([python, "-m", "ensurepip"])]
        output.append(run([python, "-m", "pip", "download", "--dest",
                           wheelhouse, "--index-url",
                           self.settings["s01.buildout.index"]] + wanted))
        output.append(run([python, "-m", "pip"] + install))
        return "\n".join(text for text in output if text)

    def _buildout(self, target, stopping):
        settings = self.settings
        index_url = (self.buildout_index.ensure_started()
                     if self.buildout_index else
                     settings["s01.buildout.index"])
        options = [
            "buildout:eggs-directory=%s" % settings["s01.buildout.eggs_dir"],
            "buildout:download-cache=%s"
            % settings["s01.buildout.download_cache"],
            "buildout:newest=false",
            "buildout:index=%s" % index_url,
        ]
        if settings["s01.buildout.find_links"]:
            options.append("buildout:find-links=%s" % " ".join(
                settings["s01.buildout.find_links"]))
        for key in ("s01.buildout.eggs_dir", "s01.buildout.download_cache"):
            os.makedirs(settings[key], exist_ok=True)
        argv = [os.path.join(target, "bin", "buildout"), "-c", WORKER_CFG,
                "-N"] + options
        return self._run("buildout", argv, target, "s01.timeouts.buildout",
                         stopping, env=self._pip_env(index_url))

    def _test(self, target, stopping):
        program = os.path.join(target, "bin", "test")
        if not os.path.isfile(program):
            return "no bin/test in this package; nothing to run"
        return self._run("test", [program], target, "s01.timeouts.test",
                         stopping)

    def _list(self, target):
        answer = self.run_list(target)
        if answer["code"] != 0:
            raise StepFailed("list", answer["error"])
        return answer["spiders"], "\n".join(answer["spiders"])

    def _run(self, step, argv, cwd, timeout_key, stopping=None, env=None,
             deadline=None):
        """Run one program of a step; its output, or StepFailed.

        ``env`` holds variables added to the minimal environment. The
        program gets the time that ``timeout_key`` gives the step, or
        what is left of it until ``deadline``.
        """
        if stopping is not None and stopping.is_set():
            raise StepFailed(step, "stopped before %s" % step)
        budget = self.settings[timeout_key]
        timeout = budget if deadline is None else \
            deadline - time.monotonic()
        program = _program_name(argv)
        if timeout <= 0:
            raise StepFailed(step, "%s did not finish within %g s (%s); "
                             "no time was left for %s"
                             % (step, budget, timeout_key, program))
        try:
            result = run_program(argv, cwd=cwd, env=program_env(env),
                                 timeout=timeout, stopping=stopping)
        except OSError as exc:
            raise StepFailed(step, "cannot run %s: %s" % (argv[0], exc)) \
                from exc

        text = _joined(result.stdout, result.stderr)[-STEP_TEXT_LIMIT:]
        if result.stopped:
            raise StepFailed(step, ("stopped during %s; %s was ended\n%s" % (
                step, program, text)).rstrip())
        if result.timed_out:
            raise StepFailed(step, ("%s did not finish within %g s (%s); "
                                    "%s was killed\n%s" % (
                                        step, budget, timeout_key, program,
                                        text)).rstrip())
        if result.returncode != 0:
            raise StepFailed(step, ("%s exited with code %d\n%s" % (
                program, result.returncode, text)).rstrip())
        return text

    def python_path(self, py):
        """The interpreter of a python key."""
        if py == self.default_python():
            return shutil.which("python3") or sys.executable
        return self.python_versions()[py]

    # Listing spiders.

    def list_spiders(self, name, version, py=None):
        name, version, py = self.check(name, version, py)
        target = self.target_of(name, version, py)
        if self.registry.get(name, version, py) is None:
            return {"code": -1, "error": "%s %s is not installed for "
                    "python %s" % (name, version, py), "spiders": []}
        return self.run_list(target)

    def run_list(self, target):
        """Run ``bin/list`` of an install: ``{code, error, spiders}``.

        Spiders are the stdout lines, blank ones and line ends (LF or
        CRLF) dropped; stderr (warnings, tracebacks) never becomes a
        spider. A list that fails answers its exit code and, as the error,
        all it wrote to stderr, the traceback whole. A list that hangs is
        killed with everything it started and answers code -1. A list
        that exits 0 but names no spider answers code -1 too: a package
        without spiders is taken for a broken one (its spider modules did
        not load, or a setting sent the names elsewhere), so ``addPackage``
        refuses it at step ``list`` and ``listSpiders`` reports the same.
        """
        program = os.path.join(target, "bin", "list")
        timeout = self.settings["s01.timeouts.list"]
        try:
            result = run_program([program], cwd=target, env=program_env(),
                                 timeout=timeout)
        except OSError as exc:
            return {"code": -1, "error": "cannot run %s: %s" % (program,
                                                               exc),
                    "spiders": []}

        if result.timed_out:
            return {"code": -1, "spiders": [], "error": (
                "bin/list did not finish within %g s (s01.timeouts.list) "
                "and was killed\n%s" % (timeout, result.stderr)).rstrip()}
        if result.returncode != 0:
            return {"code": result.returncode, "spiders": [], "error": (
                "bin/list exited with code %d\n%s" % (
                    result.returncode, result.stderr or result.stdout))
                .rstrip()}
        spiders = [line.strip() for line in result.stdout.splitlines()
                   if line.strip()]
        if not spiders:
            return {"code": -1, "spiders": [], "error": (
                "bin/list exited with code 0 but named no spider\n%s"
                % result.stderr).rstrip()}
        return {"code": 0, "error": None, "spiders": spiders}

    # Removing.

    def remove(self, name, version, py=None):
        name, version, py = self.check(name, version, py)
        steps = Steps("remove")
        target = self.target_of(name, version, py)
        with self._release_lock(name, version, py):
            record = self.registry.get(name, version, py)
            if record is None:
                steps.add("exists", "%s %s is not installed for python %s"
                          % (name, version, py))
                return steps.result(error="%s %s is not installed for "
                                    "python %s" % (name, version, py))
            steps.add("exists", target)

            # The record goes first: a folder without a record is a
            # leftover the next install clears; a record without its
            # folder would be a lie.
            self.registry.remove(transaction.TransactionManager(
                explicit=True), record)
            shutil.rmtree(target, ignore_errors=True)
            _remove_empty_parents(target, self.packages_dir)
            steps.add("rmtree", target)
            steps.add("doRemoveScrapyPackage", "%s %s %s" % (name, version,
                                                             py))
        return steps.result()

    # Locks.

    @contextlib.contextmanager
    def _release_lock(self, name, version, py, wait=True):
        """Hold the lock of one release, in this process and on disk.

        With ``wait`` False it is taken only if free; the block gets
        whether it was.
        """
        key = (name.lower(), version, py)
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        locks_dir = os.path.join(self.packages_dir, ".locks")
        os.makedirs(locks_dir, exist_ok=True)
        path = safe_join(locks_dir, "%s-%s-%s.lock" % key)
        if not lock.acquire(blocking=wait):
            yield False
            return
        try:
            with open(path, "a") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX if wait else
                                fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                try:
                    yield True
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            lock.release()


class _EitherEvent:
    """Set when either of two events (the first may be None) is set."""

    def __init__(self, first, second):
        self.events = [e for e in (first, second) if e is not None]

    def is_set(self):
        return any(event.is_set() for event in self.events)


def _program_name(argv):
    """A program as a person knows it: ``pip`` for ``python -m pip``."""
    if len(argv) > 2 and argv[1] == "-m":
        return argv[2]
    return os.path.basename(argv[0])


def _newest_pip_wheel(folder):
    """The path of the newest pip wheel in ``folder``, or None."""
    found = []
    for path in glob.glob(os.path.join(glob.escape(folder),
                                       "pip-*-py3-none-any.whl")):
        try:
            version = packaging.version.Version(
                os.path.basename(path).split("-")[1])
        except packaging.version.InvalidVersion:
            continue
        found.append((version, path))
    return max(found)[1] if found else None


def _joined(stdout, stderr):
    return "\n".join(part.rstrip("\n") for part in (stdout, stderr)
                     if part and part.strip())


def _remove_quietly(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _remove_empty_parents(target, top):
    """Remove the version and name folders once they are empty."""
    top = os.path.realpath(top)
    parent = os.path.dirname(target)
    for _ in range(2):
        if os.path.realpath(parent) == top:
            return
        try:
            os.rmdir(parent)
        except OSError:
            return
        parent = os.path.dirname(parent)


def _step_error(step, exc):
    """A folder we may not write, a full disk: say which step met it, in
    words."""
    return StepFailed(step, "%s: %s" % (exc.strerror or type(exc).__name__,
                                        exc.filename or ""))


def _last_line(exc):
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


__all__ = ["InstallFailed", "Installer"]
