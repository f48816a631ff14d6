"""What every trial of a search shares, so a searcher's suggestion only has to name the key, d, lr and seed.

The template travels in the Tuner's ``param_space`` (Tune merges it into every
trial's config), which keeps the suggestions — and hence Tune's trial table and
trial folder names — short, and lets ``Tuner.restore`` bring it back with the
experiment.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from raydim.data.spec import DataSpec
from raydim.errors import RaydimError
from raydim.train.config import TrainConfig

TEMPLATE = "template"  # the param_space entry that holds it
PROGRESS = "progress_to"  # the param_space entry naming where trials write their progress: store URI, search name
# TrainConfig fields a search sets per trial; the template may set any other.
PER_TRIAL = ("data", "model", "method", "d", "lr", "seed")
# Trial config entries that say which run a trial is, not what its result is (``stop_above`` says when it may
# end early; a row that did says so itself, ``censored``; ``progress_to`` where it reports its steps).
NOT_SETTINGS = ("trial_id", "attempt", "retry_of", "stop_above", PROGRESS)


def model_spec(model: str, checkpoint: str) -> str:
    """The ``--model`` string of a key's (model, checkpoint): ``minilm-l6``, ``minilm-l6@random-init``."""
    return model if checkpoint == "final" else f"{model}@{checkpoint}"


@dataclass(frozen=True)
class TrialTemplate:
    """Per task, where its rows come from; for every trial, how to fine-tune (epochs, batch size, ...)."""

    data: dict[str, DataSpec]
    train: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        fixed = sorted(set(self.train) & set(PER_TRIAL))
        if fixed:
            raise RaydimError(f"train settings {fixed} are chosen per trial by the search; remove them from 'train'")

    def train_config(self, trial: dict[str, Any]) -> TrainConfig:
        """The fine-tune a trial config (a ``TrialRequest.config()`` merged with this template) asks for."""
        task = trial["task"]
        if task not in self.data:
            raise RaydimError(f"trial {trial.get('trial_id')} is for task {task!r}, which the template lacks; "
                              f"it has {', '.join(self.data)}")
        return TrainConfig(data=self.data[task], model=model_spec(trial["model"], trial["checkpoint"]),
                           method=trial["method"], d=trial["d"], lr=trial["lr"], seed=trial["seed"], **self.train)

    def to_dict(self) -> dict[str, Any]:
        return {"data": {task: asdict(spec) for task, spec in self.data.items()}, "train": dict(self.train)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialTemplate:
        specs = {task: DataSpec(**{**spec, "text_columns": tuple(spec.get("text_columns", ()))})
                 for task, spec in data["data"].items()}
        return cls(specs, dict(data.get("train", {})))


def trial_settings_hash(config: dict[str, Any]) -> str:
    """What defines a trial's result, as a short hash: two trials with the same hash would measure the same thing.

    With a template it is the :class:`TrainConfig`'s ``settings_hash`` (data,
    model, method, d, lr, seed and every training setting; not the device) plus
    any other ``param_space`` entry (a simulator's curves); otherwise the whole
    config. The trial's id and attempt never count. The results store keys reuse on it.
    """
    values = {k: v for k, v in config.items() if k not in NOT_SETTINGS}
    # A template without the trial's task is not what trained it (a simulated trial ignores it): hash it as it is.
    if config.get("task") in (values.get(TEMPLATE) or {}).get("data", {}):
        train = TrialTemplate.from_dict(values.pop(TEMPLATE)).train_config(config)
        values = {"train": train.settings_hash(),
                  **{k: v for k, v in values.items() if k not in (*PER_TRIAL, "task", "checkpoint")}}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]
