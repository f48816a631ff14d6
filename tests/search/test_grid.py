from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve
from raydim.search.ksection import log_grid
from raydim.search.simulator import run_search


def test_grid_sweeps_every_point_and_finds_d90():
    curve = SimulatedCurve(d90=140.0, full=0.9, chance=0.55, width=1.0, noise_sd=0.0, lr_opt=0.02)
    settings = SearchSettings(strategy="grid", d_min=10, d_max=1000, lr_init=0.02, parallelism=8, max_trials=200)
    policy = SearchPolicy([KeyTarget(SearchKey("rte", "bert-base"), chance=curve.chance, baseline=0.9)], settings)
    run_search(policy, curve, slots=8)
    result = policy.results()[0]
    tried = {t["request"]["d"] for t in policy.state_dict()["trials"]}
    assert tried >= set(log_grid(10, 1000, 1.1))
    assert result.status == "found" and abs(result.d90 / 140 - 1) <= 0.05
