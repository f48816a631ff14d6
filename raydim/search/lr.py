"""Learning rates for subspace trials: carry the best one across d, and let Optuna steer the search for better.

The paper scores a d by its best learning rate, but a per-key budget of ~15
trials leaves about one lr per d, so:

* the first lr at a new d is *carried*: the winner at the nearest d where lrs were
  compared (else the nearest d's, else ``initial_lr``); the optimum drifts slowly
  with d, so next door's winner is the best first guess, rescaled by
  (d_there / d)^``lr_scaling`` where the drift is known (global normalisation: 0.5).
  A collapse rerun at a lower rate is such a comparison, the lower rate its winner:
  carried from elsewhere, the rate that collapsed would collapse again next door (on
  MRPC, DID's 1/√d rate collapsed at d = 51,200 and its third scored 0.80, while
  d = 23,286 was next proposed at the rule's rate again, carried from 25,600);
* a d that misses the threshold by less than ``lr_margin`` gets another lr, a step
  of ``lr_step`` from its best one. The direction comes from a per-key Optuna TPE
  study told every comparison so far: each lr's *regret* (its mean metric minus the
  best mean at the same d, less a small cost per unit of |log d − log d_here|
  because the optimum drifts), asked within one step of the best lr. Only d's
  with several lrs enter the study: a lone lr's metric says how good d is, not
  how good the lr is.

The study is rebuilt from the history at every ask with a seed derived from the
key and the number of trials so far, so a policy restored from its saved trials
proposes exactly the lrs the original would have, and keeps nothing unpicklable.
"""

from __future__ import annotations

import contextlib
import math
import zlib
from collections import defaultdict
from collections.abc import Iterator

import optuna
from optuna.distributions import FloatDistribution

from raydim.search.settings import SearchSettings
from raydim.search.trials import COMPLETED, KeyHistory

DISTANCE_COST = 1e-3  # metric units per unit of |Δ ln d|: among winners, TPE's "good" set holds the nearest


def sampler_seed(*parts: object) -> int:
    """A seed that is the same in every process and after a restore (``hash()`` of a str is not)."""
    return zlib.crc32(":".join(map(str, parts)).encode())


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Silence the "new study created" line that every rebuilt study would otherwise log."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def carried_lr(history: KeyHistory, d: int, settings: SearchSettings) -> float:
    """The first learning rate at a new ``d``: the best one at the nearest d with evidence about lrs."""
    scores = history.scores()
    collapsed_at = {r.request.d for r in history.subspace() if r.request.trial_id in history.excluded}
    compared = [s for s in scores if len(s.lrs) > 1 or s.d in collapsed_at]
    pool = compared or scores
    if not pool:
        return settings.first_lr(d)
    nearest = min(pool, key=lambda s: (abs(math.log(s.d / d)), -s.d))
    return settings.carry_lr(nearest.best_lr, nearest.d, d)


def propose_extra_lr(history: KeyHistory, d: int, best_lr: float, settings: SearchSettings,
                     key_id: str) -> float | None:
    """Another learning rate at a ``d`` that just missed: ``best_lr × lr_step`` or ``/ lr_step``, or None.

    TPE's proposal picks the direction; the fixed step keeps the new lr a real
    alternative rather than a re-measurement of seed noise. None once both
    neighbours of ``best_lr`` were tried at ``d`` (or fall outside the range).
    """
    tried = [math.log(req.lr) for req in history.tried(d)]
    step = math.log(settings.lr_step)
    low, high = math.log(settings.lr_low), math.log(settings.lr_high)
    up = _tpe_log_lr(history, d, best_lr, settings, key_id) >= math.log(best_lr)
    for sign in ((1, -1) if up else (-1, 1)):
        candidate = min(max(math.log(best_lr) + sign * step, low), high)
        if all(abs(candidate - t) >= step / 2 for t in tried):
            return math.exp(candidate)
    return None


def _tpe_log_lr(history: KeyHistory, d: int, best_lr: float, settings: SearchSettings, key_id: str) -> float:
    """TPE's log lr within one step of ``best_lr``, from a study of every lr comparison in the history."""
    metrics: dict[tuple[int, float], list[float]] = defaultdict(list)
    for r in history.subspace():
        if r.status == COMPLETED:
            metrics[(r.request.d, r.request.lr)].append(r.metric)
    mean = {point: sum(v) / len(v) for point, v in metrics.items()}
    best_at: dict[int, float] = {}
    lrs_at: dict[int, int] = defaultdict(int)
    for (d_i, _), m in mean.items():
        best_at[d_i] = max(m, best_at.get(d_i, -math.inf))
        lrs_at[d_i] += 1
    # reruns of a diverged or collapsed trial may have gone below lr_low: the study's range holds every lr tried
    tried = [lr for _, lr in mean] or [settings.lr_low]
    full_range = {"log_lr": FloatDistribution(math.log(min(settings.lr_low, *tried)),
                                              math.log(max(settings.lr_high, *tried)))}
    trials = [
        optuna.trial.create_trial(params={"log_lr": math.log(lr)}, distributions=full_range,
                                  value=m - best_at[d_i] - DISTANCE_COST * abs(math.log(d_i / d)))
        for (d_i, lr), m in mean.items() if lrs_at[d_i] > 1
    ]
    step = math.log(settings.lr_step)
    around_best = {"log_lr": FloatDistribution(math.log(best_lr) - step, math.log(best_lr) + step)}
    sampler = optuna.samplers.TPESampler(n_startup_trials=0,
                                         seed=sampler_seed(settings.seed, key_id, len(history.records), d))
    with quiet_optuna():
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.add_trials(trials)
        return study.ask(around_best).params["log_lr"]
