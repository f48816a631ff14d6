"""The fine-tuning methods, in one registry: ``full`` (the baseline), ``did`` and ``said``.

A method wraps a loaded model and tells the training loop what to optimise and
what to do around each step; the loop is the same for all three.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from raydim.errors import RaydimError
from raydim.subspace.did import build_did
from raydim.subspace.projected import SubspaceConfig
from raydim.subspace.said import build_said
from raydim.subspace_lr import REFERENCE_D, rescale_lr


class TrainableMethod(Protocol):
    model: nn.Module

    @property
    def num_trainable(self) -> int: ...
    def trainable_parameters(self) -> list[nn.Parameter]: ...
    def after_backward(self) -> None: ...
    def trainable_state(self) -> dict[str, torch.Tensor]: ...
    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None: ...


class FullFineTune:
    """Ordinary fine-tuning of every parameter: the metric every d90 is measured against."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    @property
    def num_trainable(self) -> int:
        return sum(p.numel() for p in self.trainable_parameters())

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def after_backward(self) -> None:
        """Nothing to do: the gradients are already on the parameters."""

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Every weight: a full fine-tune's checkpoint is as large as the model."""
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    default_lr: float  # AdamW peak rate (subspace methods: at d = REFERENCE_D), from MRPC runs (docs/subspace.md)
    build: Callable[[nn.Module, SubspaceConfig | None, str], TrainableMethod]

    @property
    def uses_subspace(self) -> bool:
        return self.name != "full"

    def default_lr_at(self, d: int | None) -> float:
        """The default peak rate; a subspace method's follows lr ∝ 1/√d (:mod:`raydim.subspace_lr`)."""
        if not self.uses_subspace or d is None:
            return self.default_lr
        return rescale_lr(self.default_lr, REFERENCE_D, d)


def _full(model: nn.Module, config: SubspaceConfig | None, model_name: str) -> TrainableMethod:
    if config is not None:
        raise RaydimError("method 'full' trains every parameter: drop --d (or pick --method did/said)")
    return FullFineTune(model)


def _subspace(build: Callable[..., TrainableMethod]) -> Callable[[nn.Module, SubspaceConfig | None, str], TrainableMethod]:
    def checked(model: nn.Module, config: SubspaceConfig | None, model_name: str) -> TrainableMethod:
        if config is None:
            raise RaydimError("subspace methods need the subspace dimension: pass --d (e.g. --d 1000)")
        return build(model, config, model_name)

    return checked


METHODS: dict[str, Method] = {
    "full": Method("full", "fine-tune all D parameters (the baseline)", 1e-4, _full),
    "did": Method("did", "θ = θ₀ + P·θ_d in a random d-dimensional subspace", 0.1, _subspace(build_did)),
    "said": Method("said", "θᵢ = θ₀ᵢ + λᵢ·P(θ_{d-m})ᵢ, one learned scale per layer", 0.1, _subspace(build_said)),
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise RaydimError(f"unknown method {name!r}; known methods: {', '.join(METHODS)}")
    return METHODS[name]

