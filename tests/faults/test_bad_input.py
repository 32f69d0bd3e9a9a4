"""Bad input against a real daemon: refused early, clearly, harmlessly.

* HTTP: a body whose Content-Length is over waitress's cap gets 413
  before any of it is sent; one over the RPC cap gets the app's 413 and
  runs nothing; a chunked body past the cap, a header flood, an idle or
  half-sent request are cut by waitress's limits (``channel_timeout`` is
  2 s here, ``cleanup_interval`` 1 s).
* JSON-RPC: odd and oversized names, ids and params get -32602 naming
  the argument; what is not JSON (NaN, Infinity) is -32700.
* Archives: hostile sdists of every shape the tests can build, added
  through ``addPackage``, fail at ``unpack`` naming the member, and write
  nothing outside the staging folder; a stale symlink where an install
  goes is never followed (C08).
"""
import json
import os
import socket
import tarfile
import time
import uuid

import pytest

from s01.worker.testing.index import Entry
from s01.worker.testing.index import build_index
from s01.worker.testing.index import make_header_bomb
from s01.worker.testing.index import make_tar_sdist
from s01.worker.testing.index import make_zip_sdist
from s01.worker.testing.index import sdist_members
from tests.conftest import MGR
from tests.faults.conftest import FAKE

pytestmark = pytest.mark.slow

SERVER = {"channel_timeout": "2", "cleanup_interval": "1"}
WAITRESS_CAP = 8 * 1024 * 1024
RPC_CAP = 1024 * 1024


def raw_request(daemon, head, body=b"", timeout=5.0):
    """Send bytes; (seconds, first bytes of the answer or b"")."""
    conn = socket.create_connection(("127.0.0.1", daemon.port))
    conn.settimeout(timeout)
    started = time.monotonic()
    try:
        conn.sendall(head + body)
        answer = conn.recv(200)
    except (ConnectionResetError, BrokenPipeError):
        answer = b""
    finally:
        conn.close()
    return time.monotonic() - started, answer


def post_head(length, extra=""):
    return ("POST /++skin++Scrapy HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
            "Content-Type: application/json\r\n%sContent-Length: %d\r\n\r\n"
            % (MGR, extra, length)).encode()


def test_http_limits_cut_big_bodies_header_floods_and_idle_clients(
        make_daemon, fault_report):
    daemon = make_daemon("node1", server=SERVER, **{
        "s01.processor.autostart": "false"})

    # Over waitress's cap: 413 at the headers, nothing of the body sent.
    seconds, answer = raw_request(daemon, post_head(1 << 30))
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert seconds < 1

    # Over the RPC cap: the app's 413; the method never runs.
    call = {"jsonrpc": "2.0", "method": "startProcessor",
            "params": [], "pad": "x" * (2 * RPC_CAP)}
    body = json.dumps(call).encode()
    seconds, answer = raw_request(daemon, post_head(len(body)), body)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert daemon.rpc("isProcessing") is False

    # A chunked body without a length, growing past the cap.
    conn = socket.create_connection(("127.0.0.1", daemon.port))
    conn.settimeout(10)
    conn.sendall(post_head(0).replace(
        b"Content-Length: 0", b"Transfer-Encoding: chunked"))
    chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
    sent = 0
    try:
        while sent <= WAITRESS_CAP + RPC_CAP:
            conn.sendall(chunk)
            sent += 65536
    except (ConnectionResetError, BrokenPipeError):
        # Cut while sending: the server stopped reading.
        pass
    try:
        answer = conn.recv(200)
    except ConnectionResetError:
        answer = b"reset"
    conn.close()
    assert answer.startswith((b"HTTP/1.1 413 ", b"reset")), answer

    # A header flood: 431 and closed.
    flood = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-Flood-%d: %s\r\n" % (n, b"a" * 60) for n in range(2000))
    _, answer = raw_request(daemon, flood + b"\r\n")
    assert answer.startswith(b"HTTP/1.0 431 "), answer

    # Idle, and half a request: closed after channel_timeout.
    closed = []
    for first in (b"", b"POST /++skin++Scrapy HTTP/1.1\r\nHost: x\r\n"):
        seconds, answer = raw_request(daemon, first, timeout=15)
        assert answer == b"", answer
        closed.append(seconds)
    assert max(closed) < 2 + 1 + 2

    # The daemon serves on.
    assert daemon.rpc("getStartTime") > 0
    fault_report("HTTP limits", "1 GiB and 2 MiB bodies (413), a chunked "
                 "body past 8 MiB, a 140 KiB header flood (431), idle and "
                 "half-sent requests (closed in %.1f s)" % max(closed),
                 lost=0)


def bad_calls(py):
    """(method, params, the argument the message must name)."""
    huge = "x" * 100000
    deep = 1
    for _ in range(30):
        deep = [deep]
    return [
        ("addPackage", ["../sentinel", "1.0", None, None, False], "pkgName"),
        ("addPackage", ["demo", "../../x", None, None, False],
         "pkgVersion"),
        ("addPackage", ["demo", "1.0", "/etc", None, False], "pyVersion"),
        ("addPackage", ["demo", "1.0", None, "z" * 32, False], "md5Digest"),
        ("addPackage", ["demo", "1.0", None, None, "yes"], "testing"),
        ("startAddPackage", [huge, "1.0"], "pkgName"),
        ("startAddPackage", ["demo", huge], "pkgVersion"),
        ("startAddPackage", ["d\u00e9mo", "1.0"], "pkgName"),
        ("startAddPackage", ["demo", "1.0", None, None, True, 0],
         "maxRetries"),
        ("startAddPackage", ["demo", "1.0", None, None, True, 3, -1],
         "retryDelay"),
        ("startAddPackage", ["demo", "1.0", None, None, True, 2 ** 80],
         "maxRetries"),
        ("startAddPackage", ["demo", "1.0", None, None, True, 1.5],
         "maxRetries"),
        ("startRunSpider", [FAKE, "1.0", py, "../x"], "spiderName"),
        ("startRunSpider", [FAKE, "1.0", py, "-s"], "spiderName"),
        ("startRunSpider", [FAKE, "1.0", py, "a\nb"], "spiderName"),
        ("startRunSpider", [FAKE, "1.0", py, "sp\ud800"], "spiderName"),
        ("startRunSpider", [FAKE, "1.0", py, huge], "spiderName"),
        ("startRunSpider", [FAKE, "1.0", py, "s", {"a b": 1}], "args"),
        ("startRunSpider", [FAKE, "1.0", py, "s", {"a": [1]}], "args.a"),
        ("startRunSpider", [FAKE, "1.0", py, "s", {"a": "\x00"}],
         "args.a"),
        ("startRunSpider", [FAKE, "1.0", py, "s",
                            {"a%d" % n: 1 for n in range(101)}], "args"),
        ("startRunSpider", [FAKE, "1.0", py, "s", None, {"lower": 1}],
         "settings"),
        ("startRunSpider", [FAKE, "1.0", py, "s", None, {"FEEDS": {}}],
         "settings"),
        ("startRunSpider", [FAKE, "1.0", py, "s", None, {"X": deep}],
         "settings.X"),
        ("startRunSpider", [FAKE, "1.0", py, "s", None, {"X": 2 ** 64}],
         "settings.X"),
        ("startRunSpider", [FAKE, "1.0", py, "s", None,
                            {"X": {"$where": "1"}}], "settings.X"),
        ("startRunSpider", [FAKE, "1.0", py, "s", None,
                            {"X": {"a\x00": 1}}], "settings.X"),
        ("startRunSpider", [FAKE, "1.0", py, "s", None, {"X": huge}],
         "settings.X"),
        ("startSyncPackages", [None], "sourceServerName"),
        ("startSyncPackages", ["a\u0007b"], "sourceServerName"),
        ("startSyncPackages", [huge], "sourceServerName"),
        ("getJobStatus", [{"$ne": None}], "jobid"),
        ("getJobStatus", ["0" * 23 + "g"], "jobid"),
        ("getJobStatus", [huge], "jobid"),
        ("getJob", [12], "jobid"),
        ("cancelJob", [["0" * 24]], "jobid"),
        ("listJobs", [{"status": {"$ne": 1}}], "filters"),
        ("listJobs", [{"owner": "x"}], "filters"),
        ("listJobs", ["status"], "filters"),
        ("listJobs", [None, 10 ** 30], "before"),
        ("listJobs", [None, -1], "before"),
        ("listJobs", [None, None, 10 ** 6], "limit"),
        ("removeJobs", [["queued"]], "stati"),
        ("removeJobs", ["completed"], "stati"),
        ("getMissingPackageVersions", [huge], "serverName"),
        ("listPackages", [["node1"]], "serverName"),
        ("listSpiders", [FAKE, "1.0", "../.."], "pyVersion"),
        ("listSpiders", ["demo.pkg", "1.0", "/etc"], "pyVersion"),
        ("removePackage", ["..", "..", ".."], "pkgName"),
        ("removePackage", ["demo.pkg", "1.0", "../../../sentinel"],
         "pyVersion"),
        ("startAddPackage", ["a/b", "1.0", None], "pkgName"),
        ("startAddPackage", ["demo", "1.0\x00", None], "pkgVersion"),
        ("startRunSpider", ["demo.pkg", "1.0", py, "../x"], "spiderName"),
    ]


def test_odd_and_oversized_params_get_invalid_params_naming_them(
        make_daemon, fault_index, fault_db, fault_report):
    daemon = make_daemon("node1")
    py = daemon.rpc("getDefaultPythonVersion")
    calls = bad_calls(py)
    # C07: a sentinel beside the packages folder, an index that must
    # hear nothing.
    sentinel = daemon.folder / "sentinel" / "keep.txt"
    sentinel.parent.mkdir()
    sentinel.write_text("keep")
    del fault_index.server.request_log[:]
    wrong = []
    for method, params, field in calls:
        answer = daemon.call(method, *params)
        error = answer.get("error") or {}
        if error.get("code") != -32602 or \
                "Invalid params: %s" % field not in error.get("message", ""):
            wrong.append((method, str(params)[:60], answer))
    assert wrong == []

    # Named params, a wrong count, an unknown name: -32602 with the id.
    for params in ([], ["a", "b", "c"], {"jobid": "0" * 24, "bogus": 1}):
        body = {"jsonrpc": "2.0", "id": "x", "method": "getJobStatus",
                "params": params}
        answer = post_json(daemon, json.dumps(body))
        assert (answer["id"], answer["error"]["code"]) == ("x", -32602)

    # Not JSON: NaN and Infinity, a number too large for a float.
    for text in ("NaN", "Infinity", "-Infinity", "1e400"):
        body = '{"jsonrpc": "2.0", "id": 1, "method": "echo", ' \
            '"params": [%s]}' % text
        assert post_json(daemon, body)["error"]["code"] == -32700

    # An id UTF-8 cannot hold comes back escaped, as valid JSON.
    answer = post_json(daemon, '{"jsonrpc": "2.0", "id": "\\ud800", '
                               '"method": "getStartTime"}')
    assert answer["id"] == "\ud800" and answer["result"] > 0

    # Nothing reached the queue, the index or the disk.
    assert fault_db.remoteJobs.count_documents({}) == 0
    assert fault_index.server.request_log == []
    assert not os.path.exists(daemon.folder / "packages" / "demo")
    assert sentinel.read_text() == "keep"
    assert sorted(os.listdir(daemon.folder)) == ["daemon-0", "sentinel"]

    # C07's control inputs pass every check (they are not installed).
    for name, version in (("s01.demo", "0.16.2"), ("demo_pkg-2", "1.0b1"),
                          ("demo_pkg-2", "2.0.post1"),
                          ("s01.demo", "1.0+local")):
        assert daemon.rpc("listSpiders", name, version, py)["code"] == -1
    fault_report("odd and oversized params", "%d calls: every one -32602 "
                 "naming its argument; NaN/Infinity -32700" % len(calls),
                 lost=0)


def post_json(daemon, text):
    import urllib.request

    request = urllib.request.Request(
        daemon.rpc_url, text.encode("utf-8"),
        {"Content-Type": "application/json", "Authorization": MGR})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


# Hostile archives.

def hostile_sdists(folder, marker, outside):
    """[(version, path, member named in the error, words)] for demo.pkg."""
    found = []

    def add(build, extra, member, words, plain=False):
        version = "6.6.%d" % (len(found) + 1)
        top = "demo.pkg-%s" % version
        members = [] if plain else list(sdist_members("demo.pkg", version)
                                        .items())
        members += [(name.replace("TOP", top), value)
                    for name, value in extra]
        suffix = ".zip" if build is make_zip_sdist else ".tar.gz"
        path = build(str(folder / (top + suffix)), members)
        found.append((version, path, member and member.replace("TOP", top),
                      words))

    for build in (make_tar_sdist, make_zip_sdist):
        add(build, [("TOP/../../../%s" % marker, b"slipped")],
            "TOP/../../../%s" % marker, "has a '..' path component")
        add(build, [("/tmp/%s" % marker, b"absolute")], "/tmp/%s" % marker,
            "is an absolute path")
        add(build, [("TOP/link", Entry("symlink", target=str(outside))),
                    ("TOP/link/%s" % marker, b"pwned")], "TOP/link",
            "is a symlink")
        add(build, [("TOP\\..\\..\\%s" % marker, b"x")],
            "TOP\\..\\..\\%s" % marker, "contains a backslash")
        add(build, [("C:/%s" % marker, b"x")], "C:/%s" % marker,
            "starts with a drive letter")
        add(build, [("TOP/a\x00/../../%s" % marker, b"x")],
            "TOP/a\x00/../../%s" % marker, "contains a NUL byte")
        add(build, [("TOP/zeros", b"\0" * (3 * 1024 * 1024))], "TOP/zeros",
            "expands the archive past")
        add(build, [("TOP/many/%d" % n, b"") for n in range(60)],
            "TOP/many/55", "is past the limit of 60 members")
        add(build, [("TOP/big", os.urandom(5 * 1024 * 1024))], "TOP/big",
            "takes the archive past 4194304 bytes unpacked")
        add(build, [("%s" % marker, b"root")], marker,
            "is a file at the archive root", plain=True)
        add(build, [("TOP/a", b""), ("other/%s" % marker, b"")],
            "other/%s" % marker, "is in a second top folder", plain=True)
        add(build, [], None, "the archive is empty", plain=True)
        add(build, [("TOP/setup.py", b"again")], "TOP/setup.py",
            "appears twice")
    # tarfile would read a huge extended header into memory whole, and
    # recurse once for each of a chain.
    for kind, payload, count, words in (
            (tarfile.XHDTYPE, b"a" * (8 << 20), 1, "holds 8388608 bytes"),
            (tarfile.GNUTYPE_LONGNAME, b"TOP/" + b"a" * 200, 3000,
             "follows 8 others in a row")):
        version = "6.6.%d" % (len(found) + 1)
        top = "demo.pkg-%s" % version
        path = make_header_bomb(str(folder / (top + ".tar.gz")), top, kind,
                                payload.replace(b"TOP", top.encode()),
                                count)
        found.append((version, path, None, words))
    for kind, words in (("hardlink", "is a hard link"),
                        ("chr", "is a character device"),
                        ("blk", "is a block device"), ("fifo", "is a fifo")):
        add(make_tar_sdist, [("TOP/odd", Entry(kind, target="/etc/passwd"))],
            "TOP/odd", words)
    return found


def test_hostile_archives_through_add_package_write_nothing_outside(
        make_daemon, fault_index, fault_db, fault_report, tmp_path):
    marker = "zs-marker-%s.txt" % uuid.uuid4().hex[:8]
    outside = tmp_path / "zs-outside"
    outside.mkdir()
    sdists = tmp_path / "hostile"
    sdists.mkdir()
    shapes = hostile_sdists(sdists, marker, outside)
    build_index(fault_index.root, [path for _, path, _, _ in shapes])
    daemon = make_daemon("node1", **{
        "s01.packages.max_members": "60",
        "s01.packages.max_unpacked_bytes": str(4 * 1024 * 1024)})

    wrong = []
    for version, path, member, words in shapes:
        answer = daemon.rpc("addPackage", "demo.pkg", version, None, None,
                            False)
        last = answer["steps"][-1] if answer["steps"] else {}
        if answer["status"] is not False or last.get("step") != "unpack" \
                or words not in answer["error"] \
                or "Traceback" in json.dumps(answer) \
                or (member and repr(member) not in answer["error"]):
            wrong.append((os.path.basename(path), answer["error"], last))
    assert wrong == []

    # Nothing anywhere but inside fresh unpack folders, all gone now.
    written = [os.path.join(folder, name)
               for root in (str(tmp_path), "/tmp")
               for folder, _, files in os.walk(root)
               for name in files if marker in name]
    written = [path for path in written
               if not path.startswith(str(sdists))]
    assert written == []
    assert os.listdir(outside) == []
    assert os.listdir(daemon.folder / "staging") == []
    assert not os.path.exists(daemon.folder / "packages" / "demo.pkg")
    assert fault_db.packages.count_documents({}) == 0

    # C08 b: a stale link where the install goes is never followed.
    py = daemon.rpc("getDefaultPythonVersion")
    # Not named pwned.txt: the archive unit tests look for that in /tmp.
    fault_index.add("7.0", extra={"link/inside.txt": b"inside"})
    target = daemon.folder / "packages" / FAKE / "7.0" / py
    target.mkdir(parents=True)
    (target / "link").symlink_to(outside)
    answer = daemon.rpc("addPackage", FAKE, "7.0", None, None, False,
                        timeout=300)
    assert answer["status"] is True, answer["steps"][-1]
    assert os.listdir(outside) == []
    assert (target / "link").is_dir() and not (target / "link").is_symlink()
    assert (target / "link" / "inside.txt").read_bytes() == b"inside"
    fault_report("hostile archives through addPackage",
                 "%d shapes (slip, absolute, links, devices, bombs, caps, "
                 "layouts) in tar and zip; a stale link in place" %
                 len(shapes), lost=0, written_outside=0)
