"""The zc.buildout recipe that gives a spider package its scripts.

A part using it writes ``parts/settings/default.cfg`` (the Scrapy settings
module and the ``settings`` lines of the part) and generates ``bin/list``,
``bin/crawl``, ``bin/crawl-server`` and ``bin/scrapy``. The scripts run
``s01.recipe.runner`` with the part's eggs on ``sys.path``; the runner
imports only Scrapy and the standard library.

Known limitations: the settings file has one fixed path, so a buildout has
one part with this recipe. A setting's value is one line.
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
    "crawl-server": "serve_main",
    "scrapy": "scrapy_main",
}

# Where this distribution is importable from (an egg or a develop src
# folder): s01/recipe/recipe.py is three levels below it.
RECIPE_PATH = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)


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

        # The scripts get the part's eggs and the folder holding the runner,
        # but not this recipe's own requirements (zc.buildout and friends):
        # the runner needs only Scrapy and the standard library.
        reqs, ws = self.egg.working_set()
        extra_paths = self.egg.extra_paths + [RECIPE_PATH]
        bin_dir = self.options["bin-directory"]
        if self.egg._relative_paths:
            arguments = "join(base, %r)" % os.path.relpath(
                self.settings_path, bin_dir)
        else:
            arguments = repr(self.settings_path)
        log.info(
            "Load settings given from section target %s", self.settings_path
        )
        for script in self.script_names:
            paths.extend(
                zc.buildout.easy_install.scripts(
                    [(script, "s01.recipe.runner", SCRIPTS[script])],
                    ws,
                    sys.executable,
                    bin_dir,
                    extra_paths=extra_paths,
                    arguments=arguments,
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
    """Read ``NAME = VALUE`` lines into an ordered dict of strings.

    The values stay text here; the runner turns them into values by the
    rule of ``s01.recipe.runner.parse_value`` each time it starts.
    """
    settings = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise zc.buildout.UserError(
                "part %s: settings line %r is not NAME = VALUE" % (part, line)
            )
        settings[name] = value.strip()
    return settings
