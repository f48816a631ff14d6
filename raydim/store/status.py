"""Where each search stands, read from the results store while it runs (``raydim status``).

The store holds every trial that has ended, and each row carries its search's
settings and targets, so an experiment's rows rebuild its Ray-free
:class:`~raydim.search.SearchPolicy` (:func:`~raydim.store.d90.policy_of`), which
gives each key's :class:`~raydim.search.KeyProgress` — phase, bracket, trials done
and failed, best score against the threshold — as the search itself reports it.
Trials still running are not in the store: they are counted from the searcher
state Tune saves in the run's folder beside the store (``STORAGE/NAME``, a few
seconds old), and are unknown where that cannot be read (no such folder, a bucket
without credentials); their epoch and step come from the progress each writes
(:mod:`raydim.store.running`). A search shows from its launch on: its manifest
(:mod:`raydim.store.manifest`) names its keys before any trial has ended.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace

from raydim.errors import RaydimError
from raydim.search import KeyProgress, KeyResult, SearchPolicy
from raydim.store.d90 import policy_of
from raydim.store.dataset import ResultsStore, storage_folder
from raydim.store.manifest import SearchManifest, read_manifests
from raydim.store.running import TrialProgress, read_progress
from raydim.store.saved_search import saved_policy
from raydim.store.schema import TrialRow


@dataclass(frozen=True)
class SearchStatus:
    """One search as its manifest, stored rows and running trials show it: a :class:`KeyProgress` per key, its
    d90s so far, and the progress of each trial running."""

    experiment: str
    rows: int  # trials ended and written: reruns and reused copies included
    last_finished: dt.datetime | None  # when the latest of them ended; None before the first
    progress: tuple[KeyProgress, ...]
    results: tuple[KeyResult, ...]  # final once ``finished``, the estimate so far before
    manifest: SearchManifest | None = None  # None for a search launched before manifests were written
    running: tuple[TrialProgress, ...] = ()
    parallelism: int | None = None  # trials per key at once; None until the search's settings can be read

    @property
    def finished(self) -> bool:
        """Every key is done and no trial runs (where the running trials are unknown, the rows decide)."""
        return bool(self.progress) and all(p.phase == "finished" and not p.trials_running for p in self.progress)

    @property
    def last_active(self) -> dt.datetime:
        """When the search last did something the store shows: launched, or a trial ended."""
        times = [t for t in (self.last_finished, self.manifest and self.manifest.launched_at) if t is not None]
        return max(times)


def search_status(storage: str | None = None, experiment: str | None = None) -> list[SearchStatus]:
    """The searches in the results store of ``storage`` (``--storage``; ``~/ray_results`` by default), or the one
    named ``experiment``, from their launch on; the most recently active last."""
    store = ResultsStore.at(storage)
    by_experiment: dict[str, list[TrialRow]] = defaultdict(list)
    for row in store.rows():
        by_experiment[row.experiment].append(row)
    manifests = read_manifests(store)
    names = set(by_experiment) | set(manifests)
    if not names:
        raise RaydimError(f"no searches in the results store at {store.uri}; start one with raydim search, "
                          "or pass --storage where it ran")
    if experiment is not None:
        if experiment not in names:
            raise RaydimError(f"no search named {experiment!r} in the results store at {store.uri}; it holds "
                              f"{', '.join(sorted(names))}")
        names = {experiment}
    statuses = [_status(store, name, by_experiment.get(name, []), manifests.get(name), storage_folder(storage, name))
                for name in names]
    return sorted(statuses, key=lambda s: s.last_active)


def _status(store: ResultsStore, experiment: str, rows: list[TrialRow], manifest: SearchManifest | None,
            run_folder: str) -> SearchStatus:
    ended = {row.trial_id for row in rows}
    saved = _saved_policy(run_folder)
    running = tuple(t for t in read_progress(store, experiment) if t.trial_id not in ended)
    policy = policy_of(rows) if rows else saved
    if policy is None:  # launched, and neither a trial nor Tune's first save of the searcher are in yet
        keys = manifest.keys if manifest is not None else ()
        progress = tuple(KeyProgress(key, "starting", None, None, 0, sum(t.belongs_to(key) for t in running), 0,
                                     None, None) for key in keys)
        return SearchStatus(experiment, 0, None, progress, (), manifest, running)
    counts = None if saved is None else _running_counts(saved, ended)
    progress = []
    for p in policy.progress():
        count = None if counts is None else counts.get(p.key)
        left = p.trials_left if policy is saved or p.trials_left is None else max(0, p.trials_left - (count or 0))
        progress.append(replace(p, trials_running=count, trials_left=left))
    return SearchStatus(experiment, len(rows), max((row.finished_at for row in rows), default=None), tuple(progress),
                        tuple(policy.results()), manifest, running, policy.settings.parallelism)


def _saved_policy(run_folder: str) -> SearchPolicy | None:
    """The search policy Tune last saved in ``run_folder``; None where none can be read."""
    try:
        return saved_policy(run_folder)
    except (OSError, ValueError):  # no run folder or saved searcher (a RaydimError), an unreachable bucket
        return None


def _running_counts(saved: SearchPolicy, ended: set[str]) -> dict[str, int]:
    """Per key, the trials running in the searcher Tune last saved that have not been written to the store since."""
    return {key: sum(r.request.trial_id not in ended for r in saved.history(key).running()) for key in saved.targets}
