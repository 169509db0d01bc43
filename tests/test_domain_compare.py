import math

import pytest

from jobs.domain.compare import best_indexes, differs, lower_is_better, union_keys


@pytest.mark.parametrize(
    "name",
    ["train:loss", "validation:Loss", "val_error", "test:rmse", "mae", "validation:mse", "objective_loss_avg"],
)
def test_losses_and_errors_read_best_when_smallest(name):
    assert lower_is_better(name)


@pytest.mark.parametrize("name", ["validation:accuracy", "f1", "auc", "train:throughput"])
def test_other_metrics_read_best_when_largest(name):
    assert not lower_is_better(name)


def test_best_is_the_smallest_loss():
    assert best_indexes("validation:loss", [0.3, 0.1, 0.2]) == {1}


def test_best_is_the_largest_accuracy():
    assert best_indexes("validation:accuracy", [0.3, 0.9, 0.95]) == {2}


def test_ties_mark_every_best_and_missing_values_are_never_best():
    assert best_indexes("accuracy", [0.9, None, 0.9, 0.5]) == {0, 2}
    assert best_indexes("loss", [None, math.nan, 2.0, math.inf, 1.0]) == {4}


def test_a_lone_value_is_not_marked_best():
    assert best_indexes("loss", [None, 0.4, None]) == set()
    assert best_indexes("loss", []) == set()


def test_all_equal_values_mark_nothing():
    assert best_indexes("loss", [0.25, 0.25, None, 0.25]) == set()


def test_differs_counts_a_missing_value_as_different():
    assert not differs(["10", "10", "10"])
    assert differs(["10", "10", "11"])
    assert differs(["10", None])
    assert not differs([None, None])


def test_union_keys_is_sorted_and_unique():
    assert union_keys([{"lr": 1, "epochs": 2}, {"batch": 3, "lr": 4}, {}]) == ["batch", "epochs", "lr"]
