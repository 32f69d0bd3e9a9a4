"""Test-only JSON-RPC methods, the doubles the protocol vectors call.

Only ``testing.ini`` includes this module (``s01.worker.testing.rpc``);
development and production never expose these methods.
"""
import threading

from s01.worker.rpc import jsonrpc_method

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
