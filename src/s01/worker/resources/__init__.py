"""The traversal tree below :class:`~s01.worker.root.ScrapyRoot`.

``/packages/<name>/<version>/<python>`` is a :class:`ScrapyPackage`
(a record of the ``packages`` collection) and ``/jobs/<id>`` a
:class:`Job` (a ``remoteJobs`` document). Every node has ``__name__`` and
``__parent__``, so URLs can be made for it and it gets its ACL from the
root. A segment that is not a valid name, or names nothing, is a KeyError
and so a 404; no lookup ever sees an unchecked value.
"""
from s01.worker.exceptions import S01Error
from s01.worker.interfaces import IJobQueue
from s01.worker.interfaces import IPackageRegistry
from s01.worker.packages.names import check_job_id
from s01.worker.packages.names import check_package_name
from s01.worker.packages.names import check_version


class Folder:
    """A node that only leads further down."""

    def __init__(self, name, parent):
        self.__name__ = name
        self.__parent__ = parent

    @property
    def root(self):
        node = self
        while node.__parent__ is not None:
            node = node.__parent__
        return node

    def utility(self, iface):
        return self.root.registry.getUtility(iface)


class PackagesFolder(Folder):
    """``/packages``: one folder per package name."""

    def __getitem__(self, name):
        try:
            check_package_name(name)
        except S01Error:
            raise KeyError(name) from None
        return PackageFolder(name, self)


class PackageFolder(Folder):
    """``/packages/<name>``: one folder per version."""

    def __getitem__(self, version):
        try:
            if check_version(version) != version:
                raise KeyError(version)
        except S01Error:
            raise KeyError(version) from None
        return VersionFolder(version, self)


class VersionFolder(Folder):
    """``/packages/<name>/<version>``: one package per python key."""

    def __getitem__(self, py):
        registry = self.utility(IPackageRegistry)
        record = registry.get(self.__parent__.__name__, self.__name__, py)
        if record is None:
            raise KeyError(py)
        return ScrapyPackage(record, self)


class ScrapyPackage:
    """One installed package on this server, as its record says."""

    def __init__(self, record, parent):
        self.record = record
        self.__name__ = record["pyVersion"]
        self.__parent__ = parent

    def __getattr__(self, name):
        try:
            return self.record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self):
        return "<ScrapyPackage %s %s %s>" % (
            self.record["pkgName"], self.record["pkgVersion"],
            self.record["pyVersion"])


class JobsFolder(Folder):
    """``/jobs``: one node per job id."""

    def __getitem__(self, job_id):
        try:
            check_job_id(job_id)
            doc = self.utility(IJobQueue).get(job_id)
        except S01Error:
            raise KeyError(job_id) from None
        return Job(doc, self)


class Job:
    """One job, as its ``remoteJobs`` document says."""

    def __init__(self, doc, parent):
        self.doc = doc
        self.__name__ = str(doc["_id"])
        self.__parent__ = parent

    def __repr__(self):
        return "<Job %s %s %s>" % (self.__name__, self.doc.get("jobName"),
                                   self.doc.get("status"))
