"""Build real sdists of our recipe and of the demo spider package.

Tests and ``make serve`` use these to fill a local package index or a
buildout ``find-links`` folder, so that installing works offline. Each
build runs ``python setup.py sdist --formats=gztar`` in a fresh copy of the
source, with this interpreter (the daemon's, which has setuptools<82).

``python -m s01.worker.testing.sdists DIR`` builds the local index that
development.ini points at: the demo releases of :data:`DEMO_VERSIONS` and
the recipe in ``DIR/files``, their PEP 503 pages in ``DIR/simple``.

Known limitations: the sources are found relative to this file, so this
works from a source checkout (an editable install), not from a wheel.
"""
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[4]
RECIPE_SOURCE = ROOT / "recipe"
DEMO_SOURCE = ROOT / "demo" / "s01.demo"

BUILD_TIMEOUT = 300
DEMO_VERSIONS = ("0.16.2", "0.17.0")

# What a working copy may hold besides the source: build output, the parts
# of a buildout run in place, caches.
IGNORED = shutil.ignore_patterns(
    "*.egg-info", "__pycache__", "*.pyc", "build", "dist", ".venv",
    "bin", "parts", "eggs", "develop-eggs", ".installed.cfg",
)


def build_recipe_sdist(dest_dir, source=RECIPE_SOURCE):
    """Build the s01.recipe sdist into dest_dir; answer its path."""
    return build_sdist(source, dest_dir)


def build_demo_sdist(version, dest_dir, source=DEMO_SOURCE):
    """Build the s01.demo sdist of the given version; answer its path."""
    return build_sdist(source, dest_dir, version=version)


def build_sdist(source, dest_dir, version=None):
    """Build an sdist of source (version.txt rewritten if given)."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="s01-sdist-") as tmp:
        work = Path(tmp) / "src"
        out = Path(tmp) / "dist"
        shutil.copytree(source, work, ignore=IGNORED)
        if version is not None:
            (work / "version.txt").write_text(version + "\n")

        # Build into an empty folder: the one file there is ours, whatever
        # name (normalized or not) this setuptools gives it.
        result = subprocess.run(
            [sys.executable, "setup.py", "-q", "sdist", "--formats=gztar",
             "-d", str(out)],
            cwd=work, timeout=BUILD_TIMEOUT, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=_build_env(),
        )
        if result.returncode:
            raise RuntimeError(
                "sdist of %s failed (exit %d):\n%s" % (
                    source, result.returncode,
                    result.stdout.decode("utf-8", "replace")))
        (built,) = out.glob("*.tar.gz")
        target = dest_dir / built.name
        shutil.move(str(built), str(target))
    log.info("sdist built source=%s path=%s", source, target)
    return str(target)


def build_demo_index(root_dir, versions=DEMO_VERSIONS):
    """Build the recipe and demo sdists into a local index at root_dir.

    Answers the path of the index's ``simple`` folder. Files already in
    ``root_dir/files`` are replaced, so a rebuild picks up source edits.
    """
    from s01.worker.testing.index import build_index

    with tempfile.TemporaryDirectory(prefix="s01-index-") as tmp:
        sdists = [build_recipe_sdist(tmp)]
        sdists += [build_demo_sdist(version, tmp) for version in versions]
        simple = build_index(root_dir, sdists)
    log.info("demo index built path=%s versions=%s", simple,
             ",".join(versions))
    return simple


def main(argv=None):
    """Build the local demo index into the folder given as argument."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m s01.worker.testing.sdists INDEX_DIR",
              file=sys.stderr)
        return 2
    print(build_demo_index(argv[0]))
    return 0


def _build_env():
    env = dict(os.environ)
    # No bytecode next to the copied sources, no user site surprises.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    return env


if __name__ == "__main__":  # pragma: no cover - the command line
    sys.exit(main())
