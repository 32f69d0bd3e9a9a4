"""s01.worker: a crawl daemon that installs and runs Scrapy spider packages."""
import os

from setuptools import find_namespace_packages
from setuptools import setup

HERE = os.path.abspath(os.path.dirname(__file__))


def read(*parts):
    with open(os.path.join(HERE, *parts), encoding="utf-8") as f:
        return f.read()


install_requires = [
    "argon2-cffi",
    "cachetools",
    "packaging",
    "plaster_pastedeploy",
    "pymongo>=4.9",
    "pyramid>=2.0",
    "pyramid_jinja2",
    "pyramid_retry",
    "pyramid_tm",
    "requests",
    "SecantusDB==0.7.0b3",
    # Pyramid 2.1 still imports pkg_resources, gone from setuptools 82.
    "setuptools<82",
    "transaction",
    "waitress",
    # Bootstrap's CSS for the pages, served by the daemon itself.
    "XStatic-Bootstrap>=5.3,<5.4",
    "zope.interface",
]

tests_require = [
    "coverage",
    # Drives Debian's Chromium in tests/browser (no browser download).
    "playwright",
    "pytest",
    "pytest-timeout",
    "WebTest",
]

setup(
    name="s01.worker",
    version="1.0.0.dev0",
    description="A crawl daemon: installs Scrapy spider packages from a "
    "package index, runs their spiders as jobs, JSON-RPC 2.0 and admin pages",
    long_description=read("README.rst") + "\n\n" + read("CHANGES.rst"),
    long_description_content_type="text/x-rst",
    license="ZPL-2.1",
    classifiers=[
        "Framework :: Pyramid",
        "Framework :: Scrapy",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.11",
    ],
    package_dir={"": "src"},
    packages=find_namespace_packages(where="src", include=["s01.*"]),
    include_package_data=True,
    zip_safe=False,
    python_requires=">=3.11",
    install_requires=install_requires,
    extras_require={"test": tests_require},
    entry_points={
        "paste.app_factory": ["main = s01.worker:main"],
        "console_scripts": [
            "s01-worker = s01.worker.client:main",
        ],
    },
)
