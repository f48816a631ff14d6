"""The search's own lines, without Ray: what it runs at launch, running trials with the time left, and the d90
table with what each key cost."""

from __future__ import annotations

import pytest

from raydim.search import KeyProgress, KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve
from raydim.store.manifest import SearchManifest
from raydim.store.status import SearchStatus
from raydim.tune.progress import _duration, format_d90_table, format_launch, format_running
from tests.store.rows import T0, simulated_rows
from tests.store.test_running import SAID, progress

MANIFEST = SearchManifest("glue", (SAID, "rte:m@final:said"), 2, "search_spaces/quick_cpu.yaml", None, T0, T0,
                          {"epochs": 3}, {"max_trials": 10})


def test_the_launch_names_keys_profile_slots_and_how_to_follow_the_search():
    lines = format_launch(MANIFEST).splitlines()
    assert lines[0] == ("raydim: search 'glue' of 2 key(s) with search_spaces/quick_cpu.yaml (up to 10 trials per "
                        "key, 3 epochs per trial), 2 trial slot(s) (trials at once)")
    assert lines[1:3] == [f"  {SAID}", "  rte:m@final:said"]
    assert lines[3] == "  storage ~/ray_results; follow it from another shell with: raydim status --name glue"
    elsewhere = format_launch(SearchManifest(**{**vars(MANIFEST), "storage": "s3://b/p"}))
    assert elsewhere.endswith("raydim status --name glue --storage s3://b/p")


def status_with(running, trials_left: int | None = 4) -> SearchStatus:
    key = KeyProgress(SAID, "refine", 300, 3000, 3, 1, 0, 0.8, 0.79, trials_left=trials_left)
    return SearchStatus("glue", 3, T0, (key,), (), MANIFEST, tuple(running), parallelism=2)


def test_running_trials_with_epoch_step_elapsed_and_time_left():
    lines = format_running(status_with([progress(step=50, steps=300, rate=2.0, loading=60.0)]), now=10_000.0)
    assert lines.splitlines() == [
        f"  {SAID} d=1,000: epoch 1/3, step 50/300, 2m40s elapsed, ~8m20s left",
        # (500 s left + 4 trials × 660 s) over 2 slots
        f"  time left ≤ ~26m10s ({SAID} ≤ ~26m10s) if every key uses its whole trial budget",
    ]


def test_a_trial_that_has_not_stepped_twice_has_no_estimate_yet():
    lines = format_running(status_with([progress(step=0)]), now=10_000.0).splitlines()
    assert lines[0].endswith("epoch 1/3, step 0/300, 1m00s elapsed, time left unknown until it has stepped again")
    assert lines[1] == "  time left unknown until a running trial has measured its step rate"


def test_nothing_running_prints_nothing():
    assert format_running(status_with([]), now=10_000.0) == ""


@pytest.mark.parametrize("seconds, text", [(0.4, "0s"), (59, "59s"), (61, "1m01s"), (3600 + 125, "1h02m")])
def test_durations_are_short(seconds, text):
    assert _duration(seconds) == text


def test_the_d90_table_gains_a_compute_column_when_given():
    key = SearchKey("mrpc", "m", method="said")
    curve = SimulatedCurve(d90=300, full=0.88, chance=0.68, width=0.8, noise_sd=0.005, lr_opt=0.05)
    policy = SearchPolicy([KeyTarget(key, 0.68)], SearchSettings(parallelism=2, baseline_lrs=(3e-5,), d_min=10))
    simulated_rows(policy, {key.id: curve})
    results = policy.results()
    plain = format_d90_table(results).splitlines()
    costed = format_d90_table(results, {key.id: (1.25, 0.0)}).splitlines()
    assert plain[0].split()[-1] == "flags" and costed[0].split()[-1] == "compute"
    assert costed[1].endswith("1.25 CPU-h") and format_d90_table(results, {}).splitlines()[1].endswith("-")
