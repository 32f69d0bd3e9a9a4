"""Spider packages for real: add, list, run, remove through JSON-RPC.

The demo package comes from a local index served by the tests, builds
against the shared eggs folder, and crawls the local Python docs.
"""
import json
import os
import re

import pytest

from s01.worker.interfaces import IPackageRegistry
from s01.worker.root import scrapyRoot

pytestmark = pytest.mark.slow

STEPS = ["fetch", "download", "unpack", "unpack", "unpack move",
         "bootstrap", "buildout", "list", "ensureScrapyPackage"]
TITLE = re.compile(r"<title>(.*?)</title>", re.S | re.I)


def squeeze(text):
    return " ".join(text.split())


def test_add_list_run_remove_the_demo_package(
        package_rpc, package_app, package_settings, docs_requests):
    py = scrapyRoot.defaultPythonVersion
    answer = package_rpc("addPackage", "s01.demo", "0.16.2", None, None,
                         False)
    assert answer["error"] is None, answer["steps"][-1]
    assert answer["status"] is True
    assert answer["spiders"] == ["python.org"]
    assert [s["step"] for s in answer["steps"]] == STEPS
    assert answer["steps"][0]["msg"] == {
        "pkgName": "s01.demo", "pkgVersion": "0.16.2",
        "pypiURL": package_settings["s01.index.url"]}
    assert answer["steps"][-1]["msg"] == "s01.demo 0.16.2"
    target = os.path.join(package_settings["s01.packages.dir"], "s01.demo",
                          "0.16.2", py)
    assert os.access(os.path.join(target, "bin", "crawl"), os.X_OK)
    assert not os.path.exists(os.path.join(target, ".s01-installing"))

    # A second add of the same release is the duplicate error.
    again = package_rpc("addPackage", "s01.demo", "0.16.2", None, None,
                        False)
    assert again["status"] is False
    assert again["error"] == "Duplicated Package found at: %s" % target

    assert package_rpc("listSpiders", "s01.demo", "0.16.2", py) == {
        "code": 0, "error": None, "spiders": ["python.org"]}
    assert package_rpc("listAllSpiders") == {"error": None, "pkgs": {
        "s01.demo": {"0.16.2": {py: {"code": 0, "error": None,
                                     "spiders": ["python.org"]}}}}}

    # One item per page crawled, titles as the pages have them.
    start = docs_requests.url + "/index.html"
    run = package_rpc("runSpider", "s01.demo", "0.16.2", py, "python.org",
                      {"start_url": start})
    assert run["code"] == 0, run["stderr"][-3000:]
    assert run["status"] is True
    assert run["stats"]["finish_reason"] == "finished"
    pages = docs_requests.html_paths()
    assert run["stats"]["item_scraped_count"] == len(pages) > 400

    # Remove it, and nothing is left.
    removed = package_rpc("removePackage", "s01.demo", "0.16.2", py)
    assert removed["status"] is True
    assert [s["step"] for s in removed["steps"]] == [
        "exists", "rmtree", "doRemoveScrapyPackage"]
    assert not os.path.exists(target)
    assert not os.path.exists(os.path.dirname(target))
    registry = package_app.registry.getUtility(IPackageRegistry)
    assert registry.list() == []
    assert package_rpc("listAllSpiders") == {"error": None, "pkgs": {}}


def test_a_run_writes_items_that_match_the_pages(
        package_rpc, docs_requests, tmp_path):
    py = scrapyRoot.defaultPythonVersion
    assert package_rpc("addPackage", "s01.demo", "0.17.0", py, None,
                       False)["status"] is True
    start = docs_requests.url + "/library/index.html"
    from s01.worker.interfaces import ISpiderRunner

    registry = package_rpc.testapp.app.registry
    record = registry.getUtility(IPackageRegistry).get(
        "s01.demo", "0.17.0", py)
    items_path = tmp_path / "items.jl"
    result = registry.getUtility(ISpiderRunner).run(
        record, "python.org", {"start_url": start},
        {"CLOSESPIDER_PAGECOUNT": 40},
        files={"items": str(items_path)})
    assert result.code == 0, result.stderr
    items = [json.loads(line) for line in items_path.read_text()
             .splitlines() if line.strip()]
    assert len(items) == result.stats["item_scraped_count"] >= 30
    for item in items[:15]:
        assert item["url"].startswith(docs_requests.url)
        page = docs_requests.page_file(item["url"]).read_text(
            errors="replace")
        title = TITLE.search(page).group(1)
        import html as html_module
        assert squeeze(item["title"]) == squeeze(
            html_module.unescape(title))


def test_a_second_version_reuses_the_shared_eggs(package_rpc):
    py = scrapyRoot.defaultPythonVersion
    first = package_rpc("addPackage", "s01.demo", "0.16.2", py, None, False)
    second = package_rpc("addPackage", "s01.demo", "0.17.0", py, None,
                         False)
    assert first["status"] is True and second["status"] is True
    buildout = next(s["msg"] for s in second["steps"]
                    if s["step"] == "buildout")
    # Nothing was fetched: every egg came from the shared folder.
    assert "Getting distribution" not in buildout, buildout[-3000:]
