"""The trials running now: the progress each writes while it trains, and the time the search has left.

A trial ends in the results store only when it ends, and Tune hears from it only
after a whole epoch (minutes on a CPU). So while it trains, every trial writes
a tiny JSON file, ``<store>/running/<search>/<trial id>.json``, at most every
:data:`WRITE_EVERY_S` seconds and after each epoch: its epoch and optimiser
step, and since when it has been loading and training. The driver deletes the
file once it has stored the trial's row. ``raydim status`` and the running
``raydim search`` read these files; nothing here imports Ray or torch.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from raydim.search.keys import SearchKey
from raydim.store.dataset import ResultsStore

RUNNING = "running"  # the progress files' folder in the store
PASS_LEVELS = ".pass-levels.json"  # in a search's progress folder: a dot file, so no reader takes it for a trial
WRITE_EVERY_S = 15.0  # a trial's progress is this many seconds old at most (and new after every epoch)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrialProgress:
    """One running trial as it last wrote itself; times are Unix seconds.

    ``steps_at_start`` is the step the trial's training began at in this process
    (after a restart from an epoch checkpoint, that epoch's last step).
    """

    trial_id: str
    key: str  # the trial's own key id: a full fine-tune's is its baseline key (method ``full``)
    d: int | None  # None: a full fine-tune
    epoch: int  # the epoch running, from 1
    epochs: int
    step: int  # optimiser steps done, earlier epochs included
    steps: int  # optimiser steps of the whole trial
    started_at: float  # the trial's process started: loading data and model counts from here
    training_since: float
    steps_at_start: int
    updated_at: float

    @property
    def seconds_per_step(self) -> float | None:
        """Measured over this process's training so far, epoch-end evaluations included; None before a step."""
        done = self.step - self.steps_at_start
        return (self.updated_at - self.training_since) / done if done > 0 else None

    def seconds_left(self, now: float) -> float | None:
        """Its steps left at its measured rate, less the time since it wrote; None before its first step."""
        rate = self.seconds_per_step
        return None if rate is None else max(0.0, (self.steps - self.step) * rate - (now - self.updated_at))

    @property
    def trial_seconds(self) -> float | None:
        """How long one whole trial like it takes: its loading time, then every step at its rate."""
        rate = self.seconds_per_step
        return None if rate is None else (self.training_since - self.started_at) + self.steps * rate

    def belongs_to(self, key_id: str) -> bool:
        """Counts for the search key ``key_id``: it is that key's trial, or the full fine-tune of its baseline."""
        key = SearchKey.from_id(key_id)
        return self.key in (key.id, key.baseline_key.id)


class ProgressWriter:
    """What a trial calls after every optimiser step; writes its :class:`TrialProgress` when it is due.

    Due means: the first step (the trial shows as running from then), the last
    step of an epoch, or :data:`WRITE_EVERY_S` since the last write, so a trial
    costs its store one small write per 15 s, not one per step.
    """

    def __init__(self, store: ResultsStore, experiment: str, trial_id: str, key: str, d: int | None,
                 epochs: int, started_at: float) -> None:
        self.store, self.path = store, f"{RUNNING}/{experiment}/{trial_id}.json"
        self.trial = {"trial_id": trial_id, "key": key, "d": d, "epochs": epochs, "started_at": started_at}
        self.training_since: float | None = None
        self.steps_at_start = 0
        self.written_at = -math.inf

    def __call__(self, step: int, steps: int, epoch: int) -> None:
        now = time.time()
        if self.training_since is None:  # the rate is measured from this process's first step on
            self.training_since, self.steps_at_start = now, step
        elif now - self.written_at < WRITE_EVERY_S and step * self.trial["epochs"] % steps:  # not an epoch's end
            return
        progress = TrialProgress(**self.trial, epoch=epoch, step=step, steps=steps, training_since=self.training_since,
                                 steps_at_start=self.steps_at_start, updated_at=now)
        self.written_at = now
        try:
            self.store.put_json(self.path, asdict(progress))
        except OSError as e:  # a store out of reach costs the trial its progress lines, never its run
            logger.warning("trial %s could not write its progress to %s: %s", self.trial["trial_id"], self.store.uri, e)


def read_progress(store: ResultsStore, experiment: str) -> list[TrialProgress]:
    """The progress files of ``experiment``'s running trials, oldest trial first; a file of another shape is skipped."""
    found = []
    for values in store.json_files(f"{RUNNING}/{experiment}").values():
        try:
            found.append(TrialProgress(**values))
        except TypeError:
            continue
    return sorted(found, key=lambda t: t.started_at)


def drop_progress(store: ResultsStore, experiment: str, trial_id: str) -> None:
    """The trial has ended and its row is stored: it no longer runs."""
    store.delete(f"{RUNNING}/{experiment}/{trial_id}.json")


def clear_progress(store: ResultsStore, experiment: str) -> None:
    """Drop every progress file of ``experiment``, and its pass levels. Its driver calls this as it starts, before
    any trial runs: a driver stopped hard (killed, its Ray stopped) leaves the files of the trials it was running,
    which would otherwise show in the next run under that name as trials running for hours with nothing left to
    do, and the levels of its own settings, which its trials would otherwise stop at."""
    for trial_id in store.json_files(f"{RUNNING}/{experiment}"):
        drop_progress(store, experiment, trial_id)
    PassLevels(store.uri, experiment).clear()


@functools.lru_cache(maxsize=8)
def _store_at(uri: str) -> ResultsStore:
    """One store (and filesystem) per process and URI: a trial reads its pass level after every epoch."""
    return ResultsStore(uri)


@dataclass(frozen=True)
class PassLevels:
    """Each key's pass level, published by a search's driver and read by its running trials.

    A key's pass level is the best-epoch score at which a subspace trial has passed
    and stops (:meth:`~raydim.search.policy.SearchPolicy.pass_level`: the threshold
    plus one trial's noise). A trial is proposed with the level of that moment; one
    proposed while its key's full fine-tunes still ran has none, and would train
    to its last epoch however far it cleared the threshold (on SST-2, MPNet at d =
    3,200: 0.917 after its first epoch of three, against 0.8365). And the level
    moves as the threshold gains seeds and the noise estimate trials. So the driver
    publishes the levels whenever a trial ends, and a trial rereads its key's after
    every epoch (:mod:`raydim.tune.trainable`). One small JSON file beside the
    progress files: plain values, picklable, nothing of Ray.
    """

    store_uri: str
    experiment: str

    @property
    def _path(self) -> str:
        return f"{RUNNING}/{self.experiment}/{PASS_LEVELS}"

    @property
    def _store(self) -> ResultsStore:
        return _store_at(self.store_uri)

    def publish(self, levels: Mapping[str, float]) -> None:
        """Replace the levels: ``{key id: level}`` for every key that has one. A store out of reach is logged: the
        trials then stop at the levels they were proposed with, as before."""
        try:
            self._store.put_json(self._path, dict(levels))
        except OSError as e:
            logger.warning("the pass levels of search %s could not be written to %s: %s", self.experiment,
                           self.store_uri, e)

    def read(self, key_id: str) -> float | None:
        """The level of ``key_id`` as last published; None where none is (or the store is out of reach)."""
        levels = self._store.get_json(self._path)
        level = levels.get(key_id) if isinstance(levels, dict) else None
        return float(level) if isinstance(level, (int, float)) else None

    def clear(self) -> None:
        self._store.delete(self._path)


@dataclass(frozen=True)
class TimeLeft:
    """Seconds left per search key and for the whole search; None where no running trial has measured a rate."""

    per_key: dict[str, float | None]
    total: float | None


def time_left(running: Sequence[TrialProgress], trials_left: Mapping[str, int], parallelism: int, slots: int,
              now: float) -> TimeLeft:
    """The time the search has left if every key spends its whole trial budget, its trial slots kept busy.

    * A running trial has its steps left × its seconds per step (measured over its
      training so far, evaluations included) left.
    * A trial not yet started takes as long as a whole trial of its key measured so
      far (loading, then every step at the measured rate), averaged over the key's
      running trials, else over every running trial.
    * A key's work is its running trials' time left plus ``trials_left`` × that
      trial time; it has at least its longest running trial left, and at least its
      work spread over its share of the slots: its ``parallelism``, or more once
      other keys are done — the policy gives a finished key's slots to the keys
      that still have trials to run, so the ``slots`` are shared among those. The
      search has its keys' work (a shared full fine-tune counted once) spread over
      all ``slots``, and at least its longest running trial.

    It is an upper end in one way: a key that settles its d90 early, or a trial that
    stops once it has passed, ends sooner. ``trials_left`` is each key's trials
    that may still start (its budget less the trials already run or running).
    """
    rates = [t.trial_seconds for t in running if t.trial_seconds is not None]
    overall = sum(rates) / len(rates) if rates else None
    per_key: dict[str, float | None] = {}
    future_work: float | None = 0.0
    busy = [key for key, left in trials_left.items() if left or any(t.belongs_to(key) for t in running)]
    share = max(parallelism, slots / max(1, len(busy)))
    for key, left in trials_left.items():
        mine = [t for t in running if t.belongs_to(key)]
        remaining = [t.seconds_left(now) for t in mine]
        own = [t.trial_seconds for t in mine if t.trial_seconds is not None]
        trial_time = sum(own) / len(own) if own else overall
        if None in remaining or (left and trial_time is None):
            per_key[key], future_work = None, None
            continue
        future = left * trial_time if left else 0.0
        per_key[key] = max(max(remaining, default=0.0), (sum(remaining) + future) / max(1, share))
        future_work = None if future_work is None else future_work + future
    running_left = [t.seconds_left(now) for t in running]
    if future_work is None or None in running_left:
        return TimeLeft(per_key, None)
    total = max(max(running_left, default=0.0), (sum(running_left) + future_work) / max(1, slots))
    return TimeLeft(per_key, total)
