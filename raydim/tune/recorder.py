"""``StoreCallback``: Ray Tune's trial lifecycle written into the results store, one row per finished trial.

Tune calls ``on_trial_complete`` / ``on_trial_error`` on the driver once a trial
has ended for good (after any restarts from its checkpoint), so only the driver
writes and every row is final. Each row is one atomic part file; a trial written
again after a ``Tuner.restore`` carries the same (experiment, trial id, attempt)
and is read back once.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from pathlib import Path
from typing import Any

from ray.tune import Callback

import raydim
from raydim.store import COMPLETED, ERROR, ResultsStore, TrialRow, checkpoint_step
from raydim.store.running import drop_progress
from raydim.store.schema import search_json
from raydim.train.fingerprint import ENGINE_VERSION
from raydim.tune.template import TEMPLATE, trial_settings_hash
from raydim.tune.trainable import ERROR as REPORTED_ERROR
from raydim.tune.trainable import CENSORED, SCORE, best_metrics, train_score

logger = logging.getLogger(__name__)


class StoreCallback(Callback):
    """Writes every trial of the search named ``experiment`` to ``store``.

    ``search`` is the searcher's :meth:`~raydim.tune.searcher.D90Searcher.search_config`
    (settings and targets), stored with each row so the d90 table can be rebuilt
    from the rows alone.
    """

    def __init__(self, store: ResultsStore, experiment: str, search: dict[str, Any]) -> None:
        self.store, self.experiment, self.search = store, experiment, search_json(search)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._write(trial, error=None)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._write(trial, error=_last_error(trial))

    def _write(self, trial: Any, error: str | None) -> None:
        """One row, one part file; then the trial's progress file goes (:mod:`raydim.store.running`): it no longer
        runs. A store that cannot be written (a bucket gone away) is logged, not raised: the search, and Tune's
        own record of it, go on."""
        try:
            self.store.write([self.row(trial, error)])
            drop_progress(self.store, self.experiment, trial.trial_id)
        except Exception:
            logger.exception("trial %s was not written to the results store %s", trial.trial_id, self.store.uri)

    def row(self, trial: Any, error: str | None) -> TrialRow:
        """The trial as a :class:`TrialRow`; a trial that ended without a score counts as an error."""
        c, result = trial.config, trial.last_result or {}
        score = result.get(SCORE)
        if error is None and (score is None or not math.isfinite(score)):
            error = result.get(REPORTED_ERROR) or f"the trial ended without a finite {SCORE!r} (got {score!r})"
        best = result.get("best") or {}
        metrics = best_metrics(result)
        finished = dt.datetime.now(dt.timezone.utc)
        started = trial.run_metadata.start_time
        started_at = dt.datetime.fromtimestamp(started, dt.timezone.utc) if started else \
            finished - dt.timedelta(seconds=result.get("time_total_s") or 0.0)
        template = c.get(TEMPLATE) or {}
        return TrialRow(
            experiment=self.experiment, trial_id=trial.trial_id, attempt=int(c.get("attempt") or 0),
            task=c["task"], model=c["model"], checkpoint=c["checkpoint"], method=c["method"], lr=float(c["lr"]),
            seed=int(c["seed"]), status=COMPLETED if error is None else ERROR, settings_hash=trial_settings_hash(c),
            raydim_version=raydim.__version__, started_at=started_at, finished_at=finished, search=self.search,
            checkpoint_step=checkpoint_step(c["checkpoint"]),
            grouping=template.get("train", {}).get("grouping", "layer") if c["method"] == "said" else None,
            D=result.get("D"), d=c.get("d"), num_trainable=result.get("num_trainable"),
            primary_metric=result.get("primary_metric"), primary=score if error is None else None,
            metrics={k: float(v) for k, v in metrics.items()}, train_metric=train_score(result),
            train_loss=best.get("train_loss", result.get("train_loss")), best_epoch=best.get("epoch"),
            epochs=result.get("epoch"), steps=result.get("step"), train_size=result.get("train_size"),
            seconds=result.get("time_total_s"), device=result.get("device"), retry_of=c.get("retry_of"), error=error,
            data_fingerprint=result.get("data_fingerprint"), model_fingerprint=result.get("model_fingerprint"),
            layout_fingerprint=result.get("layout_fingerprint"), engine_version=ENGINE_VERSION,
            censored=bool(result.get(CENSORED)) if error is None else None, **_resources(trial))


def _resources(trial: Any) -> dict[str, float | None]:
    """The CPUs and GPUs the trial held (Tune's placement group request), for the compute a d90 cost."""
    factory = getattr(trial, "placement_group_factory", None)
    held = getattr(factory, "required_resources", None) or {}
    return {"cpus": float(held["CPU"]) if "CPU" in held else None, "gpus": float(held.get("GPU", 0.0))
            if held else None}


def _last_error(trial: Any) -> str:
    """The exception line of the trial's latest error, from the error file Tune has just written beside it."""
    path = trial.error_file  # local: the copy in the storage is synced later
    text = Path(path).read_text() if path and Path(path).is_file() else ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error (Tune wrote no error file)"
