"""The search-space file's schema: every problem at once, each naming its key; strict types, said in words."""

from __future__ import annotations

from raydim.tune.space import describe, known, space_errors


def test_a_type_is_said_in_words():
    assert [describe(t) for t in (int, float | None, bool, tuple[str, ...], dict[str, float])] == [
        "an integer", "a number or null", "true or false", "a list of strings", "a mapping of strings to numbers"]


def test_no_string_becomes_a_number_and_an_integer_is_a_number():
    errors, bad = space_errors({"search": {"max_trials": "8", "ratio": 1, "baseline_lrs": [1e-4, 3], "lr_init": None,
                                           "seed": True}})
    assert errors == ["search.max_trials must be an integer, got '8'", "search.seed must be an integer, got True"]
    assert bad == {("search", "max_trials"), ("search", "seed")}


def test_yaml_lists_fill_tuples_and_booleans_stay_booleans():
    assert space_errors({"train": {"bf16": True, "max_grad_norm": None, "epochs": 2}}) == ([], set())
    assert space_errors({"train": {"bf16": 1}})[0] == ["train.bf16 must be true or false, got 1"]


def test_a_value_out_of_range_names_key_value_and_rule():
    errors, _ = space_errors({"resources": {"cpus_per_trial": 0, "max_concurrent": 0}, "name": "a b", "tasks": []})
    assert errors == ["tasks is empty; give at least one",
                      "resources.cpus_per_trial=0 must be > 0 (fractions allowed)",
                      "resources.max_concurrent=0 must be a positive integer, or left out",
                      "name='a b' must use letters, digits, '.', '_' and '-' (it names a folder)"]


def test_unknown_keys_at_every_level_name_the_known_ones_top_level_first():
    errors, bad = space_errors({"resources": {"cpus": 1}, "train": {"lr": 0.1}, "model": "x"})
    assert errors == [f"unknown top level setting(s) ['model']; known: {', '.join(known())}",
                      f"unknown resources setting(s) ['cpus']; known: {', '.join(known('resources'))}",
                      f"unknown train setting(s) ['lr']; known: {', '.join(known('train'))}"]
    assert "lr" not in known("train") and "epochs" in known("train")  # chosen per trial, not in the file
    assert bad == {("model",), ("resources", "cpus"), ("train", "lr")}


def test_a_section_that_is_no_mapping_lists_its_keys():
    errors, bad = space_errors({"resources": 2})
    assert errors == [f"resources must be a mapping of {', '.join(known('resources'))}, got 2"]
    assert bad == {("resources",)}
