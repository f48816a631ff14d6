"""The search on a real local Ray: two keys at once with the simulator, a driver killed and resumed,
slots sized from the cluster."""

import dataclasses
import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from ray import tune

from raydim.errors import RaydimError
from raydim.search import KeyTarget, SearchKey, SearchSettings, SimulatedCurve
from raydim.tune import CURVES, D90Searcher, SearchSpec, load_searcher, run_search, simulated_trial, trial_slots

# Noiseless and indifferent to the learning rate (the machinery is under test here, not lr handling: a
# diverged trial's rerun at a third of its rate scores the same)
CURVES_BY_KEY = {
    SearchKey("mrpc", "m", method="said"): SimulatedCurve(d90=300, full=0.88, chance=0.68, width=0.8,
                                                          noise_sd=0.0, lr_opt=0.05, lr_curvature=0.0),
    SearchKey("rte", "m", method="said"): SimulatedCurve(d90=3000, full=0.75, chance=0.53, width=0.8,
                                                         noise_sd=0.0, lr_opt=0.01, lr_curvature=0.0),
}
SETTINGS = SearchSettings(parallelism=2, baseline_lrs=(3e-5,), d_min=10, d_max=100_000)
CURVE_SPACE = {CURVES: {k.id: dataclasses.asdict(c) for k, c in CURVES_BY_KEY.items()}}


def targets():
    return [KeyTarget(k, c.chance) for k, c in CURVES_BY_KEY.items()]


def assert_found_true_d90(results):
    assert len(results) == 2
    for result in results:
        truth = CURVES_BY_KEY[SearchKey.from_id(result.key)].d90
        assert result.status == "found"
        # noiseless trials pin the curve so tightly that the fit's grid of curve shapes shows: ends within 2%
        assert result.d90_low / 1.02 <= truth <= result.d90_high * 1.02
        assert abs(math.log(result.d90 / truth)) < math.log(1.1)


def test_simulator_two_keys_in_a_hand_written_tuner(ray_cluster, tmp_path):
    searcher = D90Searcher(targets(), SETTINGS)
    tuner = tune.Tuner(
        tune.with_resources(simulated_trial, {"cpu": 0.5}),
        param_space=CURVE_SPACE,
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=-1, max_concurrent_trials=4, reuse_actors=True),
        run_config=tune.RunConfig(name="sim", storage_path=str(tmp_path), verbose=0),
    )
    grid = tuner.fit()
    assert_found_true_d90(searcher.results())
    assert not grid.errors
    assert len(grid) == sum(r.trials_used for r in searcher.results())  # each trial counted once (no shared baseline)
    assert load_searcher(grid.experiment_path).results() == searcher.results()  # the saved state is final


DRIVER = textwrap.dedent("""
    import dataclasses, sys, time
    import ray
    from raydim.tune import SearchSpec, run_search, simulated_trial as simulate
    from tests.tune.test_tuner import CURVE_SPACE, SETTINGS, targets

    def simulated_trial(config):  # Tune.restore wants the same trainable name; this one is slower
        time.sleep(1.0)
        simulate(config)

    ray.init(address=sys.argv[1])
    spec = SearchSpec(name="killed", storage=sys.argv[2], max_concurrent=2, cpus_per_trial=0.5,
                      search=SETTINGS.to_dict())
    run_search(spec, targets=targets(), trainable=simulated_trial, param_space=CURVE_SPACE, verbose=0)
""")


def completed_in(folder: Path) -> int:
    files = list(folder.glob("searcher-state-*.pkl"))
    if not files:
        return 0
    try:
        state = json.loads(files[0].read_text())
    except (json.JSONDecodeError, OSError):
        return 0
    return sum(t["status"] == "completed" for t in state["policy"]["trials"])


def test_search_resumes_after_its_driver_is_killed(ray_cluster, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]),
                                                        os.environ.get("PYTHONPATH", "")])}
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, ray_cluster, str(tmp_path)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while completed_in(tmp_path / "killed") < 6:
        assert driver.poll() is None and time.monotonic() < deadline, "the first driver ended before it was killed"
        time.sleep(0.2)
    driver.kill()
    driver.wait()
    before = load_searcher(str(tmp_path / "killed")).policy.state_dict()["trials"]

    spec = SearchSpec(name="killed", storage=str(tmp_path), max_concurrent=2, cpus_per_trial=0.5,
                      search=SETTINGS.to_dict())
    results = run_search(spec, resume=True, trainable=simulated_trial, verbose=0)
    assert_found_true_d90(results)
    after = {t["request"]["trial_id"]: t for t in load_searcher(str(tmp_path / "killed")).policy.state_dict()["trials"]}
    for trial in before:  # nothing done before the kill was lost or redone
        if trial["status"] == "completed":
            assert after[trial["request"]["trial_id"]] == trial


def test_resume_and_restart_mistakes_are_clear(ray_cluster, tmp_path):
    spec = SearchSpec(name="nothing-here", storage=str(tmp_path))
    with pytest.raises(RaydimError, match="nothing to resume at .*nothing-here.*drop --resume"):
        run_search(spec, resume=True)
    run_search(spec.with_overrides(name="done", search=SETTINGS.to_dict()), targets=targets(),
               trainable=simulated_trial, param_space=CURVE_SPACE, verbose=0)
    with pytest.raises(RaydimError, match="a search named 'done' already exists.*--resume"):
        run_search(spec.with_overrides(name="done"), targets=targets(), trainable=simulated_trial, verbose=0)


def test_trial_slots_follow_the_cluster(ray_cluster):
    assert trial_slots(SearchSpec(cpus_per_trial=1)) == 2
    assert trial_slots(SearchSpec(cpus_per_trial=0.5)) == 4
    assert trial_slots(SearchSpec(cpus_per_trial=4, max_concurrent=3)) == 3
    with pytest.raises(RaydimError, match="2 CPUs and 0 GPUs, too few for one trial of 1 CPUs and 1 GPUs"):
        trial_slots(SearchSpec(gpus_per_trial=1))
