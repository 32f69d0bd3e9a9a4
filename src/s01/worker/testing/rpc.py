"""Test-only JSON-RPC methods, the doubles the protocol vectors call.

Only ``testing.ini`` includes this module (``s01.worker.testing.rpc``);
development and production never expose these methods.
"""
import threading

from s01.worker.rpc import jsonrpc_method
from s01.worker.security import MANAGE

# What the notifications did, so tests can see that they ran.
calls = []
_lock = threading.Lock()


def _record(name, *args):
    with _lock:
        calls.append((name, args))


@jsonrpc_method("subtract")
def subtract(request, minuend, subtrahend):
    return minuend - subtrahend


@jsonrpc_method("sum")
def sum_(request, a, b, c):
    return a + b + c


@jsonrpc_method("update")
def update(request, a, b, c, d, e):
    _record("update", a, b, c, d, e)


@jsonrpc_method("notify_hello")
def notify_hello(request, n):
    _record("notify_hello", n)


@jsonrpc_method("notify_sum")
def notify_sum(request, a, b, c):
    _record("notify_sum", a, b, c)
    return a + b + c


@jsonrpc_method("get_data")
def get_data(request):
    return ["hello", 5]


@jsonrpc_method("boom")
def boom(request):
    raise RuntimeError("boom: a bug inside a method, /secret/path")


@jsonrpc_method("typeErrorInside")
def type_error_inside(request, value):
    # Correct arguments, then a bug: must be -32603, never -32602.
    return len(value) + None


def includeme(config):
    config.scan(__name__)


@jsonrpc_method("echo")
def echo(request, value):
    return value


# How often bumpCounter ran, per counter name, retries included, and which
# counters it has already interfered with.
attempts = {}
interfered = set()


@jsonrpc_method("bumpCounter")
def bump_counter(request, name, interfere=False):
    """Add one to a counter document through the transaction.

    With ``interfere``, the first attempt changes the document behind our
    back after reading it, as a concurrent writer would: the commit then
    conflicts and pyramid_tm retries the request.
    """
    with _lock:
        attempts[name] = attempts.get(name, 0) + 1
        attempt = attempts[name]
        interfere = interfere and name not in interfered
        if interfere:
            interfered.add(name)
    counters = request.mongo.db.counters
    manager = request.mongo.data_manager(request.tm)
    doc = counters.find_one({"_id": name})
    if doc is None:
        manager.insert("counters", {"_id": name, "value": 1})
        return attempt
    if interfere:
        counters.update_one({"_id": name},
                            {"$inc": {"value": 100, "_version": 1}})
    manager.update("counters", name, doc["_version"],
                   {"value": doc["value"] + 1})
    return attempt


@jsonrpc_method("failAfterWrite")
def fail_after_write(request, name):
    """Queue a write, then fail: the write must never reach Mongo."""
    manager = request.mongo.data_manager(request.tm)
    manager.insert("counters", {"_id": name, "value": 1})
    raise RuntimeError("failing after a queued write")


@jsonrpc_method("queueWrite")
def queue_write(request, name):
    """Queue an insert without reading: it reaches Mongo only at commit."""
    manager = request.mongo.data_manager(request.tm)
    manager.insert("counters", {"_id": name, "value": 1})
    return name


@jsonrpc_method("killProcessorThreads", permission=MANAGE)
def kill_processor_threads(request):
    """End the processor's worker threads abruptly, as a crash would
    (C20 e); answers once they are gone."""
    processor = request.processor
    threads = list(processor._threads)
    processor.kill_thread_for_testing()
    for thread in threads:
        thread.join(10)
    return not any(thread.is_alive() for thread in threads)
