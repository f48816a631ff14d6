"""``raydim status``: each search's progress rebuilt from its stored rows, the trials running from Tune's saved
searcher, and the command that prints them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pytest
from ray.tune.search import Searcher

import raydim.cli
from raydim.cli import main
from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve
from raydim.store import ResultsStore
from raydim.store.d90 import policy_of
from raydim.store.manifest import SearchManifest, write_manifest
from raydim.store.status import search_status
from raydim.tune import SCORE, D90Searcher
from tests.store.rows import T0, simulated_rows
from tests.store.test_running import progress

SAID, DID = SearchKey("mrpc", "m", method="said"), SearchKey("mrpc", "m", method="did")
CURVES = {SAID.id: SimulatedCurve(d90=300, full=0.88, chance=0.68, width=0.8, noise_sd=0.005, lr_opt=0.05),
          DID.id: SimulatedCurve(d90=2000, full=0.88, chance=0.68, width=0.8, noise_sd=0.005, lr_opt=0.05)}
SETTINGS = SearchSettings(parallelism=2, baseline_lrs=(3e-5,), d_min=10, d_max=100_000, lr_init=0.05)


@pytest.fixture(scope="module")
def search() -> tuple[SearchPolicy, list]:
    """A whole simulated two-key search named ``sim``: its policy and its store rows, in the order they ended."""
    policy = SearchPolicy([KeyTarget(SAID, 0.68), KeyTarget(DID, 0.68)], SETTINGS)
    return policy, simulated_rows(policy, CURVES)


def completed(rows, key: SearchKey) -> int:
    """The key's completed trials among ``rows``, its baseline's full fine-tunes included."""
    return sum(r.status == "completed" and SearchKey(r.task, r.model, r.checkpoint, r.method) in (key, key.baseline_key)
               for r in rows)


def save_searcher(folder, policy: SearchPolicy) -> None:
    """What Tune saves in a run's folder while it runs: the searcher with ``policy``."""
    folder.mkdir(exist_ok=True)
    searcher = D90Searcher.from_state({"metric": SCORE, "policy": policy.state_dict()})
    searcher.save(str(folder / Searcher.CKPT_FILE_TMPL.format("2026-01-01_00-00-00")))


def test_a_finished_search_shows_every_key_finished_with_the_searchs_own_d90s(tmp_path, search):
    policy, rows = search
    ResultsStore.at(str(tmp_path)).write(rows)
    [status] = search_status(str(tmp_path))
    assert status.finished and (status.experiment, status.rows) == ("sim", len(rows))
    assert status.last_finished == max(r.finished_at for r in rows)
    assert list(status.results) == policy.results()
    for progress, original in zip(status.progress, policy.progress()):
        assert progress.phase == "finished" and progress.trials_running is None  # no run folder to read
        assert dataclasses.replace(progress, trials_running=0) == original


def test_a_search_half_way_is_running_with_its_trials_counted(tmp_path, search):
    _, rows = search
    ResultsStore.at(str(tmp_path)).write(rows[:len(rows) // 2])
    [status] = search_status(str(tmp_path))
    assert not status.finished and status.rows == len(rows) // 2
    assert {p.key: p.trials_done for p in status.progress} == {k.id: completed(rows[:len(rows) // 2], k)
                                                               for k in (SAID, DID)}
    assert any(p.phase != "finished" for p in status.progress)
    assert all(p.threshold is not None and p.best_metric is not None for p in status.progress)


@pytest.mark.parametrize("as_uri", [False, True], ids=["folder", "file-uri"])
def test_running_trials_come_from_the_searcher_tune_saved(tmp_path, search, as_uri):
    _, rows = search
    half = rows[:len(rows) // 2]
    storage = f"file://{tmp_path}" if as_uri else str(tmp_path)
    store = ResultsStore.at(storage)
    store.write(half)
    running = policy_of(half)
    first, second = running.propose(2, ["r1", "r2"])
    save_searcher(tmp_path / "sim", running)
    counts = {k.id: sum(r.key == k for r in (first, second)) for k in (SAID, DID)}
    [status] = search_status(storage)
    assert {p.key: p.trials_running for p in status.progress} == counts and not status.finished

    # r1 has ended and been written since Tune last saved the searcher: counted once, as done
    store.write([dataclasses.replace(half[-1], trial_id="r1", method=first.key.method, d=first.d, lr=first.lr,
                                     seed=first.seed, finished_at=half[-1].finished_at + dt.timedelta(minutes=1))])
    [status] = search_status(storage)
    counts[first.key.id] -= 1
    assert {p.key: p.trials_running for p in status.progress} == counts and status.rows == len(half) + 1



@pytest.mark.parametrize("state", [None, "not JSON"], ids=["no-run-folder", "unreadable"])
def test_running_is_unknown_where_no_saved_searcher_can_be_read(tmp_path, search, state):
    _, rows = search
    ResultsStore.at(str(tmp_path)).write(rows[:5])
    if state is not None:
        (tmp_path / "sim").mkdir()
        (tmp_path / "sim" / Searcher.CKPT_FILE_TMPL.format("2026-01-01_00-00-00")).write_text(state)
    [status] = search_status(str(tmp_path))
    assert [p.trials_running for p in status.progress] == [None, None] and not status.finished


def test_searches_are_listed_the_latest_active_last_or_one_by_name(tmp_path, search):
    _, rows = search
    later = [dataclasses.replace(r, experiment="later", finished_at=r.finished_at + dt.timedelta(days=1))
             for r in rows[:5]]
    ResultsStore.at(str(tmp_path)).write(later + rows)
    assert [s.experiment for s in search_status(str(tmp_path))] == ["sim", "later"]
    [status] = search_status(str(tmp_path), "sim")
    assert status.experiment == "sim" and status.rows == len(rows)


def test_cli_prints_a_finished_search_with_its_d90_table(tmp_path, search, capsys):
    policy, rows = search
    ResultsStore.at(str(tmp_path)).write(rows)
    assert main(["status", "--storage", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    last = max(r.finished_at for r in rows)
    assert lines[0] == f"sim: {len(rows)} trials ended, the last at {last:%Y-%m-%d %H:%M:%S} UTC; finished"
    assert lines[1].startswith(f"  {SAID.id}: finished, d in (") and "/ ? running" in lines[1]
    assert lines[3].split() == ["key", "status", "d90", "interval", "baseline", "chance", "threshold", "trials",
                                "flags"]
    assert lines[4].split()[:3] == [SAID.id, "found", f"{policy.result(SAID.id).d90:,.0f}"]


def test_cli_prints_a_running_search_without_a_d90_table(tmp_path, search, capsys):
    _, rows = search
    ResultsStore.at(str(tmp_path)).write(rows[:5])
    assert main(["status", "--storage", str(tmp_path), "--name", "sim"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("; running") and len(lines) == 3  # no d90 table yet
    assert all("(90%)" in line for line in lines[1:])  # each key's current interval, while it runs


def test_watch_prints_again_until_the_search_finishes(tmp_path, search, capsys, monkeypatch):
    _, rows = search
    store = ResultsStore.at(str(tmp_path))
    store.write(rows[:5])
    waits = []

    def the_search_ends(seconds: float) -> None:
        waits.append(seconds)
        store.write(rows[5:])

    monkeypatch.setattr(raydim.cli.time, "sleep", the_search_ends)
    assert main(["status", "--storage", str(tmp_path), "--watch", "30"]) == 0
    out = capsys.readouterr().out
    assert waits == [30.0] and out.count("] status\n") == 2
    assert out.index("; running") < out.index("; finished") and out.count("key  ") == 1


def test_ctrl_c_ends_watch_quietly(tmp_path, search, capsys, monkeypatch):
    _, rows = search
    ResultsStore.at(str(tmp_path)).write(rows[:5])

    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(raydim.cli.time, "sleep", ctrl_c)
    assert main(["status", "--storage", str(tmp_path), "--watch", "5"]) == 0
    out, err = capsys.readouterr()
    assert "; running" in out and err == ""


def test_an_unknown_name_lists_the_searches_there(tmp_path, search, capsys):
    _, rows = search
    ResultsStore.at(str(tmp_path)).write(rows[:5])
    assert main(["status", "--storage", str(tmp_path), "--name", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"raydim: error: no search named 'nope' in the results store at {tmp_path}/raydim-store; "
                   "it holds sim")


def test_a_just_started_search_is_listed_from_its_manifest(tmp_path, capsys):
    """Launched, no trial ended and no searcher saved yet: the search and its keys show, not "no searches"."""
    store = ResultsStore.at(str(tmp_path))
    write_manifest(store, SearchManifest("sim", (SAID.id, DID.id), 2, "quick", None, T0, T0))
    [status] = search_status(str(tmp_path))
    assert (status.experiment, status.rows, status.last_finished, status.finished) == ("sim", 0, None, False)
    assert [(p.key, p.phase, p.trials_running) for p in status.progress] == [(SAID.id, "starting", 0),
                                                                             (DID.id, "starting", 0)]
    assert main(["status", "--storage", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[0] == ("sim: started 2026-01-01 00:00:00 UTC with 2 trial slot(s); no trial ended yet; "
                                   "running")
    assert f"  {SAID.id}: starting, no bracket yet, 0 done / 0 running" in out


def test_a_running_trial_shows_its_epoch_step_and_the_time_left(tmp_path, search, capsys):
    _, rows = search
    store = ResultsStore.at(str(tmp_path))
    store.write(rows[:5])
    running = policy_of(rows[:5])
    [request] = running.propose(1, ["r1"])
    save_searcher(tmp_path / "sim", running)
    trial = progress("r1", key=request.key.id, d=request.d, step=50, steps=300, now=time.time())
    store.put_json("running/sim/r1.json", dataclasses.asdict(trial))
    store.put_json("running/sim/ended.json", dataclasses.asdict(progress(rows[0].trial_id)))  # stored: not running
    [status] = search_status(str(tmp_path))
    assert status.running == (trial,)
    assert main(["status", "--storage", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"  {request.key.id} d={request.d:,}: epoch 1/3, step 50/300, 2m40s elapsed, ~8m" in out
    assert "  time left ≤ ~" in out and "if every key uses its whole trial budget" in out
