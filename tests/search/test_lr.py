import math

from raydim.search import SearchKey, SearchSettings
from raydim.search.lr import carried_lr, propose_extra_lr
from raydim.search.trials import COMPLETED, KeyHistory, TrialRecord, TrialRequest

KEY = SearchKey("cola", "bert-base")
SETTINGS = SearchSettings(lr_low=1e-4, lr_high=1.0, lr_step=3.0)


def history(*results):
    """(d, lr, metric) triples as completed trials, oldest first."""
    return KeyHistory([TrialRecord(TrialRequest(f"t{i:05d}", KEY, d, lr, 0), COMPLETED, metric)
                       for i, (d, lr, metric) in enumerate(results)], max_retries=1)


def test_first_lr_of_a_key_is_the_initial_one():
    assert carried_lr(history(), 100, SETTINGS) == SETTINGS.initial_lr == 0.01


def test_winner_where_lrs_were_compared_is_carried():
    h = history((100, 0.01, 0.70), (100, 0.03, 0.74), (1000, 0.01, 0.85), (400, 0.01, 0.80))
    assert carried_lr(h, 300, SETTINGS) == 0.03  # 400 is nearer, but only at 100 were lrs compared


def test_nearest_d_is_carried_before_any_comparison():
    h = history((100, 0.02, 0.70), (1000, 0.05, 0.85))
    assert carried_lr(h, 800, SETTINGS) == 0.05


def test_a_collapse_rerun_at_a_lower_rate_is_a_comparison_the_lower_rate_won():
    """MRPC DID in the study: the rule's 0.0442 collapsed at d = 51,200 (set aside), its third scored 0.799; d =
    25,600 learned little at 0.0625. The next d carries 51,200's rate, not the rule's again from 25,600."""
    scaled = SearchSettings(lr_low=1e-3, lr_high=1.0, lr_init=0.1, lr_scaling=0.5)
    records = [TrialRecord(TrialRequest(name, KEY, d, lr, 0), COMPLETED, metric) for name, d, lr, metric in
               (("a", 25_600, 0.0625, 0.6985), ("b", 51_200, 0.0442, 0.6985), ("c", 51_200, 0.0147, 0.799))]
    h = KeyHistory(records, max_retries=1, excluded=frozenset({"b"}))
    assert math.isclose(carried_lr(h, 23_286, scaled), 0.0147 * math.sqrt(51_200 / 23_286))
    kept = KeyHistory(records, max_retries=1)  # both rates counted: a comparison the same way
    assert math.isclose(carried_lr(kept, 23_286, scaled), 0.0147 * math.sqrt(51_200 / 23_286))
    unexplained = KeyHistory(records[:1] + records[2:], max_retries=1)  # no collapse at 51,200: the nearest d's rate
    assert math.isclose(carried_lr(unexplained, 23_286, scaled), 0.0625 * math.sqrt(25_600 / 23_286))


def test_carried_lrs_scale_like_one_over_sqrt_d_when_asked():
    scaled = SearchSettings(lr_low=1e-3, lr_high=1.0, lr_init=0.1, lr_scaling=0.5)
    assert math.isclose(carried_lr(history(), 2500, scaled), 0.2)  # lr_init is meant at d = 10⁴
    h = history((100, 0.02, 0.70), (1000, 0.05, 0.85))
    assert math.isclose(carried_lr(h, 4000, scaled), 0.05 / 2)  # from the nearest d, 1000: 4× the d, half the lr
    assert carried_lr(history(), 10, scaled) == 1.0  # kept inside [lr_low, lr_high]
    assert carried_lr(history(), 2500, SETTINGS) == SETTINGS.initial_lr  # lr_scaling 0: carried unchanged


def test_extra_lr_is_one_step_from_the_best_and_never_repeats():
    h = history((100, 0.01, 0.70))
    first = propose_extra_lr(h, 100, 0.01, SETTINGS, KEY.id)
    assert math.isclose(first, 0.03) or math.isclose(first, 0.01 / 3)
    h2 = history((100, 0.01, 0.70), (100, first, 0.69))
    second = propose_extra_lr(h2, 100, 0.01, SETTINGS, KEY.id)
    assert {round(first, 6), round(second, 6)} == {0.03, round(0.01 / 3, 6)}
    h3 = history((100, 0.01, 0.70), (100, first, 0.69), (100, second, 0.68))
    assert propose_extra_lr(h3, 100, 0.01, SETTINGS, KEY.id) is None


def test_extra_lr_stays_in_range():
    h = history((100, 1.0, 0.70))
    assert math.isclose(propose_extra_lr(h, 100, 1.0, SETTINGS, KEY.id), 1 / 3)


def test_same_history_same_proposal():
    h = history((100, 0.01, 0.70), (100, 0.03, 0.74), (200, 0.03, 0.78))
    assert propose_extra_lr(h, 200, 0.03, SETTINGS, KEY.id) == propose_extra_lr(h, 200, 0.03, SETTINGS, KEY.id)


def test_optuna_follows_the_winning_direction():
    # at three d's the larger of two lrs won: TPE should point up again
    h = history(*[(d, lr, m) for d in (100, 200, 400) for lr, m in ((0.01, 0.70), (0.03, 0.75))])
    assert math.isclose(propose_extra_lr(h, 300, 0.03, SETTINGS, KEY.id), 0.09)
