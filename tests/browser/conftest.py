"""A real daemon and Debian's Chromium, driven through Playwright.

``admin_daemon`` (session) is a ``pserve`` of testing.ini on a free port
whose processor runs, installing from the local test index (the demo
package and the fake spider package) and keeping logs and items.
``chromium`` (session) is ``/usr/bin/chromium`` launched by Playwright:
no browser is ever downloaded. ``page`` is a manager's tab (basic auth
given as Playwright's ``http_credentials``) that leaves a screenshot
named after its test in ``test-output/browser/`` when the test ends.
"""
import os
import re
from pathlib import Path

import pytest

from tests.conftest import Daemon

CHROMIUM = os.environ.get("S01_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking"]
MANAGER = {"username": "mgr", "password": "mgrpw"}
VIEWER = {"username": "viewer", "password": "viewerpw"}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def screenshots(output_dir):
    folder = output_dir / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def admin_daemon(tmp_path_factory, package_index, install_settings):
    """A daemon that installs from the local index and runs spiders."""
    workdir = tmp_path_factory.mktemp("admin")
    settings = {
        "s01.processor.autostart": "true",
        "s01.processor.threads": "2",
        "s01.processor.poll_interval": "0.2",
        "s01.processor.lease_seconds": "6",
        "s01.processor.renew_interval": "0.5",
        "s01.processor.heartbeat_interval": "1",
        "s01.spiders.stop_grace": "2",
    }
    settings.update(install_settings(workdir, package_index.simple_url))
    daemon = Daemon(workdir, settings=settings).start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def chromium():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at %s (apt-get install chromium)"
                    % CHROMIUM)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_tab(chromium, admin_daemon, screenshots, request):
    """Open tabs on the daemon; each leaves a screenshot at the end."""
    contexts = []

    def open_tab(credentials=MANAGER, viewport=DESKTOP):
        context = chromium.new_context(
            base_url=admin_daemon.url, http_credentials=credentials,
            viewport=viewport)
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield open_tab
    name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
    for number, context in enumerate(contexts):
        for page in context.pages:
            suffix = "-%d" % number if number else ""
            shot(page, screenshots, "%s%s-end" % (name, suffix))
        context.close()


@pytest.fixture
def page(open_tab):
    """A manager's tab."""
    return open_tab()


def shot(page, screenshots, name):
    """Save a screenshot of the whole page now."""
    page.screenshot(path=str(screenshots / ("%s.png" % name)),
                    full_page=True)
