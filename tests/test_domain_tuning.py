"""jobs.domain.tuning: objective choice, best trial, sorting, scatter coordinates."""

from __future__ import annotations

import math

from jobs.domain import tuning


def test_name_and_suffix_of_an_arn():
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/hpo-7"
    assert tuning.name_of(arn) == "hpo-7"
    assert arn.endswith(tuning.arn_suffix("hpo-7"))
    assert not arn.endswith(tuning.arn_suffix("po-7"))


def test_as_number_accepts_finite_floats_only():
    assert tuning.as_number("0.001") == 0.001
    assert tuning.as_number(" 64 ") == 64.0
    assert tuning.as_number(3) == 3.0
    for value in ("adam", "", "nan", "inf", None, True, "1e999"):
        assert tuning.as_number(value) is None


def test_numeric_keys_drop_categorical_ones():
    params = [
        {"lr": "0.1", "optimizer": "adam", "layers": "2", "mixed": "3"},
        {"lr": "0.01", "optimizer": "sgd", "layers": "4", "mixed": "auto"},
        {"lr": "0.2"},
    ]
    assert tuning.numeric_keys(params) == ["layers", "lr"]


def test_default_objective_prefers_a_loss_else_the_first_name():
    assert tuning.default_objective(["validation:accuracy", "train:loss", "a:f1"]) == "train:loss"
    assert tuning.default_objective(["validation:accuracy", "a:f1"]) == "a:f1"
    assert tuning.default_objective([]) == ""


def test_default_objective_is_the_one_the_trials_were_tuned_on():
    names = ["validation:accuracy", "train:loss"]
    tuned = [
        {"_tuning_objective_metric": '"validation:accuracy"', "lr": "0.1"},
        {"_tuning_objective_metric": "validation:accuracy"},
    ]
    assert tuning.default_objective(names, tuned) == "validation:accuracy"
    # A name no trial reported, or trials that disagree, fall back to the name rule.
    assert tuning.default_objective(names, [{"_tuning_objective_metric": "auc"}]) == "train:loss"
    assert (
        tuning.default_objective(
            names, [{"_tuning_objective_metric": "validation:accuracy"}, {"_tuning_objective_metric": "train:loss"}]
        )
        == "train:loss"
    )


def test_direction_given_wins_over_the_name():
    assert tuning.minimizes("validation:loss", "") is True
    assert tuning.minimizes("validation:accuracy", "") is False
    assert tuning.minimizes("validation:loss", "max") is False
    assert tuning.minimizes("validation:accuracy", "min") is True
    assert tuning.minimizes("validation:accuracy", "bogus") is False


def test_best_index_for_both_directions():
    values = [0.5, None, 0.2, 0.9, math.nan, 0.2]
    assert tuning.best_index(values, minimize=True) == 2  # the first of the tie
    assert tuning.best_index(values, minimize=False) == 3
    assert tuning.best_index([None, math.inf], minimize=True) is None
    assert tuning.best_index([], minimize=False) is None


def test_sort_positions_put_missing_values_last():
    values = [0.5, None, 0.2, 0.9, None]
    assert tuning.sort_positions(values, descending=False) == [2, 0, 3, 1, 4]
    assert tuning.sort_positions(values, descending=True) == [3, 0, 2, 1, 4]


def test_scatter_maps_extremes_to_the_plot_edges():
    plot = tuning.scatter("lr", [(0.0, 0.0, "a"), (1.0, 1.0, "b"), (0.5, 0.5, "c")], best_label="b")
    by_label = {d.label: d for d in plot.dots}
    assert by_label["a"].x == plot.plot_left and by_label["a"].y == plot.plot_bottom
    assert by_label["b"].x == plot.plot_right and by_label["b"].y == plot.plot_top
    mid_x = (plot.plot_left + plot.plot_right) / 2
    mid_y = (plot.plot_top + plot.plot_bottom) / 2
    assert math.isclose(by_label["c"].x, mid_x, abs_tol=0.1) and math.isclose(by_label["c"].y, mid_y, abs_tol=0.1)
    assert [d.label for d in plot.dots if d.best] == ["b"]
    assert plot.x_ticks[0].label == "0.0" and plot.x_ticks[-1].at == plot.plot_right
    assert all(plot.plot_top <= t.at <= plot.plot_bottom for t in plot.y_ticks)


def test_scatter_of_one_value_and_of_nothing():
    one = tuning.scatter("epochs", [(10.0, 0.3, "a"), (10.0, 0.3, "b")])
    assert all(one.plot_left < d.x < one.plot_right and one.plot_top < d.y < one.plot_bottom for d in one.dots)
    empty = tuning.scatter("epochs", [(math.nan, 1.0, "a")])
    assert empty.dots == [] and empty.x_ticks == []


def test_parse_description_reads_the_objective_and_survives_junk():
    raw = {
        "HyperParameterTuningJobStatus": "InProgress",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 50},
        },
    }
    assert tuning.parse_description(raw) == tuning.TuningDescription(
        "InProgress", "validation:rmse", "Minimize", "Bayesian", 50
    )
    junk = {
        "HyperParameterTuningJobConfig": {
            "HyperParameterTuningJobObjective": {"Type": "Sideways"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": True},
        }
    }
    assert tuning.parse_description(junk) == tuning.TuningDescription("", "", "", "", None)
    assert tuning.parse_description({"HyperParameterTuningJobConfig": "x"}).objective_metric == ""
