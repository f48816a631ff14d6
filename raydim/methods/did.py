"""DID, direct intrinsic dimension (Li et al. 2018): θ = θ₀ + P·θ_d, all d coordinates in P's input."""

from __future__ import annotations

from torch import nn

from raydim.methods.base import Method
from raydim.subspace.layout import ParameterLayout, build_layout
from raydim.subspace.projected import SubspaceConfig, SubspaceModel


def layout(model: nn.Module, grouping: str) -> ParameterLayout:
    """One group per tensor, whatever ``grouping`` says: DID learns no scales, so groups change nothing but the
    layout's fingerprint, which stays the one DID has always stored."""
    return build_layout(model, "tensor")


def _wrap(model: nn.Module, config: SubspaceConfig, model_name: str) -> SubspaceModel:
    """Every trainable parameter moves along one random d-dimensional subspace, unscaled."""
    return SubspaceModel(model, config, layout(model, config.grouping), scaled=False, model_name=model_name)


DID = Method("did", "θ = θ₀ + P·θ_d in a random d-dimensional subspace", default_lr=0.1, wrap=_wrap,
             config=SubspaceConfig, layout=layout)
