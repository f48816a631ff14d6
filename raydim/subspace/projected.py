"""A model trained only through a random subspace: θ = θ₀ + λ ⊙ P·θ_d (DID: λ ≡ 1).

θ itself is never stored. The model keeps θ₀ as its own parameters, never written, and
:class:`~raydim.subspace.lending.WeightLender` lends each layer its slice of θ only while that
layer runs (recomputing the slices ops keep for backward), so besides the model and its
activations a subspace fine-tune holds one layer's θ, P's stored diagonals and a gradient window:
no second copy of the weights and no optimiser state over D, hence less memory than a full
fine-tune. What this module adds:

1. θ's rows: θ_u = θ₀_u + λ_g·(P·θ_d)_u for a layer's rows in one kernel call, λ folded into P's
   per-tensor row scales, with λ fixed when the model's forward starts (its backward uses the same);
2. the pull-back: a layer's ∂L/∂θ_u arrives whole. Its tensors, last first, are staged in a window
   of ``_STAGING_ROWS`` rows of one group g; when the next tensor falls outside the window (or in
   another group), the window is pulled back in one kernel call, z = P_wᵀ·∂L/∂θ_w:
   ∂L/∂θ_d += λ_g·z and ∂L/∂λ_g += ⟨∂L/∂θ_w, (P·θ_d)_w⟩ = ⟨z, θ_d⟩. Tensors larger than the
   window (word embeddings lent whole) are pulled back on their own: ~10 kernel calls per step, which
   matters on a busy machine, where each call waits for its threads to be scheduled;
3. :meth:`after_backward` pulls back the last window and hands the two sums to the optimiser;
4. the word embeddings, lent only the rows a batch's ids select (`WeightLender`), get those rows
   computed a chunk of rows at a time (:meth:`rows_at`) and their gradient pulled back through the
   staging window the same way (:meth:`_pull_back_rows`).

The subspace is rebuilt from (seed, d, layout) anywhere, so the trial state is just θ_d and λ.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from raydim.errors import RaydimError
from raydim.subspace.fastfood import Fastfood
from raydim.subspace.lending import WeightLender
from raydim.subspace.layout import GROUPINGS, ParameterLayout, flatten_parameters

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
            raise RaydimError(f"d must be a positive integer, got {self.d!r}: the subspace dimension, e.g. d=1000")
        if self.normalization not in NORMALIZATIONS:
            raise RaydimError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {self.normalization!r}")
        if self.grouping not in GROUPINGS:
            raise RaydimError(f"grouping must be one of {', '.join(GROUPINGS)}, got {self.grouping!r}")


class SubspaceModel(nn.Module):
    """Wraps a model so only ``theta_d`` (and, when ``scaled``, the per-group scales ``lambdas``) train.

    ``layout`` says which parameters P spans and how they group; ``scaled`` learns one λ per
    group, counted in d (SAID: :mod:`raydim.methods.said`), else λ ≡ 1 (DID). The methods
    choose both; this class is the engine they share.
    """

    def __init__(self, model: nn.Module, config: SubspaceConfig, layout: ParameterLayout, scaled: bool,
                 model_name: str = "model") -> None:
        super().__init__()
        self.model, self.config, self.layout = model, config, layout
        segments = self.layout.segments
        m = self.layout.m if scaled else 0
        if config.d > self.layout.D:
            raise RaydimError(f"d must not exceed the {self.layout.D:,} parameters of {model_name}, got {config.d:,}")
        if config.d <= m:
            raise RaydimError(f"d must exceed the {m} learned scales of {model_name}, got {config.d}")
        self.theta0 = flatten_parameters(model, self.layout)  # the model's own weights, only ever read
        # θ_d, λ and every buffer θ's rows pass through take the model's dtype: a float64 model trains in float64
        device, dtype = self.theta0.device, self.theta0.dtype
        self.projection = Fastfood(seed=config.seed, d=config.d - m, D=self.layout.D,
                                   segments=[s.numel for s in segments],
                                   normalization=config.normalization, device=device)
        self.theta_d = nn.Parameter(torch.zeros(config.d - m, dtype=dtype, device=device))
        self.lambdas = nn.Parameter(torch.ones(m, dtype=dtype, device=device)) if scaled else None
        # λ as the running forward (and its backward) use it: per segment for the kernel, per group for the pull-back
        self._segment_group = torch.tensor([s.group for s in segments], device=device)
        self._weights = torch.ones(len(segments), dtype=dtype, device=device)
        self._scales: list[float] = [1.0] * max(m, 1)
        # the pulled-back gradients, summed in float64 over the tensors as backward produces them
        self._grad_d = torch.zeros(config.d - m, dtype=torch.float64, device=device)
        self._grad_lambdas = torch.zeros(m, dtype=torch.float64, device=device)
        self._pulled = torch.empty(config.d - m, dtype=dtype, device=device)  # z, reused per pull-back
        self._staging = torch.zeros(min(_STAGING_ROWS, self.layout.D), dtype=dtype, device=device)
        self._window: tuple[int, int] | None = None  # (group, first row) of the staging window, None if empty
        self._staged = (self.layout.D, 0)  # rows [lo, hi) of θ holding staged gradients
        self._group_start = {}  # first row of each group's run of segments (SAID: a group is contiguous)
        for group, start, _ in self.layout.group_ranges():
            self._group_start.setdefault(group, start)
        self.lender = WeightLender(model, self.layout, self.rows, self._pull_back, self.theta_d, self._take_lambdas,
                                   model_name, rows_at=self.rows_at, pull_back_rows=self._pull_back_rows)

    @property
    def num_trainable(self) -> int:
        """Equals d: the subspace coordinates plus, for SAID, the m scales."""
        return sum(p.numel() for p in self.trainable_parameters())

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [self.theta_d] if self.lambdas is None else [self.theta_d, self.lambdas]

    @torch.no_grad()
    def rows(self, first: int, last: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """θ = θ₀ + λ ⊙ P·θ_d over segments [first, last), into `out` (default: a fresh tensor)."""
        start, stop = self.layout.segments[first].start, self.layout.segments[last - 1].stop
        if out is None:
            out = torch.empty(stop - start, dtype=self.theta0.dtype, device=self.theta0.device)
        return self.projection.forward_into(self.theta_d.detach(), out, base=self.theta0[start:stop],
                                            weights=self._weights, start=start)

    @torch.no_grad()
    def rows_at(self, i: int, ids: torch.Tensor, out: torch.Tensor, scratch: torch.Tensor) -> None:
        """Rows `ids` (sorted, distinct) of segment i's (rows, width) matrix of θ into `out` (k, width),
        each chunk of ≤ len(scratch) floats from the next id on computed in `scratch` and gathered."""
        segment, width = self.layout.segments[i], out.shape[1]
        for lo, hi, first, last in _row_chunks(ids.tolist(), scratch.numel() // width):
            a, b = segment.start + first * width, segment.start + last * width
            theta = self.projection.forward_into(self.theta_d.detach(), scratch[: b - a], base=self.theta0[a:b],
                                                 weights=self._weights, start=a)
            out[lo:hi] = theta.view(-1, width)[ids[lo:hi] - first]

    def materialize(self) -> torch.Tensor:
        """All of θ as one D-vector, to inspect or export the model (training never holds it)."""
        self._take_lambdas()
        return self.rows(0, len(self.layout.segments))

    @torch.no_grad()
    def _take_lambdas(self) -> None:
        """λ as the optimiser left it, per segment for the kernel and per group for the pull-back."""
        if self.lambdas is not None:
            self._scales = self.lambdas.detach().tolist()
            self._weights = self.lambdas.detach()[self._segment_group].clone()  # (S,)

    # backward: stage each tensor's gradient, pull windows back through Pᵀ
    @torch.no_grad()
    def _pull_back(self, i: int, grad: torch.Tensor) -> None:
        """Stage ∂L/∂θ of segment i (one tensor) in the window, or pull it back on its own if larger."""
        segment = self.layout.segments[i]
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

    @torch.no_grad()
    def _pull_back_rows(self, i: int, ids: torch.Tensor, grad: torch.Tensor) -> None:
        """Pull back ∂L/∂θ of rows `ids` (sorted, distinct) of segment i's matrix, grad (k, width): a
        chunk of rows at a time, scattered into the staging window (all zeros once flushed; it holds
        at least one row, hidden sizes being far below _STAGING_ROWS) and cleared after."""
        segment, width = self.layout.segments[i], grad.shape[1]
        group = segment.group if self.lambdas is not None else 0
        self._flush()
        for lo, hi, first, last in _row_chunks(ids.tolist(), self._staging.numel() // width):
            chunk, at = self._staging[: (last - first) * width].view(-1, width), ids[lo:hi] - first
            chunk.index_copy_(0, at, grad[lo:hi])
            start = segment.start + first * width
            self._accumulate(group, self.projection.transpose_into(chunk.view(-1), self._pulled, start=start))
            chunk.index_fill_(0, at, 0.0)

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
        # a copy even when θ_d is float64 like the sums, which are zeroed next
        self.theta_d.grad = self._grad_d.to(self.theta_d.dtype, copy=True)
        self._grad_d.zero_()
        if self.lambdas is not None:
            self.lambdas.grad = self._grad_lambdas.to(self.lambdas.dtype, copy=True)
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


def _row_chunks(ids: list[int], per: int) -> Iterator[tuple[int, int, int, int]]:
    """(lo, hi, first, last) covering sorted `ids`: ids[lo:hi] lie in rows [first, last), last − first ≤ per,
    each chunk starting at its first id, so rows no id selects before it are skipped."""
    lo = 0
    while lo < len(ids):
        hi = bisect.bisect_left(ids, ids[lo] + per, lo)
        yield lo, hi, ids[lo], ids[hi - 1] + 1
        lo = hi
