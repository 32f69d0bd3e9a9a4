"""Outside values are checked before any path or process sees them (C07)."""
import os

import pytest

from s01.worker.exceptions import ConfigurationError
from s01.worker.exceptions import DirectoryTraversal
from s01.worker.exceptions import InvalidParams
from s01.worker.packages import names

# Refused for every path-like field (C07).
PATH_ATTACKS = ["", ".", "..", "../sentinel", "../../sentinel", "a/b", "a\\b",
                "a\x00b", "/etc", "/", "\\", "../../../sentinel"]
NOT_STRINGS = [None, 1, 1.0, True, {"$ne": None}, ["a"], b"demo"]


@pytest.mark.parametrize("value", ["s01.demo", "demo_pkg-2", "a", "A1",
                                   "Demo.Pkg", "x" * 100])
def test_check_package_name_accepts_pep_508_names(value):
    assert names.check_package_name(value) == value


@pytest.mark.parametrize("value", PATH_ATTACKS + NOT_STRINGS + [
    " demo", "demo ", "de mo", "-demo", "demo.", "demo_", "x" * 101,
    "demo\n", "d\u212ao", "\u017fo",
])
def test_check_package_name_refuses_everything_else(value):
    with pytest.raises(InvalidParams) as info:
        names.check_package_name(value)
    assert str(info.value).startswith("pkgName: ")
    assert info.value.code == -32602


def test_check_package_name_message_names_the_field_and_the_rule():
    with pytest.raises(InvalidParams) as info:
        names.check_package_name("../x")
    assert str(info.value) == (
        "pkgName: '../x' is not a valid package name (PEP 508: letters, "
        "digits, '.', '_', '-', starting and ending with a letter or digit)")


def test_check_package_name_message_names_a_non_string():
    with pytest.raises(InvalidParams) as info:
        names.check_package_name({"$ne": None}, field="name")
    assert str(info.value) == "name: {'$ne': None} is not a string"


def test_check_package_name_message_cuts_a_huge_value_short():
    with pytest.raises(InvalidParams) as info:
        names.check_package_name("x" * 100000)
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("value, normal", [
    ("0.16.2", "0.16.2"), ("1.0b1", "1.0b1"), ("2.0.post1", "2.0.post1"),
    ("1.0+local", "1.0+local"), ("1.0", "1.0"), ("1.0-1", "1.0.post1"),
    ("1.0.BETA1", "1.0b1"), ("v2", "2"),
])
def test_check_version_answers_the_pep_440_normal_form(value, normal):
    assert names.check_version(value) == normal


@pytest.mark.parametrize("value", PATH_ATTACKS + NOT_STRINGS + [
    "1.0/..", "1..0", "banana", "1.0 beta", "1." + "0" * 70,
])
def test_check_version_refuses_everything_else(value):
    with pytest.raises(InvalidParams) as info:
        names.check_version(value)
    assert str(info.value).startswith("pkgVersion: ")


def test_check_python_key_answers_the_default_for_none():
    assert names.check_python_key(None, "3.11", {"2.7": "/py"}) == "3.11"


@pytest.mark.parametrize("value", ["3.11", "2.7"])
def test_check_python_key_accepts_default_and_configured_keys(value):
    assert names.check_python_key(value, "3.11", {"2.7": "/py"}) == value


@pytest.mark.parametrize("value", PATH_ATTACKS + NOT_STRINGS[1:] + [
    "3.12", "../../../sentinel",
])
def test_check_python_key_refuses_unknown_keys(value):
    with pytest.raises(InvalidParams) as info:
        names.check_python_key(value, "3.11", {"2.7": "/py"})
    assert str(info.value).startswith("pyVersion: ")


@pytest.mark.parametrize("key", ["", ".", "..", "../x", "a/b", "a\\b",
                                 "a\x00b", "/usr"])
def test_check_python_key_refuses_a_configured_key_unfit_for_a_path(key):
    # Code may add keys to scrapyRoot.pythonVersions at run time, past
    # the start-up check of the ini's keys (C07).
    with pytest.raises(InvalidParams) as info:
        names.check_python_key(key, "3.11", {key: "/usr/bin/python3"})
    assert str(info.value).startswith("pyVersion: ")


def test_check_python_key_message_lists_the_known_keys():
    with pytest.raises(InvalidParams) as info:
        names.check_python_key("/etc", "3.11", ["2.7"])
    assert str(info.value) == (
        "pyVersion: '/etc' is not a configured python (known: '3.11', "
        "'2.7')")


@pytest.mark.parametrize("key", ["3.11", "2.7", "42.0", "py3", "pypy3.10",
                                 "3.11+debug", "cp311_x"])
def test_check_python_key_setting_accepts_path_safe_keys(key):
    assert names.check_python_key_setting(key) == key


@pytest.mark.parametrize("key", ["", ".", "..", "3..11", "a/b", "a\\b",
                                 "/usr", ".hidden", "-x", "a b", "a\x00",
                                 None])
def test_check_python_key_setting_refuses_other_keys_at_start_up(key):
    with pytest.raises(ConfigurationError) as info:
        names.check_python_key_setting(key)
    assert "s01.pythonversions" in str(info.value)


@pytest.mark.parametrize("value", ["python.org", "demo", "my spider",
                                   "spider_1", "x" * 200, "caf\u00e9"])
def test_check_spider_name_accepts_scrapy_names(value):
    assert names.check_spider_name(value) == value


@pytest.mark.parametrize("value", NOT_STRINGS + [
    "", ".", "..", "../x", "a/b", "a\\b", "a\x00b", "a\nb", "a\rb",
    "a\x1bb", "a\x85b", "x" * 201, "-s", "--output=/tmp/x",
])
def test_check_spider_name_refuses_paths_controls_and_options(value):
    with pytest.raises(InvalidParams) as info:
        names.check_spider_name(value)
    assert str(info.value).startswith("spiderName: ")


def test_check_job_id_answers_lower_case_object_id_text():
    assert names.check_job_id("5F0C" + "a" * 20) == "5f0c" + "a" * 20


@pytest.mark.parametrize("value", NOT_STRINGS + [
    "", "a" * 23, "a" * 25, "g" * 24, " " + "a" * 23, "a" * 24 + "\n",
    "../" + "a" * 21,
])
def test_check_job_id_refuses_anything_but_24_hex_digits(value):
    with pytest.raises(InvalidParams) as info:
        names.check_job_id(value)
    assert str(info.value).startswith("jobid: ")


def test_check_md5_accepts_none():
    assert names.check_md5(None) is None


def test_check_md5_compares_case_insensitively_by_lowering():
    upper = "D41D8CD98F00B204E9800998ECF8427E"
    assert names.check_md5(upper) == upper.lower()


@pytest.mark.parametrize("value", ["", "0" * 31, "0" * 33, "z" * 32, 5,
                                   {"$ne": None}, "0" * 32 + "\n"])
def test_check_md5_refuses_anything_but_32_hex_digits(value):
    with pytest.raises(InvalidParams) as info:
        names.check_md5(value)
    assert str(info.value).startswith("md5Digest: ")


def test_safe_join_answers_a_path_below_the_base(tmp_path):
    path = names.safe_join(tmp_path, "demo.pkg", "1.0", "3.11")
    assert path == str(tmp_path.resolve() / "demo.pkg" / "1.0" / "3.11")


@pytest.mark.parametrize("parts", [
    ("..",), ("a", "..", ".."), ("/etc",), ("a", "/etc"), ("",), (".",),
    ("a", ".."), ("a\x00b",),
])
def test_safe_join_refuses_paths_leaving_or_equal_to_the_base(tmp_path,
                                                              parts):
    with pytest.raises(DirectoryTraversal):
        names.safe_join(tmp_path, *parts)


def test_safe_join_refuses_a_symlink_leading_out(tmp_path):
    base = tmp_path / "pkgs"
    base.mkdir()
    os.symlink(tmp_path, base / "link")
    with pytest.raises(DirectoryTraversal) as info:
        names.safe_join(base, "link", "sentinel")
    assert info.value.code == 1007


def nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("settings, message", [
    ({"X": nested(11)}, "settings.X: 1 is nested more than 10 levels "
     "deep"),
    ({"X": 2 ** 63}, "settings.X: %d is outside the 64-bit integer range"
     % 2 ** 63),
    ({"X": "\ud800"}, "settings.X: '\\ud800' is not valid Unicode text"),
    ({"X": {"a\x00b": 1}}, "settings.X: 'a\\x00b' is not a usable key"),
    ({"X": {"$where": 1}}, "settings.X: '$where' is not a usable key"),
    ({"X": {"a": {"\udfff": 1}}}, "settings.X.a: '\\udfff' is not valid "
     "Unicode text"),
])
def test_settings_a_job_could_not_store_are_refused(settings, message):
    with pytest.raises(InvalidParams) as info:
        names.check_scrapy_settings(settings)
    assert str(info.value).startswith(message)


def test_settings_of_json_values_within_bounds_pass():
    settings = {"ITEM_PIPELINES": {"demo.pipelines.Store": 300},
                "X": nested(10), "N": -2 ** 63, "F": 0.5, "T": None}
    assert names.check_scrapy_settings(settings) == settings


@pytest.mark.parametrize("check", [names.check_spider_name,
                                   names.check_server_name])
def test_text_with_a_lone_surrogate_is_refused(check):
    with pytest.raises(InvalidParams) as info:
        check("spider\ud800")
    assert "is not valid Unicode text" in str(info.value)


@pytest.mark.parametrize("value", ["\ud800", float("inf"), float("nan")])
def test_spider_arguments_a_program_could_not_take_are_refused(value):
    with pytest.raises(InvalidParams) as info:
        names.check_spider_args({"a": value})
    assert str(info.value).startswith("args.a: ")
