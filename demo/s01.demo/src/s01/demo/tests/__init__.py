"""The package's unit tests; bin/test runs them."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    """Run every test module in this folder; answer the exit code."""
    suite = unittest.defaultTestLoader.discover(
        HERE, pattern="test_*.py",
        top_level_dir=os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(
        suite)
    return 0 if result.wasSuccessful() else 1
