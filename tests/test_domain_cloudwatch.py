"""Pure CloudWatch helpers: query packing, cursors, packed points, downsampling, log text."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from jobs.domain import cloudwatch as cw

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_series_for_job_asks_gpu_metrics_only_of_gpu_instances():
    cpu = cw.series_for_job(
        "j", metric_names=["train:loss", "train:loss"], instance_count=2, instance_type="ml.m5.xlarge"
    )
    assert [k for k in cpu if not k.host] == [cw.SeriesKey("j", "train:loss")]
    assert {k.host for k in cpu if k.host} == {"j/algo-1", "j/algo-2"}
    assert {k.name for k in cpu if k.host} == {"CPUUtilization", "MemoryUtilization", "DiskUtilization"}
    gpu = cw.series_for_job("j", metric_names=[], instance_count=1, instance_type="ml.p4d.24xlarge")
    assert {k.name for k in gpu} == set(cw.INSTANCE_METRICS)


def test_query_uses_the_dimension_of_its_kind():
    assert cw.SeriesKey("j", "train:loss").query("q0")["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "TrainingJobName", "Value": "j"}
    ]
    host = cw.SeriesKey("j", "CPUUtilization", "j/algo-1").query("q1")
    assert host["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "Host", "Value": "j/algo-1"}]
    assert host["MetricStat"]["Period"] == 60


def test_defined_metric_names_reads_algorithm_specification_and_ignores_junk():
    raw = {
        "AlgorithmSpecification": {
            "MetricDefinitions": [{"Name": "a"}, {"Name": "a"}, {"Regex": "x"}, "junk", {"Name": 3}, {"Name": "b"}]
        }
    }
    assert cw.defined_metric_names(raw) == ["a", "b"]
    assert cw.defined_metric_names({}) == []
    assert cw.defined_metric_names({"AlgorithmSpecification": "no"}) == []


def test_pack_batches_fills_calls_within_both_limits():
    end = T0 + timedelta(hours=1)
    recent = [
        (cw.SeriesKey(f"j{i}", "CPUUtilization", f"j{i}/algo-1"), end - timedelta(minutes=2), end) for i in range(1200)
    ]
    batches = cw.pack_batches(recent)
    assert [len(b.keys) for b in batches] == [500, 500, 200]
    # A first fetch of a 5-day job: 7,200 periods a series, 14 series a call.
    long = [(cw.SeriesKey("old", f"m{i}"), end - timedelta(days=5), end) for i in range(30)]
    batches = cw.pack_batches(long)
    assert [len(b.keys) for b in batches] == [14, 14, 2]
    for batch in batches:
        periods = math.ceil((batch.end - batch.start).total_seconds() / 60)
        assert len(batch.keys) * periods <= cw.MAX_POINTS
    # Every series is asked once, with the range that covers it.
    mixed = cw.pack_batches(recent[:10] + long[:3])
    assert sorted(k.job for b in mixed for k in b.keys) == sorted(["old"] * 3 + [f"j{i}" for i in range(10)])


def test_pack_batches_aligns_start_to_the_period():
    [batch] = cw.pack_batches([(cw.SeriesKey("j", "m"), T0 + timedelta(seconds=75), T0 + timedelta(minutes=5))])
    assert batch.start == T0 + timedelta(minutes=1)
    assert batch.queries()[0]["Id"] == "q0"


def test_parse_results_sorts_and_drops_bad_values():
    [batch] = cw.pack_batches([(cw.SeriesKey("j", "m"), T0, T0 + timedelta(minutes=5))])
    results = [
        {
            "Id": "q0",
            "Timestamps": [T0 + timedelta(minutes=2), T0, T0 + timedelta(minutes=1)],
            "Values": [3.0, 1.0, float("nan")],
        },
        {"Id": "zz", "Timestamps": [T0], "Values": [1.0]},
    ]
    assert cw.parse_results(batch, results) == {
        cw.SeriesKey("j", "m"): [(T0.timestamp(), 1.0), (T0.timestamp() + 120, 3.0)]
    }


def test_host_searches_name_every_host_exactly_and_split_past_the_expression_limit():
    keys = cw.series_for_job("j-1", metric_names=["train:loss"], instance_count=20, instance_type="ml.g5.xlarge")
    searches = cw.host_searches(keys)
    assert [len(s.hosts) for s in searches] == [cw.SEARCH_HOSTS, 20 - cw.SEARCH_HOSTS]
    assert {k for s in searches for k in s.series()} == {k for k in keys if k.host}
    expression = searches[1].expression()
    assert expression.startswith('SEARCH(\'{"/aws/sagemaker/TrainingJobs",Host} (Host="j-1/algo-17" OR ')
    assert 'MetricName="GPUUtilization"' in expression and expression.endswith("', 'Average', 60)")
    longest = cw.host_searches(
        cw.series_for_job("x" * 63, metric_names=[], instance_count=99, instance_type="ml.p4d.24xlarge")
    )
    assert max(len(s.expression()) for s in longest) <= 2048  # GetMetricData's limit on an Expression


def test_pack_batches_counts_a_search_for_every_series_it_may_return():
    search = cw.HostSearch("j", tuple(f"j/algo-{n}" for n in range(1, 9)), cw.INSTANCE_METRICS)  # 40 series
    wanted = [(search, T0, T0 + timedelta(minutes=60))] * 3
    # 60 periods x 40 series = 2,400 points a search: two fit in 5,000, the third takes a call of its own.
    assert [len(b.keys) for b in cw.pack_batches(wanted, max_points=5_000)] == [2, 1]


def test_parse_results_maps_search_labels_back_to_host_and_metric():
    search = cw.HostSearch("j", ("j/algo-1", "j/algo-2"), ("CPUUtilization", "DiskUtilization"))
    batch = cw.Batch(T0, T0 + timedelta(minutes=5), (cw.SeriesKey("j", "train:loss"), search))
    stamp = T0 + timedelta(minutes=1)
    results = [
        {"Id": "q0", "Timestamps": [stamp], "Values": [0.5]},
        {"Id": "q1", "Label": "j/algo-2 DiskUtilization", "Timestamps": [stamp], "Values": [7.0]},
        {"Id": "q1", "Label": "j/algo-1 CPUUtilization", "Timestamps": [stamp], "Values": [90.0]},
        {"Id": "q1", "Label": "j/algo-3 CPUUtilization", "Timestamps": [stamp], "Values": [1.0]},  # not asked for
        {"Id": "q1", "Label": "jj/algo-1 CPUUtilization", "Timestamps": [stamp], "Values": [1.0]},
    ]
    got = cw.parse_results(batch, results)
    t = stamp.timestamp()
    assert got == {
        cw.SeriesKey("j", "train:loss"): [(t, 0.5)],
        cw.SeriesKey("j", "CPUUtilization", "j/algo-1"): [(t, 90.0)],
        cw.SeriesKey("j", "DiskUtilization", "j/algo-1"): [],
        cw.SeriesKey("j", "CPUUtilization", "j/algo-2"): [],
        cw.SeriesKey("j", "DiskUtilization", "j/algo-2"): [(t, 7.0)],
    }
    assert batch.queries()[1] == search.query("q1") and batch.queries()[1]["Label"] == cw.SEARCH_LABEL


def test_merge_points_replaces_the_partial_period_and_never_rewrites_older_ones():
    stored = [(0.0, 1.0), (60.0, 2.0)]
    assert cw.merge_points(stored, [(0.0, 9.0), (60.0, 2.5), (120.0, 3.0)], cursor=60.0) == [
        (0.0, 1.0),
        (60.0, 2.5),
        (120.0, 3.0),
    ]
    assert cw.merge_points(stored, [(0.0, 9.0)], cursor=60.0) == stored
    assert cw.merge_points([], [(60.0, 1.0), (0.0, 2.0)], cursor=None) == [(0.0, 2.0), (60.0, 1.0)]


def test_append_packed_matches_merge_points():
    stored = [(float(i * 60), float(i)) for i in range(100)]
    data = cw.pack_points(stored)
    new = [(5880.0, 98.0), (5940.0, 99.5), (6000.0, 100.0)]
    packed, count = cw.append_packed(data, new, cursor=5940.0)
    assert cw.unpack_points(packed) == cw.merge_points(stored, new, 5940.0)
    assert count == 101 and len(packed) == 101 * 16
    assert cw.unpack_points(b"") == []


def test_lttb_keeps_ends_count_and_peaks():
    points = [(float(i), math.sin(i / 50)) for i in range(10_000)]
    points[5_000] = (5000.0, 40.0)  # a spike averaging would hide
    out = cw.lttb(points, 400)
    assert len(out) == 400
    assert out[0] == points[0] and out[-1] == points[-1]
    assert (5000.0, 40.0) in out
    assert [p[0] for p in out] == sorted(p[0] for p in out)
    assert cw.lttb(points[:10], 400) == points[:10]


def test_cap_points_thins_to_half_the_cap():
    points = [(float(i), float(i % 7)) for i in range(3000)]
    assert len(cw.cap_points(points, 2000)) == 1000
    assert cw.cap_points(points[:100], 2000) == points[:100]


def test_refresh_display_appends_then_rebuilds():
    stored = [(float(i * 60), float(i)) for i in range(10)]
    fresh = [(600.0, 10.0)]
    packed = cw.pack_points(stored + fresh)
    display = cw.refresh_display(cw.pack_points(stored), packed, fresh, cursor=540.0)
    assert cw.unpack_points(display) == stored + fresh
    many = [(float(i * 60), float(i)) for i in range(2000)]
    rebuilt = cw.unpack_points(
        cw.refresh_display(cw.pack_points(many[:-1]), cw.pack_points(many), many[-1:], cursor=many[-2][0])
    )
    assert len(rebuilt) == cw.DISPLAY_POINTS and rebuilt[-1] == many[-1]


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ("\x1b[31mERROR\x1b[0m boom\n", "ERROR boom"),
        ("\x1b]0;title\x07plain", "plain"),
        ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("bell\x07 nul\x00 tab\tok", "bell nul tab\tok"),
        ("bad \udcff bytes", "bad \ufffd bytes"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # escaping is the template's job
        (None, ""),
    ],
)
def test_clean_log_text(message, text):
    assert cw.clean_log_text(message)[0] == text


def test_clean_log_text_truncates_and_reports_the_length():
    text, length = cw.clean_log_text("x" * 1_000_000)
    assert len(text) == cw.LINE_MAX_CHARS and length == 1_000_000
    [line] = cw.log_lines([{"timestamp": 5, "message": "y" * 3000}])
    assert line.truncated and line.timestamp_ms == 5


def test_tail_keeps_the_newest_lines():
    stored = [[i, f"l{i}", 2] for i in range(5)]
    new = cw.log_lines([{"timestamp": 9, "message": "new"}])
    assert [line[1] for line in cw.tail(stored, new, 3)] == ["l3", "l4", "new"]
    assert cw.tail(stored, new, 0) == []


def test_host_of_stream_and_console_url():
    assert cw.host_of_stream("job-1", "job-1/algo-2-1700000000") == "algo-2"
    assert cw.host_of_stream("job-1", "job-1/other") == "other"
    url = cw.log_stream_url("eu-west-1", "job-1/algo-1-17")
    assert url == (
        "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/"
        "$252Faws$252Fsagemaker$252FTrainingJobs/log-events/job-1$252Falgo-1-17"
    )


def test_error_line_prefers_the_last_traceback():
    lines = ["start", "ValueError: early", "Traceback (most recent call last):", '  File "t.py"', "KeyError: x", "done"]
    assert cw.error_line(lines) == 2
    assert cw.error_line(["ok", "CUDA out of memory: RuntimeError", "exit"]) == 1
    assert cw.error_line(["all", "fine"]) is None
