"""Unpacking refuses hostile archives and writes nothing outside (C08)."""
import io
import os
import stat
import tarfile
import zipfile

import pytest

from s01.worker.exceptions import UnsafeArchive
from s01.worker.packages import archive
from s01.worker.packages.archive import Limits
from s01.worker.packages.archive import Member
from s01.worker.packages.archive import extract_archive
from s01.worker.packages.archive import scan_archive
from s01.worker.testing.index import Entry
from s01.worker.testing.index import make_header_bomb
from s01.worker.testing.index import make_tar_sdist
from s01.worker.testing.index import make_zip_sdist
from s01.worker.testing.index import sdist_members

MARKERS = ("zs-marker.txt", "zs-abs.txt", "pwned.txt")


def tar_gz(path, members):
    return make_tar_sdist(str(path) + ".tar.gz", members)


def tar_bz2(path, members):
    return make_tar_sdist(str(path) + ".tar.bz2", members, "bz2")


def tar_plain(path, members):
    return make_tar_sdist(str(path) + ".tar", members, "")


def zip_(path, members):
    return make_zip_sdist(str(path) + ".zip", members)


BUILDERS = [tar_gz, tar_bz2, tar_plain, zip_]
TAR_BUILDERS = [tar_gz, tar_bz2, tar_plain]


def found_anywhere(*roots):
    """Marker files under ``roots`` that are not in a fresh unpack folder."""
    found = []
    for root in roots:
        for folder, _, files in os.walk(root):
            found.extend(os.path.join(folder, name) for name in files
                         if name in MARKERS and ".unpack-" not in folder)
    return found


@pytest.fixture
def parent(tmp_path):
    """Where archives are unpacked: deep enough for '../../..' to land."""
    folder = tmp_path / "pkgs" / "demo.pkg" / "6.6.6"
    folder.mkdir(parents=True)
    return folder


def assert_refused(path, parent, member, why, limits=Limits()):
    """Refused at unpack, naming ``member``; nothing left anywhere."""
    with pytest.raises(UnsafeArchive) as info:
        extract_archive(path, parent, limits)
    assert info.value.member == member
    assert repr(member) in str(info.value)
    assert why in str(info.value)
    assert os.listdir(parent) == []
    assert found_anywhere("/tmp", parent.parents[2]) == []
    return info.value


@pytest.mark.parametrize("build", BUILDERS)
def test_a_good_sdist_unpacks_into_a_fresh_folder(tmp_path, parent, build):
    members = sdist_members("demo.pkg", "1.0", {
        "demo.pkg-1.0/bin/": Entry("dir", mode=0o700),
        "demo.pkg-1.0/bin/run": Entry(data=b"#!/bin/sh\n", mode=0o700),
        "demo.pkg-1.0/src/demo/__init__.py": Entry(data=b"x = 1\n",
                                                   mode=0o666),
    })
    path = build(tmp_path / "demo.pkg-1.0", members)
    top = extract_archive(path, parent)

    workdir = os.path.dirname(top)
    assert os.path.dirname(workdir) == str(parent)
    assert os.path.basename(workdir).startswith(".unpack-")
    assert os.path.basename(top) == "demo.pkg-1.0"
    with open(os.path.join(top, "setup.py"), "rb") as f:
        assert f.read() == members["demo.pkg-1.0/setup.py"]
    modes = {name: stat.S_IMODE(os.stat(os.path.join(top, name)).st_mode)
             for name in ("bin", "bin/run", "src", "src/demo/__init__.py",
                          "setup.py")}
    assert modes == {"bin": 0o755, "bin/run": 0o755, "src": 0o755,
                     "src/demo/__init__.py": 0o644, "setup.py": 0o644}


def test_each_extraction_gets_a_new_empty_folder(tmp_path, parent):
    path = tar_gz(tmp_path / "demo", sdist_members("demo", "1"))
    first = extract_archive(path, parent)
    second = extract_archive(path, parent)
    assert os.path.dirname(first) != os.path.dirname(second)


@pytest.mark.parametrize("build", BUILDERS)
def test_scan_answers_the_top_folder_and_members(tmp_path, build):
    path = build(tmp_path / "demo", {"demo-1/": Entry("dir"),
                                     "demo-1/a.txt": b"abc"})
    top, members = scan_archive(path, Limits())
    assert top == "demo-1"
    assert members == [Member("demo-1", True, 0, 0o755),
                       Member("demo-1/a.txt", False, 3, 0o644)]


def test_the_format_is_told_by_content_not_by_name(tmp_path, parent):
    path = tar_gz(tmp_path / "demo", sdist_members("demo", "1"))
    renamed = tmp_path / "demo-1.zip"
    os.rename(path, renamed)
    assert os.path.basename(extract_archive(renamed, parent)) == "demo-1"


@pytest.mark.parametrize("content", [b"", b"hello world", b"\x1f\x8bjunk",
                                     b"PK\x03\x04junk", b"BZhjunk"])
def test_a_file_that_is_no_archive_is_refused(tmp_path, parent, content):
    path = tmp_path / "demo-1.tar.gz"
    path.write_bytes(content)
    with pytest.raises(UnsafeArchive):
        extract_archive(path, parent)
    assert os.listdir(parent) == []


def test_an_xz_tar_is_not_a_supported_format(tmp_path, parent):
    path = make_tar_sdist(tmp_path / "demo-1.tar.xz",
                          sdist_members("demo", "1"), "xz")
    with pytest.raises(UnsafeArchive) as info:
        extract_archive(path, parent)
    assert "is not a tar (plain, gzip, bzip2) or zip archive" in str(
        info.value)


def test_a_truncated_archive_is_refused_and_leaves_nothing(tmp_path,
                                                           parent):
    path = tar_gz(tmp_path / "demo", sdist_members(
        "demo", "1", {"demo-1/data": os.urandom(200000)}))
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    with pytest.raises(UnsafeArchive):
        extract_archive(path, parent)
    assert os.listdir(parent) == []


@pytest.mark.parametrize("build", BUILDERS)
def test_zip_slip_is_refused_naming_the_member(tmp_path, parent, build):
    # C08: the scenario's member list, in zip and tar form.
    members = sdist_members("demo.pkg", "6.6.6")
    members["demo.pkg-6.6.6/../../../zs-marker.txt"] = b"slipped"
    members["/tmp/zs-abs.txt"] = b"absolute"
    path = build(tmp_path / "demo.pkg-6.6.6", members)
    assert_refused(path, parent, "demo.pkg-6.6.6/../../../zs-marker.txt",
                   "has a '..' path component")


@pytest.mark.parametrize("build", BUILDERS)
def test_an_absolute_member_is_refused(tmp_path, parent, build):
    members = sdist_members("demo.pkg", "6.6.6")
    members["/tmp/zs-abs.txt"] = b"absolute"
    path = build(tmp_path / "demo.pkg-6.6.6", members)
    assert_refused(path, parent, "/tmp/zs-abs.txt", "is an absolute path")


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("name, why", [
    ("demo-1/a\\..\\..\\zs-marker.txt", "contains a backslash"),
    ("demo-1/a\x00/../../zs-marker.txt", "contains a NUL byte"),
    ("C:/demo-1/zs-marker.txt", "starts with a drive letter"),
    ("demo-1/./zs-marker.txt", "has a '.' path component"),
    ("./demo-1/zs-marker.txt", "has a '.' path component"),
    ("demo-1//zs-marker.txt", "has a '' path component"),
    ("demo-1/a\nb", "contains control characters"),
])
def test_a_strange_member_name_is_refused(tmp_path, parent, build, name,
                                          why):
    members = sdist_members("demo", "1")
    members[name] = b"x"
    path = build(tmp_path / "demo-1", members)
    assert_refused(path, parent, name, why)


def test_a_tar_name_that_is_not_utf8_is_refused(tmp_path, parent):
    path = tmp_path / "demo-1.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT,
                      encoding="latin-1") as tar:
        info = tarfile.TarInfo("demo-1/caf\u00e9")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(UnsafeArchive) as info:
        extract_archive(path, parent)
    assert "is not valid UTF-8" in str(info.value)


@pytest.mark.parametrize("build", BUILDERS)
def test_a_symlink_and_a_file_through_it_are_refused(tmp_path, parent,
                                                     build):
    outside = tmp_path / "zs-outside"
    outside.mkdir()
    members = [("demo-1/setup.py", b""),
               ("demo-1/link", Entry("symlink", target=str(outside))),
               ("demo-1/link/pwned.txt", b"pwned")]
    path = build(tmp_path / "demo-1", members)
    assert_refused(path, parent, "demo-1/link",
                   "is a symlink, not a regular file or folder")
    assert os.listdir(outside) == []


@pytest.mark.parametrize("build", TAR_BUILDERS)
@pytest.mark.parametrize("entry, why", [
    (Entry("hardlink", target="/etc/passwd"), "is a hard link"),
    (Entry("hardlink", target="demo-1/setup.py"), "is a hard link"),
    (Entry("chr"), "is a character device"),
    (Entry("blk"), "is a block device"),
    (Entry("fifo"), "is a fifo"),
])
def test_tar_links_devices_and_fifos_are_refused(tmp_path, parent, build,
                                                 entry, why):
    members = [("demo-1/setup.py", b""), ("demo-1/odd", entry)]
    path = build(tmp_path / "demo-1", members)
    assert_refused(path, parent, "demo-1/odd", why)


@pytest.mark.parametrize("kind, why", [
    ("chr", "is a character device"), ("blk", "is a block device"),
    ("fifo", "is a fifo"),
])
def test_zip_entries_marked_as_devices_or_fifos_are_refused(tmp_path,
                                                            parent, kind,
                                                            why):
    members = [("demo-1/setup.py", b""), ("demo-1/odd", Entry(kind))]
    path = zip_(tmp_path / "demo-1", members)
    assert_refused(path, parent, "demo-1/odd", why)


def test_an_encrypted_zip_entry_is_refused(tmp_path, parent):
    path = tmp_path / "demo-1.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("demo-1/secret", b"xx")

    # zipfile writes no encrypted entries: set the flag in the central
    # directory by hand.
    blob = bytearray(path.read_bytes())
    flags = blob.index(b"PK\x01\x02") + 8
    blob[flags] |= 0x1
    path.write_bytes(bytes(blob))
    assert_refused(path, parent, "demo-1/secret", "is encrypted")


@pytest.mark.parametrize("build", [tar_gz, tar_bz2, zip_])
def test_a_bomb_is_refused_by_its_ratio(tmp_path, parent, build):
    members = {"demo-1/setup.py": b"",
               "demo-1/zeros": b"\0" * (20 * 1024 * 1024)}
    path = build(tmp_path / "demo-1", members)
    assert os.path.getsize(path) < 200 * 1024
    assert_refused(path, parent, "demo-1/zeros", "expands the archive past "
                   "100 times its size")


def test_a_small_repetitive_sdist_is_not_taken_for_a_bomb(tmp_path,
                                                          parent):
    path = tar_gz(tmp_path / "demo-1", {"demo-1/blank": b" " * 500000})
    assert os.path.getsize(path) * 100 < 500000
    extract_archive(path, parent)


@pytest.mark.parametrize("build", BUILDERS)
def test_the_total_size_cap_counts_declared_bytes(tmp_path, parent,
                                                  build):
    members = {"demo-1/a": os.urandom(300000), "demo-1/b": os.urandom(300000)}
    path = build(tmp_path / "demo-1", members)
    assert_refused(path, parent, "demo-1/b", "past 500000 bytes unpacked",
                   Limits(max_total_bytes=500000))


@pytest.mark.parametrize("build", BUILDERS)
def test_the_member_size_cap_is_applied(tmp_path, parent, build):
    members = {"demo-1/a": os.urandom(3000)}
    path = build(tmp_path / "demo-1", members)
    assert_refused(path, parent, "demo-1/a", "declares 3000 bytes, over the "
                   "limit of 2000", Limits(max_member_bytes=2000))


@pytest.mark.parametrize("build", BUILDERS)
def test_too_many_members_are_refused(tmp_path, parent, build):
    members = {"demo-1/f%02d" % n: b"" for n in range(11)}
    path = build(tmp_path / "demo-1", members)
    assert_refused(path, parent, "demo-1/f10", "past the limit of 10 "
                   "members", Limits(max_members=10))


@pytest.mark.parametrize("build", BUILDERS)
def test_files_at_the_root_are_refused(tmp_path, parent, build):
    path = build(tmp_path / "demo-1", {"setup.py": b"", "worker.cfg": b""})
    assert_refused(path, parent, "setup.py", "is a file at the archive "
                   "root, outside any top folder")


@pytest.mark.parametrize("build", BUILDERS)
def test_two_top_folders_are_refused(tmp_path, parent, build):
    path = build(tmp_path / "demo-1", {"demo-1/setup.py": b"",
                                       "other-1/setup.py": b""})
    assert_refused(path, parent, "other-1/setup.py", "is in a second top "
                   "folder 'other-1' besides 'demo-1'")


@pytest.mark.parametrize("build", BUILDERS)
def test_an_empty_archive_is_refused(tmp_path, parent, build):
    path = build(tmp_path / "demo-1", {})
    with pytest.raises(UnsafeArchive) as info:
        extract_archive(path, parent)
    assert str(info.value) == "the archive is empty"
    assert os.listdir(parent) == []


@pytest.mark.parametrize("build", BUILDERS)
def test_a_name_given_twice_is_refused(tmp_path, parent, build):
    path = build(tmp_path / "demo-1", [("demo-1/setup.py", b"good"),
                                       ("demo-1/setup.py", b"evil")])
    assert_refused(path, parent, "demo-1/setup.py", "appears twice")


@pytest.mark.parametrize("build", BUILDERS)
def test_a_file_that_is_also_a_folder_is_refused(tmp_path, parent, build):
    path = build(tmp_path / "demo-1", [("demo-1/a", b""),
                                       ("demo-1/a/b", b"")])
    assert_refused(path, parent, "demo-1/a", "is a file and also a folder")


@pytest.mark.parametrize("build", BUILDERS)
def test_a_stale_symlink_in_the_parent_is_never_followed(tmp_path, parent,
                                                         build):
    # C08 (b): links left over from an earlier failed run.
    outside = tmp_path / "zs-outside"
    outside.mkdir()
    os.symlink(outside, parent / "link")
    os.symlink(outside, parent / "demo.pkg-7.0")
    path = build(tmp_path / "demo.pkg-7.0", sdist_members(
        "demo.pkg", "7.0", {"demo.pkg-7.0/link/pwned.txt": b"pwned"}))
    top = extract_archive(path, parent)
    assert os.listdir(outside) == []
    assert os.path.isfile(os.path.join(top, "link", "pwned.txt"))
    assert not os.path.islink(os.path.join(top, "link"))
    assert os.path.dirname(os.path.dirname(top)) == str(parent)


def test_a_member_producing_more_than_declared_is_stopped(tmp_path):
    folder_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    member = Member("demo-1/a", False, 10, 0o644)
    try:
        with pytest.raises(UnsafeArchive) as info:
            archive._write_file(folder_fd, "a",
                                lambda: io.BytesIO(b"x" * 100000), member,
                                10 ** 6)
    finally:
        os.close(folder_fd)
    assert "produces more than its declared 10 bytes" in str(info.value)
    assert os.path.getsize(tmp_path / "a") == 0


def test_a_member_producing_less_than_declared_is_refused(tmp_path):
    folder_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    member = Member("demo-1/a", False, 10, 0o644)
    try:
        with pytest.raises(UnsafeArchive) as info:
            archive._write_file(folder_fd, "a", lambda: io.BytesIO(b"xy"),
                                member, 10 ** 6)
    finally:
        os.close(folder_fd)
    assert "is cut short: 2 of 10 bytes" in str(info.value)


def test_writing_never_follows_a_symlink_in_place(tmp_path):
    outside = tmp_path / "outside.txt"
    os.symlink(outside, tmp_path / "a")
    folder_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(FileExistsError):
            archive._write_file(folder_fd, "a", lambda: io.BytesIO(b"x"),
                                Member("demo-1/a", False, 1, 0o644), 10)
        with pytest.raises(OSError):
            archive._make_folders(folder_fd, ["a", "b"])
    finally:
        os.close(folder_fd)
    assert not outside.exists()


def test_a_failure_while_writing_removes_the_fresh_folder(tmp_path, parent,
                                                          monkeypatch):
    path = tar_gz(tmp_path / "demo", sdist_members("demo", "1"))
    calls = []
    real_write_file = archive._write_file

    def fail_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_write_file(*args)

    monkeypatch.setattr(archive, "_write_file", fail_second)
    with pytest.raises(OSError):
        extract_archive(path, parent)
    assert os.listdir(parent) == []


def test_a_zip_member_with_damaged_data_is_refused(tmp_path, parent):
    path = tmp_path / "demo-1.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zipped:
        zipped.writestr("demo-1/setup.py", b"print('hello')\n" * 10)
    blob = path.read_bytes().replace(b"hello", b"HELLO", 1)
    path.write_bytes(blob)
    with pytest.raises(UnsafeArchive) as info:
        extract_archive(path, parent)
    assert info.value.member == "demo-1/setup.py"
    assert "cannot be read" in str(info.value)
    assert os.listdir(parent) == []


def test_a_zip_member_with_unknown_compression_is_refused(tmp_path,
                                                          parent):
    path = zip_(tmp_path / "demo-1", {"demo-1/setup.py": b"x"})
    with open(path, "rb") as f:
        blob = bytearray(f.read())
    method = blob.index(b"PK\x01\x02") + 10
    blob[method:method + 2] = (99).to_bytes(2, "little")
    with open(path, "wb") as f:
        f.write(bytes(blob))
    assert_refused(path, parent, "demo-1/setup.py",
                   "uses unsupported compression 99")


def test_writing_stops_at_the_total_budget(tmp_path):
    folder_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    member = Member("demo-1/a", False, 100, 0o644)
    try:
        with pytest.raises(UnsafeArchive) as info:
            archive._write_file(folder_fd, "a",
                                lambda: io.BytesIO(b"x" * 100), member, 50)
    finally:
        os.close(folder_fd)
    assert "takes the archive past its limit unpacked" in str(info.value)


def test_a_chain_of_long_name_headers_is_refused_not_recursed(tmp_path,
                                                               parent):
    # Thousands of headers each naming the next member: tarfile would
    # recurse once a header and overflow the stack.
    path = make_header_bomb(tmp_path / "demo-1.tar.gz", "demo-1",
                            tarfile.GNUTYPE_LONGNAME,
                            b"demo-1/" + b"a" * 200, 3000)
    with pytest.raises(UnsafeArchive) as info:
        extract_archive(path, parent)
    assert "follows 8 others in a row, over the limit of 8" in \
        str(info.value)
    assert os.listdir(parent) == []


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_an_extended_header_too_large_is_refused_before_it_is_read(
        tmp_path, parent, kind):
    # A megabyte of header compresses to a kilobyte; a gigabyte would
    # have been read into memory whole.
    payload = b"a" * 1048576
    path = make_header_bomb(tmp_path / "demo-1.tar.gz", "demo-1", kind,
                            payload)
    assert os.path.getsize(path) < 8192
    with pytest.raises(UnsafeArchive) as info:
        extract_archive(path, parent)
    assert "an extended tar header at byte 0 holds %d bytes, over the " \
        "limit of 65536" % len(payload) == str(info.value)
    assert os.listdir(parent) == []


def test_a_few_extended_headers_in_a_row_are_fine(tmp_path, parent):
    members = sdist_members("demo", "1", {
        "demo-1/" + "long" * 60 + ".txt": b"long name, pax header"})
    path = tar_gz(tmp_path / "demo-1", members)
    top = extract_archive(path, parent)
    assert os.path.isfile(os.path.join(top, "long" * 60 + ".txt"))


def test_a_gnu_sparse_member_is_refused_at_its_header(tmp_path, parent):
    path = make_header_bomb(tmp_path / "demo-1.tar.gz", "demo-1",
                            tarfile.GNUTYPE_SPARSE, b"")
    assert_refused(path, parent, "././@LongLink", "is a sparse file")
