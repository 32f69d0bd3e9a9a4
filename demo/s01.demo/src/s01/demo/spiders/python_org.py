"""The python.org spider: one item per page of the Python documentation."""
import posixpath
from urllib.parse import urldefrag
from urllib.parse import urlsplit

import scrapy
from scrapy.http import HtmlResponse
from scrapy.linkextractors import LinkExtractor

DEFAULT_START_URL = "https://docs.python.org/3/"

# Sphinx puts a pilcrow link into every heading; it is not heading text.
HEADING_TEXT = (
    ".//text()[not(ancestor::a[contains(concat(' ', @class, ' '),"
    " ' headerlink ')])]"
)


class PythonOrgSpider(scrapy.Spider):
    """Crawl a documentation site from ``start_url``, staying on it.

    "On the site" means the start URL's scheme and host (with port) and a
    path below the start URL's folder: from ``https://docs.python.org/3/``
    the spider follows ``https://docs.python.org/3/...`` only.
    """

    name = "python.org"

    def __init__(self, start_url=DEFAULT_START_URL, *args, **kwargs):
        super().__init__(*args, **kwargs)
        parts = urlsplit(start_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("start_url must be an http(s) URL: %r"
                             % start_url)
        self.start_url = start_url
        self.allowed_domains = [parts.hostname]
        self.site = (parts.scheme, parts.netloc)
        self.prefix = posixpath.dirname(parts.path or "/").rstrip("/") + "/"
        # LinkExtractor(allow_domains=...) compares host and port with the
        # domain, so it would drop every link of a server on a port; on_site
        # does the filtering instead.
        self.links = LinkExtractor()

    async def start(self):
        """The start request (Scrapy 2.13 and later call this)."""
        for request in self.start_requests():
            yield request

    def start_requests(self):
        """The start request (Scrapy before 2.13 calls this).

        Unlike Scrapy's default start requests it goes through the
        duplicate filter, so a link back to the start page is no second
        visit (and no second item).
        """
        yield scrapy.Request(self.start_url, callback=self.parse)

    def on_site(self, url):
        """Whether url is on the start URL's site and below its folder."""
        parts = urlsplit(url)
        path = parts.path or "/"
        return (parts.scheme, parts.netloc) == self.site and (
            path.startswith(self.prefix) or path + "/" == self.prefix)

    def parse(self, response):
        """Yield the page's item, then requests for its on-site links."""
        if not isinstance(response, HtmlResponse):
            return
        if not self.on_site(response.url):
            # A redirect can lead off the site; such a page is not ours.
            return
        yield page_item(response)

        # Links into the same page (#anchors) are no new pages.
        here = urldefrag(response.url)[0]
        for link in self.links.extract_links(response):
            url = urldefrag(link.url)[0]
            if url != here and self.on_site(url):
                yield scrapy.Request(url, callback=self.parse)


def page_item(response):
    """The item of one HTML page: url, title and section headings."""
    main = response.xpath('//*[@role="main"]') or response.xpath("/html")
    headings = []
    for heading in main.css("h1, h2, h3"):
        text = squeeze(" ".join(heading.xpath(HEADING_TEXT).getall()))
        if text:
            headings.append(text)
    title = squeeze(" ".join(response.xpath("//title//text()").getall()))
    return {"url": response.url, "title": title, "headings": headings}


def squeeze(text):
    """Collapse runs of blanks and trim the ends."""
    return " ".join(text.split())
