"""Starting the daemon: the shipped ini files and what stops a start."""
import shutil
import subprocess

from s01.worker.security import hash_password
from tests.conftest import BIN
from tests.conftest import ROOT
from tests.conftest import ini_with


def pserve(ini, cwd, timeout=60):
    return subprocess.run([str(BIN / "pserve"), str(ini)], cwd=str(cwd),
                          capture_output=True, text=True, timeout=timeout)


def test_production_ini_refuses_to_start_without_users(tmp_path):
    ini = tmp_path / "production.ini"
    shutil.copyfile(ROOT / "production.ini", ini)
    done = pserve(ini, tmp_path)
    assert done.returncode != 0
    assert "s01.users: no users are configured; the daemon never runs " \
        "without authentication" in done.stderr
    # It stopped before listening or touching a database.
    assert "Serving on" not in done.stderr
    assert not (tmp_path / "var").exists()


def test_a_bad_setting_stops_the_start_naming_the_key(tmp_path):
    ini = tmp_path / "testing.ini"
    text = (ROOT / "testing.ini").read_text().replace(
        "s01.processor.autostart = false",
        "s01.processor.autostart = maybe")
    ini.write_text(text)
    done = pserve(ini, tmp_path)
    assert done.returncode != 0
    assert "s01.processor.autostart: 'maybe' is not a boolean" in done.stderr


def test_an_empty_password_stops_the_start_and_says_so(tmp_path):
    # C05 (i): an empty password never means "any password works".
    ini = tmp_path / "testing.ini"
    ini.write_text(ini_with((ROOT / "testing.ini").read_text(), "app:main",
                            {"s01.users": "\nmgr manager %s"
                             % hash_password("")}))
    done = pserve(ini, tmp_path)
    assert done.returncode != 0
    assert "s01.users: user mgr has an empty password" in done.stderr
    assert "Serving on" not in done.stderr
