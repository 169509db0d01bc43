from jobs.domain.charts import line_chart


def test_x_ticks_are_clock_times_by_default():
    chart = line_chart("loss", [("a", [(0.0, 1.0), (3600.0, 2.0)])])
    assert [t.label for t in chart.x_ticks][:2] == ["00:00", "00:10"]


def test_x_label_words_the_ticks_and_x_range_aligns_lines():
    chart = line_chart(
        "loss",
        [("a", [(0.0, 1.0), (1800.0, 2.0)]), ("b", [(0.0, 3.0), (7200.0, 1.0)])],
        x_range=(0.0, 7200.0),
        x_label=lambda s: f"+{int(s) // 60}m",
    )
    assert [t.label for t in chart.x_ticks] == ["+0m", "+30m", "+60m", "+90m", "+120m"]
    # Both lines start at the left edge of the plot: one axis for both.
    assert [line.points.split(" ")[0].split(",")[0] for line in chart.lines] == ["48.0", "48.0"]
    assert [line.label for line in chart.lines] == ["a", "b"]
