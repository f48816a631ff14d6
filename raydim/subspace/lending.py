"""Running a model on weights lent layer by layer, so that the whole of them never exists at once.

A subspace fine-tune computes with θ = θ₀ + λ ⊙ P·θ_d, but keeping θ beside the model's θ₀ would
hold the weights twice. :class:`WeightLender` keeps the model's own parameters (θ₀) untouched and,
during the model's forward, lends each *unit* its weights only while that unit runs:

1. A unit is the module of one layer (``layer_group``: ``bert.encoder.layer.3``,
   ``bert.embeddings``, ``classifier``; a parameter outside any layer makes its own module a
   unit), with every registration of the parameters under it, tied ones included. When its
   forward starts, a pre-hook asks ``rows`` for its rows of θ, written into an arena reused every
   step, and puts views of them in place of the parameters; a post-hook takes them back.
2. Ops that keep a weight for backward (a Linear keeps W to form ∂L/∂x) would keep every lent
   tensor alive until backward: all of θ at the activation peak. A saved-tensor hook keeps a
   token instead, and backward asks ``rows`` again for just that tensor's rows, written where its
   forward had them, so that weights one op keeps from two nested units never share rows.
3. Each lent tensor is the output of a small autograd function whose backward hands its gradient
   to ``pull_back``: no gradient accumulates on the model's parameters.
4. The word embeddings, when only `nn.Embedding`'s own forward reads them, are lent row by row: a
   pre-hook of the embedding module computes just the rows its input ids select (a few thousand of
   a vocabulary of tens of thousands) into a small compact matrix, which the module reads with the
   ids renumbered; their gradient is pulled back row by row (``rows_at``, ``pull_back_rows``). The
   arena then needs room for one encoder layer rather than the whole vocabulary (MiniLM: 7 instead
   of 45 MiB; RoBERTa-large: 50 instead of 206 MB).

Units nest (DeBERTa's encoder holds relative-position weights read around all of its layers), so
the arena is a stack, sized for the deepest nesting. During the forward, a parameter outside its
running unit reads as NaN (a zero-stride tensor, no memory): a model that reads another layer's
weight directly fails at its first forward with a clear error instead of silently computing with
θ₀ there, and a unit run outside the model's forward (activation checkpointing re-running a layer
in backward) is refused.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import torch
from torch import nn

from raydim.errors import RaydimError
from raydim.subspace.layout import ParameterLayout, layer_group

Rows = Callable[[int, int, torch.Tensor], torch.Tensor]  # (first, last segment, out) -> out filled with θ's rows
PullBack = Callable[[int, torch.Tensor], None]  # (segment, ∂L/∂θ of its rows, flat)
# (segment, sorted row ids of its matrix, out (k, width), scratch) -> out filled with those rows of θ
RowsAt = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], None]
PullBackRows = Callable[[int, torch.Tensor, torch.Tensor], None]  # (segment, sorted row ids, ∂L/∂ those rows (k, width))
_MIN_ROW_SCRATCH = 1 << 16  # arena floats kept free for computing row-lent embeddings a chunk of rows at a time


@dataclass
class _Unit:
    """A module that gets its weights for the length of its forward."""

    module: nn.Module
    name: str
    slots: list[tuple[nn.Module, str, int]] = field(default_factory=list)  # (module, parameter name, segment)
    runs: list[tuple[int, int]] = field(default_factory=list)  # its segments, as ascending [first, last) runs
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
    """One lent parameter, a view of the arena; its gradient goes to the lender's ``pull_back``."""

    @staticmethod
    def forward(ctx, anchor: torch.Tensor, pull_back: PullBack, segment: int, view: torch.Tensor) -> torch.Tensor:
        ctx.pull_back, ctx.segment = pull_back, segment
        return view

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        ctx.pull_back(ctx.segment, grad.reshape(-1))
        return None, None, None, None  # the anchor's gradient is whatever pull_back makes of it


class WeightLender:
    """Hooks `model` so that it computes with the weights ``rows`` supplies, one unit at a time.

    `layout` lists the lent parameters, which must be views of the flat θ₀ (`flatten_parameters`);
    they are frozen. ``rows(first, last, out)`` writes θ over segments [first, last) into `out`;
    ``pull_back(i, grad)`` receives ∂L/∂θ of segment i; `anchor` (a tensor requiring grad, the
    trained coordinates) makes autograd record the lent weights; ``on_forward`` runs as each
    forward of the model starts (to fix what ``rows`` reads for the forward and its backward).
    Given ``rows_at`` and ``pull_back_rows`` too, the word embeddings are lent row by row (4. above).
    """

    def __init__(self, model: nn.Module, layout: ParameterLayout, rows: Rows, pull_back: PullBack,
                 anchor: torch.Tensor, on_forward: Callable[[], None], model_name: str = "model",
                 rows_at: RowsAt | None = None, pull_back_rows: PullBackRows | None = None) -> None:
        self.model, self.layout, self.model_name = model, layout, model_name
        self._rows, self._pull_back, self._anchor, self._on_forward = rows, pull_back, anchor, on_forward
        self._rows_at, self._pull_back_rows = rows_at, pull_back_rows
        params = dict(model.named_parameters())
        self._params = [params[s.name].requires_grad_(False) for s in layout.segments]
        self._row_lent = self._find_row_lent() if rows_at is not None and pull_back_rows is not None else {}
        first = self._params[0]
        nan = torch.full((), float("nan"), dtype=first.dtype, device=first.device)
        self._poison = [nan.expand(p.shape) for p in self._params]
        self._starts = [s.start for s in layout.segments]
        self._units = self._build_units()
        self._home = [0] * len(layout.segments)  # arena row where backward recomputes segment i
        # one arena for every unit's θ: the same rows every step, where a fresh tensor per layer would
        # fault its pages in again each step and fragment the heap
        self.arena = torch.empty(self._place_units(), dtype=first.dtype, device=first.device)
        self._arena_address = self.arena.untyped_storage().data_ptr()  # what _pack compares every saved tensor with
        # θ is written into the arena through an alias with its own version counter: autograd forbids using a
        # lent view (an outer unit's, say DeBERTa's relative positions) once anything wrote into its base, and
        # the arena is rewritten above it by design (inner units, embedding rows, backward's recomputation)
        self._arena_out = self.arena.data
        self._top = 0  # first free arena row
        self._lent_runs: list[tuple[int, int]] = []  # (arena row, first segment) of each run lent right now
        self._in_forward = False
        self._checked: set[bool] = set()  # training modes whose first forward was checked for NaN reads
        self._padding: dict[nn.Module, int | None] = {}  # a running row-lent embedding's own padding_idx
        self._saved_hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        model.register_forward_pre_hook(self._enter_model, prepend=True)
        for unit in self._units:
            unit.module.register_forward_pre_hook(partial(self._lend, unit))
            unit.module.register_forward_hook(partial(self._take_back, unit), always_call=True)
        for i, modules in self._row_lent.items():  # after the units' hooks: a unit may be the embedding itself
            for name, module in modules:
                module.register_forward_pre_hook(partial(self._lend_rows, i, name))
                module.register_forward_hook(partial(self._take_back_rows, i), always_call=True)
        model.register_forward_hook(self._exit_model, always_call=True)

    def _find_row_lent(self) -> dict[int, list[tuple[str, nn.Embedding]]]:
        """{segment: its (name, embedding module)s} for the word embeddings, if they can be lent row by row:
        every registration of them is the weight of an `nn.Embedding` that runs nn.Embedding's own
        forward (so its input ids say which rows are read), without max_norm (which writes the
        weight) or sparse gradients. Other weights, read whole, are lent whole."""
        try:
            embedding = self.model.get_input_embeddings()  # the Hugging Face way to name them
        except (AttributeError, NotImplementedError):
            return {}
        index = {id(p): i for i, p in enumerate(self._params)}
        if not isinstance(embedding, nn.Embedding) or id(embedding.weight) not in index:
            return {}
        registrations = [(module_name, module, name) for module_name, module in self.model.named_modules()
                         for name, p in module._parameters.items() if p is embedding.weight]
        plain = all(name == "weight" and isinstance(module, nn.Embedding) and type(module).forward is nn.Embedding.forward
                    and module.max_norm is None and not module.sparse for _, module, name in registrations)
        return {index[id(embedding.weight)]: [(name, module) for name, module, _ in registrations]} if plain else {}

    def _build_units(self) -> list[_Unit]:
        """Every registration of a lent parameter (tied ones included), grouped by its layer's module."""
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
                units.setdefault(owner, _Unit(modules[owner], owner)).slots.append((module, name, index[id(param)]))
        for unit in units.values():
            for i in sorted({i for _, _, i in unit.slots} - self._row_lent.keys()):
                if unit.runs and unit.runs[-1][1] == i:
                    unit.runs[-1] = (unit.runs[-1][0], i + 1)
                else:
                    unit.runs.append((i, i + 1))
        return list(units.values())

    def _place_units(self) -> int:
        """Give each unit its arena rows, after those of the units it runs inside of; returns the arena size."""
        segments = self.layout.segments

        def rows(unit: _Unit) -> int:
            return sum(segments[last - 1].stop - segments[first].start for first, last in unit.runs)

        def inside(outer: _Unit, inner: _Unit) -> bool:
            return outer is not inner and (outer.name == "" or inner.name.startswith(f"{outer.name}."))

        size = 0
        for unit in self._units:
            unit.depth = row = sum(rows(outer) for outer in self._units if inside(outer, unit))
            for first, last in unit.runs:
                for i in range(first, last):
                    self._home[i] = row + segments[i].start - segments[first].start
                row += segments[last - 1].stop - segments[first].start
            for i in {i for _, _, i in unit.slots} & self._row_lent.keys():  # scratch for its chunks of rows
                row += max(self._params[i].shape[1], min(segments[i].numel, _MIN_ROW_SCRATCH))
            size = max(size, row)
        return size

    # the model's forward: every parameter reads NaN, except a unit's while it runs
    def _enter_model(self, model: nn.Module, args) -> None:
        self._on_forward()
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
        """Pre-hook of a unit's module: its weights into the arena, views of them lent as its parameters."""
        if not self._in_forward:
            raise _outside_forward(unit.name or "the model")
        segments = self.layout.segments
        unit.top.append(self._top)
        self._top = max(self._top, unit.depth)
        parts: dict[int, torch.Tensor] = {}
        for first, last in unit.runs:
            start, stop = segments[first].start, segments[last - 1].stop
            self._rows(first, last, self._arena_out[self._top : self._top + stop - start])
            rows = self.arena[self._top : self._top + stop - start]
            self._lent_runs.append((self._top, first))
            self._top += stop - start
            for i in range(first, last):
                view = rows[segments[i].start - start : segments[i].stop - start].view(self._params[i].shape)
                parts[i] = _Lent.apply(self._anchor, self._pull_back, i, view)
        for owner, name, i in unit.slots:
            if i not in self._row_lent:
                owner._parameters[name] = parts[i]

    def _take_back(self, unit: _Unit, module: nn.Module, args, output) -> None:
        """Post-hook of a unit's module: its parameters read NaN again, its arena rows are free."""
        if not unit.top:  # the pre-hook refused this call
            return
        self._set(unit, self._poison)
        self._top = unit.top.pop()
        while self._lent_runs and self._lent_runs[-1][0] >= self._top:
            self._lent_runs.pop()

    def _lend_rows(self, i: int, name: str, module: nn.Embedding, args):
        """Pre-hook of a row-lent embedding: only the rows its ids select, as a compact matrix read
        with the ids renumbered (padding_idx too, restored by `_take_back_rows`)."""
        if not self._in_forward:
            raise _outside_forward(name)
        ids, *rest = args
        rows, renumbered = torch.unique(ids, sorted=True, return_inverse=True)
        weight = self._params[i]
        out = torch.empty(rows.numel(), weight.shape[1], dtype=weight.dtype, device=weight.device)
        self._rows_at(i, rows, out, self._arena_out[self._top :])
        module._parameters["weight"] = _Lent.apply(self._anchor, partial(self._pull_back_lent_rows, rows), i, out)
        self._padding[module] = module.padding_idx
        if module.padding_idx is not None:
            at = int(torch.searchsorted(rows, module.padding_idx))
            module.padding_idx = at if at < rows.numel() and int(rows[at]) == module.padding_idx else None
        return (renumbered, *rest)

    def _pull_back_lent_rows(self, rows: torch.Tensor, segment: int, grad: torch.Tensor) -> None:
        """`_Lent`'s pull-back for a compact matrix: its flat gradient as (rows, width), with the row ids."""
        self._pull_back_rows(segment, rows, grad.view(rows.numel(), -1))

    def _take_back_rows(self, i: int, module: nn.Embedding, args, output) -> None:
        """Post-hook of a row-lent embedding: its weight reads NaN again, its padding_idx is its own."""
        if module in self._padding:  # else the pre-hook refused this call
            module.padding_idx = self._padding.pop(module)
            module._parameters["weight"] = self._poison[i]

    @staticmethod
    def _set(unit: _Unit, tensors: list[torch.Tensor]) -> None:
        for module, name, i in unit.slots:
            module._parameters[name] = tensors[i]

    # backward: a token instead of each kept weight, recomputed when backward needs it
    def _pack(self, t: torch.Tensor):
        """Saved-tensor hook: a token instead of a lent weight (a view of the arena), else t itself."""
        if not self._lent_runs or t.layout != torch.strided or t.device != self.arena.device:
            return t
        if t.untyped_storage().data_ptr() != self._arena_address:
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
        self._rows(saved.segment, saved.segment + 1, self._arena_out[home : home + numel])
        return self.arena.as_strided(saved.size, saved.stride, home + saved.offset)


def _outside_forward(name: str) -> RaydimError:
    return RaydimError(f"{name} ran outside the model's forward; subspace training computes each layer's weights "
                       "only within it (activation checkpointing is not supported)")
