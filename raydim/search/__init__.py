"""The d90 search policy: which fine-tunes to run next, for many keys at once, free of Ray.

``SearchPolicy`` answers "what should run next?" from the trials so far; a Ray
Tune ``Searcher`` only translates Tune's lifecycle into its calls. Strategies:
``d90`` (bracket + k-section in log d, Optuna-proposed learning rates, extra seeds
where results straddle the threshold), ``grid`` (a uniform log-d sweep) and
``optuna`` (one constrained TPE study over d and lr), for comparison.
"""

from raydim.search.keys import FULL, KeyTarget, SearchKey
from raydim.search.policy import SearchPolicy
from raydim.search.results import KeyProgress, KeyResult
from raydim.search.settings import SearchSettings
from raydim.search.simulator import SimulatedCurve, random_curve
from raydim.search.thresholds import Thresholds, thresholds
from raydim.search.trials import TrialRequest
from raydim.strategies import STRATEGIES

__all__ = [
    "FULL", "KeyProgress", "KeyResult", "KeyTarget", "STRATEGIES", "SearchKey", "SearchPolicy", "SearchSettings",
    "SimulatedCurve", "Thresholds", "TrialRequest", "random_curve", "thresholds",
]
