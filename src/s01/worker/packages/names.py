"""Check outside values before any path or process sees them.

Every value that reaches us from a client (a package name, a version, a
python key, a spider name, a job id, a digest) passes one of these checks
first. A check either returns the value in the form we use from then on, or
raises :class:`~s01.worker.exceptions.InvalidParams` (JSON-RPC -32602) whose
message names the argument and says why it was refused. The checks are
strict on purpose: a real package never needs what they refuse.

:func:`safe_join` is the second line of defence: it builds a path below a
base folder and refuses, with
:class:`~s01.worker.exceptions.DirectoryTraversal`, any result that would
resolve outside it.
"""
import math
import os
import re
import unicodedata

import packaging.version

from s01.worker.exceptions import ConfigurationError
from s01.worker.exceptions import DirectoryTraversal
from s01.worker.exceptions import InvalidParams

# PEP 508 names. re.ASCII matters: with IGNORECASE alone, [A-Z] also
# matches the Kelvin sign and the long s.
PACKAGE_NAME_RE = re.compile(
    r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE | re.ASCII)
PACKAGE_NAME_RULE = ("PEP 508: letters, digits, '.', '_', '-', starting and "
                     "ending with a letter or digit")
MAX_PACKAGE_NAME = 100
MAX_VERSION = 64
MAX_SPIDER_NAME = 200

PYTHON_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*", re.ASCII)
JOB_ID_RE = re.compile(r"[0-9a-f]{24}", re.IGNORECASE | re.ASCII)
MD5_RE = re.compile(r"[0-9a-f]{32}", re.IGNORECASE | re.ASCII)

MAX_SERVER_NAME = 200
MAX_RUN_OPTIONS = 100
MAX_RUN_VALUE = 4096
SPIDER_ARG_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
SETTING_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*", re.ASCII)
# Settings that say where a run's files go: the runner owns them.
RUNNER_SETTINGS = frozenset({"LOG_FILE", "LOG_STDOUT", "FEEDS", "FEED_URI",
                             "FEED_FORMAT"})

# Scrapy setting values are JSON; what a job document can store of it.
MAX_SETTING_DEPTH = 10
INT64 = 2 ** 63

# Shown values are cut short so a hostile megabyte never reaches a log.
SHOWN_CHARS = 60


def check_package_name(value, field="pkgName"):
    """Return ``value`` if it is a PEP 508 package name."""
    _check_text(value, field, MAX_PACKAGE_NAME)
    if not PACKAGE_NAME_RE.fullmatch(value):
        _refuse(field, value, "is not a valid package name (%s)"
                % PACKAGE_NAME_RULE)
    return value


def check_version(value, field="pkgVersion"):
    """Return the PEP 440 normal form of the version ``value``."""
    _check_text(value, field, MAX_VERSION)
    if "/" in value or "\\" in value or "\x00" in value or ".." in value:
        _refuse(field, value, "is not a valid version (no '/', '\\', NUL "
                "or '..')")

    try:
        version = packaging.version.Version(value)
    except packaging.version.InvalidVersion:
        _refuse(field, value, "is not a valid version (PEP 440)")
    return str(version)


def check_python_key(value, default_key, configured_keys, field="pyVersion"):
    """Return the python key to use: ``value``, or the default for None."""
    if value is None:
        return default_key
    if not isinstance(value, str):
        _refuse(field, value, "is not a string")

    known = [default_key] + sorted(k for k in configured_keys
                                   if k != default_key)
    if value not in known:
        _refuse(field, value, "is not a configured python (known: %s)"
                % ", ".join(repr(k) for k in known))

    # Keys added at run time (the contract lets code add one to
    # scrapyRoot.pythonVersions) skipped the start-up check of the ini's.
    if not PYTHON_KEY_RE.fullmatch(value) or ".." in value:
        _refuse(field, value, "is configured but not usable as a folder "
                "name")
    return value


def check_python_key_setting(key):
    """Return the configured python ``key`` if it is safe as a path part."""
    if (not isinstance(key, str) or not PYTHON_KEY_RE.fullmatch(key)
            or ".." in key):
        raise ConfigurationError(
            "s01.pythonversions: key %s is not usable as a folder name "
            "(letters, digits, '.', '_', '+', '-', starting with a letter "
            "or digit, no '..')" % _shown(key))
    return key


def check_spider_name(value, field="spiderName"):
    """Return ``value`` if it is usable as a spider name argument."""
    _check_text(value, field, MAX_SPIDER_NAME)
    if value in (".", ".."):
        _refuse(field, value, "is not a spider name")
    if "/" in value or "\\" in value:
        _refuse(field, value, "must not contain '/' or '\\'")
    if any(unicodedata.category(char) == "Cc" for char in value):
        _refuse(field, value, "must not contain control characters")

    # The name is a program argument: a leading '-' would read as an option.
    if value.startswith("-"):
        _refuse(field, value, "must not start with '-'")
    return value


def check_job_id(value, field="jobid"):
    """Return ``value`` in lower case if it is a job id (ObjectId text)."""
    if not isinstance(value, str) or not JOB_ID_RE.fullmatch(value):
        _refuse(field, value, "is not a job id (24 hexadecimal digits)")
    return value.lower()


def check_md5(value, field="md5Digest"):
    """Return None, or the md5 hex digest ``value`` in lower case."""
    if value is None:
        return None
    if not isinstance(value, str) or not MD5_RE.fullmatch(value):
        _refuse(field, value, "is not an md5 digest (32 hexadecimal digits "
                "or null)")
    return value.lower()


def check_server_name(value, field="serverName"):
    """Return ``value`` if it can be a server name (or None for any)."""
    if value is None:
        return None
    _check_text(value, field, MAX_SERVER_NAME)
    if any(unicodedata.category(char) == "Cc" for char in value):
        _refuse(field, value, "must not contain control characters")
    return value


def check_spider_args(value, field="args"):
    """Return spider arguments: an object of names to text or numbers."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        _refuse(field, value, "must be an object of name: value")
    if len(value) > MAX_RUN_OPTIONS:
        _refuse(field, value, "has more than %d entries" % MAX_RUN_OPTIONS)
    checked = {}
    for name, item in value.items():
        if not SPIDER_ARG_RE.fullmatch(name):
            _refuse(field, name, "is not an argument name (a letter or '_' "
                    "then letters, digits, '_')")
        if isinstance(item, bool) or not isinstance(item, (str, int,
                                                          float)):
            _refuse("%s.%s" % (field, name), item,
                    "must be text or a number")
        if isinstance(item, float) and not math.isfinite(item):
            _refuse("%s.%s" % (field, name), item, "is not a finite number")
        text = str(item)
        if len(text) > MAX_RUN_VALUE or "\x00" in text:
            _refuse("%s.%s" % (field, name), item,
                    "is longer than %d characters or holds NUL"
                    % MAX_RUN_VALUE)
        _check_unicode(text, "%s.%s" % (field, name))
        checked[name] = text
    return checked


def check_scrapy_settings(value, field="settings"):
    """Return Scrapy settings: an object of UPPER_CASE names to JSON."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        _refuse(field, value, "must be an object of NAME: value")
    if len(value) > MAX_RUN_OPTIONS:
        _refuse(field, value, "has more than %d entries" % MAX_RUN_OPTIONS)
    for name, item in value.items():
        if not SETTING_NAME_RE.fullmatch(name):
            _refuse(field, name, "is not a Scrapy setting name "
                    "(UPPER_CASE letters, digits, '_')")
        if name in RUNNER_SETTINGS:
            _refuse(field, name, "is set by s01.worker for each run")
        _check_json(item, "%s.%s" % (field, name), MAX_SETTING_DEPTH)
        if len(repr(item)) > MAX_RUN_VALUE:
            _refuse("%s.%s" % (field, name), item,
                    "is longer than %d characters" % MAX_RUN_VALUE)
    return dict(value)


def check_count(value, field, minimum, maximum):
    """Return None or an integer in [minimum, maximum]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or \
            not minimum <= value <= maximum:
        _refuse(field, value, "must be an integer from %d to %d"
                % (minimum, maximum))
    return value


def safe_join(base, *parts):
    """Join ``parts`` to ``base``; the real result must lie below ``base``.

    Both sides are resolved with :func:`os.path.realpath`, so a symlink
    that leads out counts as leaving. The result is the resolved path; it
    is never ``base`` itself when parts are given, so a caller that removes
    the result cannot remove the base.
    """
    try:
        root = os.path.realpath(base)
        path = os.path.realpath(os.path.join(root, *parts))
    except ValueError as exc:
        # A NUL byte: os.lstat refuses it inside realpath.
        raise DirectoryTraversal(
            "path parts %r below %s: %s" % (parts, base, exc)) from exc

    inside = os.path.commonpath([root, path]) == root
    if not inside or (parts and path == root):
        raise DirectoryTraversal(
            "path parts %r lead outside %s" % (parts, base))
    return path


def _check_text(value, field, max_chars):
    """Refuse anything that is not a non-empty string of bounded length."""
    if not isinstance(value, str):
        _refuse(field, value, "is not a string")
    if not value:
        _refuse(field, value, "must not be empty")
    if len(value) > max_chars:
        _refuse(field, value, "is longer than %d characters" % max_chars)
    _check_unicode(value, field)


def _check_unicode(text, field):
    """Refuse text UTF-8 cannot hold (a lone surrogate from a \\ud800
    escape): no document, path or program argument could."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        _refuse(field, text, "is not valid Unicode text")


def _check_json(value, field, depth):
    """Refuse what a job document cannot store of a JSON value: nesting
    deeper than ``depth``, integers beyond 64 bits, text UTF-8 cannot
    hold, object keys with NUL or a leading '$'."""
    if depth < 0:
        _refuse(field, value, "is nested more than %d levels deep"
                % MAX_SETTING_DEPTH)
    if value is None or isinstance(value, (bool, float)):
        return
    if isinstance(value, int):
        if not -INT64 <= value < INT64:
            _refuse(field, value, "is outside the 64-bit integer range")
    elif isinstance(value, str):
        _check_unicode(value, field)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, field, depth - 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(key, field)
            if "\x00" in key or key.startswith("$"):
                _refuse(field, key, "is not a usable key (no NUL, no "
                        "leading '$')")
            _check_json(item, "%s.%s" % (field, key), depth - 1)
    else:
        _refuse(field, value, "is not a JSON value")


def _refuse(field, value, why):
    raise InvalidParams("%s: %s %s" % (field, _shown(value), why))


def _shown(value):
    """A short repr of an untrusted value, for a message."""
    text = repr(value)
    if len(text) > SHOWN_CHARS:
        text = text[:SHOWN_CHARS] + "..."
    return text
