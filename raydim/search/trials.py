"""Trials and one key's history of them: everything a strategy decides from.

The policy keeps nothing but these records, keyed by trial id; every decision
(bracket, fitted scores, next learning rate) is recomputed from them, so a
policy rebuilt from saved records decides exactly as the original would have.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from raydim.search.keys import FULL, SearchKey

RUNNING, COMPLETED, FAILED = "running", "completed", "failed"


@dataclass(frozen=True)
class TrialRequest:
    """One fine-tune to run: a full one (``d is None``, ``key.method == "full"``) or one in a d-dim subspace."""

    trial_id: str
    key: SearchKey
    d: int | None
    lr: float
    seed: int
    attempt: int = 0  # 0: first run; n: the n-th rerun of a failed (or collapsed) trial
    retry_of: str | None = None
    stop_above: float | None = None  # the trial has passed, and may stop, once its best epoch reaches this

    @property
    def is_baseline(self) -> bool:
        return self.key.method == FULL

    def config(self) -> dict[str, Any]:
        """What the trainable needs, flat, as a Ray Tune config: (method, seed, d, model) fix the subspace.

        ``attempt`` and ``retry_of`` ride along so whoever records the finished
        trial (the results store) can tell a rerun from the original.
        """
        return {"trial_id": self.trial_id, **self.key.to_dict(), "d": self.d, "lr": self.lr, "seed": self.seed,
                "attempt": self.attempt, "retry_of": self.retry_of, "stop_above": self.stop_above}

    def to_dict(self) -> dict[str, Any]:
        return self.config()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialRequest:
        key = SearchKey(data["task"], data["model"], data["checkpoint"], data["method"])
        return cls(data["trial_id"], key, data["d"], data["lr"], data["seed"], data["attempt"], data["retry_of"],
                   data.get("stop_above"))


class Point(NamedTuple):
    """What a strategy asks for: a subspace fine-tune at ``d`` with this learning rate and seed
    (``d`` None: another full fine-tune of the key's baseline, to pin its threshold down)."""

    d: int | None
    lr: float
    seed: int


@dataclass
class TrialRecord:
    request: TrialRequest
    status: str = RUNNING
    metric: float | None = None
    censored: bool = False  # stopped early once it had passed: the final score is at least ``metric``
    diverged: bool = False  # failed on its learning rate (NaN loss, collapse to the prior): a rerun lowers it
    train_metric: float | None = None  # the best epoch's primary metric on train rows: did the run learn at all?

    def to_dict(self) -> dict[str, Any]:
        return {"request": self.request.to_dict(), "status": self.status, "metric": self.metric,
                "censored": self.censored, "diverged": self.diverged, "train_metric": self.train_metric}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialRecord:
        return cls(TrialRequest.from_dict(data["request"]), data["status"], data["metric"],
                   data.get("censored", False), data.get("diverged", False), data.get("train_metric"))


def distinct(records: Iterable[TrialRecord]) -> list[TrialRecord]:
    """The completed records, one per (key, d, lr, seed): the first. A trial run again at the same point and seed (a
    rerun of a collapse that a reused search already held, a row copied twice) repeats its score; counted twice
    it would pass for a second seed, narrow the interval and, as a zero-spread replicate, shrink the noise."""
    seen: set[tuple] = set()
    out = []
    for r in records:
        point = (r.request.key.id, r.request.d, r.request.lr, r.request.seed)
        if r.status == COMPLETED and point not in seen:
            seen.add(point)
            out.append(r)
    return out


@dataclass(frozen=True)
class DScore:
    """The score of one d: the best over its learning rates of the mean over seeds (the paper's protocol)."""

    d: int
    score: float
    seeds: int  # seeds behind the best lr's mean: the score's weight in the monotone fit
    best_lr: float
    lrs: tuple[float, ...]  # every lr with a completed trial at this d, in the order tried


@dataclass
class KeyHistory:
    """One key's trials (its baseline group's full fine-tunes included), oldest first.

    ``excluded`` names trials that are evidence about their learning rate, not
    about d (collapsed runs awaiting their rerun at a lower rate): no score counts them.
    """

    records: list[TrialRecord]
    max_retries: int
    excluded: frozenset[str] = frozenset()
    lr_step: float = 3.0  # a learning-rate failure's rerun is at lr ÷ this (SearchSettings.lr_step)
    _named: set[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._named = {r.request.retry_of for r in self.records if r.request.retry_of is not None}

    def rerun_named(self, trial_id: str) -> bool:
        """A trial on record says it reran ``trial_id`` (its ``retry_of``)."""
        return trial_id in self._named

    def rerun_exists(self, request: TrialRequest) -> bool:
        """A trial at ``request``'s d and seed and lr ÷ ``lr_step`` is on record: its rerun at a lower rate, whether
        or not it says so (one reused from another search, or copied by an older raydim, has lost its retry_of)."""
        lr = request.lr / self.lr_step
        return any(r.request.d == request.d and r.request.seed == request.seed and math.isclose(r.request.lr, lr)
                   for r in self.records)

    def baseline(self) -> list[TrialRecord]:
        return [r for r in self.records if r.request.is_baseline]

    def subspace(self) -> list[TrialRecord]:
        return [r for r in self.records if not r.request.is_baseline]

    def running(self) -> list[TrialRecord]:
        return [r for r in self.records if r.status == RUNNING]

    def is_dead(self, record: TrialRecord) -> bool:
        """Failed and out of retries (or already retried): it will never produce a metric."""
        return record.status == FAILED and (record.request.attempt >= self.max_retries
                                            or self.rerun_named(record.request.trial_id)
                                            or record.diverged and self.rerun_exists(record.request))

    def retry_due(self) -> TrialRecord | None:
        """The oldest failed trial that may still be rerun and has not been yet."""
        for r in self.records:
            if r.status == FAILED and not self.is_dead(r):
                return r
        return None

    def settled(self, records: list[TrialRecord]) -> bool:
        """Every one of these trials has a metric or never will."""
        return all(r.status == COMPLETED or self.is_dead(r) for r in records)

    def failed_count(self) -> int:
        """Trials given up on: failed on their last allowed attempt."""
        return sum(1 for r in self.records if r.status == FAILED and r.request.attempt >= self.max_retries)

    def running_ds(self) -> set[int]:
        return {r.request.d for r in self.subspace() if r.status == RUNNING}

    def tried(self, d: int) -> list[TrialRequest]:
        """Every trial ever proposed at ``d``, whatever became of it."""
        return [r.request for r in self.subspace() if r.request.d == d]

    def tried_ds(self) -> set[int]:
        return {r.request.d for r in self.subspace()}

    def baseline_metric(self) -> float | None:
        """Best over learning rates of the mean over seeds, like every score; None if none completed."""
        return self.baseline_score()[0]

    def baseline_score(self) -> tuple[float | None, float | None, int]:
        """(best mean, its lr, its number of seeds) of the full fine-tunes."""
        return _best_of_means([(r.request.lr, r.metric) for r in distinct(self.baseline())])[:3]

    def baseline_train_score(self) -> float | None:
        """The train-row score of the full fine-tunes at their best lr (mean over seeds); None if none measured it."""
        _, lr, _ = self.baseline_score()
        values = [r.train_metric for r in distinct(self.baseline()) if r.request.lr == lr and r.train_metric is not None]
        return sum(values) / len(values) if values else None

    def counted(self) -> list[TrialRecord]:
        """Completed subspace trials that count as evidence about d: not ``excluded``, each point and seed once."""
        return [r for r in distinct(self.subspace()) if r.request.trial_id not in self.excluded]

    def scores(self) -> list[DScore]:
        """One :class:`DScore` per d with a counted trial, by increasing d."""
        by_d: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for r in self.counted():
            by_d[r.request.d].append((r.request.lr, r.metric))
        scores = []
        for d in sorted(by_d):
            score, best_lr, seeds, lrs = _best_of_means(by_d[d])
            scores.append(DScore(d=d, score=score, seeds=seeds, best_lr=best_lr, lrs=lrs))
        return scores

    def best_lr_trials(self) -> list[TrialRecord]:
        """The counted trials at each d's best learning rate: what the crossing fit sees."""
        best = {s.d: s.best_lr for s in self.scores()}
        return [r for r in self.counted() if r.request.lr == best[r.request.d]]


def _best_of_means(results: list[tuple[float, float]]) -> tuple[float | None, float | None, int, tuple[float, ...]]:
    """(best mean, its lr, its number of seeds, all lrs in order) over (lr, metric) pairs."""
    by_lr: dict[float, list[float]] = defaultdict(list)
    for lr, metric in results:
        by_lr[lr].append(metric)
    best: tuple[float | None, float | None, int] = (None, None, 0)
    for lr, metrics in by_lr.items():
        mean = sum(metrics) / len(metrics)
        if best[0] is None or mean > best[0]:
            best = (mean, lr, len(metrics))
    return (*best, tuple(by_lr))
