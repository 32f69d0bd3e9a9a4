"""A job's log and items files, as the pages read and serve them.

Where the files are is decided once, by :func:`job_files` from the job's
id (24 hex digits, checked) and the ``s01.spiders.log_dir`` and
``s01.spiders.items_dir`` settings; nothing from a URL ever becomes part
of a path. The result is checked again with :func:`safe_join`, so a file
that is a symlink leading out of its folder is not served either. An
empty folder setting means the daemon keeps no such files: nothing is
served, and the pages say why.

Known limitations: a job that ran on another daemon has its files on
that daemon's disk; the pages of this one find none.
"""
import json
import os
import re

from s01.worker.exceptions import DirectoryTraversal
from s01.worker.packages.jobs import job_files
from s01.worker.packages.names import check_job_id
from s01.worker.packages.names import safe_join

# What one answer of the log tail holds at most.
TAIL_BYTES = 64 * 1024
# How far back from the end to look for Scrapy's latest counts.
PROGRESS_SEARCH = (64 * 1024, 1024 * 1024)
# Scrapy's LogStats line: "Crawled 12 pages (at 4 pages/min), scraped 10
# items (at 3 items/min)".
LOGSTATS_RE = re.compile(
    rb"Crawled (\d+) pages \(at [^)]*\), scraped (\d+) items")
ITEM_ROWS = 20
ITEM_BYTES = 1024 * 1024
ITEM_COLUMNS = 12
CELL_CHARS = 300

SETTINGS = {"log": "s01.spiders.log_dir", "items": "s01.spiders.items_dir"}


class FileUnavailable(Exception):
    """Raised if a job's file is not kept or not here; says which."""


class JobFiles:
    """The log and items file of one job."""

    def __init__(self, settings, job_id):
        self.settings = settings
        self.job_id = check_job_id(job_id)
        self.names = job_files(settings, self.job_id)

    def kept(self, kind):
        """Whether this daemon keeps files of ``kind`` (log or items)."""
        return bool(self.settings.get(SETTINGS[kind]))

    def path(self, kind):
        """The existing file of ``kind``, or raise FileUnavailable."""
        folder = self.settings.get(SETTINGS[kind])
        if not folder or not self.names.get(kind):
            raise FileUnavailable(
                "This daemon keeps no %s files: %s is not set."
                % (kind, SETTINGS[kind]))
        try:
            path = safe_join(folder, os.path.basename(self.names[kind]))
        except DirectoryTraversal:
            # A symlink out of the folder: never followed.
            raise FileUnavailable(
                "The %s file of job %s is not a file of %s."
                % (kind, self.job_id, SETTINGS[kind])) from None
        if not os.path.isfile(path):
            raise FileUnavailable("There is no %s file of job %s on this "
                                  "server." % (kind, self.job_id))
        return path

    def find(self, kind):
        """The existing file of ``kind``, or None."""
        try:
            return self.path(kind)
        except FileUnavailable:
            return None


def read_tail(path, offset=None, limit=TAIL_BYTES):
    """Read whole lines of a growing text file.

    Without ``offset``, the last lines within ``limit`` bytes; with it,
    the lines after that byte position (at most ``limit`` bytes of
    them). Returns ``(text, offset)``: the offset to ask from next time.
    A file shorter than ``offset`` was replaced, so it is read anew.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if offset is not None and offset > size:
            offset = None
        start = max(0, size - limit) if offset is None else offset
        f.seek(start)
        data = f.read(min(limit, size - start))

    # A tail that starts inside a line drops that part line.
    if offset is None and start > 0:
        cut = data.find(b"\n")
        data = data[cut + 1:] if cut >= 0 else b""
        start = size - len(data)
    # The last line may still be being written: leave it for next time,
    # unless one line fills the whole answer.
    end = data.rfind(b"\n")
    if end >= 0:
        data = data[:end + 1]
    elif len(data) < limit:
        data = b""
    return data.decode("utf-8", "replace"), start + len(data)


def progress_of(path):
    """Pages and items so far, from Scrapy's latest counts in the log.

    Returns ``{"pages", "items"}``, or None if the log has no counts yet.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        for span in PROGRESS_SEARCH:
            f.seek(max(0, size - span))
            found = LOGSTATS_RE.findall(f.read(span))
            if found:
                pages, items = found[-1]
                return {"pages": int(pages), "items": int(items)}
            if span >= size:
                break
    return None


def first_items(path, rows=ITEM_ROWS, limit=ITEM_BYTES):
    """The first items of a JSON-lines feed, as a table.

    Returns ``(columns, rows, more)``: the keys of the first items (in
    the order they appear, at most ``ITEM_COLUMNS``), one list of cell
    texts per item, and whether the feed holds more than shown. A line
    that is not a JSON object is one cell of raw text.
    """
    items = []
    more = False
    with open(path, "rb") as f:
        data = f.read(limit)
        more = bool(f.read(1))
    lines = data.split(b"\n")
    if more or not data.endswith(b"\n"):
        # The last line may be cut short by the limit or still written.
        lines = lines[:-1]
    for line in lines:
        if not line.strip():
            continue
        if len(items) == rows:
            more = True
            break
        try:
            item = json.loads(line)
        except ValueError:
            item = line.decode("utf-8", "replace")
        items.append(item)

    columns = []
    for item in items:
        for key in item if isinstance(item, dict) else ():
            if key not in columns and len(columns) < ITEM_COLUMNS:
                columns.append(key)
    table = []
    for item in items:
        if isinstance(item, dict):
            table.append([cell_text(item.get(key, "")) for key in columns])
        else:
            table.append([cell_text(item)])
    return columns, table, more


def cell_text(value, limit=CELL_CHARS):
    """A value as one short line of text (JSON for anything not text)."""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str)
    if len(value) > limit:
        value = value[:limit - 1] + "\u2026"
    return value
