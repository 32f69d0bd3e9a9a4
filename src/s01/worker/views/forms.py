"""Form fields as the JSON-RPC methods take them.

A form sends text only. These helpers turn it into the values the
methods' own checks (:mod:`s01.worker.packages.names`) expect, and refuse
what cannot be read with :class:`~s01.worker.exceptions.InvalidParams`
naming the field, as the methods do.
"""
from s01.worker.exceptions import InvalidParams

MAX_FIELD = 64 * 1024
MAX_LINES = 200


def text(post, name, default=None):
    """A stripped text field; ``default`` when it is missing or blank."""
    value = post.get(name, "")
    if len(value) > MAX_FIELD:
        raise InvalidParams("%s: longer than %d characters"
                            % (name, MAX_FIELD))
    value = value.strip()
    return value if value else default


def flag(post, name):
    """A checkbox: True if it was sent checked."""
    return post.get(name) in ("on", "true", "1", "yes")


def number(post, name):
    """An optional integer field; None when blank."""
    value = text(post, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidParams("%s: %r is not a whole number"
                            % (name, value[:40])) from None


def pairs(post, name):
    """A text area of ``name=value`` lines as a dict (None when blank).

    Blank lines and lines starting with ``#`` are skipped; the first
    ``=`` splits a line, so a value may hold more of them.
    """
    value = text(post, name)
    if value is None:
        return None
    lines = value.splitlines()
    if len(lines) > MAX_LINES:
        raise InvalidParams("%s: more than %d lines" % (name, MAX_LINES))
    found = {}
    for number_, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, item = line.partition("=")
        if not sep or not key.strip():
            raise InvalidParams("%s: line %d is not name=value: %r"
                                % (name, number_, line[:40]))
        found[key.strip()] = item.strip()
    return found or None
