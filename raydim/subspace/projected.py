"""A model trained only through a random subspace: θ = θ₀ + λ ⊙ P·θ_d (DID: λ ≡ 1).

No autograd graph spans the projection. Each step is explicit, which keeps every
D-sized buffer preallocated and lets the optimiser see only θ_d and λ:

1. :meth:`before_forward` writes θ = θ₀ + λ_g·(P·θ_d) into the model's flat
   parameter buffer (one streaming pass per group);
2. the ordinary forward and ``loss.backward()`` accumulate ∂L/∂θ into the flat
   gradient buffer;
3. :meth:`after_backward` turns that into ∂L/∂λ_g = ⟨∂L/∂θ_g, (P·θ_d)_g⟩ and
   ∂L/∂θ_d = Pᵀ(λ ⊙ ∂L/∂θ), then zeroes the flat gradient for the next step.

The subspace is rebuilt from (seed, d, layout) anywhere, so the trial state is just
θ_d and λ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from raydim.errors import RaydimError
from raydim.subspace.fastfood import Fastfood
from raydim.subspace.layout import GROUPINGS, ParameterLayout, build_layout, flatten_parameters

NORMALIZATIONS = ("per_tensor", "global")


@dataclass(frozen=True)
class SubspaceConfig:
    """What defines a subspace, besides the model: d, the seed of P, normalisation and SAID grouping.

    ``normalization="global"`` (Li et al. 2018, the default) scales the whole of P·θ_d
    to the norm of θ_d in expectation; ``"per_tensor"`` (the authors' released code)
    scales each parameter tensor's slice to it, which lets the small new head swamp
    the gradient of a pretrained model (docs/subspace.md).
    """

    d: int
    seed: int = 0
    normalization: str = "global"
    grouping: str = "layer"

    def __post_init__(self) -> None:
        if not isinstance(self.d, int) or self.d <= 0:
            raise RaydimError(f"d must be a positive integer, got {self.d!r}")
        if self.normalization not in NORMALIZATIONS:
            raise RaydimError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {self.normalization!r}")
        if self.grouping not in GROUPINGS:
            raise RaydimError(f"grouping must be one of {', '.join(GROUPINGS)}, got {self.grouping!r}")


class SubspaceModel(nn.Module):
    """Wraps a model so only ``theta_d`` (and, for SAID, the per-group scales ``lambdas``) train."""

    def __init__(self, model: nn.Module, config: SubspaceConfig, said: bool, model_name: str = "model") -> None:
        super().__init__()
        self.model, self.config, self.said = model, config, said
        self.layout: ParameterLayout = build_layout(model, config.grouping if said else "tensor")
        m = self.layout.m if said else 0
        if config.d > self.layout.D:
            raise RaydimError(f"d must not exceed the {self.layout.D:,} parameters of {model_name}, got {config.d:,}")
        if said and config.d <= m:
            raise RaydimError(
                f"d must exceed the {m} SAID groups of {model_name} (d counts the {m} scales too), got {config.d}"
            )
        self.theta, self.grad = flatten_parameters(model, self.layout)
        self.theta0 = self.theta.clone()
        # SAID keeps P·θ_d for ∂L/∂λ; DID writes θ₀ + P·θ_d straight into θ and needs no such buffer
        self.offset = torch.zeros_like(self.theta) if said else None
        self.projection = Fastfood(seed=config.seed, d=config.d - m, D=self.layout.D,
                                   segments=[s.numel for s in self.layout.segments],
                                   normalization=config.normalization, device=self.theta.device)
        self.theta_d = nn.Parameter(torch.zeros(config.d - m, device=self.theta.device))
        self.lambdas = nn.Parameter(torch.ones(m, device=self.theta.device)) if said else None
        self._ranges = self.layout.group_ranges()

    @property
    def num_trainable(self) -> int:
        """Equals d: the subspace coordinates plus, for SAID, the m scales."""
        return sum(p.numel() for p in self.trainable_parameters())

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [self.theta_d] if self.lambdas is None else [self.theta_d, self.lambdas]

    @torch.no_grad()
    def before_forward(self) -> None:
        """θ ← θ₀ + λ ⊙ P·θ_d, written into the parameters the model reads."""
        if self.offset is None:
            self.projection.forward_into(self.theta_d.detach(), self.theta, base=self.theta0)
            return
        self.projection.forward_into(self.theta_d.detach(), self.offset)
        scales = self.lambdas.detach().tolist()
        for group, start, stop in self._ranges:
            torch.add(self.theta0[start:stop], self.offset[start:stop], alpha=scales[group], out=self.theta[start:stop])

    @torch.no_grad()
    def after_backward(self) -> None:
        """Pull ∂L/∂θ back to ∂L/∂θ_d and ∂L/∂λ, then clear ∂L/∂θ for the next step."""
        if self.lambdas is not None and self.offset is not None:
            grad_lambdas = torch.zeros_like(self.lambdas)
            scales = self.lambdas.detach().tolist()
            for group, start, stop in self._ranges:
                g = self.grad[start:stop]
                grad_lambdas[group] += torch.dot(g, self.offset[start:stop])
                g.mul_(scales[group])
            self.lambdas.grad = grad_lambdas
        if self.theta_d.grad is None:
            self.theta_d.grad = torch.zeros_like(self.theta_d)
        self.projection.transpose_into(self.grad, self.theta_d.grad)
        self.grad.zero_()

    def forward(self, **batch: torch.Tensor):  # type: ignore[override]
        return self.model(**batch)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """The whole trained state: tiny, since P is rebuilt from the seed."""
        state = {"theta_d": self.theta_d.detach().clone()}
        if self.lambdas is not None:
            state["lambdas"] = self.lambdas.detach().clone()
        return state

    @torch.no_grad()
    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        self.theta_d.copy_(state["theta_d"])
        if self.lambdas is not None:
            self.lambdas.copy_(state["lambdas"])
        self.before_forward()
