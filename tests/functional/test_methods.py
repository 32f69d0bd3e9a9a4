"""The daemon methods of the API contract, as the seed doctest shows them."""
import subprocess
import time

from s01.worker.mongo.embedded import find_free_port
from s01.worker.root import scrapyRoot


def test_the_root_is_the_one_scrapy_root(app, testapp):
    from pyramid.scripting import prepare

    env = prepare(registry=app.registry)
    try:
        assert env["root"] is scrapyRoot
        assert repr(env["root"]) == "<ScrapyRoot>"
    finally:
        env["closer"]()


def test_get_start_time_is_a_recent_unix_time(rpc):
    start_time = rpc("getStartTime")
    assert start_time > 1289184237
    assert start_time <= time.time()
    assert start_time == scrapyRoot.startTime


def test_get_mongodb_status_names_the_server(rpc, mongo_uri):
    from s01.worker.mongo.store import _host_and_port

    status = rpc("getMongoDBStatus")
    host, port = _host_and_port(mongo_uri)
    assert status == {"status": True, "host": host, "port": port}


def test_get_mongodb_status_is_false_quickly_when_unreachable(make_app):
    import webtest

    from tests.conftest import RPC

    port = find_free_port()
    app = make_app(**{
        "s01.mongo.uri": "mongodb://127.0.0.1:%d/" % port,
        "s01.mongo.timeout": "1"})
    started = time.monotonic()
    status = RPC(webtest.TestApp(app))("getMongoDBStatus")
    assert time.monotonic() - started < 5
    assert status == {"status": False, "host": "127.0.0.1", "port": port}


def test_processor_start_stop_and_liveness(rpc):
    assert rpc("getProcessorStartTime") is None
    assert rpc("isProcessing") is False
    assert rpc("startProcessor") is True
    assert rpc("isProcessing") is True
    assert rpc("getProcessorStartTime") > 1289184237
    assert rpc("stopProcessor") is False
    assert rpc("isProcessing") is False


def test_start_processor_twice_keeps_one_pool(rpc, app):
    from s01.worker.interfaces import IProcessor

    assert rpc("startProcessor") is True
    assert rpc("startProcessor") is True
    processor = app.registry.getUtility(IProcessor)
    assert len(processor._threads) == processor.size


def test_is_processing_reports_a_dead_thread(rpc, app):
    from s01.worker.interfaces import IProcessor

    processor = app.registry.getUtility(IProcessor)
    assert rpc("startProcessor") is True
    processor.kill_thread_for_testing()
    for thread in list(processor._threads):
        thread.join(5)
    assert rpc("isProcessing") is False
    assert rpc("startProcessor") is True
    assert rpc("isProcessing") is True


def test_default_python_version_is_the_shells_python3(rpc):
    shell = subprocess.run(
        ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert rpc("getDefaultPythonVersion") == shell
    assert scrapyRoot.defaultPythonVersion == shell


def test_python_versions_are_a_mutable_mapping(rpc):
    assert rpc("getPythonVersions") == {}
    assert scrapyRoot.pythonVersions == {}
    scrapyRoot.pythonVersions["42.0"] = "/path/to/python"
    try:
        assert rpc("getPythonVersions") == {"42.0": "/path/to/python"}
    finally:
        del scrapyRoot.pythonVersions["42.0"]
    assert rpc("getPythonVersions") == {}


def test_python_versions_come_from_the_platforms_setting(make_app):
    import webtest

    from tests.conftest import RPC

    app = make_app(**{"s01.pythonversions.linux":
                      "\n3.12 /usr/bin/python3.12\n3.11-ssl /opt/py/bin/py"})
    versions = RPC(webtest.TestApp(app))("getPythonVersions")
    assert versions == {"3.12": "/usr/bin/python3.12",
                        "3.11-ssl": "/opt/py/bin/py"}


def test_unknown_method_is_method_not_found_with_i18n_message(rpc):
    answer = rpc.answer("notAvailableMethodName")
    assert answer["error"] == {
        "code": -32601, "message": "Method not found",
        "data": {"i18nMessage": "Method not found"}}
    assert answer["jsonrpc"] == "2.0"


def unreachable_app(make_app):
    import webtest

    from tests.conftest import RPC

    port = find_free_port()
    app = make_app(**{
        "s01.mongo.uri": "mongodb://127.0.0.1:%d/" % port,
        "s01.mongo.timeout": "1"})
    return app, RPC(webtest.TestApp(app)), port


def test_a_call_needing_the_database_says_it_is_unavailable(make_app):
    app, rpc, port = unreachable_app(make_app)
    started = time.monotonic()
    answer = rpc.answer("countJobs")
    assert time.monotonic() - started < 5
    assert answer["id"] is not None
    assert answer["error"]["code"] == -32002
    assert answer["error"]["message"].startswith(
        "Database unavailable: MongoDB at 127.0.0.1:%d did not answer "
        "within 1 s" % port)


def test_a_commit_the_database_misses_says_it_is_unavailable(make_app):
    from s01.worker.interfaces import IMongoStore

    app, rpc, port = unreachable_app(make_app)
    # As if the database had answered earlier and went away since: the
    # call only queues its write, which fails at commit.
    app.registry.getUtility(IMongoStore)._transactions = False
    response = rpc.post({"jsonrpc": "2.0", "id": 7, "method": "queueWrite",
                         "params": ["late"]}, status=200)
    assert response.content_type == "application/json"
    assert response.json["error"]["code"] == -32002
    assert response.json["id"] == 7
