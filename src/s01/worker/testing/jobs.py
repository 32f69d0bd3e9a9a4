"""A test-only job type, ``Probe``, that records every run it makes.

Only ``testing.ini`` includes this module. A Probe job inserts one
document ``{_id: <job id>, server, instance, pid}`` into the ``probeRuns``
collection; ``_id`` is unique, so a job run twice fails its second run
with a duplicate key and the test sees it in the job's errors. With
``sleep`` in the job it then waits that long (watching its stop signal).
"""
import os

from s01.worker.interfaces import IMongoStore

RUNS = "probeRuns"


def probe(context):
    """Record this run; sleep if asked."""
    db = context.processor.registry.getUtility(IMongoStore).db
    # Written straight, not through the transaction: the record must exist
    # even if the run is later stopped, so a second run can be seen.
    db[RUNS].insert_one({"_id": context.job_id,
                         "server": context.processor.server_name,
                         "instance": context.processor.instance,
                         "pid": os.getpid()})
    sleep = float(context.job.get("sleep", 0))
    if sleep:
        context.stopping.wait(sleep)
    return {"server": context.processor.server_name}


def includeme(config):
    config.add_job_handler("Probe", probe)
