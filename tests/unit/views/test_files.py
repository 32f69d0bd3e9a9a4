"""Reading a job's log and items files for the pages."""
import json
import os

import pytest

from s01.worker.exceptions import InvalidParams
from s01.worker.views.files import FileUnavailable
from s01.worker.views.files import JobFiles
from s01.worker.views.files import cell_text
from s01.worker.views.files import first_items
from s01.worker.views.files import progress_of
from s01.worker.views.files import read_tail

JOB = "0123456789abcdef01234567"


@pytest.fixture
def settings(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "items").mkdir()
    return {"s01.spiders.log_dir": str(tmp_path / "logs"),
            "s01.spiders.items_dir": str(tmp_path / "items")}


def test_the_files_are_named_after_the_job(settings):
    files = JobFiles(settings, JOB)
    log = os.path.join(settings["s01.spiders.log_dir"], JOB + ".log")
    with open(log, "w") as f:
        f.write("x\n")
    assert files.path("log") == log
    assert files.find("items") is None
    with pytest.raises(FileUnavailable, match="no items file of job"):
        files.path("items")


@pytest.mark.parametrize("job_id", ["../../etc/passwd", "a" * 23,
                                    JOB + "/..", "", None])
def test_a_job_id_that_is_no_id_is_refused(settings, job_id):
    with pytest.raises(InvalidParams):
        JobFiles(settings, job_id)


def test_an_unset_folder_keeps_nothing(settings):
    settings["s01.spiders.items_dir"] = None
    files = JobFiles(settings, JOB)
    assert files.kept("log") and not files.kept("items")
    with pytest.raises(FileUnavailable, match="items_dir is not set"):
        files.path("items")


def test_a_symlink_out_of_the_folder_is_refused(settings, tmp_path):
    outside = tmp_path / "secret"
    outside.write_text("secret\n")
    os.symlink(outside, os.path.join(settings["s01.spiders.log_dir"],
                                     JOB + ".log"))
    with pytest.raises(FileUnavailable, match="is not a file of"):
        JobFiles(settings, JOB).path("log")


def test_a_symlinked_folder_is_fine(settings, tmp_path):
    real = tmp_path / "real-logs"
    real.mkdir()
    (real / (JOB + ".log")).write_text("x\n")
    link = tmp_path / "linked"
    os.symlink(real, link)
    settings["s01.spiders.log_dir"] = str(link)
    assert JobFiles(settings, JOB).find("log")


def test_the_tail_holds_whole_lines_only(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"one\ntwo\nthree\nfour\nhalf")
    assert read_tail(path) == ("one\ntwo\nthree\nfour\n", 19)
    assert read_tail(path, limit=12) == ("four\n", 19)
    assert read_tail(path, offset=8) == ("three\nfour\n", 19)
    assert read_tail(path, offset=19) == ("", 19)
    with open(path, "ab") as f:
        f.write(b" a line\n")
    assert read_tail(path, offset=19) == ("half a line\n", 31)


def test_a_shorter_file_is_read_anew(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"new\n")
    assert read_tail(path, offset=500) == ("new\n", 4)


def test_one_long_line_comes_in_pieces(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"x" * 100)
    assert read_tail(path, offset=0, limit=40) == ("x" * 40, 40)
    assert read_tail(path, offset=0, limit=200) == ("", 0)


def test_broken_utf8_is_replaced(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"caf\xc3\n\xff\n")
    text, offset = read_tail(path)
    assert text == "caf\ufffd\n\ufffd\n" and offset == 7


def test_progress_is_scrapys_latest_count(tmp_path):
    path = tmp_path / "log"
    path.write_text(
        "INFO: Crawled 0 pages (at 0 pages/min), scraped 0 items (at 0 "
        "items/min)\nnoise\n"
        "INFO: Crawled 31 pages (at 930 pages/min), scraped 29 items (at "
        "870 items/min)\n" + "noise\n" * 20000)
    assert progress_of(path) == {"pages": 31, "items": 29}
    path.write_text("no counts yet\n")
    assert progress_of(path) is None


def test_the_first_items_make_a_table(tmp_path):
    path = tmp_path / "items.jl"
    lines = [json.dumps({"url": "u%d" % n, "n": n, "tags": ["a"]})
             for n in range(25)]
    path.write_text("\n".join(lines) + "\nnot json\n")
    columns, rows, more = first_items(path, rows=20)
    assert columns == ["url", "n", "tags"]
    assert rows[0] == ["u0", "0", '["a"]']
    assert len(rows) == 20 and more


def test_a_line_that_is_no_object_is_one_cell(tmp_path):
    path = tmp_path / "items.jl"
    path.write_text('{"a": 1}\n[1, 2]\nnot json\n{"b": "x"}\npart')
    columns, rows, more = first_items(path)
    assert columns == ["a", "b"]
    assert rows == [["1", ""], ["[1, 2]"], ["not json"], ["", "x"]]
    assert not more


def test_a_huge_feed_is_read_only_at_its_start(tmp_path):
    path = tmp_path / "items.jl"
    path.write_text(('{"text": "%s"}\n' % ("x" * 1000)) * 3000)
    columns, rows, more = first_items(path, rows=5, limit=4000)
    assert len(rows) == 3 and more


def test_cells_are_short():
    assert cell_text("x" * 500, limit=10) == "x" * 9 + "\u2026"
    assert cell_text({"a": "\u00e9"}) == '{"a": "\u00e9"}'
    assert cell_text(None) == "null"
