"""The d90 table rebuilt from stored rows is the one the search itself reported."""

import dataclasses

import pytest

from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve
from raydim.store import D90Row, ResultsStore
from raydim.store.d90 import d90_rows, d90_table, policy_of
from raydim.store.running import TrialProgress
from tests.store.rows import simulated_rows

SAID, DID = SearchKey("mrpc", "m", method="said"), SearchKey("mrpc", "m", method="did")
CURVES = {SAID.id: SimulatedCurve(d90=300, full=0.88, chance=0.68, width=0.8, noise_sd=0.005, lr_opt=0.05),
          DID.id: SimulatedCurve(d90=2000, full=0.88, chance=0.68, width=0.8, noise_sd=0.005, lr_opt=0.05)}
SETTINGS = SearchSettings(parallelism=2, baseline_lrs=(3e-5,), d_min=10, d_max=100_000, lr_init=0.05)


def test_rebuilt_d90_table_matches_the_search(tmp_path):
    policy = SearchPolicy([KeyTarget(SAID, 0.68), KeyTarget(DID, 0.68)], SETTINGS)
    store = ResultsStore(str(tmp_path))
    store.write(simulated_rows(policy, CURVES, D=5000, train_size=1000))
    rows = d90_rows(store.rows())
    assert [r.key for r in rows] == [SAID.id, DID.id]
    for row, result in zip(rows, policy.results()):
        assert isinstance(row, D90Row) and row.status == "found"
        assert {f.name: getattr(row, f.name) for f in dataclasses.fields(result)} == dataclasses.asdict(result)
        assert (row.experiment, row.D, row.train_size, row.checkpoint_step) == ("sim", 5000, 1000, None)


def test_one_row_per_experiment_and_key(tmp_path):
    rows = []
    for experiment in ("a", "b"):
        rows += simulated_rows(SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), CURVES, experiment=experiment)
    table = d90_table(rows)
    assert list(table["experiment"]) == ["a", "b"] and list(table["key"]) == [SAID.id, SAID.id]
    assert table["d90"].between(250, 360).all() and list(table.columns)[-7:] == [
        "experiment", "D", "checkpoint_step", "train_size", "finished_at", "cpu_hours", "gpu_hours"]
    assert list(table["finished_at"]) == [max(r.finished_at for r in rows if r.experiment == e) for e in ("a", "b")]


def test_a_failed_trial_and_its_rerun_are_read_back_as_such(tmp_path):
    policy = SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS)
    [baseline] = policy.propose(1)
    policy.record_failure(baseline.trial_id)
    rows = simulated_rows(policy, CURVES)
    assert [r.attempt for r in rows[:2]] == [0, 1] and rows[1].retry_of == baseline.trial_id
    assert rows[0].status == "error" and rows[0].primary is None
    [row] = d90_rows(rows)
    assert row.status == "found" and row.trials_used == policy.result(SAID.id).trials_used
    assert row.baseline == policy.result(SAID.id).baseline


def test_compute_is_summed_from_the_rows_that_ran_here_and_a_censored_score_stays_a_bound():
    rows = simulated_rows(SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), CURVES, experiment="sim")
    rows = [dataclasses.replace(r, seconds=1800.0, cpus=2.0, gpus=0.0) for r in rows]
    rows[-1] = dataclasses.replace(rows[-1], reused_from="earlier")  # a reused copy cost nothing here
    [row] = d90_rows(rows)
    assert row.cpu_hours == pytest.approx(len(rows) - 1) and row.gpu_hours == 0.0
    censored = [dataclasses.replace(r, censored=True) if r.d else r for r in rows]
    assert all(rec.censored for rec in policy_of(censored).history(SAID.id).subspace())


def test_the_trials_the_fit_sets_aside_are_the_collapsed_ones_awaiting_or_past_their_rerun():
    """The committed SST-2 study: SAID's d = 400 at lr 0.5 (0.551) collapsed and was rerun at 0.167; nothing else."""
    from raydim.store.d90 import set_aside
    from tests.search.test_collapse import STUDY_STORE

    rows = ResultsStore.at(str(STUDY_STORE)).rows("study-said-did-sst2")
    [fell] = [r for r in rows if r.method == "said" and r.d == 400 and r.attempt == 0]
    assert set_aside(rows) == {fell.trial_id}


def test_a_key_whose_search_would_run_more_trials_is_flagged_unfinished():
    """Rows read while a search runs (or after it stopped early) give a d90 that may still move: flagged, so the
    table cannot pass it off as final. The whole search's rows carry no such flag."""
    rows = simulated_rows(SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), CURVES)
    [final] = d90_rows(rows)
    assert "unfinished" not in final.flags
    ordered = sorted(rows, key=lambda r: r.started_at)
    [early] = d90_rows(ordered[:-3])  # its last three trials still running
    assert "unfinished" in early.flags and early.trials_used == len(rows) - 3
    assert list(d90_table(ordered[:-3])["flags"]) == [",".join(early.flags)]


def test_a_key_with_a_trial_still_running_is_flagged_unfinished_though_its_rows_say_it_is_done():
    """Seen on the MPNet study: with d = 20 stored the rebuilt search had met its tolerance, while d = 78 (inside
    the interval) still ran. Its progress file says so; another experiment's running trial does not count."""
    rows = simulated_rows(SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), CURVES)
    progress = TrialProgress(trial_id="t", key=SAID.id, d=78, epoch=2, epochs=3, step=251, steps=750,
                             started_at=0.0, training_since=60.0, steps_at_start=0, updated_at=600.0)
    [row] = d90_rows(rows, {"sim": [progress]})
    assert "unfinished" in row.flags
    [row] = d90_rows(rows, {"other": [progress]})
    assert "unfinished" not in row.flags
