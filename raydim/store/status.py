"""Where each search stands, read from the results store while it runs (``raydim status``).

The store holds every trial that has ended, and each row carries its search's
settings and targets, so an experiment's rows rebuild its Ray-free
:class:`~raydim.search.SearchPolicy` (:func:`~raydim.store.d90.policy_of`), which
gives each key's :class:`~raydim.search.KeyProgress` — phase, bracket, trials done
and failed, best score against the threshold — as the search itself reports it.
Trials still running are not in the store: they are counted from the searcher
state Tune saves in the run's folder beside the store (``STORAGE/NAME``, a few
seconds old), and are unknown where that cannot be read (no such folder, a bucket
without credentials).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace

from raydim.errors import RaydimError
from raydim.search import KeyProgress, KeyResult
from raydim.store.d90 import policy_of
from raydim.store.dataset import ResultsStore, storage_folder
from raydim.store.schema import TrialRow


@dataclass(frozen=True)
class SearchStatus:
    """One search as its stored rows show it: a :class:`KeyProgress` per key, and its d90s so far."""

    experiment: str
    rows: int  # trials ended and written: reruns and reused copies included
    last_finished: dt.datetime  # when the latest of them ended
    progress: tuple[KeyProgress, ...]
    results: tuple[KeyResult, ...]  # final once ``finished``, the estimate so far before

    @property
    def finished(self) -> bool:
        """Every key is done and no trial runs (where the running trials are unknown, the rows decide)."""
        return all(p.phase == "finished" and not p.trials_running for p in self.progress)


def search_status(storage: str | None = None, experiment: str | None = None) -> list[SearchStatus]:
    """The searches in the results store of ``storage`` (``--storage``; ``~/ray_results`` by default), or the one
    named ``experiment``; the most recently active last."""
    store = ResultsStore.at(storage)
    by_experiment: dict[str, list[TrialRow]] = defaultdict(list)
    for row in store.rows():
        by_experiment[row.experiment].append(row)
    if not by_experiment:
        raise RaydimError(f"no searches in the results store at {store.uri}; start one with raydim search, "
                          "or pass --storage where it ran")
    if experiment is not None:
        if experiment not in by_experiment:
            raise RaydimError(f"no search named {experiment!r} in the results store at {store.uri}; it holds "
                              f"{', '.join(sorted(by_experiment))} (a search shows once its first trial has ended)")
        by_experiment = {experiment: by_experiment[experiment]}
    statuses = [_status(name, rows, storage_folder(storage, name)) for name, rows in by_experiment.items()]
    return sorted(statuses, key=lambda s: s.last_finished)


def _status(experiment: str, rows: list[TrialRow], run_folder: str) -> SearchStatus:
    policy = policy_of(rows)
    running = _running(run_folder, {row.trial_id for row in rows})
    progress = tuple(replace(p, trials_running=None if running is None else running.get(p.key))
                     for p in policy.progress())
    return SearchStatus(experiment, len(rows), max(row.finished_at for row in rows), progress,
                        tuple(policy.results()))


def _running(run_folder: str, ended: set[str]) -> dict[str, int] | None:
    """Per key, the trials running in the searcher Tune last saved in ``run_folder`` that have not been written
    to the store since; None where no saved searcher can be read."""
    from raydim.tune.tuner import load_searcher  # imports Ray: only once a status is asked for

    try:
        policy = load_searcher(run_folder).policy
    except (OSError, ValueError):  # no run folder or saved searcher (a RaydimError), an unreachable bucket
        return None
    return {key: sum(r.request.trial_id not in ended for r in policy.history(key).running()) for key in policy.targets}
