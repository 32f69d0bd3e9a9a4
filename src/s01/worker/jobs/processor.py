"""The job processor: a small pool of threads inside the daemon.

``is_alive`` tells whether the threads really run, not whether someone
once asked them to: a thread that died is reported as not processing, and
``start`` brings it back.
"""
import logging
import threading
import time

from zope.interface import implementer

from s01.worker.interfaces import IProcessor

log = logging.getLogger(__name__)


class _ThreadKilled(BaseException):
    """Raised inside a worker thread by the test hook that kills it."""


@implementer(IProcessor)
class JobProcessor:
    """Start, stop and watch the worker threads."""

    def __init__(self, threads=1, poll_interval=1.0, server_name=None,
                 work=None):
        self.size = threads
        self.poll_interval = poll_interval
        self.server_name = server_name
        self.work = work
        self.startTime = None
        self._threads = []
        self._stopping = threading.Event()
        self._wakeup = threading.Event()
        self._kill = threading.Event()
        self._lock = threading.Lock()

    def start(self):
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            if len(self._threads) >= self.size:
                return True
            self._stopping.clear()
            self._kill.clear()
            for number in range(len(self._threads), self.size):
                thread = threading.Thread(
                    target=self._run, name="s01-processor-%d" % number,
                    daemon=True)
                thread.start()
                self._threads.append(thread)
            self.startTime = time.time()
        log.info("processor started threads=%d server=%s", self.size,
                 self.server_name)
        return True

    def stop(self, timeout=10.0):
        with self._lock:
            threads, self._threads = self._threads, []
            if not threads:
                return False
            self._stopping.set()
            self._wakeup.set()
        for thread in threads:
            thread.join(timeout)
        alive = any(t.is_alive() for t in threads)
        log.info("processor stopped alive=%s", alive)
        return alive

    def is_alive(self):
        with self._lock:
            return any(t.is_alive() for t in self._threads)

    def wake(self):
        """Look for work now instead of at the next poll."""
        self._wakeup.set()

    def kill_thread_for_testing(self):
        """Test hook: end the worker threads abruptly, as a crash would."""
        self._kill.set()
        self._wakeup.set()

    def _run(self):
        try:
            while not self._stopping.is_set():
                if self._kill.is_set():
                    raise _ThreadKilled()
                if self.work is not None:
                    self._work_once()
                self._wakeup.wait(self.poll_interval)
                self._wakeup.clear()
        except _ThreadKilled:
            log.warning("processor thread killed by test hook name=%s",
                        threading.current_thread().name)

    def _work_once(self):
        try:
            self.work(self)
        except Exception:
            # The boundary of the worker loop: a failing job or a database
            # outage must never end the thread; log and keep polling.
            log.exception("processor work failed")
