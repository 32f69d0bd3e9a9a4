"""Run an external program with a deadline, in its own process group.

:func:`run_program` is the only way s01.worker starts the programs of an
install (bootstrap, buildout, ``bin/test``, ``bin/list``). Its contract:

* ``argv`` is an argument list, never a shell string;
* the program runs in a new session, so it leads its own process group and
  everything it starts is in that group unless it leaves on purpose;
* at ``timeout`` seconds the whole group gets SIGTERM, ``grace`` seconds
  later SIGKILL; the result then says ``timed_out``. The same happens
  when the ``stopping`` event is set (a cancelled or shut down job), and
  the result says ``stopped``;
* when the program ends on its own, whatever it left running in its group
  is ended the same way (an install step must not leave processes behind);
* if the calling thread is interrupted (any exception, KeyboardInterrupt
  included), the group is killed before the exception goes on;
* stdout and stderr are read all the time, kept apart, decoded as UTF-8
  (bad bytes replaced) and each cut to its last ``max_output`` characters;
* a process that escaped the group and holds the pipes open cannot keep
  the call waiting: after the group is gone the pipes are read for at most
  ``DRAIN_SECONDS`` more, then closed.

Failing to start (no such program, no permission) raises the ``OSError``
from :class:`subprocess.Popen`; the caller decides what that means.

:func:`end_all_programs` kills the groups of every program still running;
the daemon calls it at exit, so an install the daemon leaves half-way
does not go on writing without an owner.

A daemon killed with SIGKILL cannot end its programs: a buildout, a pip or
a spider's own children would run on, beside the next attempt of the same
job. So :func:`program_env` marks every program with the daemon's token
(its pid and start time, in ``S01_WORKER_DAEMON``), which every program
they start inherits, and :func:`sweep_orphans`, run at start-up and by the
processor's keeper, kills the marked processes whose daemon is gone.

Known limitations: the group is found through ``/proc`` on Linux (zombies
do not count as alive; some PID 1 programs in containers never reap
orphans); elsewhere any member, zombie or not, keeps the group alive until
SIGKILL. The programs of a daemon killed with SIGKILL go on until the
next daemon on this host starts (or its keeper sweeps) and ends them.
"""
import codecs
import dataclasses
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)

DEVNULL = subprocess.DEVNULL
# Marks a program with the daemon that started it (see the module doc).
OWNER_VARIABLE = "S01_WORKER_DAEMON"
SWEEP_ROUNDS = 5
POLL_SECONDS = 0.05
DRAIN_SECONDS = 1.0
CHUNK = 64 * 1024

# Variables copied from the daemon's environment into a program's; all
# others are left out, PYTHONPATH, PYTHONHOME and VIRTUAL_ENV above all.
PASSED_VARIABLES = (
    "HOME", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "http_proxy", "https_proxy", "no_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
)

# The process groups of the programs running now (their leaders' pids).
_running = set()
_running_lock = threading.Lock()


@dataclasses.dataclass
class ProgramResult:
    """What a program did: exit code, output, whether it ran out of time.

    ``returncode`` is negative (the signal) when the program was killed.
    """

    argv: list
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float
    stopped: bool = False


def run_program(argv, *, cwd=None, env=None, timeout, grace=5.0,
                max_output=256 * 1024, stdin=DEVNULL, stopping=None):
    """Run ``argv`` to its end or its ``timeout``; see the module contract.

    ``stdin`` is DEVNULL or an open file; nothing is ever written to the
    program. ``env`` None means the daemon's environment; use
    :func:`program_env` for a clean one. ``stopping`` is None or has
    ``is_set()`` (a :class:`threading.Event`).
    """
    argv = _check_argv(argv)
    if stdin == subprocess.PIPE:
        raise ValueError("stdin=PIPE would leave the program waiting")
    started = time.monotonic()
    log.debug("program start argv=%s cwd=%s timeout=%s", argv, cwd, timeout)
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=stdin, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True)
    with _running_lock:
        _running.add(proc.pid)

    # Read both pipes until the program and its group are gone.
    stdout, stderr = _Tail(max_output), _Tail(max_output)
    outputs = {proc.stdout.fileno(): stdout, proc.stderr.fileno(): stderr}
    selector = selectors.DefaultSelector()
    for fd in outputs:
        selector.register(fd, selectors.EVENT_READ)
    try:
        timed_out, stopped = _supervise(proc, selector, outputs,
                                        started + timeout, grace, stopping)
    except BaseException:
        # The caller is going away (an error, an interrupt): leave nothing
        # running behind it.
        _kill_group(proc)
        raise
    finally:
        with _running_lock:
            _running.discard(proc.pid)
        selector.close()
        proc.stdout.close()
        proc.stderr.close()

    # Answer.
    seconds = time.monotonic() - started
    log.debug("program finished argv0=%s pid=%s rc=%s secs=%.2f",
              argv[0], proc.pid, proc.returncode, seconds)
    return ProgramResult(
        argv=argv, returncode=proc.returncode, stdout=stdout.text(),
        stderr=stderr.text(), timed_out=timed_out, seconds=seconds,
        stopped=stopped)


def end_all_programs():
    """Kill the group of every program :func:`run_program` still runs.

    Returns how many groups were signalled. Their callers see their
    programs killed and fail their steps as usual.
    """
    with _running_lock:
        groups = sorted(_running)
    for pgid in groups:
        log.warning("program group killed at exit pgid=%s", pgid)
        _signal_group(pgid, signal.SIGKILL)
    return len(groups)


def program_env(extra=None):
    """Return a minimal environment for a program, plus ``extra``.

    PATH is the daemon's without the daemon's own virtualenv, LANG is
    C.UTF-8, and the variables in ``PASSED_VARIABLES`` are kept (proxies
    must keep working where the network needs them).
    """
    env = {name: os.environ[name] for name in PASSED_VARIABLES
           if name in os.environ}
    env["PATH"] = _path_without_own_venv(os.environ.get("PATH", os.defpath))
    env.setdefault("HOME", os.path.expanduser("~"))
    env["LANG"] = "C.UTF-8"
    env[OWNER_VARIABLE] = daemon_token()
    env.update(extra or {})
    return env


def daemon_token(pid=None):
    """``pid:start`` of a process (default: this one), unique on a host.

    The start time (in clock ticks since boot) tells a live daemon from a
    later process that got the same pid. Without ``/proc`` it is 0.
    """
    pid = os.getpid() if pid is None else pid
    stat = _stat_fields(pid)
    return "%d:%s" % (pid, stat[19] if stat else "0")


def token_alive(token):
    """Whether the daemon a token (see daemon_token) names still runs.

    Without ``/proc`` nobody can tell: every daemon counts as running.
    """
    if not os.path.isdir("/proc/self"):
        return True
    pid, _, start = token.partition(":")
    try:
        stat = _stat_fields(int(pid))
    except ValueError:
        return False
    return stat is not None and stat[0] != "Z" and stat[19] == start


def sweep_orphans():
    """Kill the programs of daemons on this host that have died.

    Answers the pids killed. A process counts as ours if its environment
    carries :data:`OWNER_VARIABLE` and as an orphan if the daemon it names
    no longer runs. Without ``/proc`` (not Linux) nothing is found.
    """
    if not os.path.isdir("/proc/self"):
        return []
    killed = []
    # A dying program may start another while we look: look again.
    for _ in range(SWEEP_ROUNDS):
        found = [pid for pid, token in _marked_processes()
                 if pid != os.getpid() and not token_alive(token)]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
            killed.append(pid)
        time.sleep(POLL_SECONDS)
    if killed:
        log.warning("orphans of dead daemons killed pids=%s",
                    ",".join(map(str, sorted(set(killed)))))
    return sorted(set(killed))


def _check_argv(argv):
    """Refuse a shell string; return the arguments as a list of strings."""
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a list of arguments, not a string")
    argv = [os.fspath(arg) for arg in argv]
    if not argv:
        raise ValueError("argv is empty")
    return argv


def _supervise(proc, selector, outputs, deadline, grace, stopping):
    """Read output while the program runs; end its group; drain the pipes.

    Returns ``(timed_out, stopped)``: whether the program was ended
    because its time ran out, or because ``stopping`` was set.
    """
    # Step 1: the program runs until it exits, its time is up or it is
    # asked to stop.
    def asked_to_stop():
        return stopping is not None and stopping.is_set()

    while proc.poll() is None and time.monotonic() < deadline \
            and not asked_to_stop():
        _read_ready(selector, outputs, deadline)
    stopped = proc.returncode is None and asked_to_stop()
    timed_out = proc.returncode is None and not stopped
    if timed_out:
        log.warning("program timed out argv0=%s pid=%s grace=%.1f",
                    proc.args[0], proc.pid, grace)
    elif stopped:
        log.info("program stopped argv0=%s pid=%s grace=%.1f",
                 proc.args[0], proc.pid, grace)

    # Step 2: end its group: the program itself after a timeout or a
    # stop, or what it left running after it exited on its own.
    if _group_alive(proc.pid):
        if not (timed_out or stopped):
            log.warning("program left processes behind argv0=%s pid=%s",
                        proc.args[0], proc.pid)
        _end_group(proc, selector, outputs, grace)
    proc.wait()

    # Step 3: take what is still in the pipes; a process that left the
    # group may hold them open, so only for a short while.
    _read_ready(selector, outputs, time.monotonic() + DRAIN_SECONDS,
                until_eof=True)
    return timed_out, stopped


def _end_group(proc, selector, outputs, grace):
    """SIGTERM the group, wait ``grace`` reading output, then SIGKILL."""
    _signal_group(proc.pid, signal.SIGTERM)
    until = time.monotonic() + grace
    while time.monotonic() < until:
        proc.poll()
        if not _group_alive(proc.pid):
            return
        _read_ready(selector, outputs, until)

    log.warning("program group killed pgid=%s grace=%.1f", proc.pid, grace)
    _kill_group(proc)


def _kill_group(proc):
    """SIGKILL the group, reap the program, wait briefly for the rest."""
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()
    until = time.monotonic() + DRAIN_SECONDS
    while _group_alive(proc.pid) and time.monotonic() < until:
        time.sleep(0.01)


def _read_ready(selector, outputs, until, until_eof=False):
    """Read what the pipes have, waiting at most one poll (or to EOF)."""
    while True:
        remaining = until - time.monotonic()
        if remaining <= 0:
            return
        if not selector.get_map():
            if not until_eof:
                time.sleep(min(POLL_SECONDS, remaining))
            return
        for key, _ in selector.select(min(POLL_SECONDS, remaining)):
            data = os.read(key.fd, CHUNK)
            if data:
                outputs[key.fd].feed(data)
            else:
                selector.unregister(key.fd)
        if not until_eof:
            return


def _group_alive(pgid):
    """Whether any process of group ``pgid`` is alive (zombies are not)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if not os.path.isdir("/proc/self"):
        return True

    # The group has members; on Linux, look whether any is not a zombie.
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        # None: gone while we looked.
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _marked_processes():
    """(pid, token) of every live process carrying a daemon token."""
    prefix = OWNER_VARIABLE.encode() + b"="
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                environ = f.read()
        except OSError:
            # Gone, or another user's: not ours either way.
            continue
        for entry in environ.split(b"\0"):
            if entry.startswith(prefix):
                stat = _stat_fields(int(name))
                if stat and stat[0] != "Z":
                    yield int(name), entry[len(prefix):].decode(
                        "ascii", "replace")
                break


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def _signal_group(pgid, signum):
    """Send ``signum`` to group ``pgid``; a group already gone is fine."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def _path_without_own_venv(path):
    """Drop the daemon's virtualenv from a PATH value."""
    own = {os.path.join(sys.prefix, "bin")}
    if os.environ.get("VIRTUAL_ENV"):
        own.add(os.path.join(os.environ["VIRTUAL_ENV"], "bin"))
    own = {os.path.normpath(entry) for entry in own}
    entries = [entry for entry in path.split(os.pathsep)
               if entry and os.path.normpath(entry) not in own]
    return os.pathsep.join(entries) or os.defpath


class _Tail:
    """The last ``limit`` characters of a byte stream decoded as UTF-8."""

    def __init__(self, limit):
        self.limit = limit
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.parts = []
        self.size = 0
        self.cut = 0

    def feed(self, data):
        self._add(self.decoder.decode(data))

    def text(self):
        """The kept text, with a first line saying how much was cut."""
        self._add(self.decoder.decode(b"", final=True))
        self._trim(self.limit)
        text = "".join(self.parts)
        if self.cut:
            text = "[... %d characters cut ...]\n%s" % (self.cut, text)
        return text

    def _add(self, text):
        self.parts.append(text)
        self.size += len(text)
        # Trim now and then, not on every chunk.
        if self.size > 2 * self.limit + CHUNK:
            self._trim(self.limit)

    def _trim(self, limit):
        text = "".join(self.parts)
        if len(text) > limit:
            self.cut += len(text) - limit
            text = text[len(text) - limit:]
        self.parts = [text]
        self.size = len(text)
