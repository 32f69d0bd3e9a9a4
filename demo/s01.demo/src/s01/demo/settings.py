"""Scrapy settings of s01.demo.

Polite by default: robots.txt obeyed, a user agent that says who we are,
a bounded concurrency. Limits such as CLOSESPIDER_PAGECOUNT come per run
with ``bin/crawl -s NAME=VALUE``.
"""
BOT_NAME = "s01.demo"

SPIDER_MODULES = ["s01.demo.spiders"]
NEWSPIDER_MODULE = "s01.demo.spiders"

USER_AGENT = "s01.demo (+s01.worker)"
ROBOTSTXT_OBEY = True

AUTOTHROTTLE_ENABLED = False
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0

# A daemon runs many spiders at once: no telnet console, and no remote
# control HTTP server (Scrapy 2.19 and later; it runs Python code sent to
# it), listening for each of them.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
