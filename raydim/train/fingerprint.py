"""What a fine-tune's result depends on besides its settings: the rows, the weights, the layout, the engine.

A stored trial is reused only when all of these equal the new search's
(:mod:`raydim.store.reuse`), so edited data at the same path, other weights in
the same folder, or an engine change never bring back an old result:

* the **data fingerprint** hashes the rows as loaded (every split, after
  subsampling) with the task's labels: a copy of the same files elsewhere
  matches, an edited row does not;
* the **model fingerprint** hashes the files of the model folder (a local
  directory, or the hub snapshot in the local cache): whole when small (config,
  tokenizer), 64 blocks of 64 KiB spread over the file plus its size when large
  (weights). New weights differ almost everywhere, so the blocks see them; reading
  4 MiB instead of gigabytes keeps a search's start and every trial cheap. A
  random-init model's weights are drawn from the seed, so only the other files count;
* the **layout fingerprint** is :meth:`ParameterLayout.fingerprint` (parameter
  names, sizes and SAID groups): the trial reports the one it trained with, and a
  search predicts it from the architecture on the meta device, without weights;
* :data:`ENGINE_VERSION`, bumped by hand whenever a change to raydim would change
  a result (how P is drawn, the training loop, a metric).

Fingerprints are memoised per file (path, size, mtime) and per loaded data, so a
worker that runs many trials computes each once.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import pyarrow as pa
import torch
from transformers import AutoModelForSequenceClassification

from raydim.data.loading import TaskData
from raydim.methods import get_method
from raydim.models.loading import load_config
from raydim.models.registry import ModelRef

# Bump when results would change for the same settings, data and weights: stored trials are then not reused.
# 1: the first engine whose rows carry fingerprints.
ENGINE_VERSION = 1

WHOLE_FILE_BYTES = 4 << 20  # files up to this size are hashed whole
SAMPLE_BLOCKS, BLOCK_BYTES = 64, 64 << 10  # larger files: this many blocks, evenly spread, first and last included
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".ckpt", ".onnx", ".ot")


def data_fingerprint(data: TaskData) -> str:
    """The rows of every split as loaded (text, label), and the task's label names: 16 hex digits."""
    return _data_fingerprint(data.fingerprint, data)


def model_fingerprint(ref: ModelRef) -> str | None:
    """The files of the model's folder (weights sampled, see the module docstring); None when the folder is not
    on this machine (a hub model not in the cache yet): an unknown model never matches a stored one."""
    folder = _folder(ref)
    if folder is None:
        return None
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if ref.random_init:  # the weights are drawn from the seed: what counts is the architecture and tokenizer
        files = [p for p in files if not p.name.endswith(WEIGHT_SUFFIXES)]
        if ref.shipped_config is not None:
            files.append(ref.shipped_config)
    h = hashlib.sha256(f"random-init={ref.random_init}".encode())
    for path in files:
        stat = path.stat()
        h.update(f"{path.name}:{_file_fingerprint(str(path.resolve()), stat.st_size, stat.st_mtime_ns)};".encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=64)
def expected_layout_fingerprint(ref: ModelRef, num_labels: int, method: str, grouping: str) -> str | None:
    """The layout a subspace trial of this model will train with (its method's), built on the meta device (no
    weights read); None for a method without a subspace, such as the full fine-tune."""
    layout = get_method(method).layout
    if layout is None:
        return None
    config = load_config(ref, num_labels)
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    return layout(model, grouping).fingerprint()


def _folder(ref: ModelRef) -> Path | None:
    if ref.is_local:
        return Path(ref.source)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(ref.source, revision=None if ref.random_init else ref.revision,
                                      local_files_only=True))
    except Exception:  # not cached (or no such repo): the trial's own load reports why, if it fails
        return None


@functools.lru_cache(maxsize=256)
def _file_fingerprint(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of the file, or of its size and sampled blocks when it is large; memoised by (path, size, mtime)."""
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        if size <= WHOLE_FILE_BYTES:
            h.update(f.read())
        else:
            step = (size - BLOCK_BYTES) / (SAMPLE_BLOCKS - 1)
            for i in range(SAMPLE_BLOCKS):
                f.seek(round(i * step))
                h.update(f.read(BLOCK_BYTES))
    return h.hexdigest()[:16]


_DATA: dict[str, str] = {}


def _data_fingerprint(key: str, data: TaskData) -> str:
    if key not in _DATA:
        h = hashlib.sha256(repr((data.task.name, data.task.labels, data.task.text_fields)).encode())
        for split in sorted(data.splits):
            table = data.splits[split].with_format("arrow")[:].combine_chunks()
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            h.update(split.encode())
            h.update(sink.getvalue())
        _DATA[key] = h.hexdigest()[:16]
    return _DATA[key]

