"""raydim on Ray Tune: the d90 searcher, the fine-tuning trainable, and a Tuner built from a search spec.

Typical use::

    spec = SearchSpec.from_yaml("search_spaces/quick_cpu.yaml").with_overrides(data={"data_dir": "glue"})
    results = run_search(spec)            # one KeyResult (d90 with interval) per key

or ``build_tuner(spec)`` for the ``ray.tune.Tuner`` itself, or ``D90Searcher`` and
``fine_tune`` in a Tuner written by hand (add ``StoreCallback`` to keep its trials in the results store).
"""

from raydim.tune.progress import format_d90_table, format_progress, format_status, print_progress
from raydim.tune.recorder import StoreCallback
from raydim.tune.searcher import D90Searcher
from raydim.tune.spec import SearchSpec
from raydim.tune.template import TEMPLATE, TrialTemplate, trial_settings_hash
from raydim.tune.trainable import CURVES, SCORE, fine_tune, simulated_trial
from raydim.tune.tuner import build_tuner, experiment_path, load_searcher, run_search, trial_slots

__all__ = [
    "CURVES", "D90Searcher", "SCORE", "SearchSpec", "StoreCallback", "TEMPLATE", "TrialTemplate", "build_tuner",
    "experiment_path", "fine_tune", "format_d90_table", "format_progress", "format_status", "load_searcher",
    "print_progress", "run_search", "simulated_trial", "trial_settings_hash", "trial_slots",
]
