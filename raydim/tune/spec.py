"""A d90 search as plain settings: which keys, how each trial trains, how the search runs, on what resources.

A spec comes from a ``search_spaces/*.yaml`` file, command-line options, or
Python, and is validated as a whole: every problem is reported in one message,
before Ray starts. Relative paths (data, local models, storage) are made absolute
here, because Tune runs each trial in its own working directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from raydim.data.spec import DataSpec
from raydim.data.tasks import get_task
from raydim.data.utf8 import read_utf8
from raydim.errors import RaydimError
from raydim.methods import METHODS, get_method
from raydim.models.loading import check_max_length
from raydim.models.registry import DEFAULT_MODEL, parse_model_ref
from raydim.search import KeyTarget, SearchKey, SearchSettings
from raydim.train.config import TrainConfig
from raydim.tune.template import TrialTemplate, model_spec

RESOURCE_FIELDS = ("cpus_per_trial", "gpus_per_trial", "max_concurrent", "max_failures")
LIST_FIELDS = ("tasks", "models", "checkpoints", "methods")
SECTIONS = (*LIST_FIELDS, "data", "train", "search", "baselines", "resources", "name", "storage")
INVALID = "invalid search spec: "

# The quick CPU profile (search_spaces/quick_cpu.yaml, which a test keeps equal): what `raydim search`
# runs without --space. Three epochs over MRPC's train set per trial (one is too few for a meaningful
# MiniLM d90), one CPU each, up to 10 trials (about an hour on 2 cores); see the YAML for the reasoning.
QUICK_TRAIN = {"epochs": 3, "batch_size": 32, "max_length": 128, "train_eval_samples": 256, "group_by_length": True}
QUICK_SEARCH = {
    "strategy": "d90", "ratio": 0.9, "threshold": "paper", "d_min": 300, "d_max": 30_000, "tolerance": 1.0,
    "baseline_lrs": [1e-4], "baseline_seeds": 1, "lr_low": 0.01, "lr_high": 1.0, "lr_init": 0.1, "lr_scaling": 0.5,
    "lrs_per_d": 1, "seeds_per_d": 2, "max_trials": 10, "level": 0.9,
}


@dataclass(frozen=True)
class SearchSpec:
    """Every (task, model, checkpoint, method) combination is one key with its own d90.

    ``data``, ``train`` and ``search`` hold :class:`DataSpec`, :class:`TrainConfig`
    and :class:`SearchSettings` fields shared by every key (``search.parallelism``
    left out means: as many trials per key as the cluster runs at once, divided
    among the keys). ``baselines`` maps a task, or ``task:model@checkpoint``, to a
    known full fine-tune metric: those keys skip their full fine-tunes.
    ``max_failures`` is how often Tune restarts a crashed trial from its checkpoint
    before the searcher sees it fail. ``SearchSpec()`` is the quick CPU profile;
    a YAML file stands on its own (a section it omits takes the TrainConfig or
    SearchSettings defaults).
    """

    tasks: tuple[str, ...] = ("mrpc",)
    models: tuple[str, ...] = (DEFAULT_MODEL,)
    checkpoints: tuple[str, ...] = ("final",)
    methods: tuple[str, ...] = ("said",)
    data: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=lambda: dict(QUICK_TRAIN))
    search: dict[str, Any] = field(default_factory=lambda: dict(QUICK_SEARCH))
    baselines: dict[str, float] = field(default_factory=dict)
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int | None = None
    max_failures: int = 1
    name: str = "raydim-search"
    storage: str | None = None

    def __post_init__(self) -> None:
        for name in LIST_FIELDS:  # one name stands for a list of one, and a list is a tuple here
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else
                               tuple(value) if isinstance(value, list) else value)
        if isinstance(self.data, dict):  # a section of another type is reported below
            data = _absolute_paths(dict(self.data), ("data_dir", "train_file", "eval_file"))
            if isinstance(data.get("text_columns"), str | list):
                columns = data["text_columns"]
                data["text_columns"] = tuple(c.strip() for c in columns.split(",")) if isinstance(columns, str) \
                    else tuple(columns)
            object.__setattr__(self, "data", data)
        if isinstance(self.models, tuple) and all(isinstance(m, str) for m in self.models):
            object.__setattr__(self, "models", tuple(_absolute_model(m) for m in self.models))
        if isinstance(self.storage, str) and "://" not in self.storage:
            object.__setattr__(self, "storage", str(Path(self.storage).expanduser().resolve()))
        from raydim.tune.space import space_errors  # pydantic: loaded by the commands that build a spec, only

        errors, bad = space_errors(self._as_file())
        errors += self._errors(bad)
        if errors:
            raise RaydimError(INVALID + "; ".join(errors))

    # -- validation --------------------------------------------------------------------------------------------

    def _as_file(self) -> dict[str, Any]:
        """The spec in the shape of its YAML file, values as they are (of any type: they are being checked)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in RESOURCE_FIELDS}
        return {**values, "resources": {name: getattr(self, name) for name in RESOURCE_FIELDS}}

    def _errors(self, bad: set[tuple[str, ...]]) -> list[str]:
        """What a value may be beyond its key, type and range (:mod:`raydim.tune.space` checks those): tasks
        that exist, sections their dataclasses accept, baselines that name a key. Entries with a problem of
        their own (``bad``: ``("tasks",)``, ``("train", "epochs")``) are left out here."""
        errors: list[str] = []
        # each section's settings of a known name and the right type, for the checks of values
        sections = {name: {k: v for k, v in getattr(self, name).items() if (name, k) not in bad}
                    for name in ("data", "train", "search") if (name,) not in bad}
        lists_ok = not any((name,) in bad for name in LIST_FIELDS)
        if lists_ok and "data" in sections:
            if sections["data"].get("train_file"):
                if len(self.tasks) != 1:
                    errors.append(f"a custom task (data.train_file) is one task; got tasks {list(self.tasks)}")
            else:
                for task in self.tasks:
                    errors += _error_of(lambda t=task: get_task(t))
            errors += _error_of(lambda: DataSpec(task=self.tasks[0], **sections["data"]))
        if "train" in sections:
            errors += _error_of(lambda: TrainConfig(method="said", d=1000, **sections["train"]))
        if "search" in sections:
            errors += _error_of(lambda: SearchSettings(**{**sections["search"],
                                                          "parallelism": sections["search"].get("parallelism", 1)}))
        if lists_ok:
            searched = [m for m in METHODS if get_method(m).uses_subspace]
            bad_methods = [m for m in self.methods if m not in searched]
            if bad_methods:
                errors.append(f"methods {bad_methods}: a d90 is searched for {' or '.join(searched)} "
                              "(the full fine-tune is every key's baseline)")
            for model in self.models:
                for checkpoint in self.checkpoints:
                    errors += _error_of(lambda m=model, c=checkpoint: parse_model_ref(model_spec(m, c)))
            if ("baselines",) not in bad:
                groups = {self._group(key) for key in self.keys()} | set(self.tasks)
                for name in self.baselines:
                    if name not in groups:
                        errors.append(f"baselines[{name!r}] names no task or task:model@checkpoint of this search; "
                                      f"use one of {', '.join(sorted(groups))}")
        return errors

    # -- what the search runs ----------------------------------------------------------------------------------

    def keys(self) -> list[SearchKey]:
        return [SearchKey(t, m, c, meth) for t in self.tasks for m in self.models for c in self.checkpoints
                for meth in self.methods]

    def data_spec(self, task: str) -> DataSpec:
        return DataSpec(task=task, **self.data)

    def template(self) -> TrialTemplate:
        return TrialTemplate({task: self.data_spec(task) for task in self.tasks}, dict(self.train))

    def targets(self) -> list[KeyTarget]:
        """One target per key, with what each task's data says (loaded here, once): the trivial predictor's
        metric, the metric and dev-set size that set the prior of seed noise, and the trivial predictor's metric
        on the train rows a trial scores itself on.

        Every model's config is read here too, so a ``max_length`` beyond a model's positions is refused now,
        not when a trial first meets a row that long."""
        for model in self.models:
            for checkpoint in self.checkpoints:  # a ladder folder is a model only with its checkpoint named
                check_max_length(parse_model_ref(model_spec(model, checkpoint)),
                                 self.train.get("max_length", TrainConfig.max_length))
        facts = {}
        train_eval = self.train.get("train_eval_samples", TrainConfig.train_eval_samples)
        for task in self.tasks:
            spec = self.data_spec(task)
            data = spec.load()
            split, metric = data.task.primary_split, data.task.primary_metric
            facts[task] = (data.trivial_baselines()[split][metric], metric, len(data.splits[split]),
                           data.trivial_train_eval(train_eval, spec.seed)[metric])
        return [KeyTarget(key, facts[key.task][0], self._baseline(key), *facts[key.task][1:]) for key in self.keys()]

    def settings(self, slots: int = 1) -> SearchSettings:
        """The search settings; without an explicit ``parallelism``, ``slots`` shared among the keys."""
        parallelism = self.search.get("parallelism") or max(1, slots // max(1, len(self.keys())))
        return SearchSettings(**{**self.search, "parallelism": parallelism})

    def _group(self, key: SearchKey) -> str:
        return f"{key.task}:{key.model}@{key.checkpoint}"

    def _baseline(self, key: SearchKey) -> float | None:
        value = self.baselines.get(self._group(key), self.baselines.get(key.task))
        return None if value is None else float(value)

    # -- reading and writing -----------------------------------------------------------------------------------

    def with_overrides(self, **overrides: Any) -> SearchSpec:
        """A copy with ``overrides`` applied: ``None`` values are ignored, and the dict sections are merged into."""
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if value is None:
                continue
            if name in ("data", "train", "search", "baselines"):
                value = {**getattr(self, name), **{k: v for k, v in value.items() if v is not None}}
            changes[name] = value
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "search spec") -> SearchSpec:
        """From a YAML-shaped dict (resources under ``resources:``); every problem at every level is reported
        together: unknown keys (naming the known ones), values of the wrong type, values out of range."""
        if not isinstance(values, dict):
            raise RaydimError(f"{source}: expected a mapping of settings at the top, got {type(values).__name__}")
        # A file stands on its own: a section it leaves out is the dataclass defaults, not the quick profile's.
        flat: dict[str, Any] = {"train": {}, "search": {},
                                **{k: v for k, v in values.items() if k in SECTIONS and v is not None}}
        resources = flat.pop("resources", {})
        # what the spec has no field for (unknown keys, resources that are no mapping) is checked here
        dropped = {k: v for k, v in values.items() if k not in SECTIONS}
        if isinstance(resources, dict):
            dropped["resources"] = {k: v for k, v in resources.items() if k not in RESOURCE_FIELDS}
            flat.update({k: v for k, v in resources.items() if k in RESOURCE_FIELDS})
        else:
            dropped["resources"] = resources
        from raydim.tune.space import space_errors

        errors = space_errors(dropped)[0]
        try:
            spec = cls(**flat)
        except RaydimError as e:
            errors.append(str(e).removeprefix(INVALID))
        if errors:
            raise RaydimError(f"{source}: " + "; ".join(errors))
        return spec

    @classmethod
    def from_yaml(cls, path: str | Path) -> SearchSpec:
        path = Path(path)
        try:
            values = yaml.safe_load(read_utf8(path))
        except OSError as e:
            raise RaydimError(f"cannot read search space {path}: {e.strerror}; check the --space path") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            raise RaydimError(f"{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
        return cls.from_dict(values or {}, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """The YAML-shaped form :meth:`from_dict` reads."""
        return {
            **{name: list(getattr(self, name)) for name in LIST_FIELDS},
            "data": {k: list(v) if isinstance(v, tuple) else v for k, v in self.data.items()},
            "train": dict(self.train), "search": dict(self.search), "baselines": dict(self.baselines),
            "resources": {name: getattr(self, name) for name in RESOURCE_FIELDS},
            "name": self.name, "storage": self.storage,
        }


def _error_of(check) -> list[str]:
    try:
        check()
    except RaydimError as e:
        return [str(e)]
    except (TypeError, ValueError) as e:
        return [str(e)]
    return []


def _absolute_paths(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    for name in names:
        if values.get(name) and isinstance(values[name], str):  # another type is reported by the type checks
            values[name] = str(Path(values[name]).expanduser().resolve())
    return values


def _absolute_model(model: str) -> str:
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model
