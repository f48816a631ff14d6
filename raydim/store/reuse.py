"""Reuse: a new search starts from the finished trials a store already holds for its keys and settings.

A stored trial is reused when it completed — or diverged: a learning-rate
failure is a result about its (d, lr, seed), and running it again would only
diverge again — its (task, model, checkpoint,
method) is one of the new search's keys (or a full fine-tune one of them still
needs), and its :class:`Provenance` equals the one the new search expects for the
same (d, lr, seed): the same settings (hash), engine version, and data, model and
layout fingerprints (:mod:`raydim.train.fingerprint`) — the content, not the
paths and names. Rows written before the fingerprints (schema 1) carry no engine
version, so they are read but never reused. The policy records a reused trial as
its own before the first proposal, so the search never runs it again (a diverged
one is rerun at a lower learning rate, unless its rerun is reused too: the link
between the two is kept); a copy is
written under the new experiment (``reused_from`` says whose it was), so that
experiment's d90 table rebuilds from its own rows. A search rerun under its own
name (to extend it where Tune's run folder is gone) finds its trials already
there and writes no copy: a second row of one trial would count it twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

from raydim.search import SearchKey, SearchPolicy, TrialRequest
from raydim.store.schema import COMPLETED, TrialRow


class Provenance(NamedTuple):
    """What a result depends on; a stored trial is reused only when all of it is equal (None equals only None:
    nothing was measured, as for a simulated trial)."""

    settings_hash: str
    engine_version: int | None
    data_fingerprint: str | None
    model_fingerprint: str | None
    layout_fingerprint: str | None

    @classmethod
    def of(cls, row: TrialRow) -> Provenance:
        return cls(row.settings_hash, row.engine_version, row.data_fingerprint, row.model_fingerprint,
                   row.layout_fingerprint)


def reusable(rows: list[TrialRow], policy: SearchPolicy,
             provenance: Callable[[TrialRequest], Provenance]) -> list[tuple[TrialRequest, TrialRow]]:
    """The stored trials ``policy`` may take as its own, with the request each becomes; one per (key, d, lr, seed),
    original rows before copies, completed before diverged, oldest first. ``provenance`` is what the new search
    expects of a request. Requests keep their row's attempt, and a rerun's ``retry_of`` names the request of the
    trial it reran, so a reused diverged trial whose rerun is reused too is not rerun again."""
    wanted = {t.key for t in policy.targets.values()}
    wanted |= {t.key.baseline_key for t in policy.targets.values() if t.baseline is None}
    chosen: dict[tuple, tuple[TrialRequest, TrialRow]] = {}
    for row in sorted(rows, key=lambda r: (r.reused_from is not None, r.status != COMPLETED, r.finished_at)):
        key = SearchKey(row.task, row.model, row.checkpoint, row.method)
        point = (key, row.d, row.lr, row.seed)
        if key not in wanted or point in chosen or not (row.scored() or row.diverged()):
            continue
        request = TrialRequest(f"{row.experiment}/{row.trial_id}", key, row.d, row.lr, row.seed, row.attempt,
                               _request_id(row.experiment, row.retry_of))
        if Provenance.of(row) == provenance(request):
            chosen[point] = (request, row)
    return list(chosen.values())


def reuse(rows: list[TrialRow], policy: SearchPolicy, provenance: Callable[[TrialRequest], Provenance],
          experiment: str, search: str) -> tuple[int, list[TrialRow]]:
    """Record every :func:`reusable` trial in ``policy``; how many, and the copies to write under ``experiment``
    (whose ``search`` JSON they take): none of the trials ``experiment`` already holds, its own or copied."""
    held = {r.trial_id for r in rows if r.experiment == experiment}
    taken = reusable(rows, policy, provenance)
    for request, row in taken:
        policy.record_finished(request, row.primary if row.scored() else None, censored=bool(row.censored),
                               diverged=row.diverged(), train_metric=row.train_metric)
    copies = [replace(row, experiment=experiment, trial_id=request.trial_id, retry_of=request.retry_of, search=search,
                      reused_from=row.reused_from or row.experiment)
              for request, row in taken if row.experiment != experiment and request.trial_id not in held]
    return len(taken), copies


def _request_id(experiment: str, trial_id: str | None) -> str | None:
    """The id a reused trial of ``experiment`` gets as a request; one that names an experiment already (a rerun
    proposed by a search that had reused the trial it reran) is that request's id, kept as it is."""
    if trial_id is None or "/" in trial_id:
        return trial_id
    return f"{experiment}/{trial_id}"
