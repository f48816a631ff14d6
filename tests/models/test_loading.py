"""Loading models offline: the packaged MiniLM, random-init variants, local folders; their position limits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from raydim.errors import RaydimError
from raydim.models import count_parameters, load_model, load_tokenizer, parse_model_ref
from tests.cli import assert_one_line_error

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
