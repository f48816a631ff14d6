"""Every registered method through the same checks, on a tiny random-init model: a new method is tested by
adding its registry line. What a method must honour: step 0 is the model it wraps, gradients reach what it
trains (and only that), it reports what it trains, and the same settings reproduce the same run."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import torch

from raydim.methods import METHODS, get_method
from raydim.methods.base import TrainableMethod
from tests.tiny import tiny_model

BATCH = {"input_ids": torch.tensor([[5, 17, 33, 2], [7, 7, 91, 3]]), "labels": torch.tensor([1, 0])}
D_SUBSPACE = 40  # above SAID's 5 layer groups of the tiny model, far below its ~3,000 parameters


def _build(name: str, seed: int = 0) -> TrainableMethod:
    """The method wrapped around a fresh tiny model (always drawn from seed 0), in eval mode: no dropout, so two
    runs differ only by what the method draws from ``seed``."""
    method = get_method(name)
    config = None if method.config is None else method.config(d=D_SUBSPACE, seed=seed)
    wrapped = method.build(tiny_model(), config, "tiny")
    wrapped.model.eval()
    return wrapped


def _step(wrapped: TrainableMethod) -> None:
    """One AdamW step, the way the training loop takes it."""
    optimizer = torch.optim.AdamW(wrapped.trainable_parameters(), lr=1e-2)
    wrapped.model(**BATCH).loss.backward()
    wrapped.after_backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


@pytest.mark.parametrize("name", list(METHODS))
def test_registry_name_is_the_methods_own(name: str) -> None:
    """Result rows store this name: the registry key and the method's name must not drift apart."""
    assert get_method(name).name == name


@pytest.mark.parametrize("name", list(METHODS))
def test_step0_equals_the_wrapped_model(name: str) -> None:
    with torch.no_grad():
        assert torch.equal(_build(name).model(**BATCH).logits, tiny_model().eval()(**BATCH).logits)


@pytest.mark.parametrize("name", list(METHODS))
def test_gradients_reach_every_trainable_parameter(name: str) -> None:
    wrapped = _build(name)
    wrapped.model(**BATCH).loss.backward()
    wrapped.after_backward()
    grads = [p.grad for p in wrapped.trainable_parameters()]
    assert grads and all(g is not None and g.isfinite().all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0
    if get_method(name).uses_subspace:  # the model's own weights θ₀ are never trained
        assert all(p.grad is None for p in wrapped.model.parameters())


@pytest.mark.parametrize("name", list(METHODS))
def test_reports_the_number_it_trains(name: str) -> None:
    """d counts everything a subspace method trains (SAID's scales too); the full fine-tune trains all D."""
    wrapped = _build(name)
    expected = D_SUBSPACE if get_method(name).uses_subspace else sum(p.numel() for p in tiny_model().parameters())
    assert wrapped.num_trainable == sum(p.numel() for p in wrapped.trainable_parameters()) == expected


@pytest.mark.parametrize("name", list(METHODS))
def test_same_settings_reproduce_the_same_step(name: str) -> None:
    a, b = _build(name), _build(name)
    _step(a)
    _step(b)
    state_a, state_b = a.trainable_state(), b.trainable_state()
    assert state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)


@pytest.mark.parametrize("name", [n for n in METHODS if get_method(n).uses_subspace])
def test_another_seed_draws_another_subspace(name: str) -> None:
    a, b = _build(name, seed=0), _build(name, seed=1)
    _step(a)
    _step(b)
    with torch.no_grad():
        assert not torch.equal(a.model(**BATCH).logits, b.model(**BATCH).logits)


@pytest.mark.parametrize("name", list(METHODS))
def test_saved_state_restores_the_trained_model(name: str) -> None:
    trained, fresh = _build(name), _build(name)
    _step(trained)
    fresh.load_trainable_state(trained.trainable_state())
    with torch.no_grad():
        assert torch.equal(fresh.model(**BATCH).logits, trained.model(**BATCH).logits)


@pytest.mark.parametrize("name", [n for n in METHODS if get_method(n).config is not None])
def test_config_is_frozen_and_names_a_bad_field(name: str) -> None:
    config = get_method(name).config
    assert dataclasses.is_dataclass(config) and config.__dataclass_params__.frozen
    with pytest.raises(ValueError, match=r"\bd must be a positive integer, got 0"):
        config(d=0)


def test_the_registry_loads_no_method_code() -> None:
    """The CLI lists the names for ``--method`` without torch: only get_method imports a method's module.
    (Measured against ``import raydim``, which the package's own imports make heavier or lighter.)"""
    code = ("import json, sys, raydim; before = set(sys.modules); import raydim.methods; "
            "print(json.dumps(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert set(json.loads(out)) <= {"raydim.methods", "raydim.registry"}
