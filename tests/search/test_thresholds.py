import pytest

from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve
from raydim.search.simulator import run_search
from raydim.search.thresholds import PAPER_BELOW_CHANCE, thresholds


def test_paper_threshold_below_chance_is_flagged_and_replaced():
    # MRPC, small model: 0.9 × 0.738 = 0.664 is below the majority class's 0.684.
    t = thresholds(baseline=0.738, chance=0.684, ratio=0.9)
    assert t.paper == pytest.approx(0.6642)
    assert t.relative == pytest.approx(0.684 + 0.9 * (0.738 - 0.684))
    assert (t.used, t.value, t.flags) == ("relative", t.relative, (PAPER_BELOW_CHANCE,))


def test_paper_threshold_is_used_when_it_beats_chance():
    t = thresholds(baseline=0.90, chance=0.684, ratio=0.9)
    assert (t.used, t.value, t.flags) == ("paper", pytest.approx(0.81), ())


def test_relative_threshold_can_be_asked_for():
    t = thresholds(baseline=0.90, chance=0.684, ratio=0.9, kind="relative")
    assert (t.used, t.value) == ("relative", pytest.approx(0.684 + 0.9 * 0.216))


def test_flagged_key_is_searched_against_the_relative_threshold():
    curve = SimulatedCurve(d90=300, full=0.738, chance=0.684, width=1.0, noise_sd=0.0, lr_opt=0.01)
    settings = SearchSettings(lr_init=0.01, baseline_lrs=(3e-5,))
    policy = SearchPolicy([KeyTarget(SearchKey("mrpc", "minilm-l6"), chance=0.684)], settings)
    run_search(policy, curve, slots=1)
    result = policy.results()[0]
    assert result.threshold_used == "relative" and PAPER_BELOW_CHANCE in result.flags
    assert result.threshold == pytest.approx(result.relative_threshold)
    assert result.paper_threshold == pytest.approx(0.9 * 0.738)
    assert result.d90 == pytest.approx(300, rel=0.1)


def test_full_fine_tune_no_better_than_chance_ends_the_key():
    policy = SearchPolicy([KeyTarget(SearchKey("rte", "bert-base"), chance=0.53)], SearchSettings(baseline_lrs=(3e-5,)))
    [full] = policy.propose(2)
    policy.record_result(full.trial_id, 0.52)
    assert policy.propose(2) == [] and policy.finished()
    result = policy.results()[0]
    assert result.status == "no_baseline" and "baseline_not_above_chance" in result.flags
