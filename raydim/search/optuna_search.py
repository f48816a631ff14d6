"""The comparison strategy that leaves everything to Optuna: minimise log d subject to metric >= threshold.

One TPE study per key over (log d, log lr), the constraint ``threshold − metric
<= 0`` stored on each trial (Optuna ranks feasible trials first, then by value).
The reported d90 is the smallest d of a feasible trial. It has no notion of a
bracket or of noise, so it runs until ``max_trials``.
"""

from __future__ import annotations

import math

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from raydim.search.crossing import Reference
from raydim.search.lr import quiet_optuna, sampler_seed
from raydim.search.results import FOUND, NOT_REACHED, Outcome
from raydim.search.settings import SearchSettings
from raydim.search.trials import COMPLETED, RUNNING, KeyHistory, Point

STARTUP_TRIALS = 5  # random trials before TPE models the space (Optuna's default of 10 is a third of a budget)


class OptunaSearch:
    name = "optuna"

    def __init__(self, settings: SearchSettings) -> None:
        self.settings = settings
        self.space = {
            "log_d": FloatDistribution(math.log(settings.d_min), math.log(settings.d_max)),
            "log_lr": FloatDistribution(math.log(settings.lr_low), math.log(settings.lr_high)),
        }

    def next_trials(self, history: KeyHistory, reference: Reference | None, n: int, key_id: str) -> list[Point]:
        """``n`` asks of a study rebuilt from the history (running trials included, so asks differ)."""
        if reference is None:  # feasibility needs the threshold
            return []
        s, threshold = self.settings, reference.threshold()
        sampler = optuna.samplers.TPESampler(n_startup_trials=STARTUP_TRIALS, multivariate=True,
                                             seed=sampler_seed(s.seed, key_id, len(history.records)))
        with quiet_optuna():
            study = optuna.create_study(direction="minimize", sampler=sampler)
            for r in history.subspace():
                params = {"log_d": math.log(r.request.d), "log_lr": math.log(r.request.lr)}
                if r.status == COMPLETED:
                    study.add_trial(optuna.trial.create_trial(
                        params=params, distributions=self._holding(params), value=params["log_d"],
                        constraints={"metric": threshold - r.metric}))
                elif r.status == RUNNING:
                    study.add_trial(optuna.trial.create_trial(state=TrialState.RUNNING, params=params,
                                                              distributions=self._holding(params)))
            asks = [study.ask(self.space).params for _ in range(n)]
        return [Point(min(max(round(math.exp(p["log_d"])), s.d_min), s.d_max), math.exp(p["log_lr"]), s.seed)
                for p in asks]

    def _holding(self, params: dict[str, float]) -> dict[str, FloatDistribution]:
        """The search space, widened to hold ``params``: a rerun at a lower rate may lie below ``lr_low``."""
        return {name: FloatDistribution(min(dist.low, params[name]), max(dist.high, params[name]))
                for name, dist in self.space.items()}

    def outcome(self, history: KeyHistory, reference: Reference) -> Outcome:
        threshold = reference.threshold()
        done = [(r.request.d, r.metric) for r in history.subspace() if r.status == COMPLETED]
        feasible = [d for d, metric in done if metric >= threshold]
        if not feasible:
            return Outcome(phase="search", status=NOT_REACHED, d90_low=max((d for d, _ in done), default=None))
        best = min(feasible)
        below = [d for d, metric in done if d < best]
        low = max(below, default=None)
        return Outcome(phase="search", status=FOUND, d90=float(best), d90_low=low, d90_high=best, lo=low, hi=best)
