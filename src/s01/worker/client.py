"""A JSON-RPC 2.0 client for s01.worker, and the ``s01-worker`` command.

>>> proxy = JSONRPCProxy("http://127.0.0.1:6800/++skin++Scrapy",
...                      "mgr", "mgrpw")            # doctest: +SKIP
>>> proxy.getStartTime()                            # doctest: +SKIP
1796334000.5

Methods are called as attributes, with positional or keyword arguments
(not both, as JSON-RPC allows only one of the two). An error answer raises
:class:`ResponseError`; ``proxy.error`` holds the last error object.
"""
import argparse
import getpass
import itertools
import json
import os
import sys
import time

import requests

DEFAULT_URL = "http://127.0.0.1:6800/++skin++Scrapy"
DEMO_PACKAGE = "s01.demo"
DEMO_SPIDER = "python.org"
FINISHED = ("completed", "error", "cancelled")


class ResponseError(Exception):
    """Raised if the server answers a call with a JSON-RPC error."""

    def __init__(self, error):
        self.error = error
        super().__init__("Check proxy.error for error message: %s"
                         % (error.get("message") if isinstance(error, dict)
                            else error))


class JSONRPCProxy:
    """Call s01.worker's JSON-RPC methods over HTTP with basic auth."""

    def __init__(self, url=DEFAULT_URL, username=None, password=None,
                 timeout=300.0, session=None):
        self.url = url
        self.timeout = timeout
        self.error = None
        self.session = session or requests.Session()
        if username is not None:
            self.session.auth = (username, password or "")
        self._ids = itertools.count(1)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            return self.call(name, *args, **kwargs)

        call.__name__ = name
        return call

    def call(self, method, *args, **kwargs):
        """Call ``method``; return its result or raise ResponseError."""
        if args and kwargs:
            raise TypeError("JSON-RPC takes positional or named params, "
                            "not both")
        body = {"jsonrpc": "2.0", "method": method,
                "params": kwargs or list(args), "id": next(self._ids)}
        response = self.session.post(
            self.url, data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            timeout=self.timeout)
        response.raise_for_status()
        answer = response.json()
        if "error" in answer:
            self.error = answer["error"]
            raise ResponseError(self.error)
        self.error = None
        return answer["result"]


def parse_argument(text):
    """A command-line argument as JSON if it parses, else as a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def main(argv=None):
    """The ``s01-worker`` command: call methods, run the demo, hash
    passwords."""
    parser = argparse.ArgumentParser(
        prog="s01-worker", description="Talk to an s01.worker daemon.")
    commands = parser.add_subparsers(dest="command", required=True)

    call = commands.add_parser(
        "call", help="call a JSON-RPC method and print its result as JSON",
        description="Arguments are read as JSON where they parse (42, "
        "null, true, \"text\") and as plain strings otherwise.")
    call.add_argument("method")
    call.add_argument("params", nargs="*", type=parse_argument)
    _add_connection_arguments(call)

    demo = commands.add_parser(
        "demo", help="install the demo spider package and crawl with it",
        description="Installs %s (unless it is installed) and runs its "
        "spider %s as a job, then prints what the crawl found."
        % (DEMO_PACKAGE, DEMO_SPIDER))
    demo.add_argument("--version", default="0.16.2",
                      help="the demo release to use (default: 0.16.2)")
    demo.add_argument("--start-url", default="https://docs.python.org/3/",
                      help="where the crawl starts; it stays below it")
    demo.add_argument("--pages", type=int, default=20,
                      help="stop after this many pages (0: no limit)")
    _add_connection_arguments(demo)

    commands.add_parser(
        "hash-password",
        help="read a password and print its argon2id hash for s01.users")

    args = parser.parse_args(argv)
    if args.command == "hash-password":
        return hash_password_command()

    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            print("s01-worker: no password: give --password or set "
                  "S01_PASSWORD", file=sys.stderr)
            return 2
        password = getpass.getpass("password for %s: " % args.user)
    proxy = JSONRPCProxy(args.url, args.user, password, args.timeout)
    try:
        if args.command == "demo":
            return demo_command(proxy, args)
        result = proxy.call(args.method, *args.params)
    except ResponseError:
        print(json.dumps(proxy.error, indent=2, sort_keys=True),
              file=sys.stderr)
        return 1
    except requests.HTTPError as exc:
        if exc.response is not None and exc.response.status_code == 401:
            print("s01-worker: %s refused user %s: wrong user or password "
                  "(HTTP 401)" % (args.url, args.user), file=sys.stderr)
        else:
            print("s01-worker: %s" % exc, file=sys.stderr)
        return 2
    except requests.RequestException as exc:
        print("s01-worker: %s" % exc, file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, sort_keys=True))
    # Package methods answer failures as {status: false, error}.
    if isinstance(result, dict) and result.get("status") is False:
        return 1
    return 0


def demo_command(proxy, args, poll=0.5, out=sys.stdout):
    """Install the demo package if needed, crawl, print a summary."""
    # Install once; the first buildout fetches Scrapy (about a minute).
    installed = any(
        record["pkgName"] == DEMO_PACKAGE and
        record["pkgVersion"] == args.version
        for record in proxy.listPackages())
    if not installed:
        print("installing %s %s (the first install takes a minute or "
              "two)..." % (DEMO_PACKAGE, args.version), file=out)
        answer = proxy.addPackage(DEMO_PACKAGE, args.version)
        if not answer["status"]:
            print("install failed at %s: %s" % (
                answer["steps"][-1]["step"] if answer["steps"] else "?",
                answer["error"]), file=out)
            return 1

    # Crawl as a job, as any client would, and wait for its end.
    settings = {"CLOSESPIDER_PAGECOUNT": args.pages} if args.pages else {}
    job_id = proxy.startRunSpider(DEMO_PACKAGE, args.version, None,
                                  DEMO_SPIDER, {"start_url": args.start_url},
                                  settings)
    print("crawling %s as job %s..." % (args.start_url, job_id), file=out)
    job = proxy.getJob(job_id)
    while job["status"] not in FINISHED:
        time.sleep(poll)
        job = proxy.getJob(job_id)

    output = job.get("output") or {}
    print("job %s %s: %s items from %s pages, finish reason %s" % (
        job_id, job["status"], output.get("items", 0),
        output.get("pages", 0), output.get("finishReason")), file=out)
    if job["status"] == "completed" and not output.get("pages"):
        print("  nothing was fetched (%s request errors): is %s reachable "
              "from the daemon? The job's log says why." % (
                  output.get("errors", 0), args.start_url), file=out)
    for name, path in sorted((output.get("files") or {}).items()):
        print("  %s: %s" % (name, path), file=out)
    if job["status"] != "completed":
        for entry in job.get("errors", [])[-1:]:
            print("  error: %s" % entry.get("error"), file=out)
        return 1
    return 0


def _add_connection_arguments(parser):
    parser.add_argument("--url", default=os.environ.get("S01_URL",
                                                        DEFAULT_URL))
    parser.add_argument("--user", default=os.environ.get("S01_USER", "mgr"))
    parser.add_argument(
        "--password", default=os.environ.get("S01_PASSWORD"),
        help="default: $S01_PASSWORD, else asked for")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait for one answer")


def hash_password_command():
    """Read a password (twice on a terminal) and print its hash."""
    from s01.worker.security import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("s01-worker: the passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("s01-worker: an empty password is refused", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


if __name__ == "__main__":  # pragma: no cover - the console script
    sys.exit(main())
