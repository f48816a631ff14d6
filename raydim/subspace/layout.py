"""Where every trainable parameter lives in the flat vector θ ∈ R^D, and its SAID group.

Subspace training computes θ = θ₀ + λ·P·θ_d layer by layer, over rows of that
D-vector. Making each parameter a view into one flat θ₀ lets a layer's rows be read
as one contiguous slice, the base its slice of θ is added to.

The layout (parameter names, shapes, groups) together with (seed, d) defines the
subspace, so its fingerprint goes into every result row.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import torch
from torch import nn

from raydim.errors import RaydimError

GROUPINGS = ("layer", "tensor")
_NUMBERED = re.compile(r"^(.*?\.\d+)(\.|$)")


@dataclass(frozen=True)
class Segment:
    """One parameter tensor's slice ``[start, start + numel)`` of θ."""

    name: str
    start: int
    numel: int
    group: int

    @property
    def stop(self) -> int:
        return self.start + self.numel


@dataclass(frozen=True)
class ParameterLayout:
    segments: tuple[Segment, ...]
    groups: tuple[str, ...]

    @property
    def D(self) -> int:  # noqa: N802 - the paper's symbol
        return self.segments[-1].stop if self.segments else 0

    @property
    def m(self) -> int:
        """Number of SAID groups, one scale λ each."""
        return len(self.groups)

    def fingerprint(self) -> str:
        described = ";".join(f"{s.name}:{s.numel}:{self.groups[s.group]}" for s in self.segments)
        return hashlib.sha256(described.encode()).hexdigest()[:16]

    def group_ranges(self) -> list[tuple[int, int, int]]:
        """``(group, start, stop)`` runs of consecutive segments in the same group."""
        runs: list[tuple[int, int, int]] = []
        for s in self.segments:
            if runs and runs[-1][0] == s.group and runs[-1][2] == s.start:
                runs[-1] = (s.group, runs[-1][1], s.stop)
            else:
                runs.append((s.group, s.start, s.stop))
        return runs


def layer_group(name: str, base_prefix: str) -> str:
    """The layer a parameter belongs to: up to its first numbered module, else its top module.

    ``bert.encoder.layer.3.attention.self.query.weight`` -> ``bert.encoder.layer.3``;
    ``bert.embeddings.LayerNorm.bias`` -> ``bert.embeddings``; ``classifier.dense.weight`` -> ``classifier``.
    """
    numbered = _NUMBERED.match(name)
    if numbered:
        return numbered.group(1)
    prefix = f"{base_prefix}." if base_prefix and name.startswith(f"{base_prefix}.") else ""
    return prefix + name[len(prefix):].split(".", 1)[0]


def build_layout(model: nn.Module, grouping: str = "layer") -> ParameterLayout:
    """Every parameter with ``requires_grad`` (the new head included), in ``named_parameters`` order."""
    if grouping not in GROUPINGS:
        raise RaydimError(f"grouping must be one of {', '.join(GROUPINGS)}, got {grouping!r}")
    base_prefix = getattr(model, "base_model_prefix", "")
    embeddings = _embedding_groups(model, base_prefix)
    groups: dict[str, int] = {}
    segments, start = [], 0
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        group = name if grouping == "tensor" else layer_group(name, base_prefix)
        group = embeddings.get(group, group)
        segments.append(Segment(name, start, p.numel(), groups.setdefault(group, len(groups))))
        start += p.numel()
    if not segments:
        raise RaydimError("the model has no parameter with requires_grad=True: nothing to train")
    return ParameterLayout(tuple(segments), tuple(groups))


def _embedding_groups(model: nn.Module, base_prefix: str) -> dict[str, str]:
    """Embedding modules directly in the base model (a decoder's: GPT-2's ``wte`` and ``wpe``, Llama's
    ``embed_tokens``) -> one group, ``<base>.embeddings``, as BERT's embeddings module makes its own.

    So a decoder's groups are the embeddings, each block, the final norm and the head.
    """
    base = getattr(model, base_prefix, None) if base_prefix else None
    if not isinstance(base, nn.Module):
        return {}
    return {f"{base_prefix}.{name}": f"{base_prefix}.embeddings"
            for name, module in base.named_children() if isinstance(module, nn.Embedding)}


def flatten_parameters(model: nn.Module, layout: ParameterLayout) -> torch.Tensor:
    """Move the parameters into one flat vector and return it; afterwards every ``param.data`` is a view.

    Parameters are moved one at a time, so each old tensor is freed as soon as it is
    copied and the two copies never coexist in full.
    """
    params = dict(model.named_parameters())
    first = params[layout.segments[0].name]
    theta = torch.empty(layout.D, dtype=first.dtype, device=first.device)
    for s in layout.segments:
        p = params[s.name]
        theta[s.start:s.stop].copy_(p.detach().reshape(-1))
        p.data = theta[s.start:s.stop].view_as(p)
    return theta
