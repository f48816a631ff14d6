"""Running trials' progress files and the time left computed from them: written when due, read back, dropped
once the trial is stored; the estimate's arithmetic on known rates."""

from __future__ import annotations

import pytest

import raydim.store.running
from raydim.store import ResultsStore
from raydim.store.running import (PassLevels, ProgressWriter, TrialProgress, clear_progress, drop_progress,
                                  read_progress, time_left)

SAID = "mrpc:m@final:said"
FULL = "mrpc:m@final:full"


def progress(trial_id: str = "t1", key: str = SAID, step: int = 50, steps: int = 300, rate: float = 2.0,
             loading: float = 60.0, now: float = 10_000.0, d: int | None = 1000) -> TrialProgress:
    """A trial measured at ``rate`` seconds per step from step 0, having loaded for ``loading`` seconds, written at
    ``now``: ``step`` steps of ``steps`` (3 epochs) done."""
    training_since = now - step * rate
    return TrialProgress(trial_id, key, d, epoch=step * 3 // steps + 1, epochs=3, step=step, steps=steps,
                         started_at=training_since - loading, training_since=training_since, steps_at_start=0,
                         updated_at=now)


def test_a_trial_measures_its_rate_and_the_time_it_has_left():
    trial = progress(step=50, steps=300, rate=2.0, loading=60.0)
    assert trial.seconds_per_step == pytest.approx(2.0)
    assert trial.seconds_left(now=10_000.0) == pytest.approx(250 * 2.0)
    assert trial.seconds_left(now=10_010.0) == pytest.approx(250 * 2.0 - 10)  # it went on since it wrote
    assert trial.trial_seconds == pytest.approx(60 + 300 * 2.0)


def test_a_trial_before_its_second_step_has_no_rate():
    trial = progress(step=0)
    assert trial.seconds_per_step is None and trial.seconds_left(10_000.0) is None and trial.trial_seconds is None


def test_time_left_spreads_each_keys_budget_over_its_slots():
    # one running trial, 500 s left, whole trials of 660 s; 3 more may start, two at a time
    left = time_left([progress()], {SAID: 3}, parallelism=2, slots=2, now=10_000.0)
    assert left.per_key[SAID] == pytest.approx((500 + 3 * 660) / 2)
    assert left.total == pytest.approx((500 + 3 * 660) / 2)


def test_a_key_left_alone_gets_the_slots_of_the_keys_that_are_done():
    # 3 keys, 2 slots, 1 per key; two keys done: the last runs two at a time (the policy gives it their slots),
    # so its time left is the search's, not twice it
    done_a, done_b = "sst2:a@final:said", "sst2:b@final:said"
    running = [progress("t1"), progress("t2")]  # 500 s left each, trials of 660 s
    left = time_left(running, {done_a: 0, done_b: 0, SAID: 4}, parallelism=1, slots=2, now=10_000.0)
    assert left.per_key[SAID] == pytest.approx((2 * 500 + 4 * 660) / 2) == left.total
    assert left.per_key[done_a] == 0.0


def test_time_left_is_at_least_the_longest_running_trial():
    left = time_left([progress(step=10)], {SAID: 0}, parallelism=4, slots=4, now=10_000.0)
    assert left.per_key[SAID] == pytest.approx(290 * 2.0) == left.total


def test_a_shared_full_fine_tune_counts_for_each_key_once_in_the_total():
    did = "mrpc:m@final:did"
    baseline = progress("b", key=FULL, d=None, step=100)  # 400 s left, trials of 660 s
    left = time_left([baseline], {SAID: 1, did: 1}, parallelism=1, slots=2, now=10_000.0)
    assert left.per_key == {SAID: pytest.approx(400 + 660), did: pytest.approx(400 + 660)}
    assert left.total == pytest.approx((400 + 2 * 660) / 2)


def test_a_key_without_a_measured_trial_uses_the_other_keys_trial_time():
    did = "mrpc:m@final:did"
    left = time_left([progress()], {SAID: 0, did: 2}, parallelism=1, slots=2, now=10_000.0)
    assert left.per_key[did] == pytest.approx(2 * 660)


def test_time_left_is_unknown_before_any_rate_is_measured():
    left = time_left([progress(step=0)], {SAID: 3}, parallelism=1, slots=1, now=10_000.0)
    assert left.per_key == {SAID: None} and left.total is None


def test_a_writer_writes_the_first_step_each_epochs_end_and_every_15_s(tmp_path, monkeypatch):
    clock = iter([100.0, 101.0, 102.0, 117.0, 118.0, 119.0])
    monkeypatch.setattr(raydim.store.running.time, "time", lambda: next(clock))
    store = ResultsStore(str(tmp_path))
    writer = ProgressWriter(store, "exp", "t1", SAID, 1000, epochs=2, started_at=40.0)
    written = []
    for step in (1, 2, 3, 4, 5, 6):  # 6 steps, 3 per epoch
        writer(step, 6, epoch=(step - 1) // 3 + 1)
        [trial] = read_progress(store, "exp")
        written.append(trial.step)
    # step 1: the first; 3: an epoch's end; 4: 15 s after the last write; 6: the last epoch's end
    assert written == [1, 1, 3, 4, 4, 6]
    assert trial == TrialProgress("t1", SAID, 1000, epoch=2, epochs=2, step=6, steps=6, started_at=40.0,
                                  training_since=100.0, steps_at_start=1, updated_at=119.0)
    assert trial.seconds_per_step == pytest.approx(19.0 / 5)


def test_progress_is_dropped_once_the_trial_is_stored(tmp_path):
    store = ResultsStore(str(tmp_path))
    for trial_id in ("t1", "t2"):
        ProgressWriter(store, "exp", trial_id, SAID, 1000, epochs=1, started_at=0.0)(1, 10, epoch=1)
    drop_progress(store, "exp", "t1")
    drop_progress(store, "exp", "gone")  # already dropped: nothing to do
    assert [t.trial_id for t in read_progress(store, "exp")] == ["t2"]
    assert read_progress(store, "other") == []


def test_clearing_a_search_drops_every_progress_file_it_left_and_no_other_searchs(tmp_path):
    store = ResultsStore(str(tmp_path))
    for experiment, trial_id in (("exp", "t1"), ("exp", "t2"), ("other", "t3")):
        ProgressWriter(store, experiment, trial_id, SAID, 1000, epochs=1, started_at=0.0)(1, 10, epoch=1)
    clear_progress(store, "exp")
    clear_progress(store, "never-ran")
    assert read_progress(store, "exp") == [] and [t.trial_id for t in read_progress(store, "other")] == ["t3"]


def test_a_progress_file_of_another_shape_is_skipped(tmp_path):
    store = ResultsStore(str(tmp_path))
    store.put_json("running/exp/t1.json", {"trial_id": "t1"})
    (tmp_path / "running" / "exp" / "t2.json").write_text("{half")
    assert read_progress(store, "exp") == []


def test_pass_levels_are_published_read_by_key_and_cleared_with_the_progress(tmp_path):
    store = ResultsStore(str(tmp_path))
    levels = PassLevels(store.uri, "exp")
    assert levels.read(SAID) is None  # nothing published: a trial keeps the level it was proposed with
    levels.publish({SAID: 0.8137})
    ProgressWriter(store, "exp", "t1", SAID, 1000, epochs=3, started_at=0.0)(1, 30, epoch=1)
    assert levels.read(SAID) == 0.8137 and levels.read("mrpc:m@final:did") is None
    assert [t.trial_id for t in read_progress(store, "exp")] == ["t1"]  # the levels file is not a trial
    assert PassLevels(store.uri, "other").read(SAID) is None  # each search its own
    clear_progress(store, "exp")
    assert levels.read(SAID) is None and read_progress(store, "exp") == []


def test_pass_levels_out_of_reach_are_logged_not_raised(tmp_path, caplog):
    blocker = tmp_path / "running"
    blocker.write_text("a file where the progress folder would be")
    levels = PassLevels(str(tmp_path), "exp")
    levels.publish({SAID: 0.8})
    assert "could not be written" in caplog.text and levels.read(SAID) is None
