"""The zc.buildout recipe that gives a spider package its scripts.

A part using it writes ``parts/settings/default.cfg`` (the Scrapy settings
module and the ``settings`` lines of the part) and generates ``bin/list``,
``bin/crawl`` and ``bin/scrapy``. The scripts run ``s01.recipe.runner``
with the part's eggs on ``sys.path``; the runner imports only Scrapy and
the standard library.
"""
import configparser
import logging
import os
import sys

import zc.buildout
import zc.buildout.easy_install
import zc.recipe.egg

# The seed's buildout log shows the recipe's lines under this name.
log = logging.getLogger("s01.worker")

SCRIPTS = {
    "list": "list_main",
    "crawl": "crawl_main",
    "scrapy": "scrapy_main",
}


class Recipe:
    """Write the settings file and generate the spider scripts."""

    def __init__(self, buildout, name, options):
        self.buildout = buildout
        self.name = name
        self.options = options
        if not options.get("eggs", "").strip():
            raise zc.buildout.UserError(
                "part %s: the eggs option is required" % name
            )

        # zc.recipe.egg reads find-links, index, extra-paths and friends.
        self.egg = zc.recipe.egg.Scripts(buildout, name, options)

        parts_dir = buildout["buildout"]["parts-directory"]
        self.settings_dir = os.path.join(parts_dir, "settings")
        self.settings_path = os.path.join(self.settings_dir, "default.cfg")
        options["settings-path"] = self.settings_path

        names = options.get("scripts", " ".join(SCRIPTS)).split()
        unknown = sorted(set(names) - set(SCRIPTS))
        if unknown:
            raise zc.buildout.UserError(
                "part %s: unknown scripts %s (known: %s)"
                % (name, ", ".join(unknown), ", ".join(SCRIPTS))
            )
        self.script_names = names
        self.settings = parse_settings(options.get("settings", ""), name)

    def install(self):
        """Write default.cfg and the scripts; return what buildout owns."""
        self.write_settings()
        paths = [self.settings_dir]

        # The runner lives in this distribution, so the scripts need it
        # beside the spider package's eggs.
        reqs, ws = self.egg.working_set(extra=("s01.recipe",))
        log.info(
            "Load settings given from section target %s", self.settings_path
        )
        for script in self.script_names:
            paths.extend(
                zc.buildout.easy_install.scripts(
                    [(script, "s01.recipe.runner", SCRIPTS[script])],
                    ws,
                    sys.executable,
                    self.options["bin-directory"],
                    extra_paths=self.egg.extra_paths,
                    arguments=repr(self.settings_path),
                    relative_paths=self.egg._relative_paths,
                )
            )
        return paths

    update = install

    def write_settings(self):
        """Write parts/settings/default.cfg from the part's options."""
        if not os.path.isdir(self.settings_dir):
            log.info("Creating directory %s", self.settings_dir)
            os.makedirs(self.settings_dir)

        config = configparser.ConfigParser(interpolation=None)
        config.optionxform = str
        config["scrapy"] = {
            "settings_module": self.options.get("settings-module", ""),
            "part": self.name,
        }
        config["settings"] = self.settings
        log.info("Writing file %s", self.settings_path)
        with open(self.settings_path, "w", encoding="utf-8") as f:
            config.write(f)
        log.info("Change mode 0o644 for %s", self.settings_path)
        os.chmod(self.settings_path, 0o644)


def parse_settings(text, part):
    """Read ``NAME = VALUE`` lines into an ordered dict of strings."""
    settings = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name:
            raise zc.buildout.UserError(
                "part %s: settings line %r is not NAME = VALUE" % (part, line)
            )
        settings[name] = value.strip()
    return settings
