"""Which trials collapsed on their learning rate rather than measuring d."""

from raydim.search.collapse import collapsed
from raydim.search.keys import SearchKey
from raydim.search.trials import COMPLETED, TrialRecord, TrialRequest

KEY = SearchKey("stsb", "m", method="said")


def trial(name, d, score, lr=0.1, censored=False):
    return TrialRecord(TrialRequest(name, KEY, d, lr, 0), COMPLETED, score, censored=censored)


def test_the_glue_collapse_is_caught():
    # Pearson 0.13 at d = 600 (lr 0.41 by the 1/√d rule) against 0.75 at d = 849
    low, high = trial("a", 600, 0.13, lr=0.41), trial("b", 849, 0.75, lr=0.34)
    assert collapsed([low, high], noise_sd=0.03, spread=0.85) == [low]


def test_an_ordinary_rise_is_not_a_collapse():
    rising = [trial("a", 300, 0.69), trial("b", 600, 0.71), trial("c", 1200, 0.74), trial("d", 2400, 0.78)]
    assert collapsed(rising, noise_sd=0.02, spread=0.12) == []


def test_a_poorer_learning_rate_at_the_same_d_is_not_a_collapse():
    poor, best = trial("a", 1000, 0.55, lr=0.001), trial("b", 1000, 0.85, lr=0.1)
    assert collapsed([poor, best], noise_sd=0.01, spread=0.4) == []


def test_a_seed_far_below_its_twin_and_smaller_d_collapsed():
    small, twin, fell = trial("a", 500, 0.80), trial("b", 1000, 0.84), trial("c", 1000, 0.50)
    assert collapsed([small, twin, fell], noise_sd=0.02, spread=0.35) == [fell]


def test_a_trial_stopped_early_is_never_called_collapsed():
    stopped = trial("a", 1000, 0.60, censored=True)
    assert collapsed([stopped, trial("b", 500, 0.85)], noise_sd=0.01, spread=0.3) == []
