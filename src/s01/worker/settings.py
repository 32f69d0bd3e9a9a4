"""Turn the ini file's strings into typed settings, once, at start-up.

Every key carries the ``s01.`` prefix. A bad value stops the daemon with a
:class:`~s01.worker.exceptions.ConfigurationError` naming the key, so a
typo never turns into a surprise at three in the morning.
"""
import logging
import os
import socket
import sys

from s01.worker.exceptions import ConfigurationError

log = logging.getLogger(__name__)

DEFAULTS = {
    "s01.server_name": None,
    "s01.mongo.uri": "embedded",
    "s01.mongo.database": "s01worker",
    "s01.mongo.timeout": "3",
    "s01.mongo.embedded.dir": "var/mongo",
    "s01.mongo.embedded.log": "var/log/mongo.log",
    "s01.mongo.embedded.min_free_mb": "200",
    "s01.auth.realm": "s01.worker",
    "s01.auth.cache_seconds": "60",
    "s01.users": "",
    "s01.rpc.max_body_bytes": str(1024 * 1024),
    "s01.rpc.max_batch": "100",
    "s01.processor.autostart": "false",
    "s01.processor.threads": "4",
    "s01.processor.poll_interval": "0.5",
    "s01.processor.lease_seconds": "30",
    "s01.processor.renew_interval": "2",
    "s01.processor.reap_interval": "5",
    "s01.processor.heartbeat_interval": "5",
    "s01.processor.shutdown_grace": "10",
    "s01.jobs.max_retries": "3",
    "s01.jobs.retry_delay": "300",
    "s01.var.dir": "var",
    # Spider packages: where they come from and where they go. An empty
    # folder setting means "below s01.var.dir".
    "s01.index.url": "https://pypi.org/simple/",
    "s01.index.timeout": "30",
    "s01.packages.dir": "",
    "s01.packages.staging_dir": "",
    "s01.packages.max_download_bytes": str(100 * 1024 * 1024),
    "s01.packages.download_timeout": "300",
    "s01.packages.max_members": "10000",
    "s01.packages.max_unpacked_bytes": str(512 * 1024 * 1024),
    "s01.packages.max_ratio": "100",
    "s01.buildout.index": "https://pypi.org/simple/",
    "s01.buildout.find_links": "",
    "s01.buildout.eggs_dir": "",
    "s01.buildout.download_cache": "",
    "s01.buildout.wheelhouse": "",
    "s01.buildout.requirements": "zc.buildout==6.0.1 setuptools<82 wheel",
    "s01.timeouts.bootstrap": "300",
    "s01.timeouts.buildout": "900",
    "s01.timeouts.test": "300",
    "s01.timeouts.list": "60",
    # Spider runs: per-job log and items files, and what a job keeps. An
    # empty folder here keeps no files: runs use temporary ones, and the
    # pages serve none.
    "s01.spiders.log_dir": "",
    "s01.spiders.items_dir": "",
    "s01.spiders.stderr_limit": str(64 * 1024),
    "s01.spiders.stop_grace": "10",
    "s01.spiders.timeout": "0",
}

# Folder settings that default to a folder below s01.var.dir.
VAR_FOLDERS = {
    "s01.packages.dir": "packages",
    "s01.packages.staging_dir": "staging",
    "s01.buildout.eggs_dir": "eggs",
    "s01.buildout.download_cache": "downloads",
    "s01.buildout.wheelhouse": "wheelhouse",
}

# sys.platform names as the ini spells them in ``s01.pythonversions.*``;
# ``linux2`` is accepted for old configurations.
PLATFORM_ALIASES = {"linux": ("linux", "linux2")}


def as_bool(value, key):
    """Read a boolean setting, refusing anything that is not clearly one."""
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0", ""):
        return False
    raise ConfigurationError("%s: %r is not a boolean" % (key, value))


def as_number(value, key, kind=int, minimum=None):
    """Read a number setting, with an optional lower bound."""
    try:
        number = kind(str(value).strip())
    except ValueError:
        raise ConfigurationError(
            "%s: %r is not a %s" % (key, value, kind.__name__)
        ) from None
    if minimum is not None and number < minimum:
        raise ConfigurationError(
            "%s: %r is below the minimum %s" % (key, value, minimum)
        )
    return number


def as_lines(value):
    """Split a multi-line setting into its non-blank, stripped lines."""
    return [line.strip() for line in str(value or "").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def as_path(value, here):
    """Resolve a path setting against the ini file's folder."""
    if value == ":memory:":
        return value
    path = os.path.expanduser(str(value).strip())
    return os.path.normpath(os.path.join(here, path))


def parse_python_versions(settings, platform=None):
    """Read ``s01.pythonversions.<platform>`` lines of ``key path``."""
    platform = platform or sys.platform
    names = PLATFORM_ALIASES.get(platform, (platform,))
    versions = {}
    for name in names:
        key = "s01.pythonversions.%s" % name
        for line in as_lines(settings.get(key)):
            parts = line.split(None, 1)
            if len(parts) != 2:
                raise ConfigurationError(
                    "%s: %r is not 'key /path/to/python'" % (key, line)
                )
            versions[parts[0]] = parts[1]
    return versions


def parse_settings(raw, here=None):
    """Return a new settings dict with our keys typed and checked."""
    here = here or os.getcwd()
    settings = dict(DEFAULTS)
    settings.update(raw)

    # Identity of this daemon among the others sharing the database.
    name = (settings["s01.server_name"] or "").strip()
    settings["s01.server_name"] = name or socket.gethostname()

    # Storage.
    uri = str(settings["s01.mongo.uri"]).strip()
    if uri != "embedded" and not uri.startswith(("mongodb://",
                                                 "mongodb+srv://")):
        raise ConfigurationError(
            "s01.mongo.uri: %r is neither 'embedded' nor a mongodb:// URI"
            % uri
        )
    settings["s01.mongo.uri"] = uri
    settings["s01.mongo.timeout"] = as_number(
        settings["s01.mongo.timeout"], "s01.mongo.timeout", float, 0.1)
    settings["s01.mongo.embedded.min_free_mb"] = as_number(
        settings["s01.mongo.embedded.min_free_mb"],
        "s01.mongo.embedded.min_free_mb", int, 0)
    for key in ("s01.mongo.embedded.dir", "s01.mongo.embedded.log",
                "s01.var.dir"):
        settings[key] = as_path(settings[key], here)

    # Security and the RPC endpoint.
    settings["s01.auth.cache_seconds"] = as_number(
        settings["s01.auth.cache_seconds"], "s01.auth.cache_seconds",
        float, 0)
    settings["s01.rpc.max_body_bytes"] = as_number(
        settings["s01.rpc.max_body_bytes"], "s01.rpc.max_body_bytes",
        int, 1024)
    settings["s01.rpc.max_batch"] = as_number(
        settings["s01.rpc.max_batch"], "s01.rpc.max_batch", int, 1)

    # The processor.
    settings["s01.processor.autostart"] = as_bool(
        settings["s01.processor.autostart"], "s01.processor.autostart")
    settings["s01.processor.threads"] = as_number(
        settings["s01.processor.threads"], "s01.processor.threads", int, 1)
    for key in ("s01.processor.poll_interval", "s01.processor.lease_seconds",
                "s01.processor.renew_interval", "s01.processor.reap_interval",
                "s01.processor.heartbeat_interval",
                "s01.processor.shutdown_grace"):
        settings[key] = as_number(settings[key], key, float, 0.01)
    settings["s01.jobs.max_retries"] = as_number(
        settings["s01.jobs.max_retries"], "s01.jobs.max_retries", int, 1)
    delay = as_number(settings["s01.jobs.retry_delay"],
                      "s01.jobs.retry_delay", float, 0)
    settings["s01.jobs.retry_delay"] = int(delay) if delay.is_integer() \
        else delay
    if settings["s01.processor.renew_interval"] * 3 > \
            settings["s01.processor.lease_seconds"]:
        raise ConfigurationError(
            "s01.processor.renew_interval: renew at least three times a "
            "lease (s01.processor.lease_seconds)")

    settings["s01.python_versions"] = parse_python_versions(settings)
    parse_package_settings(settings, here)
    return settings


def parse_package_settings(settings, here):
    """The settings of installs and spider runs, typed in place."""
    for key, folder in VAR_FOLDERS.items():
        value = str(settings[key] or "").strip()
        settings[key] = as_path(value, here) if value else \
            os.path.join(settings["s01.var.dir"], folder)
    for key in ("s01.spiders.log_dir", "s01.spiders.items_dir"):
        value = str(settings[key] or "").strip()
        settings[key] = as_path(value, here) if value else None
    for key in ("s01.index.url", "s01.buildout.index"):
        url = str(settings[key]).strip()
        if not url.startswith(("http://", "https://", "file://")):
            raise ConfigurationError(
                "%s: %r is not an http(s):// or file:// URL" % (key, url))
        settings[key] = url
    settings["s01.buildout.find_links"] = [
        as_path(line, here) if "://" not in line else line
        for line in as_lines(settings["s01.buildout.find_links"])]
    settings["s01.buildout.requirements"] = str(
        settings["s01.buildout.requirements"]).split()
    for key in ("s01.packages.max_download_bytes", "s01.packages.max_members",
                "s01.packages.max_unpacked_bytes", "s01.packages.max_ratio",
                "s01.spiders.stderr_limit"):
        settings[key] = as_number(settings[key], key, int, 1)
    for key in ("s01.index.timeout", "s01.packages.download_timeout",
                "s01.timeouts.bootstrap", "s01.timeouts.buildout",
                "s01.timeouts.test", "s01.timeouts.list",
                "s01.spiders.stop_grace"):
        settings[key] = as_number(settings[key], key, float, 0.1)
    settings["s01.spiders.timeout"] = as_number(
        settings["s01.spiders.timeout"], "s01.spiders.timeout", float, 0)
