"""HTTP basic auth against users in the ini, roles, and the ACL policy.

Users are configured as ``s01.users`` lines of ``name role hash`` where the
hash is an argon2id hash made with ``s01-worker hash-password``. Two roles
exist: ``manager`` may do everything, ``viewer`` may only read.

Verifying an argon2 hash costs tens of milliseconds on purpose; a client
that sends the same credentials with every call would pay that each time.
So a verified login is remembered for ``s01.auth.cache_seconds`` as a keyed
digest of the password (never the password itself) and compared in
constant time.

Browsers send basic auth credentials with every request to the site,
also with a form another site makes them post. So every request that is
not GET, HEAD, OPTIONS or TRACE must carry a CSRF token: the token lives
in a cookie (no session needed) and every form of the pages repeats it in
a hidden ``csrf_token`` field; a request without it is refused with 400.
The JSON-RPC endpoint is the one exception (see :mod:`s01.worker.rpc`).
"""
import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass

import argon2
from pyramid.authentication import extract_http_basic_credentials
from pyramid.authorization import ACLHelper
from pyramid.authorization import Authenticated
from pyramid.authorization import Everyone
from pyramid.csrf import CookieCSRFStoragePolicy
from pyramid.httpexceptions import HTTPForbidden
from pyramid.httpexceptions import HTTPUnauthorized
from pyramid.request import RequestLocalCache
from pyramid.view import forbidden_view_config

from s01.worker.exceptions import ConfigurationError
from s01.worker.settings import as_lines

log = logging.getLogger(__name__)

ROLES = ("manager", "viewer")
VIEW = "view"
MANAGE = "manage"


@dataclass(frozen=True)
class Identity:
    """Who made a request, and in which role."""

    name: str
    role: str

    @property
    def principals(self):
        return [Everyone, Authenticated, "user:%s" % self.name,
                "role:%s" % self.role]


class UserStore:
    """The configured users, with a short cache of verified logins."""

    def __init__(self, users, cache_seconds=60.0, hasher=None):
        self.hasher = hasher or argon2.PasswordHasher()
        self.users = dict(users)
        self.cache_seconds = cache_seconds
        self._key = secrets.token_bytes(32)
        self._verified = {}
        self._lock = threading.Lock()
        # Unknown names still pay for one hash check, so response times do
        # not tell which user names exist.
        self._dummy = self.hasher.hash(secrets.token_hex(8))

    @classmethod
    def from_settings(cls, settings):
        """Parse ``s01.users`` and refuse unusable entries at start-up."""
        hasher = argon2.PasswordHasher()
        users = {}
        for line in as_lines(settings.get("s01.users")):
            parts = line.split()
            if len(parts) != 3:
                raise ConfigurationError(
                    "s01.users: each line is 'name role hash'; a line "
                    "has %d fields" % len(parts))
            name, role, hashed = parts
            if role not in ROLES:
                raise ConfigurationError(
                    "s01.users: user %s has unknown role %r (use one of "
                    "%s)" % (name, role, ", ".join(ROLES)))
            if not hashed.startswith("$argon2"):
                raise ConfigurationError(
                    "s01.users: user %s needs an argon2 hash; make one "
                    "with 's01-worker hash-password'" % name)
            try:
                argon2.extract_parameters(hashed)
            except argon2.exceptions.InvalidHashError:
                raise ConfigurationError(
                    "s01.users: the hash of user %s is malformed" % name
                ) from None
            if _verifies(hasher, hashed, ""):
                raise ConfigurationError(
                    "s01.users: user %s has an empty password; an empty "
                    "password is refused" % name)
            users[name] = (role, hashed)
        if not users:
            raise ConfigurationError(
                "s01.users: no users are configured; the daemon never "
                "runs without authentication")
        log.info("users loaded count=%d", len(users))
        return cls(users, settings.get("s01.auth.cache_seconds", 60.0),
                   hasher)

    def verify(self, name, password):
        """Return the user's :class:`Identity` if the password is right."""
        entry = self.users.get(name)
        digest = hmac.new(self._key, password.encode("utf-8", "replace"),
                          hashlib.sha256).digest()

        # A login verified moments ago is checked against its digest.
        now = time.monotonic()
        with self._lock:
            cached = self._verified.get(name)
        if entry and cached and cached[1] > now:
            if hmac.compare_digest(cached[0], digest):
                return Identity(name, entry[0])

        # Otherwise pay for the real check, even for an unknown name.
        hashed = entry[1] if entry else self._dummy
        if not _verifies(self.hasher, hashed, password) or entry is None:
            return None
        with self._lock:
            self._verified[name] = (digest, now + self.cache_seconds)
        return Identity(name, entry[0])


class BasicAuthSecurityPolicy:
    """Identify callers by HTTP basic auth and authorize them by ACLs."""

    def __init__(self, users, realm):
        self.users = users
        self.realm = realm
        self.helper = ACLHelper()
        self._cache = RequestLocalCache(self._load_identity)

    def _load_identity(self, request):
        credentials = extract_http_basic_credentials(request)
        if credentials is None:
            return None
        return self.users.verify(credentials.username,
                                 credentials.password)

    def identity(self, request):
        return self._cache.get_or_create(request)

    def authenticated_userid(self, request):
        identity = self.identity(request)
        return identity.name if identity else None

    def permits(self, request, context, permission):
        identity = self.identity(request)
        principals = identity.principals if identity else [Everyone]
        return self.helper.permits(context, principals, permission)

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request, **kw):
        return [("WWW-Authenticate", 'Basic realm="%s"' % self.realm)]


def hash_password(password):
    """Return an argon2id hash of ``password`` for the ``s01.users`` key."""
    return argon2.PasswordHasher().hash(password)


def challenge(request):
    """A 401 response asking the client for basic auth credentials."""
    realm = request.registry.settings.get("s01.auth.realm", "s01.worker")
    response = HTTPUnauthorized(
        body="Authentication required.\n", content_type="text/plain")
    response.headers["WWW-Authenticate"] = 'Basic realm="%s"' % realm
    return response


@forbidden_view_config()
def forbidden_view(request):
    """Ask for credentials, or refuse a known user who lacks the right."""
    if request.identity is None:
        return challenge(request)
    return HTTPForbidden(
        body="Your role does not allow this.\n", content_type="text/plain")


def _verifies(hasher, hashed, password):
    try:
        return hasher.verify(hashed, password)
    except argon2.exceptions.VerificationError:
        return False
    except argon2.exceptions.InvalidHashError:
        # A malformed hash never lets anyone in; from_settings reports it.
        return False


def includeme(config):
    settings = config.get_settings()
    users = UserStore.from_settings(settings)
    config.registry.s01_users = users
    config.set_security_policy(
        BasicAuthSecurityPolicy(users, settings["s01.auth.realm"]))
    # Every view needs an authenticated caller unless it says otherwise.
    config.set_default_permission(VIEW)

    # Every unsafe request needs the CSRF token unless its view says
    # otherwise. The cookie is for the server only (httponly): our pages
    # put the token into their forms as they render them.
    config.set_csrf_storage_policy(CookieCSRFStoragePolicy(httponly=True))
    config.set_default_csrf_options(require_csrf=True)
    config.scan(__name__)
