"""The d90 search strategies, registered in one place that the policy, the settings check and the CLI all read.

A strategy decides, for one key, which (d, lr, seed) to try next and what the key's
trials conclude; :class:`~raydim.search.policy.SearchPolicy` does everything around
it (baselines, thresholds, reruns, fairness across keys). Adding one is a module in
``raydim/search/`` with a class that satisfies :class:`Strategy` and one line in
:data:`STRATEGIES`. The registry imports no strategy (they need scipy and optuna),
so ``raydim --help`` lists the names at no cost; :func:`get_strategy` imports the
one a search runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from raydim.registry import load

if TYPE_CHECKING:
    from raydim.search.crossing import Reference
    from raydim.search.results import Outcome
    from raydim.search.settings import SearchSettings
    from raydim.search.trials import KeyHistory, Point

STRATEGIES: dict[str, str] = {
    "d90": "raydim.search.d90:D90Search",  # bracket, then the trial that narrows the d90 interval most
    "grid": "raydim.search.grid:GridSweep",  # every d of a (1 + tolerance)× log grid, for comparison
    "optuna": "raydim.search.optuna_search:OptunaSearch",  # one constrained Optuna study, for comparison
}


class Strategy(Protocol):
    """Pure: given one key's history (and its threshold's make-up, once known), what runs next and what it concludes."""

    name: str

    def __init__(self, settings: SearchSettings) -> None: ...

    def next_trials(self, history: KeyHistory, reference: Reference | None, n: int, key_id: str) -> list[Point]: ...

    def outcome(self, history: KeyHistory, reference: Reference) -> Outcome: ...


def get_strategy(name: str) -> type[Strategy]:
    """The strategy class registered as ``name`` (its module imported now); an unknown name lists the known ones."""
    return load(STRATEGIES, name, "strategy")
