"""SAID, structure-aware intrinsic dimension (Aghajanyan et al. 2021): θᵢ = θ₀ᵢ + λᵢ·P(θ_{d−m})ᵢ.

One learned scale λᵢ per layer group (embeddings, each transformer block, pooler,
head; or per tensor) lets training turn whole layers up or down, which a single
random subspace cannot. The m scales count towards d, so P's input has d − m
coordinates, and d must exceed m.
"""

from __future__ import annotations

from torch import nn

from raydim.errors import RaydimError
from raydim.methods.base import Method
from raydim.subspace.layout import ParameterLayout, build_layout
from raydim.subspace.projected import SubspaceConfig, SubspaceModel


def layout(model: nn.Module, grouping: str) -> ParameterLayout:
    """The groups that get a scale each: ``"layer"`` (embeddings, each block, ...) or ``"tensor"``."""
    return build_layout(model, grouping)


def _wrap(model: nn.Module, config: SubspaceConfig, model_name: str) -> SubspaceModel:
    groups = layout(model, config.grouping)
    if config.d <= groups.m:
        raise RaydimError(f"d must exceed the {groups.m} SAID groups of {model_name} (d counts the {groups.m} "
                          f"scales too), got {config.d}")
    return SubspaceModel(model, config, groups, scaled=True, model_name=model_name)


SAID = Method("said", "θᵢ = θ₀ᵢ + λᵢ·P(θ_{d-m})ᵢ, one learned scale per layer", default_lr=0.1, wrap=_wrap,
              config=SubspaceConfig, layout=layout)
