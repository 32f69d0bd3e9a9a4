"""s01.demo: a Scrapy spider package for s01.worker."""
