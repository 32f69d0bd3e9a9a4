"""The interfaces of s01.worker; each docstring is the contract."""
from zope.interface import Attribute
from zope.interface import Interface


class IScrapySkin(Interface):
    """Marks a request that came in through ``++skin++Scrapy``.

    JSON-RPC lives on this skin: a ``POST`` with a JSON content type to the
    skinned root is a JSON-RPC 2.0 call or batch.
    """


class IScrapyRoot(Interface):
    """The non-persistent traversal root, one per process."""

    startTime = Attribute("Unix time at which this process started.")
    serverName = Attribute("This daemon's name among those sharing Mongo.")
    pythonVersions = Attribute(
        "Mutable mapping of extra python keys to interpreter paths.")
    defaultPythonVersion = Attribute(
        "major.minor of the shell's python3, the default python key.")


class IMongoStore(Interface):
    """The process-wide MongoDB client and database."""

    client = Attribute("The pymongo MongoClient, one per process.")
    db = Attribute("The configured database.")
    host = Attribute("Host name of the server in use.")
    port = Attribute("Port of the server in use.")

    def status(timeout=None):
        """Return ``{"status", "host", "port"}``; never wait longer than
        ``timeout`` seconds and never raise: an unreachable server is
        ``status`` False."""

    def server_time():
        """Return the database server's clock as an aware datetime."""

    def close():
        """Close the client and stop an embedded server we started."""


class IProcessor(Interface):
    """The job processor: a small pool of threads inside the daemon."""

    startTime = Attribute("Unix time of the last start, or None.")

    def start():
        """Start the threads; return True once they run (also if they
        already ran)."""

    def stop(timeout=None):
        """Ask the threads to finish and wait; return whether any thread
        is still alive afterwards (False after a clean stop)."""

    def is_alive():
        """Return True if the processor's threads are really running."""

    housekeeping = Attribute(
        "Callables run at start-up and before each reap (clearing what "
        "daemons killed on this host left); parts append theirs.")

    def keep_house():
        """Run the housekeeping callables, logging any that fails."""


class IPackageRegistry(Interface):
    """The records of installed spider packages, per server.

    A record exists exactly while its install is complete: it is written
    after ``bin/list`` answered and removed before the folder is.
    """

    server_name = Attribute("The server whose packages ``list`` shows.")

    def get(name, version, py, server_name=None):
        """Return the record of one install, or None."""

    def list(server_name=None):
        """Return every record of one server (default: this one)."""

    def add(tm, fields):
        """Record a finished install; return the stored record."""

    def remove(tm, record):
        """Remove an install's record."""

    def missing(source_server_name=None):
        """Return the installs another server has and this one lacks."""


class IInstaller(Interface):
    """Installs, lists and removes spider packages, step by step.

    Every answer is the API contract's result: ``status``, ``error`` and
    the ``steps`` done, each ``{step, msg}``; a failed install leaves no
    folder and no record behind.
    """

    def install(name, version, py=None, md5=None, testing=False,
                stopping=None):
        """Install a release from the index; return the result.

        Setting ``stopping`` ends the running program of the install and
        fails it (the install rolls back).
        """

    def remove(name, version, py=None):
        """Remove an install; return the result."""

    def list_spiders(name, version, py=None):
        """Run the install's ``bin/list``: ``{code, error, spiders}``.

        ``code`` is 0 with the spider names, one per line of its stdout;
        otherwise the exit code of a failed list (the error holds its
        stderr whole), or -1 for a list that hung, could not start or
        named no spider at all. ``install`` fails at step ``list`` in
        exactly those cases.
        """

    def shutdown(timeout=30.0):
        """Stop the running installs (they roll back) and any new ones;
        return whether all ended within ``timeout`` seconds."""

    def clear_leftovers():
        """Remove the folders of installs killed half-way (not those in
        progress); return their paths."""


class ISpiderRunner(Interface):
    """Runs one spider of an installed package as a child process."""

    def run(record, spider, args=None, settings=None, files=None,
            on_start=None, stopping=None):
        """Run to the end (or until ``stopping`` is set); return a
        :class:`~s01.worker.packages.spiders.SpiderResult`."""


class IJobQueue(Interface):
    """The ``remoteJobs`` queue shared by every daemon on one database.

    Writes take a transaction manager and join its current transaction;
    the module docstring of :mod:`s01.worker.jobs.queue` states the
    delivery contract and what the retry fields mean.
    """

    server_name = Attribute("The server name this queue claims for.")

    def enqueue(tm, job_name, params, server_names=None, max_retries=None,
                retry_delay=None):
        """Queue a job; return its id."""

    def claim(tm, owner, lease_seconds, job_id=None):
        """Claim the next due job for this server, or return None."""

    def renew(tm, job, lease_seconds):
        """Extend a held job's lease: "held", "cancel" or "lost"."""

    def finish(tm, job, status, output):
        """End a held job; False if it was no longer ours."""

    def fail(tm, job, error, output=None, permanent=False):
        """Record a failed attempt; return the new status or None."""

    def release(tm, job, reason):
        """Give a held job back to the queue, its attempt refunded."""

    def reap(tm):
        """Requeue or fail jobs whose lease ran out; return how many."""

    def adopt(tm):
        """Give jobs written into the queue by hand (for this server) the
        fields the queue needs and count them; return how many."""

    def cancel(tm, job_id):
        """Cancel a queued job at once, or ask a running one to stop."""

    def get(job_id):
        """Return the job document or raise JobNotFound."""

    def count():
        """Return the number of jobs in each status."""

    def list(filters=None, before=None, limit=20, projection=None):
        """Return a page of jobs, newest first, and the next cursor."""

    def ended(since, limit=2000, projection=None):
        """Return at most ``limit`` jobs that ended at ``since`` or later,
        latest first."""

    def rerun(tm, job_id):
        """Queue a new job with a finished job's type and parameters;
        return its id."""

    def remove(tm, stati=None):
        """Remove finished jobs; return the number removed per status."""


class IRPCMethods(Interface):
    """The registry of JSON-RPC methods, by wire name."""

    def add(name, func, permission):
        """Register ``func`` as the wire method ``name``."""

    def get(name):
        """Return the method's info, or None."""
