"""The index client against a real HTTP index on a loopback port (C10, C12).
"""
import hashlib
import json
import os
import socket
import time

import pytest
import requests

from s01.worker.exceptions import DownloadError
from s01.worker.exceptions import IndexUnavailable
from s01.worker.exceptions import InvalidParams
from s01.worker.exceptions import PackageNotFound
from s01.worker.packages.index import PackageIndex
from s01.worker.packages.index import Release
from s01.worker.packages.index import normalize_project_name
from s01.worker.testing.index import IndexServer
from s01.worker.testing.index import build_index
from s01.worker.testing.index import make_tar_sdist
from s01.worker.testing.index import make_zip_sdist
from s01.worker.testing.index import sdist_members


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def md5_of(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def sdists(tmp_path):
    """Two versions of s01.demo and a big-ish demo.pkg 1.0."""
    folder = tmp_path / "sdists"
    folder.mkdir()
    paths = [
        make_tar_sdist(folder / "s01.demo-0.16.2.tar.gz",
                       sdist_members("s01.demo", "0.16.2")),
        make_tar_sdist(folder / "s01_demo-0.17.0.tar.gz",
                       sdist_members("s01_demo", "0.17.0")),
        make_tar_sdist(folder / "demo.pkg-1.0.tar.gz", sdist_members(
            "demo.pkg", "1.0", {"demo.pkg-1.0/data.bin": os.urandom(50000)})),
    ]
    return {path.name: path for path in paths}


@pytest.fixture
def index_root(tmp_path, sdists):
    root = tmp_path / "index"
    build_index(root, sdists.values())
    return root


@pytest.fixture
def server(index_root):
    with IndexServer(index_root, slow_delay=0.2) as server:
        yield server


@pytest.fixture
def index(server):
    return PackageIndex(server.simple_url, timeout=2)


@pytest.fixture
def dest(tmp_path):
    folder = tmp_path / "staging"
    folder.mkdir()
    return folder


def test_normalize_project_name_follows_pep_503():
    assert normalize_project_name("S01_Demo..Pkg-_x") == "s01-demo-pkg-x"


def test_find_sdist_reads_pep_691_json(index, server, sdists):
    release = index.find_sdist("s01.demo", "0.16.2")
    path = sdists["s01.demo-0.16.2.tar.gz"]
    assert release == Release(
        name="s01.demo", version="0.16.2",
        filename="s01.demo-0.16.2.tar.gz",
        url=server.url + "files/s01.demo-0.16.2.tar.gz",
        sha256=sha256_of(path), md5=None, size=path.stat().st_size)
    assert server.request_log == ["/simple/s01-demo/"]


def test_find_sdist_asks_for_json_and_accepts_html(index, monkeypatch):
    sent = {}
    real_get = requests.Session.get

    def spy(session, url, **kwargs):
        sent.update(kwargs["headers"])
        return real_get(session, url, **kwargs)

    monkeypatch.setattr(requests.Session, "get", spy)
    index.find_sdist("s01.demo", "0.16.2")
    assert sent["Accept"] == ("application/vnd.pypi.simple.v1+json, "
                              "text/html;q=0.1")


def test_find_sdist_falls_back_to_pep_503_html(index, server, sdists):
    server.json_enabled = False
    release = index.find_sdist("s01.demo", "0.16.2")
    assert release.filename == "s01.demo-0.16.2.tar.gz"
    assert release.sha256 == sha256_of(sdists["s01.demo-0.16.2.tar.gz"])
    assert release.size is None
    assert release.url == server.url + "files/s01.demo-0.16.2.tar.gz"


@pytest.mark.parametrize("json_enabled", [True, False])
def test_find_sdist_matches_normalized_names(index, server, json_enabled):
    server.json_enabled = json_enabled
    release = index.find_sdist("S01.Demo", "0.17")
    assert release.filename == "s01_demo-0.17.0.tar.gz"
    assert release.version == "0.17.0"
    assert release.name == "S01.Demo"


def test_find_sdist_takes_the_version_apart_at_any_dash(tmp_path):
    sdist = make_tar_sdist(tmp_path / "demo_pkg-2-1.0.tar.gz",
                           sdist_members("demo_pkg-2", "1.0"))
    build_index(tmp_path / "idx", [sdist])
    index = PackageIndex((tmp_path / "idx" / "simple").as_uri())
    assert index.find_sdist("demo_pkg-2", "1.0").filename == sdist.name


def test_find_sdist_prefers_tar_gz_over_zip(tmp_path, index_root, server,
                                            index):
    zipped = make_zip_sdist(tmp_path / "s01.demo-0.16.2.zip",
                            sdist_members("s01.demo", "0.16.2"))
    build_index(index_root, [zipped])
    for json_enabled in (True, False):
        server.json_enabled = json_enabled
        assert index.find_sdist("s01.demo", "0.16.2").filename.endswith(
            ".tar.gz")


def test_find_sdist_prefers_the_exact_version_text(tmp_path, index_root,
                                                   index):
    build_index(index_root, [make_tar_sdist(
        tmp_path / "demo.pkg-1.0.0.tar.gz",
        sdist_members("demo.pkg", "1.0.0"))])
    assert index.find_sdist("demo.pkg", "1.0").filename == (
        "demo.pkg-1.0.tar.gz")
    assert index.find_sdist("demo.pkg", "1.0.0").filename == (
        "demo.pkg-1.0.0.tar.gz")


def test_find_sdist_skips_yanked_files_unless_nothing_else(
        tmp_path, index_root, server, index):
    zipped = make_zip_sdist(tmp_path / "s01.demo-0.16.2.zip",
                            sdist_members("s01.demo", "0.16.2"))
    build_index(index_root, [zipped], yanked={"s01.demo-0.16.2.tar.gz"})
    for json_enabled in (True, False):
        server.json_enabled = json_enabled
        release = index.find_sdist("s01.demo", "0.16.2")
        assert (release.filename, release.yanked) == (zipped.name, False)

    build_index(index_root, yanked={"s01.demo-0.16.2.tar.gz",
                                    "s01.demo-0.16.2.zip"})
    release = index.find_sdist("s01.demo", "0.16.2")
    assert release.yanked is True
    assert release.filename == "s01.demo-0.16.2.tar.gz"


def test_find_sdist_ignores_wheels_and_other_files(tmp_path, index_root,
                                                   index):
    page = index_root / "simple" / "other" / "index.html"
    page.parent.mkdir()
    page.write_text(
        '<a href="../../files/other-1.0-py3-none-any.whl#sha256=%s">w</a>'
        '<a href="../../files/other-1.0.exe">e</a>' % ("0" * 64))
    with pytest.raises(PackageNotFound):
        index.find_sdist("other", "1.0")


def test_find_sdist_reads_md5_fragments_and_absolute_links(index_root,
                                                            index):
    page = index_root / "simple" / "other" / "index.html"
    page.parent.mkdir()
    page.write_text('<a href="https://files.example/x/other-1.0.tar.gz'
                    '#md5=%s" data-yanked="">other-1.0.tar.gz</a>'
                    % ("AB" * 16))
    release = index.find_sdist("other", "1.0")
    assert release.url == "https://files.example/x/other-1.0.tar.gz"
    assert release.md5 == "ab" * 16
    assert release.sha256 is None
    assert release.yanked is True


def test_an_http_index_cannot_point_at_local_files(index_root, index):
    page = index_root / "simple" / "other" / "index.html"
    page.parent.mkdir()
    page.write_text('<a href="file:///etc/other-1.0.tar.gz#sha256=%s">x</a>'
                    % ("0" * 64))
    with pytest.raises(PackageNotFound):
        index.find_sdist("other", "1.0")


def test_find_sdist_of_a_missing_version_names_what_and_where(index):
    with pytest.raises(PackageNotFound) as info:
        index.find_sdist("s01.demo", "9.9")
    assert str(info.value) == "no sdist of s01.demo 9.9 on the index %s" % (
        index.url)


def test_find_sdist_of_an_unknown_project_is_not_found(index, server):
    with pytest.raises(PackageNotFound) as info:
        index.find_sdist("nothing.here", "1.0")
    assert "nothing.here" in str(info.value)
    assert index.url in str(info.value)
    assert server.request_log == ["/simple/nothing-here/"]


@pytest.mark.parametrize("name, version", [
    ("../sentinel", "1.0"), ("a/b", "1.0"), ("demo.pkg", "../../sentinel"),
    ({"$ne": None}, "1.0"), ("", "1.0"),
])
def test_find_sdist_refuses_bad_values_before_any_request(index, server,
                                                          name, version):
    with pytest.raises(InvalidParams):
        index.find_sdist(name, version)
    assert server.request_log == []


def test_an_index_answering_500_is_unavailable(index, server):
    server.mode = "500"
    with pytest.raises(IndexUnavailable) as info:
        index.find_sdist("s01.demo", "0.16.2")
    assert str(info.value) == "%ss01-demo/ answered HTTP 500" % index.url


def test_an_index_closing_connections_is_unavailable(index, server):
    server.mode = "down"
    with pytest.raises(IndexUnavailable) as info:
        index.find_sdist("s01.demo", "0.16.2")
    assert str(info.value).startswith(index.url + "s01-demo/: ")


def test_an_index_refusing_connections_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    index = PackageIndex("http://127.0.0.1:%d/simple/" % port, timeout=2)
    with pytest.raises(IndexUnavailable) as info:
        index.find_sdist("s01.demo", "0.16.2")
    assert "127.0.0.1:%d" % port in str(info.value)


def test_an_index_whose_name_does_not_resolve_is_unavailable():
    index = PackageIndex("http://index.s01.invalid/simple/", timeout=2)
    started = time.monotonic()
    with pytest.raises(IndexUnavailable) as info:
        index.find_sdist("s01.demo", "0.16.2")
    assert "index.s01.invalid" in str(info.value)
    assert time.monotonic() - started < 10


def test_an_index_that_never_answers_fails_within_the_timeout(server):
    server.mode = "hang"
    index = PackageIndex(server.simple_url, timeout=1)
    started = time.monotonic()
    with pytest.raises(IndexUnavailable) as info:
        index.find_sdist("s01.demo", "0.16.2")
    assert time.monotonic() - started < 2.5
    assert "no answer within 1s" in str(info.value)


def test_an_index_sending_bytes_slowly_is_cut_off(server):
    server.mode = "slow"
    index = PackageIndex(server.simple_url, timeout=1)
    started = time.monotonic()
    with pytest.raises(IndexUnavailable):
        index.find_sdist("s01.demo", "0.16.2")
    assert time.monotonic() - started < 1 + 0.2 + 1.5


def test_a_page_over_the_size_cap_is_refused(server):
    index = PackageIndex(server.simple_url, max_page_bytes=100)
    with pytest.raises(IndexUnavailable) as info:
        index.find_sdist("s01.demo", "0.16.2")
    assert "larger than 100 bytes" in str(info.value)


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"meta": {"api-version": "2.0"}, "files": []}',
    b'{"meta": {"api-version": "1.0"}, "files": [{"url": "x"}]}',
    b'{"meta": {"api-version": "1.0"}, "files": [42]}',
])
def test_a_malformed_json_page_is_unavailable(index_root, body):
    page = index_root / "simple" / "s01-demo" / "index.json"
    page.write_bytes(body)
    index = PackageIndex((index_root / "simple").as_uri())
    with pytest.raises(IndexUnavailable) as info:
        index.find_sdist("s01.demo", "0.16.2")
    assert "malformed JSON page" in str(info.value)


def test_a_file_index_reads_html_pages(index_root, sdists):
    index = PackageIndex((index_root / "simple").as_uri())
    release = index.find_sdist("s01.demo", "0.16.2")
    assert release.url == (index_root / "files" /
                           "s01.demo-0.16.2.tar.gz").as_uri()
    assert release.sha256 == sha256_of(sdists["s01.demo-0.16.2.tar.gz"])


def test_a_file_index_prefers_index_json(index_root):
    page = index_root / "simple" / "s01-demo" / "index.json"
    page.write_text(json.dumps({
        "meta": {"api-version": "1.1"}, "name": "s01-demo",
        "files": [{"filename": "s01.demo-0.16.2.zip",
                   "url": "../../files/s01.demo-0.16.2.zip",
                   "hashes": {"sha256": "A" * 64}, "size": 7}]}))
    index = PackageIndex((index_root / "simple").as_uri())
    release = index.find_sdist("s01.demo", "0.16.2")
    assert release.filename == "s01.demo-0.16.2.zip"
    assert release.sha256 == "a" * 64
    assert release.size == 7


def test_a_file_index_without_the_project_is_not_found(index_root):
    index = PackageIndex((index_root / "simple").as_uri())
    with pytest.raises(PackageNotFound):
        index.find_sdist("nothing", "1.0")


def test_an_index_url_must_be_http_or_file():
    from s01.worker.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError):
        PackageIndex("ftp://example.org/simple/")


def test_download_checks_sha256_and_answers_the_file(index, dest, sdists):
    release = index.find_sdist("demo.pkg", "1.0")
    path = index.download(release, dest, max_bytes=10 ** 6, timeout=5)
    assert path == str(dest / "demo.pkg-1.0.tar.gz")
    assert open(path, "rb").read() == sdists[release.filename].read_bytes()
    assert os.listdir(dest) == ["demo.pkg-1.0.tar.gz"]


@pytest.mark.parametrize("upper", [False, True])
def test_download_accepts_the_right_md5_in_any_case(index, dest, sdists,
                                                    upper):
    release = index.find_sdist("demo.pkg", "1.0")
    md5 = md5_of(sdists[release.filename])
    md5 = md5.upper() if upper else md5
    path = index.download(release, dest, max_bytes=10 ** 6, md5=md5,
                          timeout=5)
    assert os.path.basename(path) == release.filename


def test_download_with_a_wrong_md5_names_both_and_leaves_nothing(
        index, dest, sdists):
    release = index.find_sdist("demo.pkg", "1.0")
    with pytest.raises(DownloadError) as info:
        index.download(release, dest, max_bytes=10 ** 6, md5="0" * 32,
                       timeout=5)
    assert str(info.value) == (
        "md5 mismatch for demo.pkg-1.0.tar.gz: expected %s (md5Digest), "
        "got %s" % ("0" * 32, md5_of(sdists[release.filename])))
    assert os.listdir(dest) == []


def test_download_with_a_wrong_sha256_names_both_and_leaves_nothing(
        index, dest, sdists):
    release = index.find_sdist("demo.pkg", "1.0")
    release = Release(**dict(vars(release), sha256="f" * 64))
    with pytest.raises(DownloadError) as info:
        index.download(release, dest, max_bytes=10 ** 6, timeout=5)
    assert str(info.value) == (
        "sha256 mismatch for demo.pkg-1.0.tar.gz: expected %s (index), "
        "got %s" % ("f" * 64, sha256_of(sdists[release.filename])))
    assert os.listdir(dest) == []


def test_download_refuses_a_release_without_sha256_before_asking(
        index, server, dest):
    release = Release("demo.pkg", "1.0", "demo.pkg-1.0.tar.gz",
                      server.url + "files/demo.pkg-1.0.tar.gz",
                      md5="0" * 32)
    with pytest.raises(DownloadError) as info:
        index.download(release, dest, max_bytes=10 ** 6, timeout=5)
    assert str(info.value) == "index gives no sha256 for demo.pkg-1.0.tar.gz"
    assert server.request_log == []
    assert os.listdir(dest) == []


@pytest.mark.parametrize("md5", ["right", None])
def test_download_cut_halfway_is_a_short_read_and_leaves_nothing(
        index, server, dest, sdists, md5):
    release = index.find_sdist("demo.pkg", "1.0")
    if md5:
        md5 = md5_of(sdists[release.filename])
    server.mode = "truncate"
    with pytest.raises(DownloadError) as info:
        index.download(release, dest, max_bytes=10 ** 6, md5=md5, timeout=5)
    size = sdists[release.filename].stat().st_size
    assert str(info.value).startswith("short read of demo.pkg-1.0.tar.gz: ")
    assert "of %d bytes" % size in str(info.value)
    assert os.listdir(dest) == []

    # A later try against a healthy index succeeds: nothing was left over.
    server.mode = "ok"
    index.download(release, dest, max_bytes=10 ** 6, md5=md5, timeout=5)
    assert os.listdir(dest) == [release.filename]


def test_download_refuses_a_content_length_over_the_cap(index, dest):
    release = index.find_sdist("demo.pkg", "1.0")
    with pytest.raises(DownloadError) as info:
        index.download(release, dest, max_bytes=1000, timeout=5)
    assert "over the limit of 1000" in str(info.value)
    assert os.listdir(dest) == []


def test_download_stops_a_file_growing_past_the_cap(index_root, dest):
    index = PackageIndex((index_root / "simple").as_uri())
    release = index.find_sdist("demo.pkg", "1.0")
    with pytest.raises(DownloadError) as info:
        index.download(release, dest, max_bytes=1000, timeout=5)
    assert "larger than the limit of 1000 bytes" in str(info.value)
    assert os.listdir(dest) == []


def test_download_from_a_file_index(index_root, dest, sdists):
    index = PackageIndex((index_root / "simple").as_uri())
    release = index.find_sdist("demo.pkg", "1.0")
    path = index.download(release, dest, max_bytes=10 ** 6, timeout=5)
    assert open(path, "rb").read() == sdists[release.filename].read_bytes()


def test_download_from_a_hanging_index_fails_within_the_timeout(
        index, server, dest):
    release = index.find_sdist("demo.pkg", "1.0")
    server.mode = "hang"
    started = time.monotonic()
    with pytest.raises(DownloadError):
        index.download(release, dest, max_bytes=10 ** 6, timeout=1)
    assert time.monotonic() - started < 2.5
    assert os.listdir(dest) == []


def test_download_trickling_in_is_cut_off_at_the_deadline(index, server,
                                                          dest):
    release = index.find_sdist("demo.pkg", "1.0")
    server.mode = "slow"
    server.slow_delay = 0.05
    started = time.monotonic()
    with pytest.raises(DownloadError) as info:
        index.download(release, dest, max_bytes=10 ** 6, timeout=1)
    assert "not complete within the timeout" in str(info.value)
    assert time.monotonic() - started < 2.5
    assert os.listdir(dest) == []


def test_download_of_a_missing_file_names_the_status(index, server, dest):
    release = index.find_sdist("demo.pkg", "1.0")
    release = Release(**dict(vars(release), url=server.url + "files/gone"))
    with pytest.raises(DownloadError) as info:
        index.download(release, dest, max_bytes=10 ** 6, timeout=5)
    assert str(info.value) == "%sfiles/gone answered HTTP 404" % server.url
    assert os.listdir(dest) == []


@pytest.mark.parametrize("filename", ["../x.tar.gz", "a/b.tar.gz", "..",
                                      "", "a\\b.tar.gz"])
def test_download_refuses_a_filename_that_is_not_plain(index, server, dest,
                                                       filename):
    release = Release("x", "1.0", filename, server.url + "files/x",
                      sha256="0" * 64)
    with pytest.raises(DownloadError):
        index.download(release, dest, max_bytes=10 ** 6, timeout=5)
    assert server.request_log == []


def test_build_index_writes_pages_with_sha256_fragments(index_root, sdists):
    page = (index_root / "simple" / "demo-pkg" / "index.html").read_text()
    digest = sha256_of(sdists["demo.pkg-1.0.tar.gz"])
    assert ('<a href="../../files/demo.pkg-1.0.tar.gz#sha256=%s">'
            'demo.pkg-1.0.tar.gz</a>' % digest) in page
    root = (index_root / "simple" / "index.html").read_text()
    for project in ("demo-pkg", "s01-demo"):
        assert '<a href="%s/">%s</a>' % (project, project) in root


def test_index_server_serves_json_only_when_asked(server):
    url = server.simple_url + "s01-demo/"
    html = requests.get(url, timeout=5)
    assert html.headers["Content-Type"].startswith("text/html")
    answer = requests.get(url, timeout=5, headers={
        "Accept": "application/vnd.pypi.simple.v1+json"})
    assert answer.headers["Content-Type"] == (
        "application/vnd.pypi.simple.v1+json")
    files = answer.json()["files"]
    assert {f["filename"] for f in files} == {"s01.demo-0.16.2.tar.gz",
                                              "s01_demo-0.17.0.tar.gz"}
    assert server.request_log == ["/simple/s01-demo/"] * 2


def test_index_server_refuses_paths_outside_its_tree(server):
    answer = requests.get(server.url + "files/%2e%2e/%2e%2e/etc/passwd",
                          timeout=5)
    assert answer.status_code == 404


def test_download_from_an_http_index_refuses_local_file_urls(index, dest):
    release = Release("x", "1.0", "x-1.0.tar.gz", "file:///etc/passwd",
                      sha256="0" * 64)
    with pytest.raises(DownloadError) as info:
        index.download(release, dest, max_bytes=10 ** 6, timeout=5)
    assert "only a file:// index may point at local files" in str(info.value)
    assert os.listdir(dest) == []


def test_download_of_a_missing_local_file_leaves_nothing(index_root, dest):
    index = PackageIndex((index_root / "simple").as_uri())
    release = index.find_sdist("demo.pkg", "1.0")
    os.unlink(index_root / "files" / release.filename)
    with pytest.raises(DownloadError) as info:
        index.download(release, dest, max_bytes=10 ** 6, timeout=5)
    assert str(info.value).startswith("cannot read ")
    assert os.listdir(dest) == []
