"""s01.recipe: the zc.buildout recipe that spider packages use."""
import os

from setuptools import find_namespace_packages
from setuptools import setup

HERE = os.path.abspath(os.path.dirname(__file__))


def read(*parts):
    with open(os.path.join(HERE, *parts), encoding="utf-8") as f:
        return f.read()


setup(
    name="s01.recipe",
    version="1.0.0",
    description="zc.buildout recipe generating bin/list, bin/crawl and "
    "bin/scrapy for Scrapy spider packages run by s01.worker",
    long_description=read("README.rst"),
    long_description_content_type="text/x-rst",
    license="ZPL-2.1",
    classifiers=[
        "Framework :: Buildout :: Recipe",
        "Framework :: Scrapy",
        "Programming Language :: Python :: 3 :: Only",
    ],
    package_dir={"": "src"},
    packages=find_namespace_packages(where="src", include=["s01.*"]),
    zip_safe=False,
    python_requires=">=3.10",
    # Only buildout itself: a buildout resolves a recipe's whole dependency
    # tree before it can run it. Scrapy comes from the spider's own eggs.
    install_requires=["zc.buildout", "zc.recipe.egg"],
    entry_points={
        "zc.buildout": [
            "default = s01.recipe.recipe:Recipe",
            "s01.worker = s01.recipe.recipe:Recipe",
        ],
    },
)
