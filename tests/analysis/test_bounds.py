"""The compression bound against hand computation, and the measured gap it is set beside."""

import math

import pandas as pd
import pytest

from raydim.analysis import bound_table, compression_bound, measured_gap
from raydim.errors import RaydimError
from tests.store.rows import trial_row


def test_bound_matches_hand_computation():
    # q=8, d=1000, δ=0.05, n=3668: (8000·0.693147 + 2.995732) / 7336 = 0.756302..., √ = 0.869656...
    assert compression_bound(1000, 3668) == pytest.approx(math.sqrt((8000 * math.log(2) + math.log(20)) / 7336))
    assert compression_bound(1000, 3668) == pytest.approx(0.86966, abs=1e-5)
    assert compression_bound(100, 10_000, bits=4, delta=0.01) == pytest.approx(
        math.sqrt((400 * math.log(2) + math.log(100)) / 20_000))


def test_bound_shrinks_like_root_d_over_n():
    assert compression_bound(4000, 1000) / compression_bound(1000, 1000) == pytest.approx(2.0, rel=1e-3)
    assert compression_bound(1000, 4000) / compression_bound(1000, 1000) == pytest.approx(0.5)


@pytest.mark.parametrize("args, message", [((0, 10), "d=0 must be at least 1"), ((10, 0), "n=0 must be at least 1"),
                                           ((10, 10, 0), "bits=0 must be > 0"),
                                           ((10, 10, 8, 1.0), r"delta=1.0 must be in \(0, 1\)")])
def test_bad_bound_inputs_name_the_field(args, message):
    with pytest.raises(RaydimError, match=message):
        compression_bound(*args)


def trials():
    key = dict(task="mrpc", model="minilm-l6", checkpoint="final", method="said")
    rows = [trial_row(trial_id="a", d=500, primary=0.70, train_metric=0.72, **key),
            trial_row(trial_id="b", d=1000, lr=0.1, seed=0, primary=0.80, train_metric=0.90, **key),
            trial_row(trial_id="c", d=1000, lr=0.1, seed=1, primary=0.78, train_metric=0.86, **key),
            trial_row(trial_id="d", d=1000, lr=0.3, seed=0, primary=0.60, train_metric=0.99, **key),
            trial_row(trial_id="e", d=4000, primary=0.85, train_metric=0.95, **key)]
    return pd.DataFrame([vars(r) for r in rows])


def test_gap_is_measured_at_the_first_tested_d_past_d90_best_lr_mean_over_seeds():
    gap = measured_gap(trials(), "mrpc:minilm-l6@final:said", d90=740.2)
    assert gap["d_measured"] == 1000 and gap["eval_metric"] == pytest.approx(0.79)
    assert gap["train_metric"] == pytest.approx(0.88) and gap["gap"] == pytest.approx(0.09)


def test_bound_table_per_key_at_d90():
    d90s = pd.DataFrame([{"experiment": "exp", "key": "mrpc:minilm-l6@final:said", "d90": 740.2, "train_size": 3668},
                         {"experiment": "exp", "key": "rte:minilm-l6@final:said", "d90": None, "train_size": 2490}])
    [row] = bound_table(trials(), d90s, bits=8, delta=0.05).itertuples()
    assert row.bound == pytest.approx(compression_bound(741, 3668)) and row.n == 3668 and row.gap == pytest.approx(0.09)
