"""The package index that buildouts of spider packages read.

A spider package's buildout needs two kinds of distributions: public ones
(Scrapy and everything it depends on) and ours (the ``s01.recipe`` recipe,
private eggs), which live in the folders of ``s01.buildout.find_links``.
zc.buildout asks its ``index`` for a page of every requirement it has no
egg for, ours included, and when the index has no such page it reads the
index's root page instead, which on PyPI lists every project there is
(tens of megabytes, every time). So the installer points buildout at this
small index on a loopback port: it answers pages for what the find-links
folders hold, sends every other project page on to the real index
(``s01.buildout.index``) with a redirect, and keeps its own root page
short.
"""
import hashlib
import html
import http.server
import logging
import os
import re
import threading
import urllib.parse

log = logging.getLogger(__name__)

ARCHIVES = (".tar.gz", ".tgz", ".zip", ".tar.bz2", ".whl", ".egg")


def canonical_name(name):
    """PEP 503's normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


class BuildoutIndex:
    """A PEP 503 index of local folders, the real index for the rest."""

    def __init__(self, folders, upstream):
        self.folders = [f for f in folders if "://" not in f]
        self.upstream = upstream if upstream.endswith("/") else \
            upstream + "/"
        self.httpd = None
        self._lock = threading.Lock()

    @property
    def url(self):
        return "http://127.0.0.1:%d/simple/" % self.httpd.server_address[1]

    def ensure_started(self):
        """Start serving (once); return the index URL."""
        with self._lock:
            if self.httpd is None:
                self.httpd = http.server.ThreadingHTTPServer(
                    ("127.0.0.1", 0), _make_handler(self))
                self.httpd.daemon_threads = True
                threading.Thread(target=self.httpd.serve_forever,
                                 name="s01-buildout-index",
                                 daemon=True).start()
                log.info("buildout index serving url=%s upstream=%s",
                         self.url, self.upstream)
        return self.url

    def stop(self):
        with self._lock:
            httpd, self.httpd = self.httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def projects(self):
        """``{canonical name: {file name: path}}`` of the local files."""
        projects = {}
        for folder in self.folders:
            try:
                names = sorted(os.listdir(folder))
            except OSError:
                continue
            for filename in names:
                project = _project_of(filename)
                if project is not None:
                    projects.setdefault(project, {})[filename] = \
                        os.path.join(folder, filename)
        return projects


def _project_of(filename):
    for ext in ARCHIVES:
        if filename.endswith(ext):
            stem = filename[:-len(ext)]
            # name-version[-build-tags]: the name is everything before the
            # first dash that starts a version.
            match = re.match(r"(.+?)-\d", stem)
            return canonical_name(match.group(1)) if match else None
    return None


def _make_handler(index):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            parts = [p for p in urllib.parse.urlsplit(self.path).path
                     .split("/") if p]
            projects = index.projects()
            if parts == ["simple"]:
                return self._page(['<a href="%s/">%s</a>' % (n, n)
                                   for n in sorted(projects)])
            if len(parts) == 2 and parts[0] == "simple":
                name = canonical_name(parts[1])
                if name not in projects:
                    return self._redirect(index.upstream + name + "/")
                return self._page([
                    '<a href="/files/%s/%s#sha256=%s">%s</a>' % (
                        name, urllib.parse.quote(filename), _sha256(path),
                        html.escape(filename))
                    for filename, path in sorted(projects[name].items())])
            if len(parts) == 3 and parts[0] == "files":
                path = projects.get(parts[1], {}).get(
                    urllib.parse.unquote(parts[2]))
                if path is not None:
                    return self._file(path)
            self.send_error(404)

        def _page(self, links):
            body = ("<!DOCTYPE html><html><body>\n%s\n</body></html>\n"
                    % "<br>\n".join(links)).encode("utf-8")
            self._answer(200, "text/html; charset=utf-8", body)

        def _file(self, path):
            with open(path, "rb") as f:
                self._answer(200, "application/octet-stream", f.read())

        def _redirect(self, location):
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _answer(self, status, content_type, body):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            log.debug("buildout index %s", format % args)

    return Handler


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
