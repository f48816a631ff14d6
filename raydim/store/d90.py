"""The d90 table, rebuilt from trial rows by the same Ray-free :class:`SearchPolicy` the search ran.

Every row carries its search's settings and targets (``TrialRow.search``), so an
experiment's rows are enough to rebuild its policy — each trial recorded as it
ended — and ask it for every key's :class:`KeyResult`: the same baseline,
thresholds, monotone fit and interval the search itself reported. Trials still
running when the store is read are not there yet: their key's row is the estimate
without them. It is flagged ``unfinished`` where the rebuilt search would run more
trials (it runs, or stopped before its end) or where the caller names a running trial of the key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict

import pandas as pd

from raydim.search import KeyTarget, SearchKey, SearchPolicy, SearchSettings, TrialRequest
from raydim.search.results import UNFINISHED
from raydim.store.running import TrialProgress
from raydim.store.schema import COMPLETED, D90Row, TrialRow


def policy_of(rows: list[TrialRow]) -> SearchPolicy:
    """The policy of one experiment's rows, every trial recorded in the order it started."""
    config = rows[-1].search_config()
    policy = SearchPolicy([KeyTarget.from_dict(t) for t in config["targets"]],
                          SearchSettings.from_dict(config["settings"]))
    for row in sorted(rows, key=lambda r: (r.started_at, r.finished_at)):
        request = TrialRequest(row.trial_id, SearchKey(row.task, row.model, row.checkpoint, row.method), row.d,
                               row.lr, row.seed, row.attempt, row.retry_of)
        policy.record_finished(request, row.primary if row.status == COMPLETED else None, censored=bool(row.censored),
                               diverged=row.diverged(),
                               train_metric=row.train_metric)
    return policy


def set_aside(rows: list[TrialRow]) -> set[str]:
    """Ids of the trials the fit sets aside: collapsed on their learning rate (rerun at a lower one) — shown as such
    beside the d90s, since their scores say nothing about d."""
    out: set[str] = set()
    for runs in _by_experiment(rows).values():
        policy = policy_of(runs)
        for key_id in policy.targets:
            out |= policy.history(key_id).excluded
    return out


def d90_rows(rows: list[TrialRow], running: Mapping[str, Sequence[TrialProgress]] | None = None) -> list[D90Row]:
    """One :class:`D90Row` per (experiment, key) of ``rows``, by experiment then key.

    A key is flagged :data:`UNFINISHED` where its rebuilt search would still propose a trial, or where one of its
    trials is in ``running`` (experiment → the progress its running trials write, :func:`read_progress`): the
    rows alone cannot tell a running search from a finished one, and a d90 read mid-search looks final
    without the flag.
    """
    running = running or {}
    by_experiment = _by_experiment(rows)
    table = []
    for experiment in sorted(by_experiment):
        runs = by_experiment[experiment]
        policy = policy_of(runs)
        for result in policy.results():
            key = SearchKey.from_id(result.key)
            mine = [r for r in runs if SearchKey(r.task, r.model, r.checkpoint, r.method) in (key, key.baseline_key)]
            runs_on = any(t.belongs_to(result.key) for t in running.get(experiment, ()))
            flags = (*result.flags, UNFINISHED) if runs_on or not policy.key_finished(result.key) else result.flags
            table.append(D90Row(**{**vars(result), "flags": flags}, experiment=experiment, D=_first(r.D for r in mine),
                                checkpoint_step=_first(r.checkpoint_step for r in mine),
                                train_size=_first(r.train_size for r in mine),
                                finished_at=max((r.finished_at for r in mine), default=None),
                                cpu_hours=_hours(mine, "cpus"), gpu_hours=_hours(mine, "gpus")))
    return table


def d90_table(rows: list[TrialRow], running: Mapping[str, Sequence[TrialProgress]] | None = None) -> pd.DataFrame:
    """:func:`d90_rows` as a data frame (``flags`` joined by commas), one column per :class:`D90Row` field."""
    records = [{**asdict(r), "flags": ",".join(r.flags)} for r in d90_rows(rows, running)]
    return pd.DataFrame.from_records(records, columns=list(D90Row.__dataclass_fields__))


def unfinished(flags: str) -> bool:
    """Whether a :func:`d90_table` row's ``flags`` (joined by commas) say its search would run more trials."""
    return UNFINISHED in str(flags).split(",")


def _by_experiment(rows: list[TrialRow]) -> dict[str, list[TrialRow]]:
    grouped: dict[str, list[TrialRow]] = defaultdict(list)
    for row in rows:
        grouped[row.experiment].append(row)
    return grouped


def _hours(rows: list[TrialRow], resource: str) -> float | None:
    """Σ seconds × the resource over ``rows`` that ran here (not reused copies), in hours; None if none says."""
    spent = [r.seconds * getattr(r, resource) for r in rows
             if r.reused_from is None and r.seconds is not None and getattr(r, resource) is not None]
    return sum(spent) / 3600 if spent else None


def latest_per_key(d90s: pd.DataFrame) -> pd.DataFrame:
    """Each key's most recent d90 (by ``finished_at``) where several experiments measured it (a reused search):
    what the analyses plot and fit. Experiment names say nothing about order: ``rerun`` sorts before ``run``."""
    return d90s.sort_values("finished_at", kind="stable").drop_duplicates("key", keep="last")


def _first(values):
    return next((v for v in values if v is not None), None)
