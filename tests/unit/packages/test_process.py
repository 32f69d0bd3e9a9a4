"""External programs end at their timeout, whole process tree and all."""
import logging
import os
import sys
import threading
import time

import pytest

from tests.conftest import wait_for

from s01.worker.packages import process
from s01.worker.packages.process import program_env
from s01.worker.packages.process import run_program


def alive(pid):
    """Whether ``pid`` runs; a zombie nobody reaps counts as dead.

    PID 1 in some containers never reaps orphans, so os.kill(pid, 0)
    alone would see a killed grandchild as alive.
    """
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(b")") + 2:].split()[0] != b"Z"


def our_zombies():
    """Pids of our own children that nobody reaped."""
    zombies = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if fields[0] == b"Z" and int(fields[1]) == os.getpid():
            zombies.append(int(name))
    return zombies


def test_run_program_answers_code_and_both_streams_apart():
    result = run_program(
        ["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=10)
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert result.timed_out is False
    assert result.argv == ["sh", "-c", "echo out; echo err >&2; exit 3"]
    assert 0 <= result.seconds < 10


def test_run_program_refuses_a_shell_string():
    with pytest.raises(TypeError):
        run_program("echo hi", timeout=1)


def test_run_program_refuses_an_empty_argv():
    with pytest.raises(ValueError):
        run_program([], timeout=1)


def test_run_program_refuses_a_stdin_pipe_nobody_writes():
    with pytest.raises(ValueError):
        run_program(["true"], timeout=1, stdin=process.subprocess.PIPE)


def test_run_program_raises_oserror_for_a_missing_program(tmp_path):
    with pytest.raises(FileNotFoundError):
        run_program([str(tmp_path / "nothing-here")], timeout=1)


def test_run_program_gives_the_program_no_stdin():
    result = run_program(["cat"], timeout=5)
    assert result.returncode == 0
    assert result.stdout == ""


def test_run_program_runs_in_cwd_with_env(tmp_path):
    result = run_program(["sh", "-c", "pwd; echo $S01_X"], cwd=tmp_path,
                         env={"PATH": os.defpath, "S01_X": "y"}, timeout=5)
    assert result.stdout == "%s\ny\n" % tmp_path


def test_run_program_runs_the_program_in_its_own_session():
    result = run_program(
        [sys.executable, "-c",
         "import os; print(os.getsid(0) == os.getpid() == os.getpgrp())"],
        timeout=10)
    assert result.stdout == "True\n"


def test_timeout_kills_the_whole_process_tree():
    started = time.monotonic()
    result = run_program(
        ["sh", "-c", "sleep 100 & echo $!; sleep 100"], timeout=1, grace=2)
    grandchild = int(result.stdout.split()[0])
    assert result.timed_out is True
    assert result.returncode < 0
    assert time.monotonic() - started < 1 + 2 + 1.5
    assert not alive(grandchild)
    assert our_zombies() == []


def test_a_program_ignoring_sigterm_is_killed_after_grace():
    started = time.monotonic()
    result = run_program(
        ["sh", "-c", "trap '' TERM; sleep 100 & echo $!; wait; wait"],
        timeout=0.5, grace=1)
    seconds = time.monotonic() - started
    grandchild = int(result.stdout.split()[0])
    assert result.timed_out is True
    assert result.returncode == -9
    assert 1.5 <= seconds < 0.5 + 1 + 1.5
    assert not alive(grandchild)


def test_a_grandchild_holding_stdout_cannot_outlast_timeout_and_grace():
    # The grandchild leaves the group (setsid) and keeps stdout open.
    script = "setsid sleep 30 & echo $!; sleep 100"
    started = time.monotonic()
    result = run_program(["sh", "-c", script], timeout=0.5, grace=0.5)
    seconds = time.monotonic() - started
    escaped = int(result.stdout.split()[0])
    try:
        assert result.timed_out is True
        assert seconds < 0.5 + 0.5 + process.DRAIN_SECONDS + 1
    finally:
        os.kill(escaped, 9)


def test_processes_left_behind_after_a_normal_exit_are_ended():
    result = run_program(
        ["sh", "-c", "sleep 100 >/dev/null 2>&1 & echo $!"], timeout=10,
        grace=2)
    stray = int(result.stdout.split()[0])
    assert result.returncode == 0
    assert result.timed_out is False
    assert not alive(stray)


def test_a_fast_program_is_not_slowed_by_the_poll():
    started = time.monotonic()
    run_program(["true"], timeout=10)
    assert time.monotonic() - started < 0.5


def test_output_keeps_the_last_characters_with_a_marker():
    result = run_program(
        [sys.executable, "-c",
         "import sys; sys.stdout.write('a' * 100000 + 'END'); "
         "sys.stderr.write('e' * 10)"],
        timeout=10, max_output=50)
    assert result.stdout == ("[... 99953 characters cut ...]\n"
                             + "a" * 47 + "END")
    assert result.stderr == "e" * 10


def test_output_of_several_megabytes_is_capped_while_read():
    result = run_program(
        ["sh", "-c", "head -c 8000000 /dev/zero | tr '\\0' x"], timeout=20,
        max_output=1000)
    assert result.returncode == 0
    assert result.stdout.endswith("\n" + "x" * 1000)
    assert "7999000 characters cut" in result.stdout


def test_output_is_decoded_as_utf8_with_bad_bytes_replaced():
    result = run_program(
        [sys.executable, "-c",
         "import sys; sys.stdout.buffer.write(b'caf\\xc3\\xa9 \\xff!')"],
        timeout=10)
    assert result.stdout == "caf\u00e9 \ufffd!"


def test_a_caller_exception_kills_the_group(monkeypatch):
    def interrupt(*args):
        raise KeyboardInterrupt

    # The first wait for output is interrupted, as by Ctrl-C.
    monkeypatch.setattr(process, "_read_ready", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_program(["sh", "-c", "sleep 100 & sleep 100"], timeout=30)
    assert our_zombies() == []


def test_a_caller_exception_leaves_no_grandchild(monkeypatch, tmp_path):
    pidfile = tmp_path / "pid"
    real_read_ready = process._read_ready

    def interrupt_once_started(*args, **kwargs):
        if pidfile.exists() and pidfile.read_text().strip():
            raise RuntimeError("caller gave up")
        return real_read_ready(*args, **kwargs)

    monkeypatch.setattr(process, "_read_ready", interrupt_once_started)
    with pytest.raises(RuntimeError):
        run_program(["sh", "-c", "sleep 100 & echo $! > %s; sleep 100"
                     % pidfile], timeout=30)
    assert not alive(int(pidfile.read_text()))


def test_a_set_stopping_event_ends_the_whole_group(tmp_path):
    pidfile = tmp_path / "pid"
    stopping = threading.Event()
    threading.Timer(0.3, stopping.set).start()
    started = time.monotonic()
    result = run_program(["sh", "-c", "sleep 100 & echo $! > %s; sleep 100"
                          % pidfile], timeout=30, grace=1,
                         stopping=stopping)
    assert time.monotonic() - started < 3
    assert (result.stopped, result.timed_out) == (True, False)
    assert result.returncode < 0
    assert not alive(int(pidfile.read_text()))


def test_a_program_ending_before_the_stop_is_not_stopped():
    result = run_program(["true"], timeout=5, stopping=threading.Event())
    assert (result.returncode, result.stopped) == (0, False)


def test_end_all_programs_kills_every_running_group(tmp_path):
    pidfile = tmp_path / "pid"
    results = []
    runner = threading.Thread(target=lambda: results.append(run_program(
        ["sh", "-c", "sleep 100 & echo $! > %s; sleep 100" % pidfile],
        timeout=30)))
    runner.start()
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    assert process.end_all_programs() == 1
    runner.join(10)
    (result,) = results
    assert result.returncode == -9
    assert not alive(int(pidfile.read_text()))
    assert process.end_all_programs() == 0


def test_many_runs_leave_no_zombies():
    for _ in range(20):
        run_program(["sh", "-c", "sleep 0.01 & echo hi"], timeout=5)
    assert our_zombies() == []


def test_runs_in_threads_keep_their_outputs_apart():
    results = {}

    def run(n):
        results[n] = run_program(["sh", "-c", "echo %d" % n], timeout=10)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {n: r.stdout for n, r in results.items()} == {
        n: "%d\n" % n for n in range(8)}


def test_timeout_is_logged_as_a_warning_with_fields(caplog):
    caplog.set_level(logging.DEBUG, logger="s01.worker.packages.process")
    run_program(["sleep", "10"], timeout=0.2, grace=1)
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING]
    assert warnings[0].startswith("program timed out argv0=sleep pid=")
    debug = [r.getMessage() for r in caplog.records
             if r.levelno == logging.DEBUG]
    assert debug[0].startswith("program start argv=['sleep', '10']")
    assert debug[-1].startswith("program finished argv0=sleep")


def test_program_env_is_minimal(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/daemon/src")
    monkeypatch.setenv("PYTHONHOME", "/daemon")
    monkeypatch.setenv("VIRTUAL_ENV", "/daemon/venv")
    monkeypatch.setenv("S01_SECRET", "x")
    monkeypatch.setenv("PATH", "/daemon/venv/bin:/usr/bin:/bin")
    monkeypatch.setenv("https_proxy", "http://proxy:3128")
    env = program_env()
    assert env["PATH"] == "/usr/bin:/bin"
    assert env["LANG"] == "C.UTF-8"
    assert env["https_proxy"] == "http://proxy:3128"
    assert "HOME" in env
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "S01_SECRET"):
        assert name not in env


def test_program_env_drops_the_daemons_own_venv_from_path(monkeypatch):
    own = os.path.join(sys.prefix, "bin")
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.setenv("PATH", own + ":/usr/bin")
    assert program_env()["PATH"] == "/usr/bin"


def test_program_env_adds_extra():
    env = program_env({"PIP_NO_INDEX": "1", "LANG": "C"})
    assert env["PIP_NO_INDEX"] == "1"
    assert env["LANG"] == "C"


def test_program_env_marks_programs_with_this_daemon():
    token = program_env()[process.OWNER_VARIABLE]
    assert token == process.daemon_token()
    assert token.startswith("%d:" % os.getpid())
    assert process.token_alive(token) is True


def test_a_token_of_a_dead_or_reused_pid_is_not_alive():
    pid, start = process.daemon_token().split(":")
    assert process.token_alive("%s:%d" % (pid, int(start) + 1)) is False
    assert process.token_alive("999999999:1") is False
    assert process.token_alive("garbage") is False


def test_sweep_kills_the_programs_of_a_dead_daemon_only():
    import subprocess

    dead = "%d:1" % os.getpid()
    orphan = subprocess.Popen(
        ["sh", "-c", "sleep 60 & wait"],
        env=program_env({process.OWNER_VARIABLE: dead}),
        start_new_session=True)
    ours = subprocess.Popen(["sleep", "60"], env=program_env())
    try:
        # The shell forks its sleep when it gets round to it: wait for it.
        grandchild = wait_for(
            lambda: [pid for pid, token in process._marked_processes()
                     if token == dead and pid != orphan.pid],
            timeout=10, what="the orphan's child")
        assert len(grandchild) == 1

        killed = process.sweep_orphans()
        assert orphan.pid in killed and grandchild[0] in killed
        assert orphan.wait(5) == -9
        assert not alive(grandchild[0])
        assert alive(ours.pid)
        assert process.sweep_orphans() == []
    finally:
        for proc in (orphan, ours):
            proc.kill()
            proc.wait()
