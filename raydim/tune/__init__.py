"""raydim on Ray Tune: the d90 searcher, the fine-tuning trainable, and a Tuner built from a search spec.

Typical use::

    spec = SearchSpec.from_yaml("search_spaces/quick_cpu.yaml").with_overrides(data={"data_dir": "glue"})
    results = run_search(spec)            # one KeyResult (d90 with interval) per key

or ``build_tuner(spec)`` for the ``ray.tune.Tuner`` itself, or ``D90Searcher`` and
``fine_tune`` in a Tuner written by hand (add ``StoreCallback`` to keep its trials in the results store).
Names are imported on first use (:mod:`raydim.lazy`): the progress views need no Ray.
"""

from raydim.lazy import lazy_names, public_names

_WHERE = {
    "raydim.tune.progress": ("format_d90_table", "format_progress", "format_status", "print_progress"),
    "raydim.tune.recorder": ("StoreCallback",),
    "raydim.tune.searcher": ("D90Searcher",),
    "raydim.tune.spec": ("SearchSpec",),
    "raydim.tune.template": ("TEMPLATE", "TrialTemplate", "trial_settings_hash"),
    "raydim.tune.trainable": ("CURVES", "SCORE", "fine_tune", "simulated_trial"),
    "raydim.tune.tuner": ("build_tuner", "experiment_path", "load_searcher", "run_search", "trial_slots"),
}
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
__all__ = public_names(_WHERE)
