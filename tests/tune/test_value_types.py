"""Search-space values against the dataclass fields they fill: strict types, said in words."""

from __future__ import annotations

from raydim.search import SearchSettings
from raydim.train import TrainConfig
from raydim.tune.value_types import describe, type_errors


def test_a_type_is_said_in_words():
    assert [describe(t) for t in (int, float | None, bool, tuple[str, ...], dict[str, float])] == [
        "an integer", "a number or null", "true or false", "a list of strings", "a mapping of strings to numbers"]


def test_no_string_becomes_a_number_and_an_integer_is_a_number():
    errors = type_errors("search", {"max_trials": "8", "ratio": 1, "baseline_lrs": [1e-4, 3], "lr_init": None,
                                    "seed": True, "unknown": "left to the caller"}, SearchSettings)
    assert errors == {"max_trials": "search.max_trials must be an integer, got '8'",
                      "seed": "search.seed must be an integer, got True"}


def test_yaml_lists_fill_tuples_and_booleans_stay_booleans():
    assert type_errors("train", {"bf16": True, "max_grad_norm": None, "epochs": 2}, TrainConfig) == {}
    assert type_errors("train", {"bf16": 1}, TrainConfig) == {"bf16": "train.bf16 must be true or false, got 1"}
