"""The jobs-over-time picture's numbers and shapes."""
import datetime

import pytest

from s01.worker.views import chart

UTC = datetime.timezone.utc
NOW = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def job(status, minutes_ago, seconds=10.0):
    ended = NOW - datetime.timedelta(minutes=minutes_ago)
    return {"status": status, "completed": ended,
            "started": ended - datetime.timedelta(seconds=seconds)}


@pytest.mark.parametrize("value, ceiling", [
    (0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (250, 500), (0.3, 0.5)])
def test_scales_round_up_to_1_2_5(value, ceiling):
    assert chart.nice_ceiling(value) == pytest.approx(ceiling)


def test_jobs_are_counted_in_their_hour():
    jobs = [job("completed", 5), job("completed", 10, 30), job("error", 20),
            job("cancelled", 90), job("completed", 60 * 30)]
    picture = chart.jobs_over_time(jobs, NOW, "24h")
    assert picture["total"] == {"completed": 2, "error": 1, "cancelled": 1}
    assert len(picture["slots"]) == 24
    last = picture["slots"][-1]["title"]
    assert last.startswith("05-01 12:00\u201313:00 UTC: 2 completed, "
                           "1 failed, 0 cancelled")
    assert "median 10 s, longest 30 s" in last
    assert [b["status"] for b in picture["bars"]] == [
        "cancelled", "completed", "error"]
    # The stack of the last hour: completed at the bottom, twice as tall.
    completed, error = picture["bars"][1:]
    assert completed["y"] + completed["h"] == pytest.approx(
        chart.COUNT_BOTTOM)
    assert completed["h"] == pytest.approx(2 * error["h"])
    assert error["y"] + error["h"] == pytest.approx(completed["y"])
    assert not picture["empty"] and picture["cut"] is None


def test_runs_of_durations_become_lines():
    jobs = [job("completed", 60 * 5), job("completed", 60 * 4),
            job("completed", 60 * 2)]
    picture = chart.jobs_over_time(jobs, NOW, "24h")
    assert len(picture["lines"]) == 2
    assert len(picture["maxima"]) == 3


def test_a_full_sample_says_where_it_was_cut():
    jobs = [job("completed", n) for n in range(5)]
    picture = chart.jobs_over_time(jobs, NOW, "1h", limit=5)
    assert picture["cut"] == "2024-05-01 12:26 UTC"


def test_an_empty_window_is_empty():
    picture = chart.jobs_over_time([], NOW, "7d")
    assert picture["empty"] and picture["bars"] == []
    assert len(picture["labels"]) <= chart.MAX_LABELS
    assert picture["count_ticks"][-1]["text"] == "1"


def test_unknown_windows_fall_back_to_the_default():
    assert chart.window_of("<script>") == chart.DEFAULT_WINDOW
    assert chart.window_of("6h") == "6h"


@pytest.mark.parametrize("seconds, text", [
    (0.25, "0.25 s"), (45, "45 s"), (600, "10 min"), (7200, "2 h")])
def test_short_times(seconds, text):
    assert chart.short_time(seconds) == text
