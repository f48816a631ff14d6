"""Tokenisation: cached across calls and processes, padded per batch."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from raydim.data import load_task_data, make_dataloader, tokenize_task_data
from raydim.data import tokenize as tokenize_module
from raydim.data.tokenize import LengthGroupedBatches
from raydim.models import load_tokenizer, parse_model_ref
from tests.data.glue_fixtures import write_glue


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(parse_model_ref("minilm-l6"))


def test_pair_tasks_encode_both_sentences(tmp_path: Path, tokenizer) -> None:
    data = load_task_data("rte", data_dir=write_glue(tmp_path))
    row = tokenize_task_data(data, tokenizer, max_length=64)["validation"][0]
    assert row["labels"] == 0
    assert row["token_type_ids"].count(1) > 0  # the second sentence is segment 1
    assert tokenizer.decode(row["input_ids"], skip_special_tokens=True) == "a man is here. someone is here."


def test_truncation_and_dynamic_padding(glue_dir: Path, tokenizer) -> None:
    data = load_task_data("mrpc", data_dir=glue_dir, max_train_samples=64)
    train = tokenize_task_data(data, tokenizer, max_length=32)["train"]
    assert max(len(ids) for ids in train["input_ids"]) == 32
    full = tokenize_task_data(data, tokenizer, max_length=128)["train"]
    batch = next(iter(make_dataloader(full, tokenizer, batch_size=8)))
    longest = max(len(ids) for ids in full["input_ids"][:8])
    assert batch["input_ids"].shape == (8, longest)  # padded to the batch's longest, not to 128
    assert batch["labels"].tolist() == full["labels"][:8]


def test_cache_serves_repeated_calls_from_memory_and_disk(tmp_path: Path, tokenizer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    data = load_task_data("sst2", data_dir=write_glue(tmp_path))
    first = tokenize_task_data(data, tokenizer)
    assert tokenize_task_data(data, tokenizer) is first  # same process: memory
    entries = list(tokenize_module.cache_dir().iterdir())
    assert any(e.is_dir() and not e.name.startswith(".") for e in entries)
    tokenize_module._MEMORY.clear()  # as a fresh worker process would start

    def fail(*args, **kwargs):
        raise AssertionError("re-tokenised despite a disk cache entry")

    monkeypatch.setattr(tokenize_module, "_tokenize", fail)
    again = tokenize_task_data(data, tokenizer)
    assert again["train"].to_list() == first["train"].to_list()


def test_a_damaged_cache_entry_is_tokenised_again(tmp_path: Path, tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tokenize_module.CACHE_DIR_ENV, str(tmp_path / "cache"))  # this test's entry alone
    data = load_task_data("sst2", data_dir=write_glue(tmp_path))
    first = tokenize_task_data(data, tokenizer)
    tokenize_module._MEMORY.clear()
    [entry] = [e for e in tokenize_module.cache_dir().iterdir() if e.is_dir() and not e.name.startswith(".")]
    for arrow in entry.rglob("*.arrow"):
        arrow.write_bytes(arrow.read_bytes()[:40])  # truncated, as by a disk that filled
    again = tokenize_task_data(data, tokenizer)
    assert again["train"].to_list() == first["train"].to_list()
    tokenize_module._MEMORY.clear()
    assert tokenize_task_data(data, tokenizer)["train"].to_list() == first["train"].to_list()  # the entry rewritten


def test_shuffle_order_follows_the_seed(glue_dir: Path, tokenizer) -> None:
    data = load_task_data("mrpc", data_dir=glue_dir, max_train_samples=40)
    train = tokenize_task_data(data, tokenizer)["train"]
    order = lambda seed: [b["labels"].tolist() + b["input_ids"][:, 1].tolist()  # noqa: E731
                          for b in make_dataloader(train, tokenizer, 8, shuffle=True, seed=seed)]
    assert order(1) == order(1) != order(2)


def test_length_grouped_batches_see_every_row_once_in_seeded_order() -> None:
    lengths = [int(x) for x in torch.randint(5, 120, (1000,), generator=torch.Generator().manual_seed(0))]
    batches = list(LengthGroupedBatches(lengths, batch_size=32, seed=3, window=10))
    assert len(batches) == len(LengthGroupedBatches(lengths, 32, 3)) == math.ceil(1000 / 32)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert sum(len(b) < 32 for b in batches) == 1  # only the last window leaves a short batch
    assert batches == list(LengthGroupedBatches(lengths, 32, 3, window=10))
    assert batches != list(LengthGroupedBatches(lengths, 32, 4, window=10))


def test_length_grouped_batches_pad_far_less_than_random_ones() -> None:
    lengths = [int(x) for x in torch.randint(5, 120, (3200,), generator=torch.Generator().manual_seed(0))]

    def padded(batches: list[list[int]]) -> int:
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    grouped = padded(list(LengthGroupedBatches(lengths, 32, seed=0)))
    order = torch.randperm(3200, generator=torch.Generator().manual_seed(0)).tolist()
    shuffled = padded([order[i:i + 32] for i in range(0, 3200, 32)])
    assert grouped < 0.75 * shuffled
    assert grouped < 1.1 * sum(lengths)  # within a window of 50 batches, rows of a batch are nearly equal


def test_grouped_loader_serves_every_row(glue_dir: Path, tokenizer) -> None:
    data = load_task_data("mrpc", data_dir=glue_dir, max_train_samples=100)
    train = tokenize_task_data(data, tokenizer)["train"]
    loader = make_dataloader(train, tokenizer, 16, shuffle=True, seed=1, group_by_length=True)
    batches = list(loader)
    assert len(batches) == len(loader) == 7
    rows = sorted(tuple(ids[ids != tokenizer.pad_token_id].tolist()) for b in batches for ids in b["input_ids"])
    assert rows == sorted(tuple(ids) for ids in train["input_ids"])
