"""Settings, arguments and requests of the recipe's runner."""
import datetime
import json
import os
import sys

import pytest


@pytest.mark.parametrize("text, value", [
    ("16", 16),
    (" 16 ", 16),
    ("0.5", 0.5),
    ("-3", -3),
    ("True", True),
    ("False", False),
    ("None", None),
    ("true", True),
    ("null", None),
    ('"16"', "16"),
    ('["a", "b"]', ["a", "b"]),
    ('{"a": 1}', {"a": 1}),
    ("s01.demo (+s01.worker)", "s01.demo (+s01.worker)"),
    ("NaN", "NaN"),
    ("Infinity", "Infinity"),
    ("", ""),
    ("[not json", "[not json"),
])
def test_parse_value_follows_the_documented_rule(runner, text, value):
    assert runner.parse_value(text) == value


def test_parse_value_keeps_int_and_float_apart(runner):
    assert type(runner.parse_value("16")) is int
    assert type(runner.parse_value("16.0")) is float


def test_parse_assignment_splits_at_the_first_equals(runner):
    assert runner.parse_assignment("URL=http://x/?a=b", "-a") == (
        "URL", "http://x/?a=b")


@pytest.mark.parametrize("text", ["novalue", "=value", " =value"])
def test_parse_assignment_without_name_or_equals_is_refused(runner, text):
    with pytest.raises(runner.UsageError, match="is not NAME=VALUE"):
        runner.parse_assignment(text, "-s")


def test_read_config_reads_module_and_parsed_overrides(runner, tmp_path):
    path = tmp_path / "default.cfg"
    path.write_text(
        "[scrapy]\nsettings_module = s01.demo.settings\npart = crawl\n\n"
        "[settings]\nCONCURRENT_REQUESTS = 8\nROBOTSTXT_OBEY = False\n"
        "USER_AGENT = me (+x)\nITEM_PIPELINES = {\"a.B\": 300}\n")
    module, overrides = runner.read_config(str(path))
    assert module == "s01.demo.settings"
    assert overrides == {"CONCURRENT_REQUESTS": 8, "ROBOTSTXT_OBEY": False,
                         "USER_AGENT": "me (+x)",
                         "ITEM_PIPELINES": {"a.B": 300}}


def test_read_config_without_settings_section_has_no_overrides(
        runner, tmp_path):
    path = tmp_path / "default.cfg"
    path.write_text("[scrapy]\nsettings_module = x.settings\n")
    assert runner.read_config(str(path)) == ("x.settings", {})


def test_parse_crawl_args_builds_the_job(runner):
    job = runner.parse_crawl_args([
        "python.org", "-a", "start_url=http://h/", "-a", "n=5",
        "-s", "CLOSESPIDER_PAGECOUNT=10", "-s", "LOG_STDOUT=False",
        "--logfile", "c.log", "--items", "i.jl", "--stats", "s.json",
        "--loglevel", "info"])
    assert job.spider == "python.org"
    assert job.args == {"start_url": "http://h/", "n": "5"}
    assert job.settings == {"CLOSESPIDER_PAGECOUNT": 10, "LOG_STDOUT": False}
    assert (job.logfile, job.items, job.stats) == ("c.log", "i.jl", "s.json")
    assert job.loglevel == "INFO"


def test_parse_crawl_args_defaults_to_nothing_extra(runner):
    job = runner.parse_crawl_args(["python.org"])
    assert (job.args, job.settings) == ({}, {})
    assert (job.logfile, job.items, job.stats, job.loglevel) == (
        None, None, None, None)


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: spider"),
    (["x", "-a", "novalue"], "-a 'novalue' is not NAME=VALUE"),
    (["x", "-s", "=1"], "-s '=1' is not NAME=VALUE"),
    (["x", "--loglevel", "LOUD"], "invalid choice"),
    (["x", "--bogus"], "unrecognized arguments"),
    (["x", "y"], "unrecognized arguments"),
])
def test_parse_crawl_args_refuses_bad_arguments(runner, argv, message):
    with pytest.raises(runner.UsageError, match=message):
        runner.parse_crawl_args(argv)


def test_crawl_main_with_bad_arguments_exits_2_before_scrapy(
        runner, capsys, tmp_path):
    code = runner.crawl_main(str(tmp_path / "missing.cfg"), ["x", "-a", "y"])
    assert code == 2
    assert "is not NAME=VALUE" in capsys.readouterr().err


def test_parse_request_routes_output_to_the_logfile(runner):
    line = json.dumps({
        "spider": "python.org", "args": {"n": 5},
        "settings": {"CLOSESPIDER_PAGECOUNT": 10}, "logfile": "/l",
        "items": "/i", "stats": "/s", "loglevel": "debug"})
    job, output = runner.parse_request(line)
    assert job.spider == "python.org"
    assert job.args == {"n": "5"}
    assert job.settings == {"CLOSESPIDER_PAGECOUNT": 10}
    assert (job.items, job.stats, job.loglevel) == ("/i", "/s", "DEBUG")
    # Scrapy logs to stderr, and stderr is the log file.
    assert (job.logfile, output) == (None, "/l")


def test_parse_request_with_stderr_file_lets_scrapy_write_the_log(runner):
    job, output = runner.parse_request(json.dumps(
        {"spider": "s", "logfile": "/l", "stderr": "/e"}))
    assert (job.logfile, output) == ("/l", "/e")


def test_parse_request_without_output_files_keeps_stdio(runner):
    job, output = runner.parse_request('{"spider": "s"}')
    assert output is None


@pytest.mark.parametrize("line, message", [
    ("not json", "not JSON"),
    ("[1]", "not a JSON object"),
    ("{}", "spider must be a non-empty string"),
    ('{"spider": 3}', "spider must be a non-empty string"),
    ('{"spider": "s", "args": [1]}', "args must be an object"),
    ('{"spider": "s", "settings": "x"}', "settings must be an object"),
    ('{"spider": "s", "items": 1}', "items must be a string"),
    ('{"spider": "s", "loglevel": "LOUD"}', "loglevel must be one of"),
    ('{"spider": "s", "cwd": "/"}', "unknown request keys: cwd"),
    ("[" * 100000, "not JSON"),
])
def test_parse_request_refuses_bad_requests(runner, line, message):
    with pytest.raises(runner.UsageError, match=message):
        runner.parse_request(line)


@pytest.mark.parametrize("reason, code", [
    ("finished", 0),
    ("closespider_pagecount", 0),
    ("closespider_itemcount", 0),
    ("closespider_timeout", 0),
    ("closespider_errorcount", 1),
    ("shutdown", 1),
    ("cancelled", 1),
    (None, 1),
])
def test_exit_code_follows_the_finish_reason(runner, reason, code):
    stats = {} if reason is None else {"finish_reason": reason}
    assert runner.exit_code(stats) == code


def test_write_stats_writes_datetimes_as_iso_strings(runner, tmp_path):
    path = tmp_path / "stats.json"
    start = datetime.datetime(2024, 1, 2, 3, 4, 5,
                              tzinfo=datetime.timezone.utc)
    runner.write_stats(str(path), {
        "start_time": start, "elapsed": datetime.timedelta(seconds=1.5),
        "item_scraped_count": 3, "finish_reason": "finished"})
    assert json.loads(path.read_text()) == {
        "start_time": "2024-01-02T03:04:05+00:00", "elapsed": 1.5,
        "item_scraped_count": 3, "finish_reason": "finished"}
    assert os.listdir(tmp_path) == ["stats.json"]


def test_stdout_to_stderr_moves_prints_and_restores(runner, capfd):
    with runner._stdout_to_stderr():
        print("noise")
        os.write(1, b"raw noise\n")
    print("name")
    out, err = capfd.readouterr()
    assert out == "name\n"
    assert err == "noise\nraw noise\n"


def test_runner_imports_only_the_standard_library(runner):
    imported = {name.split(".")[0] for name in vars(runner)
                if hasattr(getattr(runner, name), "__spec__")}
    stdlib = set(sys.stdlib_module_names)
    assert imported <= stdlib
