"""Dev metric against subspace dimension d on a real task, next to full fine-tunes and the majority class.

Runs one ``raydim.train.train`` per (method, d, lr) and appends its result to a
JSON-lines file, skipping runs already there (same settings hash), so an
interrupted sweep continues where it stopped. ``--table`` prints the curve from
the file without training; ``--plot PNG`` draws it with the tuned full fine-tune,
the d90 thresholds and the trivial baseline. The default learning rate of a subspace run follows
``lr = lr_ref · √(d_ref / d)`` (see docs/subspace.md: the useful rate falls like
1/√d); ``--lr-factors`` adds runs at multiples of it.

    python benchmarks/mrpc_curve.py --data-dir ../shared/data/glue --out runs/mrpc_curve.jsonl \
        --d 100 1000 10000 100000 --full-lrs 2e-5 5e-5 1e-4
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections import defaultdict

from raydim.data.spec import DataSpec
from raydim.train.config import TrainConfig
from raydim.train.loop import set_threads, train


def scaled_lr(d: int, lr_ref: float, d_ref: int) -> float:
    return float(f"{lr_ref * math.sqrt(d_ref / d):.3g}")


def planned_configs(args: argparse.Namespace) -> list[TrainConfig]:
    data = DataSpec(task=args.task, data_dir=args.data_dir, max_train_samples=args.max_train_samples)
    common = dict(data=data, model=args.model, epochs=args.epochs, seed=args.seed)
    configs = []
    for d in args.d:
        for factor in args.lr_factors:
            lr = float(f"{scaled_lr(d, args.lr_ref, args.d_ref) * factor:.3g}")
            configs.append(TrainConfig(method=args.method, d=d, lr=lr, **common))
    return configs + [TrainConfig(method="full", lr=lr, **common) for lr in args.full_lrs]


def load_done(path: str) -> dict[str, dict]:
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {row["settings_hash"]: row for row in rows}


def print_table(rows: list[dict]) -> None:
    by_method: dict[tuple[str, int | None], list[dict]] = defaultdict(list)
    for row in rows:
        by_method[(row["config"]["method"], row["config"]["d"])].append(row)
    print("| method | d | lr | seed | dev metric per epoch | best | train metric (last epoch) | seconds |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for (method, d), group in sorted(by_method.items(), key=lambda kv: (kv[0][0] != "full", kv[0][1] or 0)):
        for row in sorted(group, key=lambda r: (r["config"]["lr"], r["config"]["seed"])):
            per_epoch = ", ".join(f"{e['primary']:.3f}" for e in row["history"])
            train_key = next(k for k in row["final"]["metrics"] if k.startswith("train/") and k != "train/loss")
            print(f"| {method} | {d if d else '—'} | {row['config']['lr']:g} | {row['config']['seed']} | {per_epoch} | "
                  f"**{row['best']['primary']:.3f}** | {row['final']['metrics'][train_key]:.3f} | {row['seconds']:.0f} |")


def best_lr_means(rows: list[dict]) -> dict[tuple[str, int | None], float]:
    """Per (method, d): the best learning rate's dev metric, averaged over its seeds first, so that
    extra seeds make a point more certain instead of lifting it by a lucky draw."""
    runs: dict[tuple[str, int | None, float], list[float]] = defaultdict(list)
    for r in rows:
        runs[(r["config"]["method"], r["config"]["d"], r["config"]["lr"])].append(r["best"]["primary"])
    best: dict[tuple[str, int | None], float] = {}
    for (method, d, _), scores in runs.items():
        best[(method, d)] = max(best.get((method, d), -math.inf), sum(scores) / len(scores))
    return best


def plot(rows: list[dict], chance: float, path: str, ratio: float = 0.9) -> None:
    """Dev metric per d per method (best learning rate, mean over seeds), each run as a dot, next to the best full
    fine-tune, the paper (ratio × full) and relative (chance + ratio × (full − chance)) thresholds and the trivial
    baseline."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best = best_lr_means(rows)
    full = best[("full", None)]
    subspace = [r for r in rows if r["config"]["method"] != "full"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.scatter([r["config"]["d"] for r in subspace], [r["best"]["primary"] for r in subspace], s=12, color="0.6",
               label="one run (lr, seed)")
    for color, method in zip(("C0", "C3"), sorted({r["config"]["method"] for r in subspace}, reverse=True)):
        ds = sorted(d for m, d in best if m == method)
        ax.plot(ds, [best[(method, d)] for d in ds], "o-", color=color, label=f"{method.upper()}, best lr, seed mean")
    ax.axhline(full, color="C2", label=f"full fine-tune, best lr, seed mean ({full:.3f})")
    ax.axhline(ratio * full, color="C2", ls="--", label=f"paper threshold {ratio:g} × full ({ratio * full:.3f})")
    relative = chance + ratio * (full - chance)
    ax.axhline(relative, color="C1", ls="--", label=f"relative threshold ({relative:.3f})")
    ax.axhline(chance, color="0.3", ls=":", label=f"trivial baseline ({chance:.3f})")
    ax.set_xscale("log")
    ax.set_xlabel("subspace dimension d")
    ax.set_ylabel(f"dev {rows[0]['primary_metric']} (best epoch)")
    ax.set_title(f"{rows[0]['task']}, {rows[0]['config']['model']}, {rows[0]['config']['epochs']} epochs")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="mrpc")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--model", default="minilm-l6")
    parser.add_argument("--method", default="said", choices=("said", "did"))
    parser.add_argument("--d", type=int, nargs="*", default=[100, 1000, 10_000, 100_000])
    parser.add_argument("--lr-ref", type=float, default=0.1, help="subspace lr at d = --d-ref")
    parser.add_argument("--d-ref", type=int, default=10_000)
    parser.add_argument("--lr-factors", type=float, nargs="*", default=[1.0])
    parser.add_argument("--full-lrs", type=float, nargs="*", default=[2e-5, 5e-5, 1e-4])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-train-samples", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", required=True, help="JSON-lines file; runs already in it are skipped")
    parser.add_argument("--table", action="store_true", help="only print the table of the runs in --out")
    parser.add_argument("--plot", metavar="PNG", help="also draw the curve into this file (needs the task's data)")
    args = parser.parse_args()

    if not (args.table or args.plot):
        set_threads(args.threads)
        done = load_done(args.out)
        for config in planned_configs(args):
            if config.settings_hash() in done:
                continue
            result = train(config, progress=False)
            row = {"settings_hash": config.settings_hash(), **result.to_dict()}
            with open(args.out, "a") as f:
                f.write(json.dumps(row, default=str) + "\n")
            print(f"{config.method} d={config.d} lr={config.lr:g}: best {result.best.primary:.3f} "
                  f"({result.seconds:.0f} s)", flush=True)
    rows = list(load_done(args.out).values())
    print_table(rows)
    if args.plot:
        data = DataSpec(task=args.task, data_dir=args.data_dir).load()
        chance = data.trivial_baselines()[data.task.primary_split][data.task.primary_metric]
        plot(rows, chance, args.plot)


if __name__ == "__main__":
    main()
