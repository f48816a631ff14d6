"""The two tables of the results store, as one dataclass each: their fields are the Parquet columns.

``TrialRow`` is one finished trial (completed or errored), written by the driver
as the trial ends. ``D90Row`` is one key's d90, never written by a search: it is
recomputed from the trial rows (:mod:`raydim.store.d90`), so it can always be
rebuilt. The column-by-column meaning is in ``docs/store.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pyarrow as pa

from raydim.errors import DIVERGED, RaydimError
from raydim.models.checkpoints import checkpoint_step  # noqa: F401 - part of the store's API
from raydim.search.results import KeyResult

COMPLETED, ERROR = "completed", "error"  # TrialRow.status
SCHEMA_VERSION = 2  # 2: the fingerprint, censored and resource columns; parts of schema 1 read with them empty


@dataclass(frozen=True)
class TrialRow:
    """One trial of one search. (experiment, trial_id, attempt) identifies it: a row written twice is one row."""

    experiment: str  # the search's name (its folder under the storage)
    trial_id: str  # Tune's trial id
    attempt: int  # 0, or n for the searcher's n-th rerun of a failed trial
    task: str
    model: str
    checkpoint: str  # "final", "random-init" or a hub revision
    method: str  # "full", "did" or "said"
    lr: float
    seed: int
    status: str  # "completed" or "error"
    settings_hash: str  # everything that defines the result (see raydim.tune.template.trial_settings_hash)
    raydim_version: str
    started_at: dt.datetime  # UTC
    finished_at: dt.datetime  # UTC
    search: str  # JSON {"settings": SearchSettings, "targets": [KeyTarget]}: what rebuilds the d90 table
    checkpoint_step: int | None = None  # pre-training step of the checkpoint when its name says it (0: random-init)
    grouping: str | None = None  # SAID's scale groups ("layer" or "tensor"); None for other methods
    D: int | None = None  # noqa: N815 - the paper's symbol: the model's trainable parameter count
    d: int | None = None  # subspace dimension; None for a full fine-tune
    num_trainable: int | None = None  # parameters the optimiser actually updates (d, or D for full)
    primary_metric: str | None = None  # e.g. "accuracy"
    primary: float | None = None  # the search's score: the best epoch's primary metric on the primary split
    metrics: dict[str, float] = field(default_factory=dict)  # the best epoch's "split/metric" values, train included
    train_metric: float | None = None  # the primary metric on the train rows at the best epoch
    train_loss: float | None = None  # the best epoch's mean training loss
    best_epoch: int | None = None
    epochs: int | None = None  # epochs run
    steps: int | None = None  # optimiser steps run
    train_size: int | None = None  # n: training rows
    seconds: float | None = None  # wall time of the trial
    device: str | None = None
    retry_of: str | None = None  # the failed trial this one reruns
    error: str | None = None  # the error's last line, when status is "error"
    reused_from: str | None = None  # set on a copy: the experiment that ran this trial, which this one reused
    censored: bool | None = None  # stopped early once it had passed: ``primary`` is a lower bound of its score
    cpus: float | None = None  # the trial's resources: compute spent is seconds × these
    gpus: float | None = None
    # What the result depends on besides the settings (raydim.train.fingerprint); None in rows of schema 1
    # and where nothing was measured (a simulated trial). Reuse needs all four equal to the new search's.
    data_fingerprint: str | None = None  # the rows trained and evaluated on, as loaded
    model_fingerprint: str | None = None  # the model folder's files (weights sampled)
    layout_fingerprint: str | None = None  # the subspace's parameter layout (DID/SAID)
    engine_version: int | None = None  # raydim.train.fingerprint.ENGINE_VERSION of the raydim that ran it

    def __post_init__(self) -> None:
        if self.status not in (COMPLETED, ERROR):
            raise RaydimError(f"TrialRow.status must be {COMPLETED!r} or {ERROR!r}, got {self.status!r}")
        if self.attempt < 0:
            raise RaydimError(f"TrialRow.attempt must be >= 0, got {self.attempt}")
        if (self.d is None) != (self.method == "full"):
            raise RaydimError(f"TrialRow of method {self.method!r} has d={self.d!r}: "
                              "a full fine-tune has no d, a subspace one needs it")
        for name in ("started_at", "finished_at"):
            if getattr(self, name).tzinfo is None:
                raise RaydimError(f"TrialRow.{name} must be timezone-aware (UTC), got {getattr(self, name)}")

    def search_config(self) -> dict[str, Any]:
        return json.loads(self.search)

    def scored(self) -> bool:
        """It completed with a finite score."""
        return self.status == COMPLETED and self.primary is not None and math.isfinite(self.primary)

    def diverged(self) -> bool:
        """It failed on its learning rate (a NaN loss, or a collapse to the label prior): rerun at a lower one."""
        return self.status == ERROR and (self.error or "").startswith(DIVERGED)


@dataclass(frozen=True)
class D90Row(KeyResult):
    """A key's :class:`KeyResult`, plus what the analyses plot it against."""

    experiment: str
    D: int | None  # noqa: N815 - the model's parameter count
    checkpoint_step: int | None
    train_size: int | None  # n of the key's trials
    finished_at: dt.datetime | None  # when the last of the key's trials in this experiment ended: "latest" is by this
    cpu_hours: float | None  # compute the key's trials took (its baseline's included), where resources are known
    gpu_hours: float | None


_ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
    "dt.datetime": pa.timestamp("us", tz="UTC"),
    "dict[str, float]": pa.map_(pa.string(), pa.float64()),
}


def _arrow_field(f) -> pa.Field:
    kind, _, none = f.type.partition(" | ")
    return pa.field(f.name, _ARROW_TYPES[kind], nullable=none == "None")


TRIAL_SCHEMA = pa.schema([_arrow_field(f) for f in fields(TrialRow)],
                         metadata={"raydim.schema_version": str(SCHEMA_VERSION)})


def search_json(config: dict[str, Any]) -> str:
    """``TrialRow.search`` from a searcher's settings and targets: canonical JSON, the same text for the same search."""
    return json.dumps(config, sort_keys=True)


def rows_to_table(rows: list[TrialRow]) -> pa.Table:
    return pa.Table.from_pylist([asdict(r) for r in rows], schema=TRIAL_SCHEMA)


def rows_from_table(table: pa.Table) -> list[TrialRow]:
    """The rows of a trial table (columns it lacks, from an older schema, take their defaults)."""
    names = {f.name for f in fields(TrialRow)}
    rows = []
    for values in table.to_pylist():
        values = {k: v for k, v in values.items() if k in names}
        if isinstance(values.get("metrics"), list):  # a Parquet map reads back as (key, value) pairs
            values["metrics"] = dict(values["metrics"])
        rows.append(TrialRow(**values))
    return rows
