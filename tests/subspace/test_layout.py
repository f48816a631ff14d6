"""Parameter layout: SAID groups and the flat θ / gradient buffers."""

from __future__ import annotations

import pytest
import torch
import transformers

from raydim.errors import RaydimError
from raydim.subspace.layout import build_layout, flatten_parameters, layer_group
from tests.decoders import decoder_config
from tests.tiny import tiny_model


def test_layer_groups_are_embeddings_blocks_pooler_head() -> None:
    layout = build_layout(tiny_model())
    assert layout.groups == ("bert.embeddings", "bert.encoder.layer.0", "bert.encoder.layer.1", "bert.pooler",
                             "classifier")
    assert layout.D == sum(p.numel() for p in tiny_model().parameters())
    assert [g for g, _, _ in layout.group_ranges()] == [0, 1, 2, 3, 4]  # contiguous runs


def test_mpnet_groups_are_embeddings_blocks_relative_bias_head() -> None:
    """MPNet (all-mpnet-base-v2's family) has no pooler; its relative-position bias, shared by every block,
    lives on the encoder and gets its own scale, and the head (dense + out_proj) one more."""
    config = transformers.MPNetConfig(vocab_size=64, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=16, max_position_embeddings=40)
    layout = build_layout(transformers.MPNetForSequenceClassification(config))
    assert layout.groups == ("mpnet.embeddings", "mpnet.encoder.layer.0", "mpnet.encoder.layer.1", "mpnet.encoder",
                             "classifier")
    assert [s.name for s in layout.segments if layout.groups[s.group] == "mpnet.encoder"] == [
        "mpnet.encoder.relative_attention_bias.weight"]
    assert [g for g, _, _ in layout.group_ranges()] == [0, 1, 2, 3, 4]


def test_layer_group_names() -> None:
    assert layer_group("bert.encoder.layer.3.attention.self.query.weight", "bert") == "bert.encoder.layer.3"
    assert layer_group("roberta.embeddings.LayerNorm.bias", "roberta") == "roberta.embeddings"
    assert layer_group("classifier.out_proj.weight", "roberta") == "classifier"
    assert layer_group("model.layers.10.mlp.up_proj.weight", "model") == "model.layers.10"


def test_tensor_grouping_has_one_group_per_tensor() -> None:
    model = tiny_model()
    layout = build_layout(model, "tensor")
    assert layout.m == len(list(model.parameters()))
    with pytest.raises(RaydimError, match="grouping must be one of layer, tensor"):
        build_layout(model, "block")


def test_frozen_parameters_are_left_out() -> None:
    model = tiny_model()
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    layout = build_layout(model)
    assert "bert.embeddings.word_embeddings.weight" not in {s.name for s in layout.segments}


def test_flat_buffer_is_the_parameters() -> None:
    model = tiny_model()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    layout = build_layout(model)
    theta = flatten_parameters(model, layout)
    for s in layout.segments:
        assert torch.equal(theta[s.start:s.stop], before[s.name].reshape(-1))
    theta.add_(1.0)
    assert torch.equal(model.classifier.bias, before["classifier.bias"] + 1.0)
    model(input_ids=torch.tensor([[1, 2, 3]]), labels=torch.tensor([1])).loss.backward()
    assert model.classifier.bias.grad.abs().sum() > 0  # gradients stay ordinary, per parameter


@pytest.mark.parametrize("family, base, block, norm", [
    ("gpt2", "transformer", "transformer.h", "transformer.ln_f"),  # wte and wpe: one group
    ("gpt-neox", "gpt_neox", "gpt_neox.layers", "gpt_neox.final_layer_norm"),
    ("llama", "model", "model.layers", "model.norm"),
    ("qwen2", "model", "model.layers", "model.norm"),
    ("gemma", "model", "model.layers", "model.norm"),
])
def test_decoder_groups_are_embeddings_blocks_final_norm_head(family: str, base: str, block: str, norm: str) -> None:
    config = decoder_config(family, vocab_size=50, eos_id=0)
    config.pad_token_id, config.num_labels = 0, 2
    layout = build_layout(transformers.AutoModelForSequenceClassification.from_config(config))
    assert layout.groups == (f"{base}.embeddings", f"{block}.0", f"{block}.1", norm, "score")
    assert [g for g, _, _ in layout.group_ranges()] == [0, 1, 2, 3, 4]
