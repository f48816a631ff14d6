from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve
from raydim.search.simulator import run_search

KEY = SearchKey("sst2", "bert-base")


def test_optuna_strategy_finds_a_d_near_d90():
    curve = SimulatedCurve(d90=800.0, full=0.92, chance=0.5, width=1.2, noise_sd=0.0, lr_opt=0.01)
    settings = SearchSettings(strategy="optuna", d_min=10, d_max=100_000, max_trials=40, baseline_lrs=(3e-5,))
    policy = SearchPolicy([KeyTarget(KEY, chance=curve.chance)], settings)
    run_search(policy, curve, slots=2)
    result = policy.results()[0]
    assert result.status == "found" and result.trials_used == 40
    assert curve.d90 <= result.d90 <= 1.5 * curve.d90  # noiseless: a feasible d is never below the true d90


def test_optuna_strategy_waits_for_the_threshold():
    settings = SearchSettings(strategy="optuna", parallelism=4, baseline_lrs=(1e-5, 3e-5))
    policy = SearchPolicy([KeyTarget(KEY, chance=0.5)], settings)
    assert [r.d for r in policy.propose(4)] == [None, None]  # constraints need the baseline first
