"""How many trials a two-sided d90 interval costs on one task: the search run on a simulated curve matched to it.

    python benchmarks/interval_budget.py                  # MiniLM-L6 on MRPC, the default profile's settings

The simulator's coverage runs (bench_search.py --coverage) draw curves whose seed
noise is at most 0.14 of the rise from chance to the full fine-tune. A real key can
be much harder: MiniLM-L6 on MRPC (3 epochs) rises from the majority class 0.684 to
about 0.80 while one seed moves dev accuracy by sd ≈ 0.02 (docs/subspace.md), so its
noise is a fifth of the whole rise and the paper threshold 0.9·F ≈ 0.72 sits less
than two noise sds above chance. This runs the profile's search (its settings, with
``max_trials``, ``seeds_per_d`` and ``baseline_seeds`` varied) on such a curve with a
known d90 and reports, per budget: coverage, the share of two-sided intervals, the
median width (high/low, ∞ for an open end) and trials per key.
"""

from __future__ import annotations

import argparse
import math
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from bench_search import EVAL_ROWS, KEY, profile_settings
from raydim.search import KeyTarget, SearchPolicy, SearchSettings
from raydim.search.simulator import SimulatedCurve, run_search

PROFILES = Path(__file__).resolve().parents[1] / "search_spaces"
BUDGETS = ((10, 2, 1), (16, 2, 1), (16, 3, 2), (24, 3, 2), (32, 3, 3))  # max_trials, seeds_per_d, baseline_seeds


def one_search(job: tuple[dict, argparse.Namespace, tuple[int, int, int], int]) -> tuple[bool, bool, float, int]:
    """(covered, two-sided, width, trials) of one search of the matched curve, its noise drawn from ``index``."""
    search, args, (max_trials, seeds_per_d, baseline_seeds), index = job
    lr_opt = search.get("lr_init", 0.1) * math.sqrt(1e4 / args.d90)  # the profile's 1/√d rule, right at d90
    curve = SimulatedCurve(d90=args.d90, full=args.full, chance=args.chance, noise_sd=args.noise,
                           width=args.decades * math.log(10) / (2 * math.log(9)), lr_opt=lr_opt, lr_slope=-0.5,
                           full_lr_opt=search["baseline_lrs"][0], epochs=args.epochs, collapse_prob=0.5,
                           collapse_floor=0.02, noise_seed=index)
    settings = SearchSettings(**{**search, "parallelism": args.slots, "max_trials": max_trials,
                                 "seeds_per_d": seeds_per_d, "baseline_seeds": baseline_seeds})
    policy = SearchPolicy([KeyTarget(KEY, chance=curve.chance, metric="accuracy", eval_size=args.eval_rows)], settings)
    run_search(policy, curve, slots=args.slots)
    r = policy.results()[0]
    low, high = r.d90_low or 0.0, r.d90_high or math.inf
    return low <= curve.d90 <= high, r.d90_low is not None and r.d90_high is not None, high / low if low else \
        math.inf, r.trials_used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick_cpu", help="search space whose settings to run (default: quick_cpu)")
    parser.add_argument("--chance", type=float, default=0.684, help="trivial predictor (MRPC's majority class)")
    parser.add_argument("--full", type=float, default=0.80, help="full fine-tune, and the curve's plateau")
    parser.add_argument("--noise", type=float, default=0.02, help="seed-to-seed sd of one trial's metric")
    parser.add_argument("--d90", type=float, default=3000.0, help="the true d90")
    parser.add_argument("--decades", type=float, default=2.0, help="decades of d from 10%% to 90%% of the rise")
    parser.add_argument("--eval-rows", type=int, default=EVAL_ROWS, help="dev rows: the search's noise prior")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--curves", type=int, default=60, help="noise draws per budget")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    search, _ = profile_settings(PROFILES / f"{args.profile}.yaml")
    start = time.perf_counter()
    print("| max_trials | seeds_per_d | baseline_seeds | coverage | two-sided | median width | trials/key |")
    print("|---|---|---|---|---|---|---|")
    with Pool(args.workers) as pool:
        for budget in BUDGETS:
            rows = pool.map(one_search, [(search, args, budget, i) for i in range(args.curves)])
            covered, two_sided, width, trials = zip(*rows)
            print(f"| {budget[0]} | {budget[1]} | {budget[2]} | {np.mean(covered):.0%} | {np.mean(two_sided):.0%} | "
                  f"{np.median(width):.2f} | {np.mean(trials):.1f} |", flush=True)
    print(f"\n{args.curves} noise draws per budget; chance {args.chance}, full {args.full}, noise sd {args.noise}, "
          f"d90 {args.d90:g}, {args.decades:g} decades; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
