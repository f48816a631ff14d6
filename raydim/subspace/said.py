"""SAID, structure-aware intrinsic dimension (Aghajanyan et al. 2021): θᵢ = θ₀ᵢ + λᵢ·P(θ_{d−m})ᵢ.

One learned scale λᵢ per layer group (embeddings, each transformer block, pooler,
head; or per tensor) lets training turn whole layers up or down, which a single
random subspace cannot. The m scales count towards d, so P's input has d − m
coordinates, and d must exceed m.
"""

from __future__ import annotations

from torch import nn

from raydim.subspace.projected import SubspaceConfig, SubspaceModel


def build_said(model: nn.Module, config: SubspaceConfig, model_name: str = "model") -> SubspaceModel:
    return SubspaceModel(model, config, said=True, model_name=model_name)
