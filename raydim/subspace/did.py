"""DID, direct intrinsic dimension (Li et al. 2018): θ = θ₀ + P·θ_d, all d coordinates in P's input."""

from __future__ import annotations

from torch import nn

from raydim.subspace.projected import SubspaceConfig, SubspaceModel


def build_did(model: nn.Module, config: SubspaceConfig, model_name: str = "model") -> SubspaceModel:
    """Every trainable parameter moves along one random d-dimensional subspace, unscaled."""
    return SubspaceModel(model, config, said=False, model_name=model_name)
