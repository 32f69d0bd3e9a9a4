"""A strict JSON-RPC 2.0 dispatcher on a Pyramid view.

Why our own and not pyramid_rpc: pyramid_rpc 0.8 (its last release) fails
19 of the 40 protocol vectors we hold it to, treats a JSON string body as a
batch and recurses over its characters (a 10 KB body costs minutes of CPU),
answers failed logins with HTTP 200 and runs methods on GET, ``text/plain``
and form posts. A front before it would have to re-do the parsing it gets
wrong, so this module does the whole protocol in one readable place.

HTTP rules of the endpoint (``/++skin++Scrapy``):

* only ``POST``; anything else is 405 and runs nothing;
* only ``application/json`` (any case, any parameters such as a charset)
  and ``application/json-rpc``; other types are 415 and run nothing, so a
  cross-site HTML form cannot drive the API with cached credentials;
* bodies above ``s01.rpc.max_body_bytes`` are 413 (waitress enforces the
  same cap before the body is read);
* a notification, or a batch of notifications only, is answered with
  HTTP 204 and an empty body, also when the method failed;
* everything else is HTTP 200 with a JSON-RPC response or array.

A database that does not answer (down, unreachable, slower than
``s01.mongo.timeout``) is error -32002 "Database unavailable", whether a
method met it or the commit of its writes did; the calls of a request
whose commit failed all answer that error.
"""
import inspect
import json
import logging
import math
import time

import pymongo.errors
import transaction.interfaces
from pyramid.httpexceptions import HTTPMethodNotAllowed
from pyramid.httpexceptions import HTTPRequestEntityTooLarge
from pyramid.httpexceptions import HTTPUnsupportedMediaType
from pyramid.response import Response

from s01.worker.exceptions import Forbidden
from s01.worker.exceptions import InvalidParams
from s01.worker.exceptions import S01Error
from s01.worker.mongo.datamanager import database_unreachable
from s01.worker.mongo.store import unavailable_error

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json", "application/json-rpc")
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
}
_NO_ID = object()


class RPCError(Exception):
    """A protocol error raised while reading or checking a request."""

    def __init__(self, code, detail=None):
        super().__init__(detail or MESSAGES[code])
        self.code = code
        self.detail = detail


class MethodInfo:
    """A registered method: the function, its signature and permission."""

    def __init__(self, name, func, permission):
        self.name = name
        self.func = func
        self.permission = permission
        self.signature = inspect.signature(func)

    def bind(self, request, params):
        """Bind JSON params to the function, or raise InvalidParams."""
        try:
            if isinstance(params, dict):
                return self.signature.bind(request, **params)
            return self.signature.bind(request, *params)
        except TypeError as exc:
            raise InvalidParams(str(exc)) from None


class MethodRegistry:
    """Wire name -> :class:`MethodInfo`."""

    def __init__(self):
        self.methods = {}

    def add(self, name, func, permission):
        self.methods[name] = MethodInfo(name, func, permission)

    def get(self, name):
        return self.methods.get(name)


def error_object(code, message, data=None):
    """An error member in the seed's shape: data carries i18nMessage."""
    data = dict(data or {})
    data.setdefault("i18nMessage", message)
    return {"code": code, "message": message, "data": data}


def response_for(request_id, result=None, error=None):
    response = {"jsonrpc": "2.0"}
    if error is not None:
        response["error"] = error
    else:
        response["result"] = result
    response["id"] = request_id
    return response


def check_http(request):
    """Refuse what must never run a method: wrong verb, type or size."""
    if request.method != "POST":
        raise HTTPMethodNotAllowed(
            headers={"Allow": "POST"}, content_type="text/plain",
            body="JSON-RPC takes POST only.\n")
    if request.content_type.lower() not in JSON_TYPES:
        raise HTTPUnsupportedMediaType(
            content_type="text/plain",
            body="JSON-RPC takes Content-Type application/json only.\n")
    limit = request.registry.settings["s01.rpc.max_body_bytes"]
    if request.content_length is not None and request.content_length > limit:
        raise HTTPRequestEntityTooLarge(
            content_type="text/plain",
            body="Request bodies are limited to %d bytes.\n" % limit)


def parse_body(body):
    """Decode and parse a request body, or raise a parse error.

    Strict JSON: NaN, Infinity and numbers too large for a float are
    not JSON, though Python's parser takes them.
    """
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant,
                          parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RPCError(PARSE_ERROR, "Parse error: %s" % exc) from None
    except RecursionError:
        raise RPCError(PARSE_ERROR, "Parse error: nested too deeply") \
            from None


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("%s is too large a number" % text)
    return value


def valid_id(value):
    """True for the id types JSON-RPC allows: string, number, null."""
    if isinstance(value, bool):
        return False
    return value is None or isinstance(value, (str, int, float))


class Dispatcher:
    """Run one parsed body: a call or a batch; return responses."""

    def __init__(self, request, registry, max_batch):
        self.request = request
        self.registry = registry
        self.max_batch = max_batch

    def run(self, payload):
        """Return a response object, a list of them, or None."""
        if isinstance(payload, list):
            if not payload:
                return self._protocol_error(INVALID_REQUEST,
                                            "Invalid Request: empty batch")
            if len(payload) > self.max_batch:
                return self._protocol_error(
                    INVALID_REQUEST, "Invalid Request: a batch holds at "
                    "most %d calls" % self.max_batch)
            answers = [self.call(member) for member in payload]
            return [a for a in answers if a is not None] or None
        return self.call(payload)

    def call(self, member):
        """Check and run one request object; None for a notification."""
        request_id = _NO_ID
        try:
            if isinstance(member, dict) and "id" in member \
                    and valid_id(member["id"]):
                request_id = member["id"]
            method, params = self._check_member(member)
            result = self._invoke(method, params)
        except RPCError as exc:
            message = exc.detail or MESSAGES[exc.code]
            error = error_object(exc.code, message)
        except S01Error as exc:
            error = error_object(exc.code, _message_of(exc), exc.data)
        else:
            if request_id is _NO_ID and _is_notification(member):
                return None
            return response_for(request_id, result=result)

        if _is_notification(member):
            return None
        return response_for(None if request_id is _NO_ID else request_id,
                            error=error)

    def _check_member(self, member):
        if not isinstance(member, dict):
            raise RPCError(INVALID_REQUEST,
                           "Invalid Request: not a JSON object")
        if member.get("jsonrpc") != "2.0":
            raise RPCError(INVALID_REQUEST,
                           'Invalid Request: "jsonrpc" must be "2.0"')
        method = member.get("method")
        if not isinstance(method, str):
            raise RPCError(INVALID_REQUEST,
                           'Invalid Request: "method" must be a string')
        if "id" in member and not valid_id(member["id"]):
            raise RPCError(INVALID_REQUEST,
                           'Invalid Request: "id" must be a string, a '
                           "number or null")
        params = member.get("params", [])
        if not isinstance(params, (list, dict)):
            raise RPCError(INVALID_REQUEST,
                           'Invalid Request: "params" must be an array or '
                           "an object")
        return method, params

    def _invoke(self, name, params):
        info = self.registry.get(name)
        if info is None:
            raise RPCError(METHOD_NOT_FOUND)
        request = self.request
        if not request.has_permission(info.permission, request.context):
            raise Forbidden("%s needs the %s permission" % (name,
                                                          info.permission))
        bound = info.bind(request, params)

        # Each call is its own unit of work inside the request's
        # transaction: a failing call's queued writes are rolled back.
        savepoint = request.tm.savepoint() if _tm_active(request) else None
        started = time.monotonic()
        try:
            result = info.func(*bound.args, **bound.kwargs)
        except (S01Error, transaction.interfaces.TransientError):
            if savepoint is not None:
                savepoint.rollback()
            raise
        except pymongo.errors.PyMongoError as exc:
            if savepoint is not None:
                savepoint.rollback()
            if not database_unreachable(exc):
                log.exception("rpc method failed method=%s", name)
                raise RPCError(INTERNAL_ERROR) from None
            log.warning("rpc method failed: database unreachable method=%s "
                        "error=%s", name, type(exc).__name__)
            raise unavailable_error(request.mongo, exc) from exc
        except Exception:
            # The boundary between the protocol and a method: a bug must
            # answer -32603 without leaking its text, and keep serving.
            log.exception("rpc method failed method=%s", name)
            if savepoint is not None:
                savepoint.rollback()
            raise RPCError(INTERNAL_ERROR) from None
        log.debug("rpc call method=%s user=%s ms=%.1f", name,
                  request.authenticated_userid,
                  (time.monotonic() - started) * 1000)
        return result

    def _protocol_error(self, code, detail):
        return response_for(None, error=error_object(code, detail))


def encode(value):
    """JSON for a response: datetimes as ISO text, ObjectIds as text.

    Text UTF-8 cannot hold (a lone surrogate echoed from a request id) is
    sent as JSON escapes instead.
    """
    text = json.dumps(value, default=_default, ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, default=_default).encode("ascii")


def jsonrpc_view(request):
    """The endpoint: HTTP checks, parse, dispatch, encode."""
    check_http(request)
    settings = request.registry.settings
    dispatcher = Dispatcher(request, request.registry.s01_rpc_methods,
                            settings["s01.rpc.max_batch"])
    try:
        payload = parse_body(request.body)
    except RPCError as exc:
        answer = response_for(None, error=error_object(exc.code, str(exc)))
    else:
        answer = dispatcher.run(payload)
    if answer is None:
        return Response(status=204)
    return Response(body=encode(answer), content_type="application/json",
                    charset=None)


def commit_failed_view(exc, request):
    """Answer the calls of a JSON-RPC request whose commit failed.

    The methods ran, but their writes did not reach the database: every
    call of the request answers the error (notifications nothing).
    """
    if database_unreachable(exc):
        log.warning("rpc commit failed: database unreachable error=%s",
                    type(exc).__name__)
        failure = unavailable_error(request.mongo, exc)
        error = error_object(failure.code, _message_of(failure))
    else:
        log.error("rpc commit failed", exc_info=exc)
        error = error_object(INTERNAL_ERROR, MESSAGES[INTERNAL_ERROR])
    try:
        payload = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        payload = None
    members = payload if isinstance(payload, list) else [payload]
    answers = [response_for(m.get("id") if isinstance(m, dict) and
                            valid_id(m.get("id")) else None, error=error)
               for m in members if not _is_notification(m)]
    if not answers:
        return Response(status=204)
    return Response(body=encode(answers if isinstance(payload, list)
                                else answers[0]),
                    content_type="application/json", charset=None)


def _is_notification(member):
    return isinstance(member, dict) and "id" not in member \
        and isinstance(member.get("method"), str) \
        and member.get("jsonrpc") == "2.0"


def _message_of(exc):
    if exc.detail and str(exc.detail) != exc.message:
        return "%s: %s" % (exc.message, exc.detail)
    return exc.message


def _tm_active(request):
    try:
        request.tm.get()
    except Exception:
        # No active transaction (pyramid_tm not included, e.g. in a bare
        # unit test): calls run without savepoints.
        return False
    return True


def _default(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
