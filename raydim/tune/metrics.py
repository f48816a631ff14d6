"""raydim's own metrics in the Ray dashboard: per key, the bracket, the trials and the best score so far.

Exported with ``ray.util.metrics`` gauges tagged by key, so the dashboard's
metrics view (Prometheus/Grafana) plots a search's progress next to Ray's own
metrics. The gauges live in this module, not on the searcher, because Tune
pickles the searcher and a gauge does not pickle.
"""

from __future__ import annotations

from collections.abc import Sequence

import ray
from ray.util.metrics import Gauge

from raydim.search import KeyProgress

# gauge name → (description, the KeyProgress field it shows)
GAUGES = {
    "raydim_bracket_low": ("largest d that fails the threshold so far", "lo"),
    "raydim_bracket_high": ("smallest d that passes the threshold so far", "hi"),
    "raydim_trials_done": ("trials completed, baseline included", "trials_done"),
    "raydim_trials_running": ("trials running now", "trials_running"),
    "raydim_trials_failed": ("trials failed for good", "trials_failed"),
    "raydim_best_metric": ("best subspace score so far (best lr, mean over seeds)", "best_metric"),
    "raydim_threshold": ("the metric d90 must reach", "threshold"),
}
_gauges: dict[str, Gauge] = {}


def export_progress(rows: Sequence[KeyProgress]) -> dict[str, Gauge]:
    """Set every gauge for every key (an unknown value, e.g. no bracket yet, is left unset); no-op without Ray."""
    if not ray.is_initialized():
        return {}
    for name, (description, _) in GAUGES.items():
        if name not in _gauges:
            _gauges[name] = Gauge(name, description=description, tag_keys=("key",))
    for row in rows:
        for name, (_, field) in GAUGES.items():
            value = getattr(row, field)
            if value is not None:
                _gauges[name].set(float(value), tags={"key": row.key})
    return dict(_gauges)
