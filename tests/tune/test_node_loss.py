"""A worker node removed mid-trial from a simulated multi-node cluster (``ray.cluster_utils.Cluster``): the search
finishes with the d90s of an undisturbed run, the interrupted trial resumes elsewhere from its checkpoint, and the
store holds every trial exactly once. The cluster needs a Ray of its own, so the searches run in a subprocess
(:mod:`tests.tune.node_loss`)."""

import json
import math
import subprocess
import sys
from collections import Counter

from raydim.store import ResultsStore
from raydim.tune import load_searcher
from tests.conftest import REPO, repo_env
from tests.tune.test_tuner import SETTINGS, assert_found_true_d90



def test_a_worker_removed_mid_trial_changes_no_d90_and_loses_no_row(tmp_path):
    env = repo_env()
    done = subprocess.run([sys.executable, "-m", "tests.tune.node_loss", str(tmp_path)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    removed = json.loads(done.stdout.strip().splitlines()[-1])

    calm, lost = (load_searcher(str(tmp_path / name)).results() for name in ("calm", "lost"))
    assert_found_true_d90(calm)
    assert_found_true_d90(lost)
    for undisturbed, disturbed in zip(calm, lost, strict=True):
        # the trials picked depend on the order they finish in, which no two runs share; d90 stays within tolerance
        assert abs(math.log(disturbed.d90 / undisturbed.d90)) < math.log(1 + SETTINGS.tolerance)

    store = ResultsStore.at(str(tmp_path))
    trials = load_searcher(str(tmp_path / "lost")).policy.state_dict()["trials"]
    rows = store.rows("lost")
    assert sorted(r.trial_id for r in rows) == sorted(t["request"]["trial_id"] for t in trials)  # none lost
    assert max(Counter(r.trial_id for r in rows).values()) == 1 and all(r.status == "completed" for r in rows)
    starts = sorted(int(m.name.split("-")[1]) for m in (tmp_path / "lost-marks").glob(f"{removed['trial_id']}-*"))
    assert starts[0] == 0 and len(starts) == 2 and starts[1] >= 1  # restarted once, from an epoch checkpoint
