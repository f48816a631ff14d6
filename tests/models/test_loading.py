"""Loading models offline: the packaged MiniLM, random-init variants, local folders; their position limits."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import huggingface_hub
import pytest
import torch
import transformers
from transformers import BertConfig, BertForSequenceClassification

from raydim.data.tokenize import make_dataloader
from raydim.errors import RaydimError
from raydim.models import count_parameters, load_config, load_model, load_tokenizer, parse_model_ref
from tests.cli import assert_one_line_error
from tests.decoders import FAMILIES, SENTENCES, bpe_tokenizer, write_decoder
from tests.models.test_checkpoints import fake_cached_repo

MINILM_PARAMETERS = 22_713_216  # all-MiniLM-L6-v2 without a head


@pytest.fixture(scope="module")
def minilm():
    ref = parse_model_ref("minilm-l6")
    return load_model(ref, num_labels=2, seed=0), load_tokenizer(ref)


def test_minilm_loads_offline_and_runs_a_forward_pass(minilm) -> None:
    model, tokenizer = minilm
    batch = tokenizer(["A man plays a flute."], ["Someone plays music."], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, 2) and torch.isfinite(logits).all()
    assert sum(p.numel() for p in model.parameters()) == MINILM_PARAMETERS + 384 * 2 + 2


def test_only_the_head_is_new(minilm) -> None:
    from safetensors.torch import load_file

    model, _ = minilm
    stored = load_file(str(Path(parse_model_ref("minilm-l6").source) / "model.safetensors"))
    own = model.state_dict()
    assert torch.equal(own["bert.encoder.layer.3.attention.self.query.weight"],
                       stored["encoder.layer.3.attention.self.query.weight"])
    assert torch.equal(own["bert.pooler.dense.weight"], stored["pooler.dense.weight"])


def test_same_seed_same_head_other_seed_other_head(minilm) -> None:
    model, _ = minilm
    again = load_model(parse_model_ref("minilm-l6"), num_labels=2, seed=0)
    other = load_model(parse_model_ref("minilm-l6"), num_labels=2, seed=1)
    assert torch.equal(model.classifier.weight, again.classifier.weight)
    assert not torch.equal(model.classifier.weight, other.classifier.weight)


def test_random_init_differs_from_pretrained(minilm) -> None:
    model, _ = minilm
    fresh = load_model(parse_model_ref("minilm-l6@random-init"), num_labels=2, seed=0)
    name = "bert.encoder.layer.0.attention.self.query.weight"
    pretrained, random = model.state_dict()[name], fresh.state_dict()[name]
    assert pretrained.shape == random.shape
    assert not torch.allclose(pretrained, random)
    assert random.std().item() == pytest.approx(0.02, rel=0.1)  # BERT's initializer_range


def test_regression_head_has_one_output() -> None:
    model = load_model(parse_model_ref("minilm-l6@random-init"), num_labels=1)
    assert model.config.problem_type == "regression" and model.classifier.out_features == 1


def test_parameter_counts_without_network() -> None:
    assert count_parameters(parse_model_ref("minilm-l6")) == MINILM_PARAMETERS + 770
    assert count_parameters(parse_model_ref("roberta-large")) == 355_361_794  # from the shipped config
    assert count_parameters(parse_model_ref("bert-base@random-init"), num_labels=3) == 109_484_547
    # the study's sizes, from the shipped configs; studies/models.json records the same from the real folders
    assert count_parameters(parse_model_ref("minilm-l3")) == 17_390_594
    assert count_parameters(parse_model_ref("mpnet-base")) == 109_488_002
    # decoders: published totals less the LM head (GPT-2 ties it; Pythia's embed_out), plus a 2-label score head
    assert count_parameters(parse_model_ref("gpt2")) == 124_439_808 + 2 * 768
    assert count_parameters(parse_model_ref("pythia-160m")) == 162_322_944 - 50_304 * 768 + 2 * 768


def test_local_directory_model(tmp_path: Path, minilm) -> None:
    _, tokenizer = minilm
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    ref = parse_model_ref(str(tmp_path))
    model = load_model(ref, num_labels=3)
    assert model.classifier.out_features == 3 and model.config.hidden_size == 32
    assert load_tokenizer(ref).vocab_size == tokenizer.vocab_size


def test_unreachable_hub_model_says_how_to_work_offline() -> None:
    with pytest.raises(RaydimError, match=r"cannot load the config of model 'FacebookAI/roberta-base'.*--model DIR"):
        load_model(parse_model_ref("roberta-base"))
    with pytest.raises(RaydimError, match=r"tokenizer of model 'FacebookAI/roberta-large'"):
        load_tokenizer(parse_model_ref("roberta-large@random-init"))


@pytest.fixture(scope="module")
def bpe() -> transformers.PreTrainedTokenizerFast:
    return bpe_tokenizer(SENTENCES * 20)


@pytest.mark.parametrize("family", FAMILIES)
def test_decoders_score_each_padded_row_at_its_last_real_token(family: str, bpe, tmp_path: Path) -> None:
    """A decoder shipped without a pad token pads with EOS, on the right, and its head reads each row where
    the row ends: a padded batch scores every row exactly as that row alone."""
    ref = parse_model_ref(str(write_decoder(tmp_path, family, bpe)))
    tokenizer = load_tokenizer(ref)
    assert (tokenizer.pad_token, tokenizer.padding_side) == ("<|endoftext|>", "right")
    model = load_model(ref, num_labels=3, pad_token_id=tokenizer.pad_token_id).eval()
    assert model.config.pad_token_id == tokenizer.eos_token_id
    rows = tokenizer(["it was fine", "a bad film , really awful and the plot was sad"], ["a happy ending", "good"])
    rows = datasets.Dataset.from_dict({**rows, "labels": [0, 1]})
    batch = next(iter(make_dataloader(rows, tokenizer, batch_size=2)))
    assert batch["input_ids"][0, -1] == tokenizer.pad_token_id and batch["attention_mask"][0, -1] == 0
    with torch.no_grad():
        padded = model(**batch).logits
        alone = [model(input_ids=torch.tensor([ids])).logits[0] for ids in rows["input_ids"]]
    torch.testing.assert_close(padded, torch.stack(alone), rtol=1e-4, atol=1e-5)


def test_the_models_pad_id_follows_the_tokenizers(bpe, tmp_path: Path) -> None:
    """A config naming some other pad id (as some Llama configs do) would make the head read a pad: the id
    the tokenizer pads with wins; without a tokenizer, a config lacking a pad id takes its EOS."""
    folder = write_decoder(tmp_path, "llama", bpe)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "pad_token_id": 5}))
    ref = parse_model_ref(str(folder))
    assert load_model(ref, pad_token_id=load_tokenizer(ref).pad_token_id).config.pad_token_id == bpe.eos_token_id
    (folder / "config.json").write_text(json.dumps(config))
    assert load_model(ref).config.pad_token_id == bpe.eos_token_id


def test_tied_decoder_embeddings_are_loaded_and_trained_once(bpe, tmp_path: Path) -> None:
    """A causal LM whose output layer is its input embeddings, loaded as a classifier: the embeddings come from
    the checkpoint, counted once, and the LM head is gone."""
    folder = write_decoder(tmp_path, "gpt2", bpe, tie=True)
    lm = transformers.AutoModelForCausalLM.from_pretrained(folder)
    model = load_model(parse_model_ref(str(folder)))
    assert torch.equal(model.transformer.wte.weight, lm.transformer.wte.weight)
    names = [name for name, _ in model.named_parameters()]
    assert names.count("transformer.wte.weight") == 1 and not [n for n in names if "lm_head" in n]
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in lm.parameters()) + 2 * 16


def test_a_tokenizer_with_nothing_to_pad_with_is_a_clear_error(tmp_path: Path) -> None:
    folder = write_decoder(tmp_path, "gpt2", bpe_tokenizer(SENTENCES * 20))
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    for name in ("eos_token", "bos_token", "unk_token", "pad_token"):
        settings.pop(name, None)
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    with pytest.raises(RaydimError, match="has neither a pad token nor an EOS token to pad with; add one"):
        load_tokenizer(parse_model_ref(str(folder)))


def test_a_config_naming_no_pad_or_eos_is_a_clear_error(tmp_path: Path) -> None:
    transformers.GPT2Config(vocab_size=64, n_embd=8, n_layer=1, n_head=2, eos_token_id=None,
                            bos_token_id=None).save_pretrained(tmp_path)
    with pytest.raises(RaydimError, match="names no pad token .*set pad_token_id in its config.json"):
        load_model(parse_model_ref(f"{tmp_path}@random-init"))


def test_a_model_type_without_a_classification_head_is_a_clear_error(tmp_path: Path) -> None:
    transformers.MarianConfig(vocab_size=64, d_model=8).save_pretrained(tmp_path)
    with pytest.raises(RaydimError, match="is a 'marian' model, for which transformers has no sequence classification "
                                          "head"):
        count_parameters(parse_model_ref(str(tmp_path)))


def test_a_revision_that_does_not_exist_names_the_ones_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    config = transformers.GPT2Config(vocab_size=64, n_embd=8, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0)
    fake_cached_repo(tmp_path, "org/ladder", ["step1000", "step2000", "main"], config.to_json_string())
    assert load_config(parse_model_ref("org/ladder@step1000")).n_embd == 8
    with pytest.raises(RaydimError, match=r"revision 'step3000' of model 'org/ladder' is not in the local cache, "
                                          r"which holds step1000, step2000, main; pick one"):
        load_config(parse_model_ref("org/ladder@step3000"))


def test_a_checkpoint_without_tokenizer_files_is_a_clear_error(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint saved with its config but no tokenizer files: transformers 5 builds a tokenizer with no
    vocabulary from the config alone (GPT-2's: one token), or raises ValueError (an empty config)."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    config = transformers.GPT2Config(vocab_size=64, n_embd=8, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0)
    fake_cached_repo(tmp_path, "org/ladder", ["step1000"], config.to_json_string())
    with pytest.raises(RaydimError, match=r"tokenizer of model org/ladder@step1000 has no vocabulary: its folder or "
                                          r"revision lacks the tokenizer files"):
        load_tokenizer(parse_model_ref("org/ladder@step1000"))
    fake_cached_repo(tmp_path, "org/empty", ["step1000"])
    with pytest.raises(RaydimError, match=r"cannot load the tokenizer of model 'org/empty@step1000'"):
        load_tokenizer(parse_model_ref("org/empty@step1000"))


def test_position_limits_follow_the_architecture() -> None:
    from transformers import DebertaV2Config, T5Config

    from raydim.models import load_config
    from raydim.models.loading import max_positions

    assert max_positions(load_config(parse_model_ref("minilm-l6"))) == 512
    assert max_positions(load_config(parse_model_ref("roberta-large@random-init"))) == 512  # 514, less pad + 1
    assert max_positions(T5Config()) is None  # relative attention: no fixed limit
    assert max_positions(DebertaV2Config(position_biased_input=False)) is None


@pytest.mark.parametrize("argv", [
    ["train", "--method", "full", "--max-length", "2048"],
    ["search", "--max-length", "2048"],
    ["search", "--model", "roberta-large", "--max-length", "513"],
])
def test_a_max_length_beyond_the_models_positions_is_refused_up_front(argv, glue_dir, tmp_path, capsys, no_ray,
                                                                       monkeypatch) -> None:
    import raydim.data.tokenize

    def tokenize(*args, **kwargs):
        raise AssertionError("rows were tokenised: the length was not checked first")

    monkeypatch.setattr(raydim.data.tokenize, "_tokenize", tokenize)
    model = "roberta-large" if "roberta-large" in argv else "minilm-l6"
    limit_hit = argv[argv.index("--max-length") + 1]
    storage = ["--storage", str(tmp_path)] if argv[0] == "search" else []
    assert_one_line_error(capsys, [*argv, *storage, "--data-dir", str(glue_dir)],
                          f"max length {limit_hit} exceeds the 512 positions of model '{model}'; lower --max-length "
                          "(train.max_length in a search space) to 512 or less")
