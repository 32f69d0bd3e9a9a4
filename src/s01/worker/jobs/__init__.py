"""Jobs: the Mongo job queue and the threaded processor that runs it."""
import atexit

from s01.worker.interfaces import IProcessor
from s01.worker.jobs.processor import JobProcessor


def get_processor(request):
    return request.registry.getUtility(IProcessor)


def includeme(config):
    settings = config.get_settings()
    processor = JobProcessor(
        threads=settings["s01.processor.threads"],
        poll_interval=settings["s01.processor.poll_interval"],
        server_name=settings["s01.server_name"])
    config.registry.registerUtility(processor, IProcessor)
    config.add_request_method(get_processor, "processor", reify=True)
    atexit.register(processor.stop)
    if settings["s01.processor.autostart"]:
        processor.start()
