"""A spider package whose spiders are small scripts, for job tests.

``build_fake_sdist(dest_dir, name, version)`` writes the sdist of a real
buildout package (a ``worker.cfg`` that makes ``bin/list`` and
``bin/crawl`` with zc.recipe.egg) whose ``bin/crawl`` behaves the way a
test needs, without Scrapy, so it installs in seconds. Its spiders:

``record``
    appends ``-a job=<text>`` and its pid to the file ``-a out=PATH``,
    sleeps ``-a sleep=SECONDS`` (default 0) and succeeds. With ``-a
    log=PATH`` it also appends ``start JOB PID TIME`` before the sleep
    and ``end JOB PID TIME`` after it there, so a test can tell whether
    two runs overlapped.
``fail``
    appends the time to ``-a out=PATH`` and exits 1, every time.
``fail-once``
    fails while the file ``-a out=PATH`` does not exist yet (it creates
    it), succeeds afterwards.
``stubborn``
    ignores SIGTERM, starts a grandchild ``sleep 3600`` whose command line
    carries ``-a marker=TEXT`` and that keeps stdout open, then sleeps.

Like the real ``bin/crawl`` it takes ``--logfile``, ``--items`` and
``--stats``, and writes stats with ``finish_reason`` and
``item_scraped_count``.

``listing`` chooses how its ``bin/list`` answers (C13), one of
``LISTINGS``:

``plain``
    the spider names, one a line (the default);
``noisy``
    a DeprecationWarning on stderr, then the names, one a line;
``crlf``
    the names with CRLF line ends, then an empty line (CRLF too);
``traceback``
    a 30-line traceback ending in ``ImportError: No module named foo`` on
    stderr, and exit code 1;
``silent``
    nothing at all, and exit code 0;
``hang``
    starts a grandchild that sleeps an hour (the install folder is on its
    command line, so a test can look for it), and sleeps too.

A file ``list-mode`` in the install folder, holding one of these names,
overrides the listing the sdist was built with, so that one install can
show every kind of ``bin/list`` to ``listSpiders``.

``build_seconds`` makes building the package's develop egg (the buildout
step) take that much longer, once per install.

With ``broken_buildout`` the buildout fails half-way: its ``list`` part
is installed, then a part whose recipe (in the package itself) raises
"broken part: fails half-way on purpose".
"""
import os

from s01.worker.testing.index import make_tar_sdist

FAKE_SPIDERS = ("record", "fail", "fail-once", "stubborn")
LISTINGS = ("plain", "noisy", "crlf", "traceback", "silent", "hang")
TRACEBACK_FRAMES = 14

FAKE_MODULE = r'''
import argparse
import json
import os
import signal
import subprocess
import sys
import time

SPIDERS = %(spiders)r
LISTING = %(listing)r
FRAMES = %(frames)d


def list_main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))
    mode = LISTING
    if os.path.exists(os.path.join(here, "list-mode")):
        with open(os.path.join(here, "list-mode")) as f:
            mode = f.read().strip()
    return globals()["list_" + mode](here)


def list_plain(here):
    print("\n".join(SPIDERS))
    return 0


def list_noisy(here):
    import warnings
    warnings.simplefilter("always")
    warnings.warn("Module `scrapy.spider` is deprecated, use "
                  "`scrapy.spiders` instead", DeprecationWarning)
    sys.stdout.write("".join(name + "\n" for name in SPIDERS))
    return 0


def list_crlf(here):
    sys.stdout.buffer.write(
        "".join(name + "\r\n" for name in SPIDERS).encode() + b"\r\n")
    return 0


def list_traceback(here):
    lines = ["Traceback (most recent call last):"]
    for number in range(FRAMES):
        lines.append('  File "%%s/spiders/level%%02d.py", line %%d, in '
                     'level%%02d' %% (here, number, 10 + number, number))
        lines.append("    level%%02d()" %% (number + 1))
    lines.append("ImportError: No module named foo")
    sys.stderr.write("\n".join(lines) + "\n")
    return 1


def list_silent(here):
    return 0


def list_hang(here):
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)",
                      here])
    time.sleep(3600)
    return 0


def crawl_main():
    parser = argparse.ArgumentParser(prog="crawl")
    parser.add_argument("spider")
    parser.add_argument("-a", action="append", default=[])
    parser.add_argument("-s", action="append", default=[])
    parser.add_argument("--logfile")
    parser.add_argument("--items")
    parser.add_argument("--stats")
    options = parser.parse_args()
    args = dict(item.split("=", 1) for item in options.a)
    if options.spider not in SPIDERS:
        print("unknown spider %%s" %% options.spider, file=sys.stderr)
        sys.exit(2)
    code = globals()["run_" + options.spider.replace("-", "_")](args)
    if options.stats:
        with open(options.stats, "w") as f:
            json.dump({"finish_reason": "finished" if code == 0 else
                       "error", "item_scraped_count": 1 - min(code, 1)}, f)
    if options.items and code == 0:
        with open(options.items, "a") as f:
            f.write(json.dumps({"spider": options.spider}) + "\n")
    sys.exit(code)


def append(path, text):
    with open(path, "a") as f:
        f.write(text + "\n")


def run_record(args):
    job, pid = args.get("job", ""), os.getpid()
    append(args["out"], "%%s %%d" %% (job, pid))
    if args.get("log"):
        append(args["log"], "start %%s %%d %%.6f" %% (job, pid, time.time()))
    time.sleep(float(args.get("sleep", 0)))
    if args.get("log"):
        append(args["log"], "end %%s %%d %%.6f" %% (job, pid, time.time()))
    return 0


def run_fail(args):
    append(args["out"], "%%.3f" %% time.time())
    return 1


def run_fail_once(args):
    if os.path.exists(args["out"]):
        return 0
    append(args["out"], "%%.3f" %% time.time())
    return 1


def run_stubborn(args):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen(["sh", "-c", "sleep 3600 # %%s" %% args["marker"]])
    print("stubborn spider running", flush=True)
    time.sleep(3600)
    return 0


class BrokenRecipe:
    """A buildout recipe that fails when its part is installed."""

    def __init__(self, buildout, name, options):
        self.name = name

    def install(self):
        import zc.buildout

        raise zc.buildout.UserError("broken part: fails half-way on "
                                    "purpose")

    update = install
'''

SETUP = '''import os
import time

from setuptools import setup

# A slow build, once per install (pip runs this file several times).
if %(build_seconds)r and not os.path.exists("build-slept"):
    open("build-slept", "w").close()
    time.sleep(%(build_seconds)r)

setup(name=%(name)r, version=%(version)r, py_modules=["fakespiders"],
      entry_points={"zc.buildout": ["broken = fakespiders:BrokenRecipe"]})
'''

WORKER_CFG = '''[buildout]
develop = .
parts = %(parts)s

[broken]
recipe = %(name)s:broken

[list]
recipe = zc.recipe.egg:scripts
eggs = %(name)s
scripts = list
entry-points = list=fakespiders:list_main

[crawl]
recipe = zc.recipe.egg:scripts
eggs = %(name)s
scripts = crawl
entry-points = crawl=fakespiders:crawl_main
'''


def build_fake_sdist(dest_dir, name="fake.spiders", version="1.0",
                     spiders=FAKE_SPIDERS, listing="plain", build_seconds=0,
                     broken_buildout=False, extra=None):
    """Write the fake package's sdist into ``dest_dir``; its path.

    ``extra`` maps more member names (below the top folder) to bytes.
    """
    if listing not in LISTINGS:
        raise ValueError("listing %r is not one of %s" % (listing, LISTINGS))
    values = {"name": name, "version": version, "spiders": list(spiders),
              "listing": listing, "frames": TRACEBACK_FRAMES,
              "build_seconds": build_seconds,
              "parts": "list broken crawl" if broken_buildout
              else "list crawl"}
    top = "%s-%s" % (name, version)
    members = {
        top + "/PKG-INFO": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
                            % (name, version)).encode(),
        top + "/setup.py": (SETUP % values).encode(),
        top + "/fakespiders.py": (FAKE_MODULE % values).encode(),
        top + "/worker.cfg": (WORKER_CFG % values).encode(),
    }
    members.update({top + "/" + member: data
                    for member, data in (extra or {}).items()})
    path = os.path.join(str(dest_dir), "%s-%s.tar.gz" % (name, version))
    return make_tar_sdist(path, members)
