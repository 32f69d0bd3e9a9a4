"""Install times of the demo package, cold and with the shared eggs.

Usage: .venv/bin/python bench/bench_install.py [--workdir DIR]
           [--eggs DIR --download-cache DIR --wheelhouse DIR]

It builds the s01.recipe and s01.demo sdists from this checkout, serves
the demo's 0.16.2 and 0.17.0 from a local package index, and installs
them one after the other through the installer of a daemon built from
development.ini (Mongo in memory): 0.16.2 into empty eggs, download cache
and wheelhouse folders, so buildout fetches Scrapy and everything else
from ``s01.buildout.index``; then 0.17.0, which finds all of that in the
shared folders. Both times are printed, each step's too. Given existing
shared folders (``--eggs`` and friends), the first install is warm too.

The cold install needs the network (the public index, or whatever
``--buildout-index`` names); the second should need none.
"""
import argparse
import logging
import tempfile
import time
import uuid
from pathlib import Path

import plaster

from s01.worker import main as make_app
from s01.worker.interfaces import IInstaller
from s01.worker.interfaces import IMongoStore
from s01.worker.interfaces import IProcessor
from s01.worker.mongo.embedded import EmbeddedMongo
from s01.worker.testing.index import IndexServer
from s01.worker.testing.index import build_index
from s01.worker.testing.sdists import build_demo_sdist
from s01.worker.testing.sdists import build_recipe_sdist

ROOT = Path(__file__).resolve().parents[1]
DEVELOPMENT_INI = ROOT / "development.ini"
VERSIONS = ("0.16.2", "0.17.0")
STEPS = ("fetch", "download", "unpack", "unpack move", "bootstrap",
         "buildout", "test", "list", "ensureScrapyPackage")


class StepTimes(logging.Handler):
    """The seconds of each step, from the installer's step logs.

    The installer logs a step when it is done, so a step took the time
    from the mark before its own to its own.
    """

    def __init__(self):
        super().__init__(logging.INFO)
        self.marks = []

    def emit(self, record):
        step = record.getMessage().split(":", 1)[0]
        if step in STEPS:
            self.marks.append((step, record.created))

    def seconds(self, started):
        times = {}
        previous = started
        for step, at in self.marks:
            times[step] = times.get(step, 0.0) + at - previous
            previous = at
        return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="kept afterwards when given")
    parser.add_argument("--eggs", help="shared eggs folder to start from")
    parser.add_argument("--download-cache")
    parser.add_argument("--wheelhouse")
    parser.add_argument("--buildout-index",
                        default="https://pypi.org/simple/")
    args = parser.parse_args()

    scratch = None
    if args.workdir is None:
        scratch = tempfile.TemporaryDirectory(prefix="s01-bench-install-")
        args.workdir = scratch.name
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)

    # The sdists: the recipe for buildout's find-links, the demo on an
    # index of its own.
    started = time.monotonic()
    findlinks = work / "findlinks"
    build_recipe_sdist(findlinks)
    sdists = [build_demo_sdist(version, work / "sdists")
              for version in VERSIONS]
    build_index(work / "index", sdists)
    print("sdists built secs=%.1f" % (time.monotonic() - started))

    server = EmbeddedMongo(":memory:").start()
    index = IndexServer(work / "index").start()
    app = None
    try:
        app = make_app({"__file__": str(DEVELOPMENT_INI)}, **settings_for(
            args, work, server.uri, index.simple_url, findlinks))
        installer = app.registry.getUtility(IInstaller)
        times = StepTimes()
        steps_log = logging.getLogger("s01.worker.packages.installer")
        steps_log.addHandler(times)
        steps_log.setLevel(logging.INFO)

        for version, eggs in zip(VERSIONS, ("cold" if not args.eggs else
                                            "given", "shared")):
            times.marks = []
            started = time.time()
            answer = installer.install("s01.demo", version)
            ended = time.time()
            if not answer["status"]:
                print("install failed step=%s error=%s" % (
                    answer["steps"][-1]["step"], answer["error"][-3000:]))
                raise SystemExit(1)
            steps = " ".join(
                "%s=%.1f" % (step.replace(" ", "_"), secs)
                for step, secs in times.seconds(started).items())
            print("install s01.demo %s eggs=%s secs=%.1f  %s" % (
                version, eggs, ended - started, steps))
    finally:
        if app is not None:
            app.registry.getUtility(IProcessor).stop()
            store = app.registry.getUtility(IMongoStore)
            store.close()
        index.stop()
        server.stop()
        if scratch is not None:
            scratch.cleanup()


def settings_for(args, work, mongo_uri, index_url, findlinks):
    """development.ini's settings, pointed at the bench's folders."""
    settings = dict(plaster.get_settings(str(DEVELOPMENT_INI), "app:main"))
    settings.update({
        "s01.mongo.uri": mongo_uri,
        "s01.mongo.database": "bench_%s" % uuid.uuid4().hex[:8],
        "s01.var.dir": str(work / "var"),
        "s01.index.url": index_url,
        "s01.packages.dir": str(work / "packages"),
        "s01.packages.staging_dir": str(work / "staging"),
        "s01.buildout.index": args.buildout_index,
        "s01.buildout.find_links": str(findlinks),
        "s01.buildout.eggs_dir": args.eggs or str(work / "eggs"),
        "s01.buildout.download_cache": (args.download_cache or
                                        str(work / "download-cache")),
        "s01.buildout.wheelhouse": args.wheelhouse or str(work / "wheels"),
    })
    return settings


if __name__ == "__main__":
    main()
