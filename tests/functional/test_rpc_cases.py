"""Protocol cases from the field: C01 params, C02 ids, C04 content types."""
import json

import pytest

from tests.conftest import MGR


# C01: params by name and by position, arity, id types.

def test_named_and_positional_params_give_the_same_result(rpc):
    assert rpc("subtract", 42, 23) == 19
    assert rpc("subtract", subtrahend=23, minuend=42) == 19


@pytest.mark.parametrize("params", [
    {"minuend": 42, "subtrahend": 23, "bogus": 1},
    {"minuend": 42},
    [42],
    [1, 2, 3],
])
def test_wrong_params_are_invalid_params_with_the_id(rpc, params):
    answer = rpc.post({"jsonrpc": "2.0", "id": 3, "method": "subtract",
                       "params": params}, status=200).json
    assert answer["error"]["code"] == -32602
    assert answer["id"] == 3
    assert answer["jsonrpc"] == "2.0"


@pytest.mark.parametrize("job_id", [
    {"$ne": None}, {"$gt": ""}, {"$exists": True}, ["$ne"], 1,
])
def test_a_query_object_as_job_id_never_finds_a_real_job(rpc, job_id):
    # A job in the queue that a leaked operator would match.
    real = rpc("startAddPackage", "demo.pkg", "1.0", None, None, False)
    assert rpc("getJobStatus", real) == "queued"
    answer = rpc.post({"jsonrpc": "2.0", "id": 6, "method": "getJobStatus",
                       "params": [job_id]}, status=200).json
    assert "result" not in answer
    assert answer["error"]["code"] == -32602
    assert answer["error"]["message"].startswith("Invalid params")
    assert answer["id"] == 6
    assert answer["jsonrpc"] == "2.0"
    assert real not in json.dumps(answer)


def test_a_missing_params_member_means_no_params(rpc):
    answer = rpc.post({"jsonrpc": "2.0", "id": 5,
                       "method": "getStartTime"}, status=200).json
    assert answer["result"] > 1289184237


def test_a_type_error_inside_a_method_is_an_internal_error(rpc):
    answer = rpc.answer("typeErrorInside", "abc")
    assert answer["error"]["code"] == -32603
    assert answer["error"]["message"] == "Internal error"
    assert "NoneType" not in json.dumps(answer)


def test_an_internal_error_leaks_no_detail(rpc):
    answer = rpc.answer("boom")
    assert answer["error"] == {"code": -32603, "message": "Internal error",
                               "data": {"i18nMessage": "Internal error"}}


def test_invalid_params_say_what_is_wrong(rpc):
    answer = rpc.answer("subtract", 1, 2, 3)
    assert answer["error"]["message"].startswith("Invalid params: ")
    assert "too many positional arguments" in answer["error"]["message"]


# C02: notifications and id null.

def test_a_notification_runs_and_gets_an_empty_204(rpc):
    response = rpc.post({"jsonrpc": "2.0", "method": "startProcessor"})
    assert response.status_int == 204
    assert response.body == b""
    assert rpc("isProcessing") is True
    assert rpc("stopProcessor") is False


def test_a_failing_notification_gets_the_same_empty_answer(rpc):
    response = rpc.post({"jsonrpc": "2.0", "method": "noSuchMethod"})
    assert response.status_int == 204
    assert response.body == b""


def test_id_null_is_a_request_and_is_answered(rpc):
    answer = rpc.post({"jsonrpc": "2.0", "id": None,
                       "method": "getStartTime"}, status=200).json
    assert answer["id"] is None
    assert isinstance(answer["result"], float)


@pytest.mark.parametrize("request_id", [0, "abc", "0", 9007199254740993,
                                        1.5, "abc-\u00e9"])
def test_ids_come_back_with_the_same_type_and_value(rpc, request_id):
    body = json.dumps({"jsonrpc": "2.0", "id": request_id,
                       "method": "getStartTime"})
    response = rpc.post(body, status=200)
    answer = json.loads(response.body)
    assert answer["id"] == request_id
    assert type(answer["id"]) is type(request_id)


# C04: content types.

@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=UTF-8",
    "Application/JSON", "application/json-rpc"])
def test_json_content_types_are_json_rpc(rpc, content_type):
    response = rpc.post({"jsonrpc": "2.0", "id": 1, "method": "subtract",
                         "params": [3, 1]}, content_type=content_type)
    assert response.status_int == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json == {"jsonrpc": "2.0", "result": 2, "id": 1}


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x"])
def test_other_content_types_never_run_a_method(rpc, content_type):
    response = rpc.post({"jsonrpc": "2.0", "id": 1,
                         "method": "startProcessor"},
                        content_type=content_type)
    assert response.status_int == 415
    assert rpc("isProcessing") is False


def test_get_never_runs_a_method(testapp, rpc):
    response = testapp.get(
        "/++skin++Scrapy?jsonrpc=2.0&method=startProcessor&id=1",
        headers={"Authorization": MGR}, status="*")
    assert response.status_int == 405
    assert response.headers["Allow"] == "POST"
    assert rpc("isProcessing") is False


def test_non_ascii_text_arrives_intact(rpc):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "echo",
                       "params": ["d\u00e9mo.pkg"]}, ensure_ascii=False)
    response = rpc.post(body.encode("utf-8"),
                        content_type="application/json; charset=UTF-8")
    assert response.json["result"] == "d\u00e9mo.pkg"
    assert "d\u00e9mo.pkg".encode("utf-8") in response.body


def test_a_non_ascii_name_reaches_list_spiders_intact(rpc):
    # C04 (g): the error names the package as the caller wrote it.
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "listSpiders",
                       "params": ["d\u00e9mo.pkg", "1.0", None]},
                      ensure_ascii=False)
    response = rpc.post(body.encode("utf-8"),
                        content_type="application/json; charset=UTF-8")
    error = response.json["error"]
    assert error["code"] == -32602
    assert "'d\u00e9mo.pkg'" in error["message"]
    assert "\u00c3" not in error["message"]


def test_a_body_over_the_cap_is_413_unread(rpc, make_app):
    import webtest

    from tests.conftest import RPC

    small = RPC(webtest.TestApp(make_app(**{
        "s01.rpc.max_body_bytes": "2048"})))
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "echo",
                       "params": ["x" * 4096]})
    assert small.post(body).status_int == 413


def test_a_batch_over_the_limit_is_one_invalid_request(rpc):
    call = {"jsonrpc": "2.0", "id": 1, "method": "getStartTime"}
    answer = rpc.post([call] * 101, status=200).json
    assert answer["error"]["code"] == -32600
    assert answer["id"] is None


def test_an_unknown_skin_is_not_found(testapp):
    response = testapp.post("/++skin++Nope", b"{}", headers={
        "Authorization": MGR, "Content-Type": "application/json"},
        status="*")
    assert response.status_int == 404
