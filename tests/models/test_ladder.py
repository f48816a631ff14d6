"""A local ladder: a folder of checkpoint folders, each chosen by name like a hub revision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raydim.errors import RaydimError
from raydim.models import load_model, load_tokenizer, parse_model_ref
from tests.decoders import SENTENCES, bpe_tokenizer, write_decoder


@pytest.fixture(scope="module")
def ladder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three checkpoints of one tiny GPT-2, named as a pre-training run saves them (out of order on disk)."""
    root = tmp_path_factory.mktemp("ladder")
    tokenizer = bpe_tokenizer(SENTENCES * 20)
    for seed, name in enumerate(["step200", "step20", "step1000"]):
        write_decoder(root / name, "gpt2", tokenizer, seed=seed)
    (root / "logs").mkdir()  # not a checkpoint: no config.json
    return root


def test_checkpoints_are_chosen_by_name_like_revisions(ladder: Path) -> None:
    ref = parse_model_ref(f"{ladder}@step200")
    assert (ref.name, ref.source, ref.checkpoint, str(ref)) == (
        str(ladder), str((ladder / "step200").resolve()), "step200", f"{ladder}@step200")
    assert ref.ladder.names == ["step20", "step200", "step1000"]  # in pre-training order
    assert ref.with_checkpoint("step1000").source == str((ladder / "step1000").resolve())
    model = load_model(ref, num_labels=2, pad_token_id=load_tokenizer(ref).pad_token_id)
    saved = json.loads((ladder / "step200" / "config.json").read_text())
    assert model.config.n_embd == saved["n_embd"]


def test_random_init_takes_the_first_checkpoints_architecture(ladder: Path) -> None:
    ref = parse_model_ref(f"{ladder}@random-init")
    assert ref.random_init and ref.checkpoint == "random-init" and ref.source == str((ladder / "step20").resolve())
    assert load_tokenizer(ref).eos_token == "<|endoftext|>"


def test_a_ladder_needs_a_checkpoint_named(ladder: Path) -> None:
    with pytest.raises(RaydimError, match=r"is a ladder of checkpoints \(step20, step200, step1000\); name the ones "
                                          r"to use, e.g. --checkpoint step20"):
        parse_model_ref(str(ladder))
    with pytest.raises(RaydimError, match="has no checkpoint 'step300'; it has step20, step200, step1000"):
        parse_model_ref(f"{ladder}@step300")


def test_an_empty_ladder_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "step100").mkdir()  # a folder, but no config.json in it
    with pytest.raises(RaydimError, match="has no config.json, nor checkpoint folders with one"):
        parse_model_ref(str(tmp_path))


def test_a_ladder_of_mixed_architectures_is_refused(tmp_path: Path) -> None:
    tokenizer = bpe_tokenizer(SENTENCES * 20)
    write_decoder(tmp_path / "step10", "gpt2", tokenizer)
    write_decoder(tmp_path / "step20", "llama", tokenizer)
    with pytest.raises(RaydimError, match="mixes architectures: step10 has .*, step20 has .*; keep the checkpoints "
                                          "of one model"):
        parse_model_ref(f"{tmp_path}@step10")
