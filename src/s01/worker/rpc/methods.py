"""The JSON-RPC methods about this daemon: time, Mongo, processor, pythons.

Each function takes the request first; the rest of its signature is the
method's params, by position or by name.
"""
import logging

from s01.worker.rpc import jsonrpc_method
from s01.worker.security import MANAGE

log = logging.getLogger(__name__)


@jsonrpc_method("getStartTime")
def get_start_time(request):
    """Unix time at which this daemon started."""
    return request.root.startTime


@jsonrpc_method("getMongoDBStatus")
def get_mongodb_status(request):
    """``{status, host, port}``; status False when Mongo is unreachable."""
    return request.mongo.status()


@jsonrpc_method("getProcessorStartTime")
def get_processor_start_time(request):
    """Unix time of the processor's last start, or None."""
    return request.processor.startTime


@jsonrpc_method("startProcessor", permission=MANAGE)
def start_processor(request):
    """Start the processor's threads; True once they run."""
    started = request.processor.start()
    log.info("processor start requested user=%s",
             request.authenticated_userid)
    return started


@jsonrpc_method("stopProcessor", permission=MANAGE)
def stop_processor(request):
    """Stop the processor; answers whether it is still processing."""
    alive = request.processor.stop()
    log.info("processor stop requested user=%s alive=%s",
             request.authenticated_userid, alive)
    return alive


@jsonrpc_method("isProcessing")
def is_processing(request):
    """True if the processor's threads are alive right now."""
    return request.processor.is_alive()


@jsonrpc_method("getDefaultPythonVersion")
def get_default_python_version(request):
    """major.minor of the shell's python3, the default python key."""
    return request.root.defaultPythonVersion


@jsonrpc_method("getPythonVersions")
def get_python_versions(request):
    """The configured extra python keys and their interpreter paths."""
    return dict(request.root.pythonVersions)
