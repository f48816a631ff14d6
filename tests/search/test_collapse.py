"""Which trials collapsed on their learning rate rather than measuring d."""

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from raydim.search.collapse import TrainScale, collapsed
from raydim.search.crossing import MAX_STEEPNESS, Reference, curve
from raydim.search.keys import SearchKey
from raydim.search.trials import COMPLETED, FAILED, TrialRecord, TrialRequest

KEY = SearchKey("stsb", "m", method="said")
STUDY_STORE = Path(__file__).resolve().parents[2] / "docs" / "results" / "store"


def trial(name, d, score, lr=0.1, censored=False, train=None, seed=0):
    return TrialRecord(TrialRequest(name, KEY, d, lr, seed), COMPLETED, score, censored=censored, train_metric=train)


def reference(chance, full, noise_sd, full_sd=0.0):
    return Reference(chance=chance, full=full, full_sd=full_sd, ratio=0.9, kind="paper", noise_sd=noise_sd)


def find(records, ref, train=None):
    return collapsed(records, ref, 0.9, 10, 100_000, train)


def test_the_glue_collapse_is_caught():
    # Pearson 0.13 at d = 600 (lr 0.41 by the 1/√d rule) against 0.75 at d = 849
    low, high = trial("a", 600, 0.13, lr=0.41), trial("b", 849, 0.75, lr=0.34)
    assert find([low, high], reference(0.0, 0.85, 0.03)) == [low]


def test_the_sst2_collapse_the_pairwise_rule_missed_is_caught():
    # SST-2 SAID at d = 400, lr 0.5: 0.551 beside 0.802 at d = 895 and two trials stopped once past 0.81
    fell = trial("c", 400, 0.5505, lr=0.5)
    records = [trial("a", 3200, 0.807, lr=0.177, censored=True), fell, trial("b", 1489, 0.811, lr=0.259, censored=True),
               trial("d", 895, 0.802, lr=0.334)]
    assert find(records, reference(0.5092, 0.8716, 0.0109, full_sd=0.0063)) == [fell]


def test_an_ordinary_rise_is_not_a_collapse():
    rising = [trial("a", 300, 0.69), trial("b", 600, 0.71), trial("c", 1200, 0.74), trial("d", 2400, 0.78)]
    assert find(rising, reference(0.68, 0.80, 0.02)) == []


def test_the_steepest_curve_the_fit_allows_is_never_a_collapse():
    # the two rules share one curve family: whatever the fit can explain within the noise, the rule leaves alone
    rng = np.random.default_rng(0)
    for _ in range(20):
        chance, full, sd = 0.5, rng.uniform(0.8, 0.95), rng.uniform(0.005, 0.03)
        m = rng.uniform(math.log(100), math.log(10_000))
        ds = np.exp(m + np.linspace(-3.0, 3.0, 7))
        scores = curve(np.log(ds), m, MAX_STEEPNESS, full, chance) + rng.uniform(-2, 2, size=7) * sd
        records = [trial(str(i), int(d), float(y)) for i, (d, y) in enumerate(zip(ds, scores))]
        assert find(records, reference(chance, full, sd)) == []


def test_a_poorer_learning_rate_at_the_same_d_is_not_a_collapse():
    poor, best = trial("a", 1000, 0.55, lr=0.001), trial("b", 1000, 0.85, lr=0.1)
    assert find([poor, best], reference(0.5, 0.9, 0.01)) == []


def test_a_seed_far_below_its_twin_and_smaller_d_collapsed():
    small, twin, fell = trial("a", 500, 0.80), trial("b", 1000, 0.84), trial("c", 1000, 0.50)
    assert find([small, twin, fell], reference(0.5, 0.85, 0.02)) == [fell]


def test_a_trial_stopped_early_is_never_called_collapsed():
    stopped = trial("a", 1000, 0.60, censored=True)
    assert find([stopped, trial("b", 500, 0.85)], reference(0.5, 0.8, 0.01)) == []


def test_a_lone_trial_is_never_a_collapse():
    assert find([trial("a", 1000, 0.2)], reference(0.5, 0.9, 0.01)) == []


# MRPC DID of MiniLM-L6 in the study (docs/results.md): dev chance 0.684, full fine-tune 0.801, σ ≈ 0.02; train rows:
# the trivial predictor 0.664, the full fine-tune 0.926
MRPC = reference(0.6838, 0.8010, 0.02, full_sd=0.01)
MRPC_TRAIN = TrainScale(0.6641, 0.9258)


def mrpc_did():
    return [trial("a", 3200, 0.7010, lr=0.177, train=0.730), trial("b", 25600, 0.6985, lr=0.0625, train=0.699),
            trial("c", 51200, 0.6985, lr=0.0442, train=0.684),
            trial("d", 100_000, 0.6838, lr=0.0316, train=0.664), trial("e", 100_000, 0.6838, lr=0.0316, train=0.664,
                                                                         seed=1)]


def test_the_mrpc_did_collapses_only_the_train_score_shows_are_caught():
    """The dev-score tests leave them to the fit (a 2σ fall: a curve still below its threshold); on train rows
    they scored what the trivial predictor does, where d = 3,200 learned."""
    records = mrpc_did()
    assert find(records, MRPC) == []
    assert [r.request.trial_id for r in find(records, MRPC, MRPC_TRAIN)] == ["c", "d", "e"]


def test_learning_nothing_below_every_d_that_learned_is_left_to_the_fit():
    # d may be too small to learn anything: without a smaller d that learned, the run counts as it is
    records = [r for r in mrpc_did() if r.request.d != 3200]
    assert find(records, MRPC, MRPC_TRAIN) == []


def test_a_run_that_learned_nothing_but_passed_or_stopped_early_is_not_a_collapse():
    passed = trial("c", 51200, 0.7300, lr=0.0442, train=0.670)
    stopped = trial("d", 100_000, 0.6900, lr=0.0316, train=0.664, censored=True)
    assert find([mrpc_did()[0], passed, stopped], MRPC, MRPC_TRAIN) == []


def test_the_train_test_needs_both_train_scores_and_a_full_fine_tune_that_learned():
    unmeasured = [trial("a", 3200, 0.7010, train=0.730), trial("c", 51200, 0.6985)]
    assert find(unmeasured, MRPC, MRPC_TRAIN) == []
    assert find(mrpc_did(), MRPC, TrainScale(0.664, 0.664)) == []


def test_replayed_on_the_real_sst2_study_the_policy_reruns_the_collapse_once_its_neighbour_is_in():
    """The committed study's rows, in the order they started: once SAID's d = 895 scored 0.802 the policy flags
    d = 400 (lr 0.5, 0.551) and reruns it at lr ÷ 3 — the rerun that, in the study, scored 0.774."""
    from raydim.store.d90 import policy_of
    from raydim.store.dataset import ResultsStore

    rows = sorted(ResultsStore.at(str(STUDY_STORE)).rows("study-said-did-sst2"), key=lambda r: (r.started_at,
                                                                                               r.finished_at))
    said = "sst2:minilm-l6@final:said"
    first_895 = next(i for i, r in enumerate(rows) if r.method == "said" and r.d == 895)
    before, after = policy_of(rows[:first_895]), policy_of(rows[:first_895 + 1])
    assert before.history(said).excluded == frozenset()
    [fell] = [r for r in rows if r.method == "said" and r.d == 400 and r.attempt == 0]
    assert after.history(said).excluded == {fell.trial_id}
    rerun = next(r for r in after.propose(2) if r.key.id == said)
    assert (rerun.d, rerun.seed, rerun.retry_of) == (400, 0, fell.trial_id)
    assert rerun.lr == pytest.approx(fell.lr / 3)


# MPNet SAID on SST-2 in the study: dev majority 0.509, full fine-tune 0.9295 (σ ≈ 0.0104); train rows: the
# trivial predictor 163 of 256, the full fine-tune 0.979
MPNET = reference(0.5092, 0.9295, 0.0104, full_sd=0.003)
MPNET_TRAIN = TrainScale(163 / 256, 0.9785)


def mpnet_said():
    """Passing trials far above d = 100 (where the dev-score tests leave a low score at 100 to the fit: the curve may
    still be rising), and d = 100 at lr 1.0, which reached 0.770 on train rows before it collapsed."""
    return [trial("a", 3200, 0.917, lr=0.177, train=0.906), trial("b", 1600, 0.90, lr=0.25, train=0.89),
            TrialRecord(TrialRequest("d", KEY, 100, 1.0, 0), FAILED, None, diverged=True, train_metric=0.770)]


def test_learning_nothing_where_a_run_at_that_d_learned_before_it_diverged_is_a_collapse():
    """d = 100 at a third of the rate learned almost nothing (train 0.660, dev 0.564; on two threads the same run
    passed, 0.858) — below every d that passed, so the train test alone leaves it to the fit; but at d = 100 the
    lr 1.0 run had learned (0.770) before it diverged: that subspace can learn, and the rate is still too high."""
    slow = trial("e", 100, 0.564, lr=0.333, train=0.660)
    assert find(mpnet_said() + [slow], MPNET, MPNET_TRAIN) == [slow]
    assert find(mpnet_said()[:2] + [slow], MPNET, MPNET_TRAIN) == []  # without the diverged run: d's fault, maybe
    never_learned = replace(mpnet_said()[2], train_metric=0.640)
    assert find(mpnet_said()[:2] + [never_learned, slow], MPNET, MPNET_TRAIN) == []
    larger = TrialRecord(TrialRequest("f", KEY, 232, 0.656, 0), FAILED, None, diverged=True, train_metric=0.818)
    assert find(mpnet_said()[:2] + [larger, slow], MPNET, MPNET_TRAIN) == []  # learned at a larger d only
    assert find([mpnet_said()[2], slow], MPNET, MPNET_TRAIN) == [slow]  # one completed trial is enough


def test_on_the_real_mrpc_study_the_policy_reruns_did_at_a_third_of_the_rate_where_it_learned_nothing():
    """The MRPC rows the search had stored when it was stopped, before this test existed, rebuilt with the trivial
    predictor's train score: DID's three majority-class runs are set aside and d = 51,200 is rerun at lr ÷ 3 —
    the rate at which, outside the study, it scored 0.8015 (and in the search's next run 0.799)."""
    import datetime as dt
    from dataclasses import replace

    from raydim.store.d90 import policy_of
    from raydim.store.dataset import ResultsStore

    stopped = dt.datetime(2026, 12, 4, 18, 30, tzinfo=dt.timezone.utc)
    policy = policy_of([r for r in ResultsStore.at(str(STUDY_STORE)).rows("study-said-did-mrpc")
                        if r.finished_at < stopped])
    did = "mrpc:minilm-l6@final:did"
    assert policy.history(did).excluded == frozenset()  # stored without the trivial train score: the test is off
    policy.targets = {k: replace(t, train_chance=0.6640625) for k, t in policy.targets.items()}
    excluded = policy.history(did).excluded
    assert sorted((r.request.d, r.request.seed) for r in policy.history(did).records
                  if r.request.trial_id in excluded) == [(51200, 0), (100_000, 0), (100_000, 1)]
    rerun = next(r for r in policy.propose(2) if r.key.id == did)
    assert (rerun.d, rerun.seed, rerun.attempt) == (51200, 0, 1)
    assert rerun.lr == pytest.approx(0.0442 / 3, rel=1e-3)
