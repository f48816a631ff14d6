"""Apply raydim's collapse rule to trials a search stored before the rule existed.

    python studies/recheck_collapse.py --storage docs/results/store --name study-model-size [--write]

Since 989fd71 a run whose training loss climbs back to the label prior's entropy after it had learned
(``raydim.train.loop.collapse``) stops as diverged, and the search reruns it at a third of its learning
rate. Trials that ran before that completed instead, their best (pre-collapse) epoch stored as the score
(MPNet SAID on SST-2 at d = 100 and lr 1.0: 0.665, then the majority class). A stored row keeps only its
best epoch, so the store cannot tell; Tune's run folder can: each trial's ``result.json`` holds every
epoch's training loss. For each completed subspace trial of the experiment whose run folder is local,
this replays its epochs through ``collapse`` with the label prior of the rows it trained on (loaded as the
trial loaded them, from its ``params.json``), and prints what it finds. ``--write`` stores, for each
collapsed one, the row the trial would have written under the rule: the same trial as an error whose
message is the rule's (so the store, the rebuilt d90 table and the next search's reuse treat it as
diverged). It keeps the trial's id, attempt and finish time, so it supersedes the old row on read.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from raydim.errors import RaydimError
from raydim.store import ResultsStore
from raydim.store.schema import COMPLETED, ERROR, TrialRow
from raydim.train.loop import EpochMetrics, collapse, prior_entropy
from raydim.tune.template import TEMPLATE, TrialTemplate


def epochs_of(trial_dir: Path) -> list[EpochMetrics]:
    """The trial's epochs as it reported them (``result.json``: one line per report, the last report of an
    epoch kept, a resumed trial's repeated epochs included once)."""
    by_epoch: dict[int, EpochMetrics] = {}
    for line in (trial_dir / "result.json").read_text().splitlines():
        r = json.loads(line)
        if "train_loss" in r and "epoch" in r:
            by_epoch[int(r["epoch"])] = EpochMetrics(int(r["epoch"]), int(r.get("step", 0)), float(r["train_loss"]),
                                                     {}, float(r.get("primary", float("nan"))),
                                                     float(r.get("epoch_seconds", 0.0)))
    return [by_epoch[e] for e in sorted(by_epoch)]


def label_entropy(config: dict) -> float | None:
    """The entropy of the label prior of the train rows the trial trained on."""
    data = TrialTemplate.from_dict(config[TEMPLATE]).train_config(config).data.load()
    return prior_entropy(data.label_counts(data.task.train_split))


def first_collapse(epochs: list[EpochMetrics], entropy: float | None) -> str | None:
    """The rule's message at the first epoch it would have stopped the run, or None."""
    for end in range(2, len(epochs) + 1):
        reason = collapse(epochs[:end], entropy)
        if reason is not None:
            return reason
    return None


def recheck(rows: list[TrialRow], run_folder: Path) -> list[tuple[TrialRow, str | None]]:
    """Each completed subspace trial of ``rows`` that has a local trial folder under ``run_folder``, with the
    rule's message where it collapsed. Trials of one data set share one entropy (loaded once)."""
    entropies: dict[str, float | None] = {}
    out = []
    for row in rows:
        if row.status != COMPLETED or row.d is None or row.reused_from is not None:
            continue
        folders = sorted(run_folder.glob(f"*_{row.trial_id}"))
        if not folders:
            continue
        config = json.loads((folders[0] / "params.json").read_text())
        data_key = json.dumps(config[TEMPLATE].get("data"), sort_keys=True)
        if data_key not in entropies:
            entropies[data_key] = label_entropy(config)
        out.append((row, first_collapse(epochs_of(folders[0]), entropies[data_key])))
    return out


def as_diverged(row: TrialRow, reason: str) -> TrialRow:
    """The row the trial would have written had the rule stopped it: an error with the rule's message."""
    return replace(row, status=ERROR, primary=None, censored=None, error=reason)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", required=True, help="the search's --storage (its Tune run folder must be there)")
    parser.add_argument("--name", required=True, help="the search's name")
    parser.add_argument("--write", action="store_true", help="store the superseding rows (default: only print)")
    args = parser.parse_args(argv)
    run_folder = Path(args.storage).expanduser() / args.name
    if not run_folder.is_dir():
        print(f"recheck_collapse: no Tune run folder {run_folder}: the per-epoch losses live only there",
              file=sys.stderr)
        return 2
    store = ResultsStore.at(args.storage)
    try:
        checked = recheck(store.rows(args.name), run_folder)
    except RaydimError as e:  # e.g. the trials' data folder moved: their label prior cannot be loaded
        print(f"recheck_collapse: {e}", file=sys.stderr)
        return 2
    found = [(row, reason) for row, reason in checked if reason is not None]
    for row, reason in checked:
        print(f"{row.trial_id} {row.model} d={row.d} lr={row.lr:.4g} seed={row.seed}: "
              f"{reason or 'no collapse'}")
    print(f"{len(checked)} trial(s) checked, {len(found)} collapsed")
    if found and args.write:
        print(f"wrote {store.write([as_diverged(row, reason) for row, reason in found])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
