"""Load a task's splits from whichever source applies, subsampled deterministically.

Source choice: a custom :class:`FileSource` if given; else the GLUE TSV folder from
``data_dir`` or ``$RAYDIM_DATA_DIR``; else the Hugging Face hub.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import datasets
import numpy as np

from raydim.data.files import FileSource
from raydim.data.glue_tsv import GlueTsvSource
from raydim.data.hub import GlueHubSource
from raydim.data.metrics import trivial_baseline
from raydim.data.tasks import DATA_DIR_ENV, GLUE_TASKS, Task, get_task
from raydim.errors import RaydimError


class Source(Protocol):
    def fingerprint(self, task: Task) -> str: ...
    def load(self, task: Task) -> dict[str, datasets.Dataset]: ...


@dataclass(frozen=True)
class TaskData:
    """A task's canonical splits plus a fingerprint that identifies exactly these rows."""

    task: Task
    splits: dict[str, datasets.Dataset]
    source: str
    fingerprint: str

    @property
    def train(self) -> datasets.Dataset:
        return self.splits[self.task.train_split]

    def label_counts(self, split: str) -> dict[str, int]:
        """Rows per class name (empty for regression)."""
        if self.task.is_regression:
            return {}
        counts = Counter(self.splits[split]["label"])
        return {name: counts.get(i, 0) for i, name in enumerate(self.task.labels or ())}

    def trivial_baselines(self) -> dict[str, dict[str, float]]:
        """Per split, the metrics of the constant predictor fitted on the train split."""
        train_labels = self.train["label"]
        return {split: trivial_baseline(self.task, train_labels, ds["label"]) for split, ds in self.splits.items()}

    def trivial_train_eval(self, samples: int | None, seed: int) -> dict[str, float]:
        """Metrics of the constant predictor on the train rows a trial scores its train metric on: the
        ``samples`` rows :func:`subsample` keeps for the data ``seed`` (a trial's ``train_eval_samples``)."""
        return trivial_baseline(self.task, self.train["label"], subsample(self.train, samples, seed)["label"])


def resolve_source(task: Task, data_dir: str | Path | None = None) -> Source:
    """The GLUE source for ``task``: a local TSV folder if one is named, else the hub."""
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    return GlueTsvSource(data_dir) if data_dir else GlueHubSource()


def subsample(ds: datasets.Dataset, max_samples: int | None, seed: int) -> datasets.Dataset:
    """The same ``max_samples`` rows for the same seed, kept in file order."""
    if max_samples is None or max_samples >= len(ds):
        return ds
    if max_samples <= 0:
        raise RaydimError(f"max samples must be positive, got {max_samples}")
    keep = np.sort(np.random.default_rng(seed).permutation(len(ds))[:max_samples])
    return ds.select(keep.tolist())


_LOADED: OrderedDict[str, dict[str, datasets.Dataset]] = OrderedDict()
_LOADED_MAX = 8


def _load_cached(source: Source, task: Task, fingerprint: str) -> dict[str, datasets.Dataset]:
    """Parse each source once per process: trials sharing a worker reuse the rows."""
    if fingerprint not in _LOADED:
        _LOADED[fingerprint] = source.load(task)
        while len(_LOADED) > _LOADED_MAX:
            _LOADED.popitem(last=False)
    _LOADED.move_to_end(fingerprint)
    return _LOADED[fingerprint]


def load_task_data(task: str | Task, *, data_dir: str | Path | None = None, source: Source | None = None,
                   max_train_samples: int | None = None, max_eval_samples: int | None = None,
                   seed: int = 0) -> TaskData:
    """Load ``task`` (a GLUE name or a :class:`Task`) and subsample train and eval splits by ``seed``."""
    task = get_task(task) if isinstance(task, str) else task
    if source is None:
        if task.name not in GLUE_TASKS:
            raise RaydimError(f"custom task {task.name!r} needs a source (its train and eval files)")
        source = resolve_source(task, data_dir)
    base = source.fingerprint(task)
    splits = dict(_load_cached(source, task, base))
    for split in splits:
        limit = max_train_samples if split == task.train_split else max_eval_samples
        splits[split] = subsample(splits[split], limit, seed)
    key = f"{base}:{max_train_samples}:{max_eval_samples}:{seed}"
    return TaskData(task=task, splits=splits, source=repr(source),
                    fingerprint=hashlib.sha256(key.encode()).hexdigest())


__all__ = ["FileSource", "GlueHubSource", "GlueTsvSource", "TaskData", "load_task_data", "resolve_source",
           "subsample", "DATA_DIR_ENV"]
