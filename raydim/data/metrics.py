"""GLUE metrics and the trivial baseline every d90 must beat.

Metric names follow the ``evaluate`` library's GLUE metric (``accuracy``, ``f1``,
``matthews_correlation``, ``pearson``, ``spearmanr``). Degenerate inputs — a
constant prediction, which is exactly what the trivial baseline is — get the
conventional value 0.0 for the correlation metrics instead of NaN, so a trivial
predictor always scores "no better than chance".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

from raydim.data.tasks import Task

ArrayLike = Sequence[float] | np.ndarray


def accuracy(predictions: ArrayLike, labels: ArrayLike) -> float:
    p, y = np.asarray(predictions), np.asarray(labels)
    return float(np.mean(p == y))


def f1(predictions: ArrayLike, labels: ArrayLike) -> float:
    """Binary F1 of the positive class (label id 1), as GLUE reports it for MRPC and QQP."""
    p, y = np.asarray(predictions) == 1, np.asarray(labels) == 1
    tp = float(np.sum(p & y))
    denominator = float(np.sum(p) + np.sum(y))
    return 0.0 if denominator == 0 else 2.0 * tp / denominator


def matthews_correlation(predictions: ArrayLike, labels: ArrayLike) -> float:
    """Multi-class Matthews correlation (Gorodkin's R_K); 0.0 when either side is constant."""
    p, y = np.asarray(predictions), np.asarray(labels)
    classes = np.union1d(p, y)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.float64)
    np.add.at(confusion, (np.searchsorted(classes, y), np.searchsorted(classes, p)), 1.0)
    t, q = confusion.sum(axis=1), confusion.sum(axis=0)  # true and predicted counts per class
    n, correct = confusion.sum(), np.trace(confusion)
    denominator = np.sqrt((n * n - q @ q) * (n * n - t @ t))
    return 0.0 if denominator == 0 else float((correct * n - q @ t) / denominator)


def _correlation(fn: Callable[[np.ndarray, np.ndarray], object], predictions: ArrayLike, labels: ArrayLike) -> float:
    p, y = np.asarray(predictions, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if len(p) < 2 or np.ptp(p) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(fn(p, y)[0])  # type: ignore[index]


def pearson(predictions: ArrayLike, labels: ArrayLike) -> float:
    return _correlation(stats.pearsonr, predictions, labels)


def spearmanr(predictions: ArrayLike, labels: ArrayLike) -> float:
    return _correlation(stats.spearmanr, predictions, labels)


METRICS: dict[str, Callable[[ArrayLike, ArrayLike], float]] = {
    "accuracy": accuracy,
    "f1": f1,
    "matthews_correlation": matthews_correlation,
    "pearson": pearson,
    "spearmanr": spearmanr,
}


def compute_metrics(task: Task, predictions: ArrayLike, labels: ArrayLike) -> dict[str, float]:
    """All of ``task``'s metrics for one split. Predictions are class ids, or scores for regression."""
    if len(predictions) != len(labels):
        raise ValueError(f"got {len(predictions)} predictions for {len(labels)} labels")
    return {name: METRICS[name](predictions, labels) for name in task.metrics}


def trivial_prediction(task: Task, train_labels: ArrayLike) -> float:
    """The constant a predictor that ignores its input would output, fitted on the train split.

    The majority class for classification (ties go to the lowest id), the mean
    target for regression.
    """
    y = np.asarray(train_labels)
    if task.is_regression:
        return float(np.mean(y))
    return float(np.argmax(np.bincount(y.astype(np.int64), minlength=task.num_labels)))


def trivial_baseline(task: Task, train_labels: ArrayLike, split_labels: ArrayLike) -> dict[str, float]:
    """Metrics of the constant predictor on one split: the floor a meaningful d90 must clear."""
    constant = trivial_prediction(task, train_labels)
    predictions = np.full(len(split_labels), constant)
    return compute_metrics(task, predictions, split_labels)
