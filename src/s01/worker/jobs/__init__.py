"""Jobs: the Mongo job queue and the threaded processor that runs it.

``includeme`` registers the :class:`~s01.worker.interfaces.IJobQueue` and
:class:`~s01.worker.interfaces.IProcessor` utilities and the
``config.add_job_handler(name, handler)`` directive that the parts which
know how to run a kind of job (packages, spiders) use.
"""
import atexit
import logging

import pymongo.errors

from s01.worker.interfaces import IJobQueue
from s01.worker.interfaces import IMongoStore
from s01.worker.interfaces import IProcessor
from s01.worker.jobs.clock import ServerClock
from s01.worker.jobs.processor import JobProcessor
from s01.worker.jobs.queue import JobQueue

log = logging.getLogger(__name__)

# The job types of the API contract, in the order it installs them.
JOB_TYPES = ("RunSpider", "AddPackage", "SyncPackages")


def get_processor(request):
    return request.registry.getUtility(IProcessor)


def get_job_queue(request):
    return request.registry.getUtility(IJobQueue)


def ensure_job_factories(registry):
    """Give the processor a handler for every job type it lacks.

    Returns ``(messages, changed)`` as the API contract shows: one
    message a job type installed now, and whether any was.
    """
    processor = registry.getUtility(IProcessor)
    handlers = registry.s01_job_handlers
    messages = []
    for name in JOB_TYPES:
        if name in handlers and name not in processor.handlers:
            processor.handlers[name] = handlers[name]
            messages.append("Remote processor job %s installed" % name)

    # Job types beyond the contract's (test doubles) come along quietly.
    for name in set(handlers) - set(JOB_TYPES):
        processor.handlers.setdefault(name, handlers[name])
    if messages:
        log.info("job types installed names=%s", ",".join(
            m.split()[3] for m in messages))
    return messages, bool(messages)


def add_job_handler(config, name, handler):
    """Config directive: ``handler(context)`` runs jobs named ``name``."""
    def register():
        config.registry.s01_job_handlers[name] = handler

    config.action(("s01.job_handler", name), register)


def includeme(config):
    settings = config.get_settings()
    registry = config.registry
    registry.s01_job_handlers = {}
    config.add_directive("add_job_handler", add_job_handler)

    # The queue, on the database server's clock.
    store = registry.getUtility(IMongoStore)
    queue = JobQueue(store, ServerClock(store), settings["s01.server_name"],
                     max_retries=settings["s01.jobs.max_retries"],
                     retry_delay=settings["s01.jobs.retry_delay"])
    try:
        queue.ensure_indexes()
    except pymongo.errors.PyMongoError as exc:
        # The daemon serves without its database (status calls say so);
        # the indexes are made when the processor next starts.
        log.warning("job indexes not created: database unreachable "
                    "error=%s", type(exc).__name__)
    registry.registerUtility(queue, IJobQueue)

    # The processor; its handlers arrive with ensure_job_factories.
    processor = JobProcessor(
        queue=queue,
        threads=settings["s01.processor.threads"],
        poll_interval=settings["s01.processor.poll_interval"],
        server_name=settings["s01.server_name"],
        lease_seconds=settings["s01.processor.lease_seconds"],
        renew_interval=settings["s01.processor.renew_interval"],
        reap_interval=settings["s01.processor.reap_interval"],
        heartbeat_interval=settings["s01.processor.heartbeat_interval"],
        shutdown_grace=settings["s01.processor.shutdown_grace"],
        address=settings.get("s01.address"),
        registry=registry, settings=settings)
    processor.before_start = lambda: _prepare(registry, queue)
    registry.registerUtility(processor, IProcessor)
    config.add_request_method(get_processor, "processor", reify=True)
    config.add_request_method(get_job_queue, "jobs", reify=True)
    atexit.register(processor.stop)
    if settings["s01.processor.autostart"]:
        config.action(None, processor.start, order=10)


def _prepare(registry, queue):
    """Before the processor starts: handlers and indexes in place."""
    ensure_job_factories(registry)
    queue.ensure_indexes()
