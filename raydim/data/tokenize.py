"""Tokenise a task's splits once, cache them, and batch them with dynamic padding.

Each trial of a search tokenises the same rows with the same tokenizer, so the
result is cached twice: in memory for trials sharing a worker process, and on
disk (``$RAYDIM_CACHE_DIR``, default ``~/.cache/raydim``) for everything else. The
cache key is the data fingerprint plus the tokenizer's identity and vocabulary,
so a changed file or a different model never reuses stale ids. Sequences are
truncated, not padded: :func:`make_dataloader` pads each batch to its own longest
sequence, which on GLUE's short sentences saves most of the compute of padding to
``max_length``; with ``group_by_length`` it batches rows of similar length, which
saves most of what is left (MRPC: 54 tokens per row instead of 80).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import datasets
import pyarrow
import torch
from torch.utils.data import DataLoader, Sampler
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase

from raydim.atomic import fsync, fsync_tree
from raydim.data.loading import TaskData

logger = logging.getLogger(__name__)

CACHE_DIR_ENV = "RAYDIM_CACHE_DIR"
_FORMAT_VERSION = 1  # bump when the tokenised columns change
_MEMORY: OrderedDict[str, dict[str, datasets.Dataset]] = OrderedDict()
_MEMORY_MAX = 8


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "raydim") / "tokenized"


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """Identity of a tokenizer by what it does, not where it was loaded from."""
    vocab = json.dumps(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(f"{type(tokenizer).__name__}:{tokenizer.name_or_path}:{vocab}".encode()).hexdigest()


def _tokenize(data: TaskData, tokenizer: PreTrainedTokenizerBase, max_length: int) -> dict[str, datasets.Dataset]:
    fields = data.task.text_fields

    def encode(batch: dict[str, list]) -> dict[str, list]:
        encoded = tokenizer(*(batch[f] for f in fields), truncation=True, max_length=max_length)
        encoded["labels"] = batch["label"]
        return encoded

    out = {}
    for split, ds in data.splits.items():
        out[split] = ds.map(encode, batched=True, remove_columns=ds.column_names, load_from_cache_file=False)
    return out


def tokenize_task_data(data: TaskData, tokenizer: PreTrainedTokenizerBase,
                       max_length: int = 128) -> dict[str, datasets.Dataset]:
    """Per split, a dataset of ``input_ids``, ``attention_mask`` (``token_type_ids``) and ``labels``."""
    key = hashlib.sha256(
        f"{_FORMAT_VERSION}:{data.fingerprint}:{tokenizer_fingerprint(tokenizer)}:{max_length}".encode()
    ).hexdigest()
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        return _MEMORY[key]
    path = cache_dir() / key
    with _quiet_datasets():
        tokenized = _load(path, data.splits) if path.is_dir() else None
        if tokenized is None:
            tokenized = _tokenize(data, tokenizer, max_length)
            _save_atomically(tokenized, path)
    _MEMORY[key] = tokenized
    while len(_MEMORY) > _MEMORY_MAX:
        _MEMORY.popitem(last=False)
    return tokenized


def _load(path: Path, splits) -> dict[str, datasets.Dataset] | None:
    """A disk cache entry; None, the entry removed, where it cannot be read (a file truncated or deleted
    by hand, a disk that filled): tokenising again costs seconds, a damaged cache would fail every trial."""
    try:
        return {split: datasets.load_from_disk(str(path / split)) for split in splits}
    except (OSError, ValueError, pyarrow.ArrowException) as e:
        logger.warning("tokenised cache entry %s cannot be read (%s); tokenising again", path, e)
        shutil.rmtree(path, ignore_errors=True)
        return None


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No per-split progress bars: tokenising GLUE takes seconds and trials print their own progress."""
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if bars:
            datasets.enable_progress_bars()


def _save_atomically(tokenized: dict[str, datasets.Dataset], path: Path) -> None:
    """Write to a sibling temp folder and rename it into place: readers never see half a cache entry."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    except OSError:
        return  # an unwritable cache only costs re-tokenising
    try:
        for split, ds in tokenized.items():
            ds.save_to_disk(str(tmp / split))
        fsync_tree(tmp)  # on disk before the rename: a power cut never leaves a half-written entry under its name
        os.replace(tmp, path)
        fsync(path.parent)
    except OSError:
        pass  # another process won the race, or the disk is full: the in-memory copy still serves
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def make_dataloader(dataset: datasets.Dataset, tokenizer: PreTrainedTokenizerBase, batch_size: int,
                    shuffle: bool = False, seed: int = 0, group_by_length: bool = False) -> DataLoader:
    """Batches padded to their own longest sequence; ``seed`` fixes the shuffle order.

    ``group_by_length`` (with ``shuffle``) batches rows of similar length together
    (:class:`LengthGroupedBatches`); the number of batches stays ⌈rows / batch_size⌉.
    """
    collator = DataCollatorWithPadding(tokenizer, return_tensors="pt")
    rows = dataset.with_format("python")
    if shuffle and group_by_length:
        lengths = [len(ids) for ids in dataset["input_ids"]]
        return DataLoader(rows, batch_sampler=LengthGroupedBatches(lengths, batch_size, seed), collate_fn=collator)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(rows, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collator)


class LengthGroupedBatches(Sampler[list[int]]):
    """Random batches of rows of similar length, so padding each batch to its longest row costs little.

    The rows are shuffled and cut into windows of ``window`` batches; each window
    is sorted by length and batched, and all batches are then shuffled. Every row
    is seen once per epoch in an order fixed by ``seed``, batch contents are random
    within a window, and only the last window can leave a short batch. The same
    scheme as ``transformers``' ``group_by_length``, without its longest-first batch.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int, window: int = 50) -> None:
        self.lengths, self.batch_size, self.seed, self.window = lengths, batch_size, seed, window

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        span = self.batch_size * self.window
        batches = []
        for start in range(0, len(order), span):
            rows = sorted(order[start:start + span], key=self.lengths.__getitem__)
            batches += [rows[i:i + self.batch_size] for i in range(0, len(rows), self.batch_size)]
        for i in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[i]
