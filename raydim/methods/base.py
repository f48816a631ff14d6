"""What every fine-tuning method provides: a registry entry (:class:`Method`) and a wrapper (:class:`TrainableMethod`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from raydim.errors import RaydimError
from raydim.subspace.layout import ParameterLayout
from raydim.subspace_lr import REFERENCE_D, rescale_lr


class TrainableMethod(Protocol):
    """A wrapped model, as the training loop uses it: forward through ``model``, then optimise
    ``trainable_parameters`` after ``after_backward`` has put their gradients in place."""

    model: nn.Module

    @property
    def num_trainable(self) -> int: ...
    def trainable_parameters(self) -> list[nn.Parameter]: ...
    def after_backward(self) -> None: ...
    def trainable_state(self) -> dict[str, torch.Tensor]: ...
    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None: ...


@dataclass(frozen=True)
class Method:
    """One registered method: its name as result rows store it, what it trains, and how to wrap a model.

    ``config`` is the frozen dataclass of settings ``wrap`` takes (validated when it is
    built), or None for a method that takes none. ``layout`` gives the parameter layout
    the method's subspace spans, from the model and the ``grouping`` setting, so a
    search can predict a trial's layout fingerprint on the meta device
    (:mod:`raydim.train.fingerprint`); None for a method without a subspace.
    """

    name: str
    description: str
    default_lr: float  # AdamW peak rate (subspace methods: at d = REFERENCE_D), from MRPC runs (docs/subspace.md)
    wrap: Callable[[nn.Module, Any, str], TrainableMethod]
    config: type | None = None
    layout: Callable[[nn.Module, str], ParameterLayout] | None = None

    def __post_init__(self) -> None:
        if not self.default_lr > 0:
            raise ValueError(f"method {self.name!r}: default_lr must be > 0, got {self.default_lr!r}; "
                             "give the peak AdamW rate (at d = 10⁴ for a subspace method)")
        if (self.config is None) != (self.layout is None):
            raise ValueError(f"method {self.name!r}: give both config and layout (a subspace method) or neither, "
                             f"got config={self.config!r}, layout={self.layout!r}")

    @property
    def uses_subspace(self) -> bool:
        return self.layout is not None

    def d_error(self, d: int | None) -> str | None:
        """Why ``d`` does not suit this method (a subspace method needs one, the others take none), or None."""
        if self.uses_subspace and d is None:
            return f"method {self.name!r} needs the subspace dimension: pass --d (e.g. --d 1000)"
        if not self.uses_subspace and d is not None:
            return f"method {self.name!r} trains every parameter: drop --d (or pick a subspace method, e.g. --method said)"
        return None

    def build(self, model: nn.Module, config: Any, model_name: str = "model") -> TrainableMethod:
        """``model`` wrapped for training; ``config`` is an instance of :attr:`config` (None for a method without)."""
        error = self.d_error(getattr(config, "d", None))
        if error is not None:
            raise RaydimError(error)
        return self.wrap(model, config, model_name)

    def default_lr_at(self, d: int | None) -> float:
        """The default peak rate; a subspace method's follows lr ∝ 1/√d (:mod:`raydim.subspace_lr`)."""
        if not self.uses_subspace or d is None:
            return self.default_lr
        return rescale_lr(self.default_lr, REFERENCE_D, d)
