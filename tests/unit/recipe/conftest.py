"""The recipe's runner, loaded from its source file.

The runner belongs to the separate s01.recipe distribution, which is not
installed in the daemon's environment; its settings and argument parsing
need only the standard library, so the tests load the file itself.
"""
import importlib.util
from pathlib import Path

import pytest

RUNNER = (Path(__file__).resolve().parents[3]
          / "recipe" / "src" / "s01" / "recipe" / "runner.py")


@pytest.fixture(scope="session")
def runner():
    spec = importlib.util.spec_from_file_location("s01_recipe_runner",
                                                  RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
