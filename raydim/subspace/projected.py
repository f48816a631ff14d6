"""A model trained only through a random subspace: θ = θ₀ + λ ⊙ P·θ_d (DID: λ ≡ 1).

No autograd graph spans the projection. Each step is explicit, which keeps every
D-sized buffer preallocated and lets the optimiser see only θ_d and λ:

1. :meth:`before_forward` writes θ = θ₀ + λ_g·(P·θ_d)_g into the model's flat
   parameter buffer in one pass, λ folded into P's per-tensor row scales;
2. the ordinary forward and ``loss.backward()``; as backward finishes each
   parameter tensor θ_k, a hook copies its gradient into a staging window of
   ``_STAGING_ROWS`` rows of θ and frees it. Backward walks the layout backwards,
   so a window fills up with neighbouring tensors of one group g; when the next
   tensor falls outside it (or in another group), the window is pulled back in one
   kernel call, z = P_wᵀ·∂L/∂θ_w (P_w: the window's rows of P):
   ∂L/∂θ_d += λ_g·z and ∂L/∂λ_g += ⟨∂L/∂θ_w, (P·θ_d)_w⟩ = ⟨z, θ_d⟩. Tensors larger
   than the window (the word embeddings) are pulled back on their own. Batching
   matters: ~10 kernel calls per step instead of one per tensor (105 for MiniLM),
   each of which, on a busy machine, waits for its threads to be scheduled;
3. :meth:`after_backward` pulls back the last window and hands the two sums to
   the optimiser.

So besides θ the wrapper holds only θ₀, P's stored diagonals and the window: no
D-sized gradient (at most one tensor's lives at a time), no P·θ_d, and no
optimiser state over D, which is what lets it fit in less memory than a full
fine-tune.
The subspace is rebuilt from (seed, d, layout) anywhere, so the trial state is just
θ_d and λ.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from raydim.errors import RaydimError
from raydim.subspace.fastfood import Fastfood
from raydim.subspace.layout import GROUPINGS, ParameterLayout, Segment, build_layout, flatten_parameters

NORMALIZATIONS = ("per_tensor", "global")
_STAGING_ROWS = 1 << 21  # the gradient window: 8 MiB, more than one MiniLM/BERT-base block's tensors


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
        self.theta = flatten_parameters(model, self.layout)
        self.theta0 = self.theta.clone()
        self.projection = Fastfood(seed=config.seed, d=config.d - m, D=self.layout.D,
                                   segments=[s.numel for s in self.layout.segments],
                                   normalization=config.normalization, device=self.theta.device)
        self.theta_d = nn.Parameter(torch.zeros(config.d - m, device=self.theta.device))
        self.lambdas = nn.Parameter(torch.ones(m, device=self.theta.device)) if said else None
        # one λ per Fastfood segment (parameter tensor): its group's scale
        self._segment_group = torch.tensor([s.group for s in self.layout.segments], device=self.theta.device)
        self._scales: list[float] = [1.0] * max(m, 1)  # λ as used by the last forward, for the hooks
        # the pulled-back gradients, summed in float64 over the tensors as backward produces them
        self._grad_d = torch.zeros(config.d - m, dtype=torch.float64, device=self.theta.device)
        self._grad_lambdas = torch.zeros(m, dtype=torch.float64, device=self.theta.device)
        self._pulled = torch.empty(config.d - m, device=self.theta.device)  # z, reused per pull-back
        self._staging = torch.zeros(min(_STAGING_ROWS, self.layout.D), device=self.theta.device)
        self._window: tuple[int, int] | None = None  # (group, first row) of the staging window, None if empty
        self._staged = (self.layout.D, 0)  # rows [lo, hi) of θ holding staged gradients
        self._group_start = {}  # first row of each group's run of segments (SAID: a group is contiguous)
        for group, start, _ in self.layout.group_ranges():
            self._group_start.setdefault(group, start)
        params = dict(model.named_parameters())
        for segment in self.layout.segments:
            params[segment.name].register_post_accumulate_grad_hook(partial(self._pull_back, segment))

    @property
    def num_trainable(self) -> int:
        """Equals d: the subspace coordinates plus, for SAID, the m scales."""
        return sum(p.numel() for p in self.trainable_parameters())

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [self.theta_d] if self.lambdas is None else [self.theta_d, self.lambdas]

    @torch.no_grad()
    def before_forward(self) -> None:
        """θ ← θ₀ + λ ⊙ P·θ_d, written into the parameters the model reads."""
        if self.lambdas is None:
            self.projection.forward_into(self.theta_d.detach(), self.theta, base=self.theta0)
            return
        self._scales = self.lambdas.detach().tolist()
        weights = self.lambdas.detach()[self._segment_group]  # (S,)
        self.projection.forward_into(self.theta_d.detach(), self.theta, base=self.theta0, weights=weights)

    @torch.no_grad()
    def _pull_back(self, segment: Segment, param: nn.Parameter) -> None:
        """Backward hook, once ∂L/∂θ_k of one tensor is complete: stage it (or pull it back), then free it."""
        grad = param.grad.reshape(-1)
        param.grad = None
        group = segment.group if self.lambdas is not None else 0  # DID: one λ ≡ 1, any tensors may share a window
        rows = self._staging.numel()
        if segment.numel > rows:
            self._accumulate(group, self.projection.transpose_into(grad, self._pulled, start=segment.start))
            return
        if self._window is None or self._window[0] != group or not (
                self._window[1] <= segment.start and segment.stop <= self._window[1] + rows):
            self._flush()
            first = self._group_start[segment.group] if self.lambdas is not None else 0
            self._window = (group, max(first, segment.stop - rows))  # ends at this tensor: the rest arrive below it
        lo = self._window[1]
        self._staging[segment.start - lo : segment.stop - lo] += grad  # += : backward may run twice per step
        self._staged = (min(self._staged[0], segment.start), max(self._staged[1], segment.stop))

    def _flush(self) -> None:
        """Pull back the staged rows of the window in one kernel call and clear the window."""
        if self._window is None:
            return
        (group, lo), (start, stop) = self._window, self._staged
        staged = self._staging[start - lo : stop - lo]
        self._accumulate(group, self.projection.transpose_into(staged, self._pulled, start=start))
        staged.zero_()
        self._window, self._staged = None, (self.layout.D, 0)

    def _accumulate(self, group: int, z: torch.Tensor) -> None:
        """∂L/∂θ_d += λ_g·z and ∂L/∂λ_g += ⟨z, θ_d⟩ for z = P_wᵀ·∂L/∂θ_w over rows w of group g."""
        if self.lambdas is None:
            self._grad_d += z
            return
        self._grad_d.add_(z, alpha=self._scales[group])
        self._grad_lambdas[group] += torch.dot(z.double(), self.theta_d.detach().double())

    @torch.no_grad()
    def after_backward(self) -> None:
        """Hand ∂L/∂θ_d and ∂L/∂λ, summed during backward, to the optimiser; reset the sums."""
        self._flush()
        self.theta_d.grad = self._grad_d.to(self.theta_d.dtype)
        self._grad_d.zero_()
        if self.lambdas is not None:
            self.lambdas.grad = self._grad_lambdas.to(self.lambdas.dtype)
            self._grad_lambdas.zero_()

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
