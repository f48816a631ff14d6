"""Per-key progress gauges for the Ray dashboard."""

from raydim.search import KeyProgress
from raydim.tune.metrics import GAUGES, export_progress

ROW = KeyProgress(key="mrpc:minilm-l6@final:said", phase="refine", lo=300, hi=1000, trials_done=7,
                  trials_running=2, trials_failed=0, best_metric=0.74, threshold=0.72)


def test_no_ray_no_metrics(monkeypatch):
    monkeypatch.setattr("ray.is_initialized", lambda: False)
    assert export_progress([ROW]) == {}


def test_every_progress_field_is_a_gauge_tagged_by_key(ray_cluster):
    gauges = export_progress([ROW, KeyProgress(key="rte:minilm-l6@final:said", phase="baseline", lo=None, hi=None,
                                               trials_done=0, trials_running=1, trials_failed=0, best_metric=None,
                                               threshold=None)])
    assert set(gauges) == set(GAUGES)
    for name, gauge in gauges.items():
        assert gauge.info["name"] == name and gauge.info["tag_keys"] == ("key",)
    assert {field for _, field in GAUGES.values()} <= set(KeyProgress.__dataclass_fields__)
