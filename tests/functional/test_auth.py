"""Basic auth on every request, roles by ACL (case C05 and the viewer)."""
import base64
import logging

import pytest
import webtest

from s01.worker.exceptions import ConfigurationError
from s01.worker.security import hash_password
from tests.conftest import RPC
from tests.conftest import VIEWER
from tests.conftest import basic_auth

PASSWORD = "p:a:ss word"
CALL = b'{"jsonrpc": "2.0", "id": 1, "method": "getStartTime"}'


@pytest.fixture
def colon_app(make_app):
    """An app whose manager mgr has a password with colons and a space."""
    users = "\nmgr manager %s" % hash_password(PASSWORD)
    return webtest.TestApp(make_app(**{"s01.users": users}))


def b64(raw):
    return base64.b64encode(raw).decode("ascii")


BAD_HEADERS = {
    "b-missing": None,
    "c-not-base64": "Basic !!!notbase64",
    "d-no-colon": "Basic " + b64(b"mgr"),
    "e-bearer": "Bearer abc",
    "f-not-utf8": "Basic " + b64(b"\xff\xfe:x"),
    "g-wrong-password": basic_auth("mgr", "p:a:ss wor"),
}


def post(testapp, authorization):
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    return testapp.post("/++skin++Scrapy", CALL, headers=headers,
                        status="*")


def get_page(testapp, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    return testapp.get("/", headers=headers, status="*")


def test_correct_credentials_with_colons_get_a_result(colon_app):
    response = post(colon_app, basic_auth("mgr", PASSWORD))
    assert response.status_int == 200
    assert response.json["result"] > 1289184237
    assert get_page(colon_app, basic_auth("mgr", PASSWORD)).status_int \
        == 200


def test_the_scheme_name_is_case_insensitive(colon_app):
    header = "basic " + b64(("mgr:" + PASSWORD).encode("utf-8"))
    assert post(colon_app, header).json["result"] > 1289184237
    assert get_page(colon_app, header).status_int == 200


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_bad_credentials_get_401_with_a_challenge(colon_app, case):
    for response in (post(colon_app, BAD_HEADERS[case]),
                     get_page(colon_app, BAD_HEADERS[case])):
        assert response.status_int == 401
        assert response.headers["WWW-Authenticate"] == \
            'Basic realm="s01.worker"'
        assert b"Traceback" not in response.body


def test_an_empty_password_refuses_to_start(make_app, caplog):
    users = "\nmgr manager %s" % hash_password("")
    with pytest.raises(ConfigurationError) as info:
        make_app(**{"s01.users": users})
    assert "user mgr has an empty password" in str(info.value)


def test_no_users_refuses_to_start(make_app):
    with pytest.raises(ConfigurationError) as info:
        make_app(**{"s01.users": ""})
    assert "no users are configured" in str(info.value)


@pytest.mark.parametrize("line, message", [
    ("mgr manager", "each line is 'name role hash'"),
    ("mgr admin $argon2id$x", "unknown role 'admin'"),
    ("mgr manager plaintext", "needs an argon2 hash"),
    ("mgr manager $argon2id$broken", "hash of user mgr is malformed"),
])
def test_bad_user_lines_name_the_problem(make_app, line, message):
    with pytest.raises(ConfigurationError) as info:
        make_app(**{"s01.users": line})
    assert message in str(info.value)


def test_a_viewer_may_read_but_not_manage(rpc):
    assert rpc("isProcessing", auth=VIEWER) is False
    answer = rpc.answer("startProcessor", auth=VIEWER)
    assert answer["error"]["code"] == -32001
    assert "manage" in answer["error"]["message"]
    assert "result" not in answer
    assert rpc("isProcessing") is False


def test_a_viewers_notification_of_a_manager_method_does_nothing(rpc):
    response = rpc.post({"jsonrpc": "2.0", "method": "startProcessor"},
                        auth=VIEWER)
    assert response.status_int == 204
    assert rpc("isProcessing") is False


def test_verified_logins_are_cached(app, rpc, monkeypatch):
    users = app.registry.s01_users
    calls = []

    class CountingHasher:
        def __init__(self, hasher):
            self.hasher = hasher

        def verify(self, hashed, password):
            calls.append(1)
            return self.hasher.verify(hashed, password)

    monkeypatch.setattr(users, "hasher", CountingHasher(users.hasher))
    users._verified.clear()
    for _ in range(5):
        rpc("isProcessing")
    assert len(calls) == 1

    # A wrong password is never served from the cache.
    assert post(rpc.testapp, basic_auth("mgr", "nope")).status_int == 401
    assert len(calls) == 2


def test_credentials_never_reach_the_log(rpc, caplog):
    caplog.set_level(logging.DEBUG)
    rpc("startProcessor")
    post(rpc.testapp, basic_auth("mgr", "wrong-secret"))
    text = caplog.text
    assert "mgrpw" not in text and "wrong-secret" not in text
    assert b64(b"mgr:mgrpw") not in text


def test_rpc_answers_use_the_same_client(app):
    # The RPC helper and webtest share auth handling; a sanity check that
    # the manager's basic auth header is accepted end to end.
    assert RPC(webtest.TestApp(app))("getStartTime") > 1289184237
