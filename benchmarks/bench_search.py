"""How many fine-tunes does d90 cost, and does its interval mean what it says? Simulated curves, known d90.

    python benchmarks/bench_search.py --curves 200 --workers 2              # strategies side by side
    python benchmarks/bench_search.py --coverage --curves 200 --workers 2   # interval calibration per profile

--coverage runs every shipped profile (search_spaces/*.yaml, its search settings)
on curves drawn to match it: true d90 log-uniform inside its d range, seed noise sd
0.005–0.03 (the search's prior: the sampling sd of an accuracy on 408 rows, ≈0.022), a rise of 1–3 decades, per-epoch learning curves with slow starts, a
subspace lr optimum within 3× of the profile's lr rule (its first lr at that d),
collapses at too high a rate, and the baseline at the profile's first full-fine-tune
rate, as many epochs as the profile trains. Each curve is searched with 2 and 8 slots, with and without stopping decided
trials early. It prints, per profile and slots, how often the interval contains the
true d90 (coverage, against the nominal level), the median width (high/low; an
open end counts as infinite), trials per key and trial-epochs, the share of
trial-epochs an oracle could save by stopping every clearly failing trial (best
epoch below T − 2σ) after its first epoch — the most any hopeless-trial rule could
save —, collapsed trials per key (those more than 2σ below what they would have
scored) and the share of them the finished fit still counts (missed by the collapse
rule, or out of reruns), then one summary line for the default profile.

Each curve (raydim.search.simulator.random_curve: true d90 log-uniform in [50, 50000],
seed noise sd 0.005–0.01, a learning-rate optimum up to 10× from the first guess and
drifting with d) is searched once per strategy and per k, as one key driven in
synchronous rounds of k slots. Reported per strategy: trials per key (the full
fine-tunes included), how often the reported d90 lies within ±10% (and ±25%) of the
truth, and rounds. "vs grid" is the grid's mean trials over the strategy's.
"""

from __future__ import annotations

import argparse
import math
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import optuna

from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, random_curve
from raydim.search.simulator import run_search
from raydim.tune.spec import SearchSpec

PROFILES = sorted(Path(__file__).resolve().parents[1].glob("search_spaces/*.yaml"))
DEFAULT_PROFILE = "quick_cpu"
EVAL_ROWS = 408  # MRPC's dev rows: the noise prior is their sampling sd (≈0.022), the curves' noise 0.005–0.03

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
            rounds = run_search(policy, curve, slots=k).rounds
            result = policy.results()[0]
            error = None if result.d90 is None else result.d90 / curve.d90 - 1
            rows.append({"strategy": label, "k": k, "trials": result.trials_used, "rounds": rounds, "error": error})
    return rows


def profile_settings(path: Path) -> tuple[dict, int]:
    """The search settings a profile runs with (its ``search`` section over the defaults), and its epochs."""
    spec = SearchSpec.from_yaml(path)
    return spec.search, int(spec.train.get("epochs", 3))


def coverage_curve(job: tuple[str, tuple[dict, int], int, int, tuple[int, ...]]) -> list[dict]:
    """One curve matched to a profile, searched with each slot count, early stopping on and off."""
    profile, (search, epochs), seed, index, ks = job
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = SearchSettings(**{**search, "parallelism": 1})
    rng = np.random.default_rng([seed, index])
    lo, hi = 2 * base.d_min, base.d_max / 2
    d90 = float(np.exp(rng.uniform(math.log(lo), math.log(hi))))
    lr = base.first_lr(d90)
    curve = random_curve(rng, d90_range=(d90, d90), noise_sd=(0.005, 0.03), lr_range=(lr / 3, lr * 3),
                         collapses=True, decades=(1.0, 3.0), baseline_lr=base.baseline_lrs[0], epochs=epochs)
    rows = []
    for k in ks:
        for early_stop in (True, False):
            settings = SearchSettings(**{**search, "parallelism": k, "early_stop": early_stop})
            policy = SearchPolicy([KeyTarget(KEY, chance=curve.chance, metric="accuracy", eval_size=EVAL_ROWS)],
                                  settings)
            run = run_search(policy, curve, slots=k)
            r = policy.results()[0]
            low, high = r.d90_low or 0.0, r.d90_high or math.inf
            rows.append({"profile": profile, "k": k, "early_stop": early_stop, "covered": low <= curve.d90 <= high,
                         "width": high / low if low else math.inf, "trials": r.trials_used, "epochs": run.epochs,
                         "hopeless": run.hopeless_epochs * (epochs - 1) / epochs, "level": settings.level,
                         "collapses": run.collapses, "misleading": run.collapses_misleading})
    return rows


def summarize_coverage(rows: list[dict]) -> tuple[str, str]:
    """The per-profile table, and the summary line of the default profile (early stopping on, all slots)."""
    lines = ["| profile | slots | early stop | coverage | nominal | median width | trials/key | trial-epochs | "
             "hopeless-stop bound | collapses/key | collapses counted |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    groups = sorted({(r["profile"], r["k"], r["early_stop"]) for r in rows}, key=lambda g: (g[0], g[1], not g[2]))
    for profile, k, early in groups:
        mine = [r for r in rows if (r["profile"], r["k"], r["early_stop"]) == (profile, k, early)]
        lines.append(f"| {profile} | {k} | {'yes' if early else 'no'} | {np.mean([r['covered'] for r in mine]):.0%} | "
                     f"{mine[0]['level']:.0%} | {np.median([r['width'] for r in mine]):.2f} | "
                     f"{np.mean([r['trials'] for r in mine]):.1f} | {np.mean([r['epochs'] for r in mine]):.1f} | "
                     f"{sum(r['hopeless'] for r in mine) / sum(r['epochs'] for r in mine):.0%} | "
                     f"{np.mean([r['collapses'] for r in mine]):.2f} | {_share(mine, 'misleading', 'collapses')} |")
    default = [r for r in rows if r["profile"] == DEFAULT_PROFILE and r["early_stop"]]
    summary = (f"coverage={100 * np.mean([r['covered'] for r in default]):.0f} "
               f"nominal={100 * default[0]['level']:.0f} median_width={np.median([r['width'] for r in default]):.2f} "
               f"trials_per_key={np.mean([r['trials'] for r in default]):.1f}") if default else ""
    return "\n".join(lines), summary


def _share(rows: list[dict], part: str, whole: str) -> str:
    total = sum(r[whole] for r in rows)
    return f"{sum(r[part] for r in rows) / total:.0%}" if total else "-"


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
    parser.add_argument("--coverage", action="store_true", help="interval calibration of every shipped profile")
    parser.add_argument("--profiles", nargs="+", default=None, help="with --coverage: profile names (default: all)")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.coverage:
        chosen = [p for p in PROFILES if args.profiles is None or p.stem in args.profiles]
        jobs = [(p.stem, profile_settings(p), args.seed, i, tuple(args.ks)) for p in chosen for i in range(args.curves)]
        with Pool(args.workers) as pool:
            rows = [row for curve_rows in pool.map(coverage_curve, jobs, chunksize=2) for row in curve_rows]
        table, summary = summarize_coverage(rows)
        print(table)
        print(f"\n{args.curves} curves per profile, {time.perf_counter() - start:.0f} s with {args.workers} workers")
        print(summary)
        return
    jobs = [(args.seed, i, tuple(args.noise), tuple(args.ks)) for i in range(args.curves)]
    with Pool(args.workers) as pool:
        rows = [row for curve_rows in pool.map(run_curve, jobs, chunksize=4) for row in curve_rows]
    print(summarize(rows, tuple(args.ks)))
    print(f"\n{args.curves} curves, noise sd {args.noise[0]}–{args.noise[1]}, "
          f"{time.perf_counter() - start:.0f} s with {args.workers} workers")


if __name__ == "__main__":
    main()
