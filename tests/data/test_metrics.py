"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from raydim.data import GLUE_TASKS, compute_metrics, trivial_baseline
from raydim.data.metrics import accuracy, f1, matthews_correlation, pearson, spearmanr


def test_accuracy_and_f1_by_hand() -> None:
    p, y = [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]
    assert accuracy(p, y) == pytest.approx(3 / 5)
    # tp=2, fp=1, fn=1: F1 = 2*2 / (2*2 + 1 + 1)
    assert f1(p, y) == pytest.approx(4 / 6)


def test_matthews_binary_by_hand() -> None:
    p, y = [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]
    tp, tn, fp, fn = 2, 1, 1, 1
    expected = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert matthews_correlation(p, y) == pytest.approx(expected)


def test_matthews_multiclass_perfect_and_constant() -> None:
    assert matthews_correlation([0, 1, 2, 2], [0, 1, 2, 2]) == pytest.approx(1.0)
    assert matthews_correlation([1, 1, 1, 1], [0, 1, 2, 2]) == 0.0


def test_correlations_by_hand() -> None:
    p, y = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 5.0, 4.0]
    # pearson: cov / (sd_p * sd_y) with means 2.5 and 3.75
    dp, dy = [-1.5, -0.5, 0.5, 1.5], [-1.75, 0.25, 1.25, 0.25]
    expected = sum(a * b for a, b in zip(dp, dy)) / math.sqrt(sum(a * a for a in dp) * sum(b * b for b in dy))
    assert pearson(p, y) == pytest.approx(expected)
    # ranks of y with the tie averaged: 1, 2.5, 4, 2.5
    ry = [1.0, 2.5, 4.0, 2.5]
    assert spearmanr(p, y) == pytest.approx(pearson([1, 2, 3, 4], ry))
    assert pearson([3.0, 3.0, 3.0], [1.0, 2.0, 3.0]) == 0.0  # constant predictor: no correlation


def test_compute_metrics_uses_the_task_metrics() -> None:
    assert set(compute_metrics(GLUE_TASKS["mrpc"], [1, 0], [1, 1])) == {"accuracy", "f1"}
    assert set(compute_metrics(GLUE_TASKS["cola"], [1, 0], [1, 1])) == {"matthews_correlation", "accuracy"}
    with pytest.raises(ValueError, match="2 predictions for 3 labels"):
        compute_metrics(GLUE_TASKS["rte"], [1, 0], [1, 1, 0])


def test_trivial_baseline_majority_and_constant() -> None:
    cola = trivial_baseline(GLUE_TASKS["cola"], train_labels=[1, 1, 0], split_labels=[1, 0, 0, 1])
    assert cola == {"matthews_correlation": 0.0, "accuracy": 0.5}
    mnli = trivial_baseline(GLUE_TASKS["mnli"], train_labels=[2, 2, 1, 0], split_labels=[2, 0, 0])
    assert mnli["accuracy"] == pytest.approx(1 / 3)
    stsb = trivial_baseline(GLUE_TASKS["stsb"], train_labels=[1.0, 3.0], split_labels=[0.5, 4.5])
    assert stsb == {"pearson": 0.0, "spearmanr": 0.0}
