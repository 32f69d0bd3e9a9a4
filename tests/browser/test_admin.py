"""The admin pages in Chromium, against a real daemon.

Someone logs in, adds the demo package from the local index, runs its
spider against the local Python docs and watches the job page count
pages and items until the job completes, reads the items and the log,
cancels a spider that ignores SIGTERM, and sees a form without its CSRF
token refused. Every test leaves screenshots in test-output/browser/.
"""
import json
import os
import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.conftest import VIEWER
from tests.browser.conftest import shot
from tests.conftest import processes_naming

pytestmark = pytest.mark.browser

JOB_URL = re.compile(r"/jobs/([0-9a-f]{24})$")
FINISHED = ("completed", "error", "cancelled")
INSTALL_TIMEOUT = 600_000
RUN_TIMEOUT = 240_000


def add_package(page, name, version):
    """Fill in the add form; answer the id of the job it queued."""
    page.goto("/packages")
    page.fill("#add-name", name)
    page.fill("#add-version", version)
    page.uncheck("#add-testing")
    page.click("#add-submit")
    page.wait_for_url(JOB_URL)
    return JOB_URL.search(page.url).group(1)


def install(page, name, version):
    """Add a package and wait on its job page until it is installed."""
    add_package(page, name, version)
    expect(page.locator("#job-status")).to_have_text(
        re.compile("completed|error"), timeout=INSTALL_TIMEOUT)
    expect(page.locator("#job-status")).to_have_text("completed")
    page.click("#job-params a")
    expect(page.locator("#package-title")).to_contain_text(name)


def run_form(page, spider):
    """The run form of one spider on a package page."""
    return page.locator("form.run-form", has=page.locator(
        "input[name=spiderName][value='%s']" % spider))


def number(text):
    text = (text or "").strip()
    return int(text) if text.isdigit() else None


def test_a_visitor_without_credentials_gets_nothing(open_tab):
    page = open_tab(credentials=None)
    # Headless Chromium has no login prompt: a challenge ends the visit.
    with pytest.raises(Exception, match="ERR_INVALID_AUTH_CREDENTIALS"):
        page.goto("/")
    for path in ("/", "/jobs", "/static/s01/job.js"):
        response = page.request.get(path)
        assert response.status == 401
        assert "s01.worker" not in response.text()


def test_the_dashboard_shows_this_server(page, screenshots):
    page.goto("/")
    expect(page.locator("#this-server")).to_have_text("testing")
    expect(page.locator("#mongo")).to_contain_text("up")
    expect(page.locator("#processor")).to_contain_text("running")
    expect(page.locator("#jobs-chart")).to_be_visible()
    expect(page.locator("#user")).to_contain_text("manager")
    # Bootstrap's CSS came from the daemon and applies.
    navbar = page.locator("nav.navbar")
    assert navbar.evaluate("e => getComputedStyle(e).display") == "flex"
    shot(page, screenshots, "dashboard")


def test_a_viewer_sees_no_buttons(open_tab, screenshots):
    page = open_tab(credentials=VIEWER)
    for path in ("/", "/packages", "/jobs"):
        page.goto(path)
        expect(page.locator("#user")).to_contain_text("viewer")
        assert page.locator("form[method=post]").count() == 0, path
    shot(page, screenshots, "viewer-jobs")


def test_a_form_without_its_token_is_refused(page, admin_daemon,
                                             screenshots):
    page.goto("/")
    expect(page.locator("#processor-stop")).to_be_visible()

    # A form whose token was taken out.
    page.evaluate("document.querySelector("
                  "'#processor-form input[name=csrf_token]').remove()")
    page.click("#processor-stop")
    expect(page.locator("#error-title")).to_have_text("Form refused")
    shot(page, screenshots, "csrf-refused")

    # A page elsewhere that posts to the daemon: no token, no cookie.
    page.set_content(
        '<form id="f" method="post" action="%s/@@processor">'
        '<input name="action" value="stop"></form>' % admin_daemon.url)
    with page.expect_navigation():
        page.evaluate("document.getElementById('f').submit()")
    expect(page.locator("#error-title")).to_have_text("Form refused")

    page.goto("/")
    expect(page.locator("#processor")).to_contain_text("running")


@pytest.mark.parametrize("path", ["/", "/packages", "/jobs"])
def test_pages_fit_a_small_screen(open_tab, screenshots, path):
    page = open_tab(viewport=PHONE)
    page.goto(path)
    fits = page.evaluate("document.documentElement.scrollWidth <= "
                         "window.innerWidth")
    assert fits, path
    shot(page, screenshots, "phone-%s" % (path.strip("/") or "dashboard"))


@pytest.mark.slow
def test_add_the_demo_run_its_spider_and_watch_it(page, open_tab,
                                                  docs_server, screenshots):
    install(page, "s01.demo", "0.17.0")
    shot(page, screenshots, "demo-package")

    # Run python.org on the local docs, slowly enough to watch.
    form = run_form(page, "python.org")
    form.locator("textarea[name=args]").fill(
        "start_url=%s/index.html" % docs_server)
    form.locator("textarea[name=settings]").fill(
        "CLOSESPIDER_PAGECOUNT=60\nDOWNLOAD_DELAY=0.15")
    form.locator("button").click()
    page.wait_for_url(JOB_URL)
    job_url = page.url

    # Progress moves while it runs, without reloading the page.
    seen = []
    deadline = time.monotonic() + RUN_TIMEOUT / 1000
    while time.monotonic() < deadline:
        status = page.locator("#job-status").text_content()
        pages = number(page.locator("#progress-pages").text_content())
        seen.append((status, pages))
        if status == "processing" and pages:
            shot(page, screenshots, "demo-running")
        if status in FINISHED:
            break
        time.sleep(0.4)
    running = [n for status, n in seen if status == "processing"
               and n is not None]
    assert len(set(running)) >= 2, seen
    assert running == sorted(running)
    expect(page.locator("#job-status")).to_have_text("completed")
    assert page.url == job_url
    expect(page.locator("#finish-reason")).to_have_text(
        "closespider_pagecount")
    items = number(page.locator("#progress-items").text_content())
    assert items >= 50
    assert number(page.locator("#progress-pages").text_content()) >= \
        max(running)

    # The first items, then the whole feed.
    rows = page.locator("#items tbody tr")
    expect(rows).to_have_count(20)
    headers = page.locator("#items thead th").all_text_contents()
    assert headers == ["url", "title", "headings"]
    assert rows.first.locator("td").first.text_content().startswith(
        docs_server)
    feed = page.request.get(page.locator("#items-download")
                            .get_attribute("href"))
    lines = feed.text().splitlines()
    assert len(lines) == items
    assert all(json.loads(line)["url"].startswith(docs_server)
               for line in lines)
    expect(page.locator("#log-tail")).to_contain_text("Spider closed")
    expect(page.locator("#stats")).to_contain_text("item_scraped_count")
    shot(page, screenshots, "demo-completed")

    # The finished job's page on a phone.
    phone = open_tab(viewport=PHONE)
    phone.goto(job_url)
    expect(phone.locator("#items")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= "
                          "window.innerWidth")
    shot(phone, screenshots, "phone-job")

    # The whole log.
    page.click("#log-link")
    body = page.locator("body").inner_text()
    assert "Spider opened" in body and "Crawled" in body

    # The picture on the dashboard has the finished jobs.
    page.goto("/")
    assert page.locator("#jobs-chart rect.bar-completed").count() >= 1
    shot(page, screenshots, "dashboard-after-runs")


@pytest.mark.slow
def test_cancel_a_spider_that_ignores_sigterm(page, screenshots):
    install(page, "fake.spiders", "1.0")
    marker = "browser-cancel-%d" % os.getpid()
    form = run_form(page, "stubborn")
    form.locator("textarea[name=args]").fill("marker=%s" % marker)
    form.locator("button").click()
    page.wait_for_url(JOB_URL)
    expect(page.locator("#job-status")).to_have_text("processing",
                                                     timeout=60_000)
    deadline = time.monotonic() + 30
    while not processes_naming(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_naming(marker)
    page.reload()
    shot(page, screenshots, "stubborn-running")

    page.click("#cancel")
    expect(page.locator("#job-status")).to_have_text("cancelled",
                                                     timeout=30_000)
    deadline = time.monotonic() + 10
    while processes_naming(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_naming(marker)
    expect(page.locator("#retry")).to_have_text("Retry")
    shot(page, screenshots, "stubborn-cancelled")

    # The jobs page lists it among the cancelled ones.
    page.goto("/jobs?status=cancelled")
    expect(page.locator("#jobs-table tbody tr").first).to_contain_text(
        "stubborn")
