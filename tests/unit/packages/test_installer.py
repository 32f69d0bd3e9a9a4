"""The installer's listing and step clock, with scripts for programs.

No buildout here: ``bin/list`` is a small script written by the test, and
steps run ``sleep``. The same cases run end to end, with real installs,
in tests/functional/test_package_listing.py and test_package_offline.py.
"""
import os
import sys
import textwrap
import threading
import time

import pytest

from s01.worker.exceptions import StepFailed
from s01.worker.packages.installer import Installer
from s01.worker.packages.installer import _newest_pip_wheel
from s01.worker.packages.installer import _program_name

LIST_TIMEOUT = 1.0


@pytest.fixture
def installer(tmp_path):
    settings = {
        "s01.packages.dir": str(tmp_path / "packages"),
        "s01.packages.staging_dir": str(tmp_path / "staging"),
        "s01.timeouts.list": LIST_TIMEOUT,
        "s01.timeouts.bootstrap": 2.0,
        "s01.buildout.wheelhouse": str(tmp_path / "wheelhouse"),
        "s01.buildout.find_links": [str(tmp_path / "links")],
    }
    return Installer(settings, index_factory=None, registry=None,
                     python_versions=dict, default_python=lambda: "3.11")


def install_with_list(tmp_path, body):
    """An install folder whose bin/list runs ``body`` (Python)."""
    target = tmp_path / "install"
    (target / "bin").mkdir(parents=True)
    program = target / "bin" / "list"
    program.write_text("#!%s\nimport sys, time\n%s" % (
        sys.executable, textwrap.dedent(body)))
    program.chmod(0o755)
    return str(target)


@pytest.mark.parametrize("body", [
    # A warning on stderr, the names on stdout.
    """
    sys.stderr.write("DeprecationWarning: Module `scrapy.spider` is "
                     "deprecated\\n")
    sys.stdout.write("alpha\\nbeta\\n")
    """,
    # \\r\\n line ends and an empty last line.
    """
    sys.stdout.buffer.write(b"alpha\\r\\nbeta\\r\\n\\r\\n")
    """,
    # Blanks around the names.
    """
    sys.stdout.write("\\n  alpha \\n\\n\\tbeta\\n\\n")
    """,
])
def test_run_list_answers_exactly_the_names_on_stdout(installer, tmp_path,
                                                      body):
    target = install_with_list(tmp_path, body)
    assert installer.run_list(target) == {
        "code": 0, "error": None, "spiders": ["alpha", "beta"]}


def test_run_list_of_a_failing_list_keeps_the_whole_traceback(
        installer, tmp_path):
    target = install_with_list(tmp_path, """
    sys.stdout.write("alpha\\n")
    lines = ["Traceback (most recent call last):"]
    for n in range(14):
        lines += ['  File "x.py", line %d, in f%d' % (n, n), "    f()"]
    sys.stderr.write("\\n".join(lines) + "\\nImportError: No module named "
                     "foo\\n")
    sys.exit(1)
    """)
    answer = installer.run_list(target)
    assert (answer["code"], answer["spiders"]) == (1, [])
    lines = answer["error"].splitlines()
    assert lines[0] == "bin/list exited with code 1"
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[2] == '  File "x.py", line 0, in f0'
    assert lines[-1] == "ImportError: No module named foo"
    assert len(lines) == 31


def test_run_list_naming_no_spider_is_a_failure(installer, tmp_path):
    target = install_with_list(tmp_path, """
    sys.stdout.write("\\r\\n\\n")
    """)
    assert installer.run_list(target) == {
        "code": -1, "spiders": [],
        "error": "bin/list exited with code 0 but named no spider"}


def test_run_list_that_hangs_is_killed_at_the_timeout(installer, tmp_path):
    target = install_with_list(tmp_path, """
    sys.stderr.write("loading\\n")
    sys.stderr.flush()
    time.sleep(60)
    """)
    started = time.monotonic()
    answer = installer.run_list(target)
    assert time.monotonic() - started < LIST_TIMEOUT + 5
    assert answer == {"code": -1, "spiders": [], "error": (
        "bin/list did not finish within 1 s (s01.timeouts.list) and was "
        "killed\nloading")}


def test_run_list_of_an_install_without_bin_list_says_so(installer,
                                                         tmp_path):
    answer = installer.run_list(str(tmp_path))
    assert answer["code"] == -1
    assert answer["error"].startswith("cannot run %s: " % os.path.join(
        str(tmp_path), "bin", "list"))


def test_a_step_budget_is_shared_by_its_programs(installer, tmp_path):
    # The step has 2 s (s01.timeouts.bootstrap); 1 s of it is left.
    deadline = time.monotonic() + 1.0
    installer._run("bootstrap", ["sleep", "0.5"], str(tmp_path),
                   "s01.timeouts.bootstrap", deadline=deadline)
    started = time.monotonic()
    with pytest.raises(StepFailed) as info:
        installer._run("bootstrap", ["sleep", "10"], str(tmp_path),
                       "s01.timeouts.bootstrap", deadline=deadline)
    assert time.monotonic() - started < 1.0
    assert info.value.step == "bootstrap"
    assert str(info.value) == (
        "bootstrap did not finish within 2 s (s01.timeouts.bootstrap); "
        "sleep was killed")


def test_a_step_with_no_time_left_runs_nothing(installer, tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(StepFailed) as info:
        installer._run("bootstrap", ["touch", str(marker)], str(tmp_path),
                       "s01.timeouts.bootstrap",
                       deadline=time.monotonic() - 1)
    assert str(info.value) == (
        "bootstrap did not finish within 2 s (s01.timeouts.bootstrap); no "
        "time was left for touch")
    assert not marker.exists()


def test_a_stop_ends_the_running_program_of_a_step(installer, tmp_path):
    stopping = threading.Event()
    threading.Timer(0.3, stopping.set).start()
    started = time.monotonic()
    with pytest.raises(StepFailed) as info:
        installer._run("bootstrap", ["sleep", "30"], str(tmp_path),
                       "s01.timeouts.bootstrap", stopping=stopping)
    assert time.monotonic() - started < 5
    assert str(info.value) == "stopped during bootstrap; sleep was ended"


def test_a_failing_program_is_named_as_a_person_knows_it(installer,
                                                        tmp_path):
    with pytest.raises(StepFailed) as info:
        installer._run("bootstrap", [sys.executable, "-m", "pip",
                                     "no-such-command"], str(tmp_path),
                       "s01.timeouts.bootstrap")
    assert str(info.value).startswith("pip exited with code ")


def test_pip_looks_only_at_our_index_and_folders(installer, tmp_path):
    assert installer._pip_env("http://127.0.0.1:1/simple/") == {
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_INDEX_URL": "http://127.0.0.1:1/simple/",
        "PIP_EXTRA_INDEX_URL": "http://127.0.0.1:1/simple/",
        "PIP_FIND_LINKS": "%s %s" % (tmp_path / "wheelhouse",
                                     tmp_path / "links"),
        "PIP_CONFIG_SETTINGS": "editable_mode=strict",
    }


def test_program_names():
    assert _program_name(["/v/bin/python", "-m", "pip", "install"]) == "pip"
    assert _program_name(["/usr/bin/python3", "-m", "venv", "x"]) == "venv"
    assert _program_name(["/i/bin/buildout", "-c", "worker.cfg"]) == \
        "buildout"


def test_the_newest_pip_wheel_is_chosen_by_version(tmp_path):
    assert _newest_pip_wheel(str(tmp_path)) is None
    for name in ("pip-9.0-py3-none-any.whl", "pip-26.3-py3-none-any.whl",
                 "pip-26.10-py3-none-any.whl", "pip-x-py3-none-any.whl",
                 "pipx-99-py3-none-any.whl"):
        (tmp_path / name).write_bytes(b"")
    assert _newest_pip_wheel(str(tmp_path)) == str(
        tmp_path / "pip-26.10-py3-none-any.whl")
