"""Jobs over time: the dashboard's picture, computed as SVG shapes.

It is drawn from the records of the jobs that ended within a window
(:meth:`~s01.worker.jobs.queue.JobQueue.ended`): for each slice of time,
the jobs that completed, failed and were cancelled (stacked bars), and
how long they ran (the median as a mark, joined across neighbouring
slices, and the longest as a dot). This module only computes numbers
and shapes; the template draws them, so every text in the picture is
escaped like any other on the page.

Known limitations: it reads at most ``LIMIT`` jobs, the latest; on a
daemon that finishes more than that within the window, the older part
of the window stays empty and the picture says so.
"""
import datetime
import math
import statistics

from s01.worker.jobs.queue import CANCELLED
from s01.worker.jobs.queue import COMPLETED
from s01.worker.jobs.queue import ERROR

UTC = datetime.timezone.utc
# The windows offered: name -> (seconds shown, seconds per bar).
WINDOWS = {
    "1h": (3600, 300),
    "6h": (6 * 3600, 900),
    "24h": (24 * 3600, 3600),
    "7d": (7 * 24 * 3600, 6 * 3600),
}
DEFAULT_WINDOW = "24h"
LIMIT = 3000
FIELDS = ("status", "started", "completed")
STATUSES = (COMPLETED, ERROR, CANCELLED)
LABELS = {COMPLETED: "completed", ERROR: "failed", CANCELLED: "cancelled"}

# The drawing area, in SVG units; the picture scales to its box.
WIDTH = 720
LEFT, RIGHT = 48, 12
COUNT_TOP, COUNT_BOTTOM = 12, 150
TIME_TOP, TIME_BOTTOM = 176, 236
HEIGHT = 262
MAX_LABELS = 8


def window_of(name):
    """The window called ``name``, or the default for anything else."""
    return name if name in WINDOWS else DEFAULT_WINDOW


def since(now, window):
    """When the window that ends now starts."""
    return now - datetime.timedelta(seconds=WINDOWS[window][0])


def jobs_over_time(jobs, now, window=DEFAULT_WINDOW, limit=LIMIT):
    """The shapes of the picture for ``jobs`` (dicts with FIELDS)."""
    span, step = WINDOWS[window]
    end = math.ceil(now.timestamp() / step) * step
    start = end - span
    slots = span // step
    counts = [dict.fromkeys(STATUSES, 0) for _ in range(slots)]
    seconds = [[] for _ in range(slots)]
    for job in jobs:
        ended = job.get("completed")
        if ended is None or job.get("status") not in STATUSES:
            continue
        slot = int((_epoch(ended) - start) // step)
        if not 0 <= slot < slots:
            continue
        counts[slot][job["status"]] += 1
        began = job.get("started")
        if began is not None and began <= ended:
            seconds[slot].append((ended - began).total_seconds())

    # Scales: counts from 0 up, durations from 0 up, rounded up nicely.
    top_count = nice_ceiling(max(sum(c.values()) for c in counts))
    longest = max((max(s) for s in seconds if s), default=0)
    top_time = nice_ceiling(longest)
    width = (WIDTH - LEFT - RIGHT) / slots

    bars = []
    slot_boxes = []
    medians = []
    marks = []
    maxima = []
    for slot in range(slots):
        x = LEFT + slot * width
        y = COUNT_BOTTOM
        for status in STATUSES:
            n = counts[slot][status]
            if not n:
                continue
            height = n / top_count * (COUNT_BOTTOM - COUNT_TOP)
            y -= height
            bars.append({"x": x + 1, "y": y, "w": max(width - 2, 1),
                         "h": height, "status": status})
        times = seconds[slot]
        center = x + width / 2
        if times:
            median = _time_y(statistics.median(times), top_time)
            medians.append((center, median))
            marks.append({"x1": x + 1, "x2": x + max(width - 1, 2),
                          "y": median})
            maxima.append({"x": center, "y": _time_y(max(times), top_time)})
        else:
            medians.append(None)
        # A box over the whole slot carries its numbers as a tooltip.
        slot_boxes.append({
            "x": x, "w": width,
            "title": _slot_title(start + slot * step, step, counts[slot],
                                 times)})

    total = {s: sum(c[s] for c in counts) for s in STATUSES}
    earliest = min((_epoch(j["completed"]) for j in jobs
                    if j.get("completed")), default=None)
    return {
        "window": window,
        "windows": list(WINDOWS),
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "slots": slot_boxes,
        "top": COUNT_TOP,
        "lines": _polylines(medians),
        "marks": marks,
        "maxima": maxima,
        "count_ticks": _ticks(top_count, COUNT_TOP, COUNT_BOTTOM, str),
        "time_ticks": _ticks(top_time, TIME_TOP, TIME_BOTTOM, short_time),
        "labels": _labels(start, step, slots, width, window),
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "count_bottom": COUNT_BOTTOM,
        "time_top": TIME_TOP,
        "time_bottom": TIME_BOTTOM,
        "total": total,
        "statuses": [(s, LABELS[s]) for s in STATUSES],
        "empty": not any(total.values()),
        "cut": _when(earliest) if len(jobs) >= limit and earliest else None,
        "limit": limit,
    }


def nice_ceiling(value):
    """The smallest of 1, 2, 5 times a power of ten that is >= value."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if factor * power >= value:
            return factor * power
    return 10 * power


def short_time(seconds):
    """A duration in its largest sensible unit: 45 s, 3 min, 2 h."""
    if seconds < 1:
        return "%g s" % round(seconds, 2)
    if seconds < 120:
        return "%d s" % round(seconds)
    if seconds < 7200:
        return "%d min" % round(seconds / 60)
    return "%d h" % round(seconds / 3600)


def _time_y(seconds, top):
    return TIME_BOTTOM - seconds / top * (TIME_BOTTOM - TIME_TOP)


def _ticks(top, y_top, y_bottom, label):
    """Gridlines at 0, half and the top of a scale."""
    ticks = []
    for share in (0, 0.5, 1):
        value = top * share
        if share == 0.5 and value != int(value) and label is str:
            continue
        text = label(int(value) if label is str else value)
        ticks.append({"y": y_bottom - share * (y_bottom - y_top),
                      "text": text})
    return ticks


def _labels(start, step, slots, width, window):
    """Time labels under the bars, at most MAX_LABELS of them."""
    every = max(1, math.ceil(slots / MAX_LABELS))
    fmt = "%a %H:%M" if window == "7d" else "%H:%M"
    labels = []
    for slot in range(0, slots, every):
        when = datetime.datetime.fromtimestamp(start + slot * step, UTC)
        labels.append({"x": LEFT + slot * width, "text":
                       when.strftime(fmt)})
    return labels


def _polylines(points):
    """Runs of consecutive points, each an SVG ``points`` text."""
    lines = []
    run = []
    for point in points + [None]:
        if point is None:
            if run:
                lines.append(" ".join("%.1f,%.1f" % p for p in run))
            run = []
        else:
            run.append(point)
    return lines


def _slot_title(begin, step, counts, times):
    first = datetime.datetime.fromtimestamp(begin, UTC)
    last = datetime.datetime.fromtimestamp(begin + step, UTC)
    text = "%s\u2013%s UTC: %s" % (
        first.strftime("%m-%d %H:%M"), last.strftime("%H:%M"),
        ", ".join("%d %s" % (counts[s], LABELS[s]) for s in STATUSES))
    if times:
        text += "; median %s, longest %s" % (
            short_time(statistics.median(times)), short_time(max(times)))
    return text


def _epoch(when):
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _when(epoch):
    return datetime.datetime.fromtimestamp(epoch, UTC).strftime(
        "%Y-%m-%d %H:%M UTC")
