"""A store with a known answer: one simulated SAID search per model size, the true d90 = 3·10⁶ · D^−0.5."""

from __future__ import annotations

from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, SimulatedCurve
from raydim.store import ResultsStore
from tests.store.rows import simulated_rows

SIZES = {"small": 10**6, "base": 10**7, "large": 10**8, "xl": 10**9}
SETTINGS = SearchSettings(parallelism=2, baseline_lrs=(3e-5,), d_min=10, d_max=100_000, lr_init=0.05)


def true_d90(params: int) -> float:
    return 3e6 * params ** -0.5


def scaling_store(root) -> ResultsStore:
    store = ResultsStore(str(root))
    for model, params in SIZES.items():
        key = SearchKey("mrpc", model, method="said")
        curve = SimulatedCurve(d90=true_d90(params), full=0.88, chance=0.68, width=0.8, noise_sd=0.003, lr_opt=0.05)
        store.write(simulated_rows(SearchPolicy([KeyTarget(key, 0.68)], SETTINGS), {key.id: curve},
                                   experiment=f"scaling-{model}", D=params, train_size=3668))
    return store


def scaling_store_mid_search(root, scratch) -> ResultsStore:
    """:func:`scaling_store` as read while the largest model's last three trials still run (built in ``scratch``):
    that key's search is not over."""
    rows = sorted(scaling_store(scratch).rows(), key=lambda r: r.started_at)
    running = [r for r in rows if r.experiment == "scaling-xl"][-3:]
    store = ResultsStore(str(root))
    store.write([r for r in rows if r not in running])
    return store
