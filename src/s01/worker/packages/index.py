"""The package index client: find a release's sdist, download it safely.

:class:`PackageIndex` talks to one simple-API index, ``http(s)://`` or a
folder on disk given as ``file://``. Its contract:

* :meth:`PackageIndex.find_sdist` asks for the project page in PEP 691
  JSON and reads PEP 503 HTML when that is what comes back (a ``file://``
  index: ``<project>/index.json`` if present, else ``<project>/index.html``).
  It answers a :class:`Release` or raises
  :class:`~s01.worker.exceptions.PackageNotFound` (no such project, no sdist
  of that version) or :class:`~s01.worker.exceptions.IndexUnavailable` (no
  connection, no answer in time, an HTTP error, a malformed page). Names and
  versions are checked again here, so no URL is built from an unchecked
  value.
* :meth:`PackageIndex.download` streams the sdist into a new temporary
  file in the destination folder, capped in size and time, checks the
  index's sha256 always and the caller's md5 when given, and renames the
  file to the release's filename only when all is well. On any failure the
  partial file is removed and :class:`~s01.worker.exceptions.DownloadError`
  says what went wrong (the digests, the short read, the cap).

No call waits longer than its timeout for a single read, and a page or file
that trickles in is cut off at the deadline, checked between chunks.

Known limitations: links to ``file://`` URLs are followed only when the
index itself is a ``file://`` index; an HTTP index can only point at
``http(s)://`` files.
"""
import dataclasses
import hashlib
import html.parser
import json
import logging
import os
import re
import tempfile
import time
import urllib.parse
import urllib.request

import packaging.version
import requests
import urllib3.exceptions

from s01.worker.exceptions import ConfigurationError
from s01.worker.exceptions import DownloadError
from s01.worker.exceptions import IndexUnavailable
from s01.worker.exceptions import PackageNotFound
from s01.worker.packages.names import check_md5
from s01.worker.packages.names import check_package_name
from s01.worker.packages.names import check_version
from s01.worker.packages.names import safe_join

log = logging.getLogger(__name__)

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = JSON_TYPE + ", text/html;q=0.1"
MiB = 1024 * 1024
CHUNK = 64 * 1024

# Sdist extensions, best first: we prefer a .tar.gz when a .zip exists too.
SDIST_EXTENSIONS = (".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar")
SHA256_RE = re.compile(r"[0-9a-f]{64}", re.IGNORECASE | re.ASCII)
MD5_RE = re.compile(r"[0-9a-f]{32}", re.IGNORECASE | re.ASCII)


@dataclasses.dataclass(frozen=True)
class Release:
    """One sdist of one release, as the index describes it.

    ``sha256`` and ``md5`` are lowercase hex or None when the index gives
    none; ``size`` is None when the index does not say.
    """

    name: str
    version: str
    filename: str
    url: str
    sha256: str = None
    md5: str = None
    size: int = None
    yanked: bool = False


def normalize_project_name(name):
    """Return the PEP 503 normalized form of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


class PackageIndex:
    """A simple-API package index at ``url``; see the module contract."""

    def __init__(self, url, timeout=30.0, session=None,
                 max_page_bytes=10 * MiB):
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https", "file"):
            raise ConfigurationError(
                "s01.index.url: %r is not an http(s):// or file:// URL"
                % url)
        self.url = url if url.endswith("/") else url + "/"
        self.scheme = scheme
        self.timeout = timeout
        self.session = session or requests.Session()
        self.max_page_bytes = max_page_bytes

    def __repr__(self):
        return "<PackageIndex %s>" % self.url

    def find_sdist(self, name, version):
        """Return the :class:`Release` of ``name``'s sdist for ``version``."""
        check_package_name(name)
        wanted = packaging.version.Version(check_version(version))
        project = normalize_project_name(name)
        page_url = urllib.parse.urljoin(self.url, project + "/")

        # Read the project page and rank the sdists of that version, best
        # first: not yanked, the exact version text, the preferred format.
        candidates = []
        for link in self._read_project_page(page_url, name):
            found = _sdist_of(link.filename, project)
            if found is None or found[1] != wanted:
                continue
            ext, found_version = found
            rank = (link.yanked, str(found_version) != str(wanted),
                    SDIST_EXTENSIONS.index(ext))
            candidates.append((rank, link, found_version))
        if not candidates:
            raise PackageNotFound(
                "no sdist of %s %s on the index %s" % (name, version,
                                                      self.url))

        _, link, found_version = min(candidates, key=lambda c: c[0])
        if link.yanked:
            log.warning("index offers only yanked files name=%s version=%s "
                        "file=%s", name, version, link.filename)
        log.debug("sdist found name=%s version=%s file=%s url=%s",
                  name, version, link.filename, link.url)
        return Release(
            name=name, version=str(found_version), filename=link.filename,
            url=link.url, sha256=link.sha256, md5=link.md5, size=link.size,
            yanked=link.yanked)

    def download(self, release, dest_dir, *, max_bytes, md5=None, timeout):
        """Download ``release`` into ``dest_dir``; return the file's path.

        ``timeout`` bounds the whole download; ``max_bytes`` its size.
        """
        md5 = check_md5(md5)
        if not release.sha256:
            raise DownloadError("index gives no sha256 for %s"
                                % release.filename)
        is_local = urllib.parse.urlsplit(release.url).scheme == "file"
        if is_local and self.scheme != "file":
            raise DownloadError("%s: only a file:// index may point at "
                                "local files" % release.url)
        target = safe_join(dest_dir, _checked_filename(release.filename))
        deadline = time.monotonic() + timeout
        started = time.monotonic()

        # Stream into a temporary file beside the target, then check it.
        fd, part = tempfile.mkstemp(prefix=".download-", suffix=".part",
                                    dir=dest_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                digests = _Digests(out)
                if is_local:
                    self._copy_file(release, digests, max_bytes, deadline)
                else:
                    self._fetch_file(release, digests, max_bytes, deadline)
            _verify(release, digests, md5)
            os.replace(part, target)
        except BaseException:
            # Whatever went wrong, no partial file may stay behind.
            _remove_quietly(part)
            raise

        log.debug("download finished file=%s bytes=%s secs=%.2f",
                  release.filename, digests.size, time.monotonic() - started)
        return target

    def _read_project_page(self, page_url, name):
        """Return the links of a project page, from JSON or from HTML."""
        if self.scheme == "file":
            body, content_type = self._read_page_file(page_url, name)
        else:
            body, content_type, page_url = self._read_page_http(page_url,
                                                                name)

        allowed = ("http", "https", "file") if self.scheme == "file" else (
            "http", "https")
        if content_type == JSON_TYPE:
            links = _parse_json_page(body, page_url)
        else:
            links = _parse_html_page(body, page_url)
        return [link for link in links
                if urllib.parse.urlsplit(link.url).scheme in allowed]

    def _read_page_file(self, page_url, name):
        """Read a project page from a ``file://`` index."""
        folder = urllib.request.url2pathname(
            urllib.parse.urlsplit(page_url).path)
        for filename, content_type in (("index.json", JSON_TYPE),
                                       ("index.html", "text/html")):
            path = os.path.join(folder, filename)
            try:
                with open(path, "rb") as f:
                    body = f.read(self.max_page_bytes + 1)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise IndexUnavailable(
                    "cannot read %s: %s" % (path, exc)) from exc
            if len(body) > self.max_page_bytes:
                raise IndexUnavailable("%s is larger than %d bytes"
                                       % (path, self.max_page_bytes))
            return body, content_type
        raise PackageNotFound("no project %s on the index %s"
                              % (name, self.url))

    def _read_page_http(self, page_url, name):
        """GET a project page; return body, content type and final URL."""
        deadline = time.monotonic() + self.timeout
        try:
            response = self.session.get(
                page_url, headers={"Accept": ACCEPT}, timeout=self.timeout,
                stream=True)
            with response:
                if response.status_code in (404, 410):
                    raise PackageNotFound("no project %s on the index %s"
                                          % (name, self.url))
                if response.status_code != 200:
                    raise IndexUnavailable("%s answered HTTP %d"
                                           % (page_url,
                                              response.status_code))
                body = _read_capped(
                    _network_reads(response.raw, decode_content=True),
                    self.max_page_bytes, deadline, page_url)
                final_url = response.url
                content_type = response.headers.get("Content-Type", "")
        except (requests.Timeout,
                urllib3.exceptions.ReadTimeoutError) as exc:
            raise IndexUnavailable("%s: no answer within %ss"
                                   % (page_url, self.timeout)) from exc
        except (requests.RequestException,
                urllib3.exceptions.HTTPError) as exc:
            raise IndexUnavailable("%s: %s" % (page_url, exc)) from exc

        content_type = content_type.split(";")[0].strip().lower()
        log.debug("index page url=%s type=%s bytes=%s", final_url,
                  content_type, len(body))
        return body, content_type, final_url

    def _fetch_file(self, release, digests, max_bytes, deadline):
        """Stream an http(s) file into ``digests``, enforcing the caps."""
        timeout = min(self.timeout, max(deadline - time.monotonic(), 0.1))
        length = None
        try:
            response = self.session.get(
                release.url, headers={"Accept-Encoding": "identity"},
                timeout=timeout, stream=True)
            with response:
                if response.status_code != 200:
                    raise DownloadError("%s answered HTTP %d"
                                        % (release.url,
                                           response.status_code))
                length = _content_length(response, release, max_bytes)

                # The file as sent: never decompressed on the way.
                chunks = _network_reads(response.raw, decode_content=False)
                _copy_capped(chunks, digests, max_bytes, deadline, release)
        except (requests.Timeout,
                urllib3.exceptions.ReadTimeoutError) as exc:
            raise DownloadError("%s: no data within %.1fs"
                                % (release.url, timeout)) from exc
        except (requests.RequestException,
                urllib3.exceptions.HTTPError) as exc:
            if length is not None and digests.size < length:
                raise DownloadError(
                    "short read of %s: connection closed after %d of %d "
                    "bytes" % (release.filename, digests.size,
                               length)) from exc
            raise DownloadError("%s: %s" % (release.url, exc)) from exc

        if length is not None and digests.size != length:
            raise DownloadError("short read of %s: got %d of %d bytes"
                                % (release.filename, digests.size, length))

    def _copy_file(self, release, digests, max_bytes, deadline):
        """Copy a ``file://`` release into ``digests``, enforcing the caps."""
        path = urllib.request.url2pathname(
            urllib.parse.urlsplit(release.url).path)
        try:
            with open(path, "rb") as f:
                chunks = iter(lambda: f.read(CHUNK), b"")
                _copy_capped(chunks, digests, max_bytes, deadline, release)
        except OSError as exc:
            raise DownloadError("cannot read %s: %s" % (path, exc)) from exc


@dataclasses.dataclass
class _Link:
    """One file link of a project page."""

    filename: str
    url: str
    sha256: str = None
    md5: str = None
    size: int = None
    yanked: bool = False


class _Digests:
    """A file that hashes and counts what is written to it."""

    def __init__(self, out):
        self.out = out
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def write(self, data):
        self.out.write(data)
        self.sha256.update(data)
        self.md5.update(data)
        self.size += len(data)


class _AnchorParser(html.parser.HTMLParser):
    """Collect the attributes of every ``<a>`` of a PEP 503 page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.anchors.append(dict(attrs))


def _parse_html_page(body, page_url):
    """Return the links of a PEP 503 page; digests from URL fragments."""
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    parser.close()

    links = []
    for attrs in parser.anchors:
        if not attrs.get("href"):
            continue
        url, fragment = urllib.parse.urldefrag(
            urllib.parse.urljoin(page_url, attrs["href"]))
        hashes = dict(urllib.parse.parse_qsl(fragment))
        links.append(_Link(
            filename=_filename_of(url), url=url,
            sha256=_hex_or_none(hashes.get("sha256"), SHA256_RE),
            md5=_hex_or_none(hashes.get("md5"), MD5_RE),
            yanked="data-yanked" in attrs))
    return links


def _parse_json_page(body, page_url):
    """Return the links of a PEP 691 page; refuse a malformed one."""
    try:
        page = json.loads(body.decode("utf-8"))
        api_version = str(page["meta"]["api-version"])
        if api_version.split(".")[0] != "1":
            raise ValueError("api-version %s is not 1.x" % api_version)

        links = []
        for entry in page["files"]:
            url = urllib.parse.urljoin(page_url, entry["url"])
            hashes = entry.get("hashes") or {}
            size = entry.get("size")
            links.append(_Link(
                filename=str(entry["filename"]),
                url=urllib.parse.urldefrag(url)[0],
                sha256=_hex_or_none(hashes.get("sha256"), SHA256_RE),
                md5=_hex_or_none(hashes.get("md5"), MD5_RE),
                size=size if isinstance(size, int) else None,
                yanked=bool(entry.get("yanked", False))))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexUnavailable("malformed JSON page %s: %s"
                               % (page_url, exc)) from exc
    return links


def _sdist_of(filename, project):
    """Return (extension, Version) if ``filename`` is an sdist of project.

    Any '-' may end the name part: ``demo_pkg-2-1.0.tar.gz`` is version
    1.0 of ``demo-pkg-2``.
    """
    lower = filename.lower()
    ext = next((e for e in SDIST_EXTENSIONS if lower.endswith(e)), None)
    if ext is None:
        return None

    stem = filename[:-len(ext)]
    for at, char in enumerate(stem):
        if char != "-" or normalize_project_name(stem[:at]) != project:
            continue
        try:
            return ext, packaging.version.Version(stem[at + 1:])
        except packaging.version.InvalidVersion:
            continue
    return None


def _filename_of(url):
    """The last path segment of a URL, unquoted."""
    path = urllib.parse.urlsplit(url).path
    return urllib.parse.unquote(path.rsplit("/", 1)[-1])


def _hex_or_none(value, pattern):
    if isinstance(value, str) and pattern.fullmatch(value):
        return value.lower()
    return None


def _checked_filename(filename):
    """Refuse a release filename that is not one plain name."""
    if (not filename or filename in (".", "..") or "/" in filename
            or "\\" in filename or "\x00" in filename):
        raise DownloadError("index gives an unusable filename %r"
                            % filename)
    return filename


def _content_length(response, release, max_bytes):
    """The announced length, refused at once if it is over the cap."""
    header = response.headers.get("Content-Length")
    if header is None:
        return None
    try:
        length = int(header)
    except ValueError:
        raise DownloadError("%s: bad Content-Length %r"
                            % (release.url, header)) from None
    if length > max_bytes:
        raise DownloadError("%s is %d bytes, over the limit of %d"
                            % (release.filename, length, max_bytes))
    return length


def _network_reads(raw, decode_content):
    """Yield what each network read brings, so deadlines are checked often.

    ``read1`` returns after one receive; a plain ``read`` (older urllib3)
    waits for a whole chunk, which only delays the deadline check.
    """
    read = getattr(raw, "read1", None) or raw.read
    while True:
        data = read(CHUNK, decode_content=decode_content)
        if not data:
            return
        yield data


def _read_capped(chunks, max_bytes, deadline, what):
    """Join a page's ``chunks`` into bytes, refusing one past the caps."""
    parts, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise IndexUnavailable("%s is larger than %d bytes"
                                   % (what, max_bytes))
        if time.monotonic() > deadline:
            raise IndexUnavailable("%s: not complete within the timeout"
                                   % what)
        parts.append(chunk)
    return b"".join(parts)


def _copy_capped(chunks, digests, max_bytes, deadline, release):
    """Write ``chunks`` to ``digests``, stopping at the size or the time."""
    for chunk in chunks:
        if digests.size + len(chunk) > max_bytes:
            raise DownloadError("%s is larger than the limit of %d bytes"
                                % (release.filename, max_bytes))
        if time.monotonic() > deadline:
            raise DownloadError("%s: download not complete within the "
                                "timeout" % release.filename)
        digests.write(chunk)


def _verify(release, digests, md5):
    """Compare the digests of what arrived with what was promised."""
    sha256 = digests.sha256.hexdigest()
    if sha256 != release.sha256:
        raise DownloadError(
            "sha256 mismatch for %s: expected %s (index), got %s"
            % (release.filename, release.sha256, sha256))
    actual_md5 = digests.md5.hexdigest()
    if md5 is not None and actual_md5 != md5:
        raise DownloadError(
            "md5 mismatch for %s: expected %s (md5Digest), got %s"
            % (release.filename, md5, actual_md5))


def _remove_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
