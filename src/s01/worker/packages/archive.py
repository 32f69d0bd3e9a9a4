"""Pre-scan and unpack an sdist, refusing what a real sdist never holds.

The contract:

* :func:`scan_archive` reads every member's header before anything is
  written and checks it: a relative name (no '..', '.' or empty part, no
  leading '/', no drive letter, no backslash, no NUL or control character),
  a regular file or a folder (no symlink, hard link, device, fifo, sparse
  or encrypted member), no name twice, no file used as a folder, all under
  exactly one top folder, and the caps of :class:`Limits` on the member
  count, each member's size, the total size and the compression ratio. It
  answers the top folder's name and the members.
* :func:`extract_archive` scans first, then writes into a NEW empty folder
  made with :func:`tempfile.mkdtemp` inside ``dest_parent``, so nothing that
  was already there (a stale symlink, an earlier failed run) is ever
  followed. It writes every file itself, with ``O_CREAT | O_EXCL |
  O_NOFOLLOW`` below folders it created, stops a member that produces more
  bytes than it declared, and sets modes to 0644, or 0755 when any exec bit
  was set. It answers the path of the top folder; the caller owns the
  temporary folder around it (its parent).
* Formats are told by content, not by name: gzip or bzip2 tar, plain tar,
  zip. tarfile's ``extractall`` and its ``data`` filter are not used.
* tarfile reads an extended header (a pax record, a GNU long name) whole
  into memory and follows one header to the next by recursion, so a small
  archive could make it allocate gigabytes or overflow the stack. Such
  headers over ``MAX_EXTENDED_HEADER`` bytes, or more than
  ``MAX_EXTENDED_CHAIN`` in a row, and GNU sparse members, are refused
  before tarfile reads them.

Everything refused is :class:`~s01.worker.exceptions.UnsafeArchive`, whose
message and ``member`` name the offending member; on any failure the
temporary folder is removed again. ``OSError`` from the filesystem itself
(no space, no permission) goes through unchanged.
"""
import dataclasses
import logging
import os
import re
import shutil
import stat
import tarfile
import tempfile
import typing
import unicodedata
import zipfile
import zlib

from s01.worker.exceptions import UnsafeArchive

log = logging.getLogger(__name__)

MiB = 1024 * 1024
CHUNK = 64 * 1024
DRIVE_RE = re.compile(r"[A-Za-z]:")
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
               zipfile.ZIP_LZMA)
ZIP_KINDS = {
    stat.S_IFLNK: "a symlink", stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device", stat.S_IFIFO: "a fifo",
    stat.S_IFSOCK: "a socket",
}

# Extended tar headers: their largest size, and how many may follow one
# another (a long name and a pax record make two).
MAX_EXTENDED_HEADER = 64 * 1024
MAX_EXTENDED_CHAIN = 8
EXTENDED_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK,
                  tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)

# What reading a damaged archive raises; OSError covers a bad gzip stream.
READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError,
               OSError)


@dataclasses.dataclass(frozen=True)
class Limits:
    """Caps on what one archive may hold.

    The ratio (bytes unpacked per byte of archive) is checked only once the
    unpacked total passes ``min_ratio_bytes``, so a small sdist of
    repetitive text is not taken for a bomb.
    """

    max_members: int = 10000
    max_total_bytes: int = 512 * MiB
    max_ratio: float = 100
    max_member_bytes: int = 128 * MiB
    min_ratio_bytes: int = 1 * MiB


@dataclasses.dataclass(frozen=True)
class Member:
    """One checked member: its name (no trailing '/'), kind, size, mode."""

    name: str
    is_dir: bool
    size: int
    mode: int


class ArchiveContents(typing.NamedTuple):
    """What :func:`scan_archive` answers."""

    top: str
    members: list


def scan_archive(path, limits=Limits()):
    """Check every member of the archive at ``path``; see the contract."""
    with _open_archive(path) as archive:
        return _scan(archive, os.path.getsize(path), limits)


def extract_archive(path, dest_parent, limits=Limits()):
    """Unpack ``path`` into a new folder in ``dest_parent``; see contract."""
    contents = scan_archive(path, limits)
    workdir = tempfile.mkdtemp(prefix=".unpack-", dir=dest_parent)
    try:
        with _open_archive(path) as archive:
            _extract(archive, workdir, contents, limits)
    except BaseException:
        # Leave nothing half-unpacked behind, whatever went wrong.
        shutil.rmtree(workdir, ignore_errors=True)
        raise

    log.debug("archive unpacked path=%s members=%d into=%s", path,
              len(contents.members), workdir)
    return os.path.join(workdir, contents.top)


def _scan(archive, archive_size, limits):
    """Check members one by one, then the layout as a whole."""
    members, names, files, folders = [], set(), set(), set()
    top, total = None, 0
    try:
        for member, compressed, _ in archive.entries():
            # Caps first, so a bomb's data is never read just to skip it.
            total += member.size
            _check_caps(member, len(members), total, compressed,
                        archive_size, limits)

            # Layout: one top folder, no name twice.
            name, parts = member.name, member.name.split("/")
            if len(parts) == 1 and not member.is_dir:
                _refuse(name, "is a file at the archive root, outside any "
                        "top folder")
            top = top or parts[0]
            if parts[0] != top:
                _refuse(name, "is in a second top folder %r besides %r"
                        % (parts[0], top))
            if name in names:
                _refuse(name, "appears twice")
            names.add(name)
            (folders if member.is_dir else files).add(name)
            folders.update("/".join(parts[:at]) for at in range(1, len(parts)))
            members.append(member)
    except READ_ERRORS as exc:
        raise UnsafeArchive("not a readable archive: %s" % exc) from exc

    # The whole: not empty, and no file that is also a folder.
    if top is None:
        raise UnsafeArchive("the archive is empty")
    for name in sorted(files & folders):
        _refuse(name, "is a file and also a folder of other members")
    return ArchiveContents(top, members)


def _check_caps(member, count, total, compressed, archive_size, limits):
    """Refuse ``member`` if it breaks a cap; ``total`` includes it."""
    name = member.name
    if count >= limits.max_members:
        _refuse(name, "is past the limit of %d members" % limits.max_members)
    if member.size > limits.max_member_bytes:
        _refuse(name, "declares %d bytes, over the limit of %d"
                % (member.size, limits.max_member_bytes))
    if total > limits.max_total_bytes:
        _refuse(name, "takes the archive past %d bytes unpacked"
                % limits.max_total_bytes)
    _check_ratio(name, total, archive_size, limits)
    if compressed is not None:
        _check_ratio(name, member.size, compressed, limits)


def _extract(archive, workdir, contents, limits):
    """Write the scanned members below ``workdir``."""
    expected = {member.name: member for member in contents.members}
    budget = limits.max_total_bytes
    root_fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for member, _, opener in archive.entries():
            # The file was scanned a moment ago; it must not have changed.
            if expected.get(member.name) != member:
                _refuse(member.name, "was not in the archive when scanned")

            parts = member.name.split("/")
            if member.is_dir:
                os.close(_make_folders(root_fd, parts))
                continue
            parent_fd = _make_folders(root_fd, parts[:-1])
            try:
                budget -= _write_file(parent_fd, parts[-1], opener, member,
                                      budget)
            finally:
                os.close(parent_fd)
    finally:
        os.close(root_fd)


def _make_folders(root_fd, parts):
    """Create (or enter) the folders ``parts`` below root_fd; return an fd.

    Each step opens with O_NOFOLLOW: a symlink on the way is an error, not
    a way out.
    """
    fd = os.dup(root_fd)
    for part in parts:
        created = True
        try:
            os.mkdir(part, 0o755, dir_fd=fd)
        except FileExistsError:
            created = False
        try:
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY
                            | os.O_NOFOLLOW, dir_fd=fd)
        finally:
            os.close(fd)
        if created:
            os.fchmod(child, 0o755)
        fd = child
    return fd


def _write_file(parent_fd, filename, opener, member, budget):
    """Write one member; return the bytes written."""
    fd = os.open(filename, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                 | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent_fd)
    written = 0
    with os.fdopen(fd, "wb") as out:
        for chunk in _chunks_of(opener, member.name):
            written += len(chunk)
            if written > member.size:
                _refuse(member.name, "produces more than its declared %d "
                        "bytes" % member.size)
            if written > budget:
                _refuse(member.name, "takes the archive past its limit "
                        "unpacked")
            out.write(chunk)
        os.fchmod(fd, member.mode)
    if written < member.size:
        _refuse(member.name, "is cut short: %d of %d bytes"
                % (written, member.size))
    return written


def _chunks_of(opener, name):
    """Yield a member's data; reading a damaged one is UnsafeArchive.

    Only the reading side is guarded: an error writing the copy (a full
    disk) is the caller's, not the archive's.
    """
    try:
        stream = opener()
        while chunk := stream.read(CHUNK):
            yield chunk
    except READ_ERRORS as exc:
        raise UnsafeArchive("member %r cannot be read: %s" % (name, exc),
                            member=name) from exc


class _Reader:
    """What both archive readers share: closing as a context manager."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class _CheckedTarInfo(tarfile.TarInfo):
    """A tar header that refuses sparse members, and extended headers too
    large or too many in a row, before tarfile reads them."""

    def _proc_member(self, archive):
        # tarfile's hook for subclasses: it dispatches on the header type.
        if self.type == tarfile.GNUTYPE_SPARSE:
            _refuse(self.name, "is a sparse file, not a regular file or "
                    "folder")
        if self.type not in EXTENDED_TYPES:
            return super()._proc_member(archive)
        where = "an extended tar header at byte %d" % self.offset
        if self.size > MAX_EXTENDED_HEADER:
            raise UnsafeArchive("%s holds %d bytes, over the limit of %d"
                                % (where, self.size, MAX_EXTENDED_HEADER))
        chain = getattr(archive, "_s01_chain", 0) + 1
        if chain > MAX_EXTENDED_CHAIN:
            raise UnsafeArchive("%s follows %d others in a row, over the "
                                "limit of %d" % (where, chain - 1,
                                                 MAX_EXTENDED_CHAIN))
        archive._s01_chain = chain
        try:
            return super()._proc_member(archive)
        finally:
            archive._s01_chain = chain - 1


class _TarArchive(_Reader):
    """A tar archive (plain, gzip or bzip2), read member by member."""

    def __init__(self, path, mode):
        self.tar = tarfile.open(path, mode, tarinfo=_CheckedTarInfo)

    def entries(self):
        """Yield (Member, compressed size, opener) in archive order.

        The compressed size is None: tar compresses the whole stream.
        """
        for info in self.tar:
            yield (_tar_member(info), None,
                   lambda info=info: self.tar.extractfile(info))

    def close(self):
        self.tar.close()


class _ZipArchive(_Reader):
    """A zip archive, read through its central directory."""

    def __init__(self, path):
        self.zip = zipfile.ZipFile(path)

    def entries(self):
        """Yield (Member, compressed size, opener) in archive order."""
        for info in self.zip.infolist():
            yield (_zip_member(info), info.compress_size,
                   lambda info=info: self.zip.open(info))

    def close(self):
        self.zip.close()


def _open_archive(path):
    """Open ``path`` by what its first bytes say it is."""
    with open(path, "rb") as f:
        head = f.read(512)
    try:
        if head.startswith(b"\x1f\x8b"):
            archive = _TarArchive(path, "r:gz")
        elif head.startswith(b"BZh"):
            archive = _TarArchive(path, "r:bz2")
        elif head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            archive = _ZipArchive(path)
        elif head[257:262] == b"ustar" or (len(head) == 512
                                           and not any(head)):
            archive = _TarArchive(path, "r:")
        else:
            raise UnsafeArchive("%s is not a tar (plain, gzip, bzip2) or "
                                "zip archive" % os.path.basename(path))
    except READ_ERRORS as exc:
        raise UnsafeArchive("%s is not a readable archive: %s"
                            % (os.path.basename(path), exc)) from exc
    return archive


def _tar_member(info):
    """Check one tar header; return its Member."""
    name = info.name
    _check_name(name)
    if info.isdir():
        return Member(name, True, 0, 0o755)
    if info.isreg() and not info.issparse():
        return Member(name, False, info.size, _file_mode(info.mode))

    kind = ("a hard link" if info.islnk() else
            "a symlink" if info.issym() else
            "a character device" if info.ischr() else
            "a block device" if info.isblk() else
            "a fifo" if info.isfifo() else
            "a sparse file" if info.issparse() else
            "of tar type %r" % info.type)
    _refuse(name, "is %s, not a regular file or folder" % kind)


def _zip_member(info):
    """Check one zip entry; return its Member."""
    # orig_filename keeps what zipfile's filename cuts at a NUL.
    raw = info.orig_filename
    is_dir = raw.endswith("/")
    name = raw[:-1] if is_dir else raw
    _check_name(name)
    if info.flag_bits & 0x1:
        _refuse(name, "is encrypted")
    if info.compress_type not in ZIP_METHODS:
        _refuse(name, "uses unsupported compression %d" % info.compress_type)

    # Unix creators keep the file type in the high bits of external_attr.
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        _refuse(name, "is %s, not a regular file or folder"
                % ZIP_KINDS.get(kind, "of file type %o" % kind))
    if (kind == stat.S_IFDIR) != is_dir and kind:
        _refuse(name, "is marked a folder and a file at once")
    if is_dir:
        if info.file_size:
            _refuse(name, "is a folder with content")
        return Member(name, True, 0, 0o755)
    return Member(name, False, info.file_size, _file_mode(mode))


def _check_name(name):
    """Refuse a member name that is not a plain relative path."""
    if not name:
        _refuse(name, "has an empty name")
    if "\x00" in name:
        _refuse(name, "contains a NUL byte")
    if "\\" in name:
        _refuse(name, "contains a backslash")
    if name.startswith("/"):
        _refuse(name, "is an absolute path")
    if DRIVE_RE.match(name):
        _refuse(name, "starts with a drive letter")
    if any(unicodedata.category(char) == "Cc" for char in name):
        _refuse(name, "contains control characters")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        _refuse(name, "is not valid UTF-8")

    for part in name.split("/"):
        if part in ("", ".", ".."):
            _refuse(name, "has a %r path component" % part)


def _check_ratio(name, unpacked, packed, limits):
    if (unpacked > limits.min_ratio_bytes
            and unpacked > max(packed, 1) * limits.max_ratio):
        _refuse(name, "expands the archive past %g times its size"
                % limits.max_ratio)


def _file_mode(mode):
    return 0o755 if mode & 0o111 else 0o644


def _refuse(name, why):
    raise UnsafeArchive("member %r %s" % (name, why), member=name)
