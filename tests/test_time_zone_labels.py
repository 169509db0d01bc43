"""Every time the pages show says which zone it is in (issue 9: "Times carry no zone label").

The jobs list, a job's detail page (its timeline's axis and tooltips
included), the failures page and the status board, in UTC and in two other
TIME_ZONEs: each clock time on the page is followed by the zone's label,
and each ``<time>`` element carries it in its text or its title.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine

from jobs.models import Source, TrainingJob
from tests.factories import T0, make_job

NOW = T0 + timedelta(hours=4)
# A clock time as the date formats write it: two-digit hours. Durations
# ("1:05:00", hms) have unpadded hours and are left alone.
CLOCK = re.compile(r"(?<![\d:])\d{2}:\d{2}(?::\d{2})?(?![\d:])")
TIME_ELEMENT = re.compile(r"<time\b([^>]*)>(.*?)</time>", re.S)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def jobs(db):
    make_job("done-1", created=T0)
    make_job("failed-1", status="Failed", created=T0 + timedelta(minutes=10))
    make_job("running-1", status="InProgress", created=T0 + timedelta(hours=3))
    Source.objects.update(last_success_at=NOW - timedelta(minutes=2))
    return {job.name: job for job in TrainingJob.objects.all()}


def _unlabelled_clocks(html: str, zone: str) -> list[str]:
    """Clock times in the page without a zone: neither the label after them (a range "10:00-11:05 UTC" has
    one) nor an ISO 8601 offset."""
    html = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)
    html = re.sub(r'datetime="[^"]*"', "", html)
    labelled = re.compile(
        rf"\d{{2}}:\d{{2}}(?::\d{{2}})?(?:\u2013(?:\d{{2}}:\d{{2}}(?::\d{{2}})?|now))? {zone}\b"
        # ISO 8601 with its offset, as the raw AWS response on the detail page has it.
        r"|\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})"
    )
    spans = [m.span() for m in labelled.finditer(html)]
    return [
        html[max(0, m.start() - 40) : m.end() + 20]
        for m in CLOCK.finditer(html)
        if not any(start <= m.start() < end for start, end in spans)
    ]


def _assert_labelled(html: str, zone: str) -> None:
    elements = TIME_ELEMENT.findall(html)
    assert elements, "no <time> element on the page"
    for attrs, text in elements:
        assert "datetime=" in attrs
        assert zone in text or f' {zone}"' in attrs, (attrs, text)
    assert _unlabelled_clocks(html, zone) == []


ZONES = [
    ("UTC", "UTC", "Nov 20, 12:00 UTC"),
    ("Europe/Berlin", "CET", "Nov 20, 13:00 CET"),
    ("America/New_York", "EST", "Nov 20, 07:00 EST"),
]


@pytest.mark.parametrize(("time_zone", "label", "created"), ZONES)
def test_jobs_list_labels_its_times(logged_in, jobs, settings, time_zone, label, created):
    settings.TIME_ZONE = time_zone
    html = logged_in.get("/").content.decode()
    _assert_labelled(html, label)
    assert f">{created}</time>" in html
    fragment = logged_in.get("/jobs/rows/", {"ids": str(jobs["running-1"].pk)}).json()["rows"][0]["html"]
    _assert_labelled(fragment, label)


@pytest.mark.parametrize(("time_zone", "label", "created"), ZONES)
def test_detail_and_its_timeline_label_their_times(logged_in, jobs, settings, time_zone, label, created):
    settings.TIME_ZONE = time_zone
    for name in ("done-1", "running-1"):
        html = logged_in.get(f"/jobs/{jobs[name].pk}/").content.decode()
        _assert_labelled(html, label)
        timeline = html[html.index('<div class="timeline-wrap">') :]
        # The SVG bars' tooltips and the axis under them.
        assert re.search(rf"<title>Starting · [^<]* \d\d:\d\d:\d\d\u2013\d\d:\d\d:\d\d {label}\n", timeline)
        assert re.search(rf'<div class="axis">\s*<span><time datetime="[^"]+">[^<]+ {label}</time>', timeline)
    done = logged_in.get(f"/jobs/{jobs['done-1'].pk}/").content.decode()
    assert f"{created[-9:-4]}:00 {label}</time>" in done  # created, as Y-m-d H:i:s T


@pytest.mark.parametrize(("time_zone", "label", "created"), ZONES)
def test_failures_label_their_times(logged_in, jobs, settings, time_zone, label, created):
    settings.TIME_ZONE = time_zone
    html = logged_in.get("/failures/").content.decode()
    _assert_labelled(html, label)
    assert "First seen <time" in html


@pytest.mark.parametrize(("time_zone", "label", "created"), ZONES)
def test_status_board_labels_its_times(logged_in, jobs, settings, time_zone, label, created):
    settings.TIME_ZONE = time_zone
    html = logged_in.get("/status/").content.decode()
    _assert_labelled(html, label)
    assert re.search(rf"Updated <time [^>]+>\d\d:\d\d:\d\d {label}</time>", html)
    fragment = logged_in.get("/status/fragment/").json()["html"]
    _assert_labelled(fragment, label)
