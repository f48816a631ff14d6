"""DID and SAID wrappers: step 0 is the pretrained model, d is exact, gradients are the chain rule."""

from __future__ import annotations

from typing import NamedTuple

import pytest
import torch
import transformers
from torch import nn
from torch.func import functional_call

from raydim.errors import RaydimError
from raydim.methods import METHODS, get_method
from raydim.subspace import lending, projected
from raydim.subspace.projected import SubspaceConfig, SubspaceModel
from tests.tiny import tiny_model

BATCH = {"input_ids": torch.tensor([[5, 17, 33, 2], [7, 7, 91, 0]]), "labels": torch.tensor([1, 0])}


def _wrap(method: str, d: int = 40, **options) -> SubspaceModel:
    return get_method(method).build(tiny_model(), SubspaceConfig(d=d, **options), "tiny")


@pytest.mark.parametrize("method", ["did", "said"])
def test_step0_equals_pretrained(method: str) -> None:
    reference = tiny_model().eval()
    wrapped = _wrap(method)
    wrapped.model.eval()
    with torch.no_grad():
        assert torch.equal(wrapped(**BATCH).logits, reference(**BATCH).logits)


@pytest.mark.parametrize("method, d", [("did", 40), ("said", 40), ("said", 6)])
def test_trainable_parameter_count_equals_d(method: str, d: int) -> None:
    assert _wrap(method, d).num_trainable == d


def test_bad_d_is_a_clear_error() -> None:
    with pytest.raises(RaydimError, match="d must exceed the 5 SAID groups of tiny"):
        _wrap("said", 5)
    with pytest.raises(RaydimError, match="d must be a positive integer, got 0"):
        SubspaceConfig(d=0)
    with pytest.raises(RaydimError, match="d must be a positive integer, got -3"):
        SubspaceConfig(d=-3)
    D = sum(p.numel() for p in tiny_model().parameters())
    with pytest.raises(RaydimError, match=f"d must not exceed the {D:,} parameters of tiny"):
        _wrap("did", D + 1)
    with pytest.raises(RaydimError, match="normalization must be one of"):
        SubspaceConfig(d=10, normalization="l2")


def _explicit_projection(wrapped: SubspaceModel) -> torch.Tensor:
    """P as a dense D×(d−m) matrix, column by column."""
    n = wrapped.theta_d.numel()
    columns = []
    for i in range(n):
        out = torch.empty(wrapped.layout.D)
        wrapped.projection.forward_into(torch.eye(n)[i], out)
        columns.append(out)
    return torch.stack(columns, dim=1)


def _check_gradients(wrapped: SubspaceModel, reference: nn.Module, kwargs: dict, spoil_arena: bool = False) -> None:
    """raydim's ∂L/∂θ_d and ∂L/∂λ equal autograd's through θ = θ₀ + λ ⊙ (P·θ_d) with P explicit, on
    `reference` (a fresh copy of the wrapped model). `spoil_arena` fills the lent weights with NaN
    between forward and backward: backward must recompute what it needs instead of reading them."""
    torch.manual_seed(1)
    with torch.no_grad():
        wrapped.theta_d.normal_()
        if wrapped.lambdas is not None:
            wrapped.lambdas.uniform_(0.5, 1.5)
    P = _explicit_projection(wrapped)
    theta_d = wrapped.theta_d.detach().clone().requires_grad_()
    lambdas = (wrapped.lambdas if wrapped.lambdas is not None else torch.ones(1)).detach().clone().requires_grad_()
    group_of = torch.tensor([s.group if wrapped.lambdas is not None else 0
                             for s in wrapped.layout.segments for _ in range(s.numel)])
    theta = wrapped.theta0.clone() + lambdas[group_of] * (P @ theta_d)
    shapes = {name: p.shape for name, p in reference.named_parameters()}
    params = {s.name: theta[s.start:s.stop].view(shapes[s.name]) for s in wrapped.layout.segments}
    functional_call(reference, params, args=(), kwargs=kwargs).loss.backward()
    assert torch.allclose(wrapped.materialize(), theta.detach(), atol=1e-6)
    loss = wrapped(**kwargs).loss
    if spoil_arena:
        wrapped.lender.arena.fill_(float("nan"))
    loss.backward()
    wrapped.after_backward()
    # float32 sums of many terms on both sides (the torch path's FWHT included): agree to ~1e-4
    assert torch.allclose(wrapped.theta_d.grad, theta_d.grad, rtol=3e-4, atol=1e-5)
    if wrapped.lambdas is not None:
        assert torch.allclose(wrapped.lambdas.grad, lambdas.grad, rtol=3e-4, atol=1e-5)


@pytest.mark.parametrize("method", ["did", "said"])
@pytest.mark.parametrize("normalization", ["per_tensor", "global"])
@pytest.mark.parametrize("backend", ["auto", "torch"])
@pytest.mark.parametrize("staging_rows", [1 << 21, 40])
def test_gradients_match_autograd_through_explicit_p(
    method: str, normalization: str, backend: str, staging_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """λ folded into P's row scales and ∂L/∂λ_g = Σ_w ⟨P_wᵀ·∂L/∂θ_w, θ_d⟩, pulled back window by
    window during backward, equal θ = θ₀ + λ ⊙ (P·θ_d) differentiated by autograd (numba and torch
    paths; one window for the whole tiny model, or windows of 40 rows that tensors overflow)."""
    monkeypatch.setattr(projected, "_STAGING_ROWS", staging_rows)
    wrapped = _wrap(method, d=24, normalization=normalization)
    wrapped.projection.backend = backend
    wrapped.model.eval()  # no dropout: both passes must see the same function
    _check_gradients(wrapped, tiny_model().eval(), BATCH, spoil_arena=True)
    assert all(p.grad is None for p in wrapped.model.parameters())  # nothing accumulates over D


def test_training_never_writes_the_model_weights() -> None:
    """θ₀ stays the model's own parameters; θ exists only layer by layer inside the forward."""
    wrapped, pretrained = _wrap("said", d=24), tiny_model()
    optimizer = torch.optim.AdamW(wrapped.trainable_parameters(), lr=0.1)
    for _ in range(2):
        wrapped(**BATCH).loss.backward()
        wrapped.after_backward()
        optimizer.step()
        optimizer.zero_grad()
    for (name, p), (_, p0) in zip(wrapped.model.named_parameters(), pretrained.named_parameters()):
        assert isinstance(p, nn.Parameter) and not p.requires_grad and torch.equal(p, p0), name
    assert not torch.equal(wrapped.materialize(), wrapped.theta0)  # θ did move
    # only one layer's rows are ever lent at a time: the arena is the largest unit, not D
    assert wrapped.lender.arena.numel() < wrapped.layout.D / 2


class _Output(NamedTuple):
    logits: torch.Tensor
    loss: torch.Tensor


class _Encoder(nn.Module):
    """Layers plus an encoder-wide weight its forward reads directly, like DeBERTa's relative positions."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
        self.shared = nn.Parameter(torch.randn(4, 4) / 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.tanh(layer(x) + nn.functional.linear(x, self.shared))
        return x


class _Toy(nn.Module):
    """An encoder, then a head tied to the encoder's first layer (one Parameter, two modules)."""

    def __init__(self, reads_across: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.encoder = _Encoder()
        self.head = nn.Linear(4, 4)
        self.head.weight = self.encoder.layers[0].weight
        self.reads_across = reads_across

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> _Output:
        h = self.encoder(x)
        # reads_across: a layer's weight used outside that layer's forward
        logits = h @ self.encoder.layers[1].weight if self.reads_across else self.head(h)
        return _Output(logits, nn.functional.cross_entropy(logits, labels))


TOY_BATCH = {"x": torch.randn(3, 4, generator=torch.Generator().manual_seed(2)), "labels": torch.tensor([0, 3, 1])}


@pytest.mark.parametrize("method", ["did", "said"])
def test_tied_and_nested_weights_are_lent_where_they_are_read(method: str) -> None:
    """A weight tied across modules is lent to each; an encoder-wide weight stays lent through the layers
    nested in it, and backward recomputes both without mixing up their rows."""
    wrapped = get_method(method).build(_Toy(), SubspaceConfig(d=12), "toy")
    assert "head.weight" not in [s.name for s in wrapped.layout.segments]  # one parameter, trained once
    _check_gradients(wrapped, _Toy(), TOY_BATCH, spoil_arena=True)


def _tiny_architectures():
    """(name, model class, config) for small members of the families people fine-tune."""
    common = dict(vocab_size=64, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
                  max_position_embeddings=40, num_labels=3, pad_token_id=0)
    seq2seq = dict(vocab_size=64, num_labels=3, pad_token_id=0)
    return [
        ("roberta", transformers.RobertaForSequenceClassification, transformers.RobertaConfig(**common)),
        ("distilbert", transformers.DistilBertForSequenceClassification, transformers.DistilBertConfig(
            vocab_size=64, dim=8, n_layers=2, n_heads=2, hidden_dim=16, max_position_embeddings=40, num_labels=3,
            pad_token_id=0)),
        ("albert", transformers.AlbertForSequenceClassification, transformers.AlbertConfig(  # one layer, run twice
            embedding_size=8, **common)),
        ("deberta-v2", transformers.DebertaV2ForSequenceClassification, transformers.DebertaV2Config(  # encoder-wide
            relative_attention=True, position_buckets=8, pos_att_type=["p2c", "c2p"], **common)),  # rel. positions
        ("mpnet", transformers.MPNetForSequenceClassification,  # encoder-wide relative-position bias (an
         transformers.MPNetConfig(**common)),  # nn.Embedding read before the layers run; its 32 buckets are fixed)
        ("gpt2", transformers.GPT2ForSequenceClassification, transformers.GPT2Config(
            vocab_size=64, n_embd=8, n_layer=2, n_head=2, n_positions=40, num_labels=3, pad_token_id=0,
            bos_token_id=1, eos_token_id=1)),
        ("llama", transformers.LlamaForSequenceClassification,
         transformers.LlamaConfig(num_key_value_heads=2, **common)),
        ("gpt-neox", transformers.GPTNeoXForSequenceClassification,  # Pythia
         transformers.GPTNeoXConfig(rotary_pct=0.5, use_parallel_residual=True, **common)),
        ("qwen2", transformers.Qwen2ForSequenceClassification,  # grouped-query attention, biased q/k/v
         transformers.Qwen2Config(num_key_value_heads=1, **common)),
        ("gemma", transformers.GemmaForSequenceClassification,  # embeddings scaled by √hidden, (1 + w) norms
         transformers.GemmaConfig(num_key_value_heads=1, head_dim=4, **common)),
        ("bart", transformers.BartForSequenceClassification, transformers.BartConfig(  # embeddings tied across
            d_model=8, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
            encoder_ffn_dim=16, decoder_ffn_dim=16, max_position_embeddings=40, **seq2seq)),  # encoder and decoder
        ("t5", transformers.T5ForSequenceClassification, transformers.T5Config(
            d_model=8, d_kv=4, d_ff=16, num_layers=1, num_heads=2, decoder_start_token_id=0, **seq2seq)),
    ]


@pytest.mark.parametrize("backend", ["auto", "torch"])
@pytest.mark.parametrize("name, model_class, config", _tiny_architectures(), ids=[a[0] for a in _tiny_architectures()])
def test_lending_matches_autograd_across_architectures(name: str, model_class, config, backend: str) -> None:
    """Each layer lent its weights reproduces the whole model's gradients, whatever the family's layout, on
    the numba path and on the torch path GPUs take (whose in-place writes into the arena once broke the lent
    views of outer units: DeBERTa, BART, T5). The word embeddings are lent row by row except BART's and Gemma's,
    whose embedding modules override nn.Embedding's forward (to scale its output), so are lent whole."""
    eos = config.eos_token_id if isinstance(config.eos_token_id, int) else 2
    batch = {"input_ids": torch.tensor([[5, 17, 33, 9, eos], [7, 7, 41, 3, eos]]), "labels": torch.tensor([1, 2])}
    torch.manual_seed(0)
    model = model_class(config).eval()
    torch.manual_seed(0)
    reference = model_class(config).eval()
    wrapped = get_method("said").build(model, SubspaceConfig(d=40), name)
    wrapped.projection.backend = backend
    assert bool(wrapped.lender._row_lent) == (name not in ("bart", "gemma"))
    _check_gradients(wrapped, reference, batch, spoil_arena=True)


@pytest.mark.parametrize("ids", [[[5, 17, 40, 2], [7, 40, 91, 40]], [[5, 17, 33, 2], [7, 7, 91, 50]]],
                         ids=["with-padding", "without-padding"])
@pytest.mark.parametrize("staging_rows", [1 << 21, 40])
def test_word_embeddings_are_lent_only_the_rows_a_batch_reads(
    ids: list[list[int]], staging_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the distinct ids' rows are computed; the embedding reads them renumbered, with padding_idx
    renumbered too (40, not the smallest id; absent from the second batch), and gives both back after;
    the gradients are the chain rule's (one staging window, or windows of 40 floats, 5 rows each). The
    arena keeps two rows' room above the embeddings' layer, as a real model's layers leave thousands."""
    monkeypatch.setattr(projected, "_STAGING_ROWS", staging_rows)
    monkeypatch.setattr(lending, "_MIN_ROW_SCRATCH", 16)
    model, reference = tiny_model(), tiny_model()
    for m in (model, reference):
        m.config.pad_token_id = m.bert.embeddings.word_embeddings.padding_idx = 40
    wrapped = get_method("said").build(model, SubspaceConfig(d=24), "tiny")
    embedding = wrapped.model.bert.embeddings.word_embeddings
    assert wrapped.lender.arena.numel() < embedding.weight.numel()  # room for one layer, not the vocabulary
    asked = []
    rows_at = wrapped.lender._rows_at
    wrapped.lender._rows_at = lambda i, rows, out, scratch: (asked.append(rows.tolist()), rows_at(i, rows, out, scratch))
    wrapped.model.eval()
    batch = {"input_ids": torch.tensor(ids), "labels": torch.tensor([1, 0])}
    _check_gradients(wrapped, reference.eval(), batch, spoil_arena=True)
    assert asked == [sorted({i for row in ids for i in row})]
    assert embedding.padding_idx == 40 and isinstance(embedding.weight, nn.Parameter)
    with pytest.raises(RaydimError, match="bert.embeddings.word_embeddings ran outside the model's forward"):
        embedding(batch["input_ids"])


def test_row_chunks_cover_the_ids_within_the_chunk_size() -> None:
    ids = [0, 3, 4, 9, 10, 11, 30]
    chunks = list(projected._row_chunks(ids, 5))
    assert chunks == [(0, 3, 0, 5), (3, 6, 9, 12), (6, 7, 30, 31)]
    assert list(projected._row_chunks([], 5)) == []


def test_a_weight_read_outside_its_layer_is_a_clear_error() -> None:
    wrapped = get_method("said").build(_Toy(reads_across=True), SubspaceConfig(d=12), "toy")
    with pytest.raises(RaydimError, match="toy gave non-finite outputs at its first subspace forward.*--method full"):
        wrapped(**TOY_BATCH)
    assert isinstance(wrapped.model.encoder.layers[1].weight, nn.Parameter)  # given back after the error
    with pytest.raises(RaydimError, match="encoder.layers.0 ran outside the model's forward"):
        wrapped.model.encoder.layers[0](TOY_BATCH["x"])  # e.g. activation checkpointing


def test_lent_weights_work_under_bf16_autocast() -> None:
    """The GPU path's bf16 autocast casts the lent weights; the pulled-back gradient stays close to float32's."""
    grads = []
    for autocast in (False, True):
        wrapped = _wrap("said", d=24)
        wrapped.model.eval()
        with torch.no_grad():
            wrapped.theta_d.fill_(0.05)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = wrapped(**BATCH).loss
        loss.backward()
        wrapped.after_backward()
        grads.append(wrapped.theta_d.grad)
    assert grads[1].isfinite().all()
    assert torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0) > 0.99


@pytest.mark.parametrize("method", ["did", "said"])
def test_a_float64_model_trains_in_float64_and_passes_a_finite_difference_gradient_check(method: str) -> None:
    """The README's float64 path: a random-init model built from a config, cast to float64, runs forward and
    backward with θ_d and λ in float64, and ∂L/∂θ_d, ∂L/∂λ equal central differences of the loss to ~1e-7
    (float32 could not tell a wrong gradient from rounding at this precision). The batch holds no padding
    id: nn.Embedding leaves the padding row out of the gradient by design, so L's true derivative differs."""
    batch = {"input_ids": torch.tensor([[5, 17, 33, 2], [7, 7, 91, 3]]), "labels": torch.tensor([1, 0])}
    wrapped = get_method(method).build(tiny_model().double(), SubspaceConfig(d=12), "tiny")
    wrapped.model.eval()  # no dropout: every evaluation of L must be the same function
    params = wrapped.trainable_parameters()
    assert all(p.dtype == torch.float64 for p in params)
    torch.manual_seed(1)
    with torch.no_grad():
        wrapped.theta_d.normal_(std=0.5)
        if wrapped.lambdas is not None:
            wrapped.lambdas.uniform_(0.5, 1.5)
    loss = wrapped(**batch).loss
    assert loss.dtype == torch.float64
    loss.backward()
    wrapped.after_backward()
    analytic = torch.cat([p.grad for p in params])
    numeric, eps = [], 1e-6
    with torch.no_grad():
        for p in params:
            for i in range(p.numel()):
                p[i] += eps
                up = wrapped(**batch).loss.item()
                p[i] -= 2 * eps
                down = wrapped(**batch).loss.item()
                p[i] += eps
                numeric.append((up - down) / (2 * eps))
    assert analytic.abs().max() > 1e-3  # a gradient worth checking
    torch.testing.assert_close(analytic, torch.tensor(numeric, dtype=torch.float64), rtol=1e-6, atol=1e-8)


def test_two_backward_passes_sum_their_gradients() -> None:
    """Gradient accumulation: two backward passes before the step pull back the sum."""
    once, twice = _wrap("said", d=24), _wrap("said", d=24)
    for wrapped, passes in ((once, 1), (twice, 2)):
        wrapped.model.eval()
        with torch.no_grad():
            wrapped.theta_d.fill_(0.1)
        for _ in range(passes):
            wrapped(**BATCH).loss.backward()
        wrapped.after_backward()
    torch.testing.assert_close(twice.theta_d.grad, 2 * once.theta_d.grad)
    torch.testing.assert_close(twice.lambdas.grad, 2 * once.lambdas.grad)


def test_state_is_tiny_and_restores_the_model() -> None:
    wrapped = _wrap("said", d=30)
    with torch.no_grad():
        wrapped.theta_d.normal_()
        wrapped.lambdas.fill_(0.7)
    state = wrapped.trainable_state()
    assert sum(t.numel() for t in state.values()) == 30
    fresh = _wrap("said", d=30)
    fresh.load_trainable_state(state)
    assert torch.equal(fresh.materialize(), wrapped.materialize())


def test_projection_seed_changes_the_subspace() -> None:
    a, b = _wrap("did", seed=0), _wrap("did", seed=1)
    assert not torch.equal(_explicit_projection(a), _explicit_projection(b))


def test_full_is_registered_with_the_subspace_methods() -> None:
    assert list(METHODS) == ["full", "did", "said"]
    with pytest.raises(RaydimError, match="unknown method 'lora'; known methods: full, did, said"):
        get_method("lora")
    with pytest.raises(RaydimError, match="drop --d"):
        get_method("full").build(tiny_model(), SubspaceConfig(d=10), "tiny")
    with pytest.raises(RaydimError, match="pass --d"):
        get_method("said").build(tiny_model(), None, "tiny")
