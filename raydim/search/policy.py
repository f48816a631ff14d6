"""The search policy: for many keys at once, which fine-tunes to run next, from nothing but the trials so far.

Order of calls, as a Ray Tune ``Searcher`` adapter makes them:

1. :meth:`SearchPolicy.propose` whenever ``n`` trial slots are free: up to ``n``
   :class:`~raydim.search.trials.TrialRequest`, interleaved fairly across keys. A key
   waiting on its running trials proposes nothing and the others fill the slots; an
   empty answer with :meth:`finished` false means "wait".
2. :meth:`record_result` / :meth:`record_failure` when a trial ends, by trial id. A
   second completion of the same id is a warning, not a second data point; a failure
   is rerun ``max_retries`` times, then counted as failed, so nothing waits forever.
   A diverged run (NaN loss) and a collapsed one (far below its neighbours in d:
   :mod:`raydim.search.collapse`) failed on their learning rate: their reruns use
   lr ÷ ``lr_step``, and a collapsed trial counts only once its reruns are spent.
3. :meth:`finished` once every key is done; :meth:`results` then gives one
   :class:`~raydim.search.results.KeyResult` per key, :meth:`progress` any time before.
4. :meth:`state_dict` / :meth:`from_state_dict` to checkpoint and resume; the policy
   also pickles. Its only state is the trial records: every decision is recomputed
   from them, so a restored policy continues exactly as the original would have.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from raydim.errors import RaydimError
from raydim.search.collapse import TrainScale, collapsed
from raydim.search.crossing import Reference
from raydim.search.keys import KeyTarget
from raydim.search.noise import noise_factor, replicate_groups, sampling_sd
from raydim.search.results import (BASELINE_SUPPLIED, BUDGET_EXHAUSTED, INCOMPLETE, NO_BASELINE,
                                   THRESHOLD_IN_NOISE, KeyProgress, KeyResult, Outcome)
from raydim.search.settings import SearchSettings
from raydim.search.thresholds import BASELINE_AT_CHANCE, Thresholds, thresholds
from raydim.search.trials import COMPLETED, FAILED, RUNNING, KeyHistory, TrialRecord, TrialRequest, distinct
from raydim.strategies import Strategy, get_strategy

STATE_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1 states (no censoring, no divergence flag) load with those fields off
BASELINE_FAILED = "baseline_failed"  # result flag: every full fine-tune failed


class SearchPolicy:
    """d90 for every key of ``targets`` under one set of ``settings``. Free of Ray: see the module docstring."""

    def __init__(self, targets: Sequence[KeyTarget], settings: SearchSettings | None = None) -> None:
        self.settings = settings or SearchSettings()
        if not targets:
            raise RaydimError("SearchPolicy needs at least one KeyTarget to search")
        self.targets: dict[str, KeyTarget] = {}
        for target in targets:
            if target.key.id in self.targets:
                raise RaydimError(f"key {target.key.id} is given twice; give each (task, model, checkpoint, method) once")
            self.targets[target.key.id] = target
        self.strategy: Strategy = get_strategy(self.settings.strategy)(self.settings)
        self._trials: dict[str, TrialRecord] = {}
        self._order: dict[str, int] = {}  # trial id → when it was proposed
        self._by_key: dict[str, list[TrialRecord]] = {}  # request.key.id → records; baselines under the "full" key
        self._cursor = 0  # the key that gets the first slot next time: rotates for fairness

    # -- proposing ---------------------------------------------------------------------------------------------

    def propose(self, n: int, trial_ids: Sequence[str] | None = None) -> list[TrialRequest]:
        """Up to ``n`` trials to start now, one key at a time in rotation; they count as running from here.

        ``trial_ids`` names them (a Tune adapter passes the id ``suggest`` got);
        by default they are numbered ``t00000``, ``t00001``, ...
        """
        if trial_ids is not None:
            if len(trial_ids) < n or len(set(trial_ids)) < len(trial_ids):
                raise ValueError(f"propose({n}) needs {n} distinct trial ids, got {list(trial_ids)}")
            known = [t for t in trial_ids if t in self._trials]
            if known:
                raise ValueError(f"trial ids {known} were already proposed; each trial needs a new id")
        order = list(self.targets)
        order = order[self._cursor:] + order[:self._cursor]
        self._cursor = (self._cursor + 1) % len(order)
        # the keys' slots together: shared full fine-tunes let a key start beside them, never beyond the total
        running = sum(r.status == RUNNING for r in self._trials.values())
        n = min(n, self.settings.parallelism * len(self.targets) - running)
        proposed: list[TrialRequest] = []
        # Each key up to its own slots first; then the slots of keys that have nothing to run (finished, or
        # waiting on their results) go to keys that do, so a key that ends early does not leave its CPU idle.
        for cap in (self.settings.parallelism, self.settings.parallelism * len(self.targets)):
            keys = list(order)
            while len(proposed) < n and keys:
                for key_id in list(keys):
                    if len(proposed) == n:
                        break
                    request = self._next_request(key_id, cap)
                    if request is None:
                        keys.remove(key_id)
                    else:
                        name = trial_ids[len(proposed)] if trial_ids is not None else f"t{len(self._trials):05d}"
                        request = replace(request, trial_id=name)
                        self._add(TrialRecord(request))
                        proposed.append(request)
        return proposed

    def _slots_held(self, key_id: str, history: KeyHistory) -> float:
        """The key's running trials against its ``parallelism``: a full fine-tune the keys of one (task, model,
        checkpoint) share counts a share each, so that two keys waiting on one baseline do not leave a slot idle
        (SAID and DID with one slot each would otherwise run a single trial until the threshold is known)."""
        baseline_key = self.targets[key_id].key.baseline_key
        sharing = sum(t.key.baseline_key == baseline_key and t.baseline is None for t in self.targets.values())
        return sum(1.0 if not r.request.is_baseline else 1.0 / max(sharing, 1) for r in history.running())

    def _next_request(self, key_id: str, slots: float | None = None) -> TrialRequest | None:
        """The key's next trial, id still blank: a rerun, else a missing full fine-tune, else the strategy's pick;
        None while the key holds ``slots`` running trials (default: its ``parallelism``).

        Asking changes nothing, so :meth:`finished` asks too.
        """
        s, target = self.settings, self.targets[key_id]
        history = self.history(key_id)
        slots = s.parallelism if slots is None else slots
        if self._slots_held(key_id, history) >= slots or len(history.records) >= s.max_trials:
            return None
        rerun = self._rerun_due(key_id, history)
        if rerun is not None:
            return rerun
        if target.baseline is None:
            tried = {(r.request.seed, r.request.lr) for r in history.baseline()}
            for seed in range(s.seed, s.seed + s.baseline_seeds):
                for lr in s.baseline_lrs:
                    if (seed, lr) not in tried:
                        return TrialRequest("", target.key.baseline_key, None, lr, seed)
        limits = self._thresholds(key_id, history)
        if limits is None and history.settled(history.baseline()) and target.baseline is None:
            return None  # every full fine-tune failed: no threshold, nothing to search against
        if limits is not None and (BASELINE_AT_CHANCE in limits.flags or self._in_noise(key_id, limits)):
            return None  # the threshold does not stand out from a constant predictor: d90 would measure nothing
        reference = self.reference(key_id, history) if limits is not None else None
        points = self.strategy.next_trials(history, reference, 1, key_id)
        if not points:
            return None
        d, lr, seed = points[0]
        if d is None:
            return TrialRequest("", target.key.baseline_key, None, lr, seed)
        return TrialRequest("", target.key, d, lr, seed, stop_above=self.pass_level(key_id, history))

    def pass_level(self, key_id: str, history: KeyHistory | None = None) -> float | None:
        """The best-epoch score at which a subspace trial of the key has passed and stops: the threshold plus one
        trial's noise, so that the stopped trial's score, a lower bound, still reads as a pass. None while the
        threshold is unknown, and without ``early_stop``."""
        reference = self.reference(key_id, history) if self.settings.early_stop else None
        return None if reference is None else reference.threshold() + reference.noise_sd

    def pass_levels(self) -> dict[str, float]:
        """:meth:`pass_level` of every key that has one, for the trials already running: the driver publishes them
        (:class:`~raydim.store.running.PassLevels`) as they change."""
        levels = {key_id: self.pass_level(key_id) for key_id in self.targets}
        return {key_id: level for key_id, level in levels.items() if level is not None}

    def _rerun_due(self, key_id: str, history: KeyHistory) -> TrialRequest | None:
        """A rerun of the oldest failed trial, else of the oldest collapsed one; a learning-rate failure
        (diverged, collapsed) reruns at lr ÷ ``lr_step``, same d and seed."""
        failed = history.retry_due()
        if failed is not None:
            lr = failed.request.lr / self.settings.lr_step if failed.diverged else failed.request.lr
            return replace(failed.request, trial_id="", lr=lr, attempt=failed.request.attempt + 1,
                           retry_of=failed.request.trial_id)
        for record in self._collapsed(key_id, history):
            q = record.request
            if not history.rerun_named(q.trial_id) and not history.rerun_exists(q) \
                    and q.attempt < self.settings.max_retries:
                return replace(q, trial_id="", lr=q.lr / self.settings.lr_step, attempt=q.attempt + 1,
                               retry_of=q.trial_id)
        return None

    def _add(self, record: TrialRecord) -> None:
        self._order[record.request.trial_id] = len(self._order)
        self._trials[record.request.trial_id] = record
        self._by_key.setdefault(record.request.key.id, []).append(record)

    # -- recording ---------------------------------------------------------------------------------------------

    def record_result(self, trial_id: str, metric: float, censored: bool = False,
                      train_metric: float | None = None) -> None:
        """The trial's score (its best epoch's primary metric); ``censored``: it stopped early once it had
        passed, so its final score would have been at least this; ``train_metric``: the same epoch's score on
        train rows, which tells a run that learned nothing (:mod:`raydim.search.collapse`). A non-finite metric
        (a diverged run) is recorded as a diverged failure."""
        record = self._running(trial_id, "result")
        if record is None:
            return
        if not math.isfinite(metric):
            warnings.warn(f"trial {trial_id} reported metric {metric}; recorded as a failure", stacklevel=2)
            record.status, record.diverged = FAILED, True
            return
        record.status, record.metric, record.censored = COMPLETED, float(metric), bool(censored)
        record.train_metric = _finite_or_none(train_metric)

    def record_failure(self, trial_id: str, diverged: bool = False, train_metric: float | None = None) -> None:
        """The trial errored; it is rerun (same d and seed; lr ÷ ``lr_step`` if it ``diverged``) until
        ``max_retries`` reruns have failed too. A diverged trial's ``train_metric`` (its best epoch's, before it
        diverged) says whether its subspace could learn (:mod:`raydim.search.collapse`)."""
        record = self._running(trial_id, "failure")
        if record is not None:
            record.status, record.diverged = FAILED, bool(diverged)
            record.train_metric = _finite_or_none(train_metric) if diverged else None

    def record_finished(self, request: TrialRequest, metric: float | None, censored: bool = False,
                        diverged: bool = False, train_metric: float | None = None) -> None:
        """A trial that ended outside this policy's run, recorded as one of its own: completed with ``metric``
        (``censored`` and ``train_metric`` as in :meth:`record_result`), or failed when ``metric`` is None or not
        finite.

        For trials reused from a results store (call it before the first
        :meth:`propose`: the strategy then starts from a history that holds them
        and never proposes them again), and for rebuilding a search from its rows.
        """
        if request.trial_id in self._trials:
            raise ValueError(f"trial id {request.trial_id!r} is already recorded; give each trial its own id")
        done = metric is not None and math.isfinite(metric)
        self._add(TrialRecord(request, COMPLETED if done else FAILED, float(metric) if done else None,
                              censored=done and censored, diverged=not done and diverged,
                              train_metric=_finite_or_none(train_metric) if done or diverged else None))

    def _running(self, trial_id: str, what: str) -> TrialRecord | None:
        record = self._trials.get(trial_id)
        if record is None:
            warnings.warn(f"{what} for unknown trial {trial_id!r} ignored: this policy never proposed it",
                          stacklevel=3)
        elif record.status != RUNNING:
            warnings.warn(f"{what} for trial {trial_id} ignored: it already {record.status}", stacklevel=3)
            record = None
        return record

    # -- reporting ---------------------------------------------------------------------------------------------

    def history(self, key_id: str) -> KeyHistory:
        """The key's trials, its baseline group's full fine-tunes included, oldest first; collapsed trials
        awaiting their rerun do not count as evidence about d."""
        history = self._raw_history(key_id)
        excluded = frozenset(r.request.trial_id for r in self._collapsed(key_id, history)
                             if history.rerun_named(r.request.trial_id)
                             or r.request.attempt < self.settings.max_retries)
        return replace(history, excluded=excluded) if excluded else history

    def _raw_history(self, key_id: str) -> KeyHistory:
        key = self.targets[key_id].key
        records = self._by_key.get(key_id, []) + self._by_key.get(key.baseline_key.id, [])
        records.sort(key=lambda r: self._order[r.request.trial_id])
        return KeyHistory(records, self.settings.max_retries, lr_step=self.settings.lr_step)

    def _collapsed(self, key_id: str, history: KeyHistory,
                   noise: tuple[float, float] | None = None) -> list[TrialRecord]:
        """The key's collapsed trials (:mod:`raydim.search.collapse`), measured in σ of ``noise`` (κ, df) or the
        pooled estimate; the train-score test runs where the target knows the trivial predictor's train score and
        a full fine-tune measured its own."""
        reference = self.reference(key_id, history, noise)
        if reference is None:
            return []
        trivial, full = self.targets[key_id].train_chance, history.baseline_train_score()
        train = None if trivial is None or full is None else TrainScale(trivial, full)
        s = self.settings
        return collapsed(distinct(history.subspace()), reference, s.level, s.d_min, s.d_max, train)

    # -- noise -------------------------------------------------------------------------------------------------

    def prior_sd(self, key_id: str, value: float) -> float:
        """Seed noise expected of the key's metric at ``value`` before any replicate: its sampling sd."""
        target = self.targets[key_id]
        return sampling_sd(target.metric, value, target.eval_size, self.settings.noise_sd)

    def noise_sd(self, key_id: str, value: float) -> float:
        """σ of one trial of the key near ``value``: the prior, scaled by κ pooled over every key's replicates."""
        return self.noise_factor()[0] * self.prior_sd(key_id, value)

    def noise_factor(self) -> tuple[float, float]:
        """(κ, degrees of freedom), from every key's replicated (d, lr) and baseline (lr) trials
        (:func:`~raydim.search.noise.noise_factor`), collapsed trials left out.

        A collapse beside its twin seed is not seed noise, and counted as such it hid
        itself: on the simulator one pair (0.901, 0.621 at one d) made σ 0.057 where the
        curve's was 0.011, so the collapse rule, measuring in σ, no longer saw it, and
        every interval of the search widened fivefold. Which trials collapsed is decided
        here with the prior σ (κ = 1), the only scale that does not depend on them.
        """
        screened = self._collapse_screen()
        groups = []
        kept = (r for r in distinct(self._trials.values()) if r.request.trial_id not in screened)
        for group_key, records in replicate_groups(kept).items():
            key_id = group_key[0]
            owner = key_id if key_id in self.targets else next(
                (k for k, t in self.targets.items() if t.key.baseline_key.id == key_id), None)
            if owner is not None:
                values = [r.metric for r in records if r.metric is not None]
                groups.append((self.prior_sd(owner, sum(values) / len(values) if values else 0.5), records))
        return noise_factor(groups)

    def _collapse_screen(self) -> set[str]:
        """Every key's collapsed trials by the prior σ (κ = 1): what the noise estimate leaves out."""
        return {r.request.trial_id for key_id in self.targets
                for r in self._collapsed(key_id, self._raw_history(key_id), noise=(1.0, math.inf))}

    def reference(self, key_id: str, history: KeyHistory | None = None,
                  noise: tuple[float, float] | None = None) -> Reference | None:
        """What the key's threshold is made of, with the noise of its baseline and of one trial; None before
        the baseline is in. ``noise``: (κ, degrees of freedom) to use instead of :meth:`noise_factor`'s."""
        history = history or self.history(key_id)
        limits = self._thresholds(key_id, history)
        if limits is None:
            return None
        kappa, df = noise or self.noise_factor()
        if self.targets[key_id].baseline is not None:
            full_sd = 0.0
        else:
            _, _, seeds = history.baseline_score()
            full_sd = kappa * self.prior_sd(key_id, limits.baseline) / math.sqrt(max(seeds, 1))
        return Reference(chance=limits.chance, full=limits.baseline, full_sd=full_sd, ratio=self.settings.ratio,
                         kind=limits.used, noise_sd=kappa * self.prior_sd(key_id, limits.value), noise_df=df)

    def _in_noise(self, key_id: str, limits: Thresholds) -> bool:
        """The threshold lies within one trial's noise of the trivial predictor: a constant would pass."""
        return limits.value - limits.chance < self.noise_sd(key_id, limits.value)

    def key_finished(self, key_id: str) -> bool:
        return not self.history(key_id).running() and self._next_request(key_id) is None

    def finished(self) -> bool:
        """True once no key has a trial running or one to propose: the search is over."""
        return all(self.key_finished(key_id) for key_id in self.targets)

    def _thresholds(self, key_id: str, history: KeyHistory) -> Thresholds | None:
        target = self.targets[key_id]
        baseline = target.baseline
        if baseline is None:
            s = self.settings
            first = [r for r in history.baseline() if r.request.seed < s.seed + s.baseline_seeds]
            if len(first) < s.baseline_seeds * len(s.baseline_lrs) or not history.settled(first):
                return None  # the profile's full fine-tunes are not all in; extra seeds the search added may run on
            baseline = history.baseline_metric()
        if baseline is None:
            return None
        return thresholds(baseline, target.chance, self.settings.ratio, self.settings.threshold)

    def progress(self) -> list[KeyProgress]:
        rows = []
        for key_id in self.targets:
            history = self.history(key_id)
            limits = self._thresholds(key_id, history)
            usable = limits is not None and BASELINE_AT_CHANCE not in limits.flags and not self._in_noise(key_id, limits)
            outcome = self.strategy.outcome(history, self.reference(key_id, history)) if usable else None
            finished = self.key_finished(key_id)
            phase = "finished" if finished else (outcome.phase if outcome else "baseline")
            scores = history.scores()
            rows.append(KeyProgress(
                key=key_id, phase=phase, lo=outcome.lo if outcome else None, hi=outcome.hi if outcome else None,
                trials_done=sum(r.status == COMPLETED for r in history.records),
                trials_running=len(history.running()), trials_failed=history.failed_count(),
                best_metric=max((x.score for x in scores), default=None),
                threshold=limits.value if limits else None, d90=outcome.d90 if outcome else None,
                d90_low=outcome.d90_low if outcome else None, d90_high=outcome.d90_high if outcome else None,
                level=outcome.level if outcome else None,
                trials_left=0 if finished else max(0, self.settings.max_trials - len(history.records))))
        return rows

    def results(self) -> list[KeyResult]:
        """One record per key; final once :meth:`finished` (before, it is the estimate so far)."""
        return [self.result(key_id) for key_id in self.targets]

    def result(self, key_id: str) -> KeyResult:
        target, s = self.targets[key_id], self.settings
        history = self.history(key_id)
        limits = self._thresholds(key_id, history)
        flags: list[str] = []
        if limits is None:
            settled = target.baseline is None and history.settled(history.baseline())
            outcome = Outcome(phase="baseline", status=NO_BASELINE if settled else INCOMPLETE)
            flags += [BASELINE_FAILED] if settled else []
        elif BASELINE_AT_CHANCE in limits.flags:
            outcome = Outcome(phase="baseline", status=NO_BASELINE)
            flags += limits.flags
        elif self._in_noise(key_id, limits):
            outcome = Outcome(phase="baseline", status=THRESHOLD_IN_NOISE)
            flags += limits.flags
        else:
            outcome = self.strategy.outcome(history, self.reference(key_id, history))
            flags += [*limits.flags, *outcome.flags]
        if target.baseline is not None:
            flags.append(BASELINE_SUPPLIED)
        if len(history.records) >= s.max_trials:
            flags.append(BUDGET_EXHAUSTED)
        return KeyResult(
            key=key_id, **target.key.to_dict(), strategy=self.strategy.name, status=outcome.status,
            baseline=limits.baseline if limits else None, chance=target.chance,
            paper_threshold=limits.paper if limits else None, relative_threshold=limits.relative if limits else None,
            threshold_used=limits.used if limits else None, threshold=limits.value if limits else None,
            d90=outcome.d90, d90_low=outcome.d90_low, d90_high=outcome.d90_high,
            trials_used=len(history.records), trials_failed=history.failed_count(), flags=tuple(flags),
            level=outcome.level, noise_sd=self.noise_sd(key_id, limits.value) if limits else None)

    # -- saving ------------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Versioned and JSON-ready: settings, targets and every trial record; the rest is recomputed."""
        return {
            "version": STATE_VERSION,
            "settings": self.settings.to_dict(),
            "targets": [t.to_dict() for t in self.targets.values()],
            "trials": [r.to_dict() for r in self._trials.values()],
            "cursor": self._cursor,
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> SearchPolicy:
        version = state.get("version")
        if version not in READABLE_VERSIONS:
            raise RaydimError(
                f"search state version {version!r} is not one this raydim reads "
                f"({', '.join(map(str, READABLE_VERSIONS))}); "
                "resume with the raydim that wrote it, or start the search afresh"
            )
        policy = cls([KeyTarget.from_dict(t) for t in state["targets"]], SearchSettings.from_dict(state["settings"]))
        for data in state["trials"]:
            policy._add(TrialRecord.from_dict(data))
        policy._cursor = state["cursor"]
        return policy


def _finite_or_none(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
