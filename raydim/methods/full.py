"""The full fine-tune: every parameter trained, the metric every d90 is measured against."""

from __future__ import annotations

import torch
from torch import nn

from raydim.methods.base import Method


class FullFineTune:
    """Ordinary fine-tuning of every parameter that requires a gradient."""

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


def _wrap(model: nn.Module, config: None, model_name: str) -> FullFineTune:
    return FullFineTune(model)


FULL = Method("full", "fine-tune all D parameters (the baseline)", default_lr=1e-4, wrap=_wrap)
