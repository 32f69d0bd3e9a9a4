"""s01.demo: a demo spider package for s01.worker."""
import os

from setuptools import find_namespace_packages
from setuptools import setup

HERE = os.path.abspath(os.path.dirname(__file__))


def read(*parts):
    with open(os.path.join(HERE, *parts), encoding="utf-8") as f:
        return f.read()


setup(
    name="s01.demo",
    # One source builds every demo release: the build rewrites version.txt.
    version=read("version.txt").strip(),
    description="A demo spider package for s01.worker: crawls the Python "
    "documentation",
    long_description=read("README.rst"),
    long_description_content_type="text/x-rst",
    license="ZPL-2.1",
    classifiers=[
        "Framework :: Scrapy",
        "Programming Language :: Python :: 3 :: Only",
    ],
    package_dir={"": "src"},
    packages=find_namespace_packages(where="src", include=["s01.*"]),
    zip_safe=False,
    python_requires=">=3.10",
    install_requires=["Scrapy>=2.11"],
)
