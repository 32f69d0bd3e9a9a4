"""The ``packages`` collection: which spider packages each daemon has.

One ``ScrapyPackage`` record per install of ``(pkgName, pkgVersion,
pyVersion)`` on one server, unique on those four. A record is written
only once its install is complete (its ``bin/list`` answered) and removed
before its folder is, so a record always stands for a working install.
"""
import logging

from zope.interface import implementer

from s01.worker.interfaces import IPackageRegistry
from s01.worker.mongo.datamanager import atomic

log = logging.getLogger(__name__)

COLLECTION = "packages"
KEY = ("serverName", "pkgName", "pkgVersion", "pyVersion")


@implementer(IPackageRegistry)
class PackageRegistry:
    """Records of installed packages, for this and the other servers."""

    def __init__(self, store, clock, server_name):
        self.store = store
        self.clock = clock
        self.server_name = server_name
        self.records = store.db[COLLECTION]

    def ensure_indexes(self):
        self.records.create_index([(name, 1) for name in KEY], unique=True,
                                  name="install")

    def get(self, name, version, py, server_name=None):
        """The record of one install, or None."""
        return self.records.find_one({
            "serverName": server_name or self.server_name,
            "pkgName": name, "pkgVersion": version, "pyVersion": py})

    def list(self, server_name=None):
        """Every record of one server (default: this one), sorted."""
        query = {"serverName": server_name or self.server_name}
        return list(self.records.find(query).sort(
            [("pkgName", 1), ("pkgVersion", 1), ("pyVersion", 1)]))

    def server_names(self):
        """The names of the servers that have packages recorded."""
        return sorted(self.records.distinct("serverName"))

    def add(self, tm, fields):
        """Record a finished install, in its own transaction."""
        now = self.clock.now()
        record = dict(fields, serverName=self.server_name, installed=now,
                      modified=now)
        record["__name__"] = "/".join(
            (record["pkgName"], record["pkgVersion"], record["pyVersion"]))
        with atomic(tm):
            stored = self.store.data_manager(tm).insert(COLLECTION, record)
        log.info("package recorded name=%s version=%s py=%s server=%s",
                 record["pkgName"], record["pkgVersion"],
                 record["pyVersion"], self.server_name)
        return stored

    def remove(self, tm, record):
        """Remove a record, in its own transaction."""
        with atomic(tm):
            self.store.data_manager(tm).delete(COLLECTION, record["_id"])
        log.info("package record removed name=%s version=%s py=%s",
                 record["pkgName"], record["pkgVersion"],
                 record["pyVersion"])

    def missing(self, source_server_name=None):
        """What another server (default: any other) has and this lacks.

        A list of ``{serverName, pkgName, pkgVersion, pyVersion}``, one an
        install this server lacks, sorted.
        """
        ours = {_key(r) for r in self.list()}
        query = {"serverName": {"$ne": self.server_name}}
        if source_server_name is not None:
            query = {"serverName": source_server_name}
        missing = {}
        for record in self.records.find(query):
            key = _key(record)
            if key not in ours and key not in missing:
                missing[key] = {"serverName": record["serverName"],
                                "pkgName": key[0], "pkgVersion": key[1],
                                "pyVersion": key[2]}
        return [missing[key] for key in sorted(missing)]


def _key(record):
    return (record["pkgName"], record["pkgVersion"], record["pyVersion"])
