"""The JSON-RPC proxy and the ``s01-worker`` command against real daemons."""
import json
import re
import subprocess

import argon2
import pytest
import requests

from s01.worker.client import JSONRPCProxy
from s01.worker.client import ResponseError
from s01.worker.mongo.embedded import find_free_port
from s01.worker.root import get_shell_python_version
from tests.conftest import BIN
from tests.conftest import Daemon

COMMAND = str(BIN / "s01-worker")


def command(*args, stdin=None, env=None):
    """Run ``s01-worker``; answer the finished process."""
    return subprocess.run([COMMAND] + [str(a) for a in args], input=stdin,
                          capture_output=True, text=True, timeout=120,
                          env=env)


def test_the_proxy_calls_methods_as_attributes(daemon):
    proxy = JSONRPCProxy(daemon.rpc_url, "mgr", "mgrpw")
    assert proxy.getStartTime() > 1289184237
    assert proxy.getDefaultPythonVersion() == get_shell_python_version()
    assert proxy.error is None


def test_the_proxy_passes_named_params(daemon):
    proxy = JSONRPCProxy(daemon.rpc_url, "mgr", "mgrpw")
    with pytest.raises(ResponseError):
        proxy.getJobStatus(jobid="not-a-job-id")
    assert proxy.error["code"] == -32602
    assert "jobid" in proxy.error["message"]


def test_an_error_raises_and_stays_in_proxy_error(daemon):
    proxy = JSONRPCProxy(daemon.rpc_url, "mgr", "mgrpw")
    with pytest.raises(ResponseError) as raised:
        proxy.notAvailableMethodName()
    assert "Check proxy.error for error message" in str(raised.value)
    assert proxy.error == {"code": -32601, "message": "Method not found",
                           "data": {"i18nMessage": "Method not found"}}

    # The next good call clears it.
    proxy.getStartTime()
    assert proxy.error is None


def test_a_wrong_password_is_an_http_401(daemon):
    proxy = JSONRPCProxy(daemon.rpc_url, "mgr", "wrong")
    with pytest.raises(requests.HTTPError) as raised:
        proxy.getStartTime()
    assert raised.value.response.status_code == 401


def test_the_proxy_refuses_positional_and_named_params_together(daemon):
    proxy = JSONRPCProxy(daemon.rpc_url, "mgr", "mgrpw")
    with pytest.raises(TypeError):
        proxy.listJobs({}, limit=5)


def test_call_prints_the_result_as_json(daemon):
    done = command("call", "getStartTime", "--url", daemon.rpc_url,
                   "--password", "mgrpw")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) > 1289184237


def test_call_reads_arguments_as_json_where_they_parse(daemon):
    done = command("call", "listJobs", "null", "null", "3", "--url",
                   daemon.rpc_url, "--password", "mgrpw")
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {"jobs", "next"}


def test_call_takes_the_password_from_the_environment(daemon):
    env = {"S01_PASSWORD": "mgrpw", "PATH": "/usr/bin:/bin"}
    done = command("call", "isProcessing", "--url", daemon.rpc_url, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) in (True, False)


def test_call_of_an_unknown_method_prints_the_error_and_exits_1(daemon):
    done = command("call", "noSuchMethod", "--url", daemon.rpc_url,
                   "--password", "mgrpw")
    assert done.returncode == 1
    assert done.stdout == ""
    assert json.loads(done.stderr)["code"] == -32601


def test_call_without_a_password_or_a_terminal_says_how_to_give_one(
        daemon):
    done = command("call", "getStartTime", "--url", daemon.rpc_url,
                   stdin="", env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert done.stderr == ("s01-worker: no password: give --password or "
                           "set S01_PASSWORD\n")


def test_call_with_a_wrong_password_says_so(daemon):
    done = command("call", "getStartTime", "--url", daemon.rpc_url,
                   "--password", "wrong")
    assert done.returncode == 2
    assert done.stderr == ("s01-worker: %s refused user mgr: wrong user "
                           "or password (HTTP 401)\n" % daemon.rpc_url)


def test_call_of_a_package_method_that_fails_exits_1(daemon):
    # removePackage of a package that is not installed: status false.
    # "1.0" quoted: unquoted it would be read as the JSON number 1.0.
    done = command("call", "removePackage", "no.such.pkg", '"1.0"', "null",
                   "--url", daemon.rpc_url, "--password", "mgrpw")
    assert done.returncode == 1, done.stderr
    assert done.stdout, done.stderr
    assert json.loads(done.stdout)["status"] is False


def test_call_of_a_daemon_that_is_not_there_exits_2():
    url = "http://127.0.0.1:%d/++skin++Scrapy" % find_free_port()
    done = command("call", "getStartTime", "--url", url, "--password", "x")
    assert done.returncode == 2
    assert done.stderr.startswith("s01-worker: ")
    assert "Traceback" not in done.stderr


def test_hash_password_prints_an_argon2id_hash_that_verifies():
    done = command("hash-password", stdin="p:a:ss word\n")
    assert done.returncode == 0, done.stderr
    hashed = done.stdout.strip()
    assert hashed.startswith("$argon2id$")
    assert argon2.PasswordHasher().verify(hashed, "p:a:ss word")


def test_hash_password_refuses_an_empty_password():
    done = command("hash-password", stdin="\n")
    assert done.returncode == 1
    assert "empty password" in done.stderr
    assert done.stdout == ""


@pytest.mark.slow
def test_demo_installs_the_demo_package_and_crawls(
        tmp_path, package_settings, docs_requests):
    """``make demo``'s command, against a daemon like ``make serve``'s."""
    settings = dict(package_settings, **{
        "s01.processor.autostart": "true",
        "s01.processor.poll_interval": "0.2"})
    daemon = Daemon(tmp_path, settings=settings).start()
    try:
        start = docs_requests.url + "/index.html"
        done = command("demo", "--start-url", start, "--pages", "5",
                       "--url", daemon.rpc_url, "--password", "mgrpw")
        again = command("demo", "--start-url", start, "--pages", "5",
                        "--url", daemon.rpc_url, "--password", "mgrpw")
        nowhere = "http://127.0.0.1:%d/" % find_free_port()
        unreachable = command("demo", "--start-url", nowhere, "--url",
                              daemon.rpc_url, "--password", "mgrpw")
    finally:
        daemon.stop()

    # The first run installs, the second finds the install.
    assert done.returncode == 0, done.stdout + done.stderr + daemon.log()
    assert "installing s01.demo 0.16.2" in done.stdout
    assert "installing" not in again.stdout
    assert again.returncode == 0, again.stdout + again.stderr

    # It names the job's outcome and its items file, which holds the
    # pages the docs server served.
    summary = [line for line in done.stdout.splitlines()
               if line.startswith("job ")][0]
    assert " completed: " in summary
    assert "finish reason closespider_pagecount" in summary
    items_line = [line for line in done.stdout.splitlines()
                  if line.strip().startswith("items: ")][0]
    with open(items_line.split(": ", 1)[1]) as f:
        items = [json.loads(line) for line in f]
    assert len(items) >= 5
    served = docs_requests.html_paths()
    assert {item["url"].split(docs_requests.url, 1)[1]
            for item in items} <= served

    # A start URL out of reach: the job completes, and the command says
    # that nothing was fetched instead of reporting 0 pages silently.
    assert unreachable.returncode == 0, unreachable.stderr
    assert " completed: 0 items from 0 pages" in unreachable.stdout
    assert re.search(r"\n  nothing was fetched \([1-9]\d* request errors\): "
                     r"is %s reachable from the daemon\?" % re.escape(nowhere),
                     unreachable.stdout), unreachable.stdout
