"""Trial rows for tests: one by hand, or a whole simulated search's worth."""

from __future__ import annotations

import datetime as dt

from raydim.search import SearchPolicy
from raydim.search.simulator import run_search
from raydim.store import TrialRow
from raydim.store.schema import search_json

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def trial_row(**overrides) -> TrialRow:
    """A completed SAID trial at d=1000 with every optional column filled."""
    values = dict(experiment="exp", trial_id="t1", attempt=0, task="mrpc", model="minilm-l6", checkpoint="final",
                  method="said", lr=0.1, seed=0, status="completed", settings_hash="abc", raydim_version="0.1.0",
                  started_at=T0, finished_at=T0 + dt.timedelta(seconds=60), search="{}", checkpoint_step=None,
                  grouping="layer", D=22_713_216, d=1000, num_trainable=1000, primary_metric="accuracy",
                  primary=0.75, metrics={"validation/accuracy": 0.75, "train/accuracy": 0.8}, train_metric=0.8,
                  train_loss=0.5, best_epoch=1, epochs=1, steps=115, train_size=3668, seconds=60.0,
                  device="cpu (x86_64, 1 threads)")
    return TrialRow(**{**values, **overrides})


def simulated_rows(policy: SearchPolicy, curves, experiment: str = "sim", **columns) -> list[TrialRow]:
    """Run ``policy`` to the end on the simulator (``curves``: key id → SimulatedCurve, baselines by any key of
    their model) and return its trials as store rows, one minute apart; ``columns`` fill the rest."""
    def metric(request):
        curve = curves.get(request.key.id) or next(c for k, c in curves.items()
                                                    if k.rsplit(":", 1)[0] == request.key.id.rsplit(":", 1)[0])
        return curve(request)

    run_search(policy, metric, slots=2)
    search = search_json({k: v for k, v in policy.state_dict().items() if k in ("settings", "targets")})
    rows = []
    for i, record in enumerate(policy.state_dict()["trials"]):
        r = record["request"]
        start = T0 + dt.timedelta(minutes=i)
        rows.append(trial_row(experiment=experiment, trial_id=r["trial_id"], attempt=r["attempt"], task=r["task"],
                              model=r["model"], checkpoint=r["checkpoint"], method=r["method"], d=r["d"],
                              num_trainable=r["d"], lr=r["lr"], seed=r["seed"], primary=record["metric"],
                              status="completed" if record["status"] == "completed" else "error",
                              retry_of=r["retry_of"], search=search, started_at=start,
                              finished_at=start + dt.timedelta(seconds=30),
                              grouping="layer" if r["method"] == "said" else None, **columns))
    return rows
