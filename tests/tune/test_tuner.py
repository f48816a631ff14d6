"""The search on a real local Ray: two keys at once with the simulator, a driver killed and resumed, a driver
stopped by Ctrl-C after a rerun and resumed, slots sized from the cluster."""

import dataclasses
import json
import math
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import ray.cloudpickle
from ray import tune

from raydim.errors import RaydimError
from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve
from raydim.search.results import BUDGET_EXHAUSTED, INTERRUPTED
from raydim.search.simulator import run_search as run_simulated
from raydim.store import ResultsStore
from raydim.tune import CURVES, D90Searcher, SearchSpec, load_searcher, run_search, simulated_trial, trial_slots
from raydim.tune.tuner import final_results
from tests.conftest import repo_env

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers need not import the tests

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
    env = repo_env()
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


STARTS = "starts"  # param_space entry: the folder where every start of a trial leaves a line in a file named by its id


def counted_crash_once(config):
    """simulated_trial, half a second slower, counting its starts; mrpc's first subspace trial raises once."""
    folder = Path(config[STARTS])
    with open(folder / config["trial_id"], "a") as f:
        f.write("started\n")
    time.sleep(0.5)
    if config["task"] == "mrpc" and config["d"] is not None and config["attempt"] == 0:
        try:
            (folder / "crashed").touch(exist_ok=False)  # atomic: one crash
        except FileExistsError:
            pass
        else:
            raise RuntimeError(f"simulated crash at d={config['d']}")
    simulated_trial(config)


STOPPED_DRIVER = textwrap.dedent("""
    import sys
    import ray
    from raydim.tune import run_search
    from tests.tune.test_tuner import CURVE_SPACE, STARTS, counted_crash_once, stopped_spec, targets

    ray.init(address=sys.argv[1])
    run_search(stopped_spec(sys.argv[2]), targets=targets(), trainable=counted_crash_once,
               param_space={**CURVE_SPACE, STARTS: sys.argv[3]}, verbose=0)
""")


def stopped_spec(storage: str) -> SearchSpec:
    """No Tune restarts (max_failures=0): the crash reaches the searcher, which reruns it as attempt 1."""
    return SearchSpec(name="stopped", storage=storage, max_concurrent=2, cpus_per_trial=0.5, max_failures=0,
                      search=SETTINGS.to_dict())


def starts(folder: Path) -> dict[str, int]:
    return {f.name: len(f.read_text().splitlines()) for f in folder.iterdir() if f.name != "crashed"}


@pytest.mark.slow
def test_resume_reruns_only_the_trials_in_flight_at_the_stop(ray_cluster, tmp_path):
    """Ctrl-C after a trial errored and the searcher reran it: --resume starts again only the trials that were
    running at the stop. The errored trial is not rerun, and every row stored before the stop is read back
    unchanged (its error stays an error)."""
    env = repo_env()
    folder = tmp_path / STARTS
    folder.mkdir()
    driver = subprocess.Popen([sys.executable, "-c", STOPPED_DRIVER, ray_cluster, str(tmp_path), str(folder)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = ResultsStore.at(str(tmp_path))
    deadline = time.monotonic() + 180
    while not any(r.retry_of and r.status == "completed" for r in store.rows("stopped")):
        assert driver.poll() is None and time.monotonic() < deadline, "the driver ended before it was stopped"
        time.sleep(0.2)
    driver.send_signal(signal.SIGINT)
    assert driver.wait(timeout=120) == 0
    before = {(r.trial_id, r.attempt): r for r in store.rows("stopped")}
    ended = {trial_id for trial_id, _ in before}
    in_flight = set(starts(folder)) - ended
    [errored] = [r for r in before.values() if r.status == "error"]
    assert errored.error == f"RuntimeError: simulated crash at d={errored.d}"

    assert_found_true_d90(run_search(stopped_spec(str(tmp_path)), resume=True, trainable=counted_crash_once,
                                     verbose=0))
    after = {(r.trial_id, r.attempt): r for r in store.rows("stopped")}
    assert {k: after[k] for k in before} == before  # nothing stored before the stop changed (no error flipped)
    counts = starts(folder)
    assert all(counts[t] == 1 for t in ended)  # no trial that had ended ran again, the errored one included
    assert all(counts[t] == 2 for t in in_flight)  # each trial cut short ran again, to the end
    assert {t for t, _ in after} == set(counts)  # and every trial started has its one row
    trials = load_searcher(str(tmp_path / "stopped")).policy.state_dict()["trials"]
    assert len(after) == len(trials)


def test_a_key_left_unfinished_by_a_stop_is_interrupted_not_budget_exhausted():
    """final_results: a key whose trials were still running when the run stopped is incomplete and flagged
    interrupted (its proposed trials fill its budget, but --resume runs them); a finished run is left as it is."""
    [mrpc, _] = targets()
    curve = CURVES_BY_KEY[mrpc.key]
    policy = SearchPolicy([mrpc], dataclasses.replace(SETTINGS, max_trials=2))
    [baseline] = [r for r in policy.propose(2) if r.d is None]  # grid cuts may start while it runs
    policy.record_result(baseline.trial_id, curve(baseline))
    while policy.propose(1):  # then subspace trials until the budget is spent, in flight at the stop
        pass
    assert policy.progress()[0].trials_running > 0 and not policy.key_finished(mrpc.key.id)
    assert BUDGET_EXHAUSTED in policy.result(mrpc.key.id).flags
    [result] = final_results(policy)
    assert result.status == "incomplete" and INTERRUPTED in result.flags and BUDGET_EXHAUSTED not in result.flags

    finished = SearchPolicy([mrpc], SETTINGS)
    run_simulated(finished, curve, slots=2)
    assert final_results(finished) == finished.results()


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


def test_a_resume_tune_cannot_restore_is_refused_not_started_over(ray_cluster, tmp_path):
    """Tune, failing to restore a run state, logs it and starts the experiment over (seen live: a searcher pickled
    by an older raydim). raydim refuses instead, and the run folder keeps the state a fixed resume needs."""
    spec = SearchSpec(name="broken", storage=str(tmp_path), search=SETTINGS.to_dict())
    run_search(spec, targets=targets(), trainable=simulated_trial, param_space=CURVE_SPACE, verbose=0)
    folder = tmp_path / "broken"
    [state] = folder.glob("searcher-state-*.pkl")
    state.write_bytes(b"not a pickle")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(RaydimError, match="cannot resume the search at .*broken: Tune could not restore its run "
                                          "state .*nothing ran"):
        run_search(spec, resume=True, trainable=simulated_trial, verbose=0)
    assert sorted(p.name for p in folder.iterdir()) == before
