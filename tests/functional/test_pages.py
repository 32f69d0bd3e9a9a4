"""The admin pages through webtest: auth, roles, CSRF, escaping, files.

Nothing here installs or runs a package: jobs are queued and moved by
the queue itself, and package records are written by the registry, so
these tests stay fast.
"""
import os
import re

import pytest
import transaction
import webtest

from s01.worker.interfaces import IJobQueue
from s01.worker.interfaces import IPackageRegistry
from s01.worker.interfaces import IProcessor
from s01.worker.packages.registry import PackageRegistry
from s01.worker.root import scrapyRoot
from tests.conftest import MGR
from tests.conftest import VIEWER

HOSTILE = '<img src=x onerror="alert(1)">'
PAGES = ["/", "/packages", "/jobs"]
OWNER = {"server": "testing", "instance": "t", "host": "h", "pid": 1}


@pytest.fixture
def file_dirs(tmp_path):
    return {"s01.spiders.log_dir": str(tmp_path / "logs"),
            "s01.spiders.items_dir": str(tmp_path / "items")}


@pytest.fixture
def pages_app(make_app, file_dirs, tmp_path):
    return make_app(**dict(file_dirs, **{
        "s01.packages.dir": str(tmp_path / "packages")}))


@pytest.fixture
def browser(pages_app):
    """A manager's webtest client (it keeps cookies, as a browser does)."""
    return webtest.TestApp(pages_app, extra_environ={
        "HTTP_AUTHORIZATION": MGR})


@pytest.fixture
def viewer(pages_app):
    return webtest.TestApp(pages_app, extra_environ={
        "HTTP_AUTHORIZATION": VIEWER})


@pytest.fixture
def queue(pages_app):
    return pages_app.registry.getUtility(IJobQueue)


def enqueue(queue, job_name="RunSpider", **params):
    tm = transaction.TransactionManager(explicit=True)
    with tm:
        return queue.enqueue(tm, job_name, params)


def run_to_end(queue, job_id, status="completed", output=None):
    """Claim the job and end it as ``status``."""
    tm = transaction.TransactionManager(explicit=True)
    job = queue.claim(tm, OWNER, 30, job_id=job_id)
    assert job is not None
    assert queue.finish(tm, job, status, output or {})
    return job


def add_record(app, server=None, **fields):
    """Write a package record as a finished install would."""
    registry = app.registry.getUtility(IPackageRegistry)
    if server is not None:
        registry = PackageRegistry(registry.store, registry.clock, server)
    record = {"pkgName": "s01.demo", "pkgVersion": "0.17.0",
              "pyVersion": scrapyRoot.defaultPythonVersion,
              "path": "/nowhere", "spiders": ["python.org"],
              "sha256": "0" * 64, "testing": False}
    record.update(fields)
    return registry.add(transaction.TransactionManager(explicit=True),
                        record)


def write_files(dirs, job_id, log=None, items=None):
    for key, suffix, text in (("s01.spiders.log_dir", ".log", log),
                              ("s01.spiders.items_dir", ".jl", items)):
        if text is not None:
            os.makedirs(dirs[key], exist_ok=True)
            with open(os.path.join(dirs[key], job_id + suffix), "w") as f:
                f.write(text)


# Who may see and do what.

@pytest.mark.parametrize("path", PAGES + [
    "/jobs/0123456789abcdef01234567", "/static/s01/s01.css",
    "/static/bootstrap/css/bootstrap.min.css", "/nothing/here"])
def test_every_page_asks_for_credentials(pages_app, path):
    response = webtest.TestApp(pages_app).get(path, status="*")
    assert response.status_int == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="s01.worker"'


@pytest.mark.parametrize("path", PAGES)
def test_a_viewer_sees_every_page_without_forms(viewer, path):
    response = viewer.get(path)
    assert response.status_int == 200
    assert "<form method=\"post\"" not in response.text
    assert "viewer" in response.html.find(id="user").text


@pytest.mark.parametrize("path, fields", [
    ("/@@processor", {"action": "start"}),
    ("/packages/@@add", {"pkgName": "s01.demo", "pkgVersion": "1.0"}),
    ("/packages/@@sync", {"sourceServerName": "other"}),
    ("/jobs/@@remove", {"stati": "completed"}),
])
def test_a_viewer_may_not_act_even_with_a_token(viewer, pages_app, queue,
                                                path, fields):
    viewer.set_cookie("csrf_token", "t" * 32)
    response = viewer.post(path, dict(fields, csrf_token="t" * 32),
                           status="*")
    assert response.status_int == 403
    assert not pages_app.registry.getUtility(IProcessor).is_alive()
    assert queue.count()["queued"] == 0


def test_a_viewer_may_not_cancel_or_retry(viewer, queue):
    job_id = enqueue(queue, spiderName="s")
    viewer.set_cookie("csrf_token", "t" * 32)
    for view in ("@@cancel", "@@retry"):
        response = viewer.post("/jobs/%s/%s" % (job_id, view),
                               {"csrf_token": "t" * 32}, status="*")
        assert response.status_int == 403
    assert queue.get(job_id)["status"] == "queued"


# CSRF.

def test_the_processor_form_starts_and_stops_it(browser, pages_app):
    processor = pages_app.registry.getUtility(IProcessor)
    page = browser.get("/")
    assert page.html.find(id="processor").text.split()[0] == "stopped"
    answer = page.forms["processor-form"].submit("action")
    assert answer.status_int == 303
    page = answer.follow()
    assert processor.is_alive()
    assert "The processor was started." in page.html.find(id="notice").text
    page = page.forms["processor-form"].submit("action").follow()
    assert not processor.is_alive()
    assert "stopped" in page.html.find(id="notice").text


def test_a_form_without_its_token_is_refused(browser, pages_app, queue):
    browser.get("/")
    for path, fields in (("/@@processor", {"action": "start"}),
                         ("/packages/@@add", {"pkgName": "s01.demo",
                                              "pkgVersion": "1.0"})):
        response = browser.post(path, fields, status="*")
        assert response.status_int == 400
        assert response.html.find(id="error-title").text == "Form refused"
    assert not pages_app.registry.getUtility(IProcessor).is_alive()
    assert queue.count()["queued"] == 0


def test_a_token_that_is_not_the_cookies_is_refused(browser, queue):
    page = browser.get("/packages")
    form = page.forms["add-form"]
    form["pkgName"] = "s01.demo"
    form["pkgVersion"] = "1.0"
    form["csrf_token"] = "f" * 32
    assert form.submit(status="*").status_int == 400
    browser.reset()
    form["csrf_token"] = page.forms["add-form"]["csrf_token"].value
    response = form.submit(status="*", extra_environ={
        "HTTP_AUTHORIZATION": MGR})
    assert response.status_int == 400
    assert queue.count()["queued"] == 0


def test_the_token_cookie_is_for_the_server_only(browser):
    browser.get("/packages")
    cookie = browser.cookiejar._cookies["localhost.local"]["/"]["csrf_token"]
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite") == "Lax"


def test_json_rpc_needs_no_token_and_forms_cannot_reach_it(testapp, rpc):
    assert rpc("isProcessing") is False
    response = testapp.post(
        "/++skin++Scrapy", {"jsonrpc": "2.0", "method": "startProcessor",
                            "id": 1},
        headers={"Authorization": MGR}, status="*")
    assert response.status_int == 415
    assert rpc("isProcessing") is False


# The dashboard.

def test_the_dashboard_shows_servers_counts_and_the_picture(
        browser, pages_app, queue):
    for status in ("completed", "completed", "error", "cancelled"):
        job_id = enqueue(queue, spiderName="s")
        run_to_end(queue, job_id, status)
    enqueue(queue, spiderName="s")
    processor = pages_app.registry.getUtility(IProcessor)
    processor.start()
    processor._write_heartbeat(processing=True)

    page = browser.get("/")
    counts = {a["data-status"]: int(a.find("span").text)
              for a in page.html.find(id="job-counts").find_all("a")}
    assert counts == {"queued": 1, "processing": 0, "completed": 2,
                      "error": 1, "cancelled": 1}
    assert page.html.find(id="mongo").text.strip() == "up"
    servers = page.html.find(id="servers").find("tbody").find_all("tr")
    assert len(servers) == 1
    assert "testing" in servers[0].text and "alive" in servers[0].text
    chart = page.html.find(id="jobs-chart")
    assert "2 completed, 1 failed, 1 cancelled" in chart.find("title").text
    assert len(chart.select("rect.bar-completed")) == 1
    assert chart.select("polyline.median")
    for window in ("1h", "6h", "7d"):
        assert browser.get("/", {"window": window}).html.find(id="jobs-chart")
    processor.stop()


def test_the_page_headers_keep_the_browser_careful(browser):
    response = browser.get("/jobs")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_bootstrap_and_our_files_are_served_here(browser):
    page = browser.get("/")
    links = [link["href"] for link in page.html.find_all("link")]
    assert all(href.startswith("http://localhost/static/")
               for href in links)
    for href in links:
        css = browser.get(href)
        assert css.content_type == "text/css"
    assert b"Bootstrap  v5.3" in browser.get(links[0]).body


def test_an_unknown_address_is_a_404_page(browser):
    response = browser.get("/nothing/here", status=404)
    assert response.html.find(id="error-title").text == "Not found"
    response = browser.post("/@@nothing", status=404)


# Packages.

def test_the_add_form_queues_an_add_package_job(browser, queue):
    page = browser.get("/packages")
    form = page.forms["add-form"]
    form["pkgName"] = "s01.demo"
    form["pkgVersion"] = "0.17.0"
    form["maxRetries"] = "2"
    answer = form.submit()
    assert answer.status_int == 303
    job_page = answer.follow()
    job_id = answer.location.rsplit("/", 1)[1]
    job = queue.get(job_id)
    assert (job["jobName"], job["pkgName"], job["pkgVersion"]) == (
        "AddPackage", "s01.demo", "0.17.0")
    assert job["testing"] is True and job["maxRetries"] == 2
    assert job["pyVersion"] == scrapyRoot.defaultPythonVersion
    assert job_page.html.find(id="job-status").text == "queued"


@pytest.mark.parametrize("name, version, message", [
    ("../etc", "1.0", "is not a valid package name"),
    ("s01.demo", "1.0/..", "is not a valid version"),
    (HOSTILE, "1.0", "is not a valid package name"),
])
def test_the_add_form_refuses_bad_names(browser, queue, name, version,
                                        message):
    form = browser.get("/packages").forms["add-form"]
    form["pkgName"] = name
    form["pkgVersion"] = version
    response = form.submit(status=400)
    assert message in response.html.find(id="form-error").text
    assert HOSTILE not in response.text
    assert response.forms["add-form"]["pkgName"].value == name
    assert queue.count()["queued"] == 0


def test_the_packages_page_shows_each_servers_installs_and_syncs(
        browser, pages_app, queue):
    add_record(pages_app)
    add_record(pages_app, server="other")
    add_record(pages_app, server="other", pkgVersion="0.16.2")
    page = browser.get("/packages")
    installed = page.html.find(id="installed").find("tbody").find_all("tr")
    assert [row.find("td").text for row in installed] == ["s01.demo"]
    lacking = page.html.select("table.missing tbody tr")
    assert [row.find_all("td")[1].text for row in lacking] == ["0.16.2"]

    # One version from the list, then a sync of everything.
    answer = page.forms[2].submit()
    assert queue.get(answer.location.rsplit("/", 1)[1])["pkgVersion"] == \
        "0.16.2"
    answer = page.forms["sync-1"].submit()
    job = queue.get(answer.location.rsplit("/", 1)[1])
    assert (job["jobName"], job["sourceServerName"]) == ("SyncPackages",
                                                         "other")


def test_the_run_form_queues_a_spider_with_args_and_settings(
        browser, pages_app, queue):
    record = add_record(pages_app)
    url = "/packages/s01.demo/0.17.0/%s" % record["pyVersion"]
    page = browser.get(url)
    form = page.forms["run-1"]
    form["args"] = "start_url=http://127.0.0.1:1/a=b\n\n# a note\nx = 1"
    form["settings"] = "CLOSESPIDER_PAGECOUNT=5\nDOWNLOAD_DELAY=0.5"
    answer = form.submit()
    job = queue.get(answer.location.rsplit("/", 1)[1])
    assert job["spiderName"] == "python.org"
    assert job["args"] == {"start_url": "http://127.0.0.1:1/a=b", "x": "1"}
    assert job["settings"] == {"CLOSESPIDER_PAGECOUNT": "5",
                               "DOWNLOAD_DELAY": "0.5"}


@pytest.mark.parametrize("field, text, message", [
    ("settings", "lower=1", "is not a Scrapy setting name"),
    ("settings", "LOG_FILE=/etc/passwd", "is set by s01.worker"),
    ("args", "no equals sign", "is not name=value"),
    ("args", "9bad=1", "is not an argument name"),
])
def test_the_run_form_refuses_bad_options(browser, pages_app, queue, field,
                                          text, message):
    record = add_record(pages_app)
    page = browser.get("/packages/s01.demo/0.17.0/%s" % record["pyVersion"])
    form = page.forms["run-1"]
    form[field] = text
    response = form.submit(status=400)
    assert message in response.html.find(id="form-error").text
    assert response.forms["run-1"][field].value == text
    assert queue.count()["queued"] == 0


def test_a_spider_the_package_lacks_is_refused(browser, pages_app, queue):
    record = add_record(pages_app)
    form = browser.get("/packages/s01.demo/0.17.0/%s"
                       % record["pyVersion"]).forms["run-1"]
    form["spiderName"].force_value("other")
    response = form.submit(status=400)
    assert "is not a spider of this package" in response.text
    assert queue.count()["queued"] == 0


def test_the_remove_form_removes_the_install(browser, pages_app):
    record = add_record(pages_app)
    page = browser.get("/packages/s01.demo/0.17.0/%s" % record["pyVersion"])
    page = page.forms["remove-form"].submit().follow()
    assert page.html.find(id="notice").text == "The package was removed."
    assert pages_app.registry.getUtility(IPackageRegistry).list() == []
    browser.get("/packages/s01.demo/0.17.0/%s" % record["pyVersion"],
                status=404)


def test_hostile_spider_and_package_data_is_escaped(browser, pages_app,
                                                    queue, file_dirs):
    add_record(pages_app, spiders=[HOSTILE], filename=HOSTILE)
    add_record(pages_app, server=HOSTILE, pkgVersion="0.1")
    job_id = enqueue(queue, pkgName="s01.demo", pkgVersion="0.17.0",
                     pyVersion=scrapyRoot.defaultPythonVersion,
                     spiderName=HOSTILE, args={"a": HOSTILE},
                     settings={"B": HOSTILE},
                     serverNames=["testing", HOSTILE])
    run_to_end(queue, job_id, "completed", {
        "code": 0, "stats": {HOSTILE: HOSTILE}, "finishReason": HOSTILE,
        "items": 1, "pages": 1, "stderr": HOSTILE})
    write_files(file_dirs, job_id, log="%s\n" % HOSTILE,
                items='{"%s": "%s"}\n' % ("<b>k</b>", HOSTILE.replace(
                    '"', '\\"')))

    for path in ("/packages", "/packages/s01.demo/0.17.0/%s"
                 % scrapyRoot.defaultPythonVersion, "/jobs",
                 "/jobs/%s" % job_id):
        text = browser.get(path).text
        assert HOSTILE not in text, path
        assert "<b>k</b>" not in text
        assert "&lt;img src=x onerror=" in text, path


# Jobs.

def test_the_jobs_page_pages_and_filters(browser, queue):
    ids = [enqueue(queue, pkgName="p%d" % (n % 2), spiderName="s%d" % n)
           for n in range(30)]
    page = browser.get("/jobs")
    rows = page.html.find(id="jobs-table").find("tbody").find_all("tr")
    assert len(rows) == 25
    assert rows[0].find("a")["title"] == ids[-1]
    page = page.click(linkid="older-page")
    rows = page.html.find(id="jobs-table").find("tbody").find_all("tr")
    assert [row.find("a")["title"] for row in rows] == ids[4::-1]
    assert page.html.find(id="older-page") is None
    assert page.html.find(id="newest-page")

    form = page.forms["filter-form"]
    form["pkgName"] = "p1"
    form["spiderName"] = "s7"
    page = form.submit()
    rows = page.html.find(id="jobs-table").find("tbody").find_all("tr")
    assert [row.find("a")["title"] for row in rows] == [ids[7]]
    page = browser.get("/jobs", {"status": "completed"})
    assert "No jobs." in page.html.find(id="jobs-table").text


def test_bad_list_parameters_fall_back_to_the_first_page(browser, queue):
    enqueue(queue, spiderName="s")
    for query in ({"before": "x"}, {"before": "-5"}, {"size": "1000"},
                  {"status": HOSTILE}):
        page = browser.get("/jobs", query)
        assert HOSTILE not in page.text


def test_cancel_then_retry_from_the_job_page(browser, queue):
    job_id = enqueue(queue, pkgName="s01.demo", pkgVersion="1.0",
                     pyVersion="3.11", spiderName="s", args={"a": "1"},
                     settings={}, testing=False)
    page = browser.get("/jobs/%s" % job_id)
    assert page.html.find(id="job-live")
    page = page.forms["cancel-form"].submit().follow()
    assert page.html.find(id="job-status").text == "cancelled"
    assert page.html.find(id="job-live") is None
    assert "Retry" in page.html.find(id="retry").text

    answer = page.forms["retry-form"].submit()
    new_id = answer.location.rsplit("/", 1)[1]
    assert new_id != job_id
    new = queue.get(new_id)
    old = queue.get(job_id)
    assert new["status"] == "queued" and new["rerunOf"] == job_id
    for name in ("jobName", "pkgName", "pkgVersion", "pyVersion",
                 "spiderName", "args", "settings", "testing",
                 "serverNames", "maxRetries", "retryDelay"):
        assert new[name] == old[name], name
    assert new["retryCounter"] == 0 and new["errors"] == []
    page = answer.follow()
    assert page.html.find(id="job-summary").find("a").text == job_id


def test_a_running_job_cannot_be_retried(browser, queue):
    job_id = enqueue(queue, spiderName="s")
    page = browser.get("/jobs/%s" % job_id)
    token = page.forms["cancel-form"]["csrf_token"].value
    response = browser.post("/jobs/%s/@@retry" % job_id,
                            {"csrf_token": token}, status=400)
    assert "only a finished job" in response.text


def test_the_remove_form_removes_finished_jobs(browser, queue):
    done = enqueue(queue, spiderName="s")
    run_to_end(queue, done)
    failed = enqueue(queue, spiderName="s")
    run_to_end(queue, failed, "error")
    waiting = enqueue(queue, spiderName="s")
    page = browser.get("/jobs").forms["remove-jobs"].submit().follow()
    assert page.html.find(id="removed").text == \
        "Removed 1 finished jobs."
    assert queue.count() == {"queued": 1, "processing": 0, "completed": 0,
                             "error": 1, "cancelled": 0}
    assert queue.get(waiting)["status"] == "queued"


def test_an_unknown_job_is_not_found(browser):
    browser.get("/jobs/0123456789abcdef01234567", status=404)
    browser.get("/jobs/not-an-id", status=404)


# A job's files.

def test_the_job_page_shows_progress_log_tail_and_first_items(
        browser, queue, file_dirs):
    job_id = enqueue(queue, spiderName="s")
    tm = transaction.TransactionManager(explicit=True)
    queue.claim(tm, OWNER, 30, job_id=job_id)
    log = "".join("line %d\n" % n for n in range(10)) + (
        "2024 [scrapy.extensions.logstats] INFO: Crawled 12 pages (at 6 "
        "pages/min), scraped 10 items (at 5 items/min)\n")
    items = "".join('{"n": %d, "title": "t%d"}\n' % (n, n)
                    for n in range(30))
    write_files(file_dirs, job_id, log=log, items=items)

    page = browser.get("/jobs/%s" % job_id)
    assert page.html.find(id="progress-pages").text == "12"
    assert page.html.find(id="progress-items").text == "10"
    assert page.html.find(id="log-tail").text == log
    table = page.html.find(id="items")
    assert [th.text for th in table.find_all("th")] == ["n", "title"]
    assert len(table.find("tbody").find_all("tr")) == 20
    live = page.html.find(id="job-live")
    assert int(live["data-log-offset"]) == len(log)

    # What the page's script polls: only what was written since.
    answer = browser.get(live["data-progress-url"],
                         {"offset": live["data-log-offset"]}).json
    assert answer == {"status": "processing", "finished": False,
                      "progress": {"pages": 12, "items": 10},
                      "log": {"text": "", "offset": len(log)}}
    with open(os.path.join(file_dirs["s01.spiders.log_dir"],
                           job_id + ".log"), "a") as f:
        f.write("more\nhalf a li")
    answer = browser.get(live["data-progress-url"],
                         {"offset": len(log)}).json
    assert answer["log"] == {"text": "more\n", "offset": len(log) + 5}


def test_the_log_and_items_are_served_whole(browser, queue, file_dirs):
    job_id = enqueue(queue, spiderName="s")
    write_files(file_dirs, job_id, log="<b>log</b>\n", items='{"a": 1}\n')
    log = browser.get("/jobs/%s/@@log" % job_id)
    assert log.body == b"<b>log</b>\n"
    assert log.content_type == "text/plain"
    assert log.headers["X-Content-Type-Options"] == "nosniff"
    items = browser.get("/jobs/%s/@@items" % job_id)
    assert items.body == b'{"a": 1}\n'
    assert items.headers["Content-Disposition"] == \
        'attachment; filename="%s.jl"' % job_id


@pytest.mark.parametrize("path", [
    "/jobs/{id}/@@log/../../../../etc/passwd",
    "/jobs/{id}/@@log/..%2F..%2F..%2Fetc%2Fpasswd",
    "/jobs/..%2F..%2F..%2Fetc%2Fpasswd/@@log",
    "/jobs/{id}%2F..%2F..%2F..%2Fetc%2Fpasswd/@@log",
    "/jobs/%2Fetc%2Fpasswd/@@items",
    "/jobs/{id}/@@items?path=/etc/passwd",
    "/static/s01/../../../../../../etc/passwd",
    "/static/s01/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/static/bootstrap/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
])
def test_no_url_leaves_the_file_dirs(browser, queue, file_dirs, path):
    job_id = enqueue(queue, spiderName="s")
    write_files(file_dirs, job_id, log="the log\n", items="{}\n")
    response = browser.get(path.format(id=job_id), status="*")
    assert b"root:" not in response.body
    assert response.status_int in (200, 404)
    if response.status_int == 200:
        assert response.body in (b"the log\n", b"{}\n")


def test_a_symlink_out_of_the_log_dir_is_not_followed(browser, queue,
                                                      file_dirs):
    job_id = enqueue(queue, spiderName="s")
    os.makedirs(file_dirs["s01.spiders.log_dir"])
    os.symlink("/etc/passwd", os.path.join(
        file_dirs["s01.spiders.log_dir"], job_id + ".log"))
    response = browser.get("/jobs/%s/@@log" % job_id, status=404)
    assert "is not a file of s01.spiders.log_dir" in response.text
    page = browser.get("/jobs/%s" % job_id)
    assert "root:" not in page.text


def test_unset_file_dirs_serve_nothing(make_app, tmp_path):
    app = make_app(**{"s01.spiders.log_dir": "",
                      "s01.spiders.items_dir": ""})
    browser = webtest.TestApp(app, extra_environ={
        "HTTP_AUTHORIZATION": MGR})
    queue = app.registry.getUtility(IJobQueue)
    job_id = enqueue(queue, spiderName="s")
    for view, key in (("@@log", "log_dir"), ("@@items", "items_dir")):
        response = browser.get("/jobs/%s/%s" % (job_id, view), status=404)
        assert "This daemon keeps no" in response.text
        assert "s01.spiders.%s is not set" % key in response.text
    page = browser.get("/jobs/%s" % job_id)
    assert "keeps no log files" in page.text
    assert browser.get("/jobs/%s/@@progress" % job_id).json["log"] is None


def test_a_missing_file_is_a_clear_404(browser, queue):
    job_id = enqueue(queue, spiderName="s")
    response = browser.get("/jobs/%s/@@log" % job_id, status=404)
    assert re.search(r"no log file of job %s on this server" % job_id,
                     response.text)


def test_a_failed_attempt_shows_its_error_and_the_next_one(browser, queue):
    job_id = enqueue(queue, spiderName="s")
    tm = transaction.TransactionManager(explicit=True)
    job = queue.claim(tm, OWNER, 30, job_id=job_id)
    assert queue.fail(tm, job, "Traceback:\n%s" % HOSTILE) == "queued"
    page = browser.get("/jobs/%s" % job_id)
    assert page.html.find(id="next-attempt").text.startswith("not before")
    assert HOSTILE in page.html.find("pre", class_="s01-error").text
    assert HOSTILE not in page.text
    assert "1 of 3" in page.html.find(id="attempts").text


def test_pages_say_when_the_database_is_away(make_app):
    app = make_app(**{"s01.mongo.uri": "mongodb://127.0.0.1:9",
                      "s01.mongo.timeout": "0.2"})
    browser = webtest.TestApp(app, extra_environ={
        "HTTP_AUTHORIZATION": MGR})
    page = browser.get("/")
    assert "unreachable" in page.html.find(id="mongo").text
    assert "MongoDB is unreachable" in page.text
    response = browser.get("/jobs", status=503)
    assert response.html.find(id="error-title").text == \
        "Database unavailable"
