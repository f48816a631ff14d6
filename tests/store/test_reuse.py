"""A new search over a store starts from the matching finished trials and never runs them again."""

import dataclasses
import datetime as dt

from raydim.search import KeyTarget, SearchKey, SearchPolicy
from raydim.search.simulator import run_search
from raydim.store import ResultsStore
from raydim.store.d90 import d90_rows, policy_of
from raydim.store.reuse import Provenance, reusable, reuse
from tests.store.rows import simulated_rows
from tests.store.test_d90 import CURVES, SAID, SETTINGS

OTHER = SearchKey("rte", "m", method="said")
SAME = Provenance("abc", None, None, None, None)  # what the stored simulated rows carry


def same(request):
    return SAME


def stored():
    return simulated_rows(SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), CURVES, experiment="old")


def test_a_repeated_search_reuses_everything_and_runs_nothing():
    rows = stored()
    policy = SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS)
    reused, copies = reuse(rows, policy, same, "new", '{"new": 1}')
    assert reused == len(copies) == len(rows) and policy.finished() and policy.propose(4) == []
    assert policy.results()[0].d90 == policy_of(rows).results()[0].d90
    copy = copies[0]
    assert (copy.experiment, copy.trial_id, copy.reused_from, copy.search) == ("new", f"old/{rows[0].trial_id}",
                                                                              "old", '{"new": 1}')


def test_a_reused_trial_brings_its_train_score():
    rows = [dataclasses.replace(r, train_metric=0.5 + i / 100) for i, r in enumerate(stored())]
    policy = SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS)
    reuse(rows, policy, same, "new", "{}")
    assert sorted(r.train_metric for r in policy.history(SAID.id).records) == sorted(r.train_metric for r in rows)
    assert sorted(r.train_metric for r in policy_of(rows).history(SAID.id).records) == sorted(r.train_metric
                                                                                             for r in rows)


def test_a_search_rerun_under_its_own_name_reuses_its_trials_without_copying_them():
    """Rerunning a space under the same name (the way to extend a search whose Tune folder is gone) takes every
    trial, writes nothing, and reads back the same d90 and interval: no trial counts twice."""
    rows = stored()
    policy = SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS)
    reused, copies = reuse(rows, policy, same, "old", "{}")
    assert (reused, copies) == (len(rows), [])
    assert policy.results() == policy_of(rows).results()


def test_copies_a_rerun_wrote_into_its_own_experiment_are_read_as_one_trial(tmp_path):
    """Stores written before the fix hold them: the reader drops each such copy, keeps copies from other
    experiments, and the d90 table is the one of the original rows."""
    rows = stored()
    own = [dataclasses.replace(r, trial_id=f"old/{r.trial_id}", reused_from="old") for r in rows]
    _, elsewhere = reuse(rows, SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), same, "new", rows[-1].search)
    store = ResultsStore(str(tmp_path))
    store.write(rows + own + elsewhere)
    assert len(store.rows("old")) == len(rows) and len(store.rows("new")) == len(elsewhere) == len(rows)
    interval = [(r.d90, r.d90_low, r.d90_high) for r in d90_rows(store.rows()) if r.experiment == "old"]
    original = policy_of(rows).results()[0]
    assert interval == [(original.d90, original.d90_low, original.d90_high)]


def test_only_trials_with_the_same_settings_hash_are_reused():
    rows = stored()
    policy = SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS)
    assert reusable(rows, policy, lambda request: SAME._replace(settings_hash="other settings")) == []
    small = reusable(rows, policy, lambda request: SAME if request.d is None or request.d < 1000
                     else SAME._replace(settings_hash="x"))
    assert small and all(r.d is None or r.d < 1000 for _, r in small)


def test_failed_trials_other_keys_and_supplied_baselines_are_not_reused():
    rows = stored()
    rows[0] = dataclasses.replace(rows[0], status="error", primary=None)  # the baseline
    elsewhere = SearchPolicy([KeyTarget(OTHER, 0.5)], SETTINGS)
    assert reusable(rows, elsewhere, same) == []
    policy = SearchPolicy([KeyTarget(SAID, 0.68, baseline=0.88)], SETTINGS)
    assert all(not r.method == "full" for _, r in reusable(rows, policy, same))
    assert len(reusable(rows, SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), same)) == len(rows) - 1


def test_a_partly_reused_search_finishes_with_fewer_new_trials():
    rows = [r for r in stored() if r.d is None or r.d <= 1000]
    policy = SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS)
    reused, _ = reuse(rows, policy, same, "new", "{}")
    fresh = SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS)
    run_search(fresh, CURVES[SAID.id], slots=2)
    run_search(policy, CURVES[SAID.id], slots=2)
    new_trials = len(policy.state_dict()["trials"]) - reused
    assert reused > 0 and new_trials < len(fresh.state_dict()["trials"])
    assert policy.results()[0].status == "found"


def test_a_trial_of_other_data_weights_layout_or_engine_is_not_reused():
    """The settings hash names paths and models; the fingerprints say what they held. Any of them changed, or
    a row from before the fingerprints (no engine version) against a search that has one: nothing is reused."""
    measured = Provenance("abc", 1, "data", "weights", "layout")
    rows = [dataclasses.replace(r, engine_version=1, data_fingerprint="data", model_fingerprint="weights",
                                layout_fingerprint="layout") for r in stored()]
    policy = SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS)
    assert len(reusable(rows, policy, lambda request: measured)) == len(rows)
    for field in ("engine_version", "data_fingerprint", "model_fingerprint", "layout_fingerprint"):
        changed = measured._replace(**{field: 2 if field == "engine_version" else "edited"})
        assert reusable(rows, policy, lambda request, changed=changed: changed) == [], field
    assert reusable(stored(), policy, lambda request: measured) == []  # schema 1 rows: read, never reused


def _diverged(rows, index):
    """``rows`` with the subspace trial at ``index`` turned into a learning-rate failure, and that trial."""
    rows = list(rows)
    rows[index] = dataclasses.replace(rows[index], status="error", primary=None, censored=None,
                                      error="the training loss became nan at step 12 (lr 0.3)")
    return rows, rows[index]


def test_a_diverged_trial_is_reused_and_rerun_at_a_lower_rate_not_repeated():
    """A learning-rate failure is a result about its (d, lr, seed): the new search records it as diverged and its
    first proposal is the rerun at lr / lr_step, where running it as stored would only diverge again."""
    index = next(i for i, r in enumerate(stored()) if r.d is not None)
    rows, failed = _diverged(stored()[:index + 1], index)
    policy = SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS)
    reused, copies = reuse(rows, policy, same, "new", "{}")
    assert reused == len(rows)
    record = next(r for r in policy.history(SAID.id).records if r.request.trial_id == f"old/{failed.trial_id}")
    assert (record.status, record.diverged) == ("failed", True)
    assert [c.status for c in copies if c.trial_id == record.request.trial_id] == ["error"]
    rerun = policy.propose(1)[0]
    assert (rerun.d, rerun.seed, rerun.retry_of) == (failed.d, failed.seed, f"old/{failed.trial_id}")
    assert rerun.lr == failed.lr / SETTINGS.lr_step and rerun.attempt == failed.attempt + 1


def test_a_diverged_trial_whose_rerun_is_stored_is_not_rerun_again():
    """The rerun keeps its link to the trial it reran (``retry_of`` renamed like the trial ids), in the policy and in
    the copies, so neither the new search nor the rebuilt d90 table asks for the rerun a second time."""
    index = next(i for i, r in enumerate(stored()) if r.d is not None)
    rows, failed = _diverged(stored()[:index + 1], index)
    rerun = dataclasses.replace(failed, trial_id="r1", attempt=1, retry_of=failed.trial_id,
                                lr=failed.lr / SETTINGS.lr_step, status="completed", primary=0.7, error=None,
                                finished_at=failed.finished_at + dt.timedelta(seconds=1))
    policy = SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS)
    _, copies = reuse(rows + [rerun], policy, same, "new", rows[-1].search)
    proposed = policy.propose(4)
    assert all(not (p.d == failed.d and p.seed == failed.seed) for p in proposed)
    copy = next(c for c in copies if c.trial_id == "old/r1")
    assert (copy.attempt, copy.retry_of) == (1, f"old/{failed.trial_id}")
    rebuilt = policy_of(copies)
    assert all(not (p.d == failed.d and p.seed == failed.seed) for p in rebuilt.propose(4))


def test_a_search_rerun_under_its_name_writes_no_second_copy_of_a_trial_it_copied_before():
    """Copies written by an older raydim kept attempt 0 where the reused trial was a rerun; a second copy with its
    real attempt would be a second row of one trial in the experiment."""
    rows = stored()
    _, first = reuse(rows, SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), same, "new", "{}")
    assert first
    _, again = reuse(rows + [dataclasses.replace(c, attempt=0) for c in first],
                     SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS), same, "new", "{}")
    assert again == []


def test_a_diverged_trial_whose_rerun_lost_its_link_is_not_rerun_again():
    """A copy written before reruns kept ``retry_of`` has none: the rerun is known by its point, (d, lr / lr_step,
    seed), in the live search and in the rebuilt table alike."""
    index = next(i for i, r in enumerate(stored()) if r.d is not None)
    rows, failed = _diverged(stored()[:index + 1], index)
    unlinked = dataclasses.replace(failed, trial_id="r1", attempt=0, retry_of=None, lr=failed.lr / SETTINGS.lr_step,
                                   status="completed", primary=0.7, error=None,
                                   finished_at=failed.finished_at + dt.timedelta(seconds=1))
    policy = SearchPolicy([KeyTarget(SAID, 0.68)], SETTINGS)
    reuse(rows + [unlinked], policy, same, "new", "{}")
    for p in (policy, policy_of(rows + [unlinked])):
        assert all(not (q.d == failed.d and q.seed == failed.seed) for q in p.propose(4))


def test_a_rerun_proposed_by_a_search_that_had_reused_its_trial_keeps_its_link():
    """Its retry_of already names the request (``old/<id>``: the search had taken the diverged trial from the store)
    — the id the diverged trial gets again now, not to be prefixed a second time."""
    index = next(i for i, r in enumerate(stored()) if r.d is not None)
    rows, failed = _diverged(stored()[:index + 1], index)
    rerun = dataclasses.replace(failed, trial_id="r1", attempt=1, retry_of=f"old/{failed.trial_id}",
                                lr=failed.lr / SETTINGS.lr_step, status="completed", primary=0.7, error=None,
                                finished_at=failed.finished_at + dt.timedelta(seconds=1))
    taken = dict((row.trial_id, request) for request, row in reusable(rows + [rerun], SearchPolicy(
        [KeyTarget(SAID, 0.68)], SETTINGS), same))
    assert taken["r1"].retry_of == taken[failed.trial_id].trial_id == f"old/{failed.trial_id}"
