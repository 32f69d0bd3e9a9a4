"""The errors s01.worker raises, one base and its family.

Each error carries the JSON-RPC ``code`` it maps to and a ``message``; the
RPC layer turns them into error objects in one place (``rpc/errors.py``).
Codes between -32768 and -32000 are the protocol's own; application errors
use positive codes in the 1000s so clients can tell them apart.
"""
import transaction.interfaces


class S01Error(Exception):
    """Base of every error s01.worker raises on purpose."""

    code = -32000
    message = "Server error"

    def __init__(self, detail=None, data=None):
        self.detail = detail
        self.data = data
        super().__init__(detail or self.message)

    def __str__(self):
        return str(self.detail) if self.detail else self.message


class ConfigurationError(S01Error):
    """Raised at start-up when a setting is missing or malformed."""


class InvalidParams(S01Error):
    """Raised if a method's arguments are missing, extra or malformed."""

    code = -32602
    message = "Invalid params"


class Forbidden(S01Error):
    """Raised if the caller's role does not allow the method."""

    code = -32001
    message = "Forbidden"


class StoreUnavailable(S01Error):
    """Raised if MongoDB cannot be reached within the configured time."""

    code = -32002
    message = "Database unavailable"


class ConflictError(S01Error, transaction.interfaces.TransientError):
    """Raised if a document changed since it was read (stale _version).

    It is a transient error: pyramid_tm retries the whole request.
    """

    code = -32003
    message = "Conflicting update"


class WriteConflict(ConflictError):
    """Raised if a commit kept meeting concurrent MongoDB transactions.

    Unlike its base, the documents it names still match: the same change
    may succeed when tried again.
    """


class PackageError(S01Error):
    """Base of errors about spider packages."""

    code = 1000
    message = "Package error"


class PackageNotFound(PackageError):
    """Raised if the index or the registry has no such package release."""

    code = 1001
    message = "Package not found"


class DuplicatedPackage(PackageError):
    """Raised if the package release is already installed here."""

    code = 1002
    message = "Duplicated Package"


class IndexUnavailable(PackageError):
    """Raised if the package index cannot be reached or answers badly."""

    code = 1003
    message = "Package index unavailable"


class DownloadError(PackageError):
    """Raised if a download is cut short, too large or fails its digest."""

    code = 1004
    message = "Download failed"


class UnsafeArchive(PackageError):
    """Raised if an archive holds a member that must not be unpacked."""

    code = 1005
    message = "Unsafe archive"

    def __init__(self, detail=None, member=None):
        self.member = member
        super().__init__(detail, data={"member": member} if member else None)


class DirectoryTraversal(PackageError):
    """Raised if a path built from outside values would leave its base."""

    code = 1007
    message = "Directory traversal"


class StepFailed(PackageError):
    """Raised if an install step (an external program) fails or times out."""

    code = 1006
    message = "Install step failed"

    def __init__(self, step, detail):
        self.step = step
        super().__init__(detail, data={"step": step})


class JobError(S01Error):
    """Base of errors about jobs."""

    code = 2000
    message = "Job error"


class JobFailed(JobError):
    """Raised by a job handler if an attempt failed.

    ``permanent`` failures (bad parameters, a package already installed)
    end the job at once; the others are retried while attempts remain.
    ``output`` is stored as the job's output.
    """

    code = 2002
    message = "Job failed"

    def __init__(self, detail, output=None, permanent=False):
        self.output = output
        self.permanent = permanent
        super().__init__(detail)


class JobNotFound(JobError):
    """Raised if no job has the given id."""

    code = 2001
    message = "Job not found"
