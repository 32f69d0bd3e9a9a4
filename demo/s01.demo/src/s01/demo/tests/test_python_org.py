"""Unit tests of the python.org spider, on pages built in memory."""
import unittest

import scrapy
from scrapy.http import HtmlResponse
from scrapy.http import TextResponse

from s01.demo.spiders.python_org import DEFAULT_START_URL
from s01.demo.spiders.python_org import PythonOrgSpider

PAGE = b"""<html><head><title>Glossary &#8212; Python 3 docs</title></head>
<body><div class="sphinxsidebar"><h3>Navigation</h3></div>
<div class="body" role="main">
<h1>Glossary<a class="headerlink" href="#glossary">\xc2\xb6</a></h1>
<h2>Some   <em>terms</em></h2><h4>not a section</h4><h3>More</h3>
<a href="library/index.html#top">in</a>
<a href="../2/index.html">older docs</a>
<a href="https://example.com/3/x.html">elsewhere</a>
<a href="http://docs.python.org/3/http.html">other scheme</a>
</div></body></html>"""


def html(url, body=PAGE):
    return HtmlResponse(url=url, body=body, encoding="utf-8")


class PythonOrgSpiderTests(unittest.TestCase):

    def test_default_start_url_is_the_public_docs(self):
        spider = PythonOrgSpider()
        (request,) = spider.start_requests()
        self.assertEqual(request.url, DEFAULT_START_URL)

    def test_start_request_goes_through_the_duplicate_filter(self):
        (request,) = PythonOrgSpider().start_requests()
        self.assertFalse(request.dont_filter)

    def test_non_http_start_url_is_refused(self):
        with self.assertRaises(ValueError):
            PythonOrgSpider(start_url="file:///etc/passwd")

    def test_page_yields_one_item_with_title_and_headings(self):
        spider = PythonOrgSpider()
        out = list(spider.parse(html("https://docs.python.org/3/g.html")))
        items = [o for o in out if isinstance(o, dict)]
        self.assertEqual(items, [{
            "url": "https://docs.python.org/3/g.html",
            "title": "Glossary \u2014 Python 3 docs",
            "headings": ["Glossary", "Some terms", "More"],
        }])

    def test_only_links_below_the_start_folder_are_followed(self):
        spider = PythonOrgSpider()
        out = list(spider.parse(html("https://docs.python.org/3/g.html")))
        urls = [o.url for o in out if isinstance(o, scrapy.Request)]
        self.assertEqual(
            urls, ["https://docs.python.org/3/library/index.html"])

    def test_non_html_response_yields_nothing(self):
        spider = PythonOrgSpider()
        response = TextResponse(url="https://docs.python.org/3/a.txt",
                                body=b"text", encoding="utf-8")
        self.assertEqual(list(spider.parse(response)), [])

    def test_local_start_url_keeps_its_port(self):
        spider = PythonOrgSpider(start_url="http://127.0.0.1:8123/index.html")
        self.assertTrue(spider.on_site("http://127.0.0.1:8123/a/b.html"))
        self.assertFalse(spider.on_site("http://127.0.0.1:9999/a/b.html"))
