"""Driver for the node-loss test, run in its own process (it needs a Ray of its own, not the tests' shared one).

``python -m tests.tune.node_loss STORAGE`` starts a simulated cluster on this
machine (``ray.cluster_utils.Cluster``: a head with no CPUs and three one-CPU
workers), runs the two-key simulated search once undisturbed (``calm``), then
again (``lost``) while removing the worker that runs a trial in mid-flight, and
prints, as JSON, which node it removed and the trial that was running there.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import ray
from ray import tune
from ray.cluster_utils import Cluster

from raydim.tune import SCORE, SearchSpec, run_search
from raydim.tune.trainable import simulated_metric
from tests.tune.test_tuner import CURVE_SPACE, SETTINGS, targets

EPOCHS, EPOCH_SECONDS = 3, 0.5
MARKS = "marks"  # param_space entry: the folder where each trial attempt writes the node it runs on


def slow_trial(config):
    """A simulated trial over three half-second "epochs", each reported with a checkpoint that a restart resumes
    from; each attempt first writes a marker naming its node, so the test knows where a trial is running."""
    marks = Path(config[MARKS])
    checkpoint = tune.get_checkpoint()
    start = 0
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            start = int((Path(folder) / "epoch").read_text())
    (marks / f"{config['trial_id']}-{start}-{time.monotonic_ns()}").write_text(ray.get_runtime_context().get_node_id())
    metric = simulated_metric(config)
    for epoch in range(start + 1, EPOCHS + 1):
        time.sleep(EPOCH_SECONDS)
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "epoch").write_text(str(epoch))
            tune.report({SCORE: metric, "epoch": epoch}, checkpoint=tune.Checkpoint.from_directory(folder))


def search(storage: Path, name: str) -> None:
    marks = storage / f"{name}-marks"
    marks.mkdir(parents=True)
    spec = SearchSpec(name=name, storage=str(storage), cpus_per_trial=1, max_failures=3, search=SETTINGS.to_dict())
    run_search(spec, targets=targets(), trainable=slow_trial, param_space={**CURVE_SPACE, MARKS: str(marks)},
               verbose=0)


def remove_a_busy_worker(cluster: Cluster, run: Path, after_trials: int, report: dict) -> None:
    """Once ``after_trials`` attempts have started, remove the worker node that the latest one runs on, as soon as
    that trial has saved its first epoch's checkpoint (so its restart elsewhere resumes from it)."""
    marks = Path(f"{run}-marks")
    while len(list(marks.glob("*"))) < after_trials:
        time.sleep(0.05)
    latest = max(marks.glob("*"), key=lambda p: p.stat().st_mtime_ns)
    trial_id = latest.name.split("-")[0]
    while not list(run.glob(f"*_{trial_id}/checkpoint_*")):
        time.sleep(0.05)
    node_id = latest.read_text()
    [node] = [n for n in cluster.worker_nodes if n.node_id == node_id]
    cluster.remove_node(node, allow_graceful=False)
    report.update(removed_node=node_id, trial_id=trial_id)


def main(storage: Path) -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(3):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    search(storage, "calm")
    report: dict = {}
    remover = threading.Thread(target=remove_a_busy_worker, args=(cluster, storage / "lost", 8, report),
                               daemon=True)
    remover.start()
    search(storage, "lost")
    remover.join(timeout=1)
    print(json.dumps(report))
    ray.shutdown()
    cluster.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
