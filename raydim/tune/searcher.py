"""``D90Searcher``: Ray Tune's ``Searcher`` lifecycle translated into calls on a :class:`SearchPolicy`.

All the search logic lives in the Ray-free policy; this class only answers Tune:

* ``suggest(trial_id)`` — Tune has a free slot: the policy's next trial for that id,
  ``None`` while every key waits on running trials, ``Searcher.FINISHED`` once every
  key is done (so the run ends under ``num_samples=-1``);
* ``on_trial_complete(trial_id, result, error)`` — a trial ended: its ``score``
  (best epoch's primary metric; a lower bound when it stopped early, ``censored``)
  is recorded, or a failure (an error, or no finite score: a diverged loss, rerun at
  a lower rate), which the policy reruns or counts as failed, so a failing trial
  never hangs the search;
* ``save(path)`` / ``restore(path)`` — Tune checkpoints the experiment: the policy's
  versioned state as JSON, written atomically, so ``Tuner.restore`` resumes mid-search.

After each completed trial, and on restore, it publishes each key's pass level to the
running trials (:class:`~raydim.store.running.PassLevels`), where it is given one.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher

from raydim.atomic import write_json_atomically
from raydim.errors import RaydimError
from raydim.search import KeyProgress, KeyResult, KeyTarget, SearchPolicy, SearchSettings
from raydim.store.running import PassLevels
from raydim.tune.metrics import export_progress
from raydim.tune.trainable import CENSORED, ERROR, SCORE, train_score

logger = logging.getLogger(__name__)


class D90Searcher(Searcher):
    """Searches d90 for every key of ``targets`` at once; see the module docstring for when Tune calls what.

    Run it with ``TuneConfig(search_alg=searcher, num_samples=-1)`` and a
    ``max_concurrent_trials`` of at least ``settings.parallelism`` × keys, so one
    key's waiting never idles a slot another key could fill. ``on_progress`` is
    called with every key's :class:`KeyProgress` after each completed trial (the
    CLI prints it); it must pickle, as Tune pickles the searcher. ``pass_levels``
    is where the running trials read their key's pass level (the search's store).
    """

    # A class default, not only set in __init__: Tune unpickles a resumed search's searcher as it was pickled at
    # launch, so one launched by a raydim before pass levels has no such attribute (and publishes nothing).
    pass_levels: PassLevels | None = None

    def __init__(self, targets: Sequence[KeyTarget], settings: SearchSettings | None = None, *,
                 metric: str = SCORE, on_progress: Callable[[list[KeyProgress]], None] | None = None,
                 pass_levels: PassLevels | None = None) -> None:
        super().__init__(metric=metric, mode="max")
        self.policy = SearchPolicy(targets, settings)
        self.on_progress = on_progress
        self.pass_levels = pass_levels

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        """Tune passes ``TuneConfig``'s metric and mode; the searcher's own (maximise ``score``) must agree."""
        if metric not in (None, self.metric) or mode not in (None, "max"):
            raise RaydimError(
                f"D90Searcher maximises {self.metric!r}, but the TuneConfig asks for metric={metric!r}, mode={mode!r}; "
                f"drop metric and mode from the TuneConfig, or pass metric={self.metric!r}, mode='max'")
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        requests = self.policy.propose(1, [trial_id])
        if requests:
            return requests[0].config()
        return Searcher.FINISHED if self.policy.finished() else None

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        result = result or {}
        score = result.get(self.metric)
        if error or score is None or not math.isfinite(score):
            if not error:
                logger.warning("trial %s ended without a finite %r (%s); counted as a failure", trial_id, self.metric,
                               result.get(ERROR) or f"got {score!r}")
            self.policy.record_failure(trial_id, diverged=not error and bool(result.get(ERROR)),
                                       train_metric=train_score(result))
        else:
            self.policy.record_result(trial_id, float(score), censored=bool(result.get(CENSORED)),
                                      train_metric=train_score(result))
        self.publish_levels()
        progress = self.policy.progress()
        export_progress(progress)  # to the Ray dashboard's metrics view
        if self.on_progress is not None:
            self.on_progress(progress)

    def publish_levels(self) -> None:
        """Each key's pass level as the policy has it now, for the running trials (where ``pass_levels`` is set)."""
        if self.pass_levels is not None:
            self.pass_levels.publish(self.policy.pass_levels())

    def results(self) -> list[KeyResult]:
        """One d90 record per key: final once the run has ended, the estimate so far before."""
        return self.policy.results()

    def search_config(self) -> dict[str, Any]:
        """What the search is, without its trials (settings and targets): the results store keeps it per row."""
        state = self.policy.state_dict()
        return {"settings": state["settings"], "targets": state["targets"]}

    def save(self, checkpoint_path: str) -> None:
        write_json_atomically(checkpoint_path, {"metric": self.metric, "policy": self.policy.state_dict()})

    def restore(self, checkpoint_path: str) -> None:
        restored = self.from_state(json.loads(Path(checkpoint_path).read_text()))
        self._metric, self.policy = restored.metric, restored.policy
        self.publish_levels()  # the resumed trials stop at the levels the search had reached

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> D90Searcher:
        """A searcher from what :meth:`save` wrote (see :func:`raydim.tune.tuner.load_searcher` to find it)."""
        searcher = cls([KeyTarget.from_dict(t) for t in state["policy"]["targets"]], metric=state["metric"])
        searcher.policy = SearchPolicy.from_state_dict(state["policy"])
        return searcher
