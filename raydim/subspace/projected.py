"""A model trained only through a random subspace: θ = θ₀ + λ ⊙ P·θ_d (DID: λ ≡ 1).

θ itself is never stored. The model keeps θ₀ as its own parameters, never written, and each
layer's slice of θ exists only while that layer runs, so besides the model and its activations a
subspace fine-tune holds one layer's θ, P's stored diagonals and a gradient window: no second copy
of the weights and no optimiser state over D, hence less memory than a full fine-tune.

1. Forward: when a layer's module starts (a *unit*: the module of one SAID layer group, e.g.
   ``bert.encoder.layer.3``, owning its parameters), a pre-hook computes θ_u = θ₀_u + λ_g·(P·θ_d)_u
   for its rows in one kernel call, into an arena reused every step, and lends views of it to the
   layer's modules in place of their parameters; a post-hook takes them back.
2. Ops that keep a weight for backward (a Linear keeps W to form ∂L/∂x) would keep every θ_u
   alive until backward: all of θ at the activation peak. A saved-tensor hook keeps a token
   instead, and backward recomputes that tensor's rows (the same kernel: bit-identical).
3. Backward: a unit's ∂L/∂θ_u arrives whole. Its tensors, last first, are staged in a window of
   ``_STAGING_ROWS`` rows of one group g; when the next tensor falls outside the window (or in
   another group), the window is pulled back in one kernel call, z = P_wᵀ·∂L/∂θ_w:
   ∂L/∂θ_d += λ_g·z and ∂L/∂λ_g += ⟨∂L/∂θ_w, (P·θ_d)_w⟩ = ⟨z, θ_d⟩. Tensors larger than the
   window (the word embeddings) are pulled back on their own: ~10 kernel calls per step, which
   matters on a busy machine, where each call waits for its threads to be scheduled.
4. :meth:`after_backward` pulls back the last window and hands the two sums to the optimiser.

During the model's forward, a parameter outside its unit's forward reads as NaN (a zero-stride
tensor, no memory): a model that reads another layer's weights directly fails at its first forward
with a clear error instead of silently training on θ₀ there. The subspace is rebuilt from
(seed, d, layout) anywhere, so the trial state is just θ_d and λ.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import nn

from raydim.errors import RaydimError
from raydim.subspace.fastfood import Fastfood
from raydim.subspace.layout import (GROUPINGS, ParameterLayout, Segment, build_layout, flatten_parameters,
                                    layer_group)

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


@dataclass
class _Unit:
    """A module that gets its slice of θ for the length of its forward."""

    module: nn.Module
    slots: list[tuple[nn.Module, str, int]] = field(default_factory=list)  # (module, parameter name, segment)
    runs: list[tuple[int, int]] = field(default_factory=list)  # its rows of θ as ascending [first, last) segments
    name: str = ""
    depth: int = 0  # arena rows below this unit's runs (the units it runs inside of)
    top: list[int] = field(default_factory=list)  # the arena's top before each running forward (a stack)


@dataclass(frozen=True)
class _Saved:
    """What an op keeps, for backward, of a lent weight: the segment, and how the op viewed its rows."""

    segment: int
    size: torch.Size
    stride: tuple[int, ...]
    offset: int  # storage offset from the segment's first row


class _Lent(torch.autograd.Function):
    """One lent parameter, its slice of θ in the arena; its gradient is staged for the pull-back."""

    @staticmethod
    def forward(ctx, theta_d: torch.Tensor, wrapper: "SubspaceModel", segment: int, view: torch.Tensor):
        ctx.wrapper, ctx.segment = wrapper, segment
        return view

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        wrapper = ctx.wrapper
        wrapper._pull_back(wrapper.layout.segments[ctx.segment], grad.reshape(-1))
        return None, None, None, None  # θ_d's gradient is summed by the wrapper, handed over in after_backward


class SubspaceModel(nn.Module):
    """Wraps a model so only ``theta_d`` (and, for SAID, the per-group scales ``lambdas``) train."""

    def __init__(self, model: nn.Module, config: SubspaceConfig, said: bool, model_name: str = "model") -> None:
        super().__init__()
        self.model, self.config, self.said, self.model_name = model, config, said, model_name
        self.layout: ParameterLayout = build_layout(model, config.grouping if said else "tensor")
        segments = self.layout.segments
        m = self.layout.m if said else 0
        if config.d > self.layout.D:
            raise RaydimError(f"d must not exceed the {self.layout.D:,} parameters of {model_name}, got {config.d:,}")
        if said and config.d <= m:
            raise RaydimError(
                f"d must exceed the {m} SAID groups of {model_name} (d counts the {m} scales too), got {config.d}"
            )
        self.theta0 = flatten_parameters(model, self.layout)  # the model's own weights, only ever read
        device = self.theta0.device
        self.projection = Fastfood(seed=config.seed, d=config.d - m, D=self.layout.D,
                                   segments=[s.numel for s in segments],
                                   normalization=config.normalization, device=device)
        self.theta_d = nn.Parameter(torch.zeros(config.d - m, device=device))
        self.lambdas = nn.Parameter(torch.ones(m, device=device)) if said else None
        # λ as the running forward (and its backward) use it: per segment for the kernel, per group for the pull-back
        self._segment_group = torch.tensor([s.group for s in segments], device=device)
        self._weights = torch.ones(len(segments), device=device)
        self._scales: list[float] = [1.0] * max(m, 1)
        # the pulled-back gradients, summed in float64 over the tensors as backward produces them
        self._grad_d = torch.zeros(config.d - m, dtype=torch.float64, device=device)
        self._grad_lambdas = torch.zeros(m, dtype=torch.float64, device=device)
        self._pulled = torch.empty(config.d - m, device=device)  # z, reused per pull-back
        self._staging = torch.zeros(min(_STAGING_ROWS, self.layout.D), device=device)
        self._window: tuple[int, int] | None = None  # (group, first row) of the staging window, None if empty
        self._staged = (self.layout.D, 0)  # rows [lo, hi) of θ holding staged gradients
        self._group_start = {}  # first row of each group's run of segments (SAID: a group is contiguous)
        for group, start, _ in self.layout.group_ranges():
            self._group_start.setdefault(group, start)
        # lending: the real parameters, what stands in for them outside their unit, the units
        params = dict(model.named_parameters())
        self._params = [params[s.name].requires_grad_(False) for s in segments]  # θ₀ is frozen
        nan = torch.full((), float("nan"), dtype=self.theta0.dtype, device=device)
        self._poison = [nan.expand(p.shape) for p in self._params]
        self._starts = [s.start for s in segments]
        self._units = self._build_units()
        # θ_u lives in one arena, used as a stack since units nest (an encoder unit around its layers):
        # the same rows every step, where a fresh θ_u per layer would fault pages in and fragment the heap
        self._home = [0] * len(segments)  # arena row where backward recomputes segment i
        self._arena = torch.empty(self._place_units(), dtype=self.theta0.dtype, device=device)
        self._top = 0  # first free arena row
        self._lent_runs: list[tuple[int, int]] = []  # (arena row, first segment) of each run lent right now
        self._in_forward = False
        self._checked: set[bool] = set()  # training modes whose first forward was checked for NaN reads
        self._saved_hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        model.register_forward_pre_hook(self._enter_model, prepend=True)
        for unit in self._units:
            unit.module.register_forward_pre_hook(partial(self._lend, unit))
            unit.module.register_forward_hook(partial(self._take_back, unit), always_call=True)
        model.register_forward_hook(self._exit_model, always_call=True)

    def _build_units(self) -> list[_Unit]:
        """Every registration of a trained parameter (tied ones included), grouped by its layer's module."""
        index = {id(p): i for i, p in enumerate(self._params)}
        base_prefix = getattr(self.model, "base_model_prefix", "")
        modules = dict(self.model.named_modules())
        units: dict[str, _Unit] = {}
        for module_name, module in modules.items():
            for name, param in module._parameters.items():
                if id(param) not in index:
                    continue
                owner = layer_group(f"{module_name}.{name}" if module_name else name, base_prefix)
                if owner not in modules or not (module_name == owner or module_name.startswith(f"{owner}.")):
                    owner = module_name  # a parameter outside any layer: its own module is the unit
                units.setdefault(owner, _Unit(modules[owner], name=owner)).slots.append(
                    (module, name, index[id(param)]))
        for unit in units.values():
            for i in sorted({i for _, _, i in unit.slots}):
                if unit.runs and unit.runs[-1][1] == i:
                    unit.runs[-1] = (unit.runs[-1][0], i + 1)
                else:
                    unit.runs.append((i, i + 1))
        return list(units.values())

    def _place_units(self) -> int:
        """Give each unit its arena rows, after those of the units it runs inside of; returns the arena size.

        Backward recomputes a kept weight where its forward had it, so the weights one op keeps
        (a layer's weight, and an encoder-wide tensor it was applied to) never share rows.
        """
        def rows(unit: _Unit) -> int:
            return sum(self.layout.segments[last - 1].stop - self.layout.segments[first].start
                       for first, last in unit.runs)

        def inside(outer: _Unit, inner: _Unit) -> bool:
            return outer is not inner and (outer.name == "" or inner.name.startswith(f"{outer.name}."))

        size = 0
        for unit in self._units:
            unit.depth = row = sum(rows(outer) for outer in self._units if inside(outer, unit))
            for first, last in unit.runs:
                for i in range(first, last):
                    self._home[i] = row + self.layout.segments[i].start - self.layout.segments[first].start
                row += self.layout.segments[last - 1].stop - self.layout.segments[first].start
            size = max(size, row)
        return size

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

    # forward: the parameters read NaN, except a unit's while it runs; backward: recompute what ops kept
    def _enter_model(self, model: nn.Module, args) -> None:
        """Take λ for this forward and its backward; poison every parameter."""
        self._take_lambdas()
        for unit in self._units:
            self._set(unit, self._poison)
        self._in_forward = True
        self._saved_hooks.__enter__()

    def _exit_model(self, model: nn.Module, args, output) -> None:
        """Give every parameter back; check the first forward (per mode) read nothing poisoned."""
        self._saved_hooks.__exit__(None, None, None)
        self._in_forward = False
        for unit in self._units:
            self._set(unit, self._params)
        if model.training not in self._checked:
            self._checked.add(model.training)
            logits = getattr(output, "logits", None)
            if isinstance(logits, torch.Tensor) and not bool(torch.isfinite(logits).all()):
                raise RaydimError(
                    f"{self.model_name} gave non-finite outputs at its first subspace forward: its weights hold "
                    "NaN/inf, or it reads a parameter outside the layer module that owns it, which subspace "
                    "training cannot supply; fine-tune it with --method full")

    def _lend(self, unit: _Unit, module: nn.Module, args) -> None:
        """Pre-hook of a unit's module: compute θ_u into the arena and lend its views as the parameters."""
        if not self._in_forward:  # e.g. activation checkpointing re-running a layer inside backward
            raise RaydimError(f"{unit.name or 'the model'} ran outside the model's forward; subspace training computes "
                              "each layer's weights only within it (activation checkpointing is not supported)")
        unit.top.append(self._top)
        self._top = max(self._top, unit.depth)
        parts: dict[int, torch.Tensor] = {}
        for first, last in unit.runs:
            start, stop = self.layout.segments[first].start, self.layout.segments[last - 1].stop
            theta_u = self.rows(first, last, out=self._arena[self._top : self._top + stop - start])
            self._lent_runs.append((self._top, first))
            self._top += stop - start
            for i in range(first, last):
                rows = theta_u[self.layout.segments[i].start - start : self.layout.segments[i].stop - start]
                parts[i] = _Lent.apply(self.theta_d, self, i, rows.view(self._params[i].shape))
        for module, name, i in unit.slots:
            module._parameters[name] = parts[i]

    def _take_back(self, unit: _Unit, module: nn.Module, args, output) -> None:
        """Post-hook of a unit's module: the parameters read NaN again, the arena rows are free."""
        if not unit.top:  # the pre-hook refused this call
            return
        self._set(unit, self._poison)
        self._top = unit.top.pop()
        while self._lent_runs and self._lent_runs[-1][0] >= self._top:
            self._lent_runs.pop()

    @staticmethod
    def _set(unit: _Unit, tensors: list[torch.Tensor]) -> None:
        for module, name, i in unit.slots:
            module._parameters[name] = tensors[i]

    def _pack(self, t: torch.Tensor):
        """Saved-tensor hook: a token instead of a lent weight (a view of the arena), else t itself."""
        if not self._lent_runs or t.layout != torch.strided or t.device != self._arena.device:
            return t
        if t.untyped_storage().data_ptr() != self._arena.untyped_storage().data_ptr():
            return t
        offset = t.storage_offset()
        top, first = max((run for run in self._lent_runs if run[0] <= offset), key=lambda run: run[0])
        row = self.layout.segments[first].start + offset - top
        i = bisect.bisect_right(self._starts, row) - 1
        return _Saved(i, t.size(), t.stride(), row - self.layout.segments[i].start)

    def _unpack(self, saved):
        """Recompute a kept weight's rows into the arena (idle during backward) where its forward had them."""
        if not isinstance(saved, _Saved):
            return saved
        home, numel = self._home[saved.segment], self.layout.segments[saved.segment].numel
        self.rows(saved.segment, saved.segment + 1, out=self._arena[home : home + numel])
        return self._arena.as_strided(saved.size, saved.stride, home + saved.offset)

    # backward: stage each tensor's gradient, pull windows back through Pᵀ
    def _pull_back(self, segment: Segment, grad: torch.Tensor) -> None:
        """Stage one tensor's ∂L/∂θ_k in the window (or pull it back on its own if larger)."""
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
