import json

import pytest

from raydim.errors import RaydimError
from raydim.search import SearchSettings


def test_defaults_are_the_papers():
    s = SearchSettings()
    assert (s.ratio, s.tolerance, s.strategy, s.threshold) == (0.9, 0.10, "d90", "paper")


def test_every_error_is_reported_at_once_naming_field_value_and_fix():
    with pytest.raises(RaydimError) as error:
        SearchSettings(ratio=1.5, tolerance=0, d_min=100, d_max=50, baseline_seeds=0, baseline_lrs=(1e-5, -1.0))
    message = str(error.value)
    for expected in ("ratio=1.5", "(0, 1]", "tolerance=0", "d_max=50", "must exceed d_min=100",
                     "baseline_seeds=0", "baseline_lrs=(1e-05, -1.0)"):
        assert expected in message


@pytest.mark.parametrize("field, value, fragment", [
    ("strategy", "bayes", "use one of d90, grid, optuna"),
    ("threshold", "absolute", "use one of paper, relative"),
    ("parallelism", 0, "at least 1"),
    ("lr_low", 2.0, "below lr_high"),
    ("lr_init", 10.0, "must lie in [lr_low, lr_high]"),
    ("lr_step", 1.0, "must exceed 1"),
    ("lr_scaling", -0.5, "must be in [0, 2]"),
    ("seeds_per_d", 0, "at least 1"),
    ("noise_sd", 0.0, "must be > 0"),
    ("max_retries", -1, ">= 0"),
])
def test_each_bad_value_is_named(field, value, fragment):
    with pytest.raises(RaydimError, match=f"{field}=") as error:
        SearchSettings(**{field: value})
    assert fragment in str(error.value)


def test_round_trip_through_json():
    s = SearchSettings(strategy="grid", parallelism=4, baseline_lrs=(2e-5,), lr_init=0.01)
    assert SearchSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_unknown_setting_lists_the_known_ones():
    with pytest.raises(RaydimError, match="unknown search settings \\['ratios'\\]; known: .*ratio"):
        SearchSettings.from_dict({"ratios": 0.9})
