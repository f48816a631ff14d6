"""How many fine-tunes does d90 cost? The search strategies on simulated curves with a known true d90.

    python benchmarks/bench_search.py --curves 200 --workers 2

Each curve (raydim.search.simulator.random_curve: true d90 log-uniform in [50, 50000],
seed noise sd 0.005–0.01, a learning-rate optimum up to 10× from the first guess and
drifting with d) is searched once per strategy and per k, as one key driven in
synchronous rounds of k slots. Reported per strategy: trials per key (the full
fine-tunes included), how often the reported d90 lies within ±10% (and ±25%) of the
truth, and rounds. "vs grid" is the grid's mean trials over the strategy's.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from multiprocessing import Pool

import numpy as np
import optuna

from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, random_curve
from raydim.search.simulator import run_search

KEY = SearchKey("simulated", "model")
# (label, settings overrides): the d90 policy at the target budget and with room to spare, the grid, Optuna.
STRATEGIES = [
    ("d90 (≤15 trials)", {"strategy": "d90", "max_trials": 15}),
    ("d90 (≤30 trials)", {"strategy": "d90", "max_trials": 30}),
    ("grid 1.1×", {"strategy": "grid", "max_trials": 1000}),
    ("optuna (15 trials)", {"strategy": "optuna", "max_trials": 15}),
    ("optuna (40 trials)", {"strategy": "optuna", "max_trials": 40}),
]
BASE = {"d_min": 10, "d_max": 100_000, "lr_low": 1e-4, "lr_high": 1.0}  # lr_init: the range's middle, 1e-2


def run_curve(job: tuple[int, int, tuple[float, float], tuple[int, ...]]) -> list[dict]:
    """Every strategy × k on curve ``index``; one row each."""
    seed, index, noise, ks = job
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    curve = random_curve(np.random.default_rng([seed, index]), noise_sd=noise)
    rows = []
    for label, overrides in STRATEGIES:
        for k in ks:
            settings = SearchSettings(**{**BASE, **overrides, "parallelism": k})
            policy = SearchPolicy([KeyTarget(KEY, chance=curve.chance)], settings)
            rounds = run_search(policy, curve, slots=k)
            result = policy.results()[0]
            error = None if result.d90 is None else result.d90 / curve.d90 - 1
            rows.append({"strategy": label, "k": k, "trials": result.trials_used, "rounds": rounds, "error": error})
    return rows


def summarize(rows: list[dict], ks: tuple[int, ...]) -> str:
    def stats(label: str, k: int) -> dict:
        mine = [r for r in rows if r["strategy"] == label and r["k"] == k]
        errors = np.array([np.inf if r["error"] is None else abs(r["error"]) for r in mine])
        trials = np.array([r["trials"] for r in mine])
        return {"trials": trials.mean(), "p90": np.percentile(trials, 90), "ok10": np.mean(errors <= 0.10),
                "ok25": np.mean(errors <= 0.25), "rounds": np.median([r["rounds"] for r in mine]),
                "err": np.median(errors)}

    lines = ["| strategy | k | trials/key (mean) | p90 | vs grid | within ±10% | within ±25% | median error | "
             "rounds (median) |", "|---|---|---|---|---|---|---|---|---|"]
    for k in ks:
        grid = stats("grid 1.1×", k)["trials"]
        for label, _ in STRATEGIES:
            s = stats(label, k)
            lines.append(f"| {label} | {k} | {s['trials']:.1f} | {s['p90']:.0f} | {grid / s['trials']:.1f}× | "
                         f"{s['ok10']:.0%} | {s['ok25']:.0%} | {s['err']:.0%} | {s['rounds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curves", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ks", type=int, nargs="+", default=[2, 8], help="concurrent slots per key")
    parser.add_argument("--noise", type=float, nargs=2, default=[0.005, 0.01], metavar=("LOW", "HIGH"),
                        help="seed-noise sd range of the curves (0 0: noiseless)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    jobs = [(args.seed, i, tuple(args.noise), tuple(args.ks)) for i in range(args.curves)]
    with Pool(args.workers) as pool:
        rows = [row for curve_rows in pool.map(run_curve, jobs, chunksize=4) for row in curve_rows]
    print(summarize(rows, tuple(args.ks)))
    print(f"\n{args.curves} curves, noise sd {args.noise[0]}–{args.noise[1]}, "
          f"{time.perf_counter() - start:.0f} s with {args.workers} workers")


if __name__ == "__main__":
    main()
