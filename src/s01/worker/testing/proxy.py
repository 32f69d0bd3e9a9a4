"""An HTTP proxy that lets nothing through and writes down who asked.

Point ``http_proxy`` and ``https_proxy`` at a :class:`RecordingProxy` and
``no_proxy`` at the loopback hosts, and every attempt of a program to
reach another host arrives here instead: a ``CONNECT host:443`` for
HTTPS, a ``GET http://host/...`` for plain HTTP. Each is recorded in
``requests`` (method and target) and refused with 403, so a test can
assert that an install contacted no host but the ones it was given, and
a program that does try fails at once instead of hanging.
"""
import http.server
import threading


class RecordingProxy:
    """A refusing HTTP proxy on 127.0.0.1; see the module doc."""

    def __init__(self):
        self.requests = []
        self._lock = threading.Lock()
        self.httpd = None
        self.thread = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def start(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     _Handler)
        self.httpd.daemon_threads = True
        self.httpd.proxy = self
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="recording-proxy", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def record(self, method, target):
        with self._lock:
            self.requests.append((method, target))

    def hosts(self):
        """The hosts (with ports for CONNECT) that were asked for."""
        with self._lock:
            return sorted({_host_of(method, target)
                           for method, target in self.requests})

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class _Handler(http.server.BaseHTTPRequestHandler):
    def _refuse(self):
        self.server.proxy.record(self.command, self.path)
        body = b"s01 test proxy: no host is reachable from here\n"
        self.send_response(403)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_CONNECT = do_GET = do_HEAD = do_POST = do_PUT = _refuse

    def log_message(self, format, *args):
        # The requests list is the record; stderr noise helps nobody.
        pass


def _host_of(method, target):
    if method == "CONNECT":
        return target
    rest = target.split("://", 1)[-1]
    return rest.split("/", 1)[0]
