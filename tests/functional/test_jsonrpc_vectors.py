"""Every JSON-RPC 2.0 vector, through webtest and against a real daemon."""
import io
import json
from pathlib import Path

import pytest

from tests.jsonrpc.check import check
from tests.jsonrpc.check import url_poster
from tests.jsonrpc.check import wsgi_poster

VECTORS = json.loads(
    (Path(__file__).parents[1] / "jsonrpc" / "vectors.json").read_text())


def methods_called(vector):
    """The method names a vector's request calls (none if unparsable)."""
    try:
        body = json.loads(vector["request"])
    except (ValueError, RecursionError):
        return set()
    members = body if isinstance(body, list) else [body]
    return {m["method"] for m in members
            if isinstance(m, dict) and isinstance(m.get("method"), str)}


def runnable(vectors, registered):
    """Vectors of our own API run once the methods they call exist.

    A seed vector that calls a method of the package or job API before
    that API is registered would only test "Method not found".
    """
    for vector in vectors:
        missing = methods_called(vector) - registered
        expects_missing = (isinstance(vector["expect"], dict) and
                           vector["expect"].get("error", {}).get("code")
                           == -32601)
        if vector["name"].startswith("seed.") and missing \
                and not expects_missing:
            continue
        yield vector


def run_all(vectors, post):
    failures = []
    for vector in vectors:
        why = check(vector, *post(vector))
        if why is not None and vector.get("severity") != "advisory":
            failures.append("%s: %s" % (vector["name"], why))
    return failures


def test_every_vector_passes_through_webtest(app):
    registered = set(app.registry.s01_rpc_methods.methods)
    vectors = list(runnable(VECTORS, registered))
    assert len(vectors) >= 45
    failures = run_all(vectors, wsgi_poster(app, "/++skin++Scrapy", "mgr",
                                            "mgrpw"))
    assert failures == []


def test_every_vector_passes_against_a_real_daemon(daemon, app):
    registered = set(app.registry.s01_rpc_methods.methods)
    vectors = list(runnable(VECTORS, registered))
    failures = run_all(vectors, url_poster(daemon.rpc_url, "mgr", "mgrpw"))
    assert failures == []


def test_an_advisory_vector_passes_too(app):
    # id null is a request, not a notification: we answer it.
    vector = next(v for v in VECTORS
                  if v["name"] == "derived.id_null_is_request")
    post = wsgi_poster(app, "/++skin++Scrapy", "mgr", "mgrpw")
    assert check(vector, *post(vector)) is None


@pytest.mark.parametrize("name", ["derived.body_is_long_string",
                                  "derived.deep_nesting"])
def test_hostile_bodies_are_refused_at_once(app, name):
    vector = next(v for v in VECTORS if v["name"] == name)
    post = wsgi_poster(app, "/++skin++Scrapy", "mgr", "mgrpw")
    status, headers, body, seconds = post(vector)
    assert status == 200
    assert seconds < 1.0
    assert json.loads(body)["error"]["code"] in (-32600, -32700)


def test_check_all_prints_a_summary_line(app):
    from tests.jsonrpc.check import check_all

    out = io.StringIO()
    vectors = [v for v in VECTORS if v["name"].startswith("spec.")]
    failed = check_all(vectors, wsgi_poster(app, "/++skin++Scrapy", "mgr",
                                            "mgrpw"), out)
    assert failed == 0
    assert out.getvalue().splitlines()[-1] == "%d passed, 0 failed" % len(
        vectors)
