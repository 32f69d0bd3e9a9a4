"""A real package index on a loopback port, and sdists made to order.

For tests and for a local development index:

* :func:`build_index` lays out a static PEP 503 tree: ``files/<file>`` and
  ``simple/<project>/index.html`` with ``#sha256=`` fragments, plus the
  ``simple/index.html`` of all projects. It may be called again to add
  files; the pages are rewritten from what ``files/`` holds.
* :class:`IndexServer` serves such a tree over HTTP from a thread: HTML, or
  PEP 691 JSON made from the same page when the Accept header asks for it
  and ``json_enabled`` is on. ``mode`` switches on a fault: ``"down"``
  (connections closed at once), ``"500"``, ``"hang"`` (accept, never
  answer), ``"slow"`` (every byte ``slow_delay`` seconds late) or
  ``"truncate"`` (a file's full Content-Length, then the connection closed
  halfway). ``request_log`` lists the paths asked for, so a test can assert
  that nothing reached the index.
* :func:`make_tar_sdist` and :func:`make_zip_sdist` write archives from
  ``{member name: bytes or Entry}`` (or a list of pairs, to repeat a name),
  hostile ones included: links, devices, fifos, odd names;
  :func:`make_header_bomb` a gzip tar whose extended headers (pax
  records, GNU long names) are huge or chained.
"""
import dataclasses
import hashlib
import html
import html.parser
import http.server
import io
import json
import re
import shutil
import stat
import tarfile
import threading
import time
import urllib.parse
import warnings
import zipfile
from pathlib import Path

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
MODES = ("ok", "down", "500", "hang", "slow", "truncate")
SDIST_EXTENSIONS = (".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar")


@dataclasses.dataclass
class Entry:
    """An archive member that is not simply a regular file of bytes.

    ``kind`` is one of file, dir, symlink, hardlink, chr, blk, fifo;
    ``target`` is a link's target.
    """

    kind: str = "file"
    data: bytes = b""
    target: str = ""
    mode: int = 0o644


class IndexServer:
    """A PEP 503/691 index over ``root_dir`` on 127.0.0.1; see the module."""

    def __init__(self, root_dir, slow_delay=0.2):
        self.root = Path(root_dir).resolve()
        self.mode = "ok"
        self.json_enabled = True
        self.slow_delay = slow_delay
        self.request_log = []
        self.stopping = threading.Event()
        self.httpd = None
        self.thread = None

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.httpd.server_address[1]

    @property
    def simple_url(self):
        return self.url + "simple/"

    def start(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     _Handler)
        self.httpd.daemon_threads = True
        self.httpd.index = self
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="index-server", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def build_index(root_dir, sdist_paths=(), yanked=()):
    """Copy sdists into ``<root>/files`` and write the simple pages.

    ``yanked`` names files to mark ``data-yanked``. Returns the path of
    ``<root>/simple``.
    """
    root = Path(root_dir)
    files = root / "files"
    simple = root / "simple"
    files.mkdir(parents=True, exist_ok=True)
    simple.mkdir(parents=True, exist_ok=True)
    for path in sdist_paths:
        shutil.copyfile(path, files / Path(path).name)

    # One page per project, from whatever files/ holds now.
    projects = {}
    for path in sorted(files.iterdir()):
        project = _project_of(path.name)
        if project:
            projects.setdefault(project, []).append(path)
    for project, paths in projects.items():
        anchors = []
        for path in paths:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            flag = ' data-yanked=""' if path.name in yanked else ""
            anchors.append('<a href="../../files/%s#sha256=%s"%s>%s</a>'
                           % (urllib.parse.quote(path.name), digest, flag,
                              html.escape(path.name)))
        _write_page(simple / project / "index.html", project, anchors)

    anchors = ['<a href="%s/">%s</a>' % (project, project)
               for project in sorted(projects)]
    _write_page(simple / "index.html", "Simple index", anchors)
    return simple


def sdist_members(name, version, extra=None):
    """The members of a small, well-formed sdist, plus ``extra``."""
    top = "%s-%s" % (name, version)
    members = {
        top + "/PKG-INFO": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
                            % (name, version)).encode(),
        top + "/setup.py": b"from setuptools import setup\nsetup()\n",
        top + "/bootstrap.py": b"# bootstrap\n",
        top + "/buildout.cfg": b"[buildout]\nparts =\n",
        top + "/worker.cfg": b"[buildout]\nextends = buildout.cfg\n",
    }
    members.update(extra or {})
    return members


def make_tar_sdist(path, members, compression="gz"):
    """Write a tar archive (``gz``, ``bz2`` or ``""``) of ``members``."""
    mode = "w:%s" % compression if compression else "w"
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as tar:
        for name, value in _pairs(members):
            entry = value if isinstance(value, Entry) else Entry(data=value)
            info = tarfile.TarInfo(name)
            info.mode = entry.mode
            info.mtime = time.time()
            if "\x00" in name:
                # A ustar name field ends at a NUL; a pax record keeps it.
                info.pax_headers = {"path": name}
            info.type = _TAR_TYPES[entry.kind]
            info.linkname = entry.target
            if entry.kind == "file":
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return path


def make_header_bomb(path, top, kind, payload, count=1):
    """A gzip tar of ``count`` extended headers of type ``kind`` holding
    ``payload``, then one small file ``top/x``."""
    import gzip

    header = tarfile.TarInfo("././@LongLink")
    header.type = kind
    header.size = len(payload)
    block = header.tobuf(format=tarfile.GNU_FORMAT) + payload + \
        b"\0" * (-len(payload) % 512)
    member = tarfile.TarInfo(top + "/x")
    member.size = 1
    with gzip.open(path, "wb") as f:
        for _ in range(count):
            f.write(block)
        f.write(member.tobuf(format=tarfile.GNU_FORMAT) + b"x" +
                b"\0" * 511 + b"\0" * 1024)
    return path


def make_zip_sdist(path, members):
    """Write a zip archive of ``members``; NUL in a name is kept as is."""
    placeholders = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in _pairs(members):
            entry = value if isinstance(value, Entry) else Entry(data=value)
            if "\x00" in name:
                # zipfile cuts a name at NUL: write a stand-in of the same
                # length and patch the bytes afterwards.
                stand_in = name.replace("\x00", "\x01")
                placeholders[stand_in] = name
                name = stand_in
            if entry.kind == "dir":
                name = name.rstrip("/") + "/"
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (_ZIP_TYPES[entry.kind] | entry.mode) << 16
            data = entry.target.encode() if entry.target else entry.data
            with warnings.catch_warnings():
                # A name given twice is what the caller asked for.
                warnings.simplefilter("ignore", UserWarning)
                archive.writestr(info, data)

    if placeholders:
        blob = Path(path).read_bytes()
        for stand_in, name in placeholders.items():
            blob = blob.replace(stand_in.encode(), name.encode())
        Path(path).write_bytes(blob)
    return path


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves one request of an :class:`IndexServer`, faults included."""

    def do_GET(self):
        index = self.server.index
        index.request_log.append(self.path)
        mode = index.mode
        if mode == "down":
            # No answer at all: the connection closes when we return.
            return
        if mode == "hang":
            index.stopping.wait()
            return
        if mode == "500":
            self._send(500, b"Internal Server Error", "text/plain")
            return

        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        target = self._local_path(index.root, path)
        if target is None:
            self._send(404, b"Not Found", "text/plain")
            return
        if target.name == "index.html" and self._wants_json(index):
            project = target.parent.name
            body = _json_page(project, target.read_bytes(), index.root)
            self._send(200, body, JSON_TYPE)
            return
        content_type = ("text/html; charset=utf-8"
                        if target.suffix == ".html"
                        else "application/octet-stream")
        self._send(200, target.read_bytes(), content_type)

    def log_message(self, format, *args):
        # Tests read request_log; stderr noise helps nobody.
        pass

    def _wants_json(self, index):
        accept = self.headers.get("Accept", "")
        return index.json_enabled and JSON_TYPE in accept

    def _local_path(self, root, path):
        """The file for a URL path below ``root``, or None."""
        parts = [part for part in path.split("/") if part]
        if not parts or ".." in parts or parts[0] not in ("simple", "files"):
            return None
        target = root.joinpath(*parts)
        if target.is_dir():
            target = target / "index.html"
        return target if target.is_file() else None

    def _send(self, status, body, content_type):
        index = self.server.index
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if index.mode == "slow":
                for at in range(len(body)):
                    if index.stopping.wait(index.slow_delay):
                        return
                    self.wfile.write(body[at:at + 1])
            elif index.mode == "truncate" and "/files/" in self.path:
                self.wfile.write(body[:len(body) // 2])
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up, which is what the fault tests want.
            pass


class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.anchors = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.anchors.append(dict(attrs))


def _json_page(project, page, root):
    """The PEP 691 form of a PEP 503 project page."""
    parser = _Anchors()
    parser.feed(page.decode("utf-8"))
    files = []
    for attrs in parser.anchors:
        url, fragment = urllib.parse.urldefrag(attrs.get("href", ""))
        filename = urllib.parse.unquote(url.rsplit("/", 1)[-1])
        entry = {"filename": filename, "url": url,
                 "hashes": dict(urllib.parse.parse_qsl(fragment)),
                 "yanked": "data-yanked" in attrs}
        local = root / "files" / filename
        if local.is_file():
            entry["size"] = local.stat().st_size
        files.append(entry)
    page = {"meta": {"api-version": "1.0"}, "name": project, "files": files}
    return json.dumps(page).encode("utf-8")


def _project_of(filename):
    """The normalized project of an sdist filename, or None."""
    lower = filename.lower()
    for ext in SDIST_EXTENSIONS:
        if lower.endswith(ext) and "-" in filename:
            name = filename[:-len(ext)].rsplit("-", 1)[0]
            return re.sub(r"[-_.]+", "-", name).lower()
    return None


def _write_page(path, title, anchors):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\""
        " content=\"1.0\"><title>%s</title></head><body>\n%s\n</body></html>"
        "\n" % (html.escape(title), "<br>\n".join(anchors)), encoding="utf-8")


def _pairs(members):
    return members.items() if isinstance(members, dict) else members


_TAR_TYPES = {
    "file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}
_ZIP_TYPES = {
    "file": stat.S_IFREG, "dir": stat.S_IFDIR, "symlink": stat.S_IFLNK,
    "chr": stat.S_IFCHR, "blk": stat.S_IFBLK, "fifo": stat.S_IFIFO,
}
