"""s01.worker: a crawl daemon for Scrapy spider packages.

``main`` is the Paste app factory that ``pserve development.ini`` calls.
"""
import logging
import os
import signal
import threading
import warnings

# Pyramid 2.1 still imports pkg_resources (hence setuptools<82), which
# warns on every start; the warning is Pyramid's to fix, not our users'.
warnings.filterwarnings("ignore", "pkg_resources is deprecated",
                        UserWarning)

from pyramid.config import Configurator  # noqa: E402
from pyramid.settings import aslist  # noqa: E402

from s01.worker.root import root_factory  # noqa: E402
from s01.worker.root import scrapyRoot  # noqa: E402
from s01.worker.settings import parse_settings  # noqa: E402

log = logging.getLogger(__name__)

PYRAMID_DEFAULTS = {
    # One explicit transaction manager per request (no thread-local one
    # shared with the processor's threads).
    "tm.manager_hook": "pyramid_tm.explicit_manager",
    # A version conflict (a transient error) retries the whole request.
    "retry.attempts": "3",
}


def main(global_config, **raw_settings):
    """Build the WSGI application from the ini file's settings."""
    here = os.path.dirname(os.path.abspath(
        global_config.get("__file__", "development.ini")))
    for key, value in PYRAMID_DEFAULTS.items():
        raw_settings.setdefault(key, value)
    # Extra includes (testing.ini's test-only methods) build on our parts,
    # so they are included last rather than by Pyramid up front.
    extra_includes = aslist(raw_settings.pop("pyramid.includes", ""))
    settings = parse_settings(raw_settings, here)

    with Configurator(settings=settings, root_factory=root_factory) as config:
        # Transactions first, so every later part's writes join them.
        config.include("pyramid_retry")
        config.include("pyramid_tm")

        # Traversal with the ++skin++ namespace, then who may do what.
        config.include("s01.worker.traversal")
        config.include("s01.worker.security")

        # Storage and the processor, the packages and spiders it runs,
        # then the API and the pages that use them.
        config.include("s01.worker.mongo")
        config.include("s01.worker.jobs")
        config.include("s01.worker.packages")
        config.include("s01.worker.rpc")
        config.include("s01.worker.views")
        for name in extra_includes:
            config.include(name)
        scrapyRoot.configure(settings, config.registry)
        app = config.make_wsgi_app()

    install_shutdown_handler()
    log.info("daemon configured server=%s mongo=%s",
             settings["s01.server_name"], settings["s01.mongo.uri"])
    return app


def install_shutdown_handler():
    """Turn SIGTERM into a normal exit so atexit hooks stop our children.

    Python's default SIGTERM action ends the process at once, leaving the
    processor's spiders and the embedded Mongo server running.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def on_sigterm(signum, frame):
        log.info("shutdown signal=SIGTERM")
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
